/**
 * Scenario files (docs/sim.md): what to simulate, as JSON. `parseScenario` validates a parsed
 * JSON value strictly (unknown keys are errors, so a typo never silently falls back to a default)
 * and every error is a ConcordError with code SCENARIO naming the path of the bad field, e.g.
 * `invalid scenario: classes[1].latency.sigma: must be a number >= 0`.
 *
 * Scenario numbers are plain JSON numbers (shares, temperatures and rates may be fractions): a
 * scenario is simulator input, not consensus data. Policy parameters are the exception: they go
 * into requests verbatim, so they follow the wire rules (integers, fixed point) and are checked by
 * each policy's own `parseParams`.
 */
import type { PolicyRegistry } from "../agreement/policy.ts";
import { ConcordError, isConcordError } from "../errors.ts";
import { checkThreshold, defaultThreshold } from "../quorum/committee.ts";
import { MAX_COMMITTEE, MAX_TOKENS } from "../wire/limits.ts";
import type { AttestationMode, PolicyParamValue, PolicyParams, PolicyRef } from "../wire/types.ts";
import { SIM_CORPUS, type CorpusPrompt } from "./corpus.ts";

// ---------------------------------------------------------------------------------------------
// Types.

/** A latency distribution in milliseconds. */
export type Dist =
  | { dist: "fixed"; ms: number }
  | { dist: "uniform"; minMs: number; maxMs: number }
  | { dist: "lognormal"; medianMs: number; sigma: number }
  | { dist: "exponential"; meanMs: number };

/** How one class of hardware drifts numerically (see divergence.ts for the presets and sources). */
export interface DivergenceSpec {
  preset: string;
  /** Per-run logit-gap noise (batch composition, kernel choice), std dev in micro-nats. */
  runDriftPpm: number;
  /** Systematic per-hardware logit-gap offset, std dev in micro-nats (shared by the class). */
  hardwareDriftPpm: number;
  /** Probability (ppm) that a run's final answer flips to an alternative answer. */
  answerFlipPpm: number;
  /** Probability (ppm) that a run flips the decision of a structured output (on top of answerFlipPpm). */
  jsonLabelFlipPpm: number;
}

export type RequestKind = "text" | "json";
export type SamplerKind = "seeded" | "free";
/** Free-sampled text: the corpus's free-form answers, or its template-pinned ones. */
export type TextFormat = "free" | "pinned";
/**
 * What a policy can be limited to: every text request, JSON requests, or one kind of text:
 * seeded (greedy or the spec's sampler: the fork model), free-sampled free-form or free-sampled
 * template-pinned (both drawn from the decisions corpus).
 */
export type PolicyKind = "text" | "json" | "text/seeded" | "text/free" | "text/pinned";
export const POLICY_KINDS: readonly PolicyKind[] = ["text", "json", "text/seeded", "text/free", "text/pinned"];
/** Parameters a policy takes from the request's corpus prompt: its JSON schema (structured@2) or its labels as terms (semantic@2). */
export type CorpusParams = "schema" | "terms";

export interface RequestMixEntry {
  share: number;
  kind: RequestKind;
  /** 0 = greedy. */
  temperature: number;
  tokens: { min: number; max: number };
  /** "seeded": the spec's sampler (seed from the request id); "free": each node samples on its own. */
  sampler: SamplerKind;
  /** Free-sampled text only: which corpus section the answers come from. */
  format: TextFormat;
}

/** Properties of the synthetic model shared by every node (calibrated defaults in divergence.ts). */
export interface ModelSpec {
  /** Share of greedy steps whose top-2 logit gap is a near tie. */
  nearTieRate: number;
  /** Mean near-tie gap in micro-nats (exponential). */
  nearTieMeanPpm: number;
  /** Median of the other gaps in micro-nats (log-normal) and its log-space std dev. */
  bulkMarginMedianPpm: number;
  bulkMarginSigma: number;
  /** After a fork, share of the parent's later tokens that the new branch words differently. */
  resyncEditRate: number;
  /** Tokens of the final answer (the part an answer flip replaces). */
  answerTokens: number;
  /**
   * Sampled steps (the spec's sampler): the chosen token's probability is W = min + (1 - min) *
   * r^(exponent * T), r uniform, and the margin uniform on [0, W/2]. Absent: 0.02 and 1.5.
   */
  sampledWidthMin?: number;
  sampledWidthExponent?: number;
  /**
   * Sampled steps: how far the spec sampler's CDF edges move per unit of logit drift, as a share
   * of the 1/(2T) bound (absent: 1, the bound). Measured on a real engine (calibrate.ts).
   */
  sampledDriftScale?: number;
}

export interface HonestClass {
  name: string;
  share: number;
  divergence: DivergenceSpec;
  latency: Dist;
  perTokenMs: number;
  weight: number;
}

export type AdversaryType =
  | "lazy"
  | "random"
  | "copycat"
  | "colluding"
  | "equivocator"
  | "slow"
  | "silent"
  | "margin-liar";

export const ADVERSARY_TYPES: readonly AdversaryType[] = [
  "lazy",
  "random",
  "copycat",
  "colluding",
  "equivocator",
  "slow",
  "silent",
  "margin-liar",
];

export interface AdversarySpec {
  type: AdversaryType;
  name: string;
  share: number;
  latency: Dist;
  perTokenMs: number;
  weight: number;
  /** Compute time multiplier (lazy: a cheaper model is faster; slow: much slower). */
  latencyFactor: number;
  /** lazy: share of tokens the cheap model words differently from the real one. */
  editRate: number;
  /** colluding: "blatant" (a different answer) or "subtle" (only the final answer changed). */
  wrong: "blatant" | "subtle";
  /** margin-liar: fork anywhere ("blatant") or at a genuine near tie ("near-tie"). */
  strategy: "blatant" | "near-tie";
}

export interface PolicySpec {
  id: string;
  version: number;
  params: PolicyParams;
  label: string;
  /** Request kinds this policy is run on. */
  kinds: PolicyKind[];
  /** Parameters taken from each request's corpus prompt, if any. */
  corpus: CorpusParams | undefined;
}

export type Sweep =
  | { name: string; type: "param"; policy: string; param: string; values: PolicyParamValue[] }
  | { name: string; type: "grace"; values: number[]; policies: string[] }
  | { name: string; type: "committee"; over: "n" | "k"; values: number[]; k: "default" | "majority" | "all" | number; policies: string[] };

export type RegistryWeights =
  | { kind: "equal" }
  | { kind: "uniform"; min: number; max: number }
  | { kind: "lognormal"; median: number; sigma: number };

export interface Scenario {
  name: string;
  description: string;
  seed: string;
  requests: number;
  committee: { n: number; k: number };
  modes: AttestationMode[];
  registry: { size: number; weights: RegistryWeights };
  timing: { network: Dist; graceMs: number; deadlineMs: number };
  model: ModelSpec;
  requestMix: RequestMixEntry[];
  classes: HonestClass[];
  adversaries: AdversarySpec[];
  policies: PolicySpec[];
  sweeps: Sweep[];
  checks: { collectorSignatures: boolean; verifyEvery: number };
}

/** Defaults for the synthetic model (calibration in divergence.ts and docs/sim.md). */
export const DEFAULT_MODEL: ModelSpec = {
  nearTieRate: 0.009,
  nearTieMeanPpm: 5_000,
  bulkMarginMedianPpm: 1_500_000,
  bulkMarginSigma: 0.9,
  resyncEditRate: 0.05,
  answerTokens: 8,
};

/**
 * Named fork models. `llama-cpu`: the project's trained model on llama.cpp (CPU), derived from
 * bench/results/divergence-engine.json by `engineProfile` in calibrate.ts (a test checks that
 * these numbers are what it derives): greedy gaps log-normal through the measured median and
 * 1st percentile, sampled margins fitted to the measured median and 1st percentile at T = 0.7,
 * and the sampler's drift scale fitted to the flips measured at T = 0.7.
 */
export const MODEL_PRESETS: Readonly<Record<string, ModelSpec>> = {
  default: DEFAULT_MODEL,
  "llama-cpu": {
    nearTieRate: 0,
    nearTieMeanPpm: 5_000,
    bulkMarginMedianPpm: 517_111,
    bulkMarginSigma: 1.8146,
    resyncEditRate: 0.05,
    answerTokens: 8,
    sampledWidthMin: 0.002992,
    sampledWidthExponent: 3.668,
    sampledDriftScale: 0.06422,
  },
};

/** Named divergence presets; each cited in docs/sim.md. */
export const DIVERGENCE_PRESETS: Readonly<Record<string, Omit<DivergenceSpec, "preset">>> = {
  // Batch-invariant kernels: 1,000 of 1,000 runs matched (Thinking Machines, 2025).
  "batch-invariant": { runDriftPpm: 0, hardwareDriftPpm: 0, answerFlipPpm: 0, jsonLabelFlipPpm: 0 },
  // A default inference server: batch-dependent kernels (calibrated to Thinking Machines, 2025).
  "vllm-default": { runDriftPpm: 6_000, hardwareDriftPpm: 0, answerFlipPpm: 0, jsonLabelFlipPpm: 0 },
  // Another GPU generation: the same per-run drift plus a systematic offset of its own.
  "mixed-hardware": { runDriftPpm: 6_000, hardwareDriftPpm: 6_000, answerFlipPpm: 0, jsonLabelFlipPpm: 2_000 },
  // A hosted API at "deterministic" settings: answers flip between runs (Atil et al., 2024).
  "hosted-api": { runDriftPpm: 9_000, hardwareDriftPpm: 0, answerFlipPpm: 50_000, jsonLabelFlipPpm: 20_000 },
  // llama.cpp on CPU, the trained model (bench/results/divergence-engine.json; `engineProfile` in
  // calibrate.ts derives these, a test holds them to it). The stock path is the reference; each
  // other path's systematic drift against it, from its greedy top-1/top-2 gap drift; the per-run
  // part from two jobs sharing forward passes (timing-dependent). Use with model "llama-cpu".
  "llama-cpu": { runDriftPpm: 0, hardwareDriftPpm: 0, answerFlipPpm: 0, jsonLabelFlipPpm: 0 },
  "llama-cpu-batch4": { runDriftPpm: 0, hardwareDriftPpm: 0, answerFlipPpm: 0, jsonLabelFlipPpm: 0 },
  "llama-cpu-reversed": { runDriftPpm: 0, hardwareDriftPpm: 132, answerFlipPpm: 0, jsonLabelFlipPpm: 0 },
  "llama-cpu-f32kv": { runDriftPpm: 0, hardwareDriftPpm: 1_275, answerFlipPpm: 0, jsonLabelFlipPpm: 0 },
  "llama-cpu-flash": { runDriftPpm: 0, hardwareDriftPpm: 962, answerFlipPpm: 0, jsonLabelFlipPpm: 0 },
};

// ---------------------------------------------------------------------------------------------
// Reading helpers: each names the path of what it reads.

type Json = unknown;
type JsonObject = { readonly [key: string]: Json };

export function scenarioError(path: string, problem: string, cause?: unknown): ConcordError {
  return new ConcordError("SCENARIO", "invalid scenario", { details: `${path || "(top level)"}: ${problem}`, cause });
}

function isObject(value: Json): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function at(path: string, key: string | number): string {
  return typeof key === "number" ? `${path}[${key}]` : path ? `${path}.${key}` : key;
}

function object(value: Json, path: string, required: readonly string[], optional: readonly string[] = []): JsonObject {
  if (!isObject(value)) throw scenarioError(path, "must be an object");
  for (const key of Object.keys(value)) {
    if (!required.includes(key) && !optional.includes(key)) {
      throw scenarioError(at(path, key), `unknown key (allowed: ${[...required, ...optional].join(", ")})`);
    }
  }
  for (const key of required) if (value[key] === undefined) throw scenarioError(at(path, key), "is required");
  return value;
}

interface NumberRule {
  min?: number;
  max?: number;
  /** The value must be above min, not equal to it. */
  above?: number;
  integer?: boolean;
}

function number(value: Json, path: string, rule: NumberRule = {}): number {
  const kind = rule.integer ? "an integer" : "a number";
  const bounds = [
    rule.min !== undefined ? `>= ${rule.min}` : "",
    rule.above !== undefined ? `> ${rule.above}` : "",
    rule.max !== undefined ? `<= ${rule.max}` : "",
  ].filter(Boolean).join(" and ");
  const expected = `must be ${kind}${bounds ? ` ${bounds}` : ""}`;
  if (typeof value !== "number" || !Number.isFinite(value)) throw scenarioError(path, expected);
  if (rule.integer && !Number.isSafeInteger(value)) throw scenarioError(path, expected);
  if (rule.min !== undefined && value < rule.min) throw scenarioError(path, expected);
  if (rule.above !== undefined && value <= rule.above) throw scenarioError(path, expected);
  if (rule.max !== undefined && value > rule.max) throw scenarioError(path, expected);
  return value;
}

function optionalNumber(value: Json, path: string, fallback: number, rule: NumberRule = {}): number {
  return value === undefined ? fallback : number(value, path, rule);
}

function text(value: Json, path: string, pattern?: RegExp): string {
  if (typeof value !== "string" || value.length === 0) throw scenarioError(path, "must be a non-empty string");
  if (pattern && !pattern.test(value)) throw scenarioError(path, `must match ${pattern.source}`);
  return value;
}

function boolean(value: Json, path: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw scenarioError(path, "must be true or false");
  return value;
}

function oneOf<T extends string>(value: Json, path: string, choices: readonly T[], fallback?: T): T {
  if (value === undefined && fallback !== undefined) return fallback;
  const found = choices.find((choice) => choice === value);
  if (found === undefined) throw scenarioError(path, `must be one of ${choices.map((c) => JSON.stringify(c)).join(", ")}`);
  return found;
}

function list(value: Json, path: string, minLength = 1): readonly Json[] {
  if (!Array.isArray(value)) throw scenarioError(path, "must be a list");
  if (value.length < minLength) throw scenarioError(path, `must hold at least ${minLength} item${minLength === 1 ? "" : "s"}`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Sections.

export function parseDist(value: Json, path: string): Dist {
  const kind = oneOf(isObject(value) ? value.dist : undefined, at(path, "dist"), ["fixed", "uniform", "lognormal", "exponential"] as const);
  switch (kind) {
    case "fixed": {
      const o = object(value, path, ["dist", "ms"]);
      return { dist: "fixed", ms: number(o.ms, at(path, "ms"), { min: 0 }) };
    }
    case "uniform": {
      const o = object(value, path, ["dist", "minMs", "maxMs"]);
      const minMs = number(o.minMs, at(path, "minMs"), { min: 0 });
      const maxMs = number(o.maxMs, at(path, "maxMs"), { min: minMs });
      return { dist: "uniform", minMs, maxMs };
    }
    case "lognormal": {
      const o = object(value, path, ["dist", "medianMs", "sigma"]);
      return { dist: "lognormal", medianMs: number(o.medianMs, at(path, "medianMs"), { min: 0 }), sigma: number(o.sigma, at(path, "sigma"), { min: 0, max: 5 }) };
    }
    case "exponential": {
      const o = object(value, path, ["dist", "meanMs"]);
      return { dist: "exponential", meanMs: number(o.meanMs, at(path, "meanMs"), { min: 0 }) };
    }
  }
}

const PPM = { min: 0, max: 1_000_000, integer: true };
const DRIFT = { min: 0, max: 100_000_000, integer: true };

function parseDivergence(value: Json, path: string): DivergenceSpec {
  const presetNames = Object.keys(DIVERGENCE_PRESETS);
  if (typeof value === "string") {
    const preset = oneOf(value, path, presetNames);
    return { preset, ...(DIVERGENCE_PRESETS[preset] as Omit<DivergenceSpec, "preset">) };
  }
  const o = object(value, path, [], ["preset", "runDriftPpm", "hardwareDriftPpm", "answerFlipPpm", "jsonLabelFlipPpm"]);
  const preset = o.preset === undefined ? "custom" : oneOf(o.preset, at(path, "preset"), presetNames);
  const base = DIVERGENCE_PRESETS[preset] ?? (DIVERGENCE_PRESETS["vllm-default"] as Omit<DivergenceSpec, "preset">);
  return {
    preset,
    runDriftPpm: optionalNumber(o.runDriftPpm, at(path, "runDriftPpm"), base.runDriftPpm, DRIFT),
    hardwareDriftPpm: optionalNumber(o.hardwareDriftPpm, at(path, "hardwareDriftPpm"), base.hardwareDriftPpm, DRIFT),
    answerFlipPpm: optionalNumber(o.answerFlipPpm, at(path, "answerFlipPpm"), base.answerFlipPpm, PPM),
    jsonLabelFlipPpm: optionalNumber(o.jsonLabelFlipPpm, at(path, "jsonLabelFlipPpm"), base.jsonLabelFlipPpm, PPM),
  };
}

const SAMPLED_MODEL_KEYS = ["sampledWidthMin", "sampledWidthExponent", "sampledDriftScale"] as const;

/** `"llama-cpu"`, or `{preset?, ...constants}`: a preset (default `"default"`) with overrides. */
function parseModel(value: Json, path: string): ModelSpec {
  if (value === undefined) return { ...DEFAULT_MODEL };
  const presetNames = Object.keys(MODEL_PRESETS);
  if (typeof value === "string") return { ...(MODEL_PRESETS[oneOf(value, path, presetNames)] as ModelSpec) };
  const keys = [...Object.keys(DEFAULT_MODEL), ...SAMPLED_MODEL_KEYS];
  const o = object(value, path, [], ["preset", ...keys]);
  const d = MODEL_PRESETS[oneOf(o.preset, at(path, "preset"), presetNames, "default")] as ModelSpec;
  const model: ModelSpec = {
    nearTieRate: optionalNumber(o.nearTieRate, at(path, "nearTieRate"), d.nearTieRate, { min: 0, max: 1 }),
    nearTieMeanPpm: optionalNumber(o.nearTieMeanPpm, at(path, "nearTieMeanPpm"), d.nearTieMeanPpm, { above: 0, max: 1e9 }),
    bulkMarginMedianPpm: optionalNumber(o.bulkMarginMedianPpm, at(path, "bulkMarginMedianPpm"), d.bulkMarginMedianPpm, { above: 0, max: 4e9 }),
    bulkMarginSigma: optionalNumber(o.bulkMarginSigma, at(path, "bulkMarginSigma"), d.bulkMarginSigma, { min: 0, max: 5 }),
    resyncEditRate: optionalNumber(o.resyncEditRate, at(path, "resyncEditRate"), d.resyncEditRate, { min: 0, max: 1 }),
    answerTokens: optionalNumber(o.answerTokens, at(path, "answerTokens"), d.answerTokens, { min: 1, max: 256, integer: true }),
  };
  // The sampled-margin constants appear only where a preset or the scenario sets them, so a
  // scenario without them validates (and reports) exactly as before they existed.
  const rules = { sampledWidthMin: { above: 0, max: 1 }, sampledWidthExponent: { above: 0, max: 100 }, sampledDriftScale: { above: 0, max: 1 } };
  for (const key of SAMPLED_MODEL_KEYS) {
    const fallback = d[key];
    const given = o[key] === undefined ? fallback : number(o[key], at(path, key), rules[key]);
    if (given !== undefined) model[key] = given;
  }
  return model;
}

function parseMixEntry(value: Json, path: string): RequestMixEntry {
  const o = object(value, path, ["kind"], ["share", "temperature", "tokens", "sampler", "format"]);
  const kind = oneOf(o.kind, at(path, "kind"), ["text", "json"] as const);
  const temperature = optionalNumber(o.temperature, at(path, "temperature"), 0, { min: 0, max: 100 });
  const sampler = oneOf(o.sampler, at(path, "sampler"), ["seeded", "free"] as const, "seeded");
  if (sampler === "free" && temperature === 0) throw scenarioError(at(path, "sampler"), "\"free\" sampling needs a temperature above 0");
  // Seeded text follows the fork model (its length is drawn); free-sampled text and JSON are
  // answers from the decisions corpus, with the corpus's own lengths and formats.
  const fromCorpus = kind === "json" || sampler === "free";
  if (fromCorpus && o.tokens !== undefined) {
    throw scenarioError(at(path, "tokens"), "only seeded text has a drawn length: free-sampled text and JSON are corpus answers with their own lengths");
  }
  if (o.format !== undefined && (kind !== "text" || sampler !== "free")) {
    throw scenarioError(at(path, "format"), "only free-sampled text has a format (corpus section \"free\" or \"pinned\")");
  }
  const format = oneOf(o.format, at(path, "format"), ["free", "pinned"] as const, "free");
  let tokens = { min: 64, max: 256 };
  if (o.tokens !== undefined) {
    const t = object(o.tokens, at(path, "tokens"), ["min", "max"]);
    const min = number(t.min, at(at(path, "tokens"), "min"), { min: 16, max: MAX_TOKENS, integer: true });
    const max = number(t.max, at(at(path, "tokens"), "max"), { min, max: MAX_TOKENS, integer: true });
    tokens = { min, max };
  }
  return { share: optionalNumber(o.share, at(path, "share"), 1, { above: 0 }), kind, temperature, tokens, sampler, format };
}

const NAME = /^[A-Za-z0-9._-]+$/;

function parseClass(value: Json, path: string): HonestClass {
  const o = object(value, path, ["name"], ["share", "divergence", "latency", "perTokenMs", "weight"]);
  return {
    name: text(o.name, at(path, "name"), NAME),
    share: optionalNumber(o.share, at(path, "share"), 1, { above: 0 }),
    divergence: parseDivergence(o.divergence ?? "vllm-default", at(path, "divergence")),
    latency: o.latency === undefined ? { dist: "lognormal", medianMs: 200, sigma: 0.25 } : parseDist(o.latency, at(path, "latency")),
    perTokenMs: optionalNumber(o.perTokenMs, at(path, "perTokenMs"), 12, { min: 0 }),
    weight: optionalNumber(o.weight, at(path, "weight"), 1, { min: 1, max: 1_000_000, integer: true }),
  };
}

const ADVERSARY_DEFAULT_FACTOR: Record<AdversaryType, number> = {
  lazy: 0.3,
  random: 0.2,
  copycat: 1,
  colluding: 1,
  equivocator: 1,
  slow: 20,
  silent: 1,
  "margin-liar": 1,
};

function parseAdversary(value: Json, path: string, template: HonestClass | undefined): AdversarySpec {
  const type = oneOf(isObject(value) ? value.type : undefined, at(path, "type"), ADVERSARY_TYPES);
  const extra: Record<AdversaryType, string[]> = {
    lazy: ["latencyFactor", "editRate"],
    random: ["latencyFactor"],
    copycat: [],
    colluding: ["wrong", "latencyFactor"],
    equivocator: [],
    slow: ["latencyFactor"],
    silent: [],
    "margin-liar": ["strategy", "latencyFactor"],
  };
  const o = object(value, path, ["type", "share"], ["name", "latency", "perTokenMs", "weight", ...extra[type]]);
  return {
    type,
    name: o.name === undefined ? type : text(o.name, at(path, "name"), NAME),
    share: number(o.share, at(path, "share"), { above: 0, max: 1 }),
    latency: o.latency === undefined ? (template?.latency ?? { dist: "lognormal", medianMs: 200, sigma: 0.25 }) : parseDist(o.latency, at(path, "latency")),
    perTokenMs: optionalNumber(o.perTokenMs, at(path, "perTokenMs"), template?.perTokenMs ?? 12, { min: 0 }),
    weight: optionalNumber(o.weight, at(path, "weight"), 1, { min: 1, max: 1_000_000, integer: true }),
    latencyFactor: optionalNumber(o.latencyFactor, at(path, "latencyFactor"), ADVERSARY_DEFAULT_FACTOR[type], { above: 0, max: 10_000 }),
    editRate: optionalNumber(o.editRate, at(path, "editRate"), 0.3, { min: 0, max: 1 }),
    wrong: oneOf(o.wrong, at(path, "wrong"), ["blatant", "subtle"] as const, "blatant"),
    strategy: oneOf(o.strategy, at(path, "strategy"), ["blatant", "near-tie"] as const, "near-tie"),
  };
}

/** A short, stable label for a policy and its parameters, e.g. `semantic thetaPpm=900000`. */
export function policyLabel(id: string, version: number, params: PolicyParams): string {
  const flat: string[] = [];
  const walk = (value: PolicyParamValue, prefix: string): void => {
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      for (const key of Object.keys(value).sort()) walk(value[key] as PolicyParamValue, prefix ? `${prefix}.${key}` : key);
    } else {
      flat.push(`${prefix}=${Array.isArray(value) ? JSON.stringify(value) : String(value)}`);
    }
  };
  for (const key of Object.keys(params).sort()) walk(params[key] as PolicyParamValue, key);
  const name = version === 1 ? id : `${id}@${version}`;
  return flat.length > 0 && flat.join(" ").length <= 48 ? `${name} ${flat.join(" ")}` : name;
}

function toParamValue(value: Json, path: string): PolicyParamValue {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw scenarioError(path, "policy parameters are integers (fixed point, e.g. thetaPpm), never fractions");
    return value;
  }
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (Array.isArray(value)) return value.map((item, i) => toParamValue(item, at(path, i)));
  if (isObject(value)) {
    const out: PolicyParams = {};
    for (const key of Object.keys(value)) out[key] = toParamValue(value[key], at(path, key));
    return out;
  }
  throw scenarioError(path, "must be an integer, string, boolean, list or object");
}

/**
 * The parameters a request carries for a policy that takes some from the corpus: `schema` puts the
 * prompt's structured@2 output schema under the scenario's parameters (which may override its
 * top-level keys, e.g. additionalProperties); `terms` sets semantic@2's terms to the prompt's
 * labels (where it has any).
 */
export function corpusPolicyParams(params: PolicyParams, corpus: CorpusParams | undefined, prompt: CorpusPrompt): PolicyParams {
  if (corpus === "schema") return { ...(prompt.json.schema ?? {}), ...params };
  if (corpus === "terms" && prompt.labels && prompt.labels.length > 0) return { ...params, terms: [...prompt.labels] };
  return params;
}

/** Checks a policy against the registry with the parameters every corpus prompt would give it. */
function checkCorpusPolicy(policies: PolicyRegistry, ref: PolicyRef, corpus: CorpusParams | undefined, path: string): void {
  if (corpus === undefined) return checkPolicy(policies, ref, path);
  const seen = new Set<string>();
  for (const prompt of SIM_CORPUS) {
    const params = corpusPolicyParams(ref.params, corpus, prompt);
    const key = JSON.stringify(params);
    if (seen.has(key)) continue;
    seen.add(key);
    checkPolicy(policies, { ...ref, params }, path);
  }
}

/** Checks a policy reference against the registry, reporting problems at `path`. */
function checkPolicy(policies: PolicyRegistry, ref: PolicyRef, path: string): void {
  let policy;
  try {
    policy = policies.get(ref.id, ref.version);
  } catch (cause) {
    const known = policies.list().filter((p) => !p.baselineOnly).map((p) => `${p.id}@${p.version}`).join(", ");
    throw scenarioError(at(path, "id"), `unknown agreement policy "${ref.id}@${ref.version}" (registered: ${known})`, cause);
  }
  if (policy.baselineOnly) {
    throw scenarioError(at(path, "id"), `${ref.id} is the baseline: every run already reports it against the same draws, so list only the policies to compare`);
  }
  try {
    policy.parseParams(ref.params);
  } catch (cause) {
    if (isConcordError(cause)) throw scenarioError(at(path, "params"), cause.message, cause);
    throw cause;
  }
}

function parsePolicy(value: Json, path: string, policies: PolicyRegistry): PolicySpec {
  const o = object(value, path, ["id"], ["version", "params", "label", "kinds", "corpus"]);
  const id = text(o.id, at(path, "id"));
  const version = optionalNumber(o.version, at(path, "version"), 1, { min: 0, max: 0xffff, integer: true });
  const params = o.params === undefined ? {} : toParamValue(o.params, at(path, "params"));
  if (typeof params !== "object" || Array.isArray(params)) throw scenarioError(at(path, "params"), "must be an object");
  const corpus = o.corpus === undefined ? undefined : oneOf(o.corpus, at(path, "corpus"), ["schema", "terms"] as const);
  checkCorpusPolicy(policies, { id, version, params }, corpus, path);
  let kinds: PolicyKind[];
  if (o.kinds === undefined) kinds = corpus === "schema" ? ["json"] : ["text", "json"];
  else kinds = list(o.kinds, at(path, "kinds")).map((k, i) => oneOf(k, at(at(path, "kinds"), i), POLICY_KINDS));
  if (corpus === "schema" && kinds.some((kind) => kind !== "json")) throw scenarioError(at(path, "kinds"), "a policy whose schema comes from the corpus runs on JSON requests only");
  const label = o.label === undefined ? `${policyLabel(id, version, params)}${corpus ? ` ${corpus}=corpus` : ""}` : text(o.label, at(path, "label"));
  return { id, version, params, label, kinds, corpus };
}

/** Sets `path` (dotted) in a copy of `params`. */
export function withParam(params: PolicyParams, path: string, value: PolicyParamValue): PolicyParams {
  const [head, ...rest] = path.split(".");
  const key = head as string;
  if (rest.length === 0) return { ...params, [key]: value };
  const inner = params[key];
  const child: PolicyParams = typeof inner === "object" && inner !== null && !Array.isArray(inner) ? inner : {};
  return { ...params, [key]: withParam(child, rest.join("."), value) };
}

function findPolicy(specs: readonly PolicySpec[], name: string, path: string): PolicySpec {
  const found = specs.find((p) => p.label === name) ?? specs.find((p) => p.id === name);
  if (!found) throw scenarioError(path, `names no policy of this scenario (labels: ${specs.map((p) => JSON.stringify(p.label)).join(", ")})`);
  return found;
}

/** The threshold a committee sweep over n uses for each n. */
export function thresholdFor(n: number, rule: "default" | "majority" | "all" | number): number {
  if (rule === "default") return defaultThreshold(n);
  if (rule === "majority") return Math.floor(n / 2) + 1;
  if (rule === "all") return n;
  return rule;
}

function checkCommittee(n: number, k: number, registrySize: number, path: string): void {
  try {
    checkThreshold(n, k);
  } catch (cause) {
    throw scenarioError(path, `n=${n}, k=${k}: ${(cause as Error).message}`, cause);
  }
  if (n > registrySize) throw scenarioError(path, `n=${n} exceeds registry.size=${registrySize}`);
}

function sweepPolicies(value: Json, path: string, specs: readonly PolicySpec[]): string[] {
  if (value === undefined) return specs.map((p) => p.label);
  return list(value, path).map((p, i) => findPolicy(specs, text(p, at(path, i)), at(path, i)).label);
}

function parseSweep(value: Json, path: string, policies: PolicyRegistry, specs: readonly PolicySpec[], scenario: { n: number; k: number; size: number }): Sweep {
  if (isObject(value) && value.timing !== undefined) {
    const o = object(value, path, ["timing", "values"], ["name", "policies"]);
    oneOf(o.timing, at(path, "timing"), ["graceMs"] as const);
    const values = list(o.values, at(path, "values")).map((v, i) => number(v, at(at(path, "values"), i), { min: 0, max: 3_600_000 }));
    return { name: o.name === undefined ? "graceMs" : text(o.name, at(path, "name")), type: "grace", values, policies: sweepPolicies(o.policies, at(path, "policies"), specs) };
  }
  if (isObject(value) && value.committee !== undefined) {
    const o = object(value, path, ["committee", "values"], ["name", "k", "policies"]);
    const over = oneOf(o.committee, at(path, "committee"), ["n", "k"] as const);
    const values = list(o.values, at(path, "values")).map((v, i) => number(v, at(at(path, "values"), i), { min: 1, max: MAX_COMMITTEE, integer: true }));
    let k: "default" | "majority" | "all" | number = "default";
    if (o.k !== undefined) {
      if (over === "k") throw scenarioError(at(path, "k"), "only a sweep over n takes a threshold rule");
      k = typeof o.k === "number" ? number(o.k, at(path, "k"), { min: 1, max: MAX_COMMITTEE, integer: true }) : oneOf(o.k, at(path, "k"), ["default", "majority", "all"] as const);
    }
    values.forEach((v, i) => {
      const n = over === "n" ? v : scenario.n;
      checkCommittee(n, over === "k" ? v : thresholdFor(n, k), scenario.size, at(at(path, "values"), i));
    });
    const names = sweepPolicies(o.policies, at(path, "policies"), specs);
    return { name: o.name === undefined ? over : text(o.name, at(path, "name")), type: "committee", over, values, k, policies: names };
  }
  const o = object(value, path, ["policy", "param", "values"], ["name"]);
  const spec = findPolicy(specs, text(o.policy, at(path, "policy")), at(path, "policy"));
  const param = text(o.param, at(path, "param"), /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/);
  const values = list(o.values, at(path, "values")).map((v, i) => {
    const where = at(at(path, "values"), i);
    const parsed = toParamValue(v, where);
    checkCorpusPolicy(policies, { id: spec.id, version: spec.version, params: withParam(spec.params, param, parsed) }, spec.corpus, where);
    return parsed;
  });
  return { name: o.name === undefined ? param : text(o.name, at(path, "name")), type: "param", policy: spec.label, param, values };
}

function parseWeights(value: Json, path: string): RegistryWeights {
  if (value === undefined || value === "equal") return { kind: "equal" };
  const o = object(value, path, [], ["uniform", "lognormal"]);
  if (o.uniform !== undefined) {
    const u = object(o.uniform, at(path, "uniform"), ["min", "max"]);
    const min = number(u.min, at(at(path, "uniform"), "min"), { min: 1, integer: true, max: 1_000_000 });
    return { kind: "uniform", min, max: number(u.max, at(at(path, "uniform"), "max"), { min, integer: true, max: 1_000_000 }) };
  }
  if (o.lognormal !== undefined) {
    const l = object(o.lognormal, at(path, "lognormal"), ["median", "sigma"]);
    return { kind: "lognormal", median: number(l.median, at(at(path, "lognormal"), "median"), { min: 1, max: 1_000_000 }), sigma: number(l.sigma, at(at(path, "lognormal"), "sigma"), { min: 0, max: 5 }) };
  }
  throw scenarioError(path, "must be \"equal\", {\"uniform\": {min, max}} or {\"lognormal\": {median, sigma}}");
}

/**
 * Validates a scenario (already parsed from JSON) against the policies this process knows.
 *
 * @example parseScenario(JSON.parse(readFileSync("examples/scenarios/honest-t0.json", "utf8")), createDefaultPolicyRegistry())
 */
export function parseScenario(value: Json, policies: PolicyRegistry): Scenario {
  const o = object(value, "", ["name", "requests", "committee", "classes", "policies"], [
    "$schema",
    "description",
    "seed",
    "modes",
    "registry",
    "timing",
    "model",
    "requestMix",
    "adversaries",
    "sweeps",
    "checks",
  ]);
  const name = text(o.name, "name", NAME);
  const seed = o.seed === undefined ? "0" : typeof o.seed === "number" ? String(number(o.seed, "seed", { min: 0, integer: true })) : text(o.seed, "seed");
  const requests = number(o.requests, "requests", { min: 1, max: 10_000_000, integer: true });

  const reg = o.registry === undefined ? {} : object(o.registry, "registry", [], ["size", "weights"]);
  const size = optionalNumber(reg.size, "registry.size", 64, { min: 1, max: 100_000, integer: true });
  const weights = parseWeights(reg.weights, "registry.weights");

  const c = object(o.committee, "committee", ["n"], ["k"]);
  const n = number(c.n, "committee.n", { min: 1, max: MAX_COMMITTEE, integer: true });
  const k = optionalNumber(c.k, "committee.k", defaultThreshold(n), { min: 1, max: MAX_COMMITTEE, integer: true });
  checkCommittee(n, k, size, "committee");

  const modes = o.modes === undefined ? (["commit-reveal"] as AttestationMode[]) : list(o.modes, "modes").map((m, i) => oneOf(m, at("modes", i), ["commit-reveal", "direct"] as const));
  if (new Set(modes).size !== modes.length) throw scenarioError("modes", "lists a mode twice");

  const t = o.timing === undefined ? {} : object(o.timing, "timing", [], ["network", "graceMs", "deadlineMs"]);
  const timing = {
    network: t.network === undefined ? ({ dist: "lognormal", medianMs: 40, sigma: 0.4 } as Dist) : parseDist(t.network, "timing.network"),
    graceMs: optionalNumber(t.graceMs, "timing.graceMs", 50, { min: 0, max: 3_600_000 }),
    deadlineMs: optionalNumber(t.deadlineMs, "timing.deadlineMs", 30_000, { min: 1, max: 2 ** 40, integer: true }),
  };

  const requestMix = o.requestMix === undefined
    ? [{ share: 1, kind: "text", temperature: 0, tokens: { min: 64, max: 256 }, sampler: "seeded", format: "free" } as RequestMixEntry]
    : list(o.requestMix, "requestMix").map((entry, i) => parseMixEntry(entry, at("requestMix", i)));

  const classes = list(o.classes, "classes").map((entry, i) => parseClass(entry, at("classes", i)));
  const classNames = new Set<string>();
  const adversaries = o.adversaries === undefined ? [] : list(o.adversaries, "adversaries", 0).map((entry, i) => parseAdversary(entry, at("adversaries", i), classes[0]));
  [...classes, ...adversaries].forEach((entry, i) => {
    const where = i < classes.length ? at(at("classes", i), "name") : at(at("adversaries", i - classes.length), "name");
    if (classNames.has(entry.name)) throw scenarioError(where, `"${entry.name}" names two classes`);
    classNames.add(entry.name);
  });
  const adversaryShare = adversaries.reduce((sum, a) => sum + a.share, 0);
  if (adversaryShare >= 1) throw scenarioError("adversaries", `shares add up to ${adversaryShare}: honest classes need some of the fleet`);

  const specs = list(o.policies, "policies").map((entry, i) => parsePolicy(entry, at("policies", i), policies));
  specs.forEach((spec, i) => {
    if (specs.findIndex((other) => other.label === spec.label) !== i) throw scenarioError(at(at("policies", i), "label"), `"${spec.label}" labels two policies`);
  });
  const sweeps = o.sweeps === undefined ? [] : list(o.sweeps, "sweeps", 0).map((entry, i) => parseSweep(entry, at("sweeps", i), policies, specs, { n, k, size }));

  const ch = o.checks === undefined ? {} : object(o.checks, "checks", [], ["collectorSignatures", "verifyBundles"]);
  let verifyEvery = 1;
  if (ch.verifyBundles === "none") verifyEvery = 0;
  else if (ch.verifyBundles !== undefined && ch.verifyBundles !== "all") {
    const v = object(ch.verifyBundles, "checks.verifyBundles", ["every"]);
    verifyEvery = number(v.every, "checks.verifyBundles.every", { min: 1, integer: true });
  }

  return {
    name,
    description: o.description === undefined ? "" : text(o.description, "description"),
    seed,
    requests,
    committee: { n, k },
    modes,
    registry: { size, weights },
    timing,
    model: parseModel(o.model, "model"),
    requestMix,
    classes,
    adversaries,
    policies: specs,
    sweeps,
    checks: { collectorSignatures: boolean(ch.collectorSignatures, "checks.collectorSignatures", false), verifyEvery },
  };
}

/** Parses scenario text (JSON), reporting a syntax error as a SCENARIO error too. */
export function parseScenarioText(textValue: string, policies: PolicyRegistry): Scenario {
  let json: unknown;
  try {
    json = JSON.parse(textValue);
  } catch (cause) {
    throw scenarioError("", `not valid JSON (${(cause as Error).message})`, cause);
  }
  return parseScenario(json, policies);
}
