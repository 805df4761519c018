import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { gossipMessageId, gossipMessageIdString } from "../../../src/net/message-id.ts";

describe("gossip message id", () => {
  const payload = new TextEncoder().encode("payload");

  it("is SHA-256(len(domain) || domain || u32be(len(topic)) || topic || payload)", () => {
    const domain = Buffer.from("concord/gossip-message-id/v1");
    const topic = Buffer.from("/concord/1/c/requests");
    const length = Buffer.alloc(4);
    length.writeUInt32BE(topic.length);
    const expected = createHash("sha256").update(Buffer.from([domain.length])).update(domain).update(length).update(topic).update(payload).digest();
    expect(Buffer.from(gossipMessageId("/concord/1/c/requests", payload))).toEqual(expected);
    expect(gossipMessageIdString("/concord/1/c/requests", payload)).toBe(expected.toString("base64"));
  });

  it("is the same for the same topic and payload, different across topics", () => {
    expect(gossipMessageIdString("/t/a", payload)).toBe(gossipMessageIdString("/t/a", payload.slice()));
    expect(gossipMessageIdString("/t/a", payload)).not.toBe(gossipMessageIdString("/t/b", payload));
    // The topic length prefix keeps topic/payload boundaries apart.
    expect(gossipMessageIdString("/t/a", new Uint8Array([0x62]))).not.toBe(gossipMessageIdString("/t/ab", new Uint8Array(0)));
  });

  it("gives the reference id whatever was asked before: other topics, the same bytes object again", () => {
    const reference = (topic: string, bytes: Uint8Array) => {
      const domain = Buffer.from("concord/gossip-message-id/v1");
      const length = Buffer.alloc(4);
      length.writeUInt32BE(Buffer.byteLength(topic));
      return createHash("sha256").update(Buffer.from([domain.length])).update(domain).update(length).update(topic).update(bytes).digest("base64");
    };
    const topics = ["/t/a", "/t/b", "/concord/1/c/reveals", "é"];
    const payloads = [payload, new Uint8Array(0), new Uint8Array(5000).fill(7), payload.subarray(2)];
    for (let round = 0; round < 3; round++) {
      for (const topic of topics) {
        for (const bytes of payloads) expect(gossipMessageIdString(topic, bytes), `${topic} ${bytes.length}`).toBe(reference(topic, bytes));
      }
    }
  });
});
