import { describe, expect, it } from "vitest";
import { COALESCE_MAX_BYTES, coalesceOutboundWrites, coalesceWrites, type OutboundStreamLike } from "../../../src/net/outbound.ts";

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** An outbound stream that records what reaches its raw stream, shaped like gossipsub's. */
function recordingStream(options: { failSend?: Error } = {}) {
  const sent: Uint8Array[] = [];
  const pushedDirectly: unknown[] = [];
  const events: string[] = [];
  let aborted: Error | undefined;
  const rawStream = {
    writeStatus: "writable" as "writable" | "closed",
    send(data: Uint8Array | { subarray(): Uint8Array }) {
      if (options.failSend) throw options.failSend;
      sent.push(Uint8Array.from(data instanceof Uint8Array ? data : data.subarray()));
      events.push("send");
      return true;
    },
    abort(error: Error) {
      aborted = error;
    },
  };
  const stream: OutboundStreamLike = {
    rawStream: rawStream as unknown as OutboundStreamLike["rawStream"],
    pushPrefixed(frame) {
      pushedDirectly.push(frame);
      throw new Error("Cannot write to a stream that is closed");
    },
    async close() {
      events.push("close");
    },
  };
  return { stream, rawStream, sent, pushedDirectly, events, aborted: () => aborted };
}

const bytes = (...values: number[]) => Uint8Array.from(values);

describe("coalesceWrites", () => {
  it("sends the frames pushed in one turn as one write, in order, when the turn ends", async () => {
    const { stream, sent } = recordingStream();
    coalesceWrites(stream);
    stream.pushPrefixed(bytes(1, 2));
    // A frame given as chunks (it-length-prefixed's Uint8ArrayList: length prefix, then data).
    stream.pushPrefixed([bytes(3), bytes(4, 5)]);
    stream.pushPrefixed(bytes(6));
    expect(sent).toHaveLength(0);
    await turn();
    expect(sent).toEqual([bytes(1, 2, 3, 4, 5, 6)]);
  });

  it("sends the frames of different turns as different writes", async () => {
    const { stream, sent } = recordingStream();
    coalesceWrites(stream);
    stream.pushPrefixed(bytes(1));
    await turn();
    stream.pushPrefixed(bytes(2));
    await turn();
    expect(sent).toEqual([bytes(1), bytes(2)]);
  });

  it("sends at once when the frames held reach COALESCE_MAX_BYTES", () => {
    const { stream, sent } = recordingStream();
    coalesceWrites(stream);
    stream.pushPrefixed(new Uint8Array(COALESCE_MAX_BYTES - 1));
    expect(sent).toHaveLength(0);
    stream.pushPrefixed(bytes(7));
    expect(sent).toHaveLength(1);
    expect(sent[0]?.byteLength).toBe(COALESCE_MAX_BYTES);
  });

  it("still throws at once on a stream that is no longer writable, and drops what it held for it", async () => {
    const { stream, rawStream, sent, pushedDirectly, aborted } = recordingStream();
    coalesceWrites(stream);
    stream.pushPrefixed(bytes(1));
    rawStream.writeStatus = "closed";
    expect(() => stream.pushPrefixed(bytes(2))).toThrow("closed");
    expect(pushedDirectly).toEqual([bytes(2)]);
    await turn();
    expect(sent).toEqual([]);
    expect(aborted()).toBeUndefined();
  });

  it("drops, without aborting, the frames held for a stream closed from elsewhere before the turn ends", async () => {
    const { stream, rawStream, sent, aborted } = recordingStream();
    coalesceWrites(stream);
    stream.pushPrefixed(bytes(1));
    rawStream.writeStatus = "closed";
    await turn();
    expect(sent).toEqual([]);
    expect(aborted()).toBeUndefined();
  });

  it("aborts the stream when the joined write fails", async () => {
    const failure = new Error("Write buffer length exceeded");
    const { stream, aborted } = recordingStream({ failSend: failure });
    coalesceWrites(stream);
    stream.pushPrefixed(bytes(1));
    await turn();
    expect(aborted()).toBe(failure);
  });

  it("sends what it holds before the stream closes", async () => {
    const { stream, events, sent } = recordingStream();
    coalesceWrites(stream);
    stream.pushPrefixed(bytes(9));
    await stream.close();
    expect(events).toEqual(["send", "close"]);
    await turn();
    expect(sent).toEqual([bytes(9)]);
  });
});

describe("coalesceOutboundWrites", () => {
  it("wraps every outbound stream the router keeps from then on", async () => {
    const router = { streamsOutbound: new Map<string, OutboundStreamLike>() };
    coalesceOutboundWrites(router);
    const { stream, sent } = recordingStream();
    router.streamsOutbound.set("peer", stream);
    stream.pushPrefixed(bytes(1));
    stream.pushPrefixed(bytes(2));
    await turn();
    expect(sent).toEqual([bytes(1, 2)]);
  });

  it("fails loudly when the router keeps its streams elsewhere", () => {
    expect(() => coalesceOutboundWrites({})).toThrow("streamsOutbound");
  });
});
