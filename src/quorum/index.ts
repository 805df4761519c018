/**
 * The public face of src/quorum: every name listed explicitly, so a reader sees where each lives.
 */
export { createRegistry, registryConfigFromJson, registryConfigToJson, assignSubnets, MAX_SUBNETS } from "./registry.ts";
export type { RegistryEntry, RegistryConfig, RegistryMember, Registry, RegistryJson } from "./registry.ts";
export { drawCommittee, requestSubnet, defaultThreshold, checkThreshold } from "./committee.ts";
export { openRequest, checkRequestRef, checkMember, checkCommitment, checkClose, checkReveal, checkSignedOutput, toVote } from "./rules.ts";
export type { RequestContext, OpenRequestOptions } from "./rules.ts";
export { Collector } from "./collector.ts";
export type { CollectorStatus, CollectorEvent, CollectorOptions } from "./collector.ts";
export { RequestBook } from "./book.ts";
export type { BookEvent, RequestBookInit, BookEntry } from "./book.ts";
export { verifyBundle } from "./verify.ts";
export type { VerifiedBundle } from "./verify.ts";
export { equivocationOf, verifyEquivocation } from "./equivocation.ts";
export { commitmentSalt, signRequest, commitOutput, signOutput, signClose, signNoAgreement } from "./attest.ts";
export type { Attestation } from "./attest.ts";
