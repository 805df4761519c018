import { describe, expect, it } from "vitest";
import { publicKey } from "../../../src/crypto/schemes.ts";
import { messageSigningRoot, signMessage, verifyMessage } from "../../../src/crypto/sign.ts";
import { bodyBytes } from "../../../src/wire/ids.ts";
import { signingRoot } from "../../../src/crypto/schemes.ts";
import { toHex } from "../../../src/wire/hash.ts";
import type { Message, OutputCommitment, SignedOutput } from "../../../src/wire/types.ts";
import { sampleMessages, sampleNetwork } from "../../spec/samples.ts";

const net = sampleNetwork();
const samples = sampleMessages(net);
type Signed = Extract<Message, { sig: Uint8Array }>;
const signed = samples.filter((s): s is { name: string; message: Signed } => "sig" in s.message);

/** The registry key that signed a sample: the sequencer's, or its node's. */
function signerOf(message: Signed) {
  if (message.t === "commitment" || message.t === "output") {
    const member = net.registry.byId.get(message.node);
    if (!member) throw new Error(`no member ${message.node}`);
    return member;
  }
  return { scheme: net.sequencer.scheme, key: net.registry.sequencer };
}

describe("signMessage / verifyMessage", () => {
  it("covers every signed kind with both schemes", () => {
    expect(new Set(signed.map((s) => s.message.t))).toEqual(new Set(["request", "commitment", "close", "output", "no-agreement"]));
    expect(new Set(signed.map((s) => s.message.sig.length))).toEqual(new Set([64, 65]));
  });

  for (const { name, message } of signed) {
    it(`${name}: the signature covers the signing root of the body`, () => {
      const { key } = signerOf(message);
      expect(verifyMessage(key, message)).toBe(true);
      expect(toHex(messageSigningRoot(key.scheme, message))).toBe(toHex(signingRoot(key.scheme, message.t, message.chain, bodyBytes(message))));
      // Another chain, or the same bytes read as another kind, never verify.
      expect(verifyMessage(key, { ...message, chain: "other-chain" })).toBe(false);
      const relabelled = { ...message, t: message.t === "request" ? "close" : "request" } as Signed;
      expect(verifyMessage(key, relabelled)).toBe(false);
      // Any other key does not verify it.
      const stranger = net.registry.members.find((m) => m.key.bytes !== key.bytes && m.scheme === key.scheme);
      if (stranger) expect(verifyMessage(stranger.key, message)).toBe(false);
    });
  }

  it("re-signing a body gives the same signature (deterministic) and any change of the body breaks it", () => {
    const commitment = signed.find((s) => s.name === "commitment")?.message as OutputCommitment;
    const key = net.keys.get(commitment.node);
    if (!key) throw new Error("no key");
    const { sig, ...body } = commitment;
    expect(toHex(signMessage<OutputCommitment>(key, body).sig)).toBe(toHex(sig));
    const member = signerOf(commitment).key;
    expect(verifyMessage(member, { ...commitment, node: "node-08" })).toBe(false);
    expect(verifyMessage(member, { ...commitment, v: 2 })).toBe(false);
    expect(verifyMessage(member, { ...commitment, commitment: new Uint8Array(32) })).toBe(false);
  });

  it("a commitment signature never verifies as a signed output with the same fields", () => {
    const output = signed.find((s) => s.name === "output")?.message as SignedOutput;
    const member = signerOf(output).key;
    expect(verifyMessage(member, output)).toBe(true);
    const key = net.keys.get(output.node);
    if (!key) throw new Error("no key");
    const { sig: _sig, ...body } = output;
    const asCommitment = signMessage<OutputCommitment>(key, { t: "commitment", v: 1, chain: body.chain, request: body.request, node: body.node, commitment: body.request });
    expect(verifyMessage(member, { ...output, sig: asCommitment.sig })).toBe(false);
  });

  it("verifies identically through the noble ed25519 path", () => {
    for (const { message } of signed) {
      const { key } = signerOf(message);
      if (key.scheme !== "ed25519") continue;
      const noble = publicKey("ed25519", key.bytes, { ed25519Path: "noble" });
      expect(verifyMessage(noble, message)).toBe(true);
      expect(verifyMessage(noble, { ...message, chain: "x" })).toBe(false);
    }
  });
});
