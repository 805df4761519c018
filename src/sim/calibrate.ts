/**
 * Calibration of the divergence models against the published figures (docs/sim.md shows the
 * numbers this prints). Run: `npx node src/sim/calibrate.ts`.
 *
 *  - Thinking Machines (2025): 1,000 greedy runs of one 1,000-token prompt: 80 distinct
 *    completions, the most common 78 times, first divergence at token 103.
 *  - Token-DiFR (2025): with a shared seed, over 98% of tokens match (per step, given the prefix).
 *  - The real engine (`npx node src/sim/calibrate.ts engine`): `engineProfile` derives the
 *    `llama-cpu` model and presets from bench/results/divergence-engine.json (llama.cpp on CPU,
 *    the project's trained model) and `engineTable` replays that bench on the fork model.
 *
 * Free-sampled text and JSON are not a model to calibrate: the simulator draws them from the
 * decisions corpus. `corpusSimilarity` prints the similarity distributions it therefore has (what
 * the old paraphrase model got wrong: it made honest pairs ~94% alike).
 */
import { readFileSync } from "node:fs";
import { distance } from "fastest-levenshtein";
import { MINIMAL_EDIT_KINDS, SIM_CORPUS, type SectionName } from "./corpus.ts";
import { createTextModel, forkWalk, hardwareNoise, honestForkRun, sampledWidth, samplingScale, type TextRequestModel } from "./divergence.ts";
import { Rng, deriveKey, rootKey } from "./prng.ts";
import { DEFAULT_MODEL, DIVERGENCE_PRESETS, MODEL_PRESETS, type DivergenceSpec, type ModelSpec } from "./scenario.ts";

export interface GreedyCalibration {
  prompts: number;
  runs: number;
  tokens: number;
  /** Medians over prompts. */
  distinctCompletions: number;
  mostCommonCount: number;
  firstDivergenceStep: number;
}

export interface SampledCalibration {
  prompts: number;
  runs: number;
  tokens: number;
  temperature: number;
  /** Share of steps at which a run keeps the reference's token given the same prefix. */
  stepMatchRate: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] as number;
}

function divergence(preset: string): DivergenceSpec {
  return { preset, ...(DIVERGENCE_PRESETS[preset] as Omit<DivergenceSpec, "preset">) };
}

/** Greedy runs of `prompts` prompts, `runs` runs each (the Thinking Machines experiment). */
export function calibrateGreedy(options: { prompts?: number; runs?: number; tokens?: number; preset?: string; model?: ModelSpec; seed?: string } = {}): GreedyCalibration {
  const { prompts = 25, runs = 1000, tokens = 1000, preset = "vllm-default", model = DEFAULT_MODEL, seed = "calibration" } = options;
  const spec = divergence(preset);
  const root = rootKey(seed);
  const distinct: number[] = [];
  const common: number[] = [];
  const first: number[] = [];
  for (let p = 0; p < prompts; p++) {
    const world = createTextModel(deriveKey(root, p), tokens, 0, false, model, spec.runDriftPpm + spec.hardwareDriftPpm, false);
    const counts = new Map<string, number>();
    const outputs: number[][] = [];
    for (let r = 0; r < runs; r++) {
      const out = honestForkRun(world, { run: new Rng(deriveKey(root, p, r, 1)), divergence: spec, hardwareKey: deriveKey(root, p, 2) });
      counts.set(out.output, (counts.get(out.output) ?? 0) + 1);
      outputs.push(out.evidence.tokens);
    }
    distinct.push(counts.size);
    common.push(Math.max(...counts.values()));
    let earliest = tokens;
    const reference = outputs[0] as number[];
    for (const tokensOut of outputs) {
      let i = 0;
      while (i < earliest && tokensOut[i] === reference[i]) i++;
      if (i < earliest) earliest = i;
    }
    first.push(earliest + 1);
  }
  return { prompts, runs, tokens, distinctCompletions: median(distinct), mostCommonCount: median(common), firstDivergenceStep: median(first) };
}

/** Per-step agreement with a shared seed (the Token-DiFR measurement). */
export function calibrateSampled(options: { prompts?: number; runs?: number; tokens?: number; temperature?: number; preset?: string; model?: ModelSpec; seed?: string } = {}): SampledCalibration {
  const { prompts = 25, runs = 200, tokens = 500, temperature = 0.7, preset = "vllm-default", model = DEFAULT_MODEL, seed = "calibration" } = options;
  const spec = divergence(preset);
  const root = rootKey(seed);
  let steps = 0;
  let forks = 0;
  for (let p = 0; p < prompts; p++) {
    const world: TextRequestModel = createTextModel(deriveKey(root, p), tokens, temperature, true, model, spec.runDriftPpm + spec.hardwareDriftPpm, false);
    // Given the reference prefix, a run keeps the reference token at step t unless its
    // perceived margin there falls below zero: count that over every step of every run.
    for (let r = 0; r < runs; r++) {
      const rng = new Rng(deriveKey(root, p, r, 3));
      for (const step of world.root.candidates) {
        const perceived = (world.root.margins[step] as number) + rng.normal() * spec.runDriftPpm * world.noiseScale;
        if (perceived < 0) forks++;
      }
      steps += tokens;
    }
  }
  return { prompts, runs, tokens, temperature, stepMatchRate: 1 - forks / steps };
}

export interface SimilarityFigures {
  /** Pairs compared, and the median and mean character similarity (1 - Levenshtein / longer length). */
  pairs: number;
  median: number;
  mean: number;
}

function figures(values: number[]): SimilarityFigures {
  const mean = values.reduce((sum, v) => sum + v, 0) / Math.max(1, values.length);
  return { pairs: values.length, median: Math.round(median(values) * 1000) / 1000, mean: Math.round(mean * 1000) / 1000 };
}

const charSimilarity = (a: string, b: string): number => 1 - distance(a, b) / Math.max(a.length, b.length, 1);

/**
 * Character similarity of the outputs free-sampled text requests draw, per corpus section:
 * honest against honest, a minimal edit (critical token changed) against the honest answer it
 * edits, and lazy and confidently wrong answers against every honest answer.
 */
export function corpusSimilarity(section: SectionName = "free"): Record<"honest" | "critical" | "lazy" | "confidentWrong", SimilarityFigures> {
  const honest: number[] = [];
  const critical: number[] = [];
  const lazy: number[] = [];
  const confident: number[] = [];
  for (const prompt of SIM_CORPUS) {
    const answers = prompt[section].honest;
    for (let i = 0; i < answers.length; i++) for (let j = i + 1; j < answers.length; j++) honest.push(charSimilarity(answers[i] as string, answers[j] as string));
    for (const wrong of prompt[section].wrong) {
      if (MINIMAL_EDIT_KINDS.includes(wrong.kind) && wrong.of !== undefined) critical.push(charSimilarity(wrong.text, answers[wrong.of] as string));
      else if (wrong.kind === "lazy") for (const answer of answers) lazy.push(charSimilarity(wrong.text, answer));
      else if (wrong.kind === "confident-wrong") for (const answer of answers) confident.push(charSimilarity(wrong.text, answer));
    }
  }
  return { honest: figures(honest), critical: figures(critical), lazy: figures(lazy), confidentWrong: figures(confident) };
}

// ---------------------------------------------------------------------------------------------
// The real engine: llama.cpp on CPU (bench/divergence-engine.bench.ts, committed results).

/** The committed results of `npm run bench divergence-engine`. */
export const ENGINE_RESULTS = new URL("../../bench/results/divergence-engine.json", import.meta.url);

/** The bench's in-process paths, each compared with the stock path, and the presets they give. */
export const ENGINE_PATHS = [
  { path: "batch-4", preset: "llama-cpu-batch4", what: "batch size 4" },
  { path: "reversed", preset: "llama-cpu-reversed", what: "the prompt one token per pass" },
  { path: "fp32-accumulate", preset: "llama-cpu-f32kv", what: "f32 KV cache" },
  { path: "blocked-8", preset: "llama-cpu-flash", what: "flash attention, batch 8" },
] as const;
/** Two jobs sharing forward passes: which steps share one depends on timing, so it is per-run drift. */
export const ENGINE_RUN_PATH = "slots-2";
/** The sampled case the engine measured. */
export const ENGINE_TEMPERATURE = 0.7;

type Figures = Readonly<Record<string, number>>;

/** The figures of a divergence-engine results file (defaults to the committed one). */
export function readEngineFigures(file: URL | string = ENGINE_RESULTS): Figures {
  const parsed = JSON.parse(readFileSync(file, "utf8")) as { figures?: Figures };
  if (!parsed.figures) throw new Error("divergence-engine results: no figures");
  return parsed.figures;
}

function figure(figures: Figures, key: string): number {
  const value = figures[key];
  if (typeof value !== "number" || !Number.isFinite(value)) throw new Error(`divergence-engine results: ${key} missing`);
  return value;
}

/** Standard normal density and distribution function (erfc to ~1e-7, Numerical Recipes' erfcc). */
function pdf(x: number): number {
  return Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const erfc = t * Math.exp(poly);
  return x >= 0 ? 1 - 0.5 * erfc : 0.5 * erfc;
}
/** Inverse of normalCdf (bisection: slow, exact enough, no tables). */
export function normalQuantile(p: number): number {
  let lo = -40;
  let hi = 40;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Rounds to `digits` significant digits. */
function significant(value: number, digits: number): number {
  return value === 0 ? 0 : Number(value.toPrecision(digits));
}

/**
 * The Gaussian drift (micro-nats) a path's measured margin drift corresponds to. The bench
 * reports, over the `steps` greedy steps taken with the same history as the stock path, the share
 * `changedPct` whose top-1/top-2 gap differed and the largest difference `maxPpm`. Read the
 * differing steps as normal with deviation s, where `maxPpm` is the median of the largest of
 * n = share × steps draws of |N(0, s)|: s = maxPpm / z, 2Φ(z) − 1 = 0.5^(1/n). The fork model
 * drifts every step, so the equivalent deviation keeps the mean absolute drift (what decides
 * flips, to first order): share × s.
 */
export function driftDeviation(changedPct: number, maxPpm: number, steps: number): number {
  const share = changedPct / 100;
  const n = share * steps;
  if (n <= 0 || maxPpm <= 0) return 0;
  const z = normalQuantile((1 + Math.pow(0.5, 1 / Math.max(n, 1))) / 2);
  return (share * maxPpm) / z;
}

/** Share of sampled margins below `ppm` under `model` at temperature T (midpoint rule over r). */
export function sampledMarginCdf(model: ModelSpec, temperature: number, ppm: number, points = 4000): number {
  let sum = 0;
  for (let i = 0; i < points; i++) {
    const halfWidth = (sampledWidth((i + 0.5) / points, model, temperature) / 2) * 1_000_000;
    sum += Math.min(1, ppm / halfWidth);
  }
  return sum / points;
}

/**
 * Expected share of sampled steps a drift of deviation `noise` (margin units) flips: the margin
 * m is uniform on [0, h], h = W/2, and a step flips where m + noise·Z < 0, so per width the share
 * is (noise/h)·G(h/noise) with G(a) = ∫₀ᵃ Φ(−x) dx = aΦ(−a) − φ(a) + φ(0).
 */
export function sampledFlipShare(model: ModelSpec, temperature: number, noise: number, points = 4000): number {
  if (noise <= 0) return 0;
  let sum = 0;
  for (let i = 0; i < points; i++) {
    const a = (sampledWidth((i + 0.5) / points, model, temperature) / 2) * 1_000_000 / noise;
    sum += (a * normalCdf(-a) - pdf(a) + pdf(0)) / a;
  }
  return sum / points;
}

/** Smallest x in [lo, hi] with f(x) >= 0 for f increasing (bisection; geometric when `log`). */
function solve(f: (x: number) => number, lo: number, hi: number, log: boolean, iterations = 60): number {
  for (let i = 0; i < iterations; i++) {
    const mid = log ? Math.sqrt(lo * hi) : (lo + hi) / 2;
    if (f(mid) >= 0) hi = mid;
    else lo = mid;
  }
  return log ? Math.sqrt(lo * hi) : (lo + hi) / 2;
}

export interface EngineProfile {
  /** The fork model's constants for the engine's model (MODEL_PRESETS["llama-cpu"]). */
  model: ModelSpec;
  /** Divergence presets: llama-cpu (the stock path) and one per other path. */
  presets: Record<string, Omit<DivergenceSpec, "preset">>;
  /** The measured inputs and intermediate values, for the record. */
  derivation: Record<string, number>;
}

/**
 * The fork model's parameters for llama.cpp on CPU, from the divergence-engine bench's figures:
 *
 *  1. Greedy gaps: log-normal through the stock path's median and 1st-percentile top-1/top-2 gap
 *     at T = 0 (no separate near-tie share: the fit's own lower tail carries it).
 *  2. Sampled margins (the spec sampler's distance to the nearer CDF edge): the width law
 *     W = min + (1 − min)·r^(exponent·T) fitted so that the median and 1st percentile at T = 0.7
 *     are the measured ones.
 *  3. Drift per path (micro-nats): `driftDeviation` of its greedy gap drift at T = 0. Paths are
 *     systematic (the same setting gives the same numbers), so they are hardware drift; two jobs
 *     sharing forward passes is the per-run part, in every preset. The stock path is the reference.
 *  4. The sampler's drift scale: with those drifts and margins, the share of the 1/(2T) bound that
 *     makes the fork model's expected flips per step, summed over the paths, equal the flips the
 *     engine measured at T = 0.7 given the same history.
 * Every value is rounded as it is shipped before the next step uses it.
 */
export function engineProfile(figures: Figures = readEngineFigures()): EngineProfile {
  const requests = figure(figures, "engine.requests");
  const greedySteps = requests * figure(figures, "engine.t0.mean_tokens");
  const sampledSteps = requests * figure(figures, "engine.t0.7.mean_tokens");
  const derivation: Record<string, number> = { greedySteps, sampledSteps };

  // 1. Greedy gaps.
  const greedyMedian = figure(figures, "engine.t0.margin_median_ppm");
  const greedyP1 = figure(figures, "engine.t0.margin_p1_ppm");
  const bulkMarginSigma = significant(Math.log(greedyMedian / greedyP1) / -normalQuantile(0.01), 5);

  // 2. Sampled margins.
  const T = ENGINE_TEMPERATURE;
  const sampledMedian = figure(figures, "engine.t0.7.margin_median_ppm");
  const sampledP1 = figure(figures, "engine.t0.7.margin_p1_ppm");
  const widthAt = (exponent: number): ModelSpec => {
    const trial = (min: number): ModelSpec => ({ ...DEFAULT_MODEL, sampledWidthMin: min, sampledWidthExponent: exponent });
    // More of the smallest widths puts more margins under the 1st percentile: the share at p1 falls as min grows.
    const min = solve((m) => 0.01 - sampledMarginCdf(trial(m), T, sampledP1, 2000), 1e-7, 0.5, true, 50);
    return trial(min);
  };
  const exponent = solve((e) => sampledMarginCdf(widthAt(e), T, sampledMedian, 2000) - 0.5, 0.2, 20, true, 50);
  const fitted = widthAt(exponent);
  const sampledWidthMin = significant(fitted.sampledWidthMin as number, 4);
  const sampledWidthExponent = significant(exponent, 4);

  // 3. Drift per path.
  const drift = (path: string): number =>
    driftDeviation(figure(figures, `engine.t0.${path}.margin_changed_pct`), figure(figures, `engine.t0.${path}.margin_drift_max_ppm`), greedySteps);
  const runDriftPpm = Math.round(drift(ENGINE_RUN_PATH));
  derivation[`drift.${ENGINE_RUN_PATH}`] = drift(ENGINE_RUN_PATH);
  const none = { answerFlipPpm: 0, jsonLabelFlipPpm: 0 };
  const presets: Record<string, Omit<DivergenceSpec, "preset">> = { "llama-cpu": { runDriftPpm, hardwareDriftPpm: 0, ...none } };
  for (const { path, preset } of ENGINE_PATHS) {
    derivation[`drift.${path}`] = drift(path);
    presets[preset] = { runDriftPpm, hardwareDriftPpm: Math.round(drift(path)), ...none };
  }

  // 4. The sampler's drift scale.
  const margins: ModelSpec = {
    ...DEFAULT_MODEL,
    nearTieRate: 0,
    bulkMarginMedianPpm: greedyMedian,
    bulkMarginSigma,
    sampledWidthMin,
    sampledWidthExponent,
  };
  let measuredFlips = 0;
  for (const { path } of ENGINE_PATHS) measuredFlips += (figure(figures, `engine.t0.7.${path}.flip_pct`) / 100) * sampledSteps;
  measuredFlips += (figure(figures, `engine.t0.7.${ENGINE_RUN_PATH}.flip_pct`) / 100) * sampledSteps;
  const deviations = [...ENGINE_PATHS.map(({ preset }) => presets[preset] as Omit<DivergenceSpec, "preset">), presets["llama-cpu"] as Omit<DivergenceSpec, "preset">].map((p) =>
    Math.sqrt(p.hardwareDriftPpm * p.hardwareDriftPpm + p.runDriftPpm * p.runDriftPpm),
  );
  const expectedFlips = (scale: number): number =>
    deviations.reduce((sum, deviation) => sum + sampledFlipShare(margins, T, deviation * samplingScale(T) * scale) * sampledSteps, 0);
  const sampledDriftScale = expectedFlips(1) <= measuredFlips ? 1 : significant(solve((x) => expectedFlips(x) - measuredFlips, 1e-6, 1, true), 4);
  derivation.measuredFlips = measuredFlips;
  derivation.boundFlips = expectedFlips(1);

  const model: ModelSpec = { ...margins, sampledDriftScale };
  return { model, presets, derivation };
}

export interface EngineBenchFigures {
  requests: number;
  tokens: number;
  temperature: number;
  /** Requests whose output was identical under every path. */
  exactMatchRate: number;
  pairMatchRate: number;
  /** Per path: pairs identical to the stock path, and steps flipped given the stock path's history (%). */
  perPath: Record<string, { pairMatchRate: number; flipPct: number }>;
  /** All paths together: steps flipped given the same history (%). */
  flipPct: number;
  distinctPerRequest: number;
  meanFirstDivergence: number;
  forkMarginMedianPpm: number;
  forkMarginMaxPpm: number;
  marginMedianPpm: number;
  marginP1Ppm: number;
  marginMinPpm: number;
}

function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return -1;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))] as number;
}

/** One simulated request of the engine bench. */
interface EngineRequestRecord {
  same: boolean;
  distinct: number;
  /** Per path: identical to the stock path, and steps flipped given its history. */
  paths: { same: boolean; flips: number }[];
  firsts: number[];
  forkMargins: number[];
  margins: Uint32Array;
}

const enginePaths = () => [...ENGINE_PATHS.map(({ path, preset }) => ({ path, preset: preset as string })), { path: ENGINE_RUN_PATH, preset: "llama-cpu" }];

/**
 * The divergence-engine bench replayed on the fork model: `requests` requests of `tokens` tokens,
 * the stock path (`llama-cpu`) and the bench's other paths as hardware classes of their presets
 * (two jobs at once is the stock class's second run).
 */
function simulateEngineRequests(requests: number, tokens: number, temperature: number, model: ModelSpec, seed: string): EngineRequestRecord[] {
  const sampled = temperature > 0;
  const paths = enginePaths();
  const specs = paths.map(({ preset }) => divergence(preset));
  const stock = divergence("llama-cpu");
  const maxDrift = Math.max(stock.runDriftPpm, ...specs.map((d) => d.runDriftPpm + d.hardwareDriftPpm));
  const root = rootKey(seed);
  const records: EngineRequestRecord[] = [];
  for (let p = 0; p < requests; p++) {
    const world = createTextModel(deriveKey(root, p), tokens, temperature, sampled, model, maxDrift, false);
    const classKey = (c: number) => deriveKey(root, p, 2, c);
    const reference = forkWalk(world, { run: new Rng(deriveKey(root, p, 0, 1)), divergence: stock, hardwareKey: classKey(0) }).branch;
    const outputs = new Set<string>([Array.from(reference.tokens).join(",")]);
    const record: EngineRequestRecord = { same: true, distinct: 0, paths: [], firsts: [], forkMargins: [], margins: reference.margins };
    paths.forEach(({ preset }, i) => {
      const spec = specs[i] as DivergenceSpec;
      const hardwareKey = classKey(preset === "llama-cpu" ? 0 : i + 1);
      const branch = forkWalk(world, { run: new Rng(deriveKey(root, p, i + 1, 1)), divergence: spec, hardwareKey }).branch;
      outputs.add(Array.from(branch.tokens).join(","));
      let first = 0;
      while (first < tokens && branch.tokens[first] === reference.tokens[first]) first++;
      if (first < tokens) {
        record.same = false;
        record.firsts.push(first);
        record.forkMargins.push(reference.margins[first] as number);
      }
      // Given the stock path's history: every step's decision on the reference branch.
      const run = new Rng(deriveKey(root, p, i + 1, 3));
      const runScale = spec.runDriftPpm * world.noiseScale;
      const hardwareScale = spec.hardwareDriftPpm * world.noiseScale;
      let flips = 0;
      for (const step of reference.candidates) {
        const offset = hardwareScale > 0 ? hardwareNoise(hardwareKey, reference, step) * hardwareScale : 0;
        if ((reference.margins[step] as number) + run.normal() * runScale + offset < 0) flips++;
      }
      record.paths.push({ same: first === tokens, flips });
    });
    record.distinct = outputs.size;
    records.push(record);
  }
  return records;
}

/** The bench's figures over simulated requests (its medians are the upper median). */
function engineBenchFigures(records: readonly EngineRequestRecord[], tokens: number, temperature: number): EngineBenchFigures {
  const paths = enginePaths();
  const requests = records.length;
  const steps = requests * tokens;
  const perPath: Record<string, { pairMatchRate: number; flipPct: number }> = {};
  let pairs = 0;
  let flips = 0;
  paths.forEach(({ path }, i) => {
    const same = records.filter((r) => r.paths[i]?.same).length;
    const pathFlips = records.reduce((sum, r) => sum + (r.paths[i]?.flips ?? 0), 0);
    perPath[path] = { pairMatchRate: same / requests, flipPct: (100 * pathFlips) / steps };
    pairs += same;
    flips += pathFlips;
  });
  const firsts = records.flatMap((r) => r.firsts);
  const forkMargins = records.flatMap((r) => r.forkMargins).sort((a, b) => a - b);
  const margins = records.flatMap((r) => Array.from(r.margins));
  return {
    requests,
    tokens,
    temperature,
    exactMatchRate: records.filter((r) => r.same).length / requests,
    pairMatchRate: pairs / (requests * paths.length),
    perPath,
    flipPct: (100 * flips) / (steps * paths.length),
    distinctPerRequest: records.reduce((sum, r) => sum + r.distinct, 0) / requests,
    meanFirstDivergence: firsts.length > 0 ? firsts.reduce((a, b) => a + b, 0) / firsts.length : -1,
    forkMarginMedianPpm: forkMargins.length > 0 ? (forkMargins[Math.floor(forkMargins.length / 2)] as number) : -1,
    forkMarginMaxPpm: forkMargins.length > 0 ? (forkMargins[forkMargins.length - 1] as number) : -1,
    marginMedianPpm: quantile(margins, 0.5),
    marginP1Ppm: quantile(margins, 0.01),
    marginMinPpm: quantile(margins, 0),
  };
}

/**
 * The fork model's figures for the bench's experiment, over `requests` requests, and over blocks
 * of the bench's own size (100 requests): how far a 100-request measurement strays by chance.
 */
export function simulateEngineBench(options: { requests?: number; block?: number; tokens: number; temperature: number; model?: ModelSpec; seed?: string }): { all: EngineBenchFigures; blocks: EngineBenchFigures[] } {
  const { requests = 4000, block = 100, tokens, temperature, model = MODEL_PRESETS["llama-cpu"] as ModelSpec, seed = "engine-calibration" } = options;
  const records = simulateEngineRequests(requests, tokens, temperature, model, seed);
  const blocks: EngineBenchFigures[] = [];
  for (let i = 0; i + block <= records.length; i += block) blocks.push(engineBenchFigures(records.slice(i, i + block), tokens, temperature));
  return { all: engineBenchFigures(records, tokens, temperature), blocks };
}

/** Measured (the bench) against simulated (the fork model with the shipped presets), per temperature. */
export function engineComparison(figures: Figures = readEngineFigures(), requests = 4000): { label: string; measured: Record<string, number>; simulated: { all: EngineBenchFigures; blocks: EngineBenchFigures[] } }[] {
  return (["t0", "t0.7"] as const).map((label) => {
    const temperature = label === "t0" ? 0 : ENGINE_TEMPERATURE;
    const f = (key: string) => figure(figures, `engine.${label}.${key}`);
    const measured: Record<string, number> = {
      tokens: f("mean_tokens"),
      exactMatchRate: f("exact_match_rate"),
      pairMatchRate: f("pair_match_rate"),
      flipPct: 100 - f("forced_token_agreement_pct"),
      distinctPerRequest: f("distinct_per_request"),
      meanFirstDivergence: f("mean_first_divergence_step"),
      forkMarginMedianPpm: f("fork_margin_median_ppm"),
      forkMarginMaxPpm: f("fork_margin_max_ppm"),
      marginMedianPpm: f("margin_median_ppm"),
      marginP1Ppm: f("margin_p1_ppm"),
      marginMinPpm: f("margin_min_ppm"),
    };
    for (const { path } of [...ENGINE_PATHS, { path: ENGINE_RUN_PATH }]) {
      measured[`${path}.pairMatchRate`] = f(`${path}.pair_match_rate`);
      measured[`${path}.flipPct`] = f(`${path}.flip_pct`);
    }
    return { label, measured, simulated: simulateEngineBench({ requests, tokens: Math.round(measured.tokens as number), temperature }) };
  });
}

/** A figure over the simulated blocks: its 5th and 95th percentiles (where the blocks have it). */
function spread(blocks: readonly EngineBenchFigures[], pick: (f: EngineBenchFigures) => number): [number, number] | undefined {
  const values = blocks.map(pick).filter((v) => v >= 0);
  if (values.length < blocks.length / 2) return undefined;
  return [quantile(values, 0.05), quantile(values, 0.95)];
}

/** Rows of the measured-vs-simulated table: name, measured, simulated (all), block spread. */
export function engineTable(figures: Figures = readEngineFigures(), requests = 4000): { label: string; rows: [string, number, number, [number, number] | undefined][] }[] {
  return engineComparison(figures, requests).map(({ label, measured, simulated }) => {
    const m = (key: string) => measured[key] as number;
    const row = (name: string, key: string, pick: (f: EngineBenchFigures) => number): [string, number, number, [number, number] | undefined] => [name, m(key), pick(simulated.all), spread(simulated.blocks, pick)];
    const rows = [
      row("mean tokens", "tokens", (f) => f.tokens),
      row("requests identical under every path", "exactMatchRate", (f) => f.exactMatchRate),
      row("(path, request) pairs identical", "pairMatchRate", (f) => f.pairMatchRate),
      row("steps flipped given the same history (%)", "flipPct", (f) => f.flipPct),
      row("distinct outputs per request", "distinctPerRequest", (f) => f.distinctPerRequest),
      row("mean first divergence step", "meanFirstDivergence", (f) => f.meanFirstDivergence),
      row("margin at forks, median (ppm)", "forkMarginMedianPpm", (f) => f.forkMarginMedianPpm),
      row("margin at forks, max (ppm)", "forkMarginMaxPpm", (f) => f.forkMarginMaxPpm),
      row("margin over all steps, median (ppm)", "marginMedianPpm", (f) => f.marginMedianPpm),
      row("margin over all steps, 1st percentile (ppm)", "marginP1Ppm", (f) => f.marginP1Ppm),
      row("margin over all steps, minimum (ppm)", "marginMinPpm", (f) => f.marginMinPpm),
    ];
    for (const { path } of enginePaths()) {
      rows.push(row(`${path}: pairs identical`, `${path}.pairMatchRate`, (f) => f.perPath[path]?.pairMatchRate ?? -1));
      rows.push(row(`${path}: steps flipped (%)`, `${path}.flipPct`, (f) => f.perPath[path]?.flipPct ?? -1));
    }
    return { label, rows };
  });
}

function printEngine(): void {
  const figures = readEngineFigures();
  const profile = engineProfile(figures);
  process.stdout.write(`engine profile (from bench/results/divergence-engine.json):\n`);
  process.stdout.write(`  model "llama-cpu": ${JSON.stringify(profile.model)}\n`);
  for (const [name, preset] of Object.entries(profile.presets)) process.stdout.write(`  preset ${name}: ${JSON.stringify(preset)}\n`);
  process.stdout.write(`  derivation: ${JSON.stringify(profile.derivation, (_, v: unknown) => (typeof v === "number" ? Number(v.toPrecision(6)) : v))}\n`);
  const shipped = JSON.stringify({ model: MODEL_PRESETS["llama-cpu"], presets: Object.fromEntries(Object.keys(profile.presets).map((k) => [k, DIVERGENCE_PRESETS[k]])) });
  process.stdout.write(`  shipped presets ${shipped === JSON.stringify({ model: profile.model, presets: profile.presets }) ? "equal" : "DIFFER FROM"} this derivation\n`);
  const fmt = (v: number | undefined) => (v === undefined ? "" : v < 0 ? "none" : Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3))));
  for (const { label, rows } of engineTable(figures)) {
    process.stdout.write(`\n${label}: measured (bench, 100 requests) | fork model, 4,000 requests [5th-95th percentile over blocks of 100]\n`);
    for (const [name, m, s, range] of rows) process.stdout.write(`  ${name.padEnd(44)} ${fmt(m).padStart(8)} | ${fmt(s).padStart(8)} ${range ? `[${fmt(range[0])}, ${fmt(range[1])}]` : ""}\n`);
  }
  for (const temperature of [0, ENGINE_TEMPERATURE]) {
    const long = simulateEngineBench({ tokens: 128, temperature }).all;
    process.stdout.write(
      `\nfork model, outputs of 128 tokens (the bench's limit), T=${temperature}: identical under every path ${fmt(long.exactMatchRate)}, pairs ${fmt(long.pairMatchRate)}, steps flipped ${fmt(long.flipPct)}%, distinct ${fmt(long.distinctPerRequest)}, first divergence ${fmt(long.meanFirstDivergence)}\n`,
    );
  }
}

if (import.meta.main && process.argv[2] === "engine") {
  printEngine();
} else if (import.meta.main) {
  const greedy = calibrateGreedy();
  process.stdout.write(`greedy (Thinking Machines): ${JSON.stringify(greedy)}\n`);
  for (const temperature of [0.3, 0.7, 1.0]) {
    process.stdout.write(`sampled (Token-DiFR): ${JSON.stringify(calibrateSampled({ temperature }))}\n`);
  }
  for (const section of ["free", "pinned", "json"] as const) {
    process.stdout.write(`corpus ${section}, character similarity: ${JSON.stringify(corpusSimilarity(section))}\n`);
  }
  printEngine();
}
