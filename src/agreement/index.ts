/**
 * The public face of src/agreement: every name listed explicitly, so a reader sees where each lives.
 */
export { policyKey, PolicyRegistry } from "./policy.ts";
export type { Vote, DecideContext, PolicyDecision, AgreementPolicy, BoundPolicy } from "./policy.ts";
export { createDefaultPolicyRegistry } from "./registry.ts";
export { sortVotes, compareClusters, clustersByHash } from "./clusters.ts";
export { exactPolicy } from "./exact.ts";
export type { ExactParams } from "./exact.ts";
export { isValidSeededEvidence, seededMinProducers, seededPolicy } from "./seeded.ts";
export type { SeededParams } from "./seeded.ts";
export { levenshteinMeasure, semanticPolicy } from "./semantic.ts";
export type { SemanticUnit, SemanticParams } from "./semantic.ts";
export { MAX_SEMANTIC_BYTES, MAX_SEMANTIC_WORDS, SEMANTIC2_DEFAULT_THETA_PPM, parseGuardedParams, guardedMeasure, semanticGuardedPolicy } from "./semantic-guarded.ts";
export type { GuardedParams } from "./semantic-guarded.ts";
export { GUARD_CLASSES, guardSignature, numberTokens, words } from "./guards.ts";
export type { GuardClass, GuardOptions } from "./guards.ts";
export { parseStructuredParams, canonicalJson, structuredPolicy } from "./structured.ts";
export type { StructuredFieldType, StructuredField, StructuredParams } from "./structured.ts";
export { parseStructuredSchemaParams, outputJsonSchema, structuredOutcome, structuredSchemaPolicy } from "./structured-schema.ts";
export type { StructuredSchemaParams, StructuredOutcome } from "./structured-schema.ts";
export { firstWinsPolicy } from "./first-wins.ts";
export type { FirstWinsParams } from "./first-wins.ts";
export { normalizeText, DEFAULT_THETA_PPM, parseSimilarityParams, decideByMedoidStar, createSimilarityPolicy } from "./similarity.ts";
export type { PairOracle, SimilarityMeasure, NormalizeOptions, SimilarityParams, SimilarityPolicyOptions } from "./similarity.ts";
export { MAX_VOCAB, MARGIN_CAP_PPM, WEIGHT_CUTOFF, weightTable, candidateWeight, deriveDecodeSeed, stepUniformBits, stepUniform, sampleNext } from "./sampler.ts";
export type { Logits, SampledToken } from "./sampler.ts";
