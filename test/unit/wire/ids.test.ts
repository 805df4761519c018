import { describe, expect, it } from "vitest";
import { bodyBytes, commitmentHash, commitmentOfReveal, payloadHash, requestId } from "../../../src/wire/ids.ts";
import { bytesEqual, outputHash, taggedHash, toHex, utf8 } from "../../../src/wire/hash.ts";
import { decodeMessage, encodeMessage } from "../../../src/wire/messages.ts";
import type { InferenceRequest, OutputReveal } from "../../../src/wire/types.ts";
import { sampleMessages, sampleNetwork, SAMPLE_EVIDENCE } from "../../spec/samples.ts";
import { commitOutput } from "../../../src/quorum/attest.ts";

const net = sampleNetwork();
const samples = sampleMessages(net);
const request = samples.find((s) => s.name === "request")?.message as InferenceRequest;
const reveal = samples.find((s) => s.name === "reveal")?.message as OutputReveal;

describe("bodyBytes", () => {
  it("is the canonical encoding without the sig field", () => {
    const { sig: _sig, ...body } = request;
    const body2 = bodyBytes(body);
    expect(toHex(bodyBytes(request))).toBe(toHex(body2));
    expect(encodeMessage(request).length - body2.length).toBeGreaterThan(64);
    expect(toHex(body2)).not.toContain(toHex(request.sig));
  });
});

describe("requestId", () => {
  it("covers the body but not the signature", () => {
    expect(toHex(requestId(request))).toBe(toHex(requestId({ ...request, sig: new Uint8Array(64) })));
    expect(requestId(request)).toHaveLength(32);
  });

  it("changes with every body field", () => {
    const id = toHex(requestId(request));
    const variants: Partial<InferenceRequest>[] = [
      { chain: "other" },
      { entropy: taggedHash("entropy", "block-2") },
      { model: "synthetic-v2" },
      { weights: new Uint8Array(32) },
      { input: `${request.input} ` },
      { sampling: { ...request.sampling, topK: 1 } },
      { policy: { ...request.policy, version: 2 } },
      { mode: "direct" },
      { n: 5, k: 3 },
      { k: 6 },
      { deadline: request.deadline + 1 },
    ];
    const ids = variants.map((change) => toHex(requestId({ ...request, ...change })));
    expect(new Set([id, ...ids]).size).toBe(variants.length + 1);
  });

  it("is the same after a round trip through the wire", () => {
    const decoded = decodeMessage(encodeMessage(request), "request");
    expect(toHex(requestId(decoded))).toBe(toHex(requestId(request)));
  });
});

describe("commitments", () => {
  const id = requestId(request);
  const payload = payloadHash("Paris", undefined);
  const salt = taggedHash("salt", "x");

  it("bind the request, the node, the payload and the salt", () => {
    const base = toHex(commitmentHash(id, "node-01", payload, salt));
    expect(toHex(commitmentHash(taggedHash("other"), "node-01", payload, salt))).not.toBe(base);
    expect(toHex(commitmentHash(id, "node-02", payload, salt))).not.toBe(base);
    expect(toHex(commitmentHash(id, "node-01", payloadHash("Lyon", undefined), salt))).not.toBe(base);
    expect(toHex(commitmentHash(id, "node-01", payload, taggedHash("salt", "y")))).not.toBe(base);
  });

  it("length-prefix the node id, so node and payload bytes cannot trade places", () => {
    const a = commitmentHash(id, "node-0", Uint8Array.of(0x31, ...payload.subarray(1)), salt);
    const b = commitmentHash(id, "node-01", payload, salt);
    expect(bytesEqual(a, b)).toBe(false);
  });

  it("payloadHash binds the evidence", () => {
    expect(toHex(payloadHash("Paris", SAMPLE_EVIDENCE))).not.toBe(toHex(payload));
    expect(toHex(payloadHash("Paris", { tokens: [], margins: [] }))).not.toBe(toHex(payload));
  });

  it("commitmentOfReveal rebuilds the signed commitment a reveal opens", () => {
    const key = net.keys.get(reveal.node);
    if (!key) throw new Error("no key");
    const { commitment } = commitOutput(key, { chain: reveal.chain, request: reveal.request, node: reveal.node, output: reveal.output }, reveal.salt);
    expect(commitmentOfReveal(reveal)).toEqual(commitment);
  });
});

describe("hashes", () => {
  it("taggedHash length-prefixes the domain: no two (domain, data) splits collide", () => {
    expect(toHex(taggedHash("ab", "c"))).not.toBe(toHex(taggedHash("a", "bc")));
    expect(toHex(taggedHash("a", "b", "c"))).toBe(toHex(taggedHash("a", "bc")));
    expect(toHex(taggedHash("a", utf8("bc")))).toBe(toHex(taggedHash("a", "bc")));
  });

  it("outputHash is the tagged hash of the output", () => {
    expect(toHex(outputHash("Paris"))).toBe(toHex(taggedHash("concord/output", "Paris")));
    expect(outputHash("")).toHaveLength(32);
  });
});
