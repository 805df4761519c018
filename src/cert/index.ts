/**
 * The public face of src/cert: compact certificates of agreed bundles that a contract can check
 * (spec/11-certificate.md). One-way: src/cert imports wire, crypto-level primitives and quorum
 * types; nothing in the core imports it. Every name listed explicitly.
 */
export { encodeCertificate, decodeCertificate } from "./abi.ts";
export type { Certificate, CertificateVote } from "./abi.ts";
export { certificateOf } from "./derive.ts";
export { certificateToJson } from "./json.ts";
export type { CertificateJson } from "./json.ts";
export { ZERO_ADDRESS, ethereumAddress, certificateMembers, packMember, packMembers, unpackMembers, membersRoot, registryRootOf, registryRoot } from "./registry-root.ts";
export type { CertificateMember, PackedMember } from "./registry-root.ts";
export { readCertifiedRequest } from "./request.ts";
export type { CertifiedRequest } from "./request.ts";
export { SECP256K1_HALF_ORDER, cborHead, verifyCertificate } from "./verify.ts";
export type { VerifiedCertificate } from "./verify.ts";
