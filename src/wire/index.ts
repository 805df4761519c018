/**
 * The public face of src/wire: every name listed explicitly, so a reader sees where each lives.
 */
export type { Bytes, SchemeName, AttestationMode, SamplingParams, PolicyParamValue, PolicyParams, PolicyRef, Evidence, InferenceRequestBody, InferenceRequest, OutputCommitmentBody, OutputCommitment, CommitmentRef, CommitCloseBody, CommitClose, OutputReveal, SignedOutputBody, SignedOutput, Outcome, BundledRequest, AgreedBundle, Cluster, NoAgreementBody, NoAgreement, EquivocationEvidence, Message, MessageKind } from "./types.ts";
export { PROTOCOL_VERSION, MAX_MESSAGE_BYTES, MAX_KIND_BYTES, MAX_CHAIN_ID_BYTES, MAX_NODE_ID_BYTES, MAX_MODEL_ID_BYTES, MAX_INPUT_BYTES, MAX_OUTPUT_BYTES, MAX_TOKENS, MAX_COMMITTEE, MAX_POLICY_ID_BYTES, MAX_PARAM_DEPTH, MAX_PARAM_ENTRIES, MAX_PARAM_TEXT_BYTES, MAX_VOTES_PER_BUNDLE, MAX_ENVELOPE_ITEMS, HASH_BYTES, SALT_BYTES, MIN_SIGNATURE_BYTES, MAX_SIGNATURE_BYTES } from "./limits.ts";
export { IDENTIFIER, MESSAGE_KINDS, encodeMessage, decodeMessage } from "./messages.ts";
export { isEnvelope, encodeEnvelope, envelopeItems, envelopeBytes, envelopeItemBytes } from "./envelope.ts";
export { MAX_BATCH_LEAVES, MAX_BATCH_SIGNATURE_BYTES, batchDepth, parseSignature, encodeBatchSignature } from "./signature.ts";
export type { ParsedSignature } from "./signature.ts";
export { bodyBytes, requestId, payloadHash, commitmentHash, commitmentOfReveal } from "./ids.ts";
export { utf8, sha256, taggedHash, outputHash, toHex, fromHex, bytesEqual, compareBytes } from "./hash.ts";
export { messageToJson, messageFromJson } from "./json.ts";
