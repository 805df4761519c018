/**
 * `concord node` configuration: defaults, then the JSON config file, then CONCORD_* environment
 * variables, then command-line flags. Every problem is a CONFIG error naming the setting, which
 * the CLI turns into exit code 2.
 */
import { dirname, resolve } from "node:path";
import { ConcordError, isConcordError } from "../errors.ts";
import { llamaEngineProfile } from "../runner/llama.ts";
import { readRegularFile } from "./files.ts";

export type BackendConfig =
  | { type: "synthetic"; modelSeed: string; hardware: string; delayMs: number }
  | { type: "openai"; baseUrl: string; model?: string; timeoutMs: number; apiKeyEnv?: string; api?: "completions" | "chat" }
  /** Not a model: hash-derived text after a fixed delay (benchmarks and protocol tests). */
  | { type: "fixed"; modelSeed: string; delayMs: number }
  /** llama.cpp in-process (src/runner/llama.ts); unset settings take the hardware profile's or the engine's defaults. */
  | {
      type: "llama";
      modelFile: string;
      hardware: string;
      threads?: number;
      batchSize?: number;
      flashAttention?: boolean;
      kvCacheType?: "f16" | "f32";
      contextSize?: number;
      contextSequences?: number;
      model?: string;
    };

/** Byzantine behaviours a node can be told to play (a testing aid: src/node/byzantine.ts). */
export const BYZANTINE_MODES = ["wrong-model", "equivocator", "invalid-signature", "random-bytes", "copycat"] as const;
export type ByzantineMode = (typeof BYZANTINE_MODES)[number];

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface NodeConfig {
  /** This node's id in the registry. */
  node: string;
  /** Key file written by `concord keys new`. */
  keystore: string;
  /** Registry JSON file: chain, sequencer key, nodes. */
  registry: string;
  /** Folder for the slashing-protection database. */
  dataDir: string;
  /** libp2p listen multiaddrs. */
  listen: string[];
  /** Peers dialed at start. */
  bootstrap: string[];
  /** Find peers on the local network with mDNS. */
  mdns: boolean;
  backend: BackendConfig;
  /** Prometheus metrics HTTP endpoint; port 0 picks a free port; null disables. */
  metrics: { host: string; port: number } | null;
  logLevel: LogLevel;
  /** Inference jobs run at once. */
  maxConcurrentJobs: number;
  /** Testing aid: misbehave this way (never set on a real node). */
  byzantine?: ByzantineMode;
  /** Benchmarks: append one JSON line per protocol message published or accepted, with a timestamp. */
  traceFile?: string;
  /**
   * Start although this node has signed before and its slashing-protection history is gone
   * (src/node/history.ts). Only the command-line flag sets it, for one start: never a file or
   * environment setting that would silence the check for good.
   */
  acceptLostSlashingHistory?: boolean;
}

export const DEFAULT_NODE_CONFIG: Omit<NodeConfig, "node" | "keystore" | "registry"> = {
  dataDir: "./concord-data",
  listen: ["/ip4/127.0.0.1/tcp/0"],
  bootstrap: [],
  mdns: false,
  backend: { type: "synthetic", modelSeed: "concord-synthetic-v1", hardware: "reference", delayMs: 0 },
  metrics: { host: "127.0.0.1", port: 0 },
  logLevel: "info",
  maxConcurrentJobs: 2,
};

/** The settings a flag or environment variable can set, by name. */
export interface NodeOverrides {
  config?: string;
  node?: string;
  keystore?: string;
  registry?: string;
  dataDir?: string;
  listen?: string[];
  bootstrap?: string[];
  mdns?: boolean;
  backend?: string;
  hardware?: string;
  modelSeed?: string;
  delayMs?: number;
  openaiUrl?: string;
  openaiModel?: string;
  modelFile?: string;
  threads?: number;
  batchSize?: number;
  contextSize?: number;
  contextSequences?: number;
  metricsPort?: number;
  metricsHost?: string;
  noMetrics?: boolean;
  logLevel?: string;
  maxConcurrentJobs?: number;
  byzantine?: string;
  traceFile?: string;
}

/** Environment variables, documented in `concord node --help`. */
export const NODE_ENV_VARS: Record<string, keyof NodeOverrides> = {
  CONCORD_CONFIG: "config",
  CONCORD_NODE: "node",
  CONCORD_KEYSTORE: "keystore",
  CONCORD_REGISTRY: "registry",
  CONCORD_DATA_DIR: "dataDir",
  CONCORD_LISTEN: "listen",
  CONCORD_BOOTSTRAP: "bootstrap",
  CONCORD_BACKEND: "backend",
  CONCORD_OPENAI_URL: "openaiUrl",
  CONCORD_MODEL_FILE: "modelFile",
  CONCORD_METRICS_PORT: "metricsPort",
  CONCORD_LOG_LEVEL: "logLevel",
  CONCORD_BYZANTINE: "byzantine",
};

function configError(details: string): ConcordError {
  return new ConcordError("CONFIG", "invalid node configuration", { details });
}

/** Reads CONCORD_* variables into overrides. */
export function overridesFromEnv(env: NodeJS.ProcessEnv): NodeOverrides {
  const out: NodeOverrides = {};
  for (const [name, key] of Object.entries(NODE_ENV_VARS)) {
    const value = env[name];
    if (value === undefined || value === "") continue;
    if (key === "listen" || key === "bootstrap") out[key] = value.split(",").map((s) => s.trim()).filter(Boolean);
    else if (key === "metricsPort") out.metricsPort = parsePort(value, name);
    else (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

export function parsePort(value: string | number, name: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw configError(`${name}: not a port number: ${value}`);
  return port;
}

function expectString(value: unknown, name: string): string {
  if (typeof value !== "string" || value.length === 0) throw configError(`${name} must be a non-empty string`);
  return value;
}

function expectStrings(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) throw configError(`${name} must be a list of strings`);
  return value;
}

function expectInt(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) throw configError(`${name} must be an integer in ${min}..${max}`);
  return value;
}

const FILE_KEYS = new Set([
  "node",
  "keystore",
  "registry",
  "dataDir",
  "listen",
  "bootstrap",
  "mdns",
  "backend",
  "metrics",
  "logLevel",
  "maxConcurrentJobs",
  "byzantine",
  "traceFile",
]);

/** Reads the JSON config file; relative paths in it are relative to the file. */
export function readConfigFile(path: string): Partial<NodeConfig> {
  let json: unknown;
  try {
    json = JSON.parse(readRegularFile(path).toString("utf8"));
  } catch (cause) {
    if (isConcordError(cause)) throw configError(cause.message);
    const reason = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
    throw configError(`cannot read config file ${path}: ${reason}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw configError(`${path}: expected a JSON object`);
  for (const key of Object.keys(json)) if (!FILE_KEYS.has(key)) throw configError(`${path}: unknown setting "${key}"`);
  const base = dirname(resolve(path));
  const file = json as Record<string, unknown>;
  for (const key of ["keystore", "registry", "dataDir", "traceFile"] as const) {
    if (typeof file[key] === "string") file[key] = resolve(base, file[key] as string);
  }
  const backend = file.backend as Record<string, unknown> | undefined;
  if (typeof backend === "object" && backend !== null && typeof backend.modelFile === "string") {
    file.backend = { ...backend, modelFile: resolve(base, backend.modelFile) };
  }
  return file as Partial<NodeConfig>;
}

/** Merges defaults, file, environment and flags, then validates everything. */
export function resolveNodeConfig(overrides: NodeOverrides, env: NodeJS.ProcessEnv = {}): NodeConfig {
  const fromEnv = overridesFromEnv(env);
  const merged: NodeOverrides = { ...fromEnv, ...stripUndefined(overrides) };
  const configPath = merged.config;
  const file = configPath ? readConfigFile(configPath) : {};
  const raw: Record<string, unknown> = { ...DEFAULT_NODE_CONFIG, ...file };
  for (const key of ["node", "keystore", "registry", "dataDir", "listen", "bootstrap", "mdns", "logLevel", "maxConcurrentJobs", "byzantine", "traceFile"] as const) {
    if (merged[key] !== undefined) raw[key] = merged[key];
  }
  let backend = (raw.backend ?? DEFAULT_NODE_CONFIG.backend) as Record<string, unknown>;
  if (merged.backend !== undefined && merged.backend !== backend.type) {
    backend =
      merged.backend === "synthetic"
        ? { ...DEFAULT_NODE_CONFIG.backend }
        : merged.backend === "fixed"
          ? // The same "model" (seed) and delay as the synthetic settings it replaces.
            { type: "fixed", modelSeed: backend.modelSeed ?? "concord-synthetic-v1", delayMs: backend.delayMs ?? 0 }
          : { type: merged.backend };
  }
  if (merged.hardware !== undefined) backend = { ...backend, hardware: merged.hardware };
  if (merged.modelSeed !== undefined) backend = { ...backend, modelSeed: merged.modelSeed };
  if (merged.delayMs !== undefined) backend = { ...backend, delayMs: merged.delayMs };
  if (merged.openaiUrl !== undefined) backend = { ...backend, baseUrl: merged.openaiUrl };
  if (merged.openaiModel !== undefined) backend = { ...backend, model: merged.openaiModel };
  for (const [key, flag] of LLAMA_FLAGS) {
    if (merged[key] === undefined) continue;
    if (backend.type !== "llama") throw configError(`${flag} is a llama backend setting (the backend is ${String(backend.type)}: add --backend llama)`);
    backend = { ...backend, [key]: merged[key] };
  }
  let metrics = raw.metrics as NodeConfig["metrics"];
  if (merged.noMetrics) metrics = null;
  else if (merged.metricsPort !== undefined || merged.metricsHost !== undefined) {
    metrics = { host: merged.metricsHost ?? metrics?.host ?? "127.0.0.1", port: merged.metricsPort ?? metrics?.port ?? 0 };
  }
  return validate({ ...raw, backend, metrics });
}

/** Settings only the llama backend reads, with the flag that sets each. */
const LLAMA_FLAGS = [
  ["modelFile", "--model-file"],
  ["threads", "--threads"],
  ["batchSize", "--batch-size"],
  ["contextSize", "--context-size"],
  ["contextSequences", "--context-sequences"],
] as const;

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function validate(raw: Record<string, unknown>): NodeConfig {
  for (const key of ["node", "keystore", "registry"] as const) {
    if (raw[key] === undefined) throw configError(`missing "${key}" (config file, --${key} or CONCORD_${key.toUpperCase()})`);
  }
  const logLevel = raw.logLevel;
  if (!["debug", "info", "warn", "error"].includes(logLevel as string)) throw configError(`logLevel must be debug, info, warn or error`);
  const metricsRaw = raw.metrics as { host?: unknown; port?: unknown } | null;
  const metrics =
    metricsRaw === null
      ? null
      : { host: expectString(metricsRaw?.host, "metrics.host"), port: expectInt(metricsRaw?.port, "metrics.port", 0, 65_535) };
  if (typeof raw.mdns !== "boolean") throw configError("mdns must be true or false");
  const byzantine = raw.byzantine;
  if (byzantine !== undefined && !(BYZANTINE_MODES as readonly unknown[]).includes(byzantine)) {
    throw configError(`byzantine must be one of ${BYZANTINE_MODES.join(", ")}`);
  }
  const config: NodeConfig = {
    node: expectString(raw.node, "node"),
    keystore: expectString(raw.keystore, "keystore"),
    registry: expectString(raw.registry, "registry"),
    dataDir: expectString(raw.dataDir, "dataDir"),
    listen: expectStrings(raw.listen, "listen"),
    bootstrap: expectStrings(raw.bootstrap, "bootstrap"),
    mdns: raw.mdns,
    backend: validateBackend(raw.backend),
    metrics,
    logLevel: logLevel as LogLevel,
    maxConcurrentJobs: expectInt(typeof raw.maxConcurrentJobs === "string" ? Number(raw.maxConcurrentJobs) : raw.maxConcurrentJobs, "maxConcurrentJobs", 1, 256),
  };
  if (byzantine !== undefined) config.byzantine = byzantine as ByzantineMode;
  if (raw.traceFile !== undefined) config.traceFile = expectString(raw.traceFile, "traceFile");
  return config;
}

function validateBackend(value: unknown): BackendConfig {
  if (typeof value !== "object" || value === null) throw configError("backend must be an object with a type");
  const backend = value as Record<string, unknown>;
  if (backend.type === "synthetic") {
    return {
      type: "synthetic",
      modelSeed: expectString(backend.modelSeed ?? "concord-synthetic-v1", "backend.modelSeed"),
      hardware: expectString(backend.hardware ?? "reference", "backend.hardware"),
      delayMs: expectInt(typeof backend.delayMs === "string" ? Number(backend.delayMs) : backend.delayMs ?? 0, "backend.delayMs", 0, 600_000),
    };
  }
  if (backend.type === "openai") {
    const baseUrl = expectString(backend.baseUrl, "backend.baseUrl (or --openai-url)");
    try {
      new URL(baseUrl);
    } catch {
      throw configError(`backend.baseUrl is not a URL: ${baseUrl}`);
    }
    const out: BackendConfig = { type: "openai", baseUrl, timeoutMs: expectInt(backend.timeoutMs ?? 60_000, "backend.timeoutMs", 1, 3_600_000) };
    if (backend.model !== undefined) out.model = expectString(backend.model, "backend.model");
    if (backend.apiKeyEnv !== undefined) out.apiKeyEnv = expectString(backend.apiKeyEnv, "backend.apiKeyEnv");
    if (backend.api !== undefined) {
      if (backend.api !== "completions" && backend.api !== "chat") throw configError(`backend.api must be "completions" or "chat"`);
      out.api = backend.api;
    }
    return out;
  }
  if (backend.type === "fixed") {
    return {
      type: "fixed",
      modelSeed: expectString(backend.modelSeed ?? "concord-synthetic-v1", "backend.modelSeed"),
      delayMs: expectInt(typeof backend.delayMs === "string" ? Number(backend.delayMs) : backend.delayMs ?? 0, "backend.delayMs", 0, 600_000),
    };
  }
  if (backend.type === "llama") {
    const hardware = expectString(backend.hardware ?? "reference", "backend.hardware (or --hardware)");
    try {
      llamaEngineProfile(hardware);
    } catch (cause) {
      throw configError(`backend.hardware: ${(cause as Error).message}`);
    }
    const out: BackendConfig = { type: "llama", modelFile: expectString(backend.modelFile, "backend.modelFile (or --model-file)"), hardware };
    const int = (key: "threads" | "batchSize" | "contextSize" | "contextSequences", flag: string, max: number): void => {
      const value = backend[key];
      if (value !== undefined) out[key] = expectInt(typeof value === "string" ? Number(value) : value, `backend.${key} (or ${flag})`, 1, max);
    };
    int("threads", "--threads", 256);
    int("batchSize", "--batch-size", 65_536);
    int("contextSize", "--context-size", 1_048_576);
    int("contextSequences", "--context-sequences", 64);
    if (backend.flashAttention !== undefined) {
      if (typeof backend.flashAttention !== "boolean") throw configError("backend.flashAttention must be true or false");
      out.flashAttention = backend.flashAttention;
    }
    if (backend.kvCacheType !== undefined) {
      if (backend.kvCacheType !== "f16" && backend.kvCacheType !== "f32") throw configError(`backend.kvCacheType must be "f16" or "f32"`);
      out.kvCacheType = backend.kvCacheType;
    }
    if (backend.model !== undefined) out.model = expectString(backend.model, "backend.model");
    return out;
  }
  throw configError(`backend.type must be "synthetic", "openai", "fixed" or "llama"`);
}
