/**
 * Concord's normative sampler (spec/09-policies.md, seeded policy). Any backend that exposes
 * logits gets the spec's token from them, so sampling randomness drops out of agreement and only
 * floating-point drift in the logits is left.
 *
 * Everything below is IEEE-754 binary64 (+, -, *, / and floor, all correctly rounded, no fused
 * multiply-add) or exact integer arithmetic, so every language reproduces it bit for bit. The
 * softmax is fixed point: weights are integers and every sum is exact, so summation order can
 * never change a result (a float softmax sum depends on its order, which would force a full sort
 * of the vocabulary; exact sums let an implementation select instead).
 *
 * Inputs: logits l[0..V-1] taken as binary64 (float32 converts exactly); each is finite or -inf
 * (masked); at least one is finite; 1 <= V <= 2^20. NaN or +inf is an error.
 *
 * Seeds:
 *   decode seed  = taggedHash("concord/decode-seed", requestId)                    (32 bytes)
 *   U_t          = first 8 bytes of taggedHash("concord/step-uniform", seed, BE32(t)) read as a
 *                  big-endian uint64, shifted right by 11 (its top 53 bits); u_t = U_t / 2^53.
 *
 * Greedy (temperatureMilli = 0):
 *   1. token = argmax l_i, ties to the lowest token id.
 *   2. margin = l_top1 - l_top2 (the runner-up in the same order; equal logits give 0), which is
 *      also the top-1 minus top-2 log-probability. marginPpm = min(floor(margin * 1e6), 2^32-1)
 *      (micro-nats; V = 1 or an -inf runner-up gives the cap).
 *
 * Sampled (temperatureMilli > 0):
 *   1. T = temperatureMilli / 1000; s_i = l_i / T. Candidate order: s descending, then token id
 *      ascending (a strict total order).
 *   2. Top-k: if 0 < topK < V keep only the first topK candidates.
 *   3. m = s of the first candidate; x_i = s_i - m (<= 0). Integer weight: w_i = 0 if x_i < -23
 *      (or -inf); otherwise, with K = 4096 * LOG2E and H = LN2 / 4096 (scalings by 2^12, exact):
 *          n   = floor((-x_i) * K + 0.5)          x_i in 1/4096ths of a bit, rounded; n >= 0
 *          r   = x_i + n * H                      |r| <= ~ln2 / 8192
 *          p   = 1 + r * (1 + r * 0.5)
 *          w_i = floor((E[n mod 4096] * p) * 2^(32 - floor(n / 4096)))
 *      E[j] = exp13(-(j * H)) ~ 2^(-j/4096) (within 2e-16), where for y in [-ln2, 0]:
 *          exp13(y): k = floor(y * LOG2E + 0.5); r = (y - k * LN2_HI) - k * LN2_LO;
 *                    p = c_13; p = p * r + c_n for n = 12..0; exp13(y) = p * 2^k
 *      with c_n = 1 / n! (the correctly rounded quotient), LOG2E = 0x3FF71547652B82FE,
 *      LN2 = 0x3FE62E42FEFA39EF and fdlibm's split LN2_HI = 0x3FE62E42FEE00000,
 *      LN2_LO = 0x3DEA39EF35793C76. (w_i / 2^32 is exp(x_i) to ~1e-13 relative; the top
 *      candidate weighs exactly 2^32; a token e^-23 ~ 2^-33 times as likely as the top one
 *      weighs 0 and is never drawn. spec/vectors/sampler.json pins a digest of E.)
 *      W = sum of the kept w_i: an exact integer (<= 2^52).
 *   4. Top-p: if topPPpm < 1e6: need = ceil(W * topPPpm / 1e6); keep the shortest non-empty
 *      prefix (in candidate order) whose weight sum is >= need. W_n = that prefix's weight.
 *      (cumulative probability >= p, in exact arithmetic.)
 *   5. The kept tokens (the nucleus) are laid out in token-id order, not candidate order, and
 *      cum_j is the weight sum of nucleus tokens up to and including the j-th. The chosen token
 *      is the first j with U_t * W_n < cum_j * 2^53 (u < cdf_j, exact; the last token always
 *      qualifies, so no rounding guard is needed).
 *   6. margin = min(u - cdf_{j-1}, cdf_j - u) with cdf_j = cum_j / W_n, cdf_{-1} = 0: the
 *      distance from u to the nearer edge of the chosen token's interval.
 *      marginPpm = floor(margin * 1e6), computed exactly:
 *        floor(min(U*W_n - cum_{j-1}*2^53, cum_j*2^53 - U*W_n) * 1e6 / (2^53 * W_n)).
 *
 * Why the CDF runs in token-id order: in logit order, two nearly tied likely tokens swap places
 * under tiny drift and u then lands in the other one however far it is from an edge, so the
 * margin would not bound anything. In id order every edge moves continuously with the logits:
 * with the kept set unchanged, logits moved by at most d move every edge by at most
 * tanh(d / 2T) <= d / 2T (plus at most 2V / W <= 2V * 2^-32 from the integer floors), so a
 * change that moves the edges less than the margin keeps the token. The margin does not cover a near-tie at the top-k
 * or top-p boundary itself (a token entering or leaving the kept set).
 *
 * This implementation never sorts the vocabulary. One pass finds the max, a branch-free pass
 * keeps the survivors (x >= -23) in id order, and each survivor's n files it into one of ~2,100
 * buckets (n is monotone in candidate order, so a bucket is an interval of that order): the top-k
 * and top-p boundaries come from bucket counts and exact bucket weight sums, sorting only the one
 * bucket a boundary falls in. A small nucleus is gathered from its buckets and sorted by id; a
 * large one is drawn from in one scan over the survivors. test/property/sampler.test.ts checks
 * all of it against the full-sort definition above.
 */
import { ConcordError } from "../errors.ts";
import { taggedHash } from "../wire/hash.ts";
import type { Bytes, SamplingParams } from "../wire/types.ts";

export type Logits = Float32Array | Float64Array | readonly number[];

export interface SampledToken {
  token: number;
  /** Greedy: top-1 minus top-2 logit in micro-nats. Sampled: distance of u to the chosen interval's nearer edge, in ppm. */
  marginPpm: number;
}

/** Largest vocabulary: keeps every weight sum below 2^53, hence exact in binary64. */
export const MAX_VOCAB = 1 << 20;
/** Greedy margins are capped to fit a uint32. */
export const MARGIN_CAP_PPM = 0xffff_ffff;
/** Candidates more than this many (scaled) nats below the top one weigh 0. */
export const WEIGHT_CUTOFF = 23;

const PPM = 1_000_000;
const LOG2E = 1.4426950408889634; // 0x3FF71547652B82FE
const LN2 = 0.6931471805599453; // 0x3FE62E42FEFA39EF
const LN2_HI = 6.93147180369123816490e-1; // 0x3FE62E42FEE00000 (fdlibm's split of ln 2, for the table)
const LN2_LO = 1.90821492927058770002e-10; // 0x3DEA39EF35793C76
const TABLE_BITS = 12;
const TABLE_SIZE = 1 << TABLE_BITS;
/** Scalings by 2^12: exact. */
const K = TABLE_SIZE * LOG2E;
/** -K: x * -K equals (-x) * K exactly, and avoids a negation per token. */
const NEG_K = -K;
const H = LN2 / TABLE_SIZE;
/** Largest n a surviving candidate can have (x >= -23). */
const MAX_N = Math.floor(WEIGHT_CUTOFF * K + 0.5);
/** Buckets of 64 consecutive n: fine enough that a boundary bucket is small, coarse enough to scan. */
const BUCKET_SHIFT = 6;
const BUCKETS = (MAX_N >> BUCKET_SHIFT) + 1;

// c_n = 1 / n! (n! is exact in binary64 for n <= 18, so each quotient is correctly rounded).
const C: number[] = [];
for (let n = 0, factorial = 1; n <= 13; n++) {
  if (n > 0) factorial *= n;
  C.push(1 / factorial);
}

/** exp(y) for y in [-ln2, 0] with IEEE operations only: builds the weight table. */
function exp13(y: number): number {
  const k = Math.floor(y * LOG2E + 0.5);
  const r = y - k * LN2_HI - k * LN2_LO;
  let p = C[13] as number;
  for (let n = 12; n >= 0; n--) p = p * r + (C[n] as number);
  return p * 2 ** k;
}

/** E[j] ~ 2^(-j/4096). */
const E = new Float64Array(TABLE_SIZE);
for (let j = 0; j < TABLE_SIZE; j++) E[j] = exp13(-(j * H));

/** 2^(32 - q) for the octave q = floor(n / 4096) of every surviving candidate (exact). */
const SCALE = Float64Array.from({ length: (MAX_N >> TABLE_BITS) + 1 }, (_, q) => 2 ** (32 - q));

/** A copy of the spec's weight table E, for other implementations to check theirs against. */
export function weightTable(): Float64Array {
  return E.slice();
}

/**
 * The spec's integer weight of a candidate whose scaled logit sits `x` below the top one (x <= 0).
 * @example candidateWeight(0) === 2 ** 32; candidateWeight(-30) === 0
 */
export function candidateWeight(x: number): number {
  if (!(x >= -WEIGHT_CUTOFF)) return 0;
  return weightOf(x, Math.floor(x * NEG_K + 0.5));
}

function weightOf(x: number, n: number): number {
  const r = x + n * H;
  return Math.floor((E[n & (TABLE_SIZE - 1)] as number) * (1 + r * (1 + r * 0.5)) * (SCALE[n >> TABLE_BITS] as number));
}

/**
 * The per-request decode seed every committee member samples with.
 * @example deriveDecodeSeed(requestId) // 32 bytes
 */
export function deriveDecodeSeed(requestId: Bytes): Bytes {
  return taggedHash("concord/decode-seed", requestId);
}

/** U_t: the top 53 bits of H(seed, step) as an integer in [0, 2^53). */
export function stepUniformBits(seed: Bytes, step: number): bigint {
  checkStep(step);
  const stepBytes = new Uint8Array(4);
  new DataView(stepBytes.buffer).setUint32(0, step, false);
  const digest = taggedHash("concord/step-uniform", seed, stepBytes);
  return new DataView(digest.buffer, digest.byteOffset, 8).getBigUint64(0, false) >> 11n;
}

/**
 * u_t in [0, 1): the uniform that step `step` of a decode draws with.
 * @example stepUniform(deriveDecodeSeed(requestId), 0) // in [0, 1)
 */
export function stepUniform(seed: Bytes, step: number): number {
  return Number(stepUniformBits(seed, step)) / 2 ** 53;
}

/**
 * Draws the next token per the spec (see the module comment): same logits, parameters, seed and
 * step give the same token and margin on every machine.
 * @example sampleNext(logits, { temperatureMilli: 700, topK: 0, topPPpm: 950_000, maxTokens: 64 }, seed, 0)
 */
export function sampleNext(logits: Logits, params: SamplingParams, seed: Bytes, step: number): SampledToken {
  checkParams(params);
  checkStep(step);
  const vocab = logits.length;
  if (vocab < 1 || vocab > MAX_VOCAB) {
    throw new ConcordError("SAMPLER_INPUT", "vocabulary size out of range", { details: `${vocab}` });
  }
  return params.temperatureMilli === 0 ? greedy(logits) : sampled(logits, params, seed, step);
}

function greedy(logits: Logits): SampledToken {
  let top1 = -Infinity;
  let top2 = -Infinity;
  let token = -1;
  for (let i = 0; i < logits.length; i++) {
    const l = logits[i] as number;
    if (!(l < Infinity)) throw badLogit(i, l);
    // Strict '>' keeps the lowest id on ties; an equal logit becomes the runner-up (margin 0).
    if (l > top1) {
      top2 = top1;
      top1 = l;
      token = i;
    } else if (l > top2) {
      top2 = l;
    }
  }
  if (token < 0) throw new ConcordError("SAMPLER_INPUT", "every logit is -inf");
  const gap = (top1 - top2) * PPM;
  return { token, marginPpm: gap >= MARGIN_CAP_PPM ? MARGIN_CAP_PPM : Math.floor(gap) };
}

// Scratch space reused across calls: the sampler is synchronous, so no call ever sees another's.
// Survivor j (in id order) has token candIds[j], x candX[j], n candN[j], weight candW[j]; each
// bucket of n links its survivors through bucketHead / candNext.
let candIds = new Int32Array(0);
let candX = new Float64Array(0);
let candN = new Int32Array(0);
let candW = new Float64Array(0);
let candNext = new Int32Array(0);
const bucketHead = new Int32Array(BUCKETS);
const bucketCount = new Int32Array(BUCKETS);
const bucketWeight = new Float64Array(BUCKETS);
/** Weight sums of runs of 256 consecutive survivors: a draw over all of them skips whole runs. */
const BLOCK_SHIFT = 8;
let blockWeight = new Float64Array(0);
/** A nucleus this small (against all survivors) is gathered from the bucket lists, not scanned for. */
const GATHER_FRACTION = 8;

function ensureScratch(vocab: number): void {
  if (candIds.length >= vocab) return;
  candIds = new Int32Array(vocab);
  candX = new Float64Array(vocab);
  candN = new Int32Array(vocab);
  candW = new Float64Array(vocab);
  candNext = new Int32Array(vocab);
  blockWeight = new Float64Array((vocab >> BLOCK_SHIFT) + 1);
}

/** The last kept candidate: everything at or before it in candidate order is kept. */
interface Boundary {
  n: number;
  s: number;
  id: number;
}
const EVERYTHING: Boundary = { n: MAX_N + 1, s: -Infinity, id: 0 };

function sampled(logits: Logits, params: SamplingParams, seed: Bytes, step: number): SampledToken {
  const vocab = logits.length;
  const temperature = params.temperatureMilli / 1000;
  const lmax = maxLogit(logits);
  const m = lmax / temperature;
  if (!Number.isFinite(m)) throw new ConcordError("SAMPLER_INPUT", "logit too large for the temperature", { details: `${lmax}` });
  ensureScratch(vocab);
  const count = survivors(logits, temperature, m);
  const topK = params.topK > 0 && params.topK < count ? params.topK : 0;
  bucketHead.fill(-1);
  bucketCount.fill(0);
  bucketWeight.fill(0);

  // Kept survivors (after top-k), as a list of survivor indices, or null for all of them.
  let kept: number[] | null = null;
  if (topK === 0) {
    weighAll(count);
  } else {
    // Survivors are a prefix of the candidate order, so top-k of the survivors is top-k of the
    // vocabulary less zero-weight tokens, which can never be drawn or end a prefix.
    linkAll(count);
    let ahead = 0;
    let bucket = 0;
    while (ahead + (bucketCount[bucket] as number) < topK) {
      ahead += bucketCount[bucket] as number;
      bucket += 1;
    }
    kept = [];
    for (let b = 0; b < bucket; b++) for (let j = bucketHead[b] as number; j >= 0; j = candNext[j] as number) kept.push(j);
    const partial = sortedBucket(logits, temperature, bucket).slice(0, topK - ahead);
    for (const j of partial) kept.push(j);
    for (const j of kept) {
      const n = candN[j] as number;
      const w = weightOf(candX[j] as number, n);
      candW[j] = w;
      const b = n >> BUCKET_SHIFT;
      bucketWeight[b] = (bucketWeight[b] as number) + w;
    }
    // The boundary bucket now lists only its kept members. Later buckets weigh 0, so top-p
    // never reaches them.
    bucketHead[bucket] = -1;
    for (let i = partial.length - 1; i >= 0; i--) {
      const j = partial[i] as number;
      candNext[j] = bucketHead[bucket] as number;
      bucketHead[bucket] = j;
    }
  }
  let total = 0;
  for (let b = 0; b < BUCKETS; b++) total += bucketWeight[b] as number;

  // Top-p: the first bucket where the running weight reaches `need` holds the boundary; only
  // that bucket is sorted. Zero-weight survivors never end the prefix, and the boundary's bucket
  // weighs > 0 (need = 0 stops at bucket 0, which holds the top candidate).
  let nucleus: number[] | null = kept;
  let nucleusWeight = total;
  if (params.topPPpm < PPM) {
    const need = Number((BigInt(total) * BigInt(params.topPPpm) + BigInt(PPM - 1)) / BigInt(PPM));
    let ahead = 0;
    let bucket = 0;
    while (ahead + (bucketWeight[bucket] as number) < need || bucketWeight[bucket] === 0) {
      ahead += bucketWeight[bucket] as number;
      bucket += 1;
    }
    const boundaryMembers: number[] = [];
    for (const j of sortedBucket(logits, temperature, bucket)) {
      const w = candW[j] as number;
      boundaryMembers.push(j);
      if (ahead + w >= need) {
        nucleusWeight = ahead + w;
        break;
      }
      ahead += w;
    }
    // Gather the nucleus from the bucket lists unless it is a large share of the survivors.
    let size = boundaryMembers.length;
    for (let b = 0; b < bucket; b++) size += bucketCount[b] as number;
    if (kept !== null || size * GATHER_FRACTION <= count) {
      nucleus = boundaryMembers;
      for (let b = 0; b < bucket; b++) for (let j = bucketHead[b] as number; j >= 0; j = candNext[j] as number) nucleus.push(j);
    } else {
      const last = boundaryMembers[boundaryMembers.length - 1] as number;
      const id = candIds[last] as number;
      const boundary: Boundary = { n: candN[last] as number, s: (logits[id] as number) / temperature, id };
      return drawScanning(logits, temperature, count, boundary, nucleusWeight, seed, step);
    }
  }

  if (nucleus === null) return drawAll(count, nucleusWeight, seed, step);
  // Survivor indices run in token-id order, so sorting them lays the nucleus out by id.
  const members = Int32Array.from(nucleus).sort();
  return drawFrom(members, nucleusWeight, seed, step);
}

/** Draws over an explicit nucleus (survivor indices in id order): the CDF runs by token id. */
function drawFrom(members: Int32Array, nucleusWeight: number, seed: Bytes, step: number): SampledToken {
  const scaled = stepUniformBits(seed, step) * BigInt(nucleusWeight);
  const target = Number(scaled >> 53n);
  let cum = 0;
  for (const j of members) {
    const w = candW[j] as number;
    cum += w;
    if (target < cum) return result(j, cum, scaled, nucleusWeight);
  }
  throw new Error("assertion failed: sampler draw ran past the nucleus");
}

/** Draws when every survivor is in the nucleus: whole runs first, then within the run. */
function drawAll(count: number, nucleusWeight: number, seed: Bytes, step: number): SampledToken {
  const scaled = stepUniformBits(seed, step) * BigInt(nucleusWeight);
  const target = Number(scaled >> 53n);
  let cum = 0;
  let block = 0;
  while (cum + (blockWeight[block] as number) <= target) cum += blockWeight[block++] as number;
  const end = Math.min(count, (block + 1) << BLOCK_SHIFT);
  for (let j = block << BLOCK_SHIFT; j < end; j++) {
    cum += candW[j] as number;
    if (target < cum) return result(j, cum, scaled, nucleusWeight);
  }
  throw new Error("assertion failed: sampler draw ran past the nucleus");
}

/** Draws by scanning every survivor in id order, keeping those at or before `boundary`. */
function drawScanning(
  logits: Logits,
  temperature: number,
  count: number,
  boundary: Boundary,
  nucleusWeight: number,
  seed: Bytes,
  step: number,
): SampledToken {
  const scaled = stepUniformBits(seed, step) * BigInt(nucleusWeight);
  const target = Number(scaled >> 53n); // floor(u * W_n); u < cum / W_n  <=>  target < cum
  const ns = candN;
  const ws = candW;
  let cum = 0;
  for (let j = 0; j < count; j++) {
    const n = ns[j] as number;
    if (n > boundary.n || (n === boundary.n && !inPrefix(logits, temperature, j, boundary))) continue;
    cum += ws[j] as number;
    if (target < cum) return result(j, cum, scaled, nucleusWeight);
  }
  throw new Error("assertion failed: sampler draw ran past the nucleus");
}

function result(j: number, cum: number, scaled: bigint, nucleusWeight: number): SampledToken {
  const w = candW[j] as number;
  const below = scaled - (BigInt(cum - w) << 53n);
  const above = (BigInt(cum) << 53n) - scaled;
  const nearest = below < above ? below : above;
  return { token: candIds[j] as number, marginPpm: Number((nearest * BigInt(PPM)) / (BigInt(nucleusWeight) << 53n)) };
}

/** Validates the logits and returns the largest. */
function maxLogit(logits: Logits): number {
  // Math.max is branch-free and propagates NaN and +inf, so one check after the loop suffices.
  let even = -Infinity;
  let odd = -Infinity;
  const vocab = logits.length;
  let i = 0;
  for (; i + 1 < vocab; i += 2) {
    even = Math.max(even, logits[i] as number);
    odd = Math.max(odd, logits[i + 1] as number);
  }
  if (i < vocab) even = Math.max(even, logits[i] as number);
  const lmax = Math.max(even, odd);
  if (!(lmax < Infinity)) {
    for (let j = 0; j < vocab; j++) {
      const l = logits[j] as number;
      if (!(l < Infinity)) throw badLogit(j, l);
    }
  }
  if (lmax === -Infinity) throw new ConcordError("SAMPLER_INPUT", "every logit is -inf");
  return lmax;
}

/**
 * Survivors (x >= -23) in id order with their x. Branch-free compaction (every token is written,
 * the count advances only for survivors): a data-dependent branch here mispredicts about once
 * per token and costs more than all the arithmetic.
 */
function survivors(logits: Logits, temperature: number, m: number): number {
  const ids = candIds;
  const xs = candX;
  const vocab = logits.length;
  let count = 0;
  for (let i = 0; i < vocab; i++) {
    const x = (logits[i] as number) / temperature - m;
    ids[count] = i;
    xs[count] = x;
    count += Number(x >= -WEIGHT_CUTOFF);
  }
  return count;
}

/** n and the weight of every survivor; per bucket: weight sum, count and member list; per run of 256: weight sum. */
function weighAll(count: number): void {
  const xs = candX;
  const ns = candN;
  const ws = candW;
  const next = candNext;
  const heads = bucketHead;
  const counts = bucketCount;
  const weights = bucketWeight;
  const blocks = blockWeight;
  blocks.fill(0, 0, (count >> BLOCK_SHIFT) + 1);
  for (let j = 0; j < count; j++) {
    const x = xs[j] as number;
    const n = Math.floor(x * NEG_K + 0.5);
    // weightOf, inlined by hand: this loop runs once per survivor.
    const r = x + n * H;
    const w = Math.floor((E[n & (TABLE_SIZE - 1)] as number) * (1 + r * (1 + r * 0.5)) * (SCALE[n >> TABLE_BITS] as number));
    ns[j] = n;
    ws[j] = w;
    const bucket = n >> BUCKET_SHIFT;
    weights[bucket] = (weights[bucket] as number) + w;
    counts[bucket] = (counts[bucket] as number) + 1;
    next[j] = heads[bucket] as number;
    heads[bucket] = j;
    blocks[j >> BLOCK_SHIFT] = (blocks[j >> BLOCK_SHIFT] as number) + w;
  }
}

/** n of every survivor; per bucket: count and member list (weights wait for the top-k cut). */
function linkAll(count: number): void {
  const xs = candX;
  const ns = candN;
  const next = candNext;
  const heads = bucketHead;
  const counts = bucketCount;
  for (let j = 0; j < count; j++) {
    const n = Math.floor((xs[j] as number) * NEG_K + 0.5);
    ns[j] = n;
    const bucket = n >> BUCKET_SHIFT;
    counts[bucket] = (counts[bucket] as number) + 1;
    next[j] = heads[bucket] as number;
    heads[bucket] = j;
  }
}

/** For survivor j with the boundary's n: is it at or before the boundary (s desc, id asc)? */
function inPrefix(logits: Logits, temperature: number, j: number, boundary: Boundary): boolean {
  const id = candIds[j] as number;
  const s = (logits[id] as number) / temperature;
  return s > boundary.s || (s === boundary.s && id <= boundary.id);
}

/** The members of one bucket, in candidate order (s desc, id asc). */
function sortedBucket(logits: Logits, temperature: number, bucket: number): number[] {
  const members: number[] = [];
  for (let j = bucketHead[bucket] as number; j >= 0; j = candNext[j] as number) members.push(j);
  const s = (j: number): number => (logits[candIds[j] as number] as number) / temperature;
  // Lists run in descending id order; reversing first leaves ties in s already in place.
  members.reverse();
  return members.sort((a, b) => s(b) - s(a) || a - b);
}

function checkParams(params: SamplingParams): void {
  const { temperatureMilli, topK, topPPpm } = params;
  if (!Number.isSafeInteger(temperatureMilli) || temperatureMilli < 0) {
    throw new ConcordError("SAMPLER_INPUT", "temperatureMilli must be a non-negative integer", { details: `${temperatureMilli}` });
  }
  if (!Number.isSafeInteger(topK) || topK < 0) {
    throw new ConcordError("SAMPLER_INPUT", "topK must be a non-negative integer", { details: `${topK}` });
  }
  if (!Number.isSafeInteger(topPPpm) || topPPpm < 0 || topPPpm > PPM) {
    throw new ConcordError("SAMPLER_INPUT", "topPPpm must be an integer in [0, 1000000]", { details: `${topPPpm}` });
  }
}

function checkStep(step: number): void {
  if (!Number.isInteger(step) || step < 0 || step > 0xffff_ffff) {
    throw new ConcordError("SAMPLER_INPUT", "step must be an integer in [0, 2^32)", { details: `${step}` });
  }
}

function badLogit(index: number, value: number): ConcordError {
  return new ConcordError("SAMPLER_INPUT", "logit is NaN or +inf", { details: `token ${index}: ${value}` });
}
