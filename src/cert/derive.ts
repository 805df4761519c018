/**
 * certificateOf (spec/11-certificate.md, "Derivation"): the certificate of a verified AgreedBundle.
 *
 * A certificate certifies exact agreement: k drawn committee members each signed a vote whose
 * output is byte for byte the bundle's canonical output. For exact@1 and seeded@1 without fork
 * tolerance every supporter's output is the canonical one; for policies whose supporters may
 * differ (semantic, structured, seeded forks) a certificate exists only when at least k
 * supporters produced the canonical output exactly — CERT_UNSUPPORTED otherwise. Only plainly
 * signed secp256k1 votes can be checked on chain (the contract checks no batch path), so only they count.
 *
 * @example
 * const certificate = certificateOf(bundle, registry);   // bundle already passed verifyBundle
 * const bytes = encodeCertificate(certificate);          // what the contract receives
 */
import { ConcordError } from "../errors.ts";
import { encodeCanonical } from "../wire/cbor.ts";
import { utf8 } from "../wire/hash.ts";
import { bodyBytes } from "../wire/ids.ts";
import { wireEvidence } from "../wire/messages.ts";
import type { AgreedBundle, Bytes, Evidence } from "../wire/types.ts";
import type { Registry } from "../quorum/registry.ts";
import type { Certificate, CertificateVote } from "./abi.ts";
import { certificateMembers, packMembers } from "./registry-root.ts";

const NO_SALT: Bytes = new Uint8Array(32);
const NO_EVIDENCE: Bytes = new Uint8Array(0);

function evidenceBytes(evidence: Evidence | undefined): Bytes {
  return evidence ? encodeCanonical(wireEvidence(evidence)) : NO_EVIDENCE;
}

/**
 * The certificate of `bundle`, which the caller has verified against `registry` (verifyBundle):
 * the request body, the registry's members, the canonical output and the first k supporters (by
 * node id) on secp256k1 keys whose output is exactly the canonical one. Throws CERT_UNSUPPORTED
 * when fewer than k such supporters exist, or the registry has subnets (spec/11).
 */
export function certificateOf(bundle: AgreedBundle, registry: Registry): Certificate {
  const { request, outcome } = bundle;
  if (bundle.chain !== registry.chain) throw new ConcordError("CHAIN_MISMATCH", "bundle for another chain", { details: bundle.chain });
  // The registry root and the on-chain draw know no subnets: they would draw another committee.
  if (registry.subnets !== 1) throw new ConcordError("CERT_UNSUPPORTED", "certificates need a registry of one subnet", { details: `subnets=${registry.subnets}` });
  const members = certificateMembers(registry);
  const indexOf = new Map(members.map((member, i) => [member.id, i]));
  const supporters = new Set(outcome.supporters);
  const votes: CertificateVote[] = [];
  const candidates = request.mode === "direct"
    ? bundle.outputs.map((output) => ({ node: output.node, output: output.output, evidence: output.evidence, salt: NO_SALT, sig: output.sig }))
    : bundle.reveals.map((reveal) => ({ node: reveal.node, output: reveal.output, evidence: reveal.evidence, salt: reveal.salt, sig: reveal.commitmentSig }));
  // Bundles list votes sorted by node id, the members' order: the votes come out ascending.
  for (const vote of candidates) {
    if (votes.length === request.k) break;
    const member = indexOf.get(vote.node);
    if (member === undefined || !supporters.has(vote.node) || vote.output !== outcome.output) continue;
    if (registry.byId.get(vote.node)?.scheme !== "secp256k1" || vote.sig.length !== 65) continue;
    votes.push({ member, salt: vote.salt, evidence: evidenceBytes(vote.evidence), r: vote.sig.subarray(0, 32), s: vote.sig.subarray(32, 64), v: vote.sig[64] as number });
  }
  if (votes.length < request.k) {
    throw new ConcordError("CERT_UNSUPPORTED", "no certificate for this bundle", {
      details: `${votes.length} supporters on secp256k1 keys signed exactly the canonical output plainly (batch signatures are not counted), k=${request.k}`,
    });
  }
  return { request: bodyBytes(request), members: packMembers(members), output: utf8(outcome.output), votes };
}
