/**
 * The public face of src/sequencer: every name listed explicitly, so a reader sees where each lives.
 */
export { DEFAULT_POOL_DEFAULTS, Pool, createPool } from "./pool.ts";
export type { PoolNetwork, PoolDefaults, RetryPolicy, Submission, RequestState, PoolOutcome, PoolLogger, PoolInit } from "./pool.ts";
export { StoreConflictError, SqliteOutcomeStore } from "./store.ts";
export type { RequestStatus, OutcomeKind, StoredMessageKind, NewRequest, StoredRequest, NewMessage, NewEvidence, NewOutcome, StoredOutcome, RequestRecord, PutResult, OutcomeStore, StoreConflict, StoreConflictParams, SqliteOutcomeStoreInit } from "./store.ts";
export { certifiedAnswer } from "./certified.ts";
export type { CertifiedAnswer } from "./certified.ts";
export { bundleCertificate, readyWithCertificates } from "./certificates.ts";
export type { CertifiedBundle, ReadyWithCertificatesParameters, ReadyWithCertificatesReturnType } from "./certificates.ts";
