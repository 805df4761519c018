/**
 * The public face of src/node: every name listed explicitly, so a reader sees where each lives.
 */
export { BYZANTINE_MODES, DEFAULT_NODE_CONFIG, NODE_ENV_VARS, nodeConfigSchema, overridesFromEnv, parsePort, readConfigFile, resolveNodeConfig } from "./config.ts";
export type { BackendConfig, ByzantineMode, LogLevel, NodeConfig, NodeOverrides } from "./config.ts";
export { createBackend, NodeDaemon } from "./daemon.ts";
export type { NodeDaemonComponents } from "./daemon.ts";
export { Participant } from "./participant.ts";
export type { ParticipantLogger, ParticipantObserver, ParticipantInit } from "./participant.ts";
export { SlashingConflictError, INTERCHANGE_FORMAT, INTERCHANGE_VERSION, parseInterchange, serializeInterchange, SlashingProtection } from "./slashing.ts";
export { SlashingGuard } from "./slashing-guard.ts";
export type { SignedKind, SigningRecord, SigningKey, CheckResult, SlashingConflictParams, InterchangeRecord, SlashingInterchange, ImportReport, SlashingProtectionInit } from "./slashing.ts";
export { createNodeMetrics, serveMetrics } from "./metrics.ts";
export type { HealthProbes, NodeMetrics } from "./metrics.ts";
export { nodeReadiness } from "./health.ts";
export type { Readiness, ReadinessInput } from "./health.ts";
export { readBuildInfo } from "./build-info.ts";
export type { BuildInfo } from "./build-info.ts";
