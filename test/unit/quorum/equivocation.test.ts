import { describe, expect, it } from "vitest";
import { equivocationOf, verifyEquivocation } from "../../../src/quorum/equivocation.ts";
import { createRegistry } from "../../../src/quorum/registry.ts";
import { decodeMessage, encodeMessage } from "../../../src/wire/messages.ts";
import type { EquivocationEvidence, OutputCommitment } from "../../../src/wire/types.ts";
import { testKey } from "../../helpers/fixtures.ts";
import { sampleMessages, sampleNetwork } from "../../spec/samples.ts";
import { codeOf } from "../../helpers/errors.ts";

const net = sampleNetwork();
const samples = sampleMessages(net);
const evidenceOf = (name: string) => samples.find((s) => s.name === name)?.message as EquivocationEvidence;


describe("equivocation evidence", () => {
  for (const name of ["equivocation-commitments", "equivocation-outputs", "equivocation-outputs-evidence"]) {
    it(`${name} verifies, before and after the wire, and names the node`, () => {
      const evidence = evidenceOf(name);
      expect(verifyEquivocation(evidence, net.registry)).toBe(evidence.first.node);
      expect(verifyEquivocation(decodeMessage(encodeMessage(evidence), "equivocation"), net.registry)).toBe(evidence.first.node);
    });
  }

  it("is built in one order whichever message was seen first", () => {
    const { first, second } = evidenceOf("equivocation-commitments");
    expect(equivocationOf(second, first)).toEqual(equivocationOf(first, second));
    expect(equivocationOf(first, first)).toBeUndefined();
  });

  it("rejects evidence that is not slashable", () => {
    const evidence = evidenceOf("equivocation-commitments");
    const { first, second } = evidence;
    expect(codeOf(() => verifyEquivocation({ ...evidence, first: second, second: first }, net.registry))).toBe("BUNDLE_INVALID");
    expect(codeOf(() => verifyEquivocation({ ...evidence, second: first }, net.registry))).toBe("BUNDLE_INVALID");
    expect(codeOf(() => verifyEquivocation({ ...evidence, second: { ...second, node: "node-08" } as OutputCommitment }, net.registry))).toBe("BUNDLE_INVALID");
    expect(codeOf(() => verifyEquivocation({ ...evidence, second: { ...second, sig: new Uint8Array(64) } }, net.registry))).toBe("SIG_INVALID");
    expect(codeOf(() => verifyEquivocation({ ...evidence, chain: "other" }, net.registry))).toBe("CHAIN_MISMATCH");
    const mixed = { ...evidence, second: evidenceOf("equivocation-outputs").second };
    expect(codeOf(() => verifyEquivocation(mixed, net.registry))).toBe("BUNDLE_INVALID");
    const without = createRegistry({ ...net.config, nodes: net.config.nodes.filter((n) => n.id !== first.node) });
    expect(codeOf(() => verifyEquivocation(evidence, without))).toBe("NOT_IN_COMMITTEE");
    const rotated = createRegistry({
      ...net.config,
      nodes: net.config.nodes.map((n) => (n.id === first.node ? { ...n, scheme: "ed25519", publicKey: testKey("rotated").publicKey } : n)),
    });
    expect(codeOf(() => verifyEquivocation(evidence, rotated))).toBe("SIG_INVALID");
  });
});
