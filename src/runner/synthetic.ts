/**
 * The built-in synthetic model: a small decoder-only transformer written in TypeScript, named
 * honestly as synthetic (no real weights can be downloaded here). Weights come from a seeded
 * PRNG, so every node with the same `modelSeed` runs the same model and another seed is a
 * wrong model. Decoding uses Concord's sampler (src/agreement/sampler.ts) with the request's
 * decode seed, so sampling randomness is shared and only floating-point drift is left.
 *
 * Each node emulates its GPU with a hardware profile that changes nothing but the floating-point
 * path, the way GPUs differ: tensors are stored at bfloat16 precision (8 significant bits, like
 * the weights and activations of a served LLM), and every dot product (matmuls, attention, norms,
 * logits) is reduced by the profile: in float64 ("reference"), or in float32 sequentially
 * ("fp32-accumulate"), backwards ("reversed") or in blocks of n partial sums ("blocked-n", a
 * split-K kernel). A different reduction changes a float32 sum in its last bits; now and then
 * that flips the bfloat16 rounding of an activation, and the one-ulp difference flows on to the
 * logits. As on real GPUs, that flips only near-tie decisions: most requests decode identically
 * on every profile, a few fork, and once forked they continue differently.
 *
 * Model: vocabulary of 512 seeded pseudo-words (plus punctuation), d_model 64, 4 heads, 2 layers,
 * pre-RMSNorm attention + GELU MLP, sinusoidal positions, KV cache. Input words map to their own
 * token when in the vocabulary and to a hash bucket otherwise (the last 48 are kept).
 *
 * `runSynthetic` and `replaySynthetic` decode synchronously on the caller's thread (the simulator
 * and verifiers call them directly). The backend from `createSyntheticBackend` decodes on worker
 * threads instead (./synthetic-worker.ts, started on the first job): a job takes tens of ms of
 * CPU that a node's event loop needs for validating and forwarding gossip. The worker runs this
 * same module, so its results are bit-identical to `runSynthetic`'s.
 *
 * @example
 * const node = createSyntheticBackend({ modelSeed: "concord-synthetic-v1", hardware: "blocked-8" });
 * const { output, evidence } = await node.run({ requestId, model: "synthetic-v1", input: "hello", sampling });
 */
import { Worker } from "node:worker_threads";
import { deriveDecodeSeed, sampleNext } from "../agreement/sampler.ts";
import { ConcordError } from "../errors.ts";
import { cloneError, rebuildError, workerEntry, type ClonedError } from "../threads.ts";
import { taggedHash, toHex, utf8 } from "../wire/hash.ts";
import type { Bytes, Evidence } from "../wire/types.ts";
import { sleep, throwIfAborted } from "./backend.ts";
import type { InferenceBackend, InferenceJob, InferenceResult } from "./backend.ts";

/** A node's floating-point path. Profiles change rounding only, never the math. */
export interface HardwareProfile {
  readonly name: string;
  /** Dot products accumulate in float64 (a CPU reference) or float32 (GPU tensor cores). */
  readonly accumulate: "f64" | "f32";
  /** 0: one running sum. n > 0: partial sums over blocks of n elements, then added in order. */
  readonly block: number;
  /** Each block is summed from its last element to its first. */
  readonly reverse: boolean;
}

/** The named profiles; "blocked-<n>" for any n >= 1 also parses. */
export const HARDWARE_PROFILES: readonly HardwareProfile[] = [
  { name: "reference", accumulate: "f64", block: 0, reverse: false },
  { name: "fp32-accumulate", accumulate: "f32", block: 0, reverse: false },
  { name: "reversed", accumulate: "f32", block: 0, reverse: true },
  { name: "blocked-8", accumulate: "f32", block: 8, reverse: false },
  { name: "blocked-16", accumulate: "f32", block: 16, reverse: false },
];

/** Resolves a profile name; throws CONFIG for an unknown one. */
export function hardwareProfile(name: string): HardwareProfile {
  const known = HARDWARE_PROFILES.find((p) => p.name === name);
  if (known) return known;
  const blocked = /^blocked-([1-9][0-9]{0,3})$/.exec(name);
  if (blocked) return { name, accumulate: "f32", block: Number(blocked[1]), reverse: false };
  throw new ConcordError("CONFIG", "unknown hardware profile", {
    details: `${name} (known: ${HARDWARE_PROFILES.map((p) => p.name).join(", ")}, blocked-<n>)`,
  });
}

export interface SyntheticBackendOptions {
  /** Seeds the weights: equal seeds are the same model; another seed is a wrong model. */
  modelSeed: string | Bytes;
  /** The floating-point path this node emulates: a profile or its name. */
  hardware: string | HardwareProfile;
  /** Serve only this model name (jobs for another fail with BACKEND). Default: any name. */
  model?: string;
  /**
   * The batch size the node's kernels run at. Tiling follows the batch: a blocked profile's
   * block doubles for every doubling of the batch (batch 1: as named). Default 1.
   */
  batchSize?: number;
  /** Fixed artificial latency per job, in ms (benchmarks). Default 0. */
  delayMs?: number;
  /**
   * Worker threads the backend decodes on, started as jobs need them; each job goes to the
   * least-busy one. Default 1.
   */
  threads?: number;
}

// ---- Model shape ----
const VOCAB = 512;
const D = 64;
const HEADS = 4;
const HEAD_DIM = D / HEADS;
const FF = 192;
const LAYERS = 2;
const MAX_PROMPT = 48;
/** Most tokens one job may generate (a cap on memory and time, not a protocol rule). */
export const SYNTHETIC_MAX_TOKENS = 4096;
/** Significant bits tensors are stored with: 8 = bfloat16. */
const STORAGE_BITS = 8;
/** Spread of the logits (their standard deviation, in nats): sets how often decisions are near-ties. */
const LOGIT_SCALE = 4;
const PUNCTUATION = [".", ",", "?", "!"];

/** Rounds to STORAGE_BITS significant bits, to nearest (Veltkamp's split). */
const SPLITTER = 2 ** (53 - STORAGE_BITS) + 1;
function toStorage(x: number): number {
  const c = SPLITTER * x;
  return c - (c - x);
}

interface LayerWeights {
  wq: Float64Array;
  wk: Float64Array;
  wv: Float64Array;
  wo: Float64Array;
  w1: Float64Array;
  w2: Float64Array;
  norm1: Float64Array;
  norm2: Float64Array;
}

interface ModelWeights {
  embed: Float64Array; // (VOCAB + 1) x D; the last row is the start token
  unembed: Float64Array; // VOCAB x D
  finalNorm: Float64Array;
  layers: LayerWeights[];
}

/** xoshiro128**, seeded from a hash: the weights' only source of randomness. */
function seededRandom(seed: Bytes): () => number {
  const view = new DataView(seed.buffer, seed.byteOffset, 16);
  const s = [view.getUint32(0), view.getUint32(4), view.getUint32(8), view.getUint32(12)] as [number, number, number, number];
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  return () => {
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result / 4294967296;
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function gaussianMatrix(random: () => number, size: number, std: number): Float64Array {
  const out = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    const u = 1 - random();
    const g = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
    out[i] = toStorage(g * std);
  }
  return out;
}

function gains(random: () => number): Float64Array {
  return Float64Array.from({ length: D }, () => toStorage(1 + 0.1 * (random() - 0.5)));
}

const modelCache = new Map<string, ModelWeights>();

function modelFor(modelSeed: Bytes): ModelWeights {
  const key = toHex(modelSeed);
  const cached = modelCache.get(key);
  if (cached) return cached;
  const random = seededRandom(taggedHash("concord/synthetic-weights", modelSeed));
  const layers: LayerWeights[] = [];
  for (let l = 0; l < LAYERS; l++) {
    layers.push({
      wq: gaussianMatrix(random, D * D, 1 / Math.sqrt(D)),
      wk: gaussianMatrix(random, D * D, 1 / Math.sqrt(D)),
      wv: gaussianMatrix(random, D * D, 1 / Math.sqrt(D)),
      wo: gaussianMatrix(random, D * D, 1 / Math.sqrt(D)),
      w1: gaussianMatrix(random, FF * D, 1 / Math.sqrt(D)),
      w2: gaussianMatrix(random, D * FF, 1 / Math.sqrt(FF)),
      norm1: gains(random),
      norm2: gains(random),
    });
  }
  const weights: ModelWeights = {
    embed: gaussianMatrix(random, (VOCAB + 1) * D, 1),
    unembed: gaussianMatrix(random, VOCAB * D, LOGIT_SCALE / Math.sqrt(D)),
    finalNorm: gains(random),
    layers,
  };
  if (modelCache.size >= 16) modelCache.clear(); // a handful of seeds per process in practice
  modelCache.set(key, weights);
  return weights;
}

// ---- Vocabulary and tokenizer (fixed: shared by every model seed, like a tokenizer) ----

const VOCABULARY: readonly string[] = (() => {
  const random = seededRandom(taggedHash("concord/synthetic-vocabulary"));
  const onsets = ["", "b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "st", "tr", "ch", "sh", "th", "pl", "gr"];
  const vowels = ["a", "e", "i", "o", "u", "a", "e", "o", "ai", "ea", "ou", "io"];
  const codas = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "rk"];
  const pick = (list: readonly string[]): string => list[Math.floor(random() * list.length)] as string;
  const words = new Set<string>();
  while (words.size < VOCAB - PUNCTUATION.length) {
    const syllables = 1 + Math.floor(random() * random() * 3.2);
    let word = "";
    for (let i = 0; i < syllables; i++) word += pick(onsets) + pick(vowels) + (i === syllables - 1 ? pick(codas) : "");
    if (word.length >= 2) words.add(word);
  }
  return [...PUNCTUATION, ...words];
})();
const WORD_IDS = new Map(VOCABULARY.map((word, id) => [word, id]));
const START_TOKEN = VOCAB;

/** FNV-1a: maps an unknown input word to a token (stable, non-cryptographic). */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function tokenize(input: string): number[] {
  const pieces = input.toLowerCase().match(/[\p{L}\p{N}']+|[.,?!]/gu) ?? [];
  return pieces.slice(-MAX_PROMPT).map((piece) => WORD_IDS.get(piece) ?? fnv1a(piece) % VOCAB);
}

function detokenize(tokens: readonly number[]): string {
  let text = "";
  let capital = true;
  for (const token of tokens) {
    const word = VOCABULARY[token] as string;
    if (PUNCTUATION.includes(word)) {
      text += word;
      capital = word !== ",";
      continue;
    }
    text += (text.length > 0 ? " " : "") + (capital ? word[0]?.toUpperCase() + word.slice(1) : word);
    capital = false;
  }
  return text;
}

// ---- The floating-point path ----

interface FloatPath {
  f32: boolean;
  block: number;
  reverse: boolean;
}

/** a[ai..ai+n) . b[bi..bi+n), reduced the way the profile's kernels reduce. */
function dot(a: Float64Array, ai: number, b: Float64Array, bi: number, n: number, path: FloatPath): number {
  const block = path.block > 0 && path.block < n ? path.block : n;
  let total = 0;
  for (let start = 0; start < n; start += block) {
    const end = Math.min(n, start + block);
    let sum = 0;
    // Inputs carry 8 significant bits, so every product is exact in float32: only sums round.
    if (path.f32) {
      if (path.reverse) for (let i = end - 1; i >= start; i--) sum = Math.fround(sum + (a[ai + i] as number) * (b[bi + i] as number));
      else for (let i = start; i < end; i++) sum = Math.fround(sum + (a[ai + i] as number) * (b[bi + i] as number));
      total = start === 0 ? sum : Math.fround(total + sum);
    } else {
      if (path.reverse) for (let i = end - 1; i >= start; i--) sum += (a[ai + i] as number) * (b[bi + i] as number);
      else for (let i = start; i < end; i++) sum += (a[ai + i] as number) * (b[bi + i] as number);
      total = start === 0 ? sum : total + sum;
    }
  }
  return total;
}

/** Partial sums of the eight rows matvec is working on (reused; the model is synchronous). */
const partial = new Float64Array(8);

/** partial[j] = sum over i in [start, end) of W[row0 + j][i] * x[i], in float32, in the path's order. */
function blockF32(w: Float64Array, o: number, cols: number, x: Float64Array, start: number, end: number, reverse: boolean): void {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
  const first = reverse ? end - 1 : start;
  const stepBy = reverse ? -1 : 1;
  for (let k = 0, i = first; k < end - start; k++, i += stepBy) {
    const xi = x[i] as number;
    s0 = Math.fround(s0 + (w[o + i] as number) * xi);
    s1 = Math.fround(s1 + (w[o + cols + i] as number) * xi);
    s2 = Math.fround(s2 + (w[o + 2 * cols + i] as number) * xi);
    s3 = Math.fround(s3 + (w[o + 3 * cols + i] as number) * xi);
    s4 = Math.fround(s4 + (w[o + 4 * cols + i] as number) * xi);
    s5 = Math.fround(s5 + (w[o + 5 * cols + i] as number) * xi);
    s6 = Math.fround(s6 + (w[o + 6 * cols + i] as number) * xi);
    s7 = Math.fround(s7 + (w[o + 7 * cols + i] as number) * xi);
  }
  partial[0] = s0; partial[1] = s1; partial[2] = s2; partial[3] = s3;
  partial[4] = s4; partial[5] = s5; partial[6] = s6; partial[7] = s7;
}

/** blockF32 in float64. */
function blockF64(w: Float64Array, o: number, cols: number, x: Float64Array, start: number, end: number, reverse: boolean): void {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
  const first = reverse ? end - 1 : start;
  const stepBy = reverse ? -1 : 1;
  for (let k = 0, i = first; k < end - start; k++, i += stepBy) {
    const xi = x[i] as number;
    s0 += (w[o + i] as number) * xi;
    s1 += (w[o + cols + i] as number) * xi;
    s2 += (w[o + 2 * cols + i] as number) * xi;
    s3 += (w[o + 3 * cols + i] as number) * xi;
    s4 += (w[o + 4 * cols + i] as number) * xi;
    s5 += (w[o + 5 * cols + i] as number) * xi;
    s6 += (w[o + 6 * cols + i] as number) * xi;
    s7 += (w[o + 7 * cols + i] as number) * xi;
  }
  partial[0] = s0; partial[1] = s1; partial[2] = s2; partial[3] = s3;
  partial[4] = s4; partial[5] = s5; partial[6] = s6; partial[7] = s7;
}

/**
 * out = W x (W is rows x cols, row-major): each element reduced exactly as dot() reduces it and,
 * when `store` is set, rounded to bfloat16. Eight rows at a time: eight independent sums keep the
 * CPU busy while each waits on its rounding, and no row's order of operations changes.
 */
function matvec(out: Float64Array, w: Float64Array, x: Float64Array, rows: number, cols: number, path: FloatPath, store = true): void {
  const block = path.block > 0 && path.block < cols ? path.block : cols;
  let r = 0;
  for (; r + 8 <= rows; r += 8) {
    for (let start = 0; start < cols; start += block) {
      const end = Math.min(cols, start + block);
      if (path.f32) blockF32(w, r * cols, cols, x, start, end, path.reverse);
      else blockF64(w, r * cols, cols, x, start, end, path.reverse);
      for (let j = 0; j < 8; j++) {
        const sum = partial[j] as number;
        if (start === 0) out[r + j] = sum;
        else out[r + j] = path.f32 ? Math.fround((out[r + j] as number) + sum) : (out[r + j] as number) + sum;
      }
    }
    if (store) for (let j = 0; j < 8; j++) out[r + j] = toStorage(out[r + j] as number);
  }
  for (; r < rows; r++) {
    const value = dot(w, r * cols, x, 0, cols, path);
    out[r] = store ? toStorage(value) : value;
  }
}

function rmsNorm(out: Float64Array, x: Float64Array, gain: Float64Array, path: FloatPath): void {
  const meanSquare = dot(x, 0, x, 0, D, path) / D;
  const scale = 1 / Math.sqrt(meanSquare + 1e-6);
  for (let i = 0; i < D; i++) out[i] = toStorage((x[i] as number) * scale * (gain[i] as number));
}

function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

/** One decode: the transformer with its KV cache, on one floating-point path. */
class Decoder {
  readonly #weights: ModelWeights;
  readonly #path: FloatPath;
  readonly #keys: Float64Array[];
  readonly #values: Float64Array[];
  #length = 0;
  readonly #h = new Float64Array(D);
  readonly #normed = new Float64Array(D);
  readonly #q = new Float64Array(D);
  readonly #attended = new Float64Array(D);
  readonly #projected = new Float64Array(D);
  readonly #hidden = new Float64Array(FF);
  readonly #scores: Float64Array;
  readonly logits = new Float64Array(VOCAB);

  constructor(weights: ModelWeights, path: FloatPath, capacity: number) {
    this.#weights = weights;
    this.#path = path;
    this.#keys = Array.from({ length: LAYERS }, () => new Float64Array(capacity * D));
    this.#values = Array.from({ length: LAYERS }, () => new Float64Array(capacity * D));
    this.#scores = new Float64Array(capacity);
  }

  /** Feeds one token; afterwards `logits` predicts the next. */
  step(token: number, computeLogits: boolean): void {
    const w = this.#weights;
    const path = this.#path;
    const pos = this.#length++;
    const h = this.#h;
    for (let i = 0; i < D; i++) {
      const freq = Math.pow(10_000, -(2 * (i >> 1)) / D);
      const position = i % 2 === 0 ? Math.sin(pos * freq) : Math.cos(pos * freq);
      h[i] = toStorage((w.embed[token * D + i] as number) + position);
    }
    for (let l = 0; l < LAYERS; l++) {
      const layer = w.layers[l] as LayerWeights;
      const keys = this.#keys[l] as Float64Array;
      const values = this.#values[l] as Float64Array;
      rmsNorm(this.#normed, h, layer.norm1, path);
      matvec(this.#q, layer.wq, this.#normed, D, D, path);
      matvec(keys.subarray(pos * D, pos * D + D), layer.wk, this.#normed, D, D, path);
      matvec(values.subarray(pos * D, pos * D + D), layer.wv, this.#normed, D, D, path);
      this.#attend(keys, values, pos);
      matvec(this.#projected, layer.wo, this.#attended, D, D, path);
      for (let i = 0; i < D; i++) h[i] = toStorage((h[i] as number) + (this.#projected[i] as number));
      rmsNorm(this.#normed, h, layer.norm2, path);
      matvec(this.#hidden, layer.w1, this.#normed, FF, D, path);
      for (let i = 0; i < FF; i++) this.#hidden[i] = toStorage(gelu(this.#hidden[i] as number));
      matvec(this.#projected, layer.w2, this.#hidden, D, FF, path);
      for (let i = 0; i < D; i++) h[i] = toStorage((h[i] as number) + (this.#projected[i] as number));
    }
    if (!computeLogits) return;
    rmsNorm(this.#normed, h, w.finalNorm, path);
    // Logits stay in the accumulator's precision, as served models return them in float32.
    matvec(this.logits, w.unembed, this.#normed, VOCAB, D, path, false);
  }

  #attend(keys: Float64Array, values: Float64Array, pos: number): void {
    const path = this.#path;
    const scores = this.#scores;
    const scale = 1 / Math.sqrt(HEAD_DIM);
    for (let head = 0; head < HEADS; head++) {
      const offset = head * HEAD_DIM;
      let max = -Infinity;
      for (let t = 0; t <= pos; t++) {
        const score = toStorage(dot(this.#q, offset, keys, t * D + offset, HEAD_DIM, path) * scale);
        scores[t] = score;
        if (score > max) max = score;
      }
      let total = 0;
      for (let t = 0; t <= pos; t++) {
        const e = Math.exp((scores[t] as number) - max);
        scores[t] = e;
        total += e;
      }
      for (let t = 0; t <= pos; t++) scores[t] = toStorage((scores[t] as number) / total);
      for (let i = 0; i < HEAD_DIM; i++) {
        // The weighted sum over positions is a reduction too: same accumulator and order.
        let sum = 0;
        if (path.f32) {
          if (path.reverse) for (let t = pos; t >= 0; t--) sum = Math.fround(sum + (scores[t] as number) * (values[t * D + offset + i] as number));
          else for (let t = 0; t <= pos; t++) sum = Math.fround(sum + (scores[t] as number) * (values[t * D + offset + i] as number));
        } else {
          for (let t = 0; t <= pos; t++) sum += (scores[t] as number) * (values[t * D + offset + i] as number);
        }
        this.#attended[offset + i] = toStorage(sum);
      }
    }
  }
}

/**
 * Runs one job synchronously on one profile (the backend below adds the model check, abort and
 * delay). `batchSize` as in SyntheticBackendOptions.
 */
export function runSynthetic(modelSeed: string | Bytes, hardware: string | HardwareProfile, job: InferenceJob, batchSize = 1): InferenceResult {
  const evidence = decode(modelSeed, hardware, job, batchSize, undefined);
  return { output: detokenize(evidence.tokens), evidence };
}

/**
 * Replays a claimed decode: feeds `claimed` tokens one by one and returns, per step, the token
 * this profile would have chosen after the claimed prefix and its margin. A verifier can locate
 * a fork and check the margin a node claimed there.
 */
export function replaySynthetic(modelSeed: string | Bytes, hardware: string | HardwareProfile, job: InferenceJob, claimed: readonly number[], batchSize = 1): Evidence {
  return decode(modelSeed, hardware, job, batchSize, claimed);
}

/** The token ids' text, as the synthetic backend spells its outputs. */
export function syntheticText(tokens: readonly number[]): string {
  return detokenize(tokens);
}

function decode(modelSeed: string | Bytes, hardware: string | HardwareProfile, job: InferenceJob, batchSize: number, claimed: readonly number[] | undefined): Evidence {
  const profile = typeof hardware === "string" ? hardwareProfile(hardware) : hardware;
  const seedBytes = typeof modelSeed === "string" ? utf8(modelSeed) : modelSeed;
  const steps = claimed ? claimed.length : job.sampling.maxTokens;
  if (!Number.isSafeInteger(steps) || steps < 0 || steps > SYNTHETIC_MAX_TOKENS) {
    throw new ConcordError("BACKEND", "maxTokens out of range for the synthetic model", { details: `${steps} (max ${SYNTHETIC_MAX_TOKENS})` });
  }
  if (claimed?.some((t) => !Number.isInteger(t) || t < 0 || t >= VOCAB)) {
    throw new ConcordError("BACKEND", "claimed token outside the synthetic vocabulary");
  }
  const path: FloatPath = {
    f32: profile.accumulate === "f32",
    block: profile.block > 0 ? profile.block * 2 ** Math.floor(Math.log2(Math.max(1, batchSize))) : 0,
    reverse: profile.reverse,
  };
  const prompt = [START_TOKEN, ...tokenize(job.input)];
  const decoder = new Decoder(modelFor(seedBytes), path, prompt.length + steps);
  const seed = deriveDecodeSeed(job.requestId);
  const tokens: number[] = [];
  const margins: number[] = [];
  prompt.forEach((token, i) => decoder.step(token, i === prompt.length - 1));
  for (let step = 0; step < steps; step++) {
    const { token, marginPpm } = sampleNext(decoder.logits, job.sampling, seed, step);
    tokens.push(token);
    margins.push(marginPpm);
    if (step + 1 < steps) decoder.step(claimed ? (claimed[step] as number) : token, true);
  }
  return { tokens, margins };
}

// ---- The backend: decodes on worker threads ----

/** One job as the backend posts it to a worker (internal: the worker protocol). */
export interface SyntheticWorkerJob {
  id: number;
  modelSeed: string | Bytes;
  hardware: HardwareProfile;
  batchSize: number;
  job: InferenceJob;
}

/** A worker's answer to one SyntheticWorkerJob (internal: the worker protocol). */
export type SyntheticWorkerReply = { id: number; result: InferenceResult } | { id: number; error: ClonedError };

/** Decodes one posted job, on the worker's thread; errors become replies, never exceptions. */
export function answerSyntheticJob(request: SyntheticWorkerJob): SyntheticWorkerReply {
  try {
    return { id: request.id, result: runSynthetic(request.modelSeed, request.hardware, request.job, request.batchSize) };
  } catch (error) {
    // A bug, not a rule, still comes back as a failed job (BACKEND), never a dead worker.
    return { id: request.id, error: cloneError(error, { code: "BACKEND", shortMessage: "synthetic decode failed" }) };
  }
}

interface PendingJob {
  resolve(result: InferenceResult): void;
  reject(error: ConcordError): void;
  /** The caller gave up (abort): the worker still computes it, and its answer is dropped. */
  abandoned: boolean;
}

interface WorkerSlot {
  readonly worker: Worker;
  /** Jobs posted and not answered yet, abandoned ones included: what the worker is busy with. */
  readonly jobs: Map<number, PendingJob>;
  stopped: boolean;
}

/**
 * Up to `threads` decode workers, started as jobs need them. A worker is unref'd while no caller
 * waits on it, so an idle backend never keeps the process alive, and ref'd while one does, so a
 * pending job is not lost when nothing else holds the event loop.
 */
class SyntheticWorkerPool {
  readonly #name: string;
  readonly #threads: number;
  #slots: WorkerSlot[] = [];
  #nextId = 0;
  readonly #closed = new AbortController();

  constructor(name: string, threads: number) {
    this.#name = name;
    this.#threads = threads;
  }

  /** Aborts when the pool closes (cuts a job's delay short). */
  get closedSignal(): AbortSignal {
    return this.#closed.signal;
  }

  closedError(): ConcordError {
    return new ConcordError("BACKEND", "backend closed", { details: this.#name });
  }

  run(request: Omit<SyntheticWorkerJob, "id">, signal: AbortSignal | undefined): Promise<InferenceResult> {
    if (this.#closed.signal.aborted) return Promise.reject(this.closedError());
    const slot = this.#leastBusy();
    const id = this.#nextId++;
    return new Promise<InferenceResult>((resolve, reject) => {
      const onAbort = (): void => {
        pending.abandoned = true;
        this.#updateRef(slot);
        reject(new ConcordError("BACKEND", "inference aborted", { details: this.#name, cause: signal?.reason }));
      };
      const pending: PendingJob = {
        abandoned: false,
        resolve(result) {
          signal?.removeEventListener("abort", onAbort);
          resolve(result);
        },
        reject(error) {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      try {
        slot.worker.postMessage({ id, ...request } satisfies SyntheticWorkerJob);
      } catch (cause) {
        reject(new ConcordError("BACKEND", "cannot post the job to the synthetic worker", { details: this.#name, cause }));
        return;
      }
      slot.jobs.set(id, pending);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#updateRef(slot);
    });
  }

  /** Terminates every worker; jobs in flight fail with BACKEND, and so do later ones. */
  async close(): Promise<void> {
    if (this.#closed.signal.aborted) return;
    this.#closed.abort(this.closedError());
    const slots = this.#slots;
    this.#slots = [];
    for (const slot of slots) this.#fail(slot, this.closedError());
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  /** The worker with the fewest jobs; a new one while all are busy and `threads` allows it. */
  #leastBusy(): WorkerSlot {
    let best: WorkerSlot | undefined;
    for (const slot of this.#slots) if (!best || slot.jobs.size < best.jobs.size) best = slot;
    if (best && (best.jobs.size === 0 || this.#slots.length >= this.#threads)) return best;
    return this.#spawn();
  }

  #spawn(): WorkerSlot {
    const slot: WorkerSlot = { worker: new Worker(workerEntry("synthetic-worker", import.meta.url)), jobs: new Map(), stopped: false };
    const { worker } = slot;
    worker.unref();
    worker.on("message", (reply: SyntheticWorkerReply) => {
      const pending = slot.jobs.get(reply.id);
      if (!pending) return;
      slot.jobs.delete(reply.id);
      this.#updateRef(slot);
      if (pending.abandoned) return;
      if ("result" in reply) pending.resolve(reply.result);
      else pending.reject(rebuildError(reply.error));
    });
    // A dead worker fails its jobs and leaves the pool; the next job starts a fresh one.
    const crashed = (details: string, cause?: unknown): void => {
      this.#slots = this.#slots.filter((other) => other !== slot);
      this.#fail(slot, new ConcordError("BACKEND", "synthetic worker stopped", { details: `${this.#name}: ${details}`, cause }));
    };
    worker.on("error", (error) => crashed(error.message, error));
    worker.on("exit", (code) => crashed(`exit code ${code}`));
    // An answer that cannot be deserialized leaves a job without one: treat it as a crash.
    worker.on("messageerror", (error) => {
      crashed(`unreadable reply: ${error.message}`, error);
      void worker.terminate();
    });
    this.#slots.push(slot);
    return slot;
  }

  #fail(slot: WorkerSlot, error: ConcordError): void {
    if (slot.stopped) return;
    slot.stopped = true;
    for (const pending of slot.jobs.values()) if (!pending.abandoned) pending.reject(error);
    slot.jobs.clear();
    slot.worker.unref();
  }

  #updateRef(slot: WorkerSlot): void {
    if (slot.stopped) return;
    let waited = false;
    for (const pending of slot.jobs.values()) waited ||= !pending.abandoned;
    if (waited) slot.worker.ref();
    else slot.worker.unref();
  }
}

/**
 * The synthetic backend for one node: its model seed and hardware profile. Jobs decode on worker
 * threads, with results bit-identical to `runSynthetic`; `close()` terminates the workers.
 * @example createSyntheticBackend({ modelSeed: "concord-synthetic-v1", hardware: "reversed", delayMs: 20 })
 */
export function createSyntheticBackend(options: SyntheticBackendOptions): InferenceBackend {
  const profile = typeof options.hardware === "string" ? hardwareProfile(options.hardware) : options.hardware;
  const { modelSeed, model, batchSize = 1, delayMs = 0, threads = 1 } = options;
  if (!Number.isSafeInteger(threads) || threads < 1) {
    throw new ConcordError("CONFIG", "synthetic backend threads must be a positive integer", { details: String(threads) });
  }
  const name = `synthetic:${profile.name}`;
  const pool = new SyntheticWorkerPool(name, threads);
  return {
    name,
    async run(job, signal) {
      throwIfAborted(signal, name);
      if (model !== undefined && job.model !== model) {
        throw new ConcordError("BACKEND", "model not served by this backend", { details: `${job.model} (serves ${model})` });
      }
      // Only the job's own fields cross the thread (a caller's object may carry more).
      const { requestId, model: jobModel, input, sampling } = job;
      const result = await pool.run({ modelSeed, hardware: profile, batchSize, job: { requestId, model: jobModel, input, sampling } }, signal);
      if (delayMs > 0) {
        try {
          await sleep(delayMs, signal ? AbortSignal.any([signal, pool.closedSignal]) : pool.closedSignal, name);
        } catch (error) {
          throw pool.closedSignal.aborted && !signal?.aborted ? pool.closedError() : error;
        }
      }
      throwIfAborted(signal, name);
      return result;
    },
    close: () => pool.close(),
  };
}
