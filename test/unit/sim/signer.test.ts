import { describe, expect, it } from "vitest";
import { signRoot } from "../../../src/crypto/schemes.ts";
import { commitOutput, commitmentSalt, signClose, signNoAgreement, signOutput, signRequest } from "../../../src/quorum/attest.ts";
import { taggedHash } from "../../../src/wire/hash.ts";
import { encodeMessage } from "../../../src/wire/messages.ts";
import { createSigner, simCommit, simKey, simSignClose, simSignNoAgreement, simSignOutput, simSignRequest } from "../../../src/sim/signer.ts";
import { requestBody } from "../../helpers/fixtures.ts";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("sim signer: node:crypto ed25519 gives the core's exact bytes", () => {
  const key = simKey("seed", "node-001");
  const sequencerKey = simKey("seed", "sequencer");
  const signer = createSigner(key);
  const sequencer = createSigner(sequencerKey);

  it("signs roots exactly as noble does (RFC 8032 signatures are deterministic)", () => {
    for (let i = 0; i < 16; i++) {
      const root = taggedHash("root", String(i));
      expect(hex(signer.signRoot(root))).toBe(hex(signRoot(key, root)));
    }
  });

  it("builds requests, commitments, reveals, outputs, closes and NoAgreements byte for byte like attest.ts", () => {
    const body = { ...requestBody(), chain: "concord-test" };
    const request = simSignRequest(sequencer, body);
    expect(hex(encodeMessage(request))).toBe(hex(encodeMessage(signRequest(sequencerKey, body))));
    const id = taggedHash("request-id");
    const attestation = { chain: "concord-test", request: id, node: "node-001", output: "Paris", evidence: { tokens: [1, 2, 3], margins: [5, 0, 7] } };
    const mine = simCommit(signer, attestation);
    const core = commitOutput(key, attestation, commitmentSalt(key, id));
    expect(hex(encodeMessage(mine.commitment))).toBe(hex(encodeMessage(core.commitment)));
    expect(hex(encodeMessage(mine.reveal))).toBe(hex(encodeMessage(core.reveal)));
    expect(hex(encodeMessage(simSignOutput(signer, attestation)))).toBe(hex(encodeMessage(signOutput(key, attestation))));
    expect(hex(encodeMessage(simSignClose(sequencer, "concord-test", id, [core.commitment])))).toBe(
      hex(encodeMessage(signClose(sequencerKey, "concord-test", id, [core.commitment]))),
    );
    const na = { t: "no-agreement" as const, v: 1, chain: "concord-test", request: id, reason: "deadline" as const, clusters: [] };
    expect(hex(encodeMessage(simSignNoAgreement(sequencer, na)))).toBe(hex(encodeMessage(signNoAgreement(sequencerKey, na))));
  });
});
