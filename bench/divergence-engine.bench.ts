/**
 * How often honest nodes on the real engine disagree: llama.cpp (node-llama-cpp 3.21.1,
 * in-process, src/runner/llama.ts) running the project's trained model
 * (models/concord-wordnet-1m.gguf), with Concord's sampler (`sampleNext`) choosing every token
 * from the engine's full distribution under the request's decode seed. Sampling randomness is
 * therefore out: two settings differ only where their floating-point paths flip a decision.
 *
 * 100 prompts in the training text's shape ("water (noun):", "boat, ship (noun):"), drawn with a
 * fixed seed, 128 tokens each (fewer where the model ends with EOS), greedy (T = 0) and sampled
 * (T = 0.7, top-p 0.95), each request with the same id (so the same seed) under every setting:
 *   in-process, against `reference` (llama.cpp's stock path, 1 thread, batch 512, f16 KV cache,
 *   plain attention, one sequence):
 *     batch-4            the prompt in chunks of 4 tokens (batch size 4)
 *     reversed           the profile: the prompt one token per pass (batch size 1)
 *     fp32-accumulate    the profile: f32 KV cache instead of f16
 *     blocked-8          the profile: flash attention, prompt in chunks of 8
 *     slots-2            two context sequences, two jobs at once (their steps share forward passes)
 *     threads-2          2 threads, on the first 8 requests only (see THREADS), bit for bit
 *   llama-server (built from the same llama.cpp commit by scripts/engine/build-llama.sh; only
 *   when it is already built: the bench never builds it), against `-np 1 -t 1 -fa off,
 *   cache_prompt false`:
 *     threads-2          -t 2
 *     cache-on           cache_prompt true, each request sent twice and the second one counted
 *                        (its whole prompt but the last token comes from the cache)
 *     slots-2            -np 2, two requests at once
 *   The server samples with its own sampler (the same seed under every setting: its randomness is
 *   out too, but it is not the spec's sampler), and its margins are the top-1/top-2 log-probability
 *   gap. At T = 0 both pick the argmax, so the server's greedy tokens are also compared with the
 *   in-process reference's (one llama.cpp commit, two builds: cross_engine).
 *   Other weights: the trained file with every weight matrix replaced by seeded noise (same shape,
 *   tokenizer and norms), 32 requests under the same in-process settings. Its reference outputs
 *   against the trained model's are the wrong-model figure (should never match); its own
 *   divergence shows what the same settings do where distributions are nearly flat.
 *
 * Figures per group and temperature (mirroring bench/synthetic-divergence.bench.ts):
 *   exact_match_rate            requests whose tokens were identical under every setting
 *   pair_match_rate             (setting, request) pairs identical to the baseline
 *   mean_first_divergence_step  over diverging pairs (-1 if none)
 *   token_agreement_pct         tokens equal position by position, over all pairs
 *   forced_token_agreement_pct  (in-process) the setting's decision with the baseline's tokens as
 *                               history (teacher-forced replay), over every baseline step: forks
 *                               do not cascade, so 100 minus this is the share of decode steps a
 *                               setting flips (published: 0.3-1.3% for batch-induced flips)
 *   distinct_per_request        distinct outputs per request over all settings of the group
 *   fork_margin_median_ppm / fork_margin_max_ppm   the baseline's margin at each fork step
 *   margin_median_ppm, margin_p1_ppm, margin_min_ppm   the baseline's margins over all steps
 * and per setting: pair_match_rate; flip_pct (in-process: steps flipped on the baseline's
 * history); margin_changed_pct and margin_drift_max_ppm (on the steps taken with the same history
 * as the baseline, the share whose margin differs from the baseline's, and the largest
 * difference: how far the numerics moved, whether or not a decision flipped).
 * Details (settings, the model's hash, every fork's prompt, step and tokens, seconds per part) go
 * to bench/results/divergence-engine-detail.json. Run alone: `npx node bench/divergence-engine.bench.ts`;
 * CONCORD_BENCH_MODEL points at another GGUF.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Token } from "node-llama-cpp";
import type { InferenceJob } from "../src/runner/backend.ts";
import { createLlamaBackend, type LlamaBackend, type LlamaBackendOptions } from "../src/runner/llama.ts";
import { serverSeed } from "../src/runner/openai.ts";
import { freePort } from "../src/cli/processes.ts";
import { taggedHash } from "../src/wire/hash.ts";
import type { SamplingParams } from "../src/wire/types.ts";
import { mulberry32 } from "../src/sim/prng.ts";
import { median, type DivergenceFigures } from "./synthetic-divergence.bench.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MODEL_FILE = resolve(ROOT, process.env.CONCORD_BENCH_MODEL ?? "models/concord-wordnet-1m.gguf");
const REQUESTS = 100;
const MAX_TOKENS = 128;
/** Requests for the other-weights model (its reference run is also the wrong-model figure). */
const OTHER_REQUESTS = 32;
/** Context per sequence (and per server slot): the model's training length. */
const CONTEXT = 256;

/** Lemmas and parts of speech as WordNet's glosses start ("lemma (pos): gloss"), some with a synonym. */
const LEMMAS = [
  "water (noun)", "boat, ship (noun)", "run (verb)", "happy (adjective)", "quickly (adverb)", "river (noun)",
  "teach (verb)", "stone (noun)", "bright (adjective)", "bread (noun)", "king (noun)", "computer (noun)",
  "walk (verb)", "cold (adjective)", "slowly (adverb)", "mountain (noun)", "write, compose (verb)", "tree (noun)",
  "green (adjective)", "carefully (adverb)", "city, metropolis (noun)", "eat (verb)", "small, little (adjective)",
  "often (adverb)", "music (noun)", "build, construct (verb)", "dog, domestic dog (noun)", "strong (adjective)",
  "together (adverb)", "bridge (noun)", "sing (verb)", "heavy (adjective)", "horse (noun)", "open (verb)",
  "quiet (adjective)", "almost, nearly (adverb)", "salt (noun)", "carry (verb)", "old (adjective)", "window (noun)",
  "burn (verb)", "wet (adjective)", "lamp (noun)", "grow (verb)", "sharp (adjective)", "again (adverb)",
  "market (noun)", "break (verb)", "gentle (adjective)", "wheat (noun)", "follow (verb)", "empty (adjective)",
  "island (noun)", "cut (verb)", "loud (adjective)", "copper (noun)", "swim (verb)", "dark (adjective)",
  "harbor, seaport (noun)", "remember (verb)", "sweet (adjective)", "book (noun)", "fly (verb)", "ancient (adjective)",
  "doctor, physician (noun)", "measure (verb)", "narrow (adjective)", "language (noun)", "bend (verb)",
  "rapidly (adverb)", "forest, wood (noun)", "sell (verb)", "rough (adjective)", "wire (noun)", "count (verb)",
  "clean (adjective)", "letter (noun)", "pull (verb)", "deep (adjective)", "money (noun)", "cook (verb)",
  "bitter (adjective)", "child, kid (noun)", "throw (verb)", "wide (adjective)", "map (noun)", "speak, talk (verb)",
  "soft (adjective)", "winter (noun)", "fall (verb)", "rich (adjective)", "glass (noun)", "shine (verb)",
  "thin (adjective)", "road (noun)", "hold (verb)", "silent (adjective)", "garden (noun)", "close, shut (verb)",
  "fire (noun)", "sleep (verb)", "brave (adjective)", "soon (adverb)", "paper (noun)", "climb (verb)",
  "warm (adjective)", "never (adverb)", "cloud (noun)", "answer, reply (verb)", "bird (noun)", "proud (adjective)",
] as const;

const GREEDY: SamplingParams = { temperatureMilli: 0, topK: 0, topPPpm: 1_000_000, maxTokens: MAX_TOKENS };
const SAMPLED: SamplingParams = { temperatureMilli: 700, topK: 0, topPPpm: 950_000, maxTokens: MAX_TOKENS };
const CASES: readonly [string, SamplingParams][] = [
  ["t0", GREEDY],
  ["t0.7", SAMPLED],
];

/** REQUESTS prompts drawn without repeats from LEMMAS by a seeded shuffle. */
export function prompts(): string[] {
  const random = mulberry32(0xc0c0);
  const pool = [...LEMMAS];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pool[i], pool[j]] = [pool[j] as (typeof LEMMAS)[number], pool[i] as (typeof LEMMAS)[number]];
  }
  return pool.slice(0, REQUESTS).map((lemma) => `${lemma}:`);
}

function jobs(sampling: SamplingParams, count = REQUESTS): InferenceJob[] {
  return prompts()
    .slice(0, count)
    .map((input, i) => ({ requestId: taggedHash("bench/divergence-engine", String(i)), model: "concord-wordnet", input, sampling }));
}

/** One request's result: token ids (EOS included when the engine reports it), margins (ppm), text. */
interface Decode {
  tokens: number[];
  margins: number[];
  text: string;
}

interface Setting {
  name: string;
  what: string;
  /** Jobs submitted at once (2 for two slots). */
  concurrent: number;
}

interface InProcessSetting extends Setting {
  options: Partial<LlamaBackendOptions>;
}

const IN_PROCESS: readonly InProcessSetting[] = [
  { name: "reference", what: "stock path: 1 thread, batch 512, f16 KV cache, plain attention, one sequence", concurrent: 1, options: { hardware: "reference", threads: 1 } },
  { name: "batch-4", what: "reference with batch size 4 (the prompt in chunks of 4)", concurrent: 1, options: { hardware: "reference", batchSize: 4 } },
  { name: "reversed", what: "profile reversed: batch size 1 (the prompt one token per pass)", concurrent: 1, options: { hardware: "reversed" } },
  { name: "fp32-accumulate", what: "profile fp32-accumulate: f32 KV cache", concurrent: 1, options: { hardware: "fp32-accumulate" } },
  { name: "blocked-8", what: "profile blocked-8: flash attention, batch size 8", concurrent: 1, options: { hardware: "blocked-8" } },
  { name: "slots-2", what: "reference with 2 context sequences, two jobs at once", concurrent: 2, options: { hardware: "reference", contextSequences: 2 } },
];

interface ServerSetting extends Setting {
  threads: number;
  slots: number;
  cachePrompt: boolean;
}

/**
 * Thread count, checked on its own: with two threads on two cores that another process keeps
 * busy, llama.cpp's threads wait for each other at every operation (~40 ms a token here instead
 * of ~1), so it runs on a few requests: tokens and margins compared bit for bit with the reference.
 */
const THREADS: InProcessSetting = { name: "threads-2", what: "reference with 2 threads", concurrent: 1, options: { hardware: "reference", threads: 2 } };
const THREAD_REQUESTS = 8;

const SERVER: readonly ServerSetting[] = [
  { name: "np1-t1", what: "llama-server -np 1 -t 1 -fa off, cache_prompt false", concurrent: 1, threads: 1, slots: 1, cachePrompt: false },
  { name: "threads-2", what: "-t 2", concurrent: 1, threads: 2, slots: 1, cachePrompt: false },
  { name: "cache-on", what: "cache_prompt true, each request sent twice, the second counted", concurrent: 1, threads: 1, slots: 1, cachePrompt: true },
  { name: "slots-2", what: "-np 2, two requests at once", concurrent: 2, threads: 1, slots: 2, cachePrompt: false },
];

/** Runs `work` over `items`, `concurrent` at a time (in order, each group awaited together). */
async function inGroups<T, R>(items: readonly T[], concurrent: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += concurrent) out.push(...(await Promise.all(items.slice(i, i + concurrent).map(work))));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Figures

/** The synthetic bench's figures (forcedAgreementPct is -1 where no replay exists: the server), and more. */
export interface GroupFigures extends DivergenceFigures {
  /** The baseline's mean tokens per request (EOS included where the engine reports it). */
  meanTokens: number;
  /** The baseline's smallest margin (its nearest tie) and 1st percentile. */
  marginMinPpm: number;
  marginP1Ppm: number;
  /**
   * Per setting: pairs identical to the baseline; (in-process) steps flipped on the baseline's
   * history; and on the steps both took with the same history (before any fork), the share whose
   * margin differs from the baseline's and the largest difference: how far the numerics moved.
   */
  perSetting: Record<string, { pairMatchRate: number; flipPct: number; forks: number; marginChangedPct: number; marginDriftMaxPpm: number }>;
  forks: { setting: string; request: number; prompt: string; step: number; base: string; other: string; marginPpm: number }[];
}

function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return -1;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))] as number;
}

/** Over the steps before `until` (a fork, or the end): how many margins differ, and by how much at most. */
function marginDrift(a: readonly number[], b: readonly number[], until: number): { steps: number; changed: number; max: number } {
  const n = Math.min(a.length, b.length, until);
  let changed = 0;
  let max = 0;
  for (let k = 0; k < n; k++) {
    const d = Math.abs((a[k] as number) - (b[k] as number));
    if (d > 0) changed++;
    if (d > max) max = d;
  }
  return { steps: n, changed, max };
}

function sameTokens(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

/** The first position where a and b differ (a length difference counts), or -1. */
function firstDivergence(a: readonly number[], b: readonly number[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/**
 * `runs[setting][request]`, the baseline first. `forced[setting][request]`: the setting's tokens
 * replayed on the baseline's history (undefined: no replay, e.g. the server).
 */
function figures(
  settings: readonly Setting[],
  runs: readonly Decode[][],
  forced: readonly (readonly (number[] | undefined)[])[] | undefined,
  inputs: readonly string[],
  pieces: (tokens: number[]) => string,
): GroupFigures {
  const [base, ...others] = runs;
  if (!base) throw new Error("no baseline");
  let allSame = 0;
  let pairs = 0;
  let pairsSame = 0;
  let agreeing = 0;
  let positions = 0;
  let forcedAgreeing = 0;
  let forcedPositions = 0;
  let distinct = 0;
  const firstSteps: number[] = [];
  const forkMargins: number[] = [];
  const forks: GroupFigures["forks"] = [];
  const perSetting: GroupFigures["perSetting"] = {};
  base.forEach((b, r) => {
    distinct += new Set(runs.map((run) => (run[r] as Decode).tokens.join(","))).size;
    if (others.every((run) => sameTokens((run[r] as Decode).tokens, b.tokens))) allSame++;
  });
  const allMargins = base.flatMap((b) => b.margins);
  others.forEach((run, s) => {
    const setting = settings[s + 1] as Setting;
    let same = 0;
    let settingForks = 0;
    let flips = 0;
    let steps = 0;
    let sharedSteps = 0;
    let marginsChanged = 0;
    let driftMax = 0;
    run.forEach((other, r) => {
      const b = base[r] as Decode;
      pairs++;
      const n = Math.max(b.tokens.length, other.tokens.length);
      for (let k = 0; k < n; k++) if (b.tokens[k] === other.tokens[k]) agreeing++;
      positions += n;
      const first = firstDivergence(b.tokens, other.tokens);
      const drift = marginDrift(b.margins, other.margins, first < 0 ? n : first + 1);
      sharedSteps += drift.steps;
      marginsChanged += drift.changed;
      driftMax = Math.max(driftMax, drift.max);
      if (first < 0) {
        pairsSame++;
        same++;
      } else {
        settingForks++;
        firstSteps.push(first);
        const margin = b.margins[first];
        // A fork past the baseline's end (the other went on where the baseline stopped) has no margin.
        if (margin !== undefined) forkMargins.push(margin);
        forks.push({
          setting: setting.name,
          request: r,
          prompt: inputs[r] as string,
          step: first,
          base: pieces(b.tokens.slice(first, first + 1)),
          other: pieces(other.tokens.slice(first, first + 1)),
          marginPpm: margin ?? -1,
        });
      }
      const replay = forced?.[s + 1]?.[r];
      if (forced) {
        // Identical runs took every decision on the baseline's history already; a diverging one
        // was replayed on it.
        const decided = first < 0 ? b.tokens : replay;
        if (!decided) throw new Error(`missing replay: ${setting.name}, request ${r}`);
        b.tokens.forEach((t, k) => {
          if (decided[k] === t) forcedAgreeing++;
          else flips++;
        });
        forcedPositions += b.tokens.length;
        steps += b.tokens.length;
      }
    });
    perSetting[setting.name] = {
      pairMatchRate: same / run.length,
      flipPct: forced ? (100 * flips) / steps : -1,
      forks: settingForks,
      marginChangedPct: sharedSteps > 0 ? (100 * marginsChanged) / sharedSteps : -1,
      marginDriftMaxPpm: driftMax,
    };
  });
  return {
    exactMatchRate: allSame / base.length,
    pairMatchRate: pairsSame / pairs,
    meanFirstDivergence: firstSteps.length > 0 ? firstSteps.reduce((a, b) => a + b, 0) / firstSteps.length : -1,
    tokenAgreementPct: (100 * agreeing) / positions,
    forcedAgreementPct: forced ? (100 * forcedAgreeing) / forcedPositions : -1,
    distinctPerRequest: distinct / base.length,
    forkMarginMedianPpm: median(forkMargins),
    forkMarginMaxPpm: forkMargins.length > 0 ? Math.max(...forkMargins) : -1,
    marginMedianPpm: median(allMargins),
    meanTokens: allMargins.length / base.length,
    marginMinPpm: allMargins.length > 0 ? Math.min(...allMargins) : -1,
    marginP1Ppm: quantile(allMargins, 0.01),
    perSetting,
    forks,
  };
}

const round = (value: number, digits = 3): number => Number(value.toFixed(digits));

function record(out: Record<string, number>, prefix: string, f: GroupFigures): void {
  out[`${prefix}.mean_tokens`] = round(f.meanTokens, 1);
  out[`${prefix}.exact_match_rate`] = round(f.exactMatchRate);
  out[`${prefix}.pair_match_rate`] = round(f.pairMatchRate);
  out[`${prefix}.mean_first_divergence_step`] = round(f.meanFirstDivergence, 1);
  out[`${prefix}.token_agreement_pct`] = round(f.tokenAgreementPct, 2);
  if (f.forcedAgreementPct >= 0) out[`${prefix}.forced_token_agreement_pct`] = round(f.forcedAgreementPct, 3);
  out[`${prefix}.distinct_per_request`] = round(f.distinctPerRequest);
  out[`${prefix}.fork_margin_median_ppm`] = f.forkMarginMedianPpm;
  out[`${prefix}.fork_margin_max_ppm`] = f.forkMarginMaxPpm;
  out[`${prefix}.margin_median_ppm`] = f.marginMedianPpm;
  out[`${prefix}.margin_min_ppm`] = f.marginMinPpm;
  out[`${prefix}.margin_p1_ppm`] = f.marginP1Ppm;
  for (const [name, s] of Object.entries(f.perSetting)) {
    out[`${prefix}.${name}.pair_match_rate`] = round(s.pairMatchRate);
    if (s.flipPct >= 0) out[`${prefix}.${name}.flip_pct`] = round(s.flipPct, 3);
    out[`${prefix}.${name}.margin_changed_pct`] = round(s.marginChangedPct, 2);
    out[`${prefix}.${name}.margin_drift_max_ppm`] = s.marginDriftMaxPpm;
  }
}

// ---------------------------------------------------------------------------------------------
// In-process

async function runInProcess(setting: InProcessSetting, modelFile: string, cases: readonly [string, SamplingParams][], count: number, baseline?: Map<string, Decode[]>) {
  const backend = createLlamaBackend({ modelFile, ...setting.options });
  const decodes = new Map<string, Decode[]>();
  const replays = new Map<string, (number[] | undefined)[]>();
  let tokens = 0;
  const start = performance.now();
  try {
    await backend.ready();
    for (const [label, sampling] of cases) {
      const batch = jobs(sampling, count);
      const results = await inGroups(batch, setting.concurrent, async (job) => {
        const { output, evidence } = await backend.run(job);
        return { tokens: [...evidence.tokens], margins: [...evidence.margins], text: output };
      });
      decodes.set(label, results);
      tokens += results.reduce((n, d) => n + d.tokens.length, 0);
      const base = baseline?.get(label);
      if (base) replays.set(label, await replayDiverging(backend, setting, batch, base, results));
    }
  } finally {
    await backend.close();
  }
  return { decodes, replays, msPerToken: (performance.now() - start) / tokens };
}

/** The setting's decisions on the baseline's history, for the requests where its output diverged. */
async function replayDiverging(backend: LlamaBackend, setting: Setting, batch: InferenceJob[], base: Decode[], results: Decode[]) {
  const replays: (number[] | undefined)[] = batch.map(() => undefined);
  const diverging = batch.map((_, r) => r).filter((r) => !sameTokens((base[r] as Decode).tokens, (results[r] as Decode).tokens));
  await inGroups(diverging, setting.concurrent, async (r) => {
    replays[r] = [...(await backend.replay(batch[r] as InferenceJob, (base[r] as Decode).tokens)).tokens];
  });
  return replays;
}

/**
 * A copy of a GGUF whose weight matrices (F32 tensors of two or more dimensions) are seeded
 * uniform noise of std 0.02; norms stay. The same shape and tokenizer, other weights. Returns the
 * number of tensors replaced.
 */
async function writeOtherWeights(source: string, target: string, seed: number): Promise<number> {
  const { readGgufFileInfo } = await import("node-llama-cpp");
  const info = await readGgufFileInfo(source, { readTensorInfo: true });
  const bytes = readFileSync(source);
  const random = mulberry32(seed);
  let replaced = 0;
  for (const tensor of info.fullTensorInfo ?? info.tensorInfo ?? []) {
    if (tensor.ggmlType !== 0 || tensor.dimensions.length < 2) continue; // F32 matrices only
    const count = tensor.dimensions.reduce((a: number, b) => a * Number(b), 1);
    const view = new DataView(bytes.buffer, bytes.byteOffset + Number(tensor.fileOffset), count * 4);
    for (let i = 0; i < count; i++) view.setFloat32(i * 4, (random() * 2 - 1) * 0.02 * Math.sqrt(3), true);
    replaced++;
  }
  writeFileSync(target, bytes);
  return replaced;
}

// ---------------------------------------------------------------------------------------------
// llama-server

/** The built llama-server of node-llama-cpp's llama.cpp commit, or undefined (never builds it). */
function builtServer(): string | undefined {
  try {
    const bundle = join(ROOT, "node_modules/node-llama-cpp/llama/gitRelease.bundle");
    const heads = execFileSync("git", ["bundle", "list-heads", bundle], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const commit = heads.split("\n").find((line) => line.endsWith(" HEAD"))?.split(" ")[0];
    if (!commit) return undefined;
    const binary = join(process.env.CONCORD_CACHE ?? join(homedir(), ".cache/concord"), `llama.cpp-${commit}`, "build/bin/llama-server");
    return existsSync(binary) ? binary : undefined;
  } catch {
    return undefined;
  }
}

async function startServer(binary: string, modelFile: string, setting: ServerSetting): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const args = ["-m", modelFile, "--host", "127.0.0.1", "--port", String(port), "-np", String(setting.slots), "-t", String(setting.threads), "-c", String(CONTEXT * setting.slots), "-fa", "off"];
  const child: ChildProcess = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  const log: string[] = [];
  child.stderr?.on("data", (chunk: Buffer) => {
    log.push(chunk.toString("utf8"));
    if (log.length > 50) log.shift();
  });
  let exited = false;
  const exit = new Promise<void>((done) => child.once("exit", () => ((exited = true), done())));
  const stop = async () => {
    if (exited) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exit;
    clearTimeout(timer);
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`llama-server exited before it was ready: ${log.join("").slice(-500)}`);
    try {
      if ((await fetch(`${url}/health`)).status === 200) return { url, stop };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error("llama-server not ready after 60 s");
    }
    await new Promise((done) => setTimeout(done, 50));
  }
}

interface ServerCompletion {
  content: string;
  tokens: number[];
  completion_probabilities?: { id: number; logprob: number; top_logprobs: { id: number; logprob: number }[] }[];
}

async function complete(url: string, job: InferenceJob, cachePrompt: boolean): Promise<Decode> {
  const { sampling } = job;
  const body = {
    prompt: job.input,
    n_predict: sampling.maxTokens,
    temperature: sampling.temperatureMilli / 1000,
    top_k: 0,
    top_p: sampling.topPPpm / 1e6,
    min_p: 0,
    seed: serverSeed(job.requestId),
    n_probs: 2,
    cache_prompt: cachePrompt,
    return_tokens: true,
  };
  const response = await fetch(`${url}/completion`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`llama-server ${response.status}: ${(await response.text()).slice(0, 200)}`);
  const result = (await response.json()) as ServerCompletion;
  const margins = (result.completion_probabilities ?? []).map((step) => {
    const [first, second] = step.top_logprobs;
    return first && second ? Math.round((first.logprob - second.logprob) * 1e6) : 1_000_000_000;
  });
  return { tokens: result.tokens, margins, text: result.content };
}

async function runServer(binary: string, modelFile: string, setting: ServerSetting) {
  const server = await startServer(binary, modelFile, setting);
  const decodes = new Map<string, Decode[]>();
  try {
    for (const [label, sampling] of CASES) {
      decodes.set(
        label,
        await inGroups(jobs(sampling), setting.concurrent, async (job) => {
          if (setting.cachePrompt) await complete(server.url, job, true); // fills the cache
          return complete(server.url, job, setting.cachePrompt);
        }),
      );
    }
  } finally {
    await server.stop();
  }
  return decodes;
}

// ---------------------------------------------------------------------------------------------

/** Every in-process setting on one model against the reference, both temperatures. */
async function inProcessGroup(modelFile: string, count: number, inputs: readonly string[], pieces: (tokens: number[]) => string) {
  const [baseSetting, ...otherSettings] = IN_PROCESS;
  if (!baseSetting) throw new Error("no settings");
  const base = await runInProcess(baseSetting, modelFile, CASES, count);
  const runs = [base, ...(await inGroups(otherSettings, 1, (s) => runInProcess(s, modelFile, CASES, count, base.decodes)))];
  const byCase = new Map<string, GroupFigures>();
  for (const [label] of CASES) {
    byCase.set(
      label,
      figures(
        IN_PROCESS,
        runs.map((r) => r.decodes.get(label) as Decode[]),
        runs.map((r) => r.replays.get(label) ?? []),
        inputs,
        pieces,
      ),
    );
  }
  return { runs, byCase };
}

export async function run(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const inputs = prompts();
  const vocabulary = await tokenizer(MODEL_FILE);
  const { pieces, eos } = vocabulary;
  const seconds: Record<string, number> = {};
  let mark = performance.now();
  const lap = (): number => {
    const now = performance.now();
    const elapsed = round((now - mark) / 1000, 1);
    mark = now;
    return elapsed;
  };
  const detail: Record<string, unknown> = {
    model: relative(ROOT, MODEL_FILE),
    modelSha256: createHash("sha256").update(readFileSync(MODEL_FILE)).digest("hex"),
    requests: REQUESTS,
    maxTokens: MAX_TOKENS,
    sampling: Object.fromEntries(CASES),
    prompts: inputs,
  };

  // In-process, the trained model: every setting against the reference.
  const trained = await inProcessGroup(MODEL_FILE, REQUESTS, inputs, pieces);
  out["engine.requests"] = REQUESTS;
  out["engine.max_tokens"] = MAX_TOKENS;
  for (const [label, f] of trained.byCase) record(out, `engine.${label}`, f);
  IN_PROCESS.forEach((s, i) => (out[`engine.ms_per_token.${s.name}`] = round((trained.runs[i] as { msPerToken: number }).msPerToken, 3)));
  detail.inProcess = { settings: IN_PROCESS.map(({ name, what }) => ({ name, what })), ...Object.fromEntries(trained.byCase) };
  seconds.inProcess = lap();

  // Thread count: a few requests, bit for bit.
  const threaded = await runInProcess(THREADS, MODEL_FILE, CASES, THREAD_REQUESTS);
  for (const [label] of CASES) {
    const a = (trained.runs[0]?.decodes.get(label) as Decode[]).slice(0, THREAD_REQUESTS);
    const b = threaded.decodes.get(label) as Decode[];
    const identical = b.filter((d, r) => sameTokens(d.tokens, (a[r] as Decode).tokens) && sameTokens(d.margins, (a[r] as Decode).margins)).length;
    out[`engine.${label}.threads-2.bit_identical_rate`] = round(identical / b.length);
    out[`engine.${label}.threads-2.requests`] = b.length;
  }
  out["engine.ms_per_token.threads-2"] = round(threaded.msPerToken, 3);
  seconds.threads = lap();

  // llama-server, when built.
  const binary = builtServer();
  out["server.available"] = binary ? 1 : 0;
  if (binary) {
    const serverRuns: Map<string, Decode[]>[] = [];
    for (const setting of SERVER) serverRuns.push(await runServer(binary, MODEL_FILE, setting));
    const serverDetail: Record<string, unknown> = {};
    for (const [label] of CASES) {
      const f = figures(SERVER, serverRuns.map((r) => r.get(label) as Decode[]), undefined, inputs, pieces);
      record(out, `server.${label}`, f);
      serverDetail[label] = f;
    }
    // Two engines, one llama.cpp commit, greedy: the server (-np 1, no cache; its own build) vs
    // the in-process reference (node-llama-cpp's prebuilt binary). The server leaves EOS out.
    const withoutEos = (d: Decode): Decode => (d.tokens.at(-1) === eos ? { ...d, tokens: d.tokens.slice(0, -1), margins: d.margins.slice(0, -1) } : d);
    const cross = figures(
      [{ name: "in-process", what: "", concurrent: 1 }, { name: "server", what: "", concurrent: 1 }],
      [(trained.runs[0]?.decodes.get("t0") as Decode[]).map(withoutEos), (serverRuns[0]?.get("t0") as Decode[]).map(withoutEos)],
      undefined,
      inputs,
      pieces,
    );
    out["cross_engine.t0.pair_match_rate"] = round(cross.pairMatchRate);
    out["cross_engine.t0.token_agreement_pct"] = round(cross.tokenAgreementPct, 2);
    out["cross_engine.t0.margin_changed_pct"] = round(cross.perSetting.server?.marginChangedPct ?? -1, 2);
    out["cross_engine.t0.margin_drift_max_ppm"] = cross.perSetting.server?.marginDriftMaxPpm ?? -1;
    detail.server = { binary, settings: SERVER.map(({ name, what }) => ({ name, what })), ...serverDetail, crossEngineT0: cross };
    seconds.server = lap();
  }

  // The same file with other weights (seeded noise): the wrong-model figure, and the same
  // settings on a model whose distributions are nearly flat (near-ties everywhere).
  const dir = mkdtempSync(join(tmpdir(), "concord-divergence-"));
  try {
    const otherFile = join(dir, "other-weights.gguf");
    const replaced = await writeOtherWeights(MODEL_FILE, otherFile, 0xd1ff);
    const other = await inProcessGroup(otherFile, OTHER_REQUESTS, inputs, pieces);
    out["other_weights.requests"] = OTHER_REQUESTS;
    for (const [label, f] of other.byCase) record(out, `other_weights.${label}`, f);
    for (const [label] of CASES) {
      const a = trained.runs[0]?.decodes.get(label) as Decode[];
      const b = other.runs[0]?.decodes.get(label) as Decode[];
      out[`wrong_model.${label}.exact_match_rate`] = round(b.filter((d, r) => sameTokens(d.tokens, (a[r] as Decode).tokens)).length / b.length);
      out[`wrong_model.${label}.token_agreement_pct`] = round(tokenAgreement(a.slice(0, b.length), b), 2);
    }
    detail.otherWeights = {
      what: "the same GGUF with every F32 weight matrix replaced by seeded uniform noise (std 0.02); norms and tokenizer kept",
      tensorsReplaced: replaced,
      requests: OTHER_REQUESTS,
      ...Object.fromEntries(other.byCase),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  seconds.otherWeights = lap();
  detail.seconds = seconds;
  await vocabulary.dispose();

  const resultsDir = join(ROOT, "bench", "results");
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, "divergence-engine-detail.json"), `${JSON.stringify(detail, null, 2)}\n`);
  return out;
}

/** Tokens equal position by position (%), over the longer of each pair. */
function tokenAgreement(a: readonly Decode[], b: readonly Decode[]): number {
  let agreeing = 0;
  let positions = 0;
  a.forEach((x, r) => {
    const y = b[r] as Decode;
    const n = Math.max(x.tokens.length, y.tokens.length);
    for (let k = 0; k < n; k++) if (x.tokens[k] === y.tokens[k]) agreeing++;
    positions += n;
  });
  return (100 * agreeing) / positions;
}

/** Token ids to text with the model's tokenizer (for the detail file's forks), and its EOS id. */
async function tokenizer(modelFile: string): Promise<{ pieces: (tokens: number[]) => string; eos: number | undefined; dispose(): Promise<void> }> {
  const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: modelFile, gpuLayers: 0, vocabOnly: true });
  return { pieces: (tokens) => model.detokenize(tokens as unknown as Token[], true), eos: model.tokens.eos ?? undefined, dispose: () => model.dispose() };
}

if (import.meta.main) console.log(JSON.stringify(await run(), null, 2));
