/**
 * `concord node` configuration: defaults, then the JSON config file, then CONCORD_* environment
 * variables, then command-line flags. Every problem is a CONFIG error naming the setting, which
 * the CLI turns into exit code 2.
 */
import { dirname, resolve } from "node:path";
import { closest, distance } from "fastest-levenshtein";
import { z } from "zod";
import { ConcordError, isConcordError } from "../errors.ts";
import { whitelistEntryProblem } from "../net/peer-penalties.ts";
import { VOTE_ROUTES } from "../net/topics.ts";
import { DEFAULT_BATCH_MAX } from "../wire/signature.ts";
import { llamaEngineProfile } from "../runner/llama.ts";
import { DEFAULT_METRICS_HOST, DEFAULT_METRICS_PORT, DEFAULT_P2P_PORT, defaultDataDir } from "./defaults.ts";
import { readRegularFile } from "./files.ts";

/**
 * The configuration's schema (zod): the one place its shape, ranges and defaults live. Objects are
 * strict, so a misspelt setting at any depth (`backend.hardwre`) is a CONFIG error naming it, not
 * a silently ignored key. Messages read "<setting> <message>" (see `describeIssue`).
 */
const NON_EMPTY = "must be a non-empty string";
const nonEmptyString = () => z.string({ error: NON_EMPTY }).min(1, { error: NON_EMPTY });

/** Integers; a numeric string (an environment variable, a flag) counts as its number. */
function integer(min: number, max: number) {
  const message = `must be an integer in ${min}..${max}`;
  return z.preprocess(
    (value) => (typeof value === "string" && value.trim() !== "" ? Number(value) : value),
    z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: message }),
  );
}

const boolean = () => z.boolean({ error: "must be true or false" });
const strings = () => z.array(z.string({ error: "must be a string" }), { error: "must be a list of strings" });

/** Peer ids, IP addresses or CIDR ranges (src/net/peer-penalties.ts). */
const peerWhitelist = () =>
  z.array(
    z.string({ error: "must be a string" }).check((ctx) => {
      const problem = whitelistEntryProblem(ctx.value);
      if (problem !== undefined) ctx.issues.push({ code: "custom", message: `: ${JSON.stringify(ctx.value)}: ${problem}`, input: ctx.value });
    }),
    { error: "must be a list of strings" },
  );

const syntheticBackendSchema = z.strictObject({
  type: z.literal("synthetic"),
  modelSeed: nonEmptyString().default("concord-synthetic-v1"),
  hardware: nonEmptyString().default("reference"),
  delayMs: integer(0, 600_000).default(0),
});

const openaiBackendSchema = z.strictObject({
  type: z.literal("openai"),
  baseUrl: nonEmptyString().refine((value) => URL.canParse(value), { error: (issue) => ` is not a URL: ${String(issue.input)}` }),
  model: nonEmptyString().exactOptional(),
  timeoutMs: integer(1, 3_600_000).default(60_000),
  apiKeyEnv: nonEmptyString().exactOptional(),
  api: z.enum(["completions", "chat"], { error: `must be "completions" or "chat"` }).exactOptional(),
});

/** Not a model: hash-derived text after a fixed delay (benchmarks and protocol tests). */
const fixedBackendSchema = z.strictObject({
  type: z.literal("fixed"),
  modelSeed: nonEmptyString().default("concord-synthetic-v1"),
  delayMs: integer(0, 600_000).default(0),
});

/** llama.cpp in-process (src/runner/llama.ts); unset settings take the hardware profile's or the engine's defaults. */
const llamaBackendSchema = z.strictObject({
  type: z.literal("llama"),
  modelFile: nonEmptyString(),
  hardware: nonEmptyString()
    .check((ctx) => {
      try {
        llamaEngineProfile(ctx.value);
      } catch (cause) {
        ctx.issues.push({ code: "custom", message: `: ${(cause as Error).message}`, input: ctx.value });
      }
    })
    .default("reference"),
  threads: integer(1, 256).exactOptional(),
  batchSize: integer(1, 65_536).exactOptional(),
  flashAttention: boolean().exactOptional(),
  kvCacheType: z.enum(["f16", "f32"], { error: `must be "f16" or "f32"` }).exactOptional(),
  contextSize: integer(1, 1_048_576).exactOptional(),
  contextSequences: integer(1, 64).exactOptional(),
  model: nonEmptyString().exactOptional(),
});

const BACKEND_SCHEMAS = [syntheticBackendSchema, openaiBackendSchema, fixedBackendSchema, llamaBackendSchema] as const;
const BACKEND_TYPE_ERROR = (issue: { code: string }): string =>
  issue.code === "invalid_union" ? `must be "synthetic", "openai", "fixed" or "llama"` : "must be an object with a type";
const backendSchema = z.discriminatedUnion("type", BACKEND_SCHEMAS, { error: BACKEND_TYPE_ERROR });

/** Byzantine behaviours a node can be told to play (a testing aid: src/node/byzantine.ts). */
export const BYZANTINE_MODES = ["wrong-model", "equivocator", "invalid-signature", "random-bytes", "copycat"] as const;
const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** Every setting a config file may hold, and the validated configuration. */
export const nodeConfigSchema = z.strictObject({
  /** This node's id in the registry. */
  node: nonEmptyString(),
  /** Key file written by `concord keys new`. */
  keystore: nonEmptyString(),
  /** Registry JSON file: chain, sequencer key, nodes. */
  registry: nonEmptyString(),
  /** Folder for the slashing-protection database. */
  dataDir: nonEmptyString(),
  /** libp2p listen multiaddrs. */
  listen: strings(),
  /** Peers dialed at start. */
  bootstrap: strings(),
  /** Find peers on the local network with mDNS. */
  mdns: boolean(),
  /**
   * Known peers besides the bootstrap list: exempt from the IP-colocation penalty and from
   * catch-up's per-IP budget (peer ids, IP addresses, CIDR ranges). For honest nodes that share an
   * IP with strangers (one host, a NAT).
   */
  peerWhitelist: peerWhitelist(),
  backend: backendSchema,
  /** Prometheus metrics HTTP endpoint; port 0 picks a free port; null disables. */
  metrics: z.strictObject({ host: nonEmptyString(), port: integer(0, 65_535) }, { error: "must be an object with host and port, or null" }).nullable(),
  logLevel: z.enum(LOG_LEVELS, { error: "must be debug, info, warn or error" }),
  /** Inference jobs run at once. */
  maxConcurrentJobs: integer(1, 256),
  /**
   * Requests the node follows at once (its request book: each until 60 s past its deadline);
   * past it new requests are ignored. Size it to request rate of its subnet × (deadline + 60 s).
   */
  maxRequests: integer(100, 10_000_000),
  /** Batch signatures (spec/06 "Batching"): how long a signed message may wait for others; 0 = off, each signed at once. */
  signBatchWindowMs: integer(0, 10_000),
  /** Batch signatures: most messages under one signature (a batch is signed once this full). */
  signBatchMax: integer(2, 1024),
  /**
   * Vote routing (spec/06): `gossip` relays every member's votes through the subnet; `sequencer`
   * sends this node's votes straight to the sequencer's pool (it must be connected to the pool)
   * and receives no other member's, so its cost per request does not grow with the committee.
   */
  votes: z.enum(VOTE_ROUTES, { error: `must be ${VOTE_ROUTES.join(" or ")}` }),
  /** Testing aid: misbehave this way (never set on a real node). */
  byzantine: z.enum(BYZANTINE_MODES, { error: `must be one of ${BYZANTINE_MODES.join(", ")}` }).exactOptional(),
  /** Benchmarks: append one JSON line per protocol message published or accepted, with a timestamp. */
  traceFile: nonEmptyString().exactOptional(),
});

/** A config file: any subset of the settings (the rest come from defaults, the environment and flags). */
const nodeConfigFileSchema = nodeConfigSchema.partial().extend({
  backend: z.discriminatedUnion(
    "type",
    [
      syntheticBackendSchema.partial().required({ type: true }),
      openaiBackendSchema.partial().required({ type: true }),
      fixedBackendSchema.partial().required({ type: true }),
      llamaBackendSchema.partial().required({ type: true }),
    ],
    { error: BACKEND_TYPE_ERROR },
  ).optional(),
});

export type BackendConfig = z.output<typeof backendSchema>;
export type ByzantineMode = (typeof BYZANTINE_MODES)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];

export type NodeConfig = z.output<typeof nodeConfigSchema> & {
  /**
   * Start although this node has signed before and its slashing-protection history is gone
   * (src/node/history.ts). Only the command-line flag sets it, for one start: never a file or
   * environment setting that would silence the check for good.
   */
  acceptLostSlashingHistory?: boolean;
};

/** Defaults; dataDir has none here: it defaults to defaultDataDir(node), ~/.concord/<node>. */
export const DEFAULT_NODE_CONFIG: Omit<NodeConfig, "node" | "keystore" | "registry" | "dataDir"> = {
  listen: [`/ip4/0.0.0.0/tcp/${DEFAULT_P2P_PORT}`],
  bootstrap: [],
  mdns: false,
  peerWhitelist: [],
  backend: { type: "synthetic", modelSeed: "concord-synthetic-v1", hardware: "reference", delayMs: 0 },
  metrics: { host: DEFAULT_METRICS_HOST, port: DEFAULT_METRICS_PORT },
  logLevel: "info",
  maxConcurrentJobs: 2,
  maxRequests: 10_000,
  signBatchWindowMs: 0,
  signBatchMax: DEFAULT_BATCH_MAX,
  votes: "gossip",
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
  peerWhitelist?: string[];
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
  maxRequests?: number;
  signBatchWindowMs?: number;
  signBatchMax?: number;
  votes?: string;
  byzantine?: string;
  traceFile?: string;
}

/**
 * Environment variables, one per setting a flag sets (documented in `concord node --help` and
 * README). Lists are comma-separated; booleans are true/false (1/0, yes/no).
 */
export const NODE_ENV_VARS: Record<string, keyof NodeOverrides> = {
  CONCORD_CONFIG: "config",
  CONCORD_NODE: "node",
  CONCORD_KEYSTORE: "keystore",
  CONCORD_REGISTRY: "registry",
  CONCORD_DATA_DIR: "dataDir",
  CONCORD_LISTEN: "listen",
  CONCORD_BOOTSTRAP: "bootstrap",
  CONCORD_MDNS: "mdns",
  CONCORD_BACKEND: "backend",
  CONCORD_HARDWARE: "hardware",
  CONCORD_MODEL_SEED: "modelSeed",
  CONCORD_DELAY_MS: "delayMs",
  CONCORD_OPENAI_URL: "openaiUrl",
  CONCORD_OPENAI_MODEL: "openaiModel",
  CONCORD_MODEL_FILE: "modelFile",
  CONCORD_THREADS: "threads",
  CONCORD_BATCH_SIZE: "batchSize",
  CONCORD_CONTEXT_SIZE: "contextSize",
  CONCORD_CONTEXT_SEQUENCES: "contextSequences",
  CONCORD_METRICS_PORT: "metricsPort",
  CONCORD_METRICS_HOST: "metricsHost",
  CONCORD_NO_METRICS: "noMetrics",
  CONCORD_LOG_LEVEL: "logLevel",
  CONCORD_MAX_CONCURRENT_JOBS: "maxConcurrentJobs",
  CONCORD_MAX_REQUESTS: "maxRequests",
  CONCORD_SIGN_BATCH_WINDOW_MS: "signBatchWindowMs",
  CONCORD_SIGN_BATCH_MAX: "signBatchMax",
  CONCORD_VOTES: "votes",
  CONCORD_BYZANTINE: "byzantine",
  CONCORD_TRACE_FILE: "traceFile",
  CONCORD_PEER_WHITELIST: "peerWhitelist",
};

const LIST_OVERRIDES = new Set<keyof NodeOverrides>(["listen", "bootstrap", "peerWhitelist"]);
const BOOLEAN_OVERRIDES = new Set<keyof NodeOverrides>(["mdns", "noMetrics"]);
const INTEGER_OVERRIDES = new Set<keyof NodeOverrides>(["delayMs", "threads", "batchSize", "contextSize", "contextSequences", "maxConcurrentJobs", "maxRequests", "signBatchWindowMs", "signBatchMax"]);

function configError(details: string): ConcordError {
  return new ConcordError("CONFIG", "invalid node configuration", { details });
}

/** Reads CONCORD_* variables into overrides; a value of the wrong form names its variable. */
export function overridesFromEnv(env: NodeJS.ProcessEnv): NodeOverrides {
  const out: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(NODE_ENV_VARS)) {
    const value = env[name];
    if (value === undefined || value === "") continue;
    if (LIST_OVERRIDES.has(key)) out[key] = value.split(",").map((s) => s.trim()).filter(Boolean);
    else if (key === "metricsPort") out[key] = parsePort(value, name);
    else if (BOOLEAN_OVERRIDES.has(key)) out[key] = parseBoolean(value, name);
    else if (INTEGER_OVERRIDES.has(key)) {
      const number = Number(value);
      if (!Number.isInteger(number)) throw configError(`${name}: not an integer: ${value}`);
      out[key] = number;
    } else out[key] = value;
  }
  return out as NodeOverrides;
}

function parseBoolean(value: string, name: string): boolean {
  const lower = value.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(lower)) return true;
  if (["0", "false", "no", "off"].includes(lower)) return false;
  throw configError(`${name}: not true or false: ${value}`);
}

export function parsePort(value: string | number, name: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw configError(`${name}: not a port number: ${value}`);
  return port;
}

/** The flag that sets a setting too, named in its errors. */
const FLAG_OF: Record<string, string> = {
  "backend.baseUrl": "--openai-url",
  "backend.modelFile": "--model-file",
  "backend.hardware": "--hardware",
  "backend.threads": "--threads",
  "backend.batchSize": "--batch-size",
  "backend.contextSize": "--context-size",
  "backend.contextSequences": "--context-sequences",
};

const REQUIRED = ["node", "keystore", "registry"] as const;

/** The settings an object at `path` may hold (for "did you mean"). */
function knownKeys(path: readonly PropertyKey[], value: unknown): string[] {
  if (path.length === 0) return Object.keys(nodeConfigSchema.shape);
  if (path.length === 1 && path[0] === "metrics") return ["host", "port"];
  if (path.length === 1 && path[0] === "backend") {
    const type = (value as { type?: unknown } | undefined)?.type;
    const schema = BACKEND_SCHEMAS.find((candidate) => candidate.shape.type.value === type);
    return schema ? Object.keys(schema.shape) : [];
  }
  return [];
}

function at(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) current = typeof current === "object" && current !== null ? (current as Record<PropertyKey, unknown>)[key] : undefined;
  return current;
}

/** One line for a schema issue: the setting's path, the flag that sets it too, what is wrong. */
function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const name = issue.path.map((key, index) => (typeof key === "number" ? `[${key}]` : `${index > 0 ? "." : ""}${String(key)}`)).join("");
  if (issue.code === "unrecognized_keys") {
    const known = knownKeys(issue.path, at(input, issue.path));
    return issue.keys
      .map((key) => {
        const setting = name === "" ? key : `${name}.${key}`;
        const guess = known.length > 0 ? closest(key, known) : undefined;
        const hint = guess !== undefined && distance(key, guess) <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean "${guess}"?)` : "";
        const scope = issue.path[0] === "backend" ? ` for the ${String((at(input, issue.path) as { type?: unknown }).type)} backend` : "";
        return `unknown setting "${setting}"${scope}${hint}`;
      })
      .join("; ");
  }
  if (issue.path.length === 1 && (REQUIRED as readonly PropertyKey[]).includes(issue.path[0] as PropertyKey) && at(input, issue.path) === undefined) {
    return `missing "${name}" (config file, --${name} or CONCORD_${name.toUpperCase()})`;
  }
  // A refinement's message carries its own separator: "<setting>: <reason>" or "<setting> is ...".
  if (issue.code === "custom") return `${name}${issue.message}`;
  const flag = FLAG_OF[name];
  return `${name}${flag ? ` (or ${flag})` : ""} ${issue.message}`;
}

/** Parses with `schema`; the first problem (unknown settings first) becomes a CONFIG error. */
function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, prefix = ""): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = [...result.error.issues].sort((a, b) => Number(b.code === "unrecognized_keys") - Number(a.code === "unrecognized_keys"));
  throw configError(`${prefix}${describeIssue(issues[0] as z.core.$ZodIssue, input)}`);
}

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
  const file: Record<string, unknown> = parseOrThrow(nodeConfigFileSchema, json, `${path}: `);
  const base = dirname(resolve(path));
  for (const key of ["keystore", "registry", "dataDir", "traceFile"] as const) {
    if (typeof file[key] === "string") file[key] = resolve(base, file[key]);
  }
  const backend = file.backend as Record<string, unknown> | undefined;
  if (backend !== undefined && typeof backend.modelFile === "string") file.backend = { ...backend, modelFile: resolve(base, backend.modelFile) };
  // Only what the file says: defaults the file schema filled in must not override the environment.
  for (const key of Object.keys(file)) if ((json as Record<string, unknown>)[key] === undefined) delete file[key];
  return file as Partial<NodeConfig>;
}

/** Merges defaults, file, environment and flags, then validates everything. */
export function resolveNodeConfig(overrides: NodeOverrides, env: NodeJS.ProcessEnv = {}): NodeConfig {
  const fromEnv = overridesFromEnv(env);
  const merged: NodeOverrides = { ...fromEnv, ...stripUndefined(overrides) };
  const configPath = merged.config;
  const file = configPath ? readConfigFile(configPath) : {};
  const raw: Record<string, unknown> = { ...DEFAULT_NODE_CONFIG, ...file };
  for (const key of ["node", "keystore", "registry", "dataDir", "listen", "bootstrap", "mdns", "peerWhitelist", "logLevel", "maxConcurrentJobs", "maxRequests", "signBatchWindowMs", "signBatchMax", "votes", "byzantine", "traceFile"] as const) {
    if (merged[key] !== undefined) raw[key] = merged[key];
  }
  if (raw.dataDir === undefined && typeof raw.node === "string" && raw.node !== "") raw.dataDir = defaultDataDir(raw.node);
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
    metrics = { host: merged.metricsHost ?? metrics?.host ?? DEFAULT_METRICS_HOST, port: merged.metricsPort ?? metrics?.port ?? DEFAULT_METRICS_PORT };
  }
  return parseOrThrow(nodeConfigSchema, { ...raw, backend, metrics });
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
