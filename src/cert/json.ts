/**
 * The JSON rendering of a certificate, for people and tools (`concord cert`): bytes as "0x…"
 * hex, the member list unpacked, the output as text. Informative only: the ABI bytes are the
 * certificate.
 */
import { toHex } from "../wire/hash.ts";
import type { Certificate } from "./abi.ts";
import { unpackMembers } from "./registry-root.ts";
import { readCertifiedRequest } from "./request.ts";

const hex = (bytes: Uint8Array) => `0x${toHex(bytes)}`;

export interface CertificateJson {
  requestId: string;
  request: string;
  members: { id: string; signer: string; weight: number }[];
  output: string;
  votes: { member: number; node: string; salt: string; evidence: string; r: string; s: string; v: number }[];
}

export function certificateToJson(certificate: Certificate): CertificateJson {
  const members = unpackMembers(certificate.members);
  return {
    requestId: hex(readCertifiedRequest(certificate.request).requestId),
    request: hex(certificate.request),
    members: members.map((member) => ({ id: member.id, signer: hex(member.signer), weight: member.weight })),
    output: new TextDecoder().decode(certificate.output),
    votes: certificate.votes.map((vote) => ({
      member: vote.member,
      node: members[vote.member]?.id ?? "?",
      salt: hex(vote.salt),
      evidence: hex(vote.evidence),
      r: hex(vote.r),
      s: hex(vote.s),
      v: vote.v,
    })),
  };
}
