/**
 * Catch-up fetches between real libp2p nodes (memory transport, the full stack: noise, yamux,
 * gossipsub): a peer answers from what it accepted or published; the asker hands what comes back
 * to its receiver in protocol order, only for the requests it asked about; a peer that answers
 * with junk, or asks with junk, breaks nothing.
 */
import type { Stream } from "@libp2p/interface";
import { Registry as PromRegistry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { concordTopic, createConcordNetwork, type ConcordNetwork } from "../../src/net/concord.ts";
import { askOpenRequests, fetchFrames, fetchProtocol, MAX_ASKS_PER_PEER_MINUTE, MAX_FETCH_REQUESTS, openRequestsProtocol } from "../../src/net/fetch.ts";
import { createGossipNode, type GossipNode } from "../../src/net/gossip.ts";
import { silentLogger } from "../../src/net/logger.ts";
import { taggedHash, toHex } from "../../src/wire/hash.ts";
import { requestId, requestIdOf } from "../../src/wire/ids.ts";
import { encodeMessage, MESSAGE_KINDS } from "../../src/wire/messages.ts";
import type { Message } from "../../src/wire/types.ts";
import { runRequest, testNetwork, testRequest } from "../helpers/fixtures.ts";
import { counterValue } from "../helpers/processes.ts";
import { sampleMessages, sampleNetwork } from "../spec/samples.ts";
import { until } from "../helpers/wait.ts";

const net = testNetwork();
const CHAIN = net.config.chain;
let counter = 0;
let stoppers: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(stoppers.map((stop) => stop()));
  stoppers = [];
});

const address = () => `/memory/concord-fetch-${process.pid}-${counter++}`;

/** A ConcordNetwork on the memory transport whose receiver records what it is handed (and may refuse it). */
async function peer(bootstrap: string[] = [], refuse?: (message: Message) => void): Promise<{ network: ConcordNetwork; received: Message[]; metrics: PromRegistry }> {
  const metrics = new PromRegistry();
  const network = await createConcordNetwork(
    { chain: CHAIN, listen: [address()], transports: ["memory"], bootstrap, publishRetries: 0, privateKey: taggedHash("fetch-test/peer", String(counter)) },
    { logger: silentLogger, metrics },
  );
  const received: Message[] = [];
  network.attach((message) => {
    refuse?.(message);
    received.push(message);
  });
  await network.start();
  stoppers.push(() => network.stop());
  return { network, received, metrics };
}

/** A peer on every Concord topic that answers fetches with `answer` (anything it likes). */
async function rawPeer(answer: (stream: Stream) => Promise<void>): Promise<GossipNode> {
  const node = await createGossipNode({ topics: MESSAGE_KINDS.map((kind) => concordTopic(CHAIN, kind)), listen: [address()], transports: ["memory"] }, { logger: silentLogger });
  await node.start();
  await node.handle(fetchProtocol(CHAIN), answer);
  stoppers.push(() => node.stop());
  return node;
}

/** Every message of one agreed commit-reveal request: request, commitments, close, reveals, bundle. */
function requestMessages(label: string, deadline?: number): Message[] {
  const request = testRequest(net, { input: label, ...(deadline === undefined ? {} : { deadline }) });
  const { collector, reveals } = runRequest(net, request, () => ({ output: "Paris" }));
  const bundle = collector.bundle;
  if (!bundle?.close) throw new Error("test: no commit-reveal bundle");
  const commitments = reveals.map((reveal) => ({ t: "commitment", v: reveal.v, chain: reveal.chain, request: reveal.request, node: reveal.node, commitment: bundle.close?.commitments.find((c) => c.node === reveal.node)?.commitment, sig: reveal.commitmentSig }) as Message);
  return [request, ...commitments, bundle.close, ...reveals, bundle];
}

describe("catch-up fetch over libp2p", () => {
  it("hands over what a peer published, for the requests asked about, in protocol order", async () => {
    const holder = await peer();
    const first = requestMessages("first");
    const second = requestMessages("second");
    // Published with nobody listening: kept all the same, and gossip will never bring them.
    for (const message of [...[...first].reverse(), ...second]) await holder.network.publish(message);

    const late = await peer(holder.network.gossip.multiaddrs);
    await late.network.waitForPeers(1, 10_000);
    const firstId = requestId(first[0] as never);
    const result = await late.network.fetch([firstId]);
    expect(result).toEqual({ peers: 1, received: first.length, accepted: first.length, unanswered: [] });
    // Every message once; by kind in protocol order although they were published backwards.
    const hexes = (messages: Message[]) => messages.map((message) => toHex(encodeMessage(message)));
    expect(hexes(late.received).sort()).toEqual(hexes(first).sort());
    expect(late.received.map((message) => message.t)).toEqual(first.map((message) => message.t));
    expect(late.received.every((message) => toHex(requestIdOf(message)) === toHex(firstId))).toBe(true);
  });

  it("a peer without a metrics registry answers too (a pool's network often has none)", async () => {
    const holder = await createConcordNetwork({ chain: CHAIN, listen: [address()], transports: ["memory"], publishRetries: 0 }, { logger: silentLogger });
    holder.attach(() => undefined);
    await holder.start();
    stoppers.push(() => holder.stop());
    const messages = requestMessages("no metrics");
    for (const message of messages) await holder.publish(message);
    const late = await peer(holder.gossip.multiaddrs);
    await late.network.waitForPeers(1, 10_000);
    const result = await late.network.fetch([requestIdOf(messages[0] as Message)], { timeoutMs: 3_000 });
    expect(result).toMatchObject({ peers: 1, accepted: messages.length });
  });

  it("catches up on the requests a peer keeps whose deadline is ahead, and skips a peer that answers junk", async () => {
    const holder = await peer();
    const open = requestMessages("open", Date.now() + 600_000);
    const done = requestMessages("done");
    for (const message of [...open, ...done]) await holder.network.publish(message);
    // A second peer names a malformed id list (and refuses fetches): skipped, the holder's answer stands.
    const junk = await rawPeer(async (stream) => stream.abort(new Error("no fetches here")));
    await junk.handle(openRequestsProtocol(CHAIN), async (stream) => {
      await fetchFrames(stream).write(new Uint8Array(33));
      await stream.close();
    });

    const late = await peer([...holder.network.gossip.multiaddrs, ...junk.multiaddrs]);
    await late.network.waitForPeers(2, 10_000);
    const result = await late.network.fetch(await late.network.openRequests());
    expect(result).toEqual({ peers: 1, received: open.length, accepted: open.length, unanswered: [] });
    expect(late.received.every((message) => toHex(requestIdOf(message)) === toHex(requestIdOf(open[0] as Message)))).toBe(true);
    // A peer with nothing open answers an empty list, not an error.
    const idle = await peer();
    await idle.network.gossip.dial(late.network.gossip.multiaddrs[0] as string);
    const stream = await late.network.gossip.openStream(idle.network.gossip.peerId, openRequestsProtocol(CHAIN), AbortSignal.timeout(5_000));
    expect(await askOpenRequests(stream)).toEqual([]);
  });

  it("keeps what it received and accepted, and answers with it too", async () => {
    const origin = await peer();
    const relay = await peer(origin.network.gossip.multiaddrs);
    await relay.network.waitForPeers(1, 10_000);
    const messages = requestMessages("relayed");
    for (const message of messages) await origin.network.publish(message);
    await until(() => relay.received.length === messages.length, 10_000, "gossip to the relay");
    await origin.network.stop();

    const late = await peer(relay.network.gossip.multiaddrs);
    await late.network.waitForPeers(1, 10_000);
    const result = await late.network.fetch([requestIdOf(messages[0] as Message)]);
    expect(result.accepted).toBe(messages.length);
  });

  it("takes nothing from an answer but well-formed messages of the requests asked about", async () => {
    const asked = requestMessages("asked");
    const other = requestMessages("other");
    const junk = await rawPeer(async (stream) => {
      const frames = fetchFrames(stream);
      await frames.read();
      await frames.writeV([Uint8Array.of(0, 0, 0, 4), new Uint8Array([0xff, 0x00]), encodeMessage(other[0] as Message), encodeMessage(asked[1] as Message), encodeMessage(asked[0] as Message)]);
      await stream.close();
    });
    const late = await peer(junk.multiaddrs);
    await late.network.waitForPeers(1, 10_000);
    const result = await late.network.fetch([requestIdOf(asked[0] as Message)]);
    expect(result).toEqual({ peers: 1, received: 4, accepted: 2, unanswered: [] });
    // The request first, then its commitment: protocol order, not the order they came in.
    expect(late.received.map((message) => message.t)).toEqual(["request", "commitment"]);
  });

  it("checks a message once however many times and peers send it, and goes on past a receiver's own bug", async () => {
    const messages = requestMessages("repeated");
    const copies = (stream: Stream) => async () => {
      const frames = fetchFrames(stream);
      await frames.read();
      const payloads = [...Array(50).fill(encodeMessage(messages[1] as Message)), ...messages.map(encodeMessage)];
      await frames.writeV([Uint8Array.of(0, 0, 0, payloads.length), ...payloads]);
      await stream.close();
    };
    const first = await rawPeer((stream) => copies(stream)());
    const second = await rawPeer((stream) => copies(stream)());
    // The receiver throws a plain TypeError (a bug, not a verdict) on the close.
    const late = await peer([...first.multiaddrs, ...second.multiaddrs], (message) => {
      if (message.t === "close") throw new TypeError("receiver bug");
    });
    await late.network.waitForPeers(2, 10_000);
    const result = await late.network.fetch([requestIdOf(messages[0] as Message)]);
    expect(result).toEqual({ peers: 2, received: 2 * (50 + messages.length), accepted: messages.length - 1, unanswered: [] });
    expect(late.received).toHaveLength(messages.length - 1);
    expect(late.received.map((message) => message.t)).not.toContain("close");
    expect(await counterValue(late.metrics, "concord_fetch_messages_total", { result: "accepted" })).toBe(messages.length - 1);
    expect(await counterValue(late.metrics, "concord_fetch_messages_total", { result: "ignored" })).toBe(2 * (50 + messages.length) - (messages.length - 1));
  });

  it("keeps evidence only beside a request it keeps: made-up request ids cannot crowd out real ones", async () => {
    const holder = await peer();
    const evidence = sampleMessages(sampleNetwork()).find((sample) => sample.name === "equivocation-commitments")?.message as Message;
    await holder.network.publish(evidence);
    const late = await peer(holder.network.gossip.multiaddrs);
    await late.network.waitForPeers(1, 10_000);
    expect((await late.network.fetch([requestIdOf(evidence)])).received).toBe(0);
  });

  it("gives up on a peer that claims more messages than it may send, or never answers, and goes on", async () => {
    const liar = await rawPeer(async (stream) => {
      const frames = fetchFrames(stream);
      await frames.read();
      await frames.write(Uint8Array.of(0xff, 0xff, 0xff, 0xff));
    });
    const silent = await rawPeer(async () => {
      // Reads nothing, answers nothing: the asker's timeout ends it.
    });
    const late = await peer([...liar.multiaddrs, ...silent.multiaddrs]);
    await late.network.waitForPeers(2, 10_000);
    const started = Date.now();
    const nothing = taggedHash("fetch-test", "nothing");
    const result = await late.network.fetch([nothing], { timeoutMs: 1_000 });
    expect(result).toEqual({ peers: 0, received: 0, accepted: 0, unanswered: [nothing] });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("answers a peer at most MAX_ASKS_PER_PEER_MINUTE asks a minute", async () => {
    const holder = await peer();
    const prober = await rawPeer(async () => undefined);
    await prober.dial(holder.network.gossip.multiaddrs[0] as string);
    const ask = async () => {
      const stream = await prober.openStream(holder.network.gossip.peerId, fetchProtocol(CHAIN), AbortSignal.timeout(5_000));
      try {
        const frames = fetchFrames(stream);
        await frames.write(taggedHash("fetch-test", "nothing held"));
        const header = await frames.read({ signal: AbortSignal.timeout(5_000) });
        await stream.close();
        return header.byteLength;
      } catch {
        return "reset";
      }
    };
    for (let i = 0; i < MAX_ASKS_PER_PEER_MINUTE; i++) expect(await ask(), `ask ${i}`).toBe(4);
    expect(await ask()).toBe("reset");
    expect(await counterValue(holder.metrics, "concord_fetch_answered_total", { outcome: "answered" })).toBe(MAX_ASKS_PER_PEER_MINUTE);
    expect(await counterValue(holder.metrics, "concord_fetch_answered_total", { outcome: "refused" })).toBe(1);
  }, 30_000);

  it("asks a peer no more than it answers a minute, and reports the requests left unasked", async () => {
    const holder = await peer();
    const messages = requestMessages("last of many");
    for (const message of messages) await holder.network.publish(message);
    const late = await peer(holder.network.gossip.multiaddrs);
    await late.network.waitForPeers(1, 10_000);
    // One batch more than a peer answers a minute; the held request is in the last one.
    const ids = Array.from({ length: MAX_ASKS_PER_PEER_MINUTE * MAX_FETCH_REQUESTS }, (_, i) => taggedHash("fetch-test/many", String(i)));
    const held = requestIdOf(messages[0] as Message);
    const result = await late.network.fetch([...ids, held]);
    expect(result.peers).toBe(1);
    expect(result.accepted).toBe(0);
    expect(result.unanswered.map(toHex)).toEqual([toHex(held)]);
    expect(await counterValue(holder.metrics, "concord_fetch_answered_total", { outcome: "refused" })).toBe(0);
  }, 30_000);

  it("survives junk asks and still answers a proper one", async () => {
    const holder = await peer();
    const messages = requestMessages("held");
    for (const message of messages) await holder.network.publish(message);
    const prober = await rawPeer(async () => undefined);
    await prober.dial(holder.network.gossip.multiaddrs[0] as string);
    const bad: Uint8Array[][] = [[new Uint8Array(0)], [new Uint8Array(33)], [new Uint8Array(65 * 32)]];
    for (const frames of bad) {
      const stream = await prober.openStream(holder.network.gossip.peerId, fetchProtocol(CHAIN), AbortSignal.timeout(5_000));
      const lp = fetchFrames(stream);
      await lp.writeV(frames).catch(() => undefined);
      // The holder aborts the stream: reading ends in an error, never an answer.
      await expect(lp.read({ signal: AbortSignal.timeout(2_000) })).rejects.toThrow(/reset/);
    }
    // Raw bytes, a frame length far past what an ask may be: refused at once, not at a timeout.
    const stream = await prober.openStream(holder.network.gossip.peerId, fetchProtocol(CHAIN), AbortSignal.timeout(5_000));
    stream.send(new Uint8Array(64).fill(0xff));
    await expect(fetchFrames(stream).read({ signal: AbortSignal.timeout(2_000) })).rejects.toThrow(/reset/);

    const late = await peer(holder.network.gossip.multiaddrs);
    await late.network.waitForPeers(1, 10_000);
    expect((await late.network.fetch([requestIdOf(messages[0] as Message)])).accepted).toBe(messages.length);
  }, 30_000);
});
