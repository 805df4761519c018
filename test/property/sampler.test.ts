/**
 * The fast sampler against the naive definition of spec/09-policies.md (full sort of the
 * vocabulary, exact BigInt sums), and the margin's promise: logit changes too small to move the
 * chosen interval's edges past u never change the token.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sampleNext } from "../../src/agreement/sampler.ts";
import { taggedHash } from "../../src/wire/hash.ts";
import type { Bytes, SamplingParams } from "../../src/wire/types.ts";
import { mulberry32 } from "../../src/sim/prng.ts";

// ---- The naive reference, written from the module comment of src/agreement/sampler.ts ----

const LOG2E = 1.4426950408889634;
const LN2 = 0.6931471805599453;
const LN2_HI = 6.9314718036912382e-1;
const LN2_LO = 1.9082149292705877e-10;
const CAP = 0xffff_ffff;
const TWO_53 = 2n ** 53n;

function exp13(y: number): number {
  const k = Math.floor(y * LOG2E + 0.5);
  const r = y - k * LN2_HI - k * LN2_LO;
  const c = Array.from({ length: 14 }, (_, n) => 1 / Array.from({ length: n }, (_, i) => i + 1).reduce((a, b) => a * b, 1));
  let p = c[13] as number;
  for (let n = 12; n >= 0; n--) p = p * r + (c[n] as number);
  return p * 2 ** k;
}

const TABLE = Array.from({ length: 4096 }, (_, j) => exp13(-(j * (LN2 / 4096))));

function referenceWeight(x: number): bigint {
  if (!(x >= -23)) return 0n;
  const n = Math.floor(-x * (4096 * LOG2E) + 0.5);
  const r = x + n * (LN2 / 4096);
  const t = (TABLE[n % 4096] as number) * (1 + r * (1 + r * 0.5));
  return BigInt(Math.floor(t * 2 ** (32 - Math.floor(n / 4096))));
}

function referenceUniformBits(seed: Bytes, step: number): bigint {
  const be = new Uint8Array(4);
  new DataView(be.buffer).setUint32(0, step, false);
  const digest = taggedHash("concord/step-uniform", seed, be);
  let value = 0n;
  for (let i = 0; i < 8; i++) value = (value << 8n) | BigInt(digest[i] as number);
  return value >> 11n;
}

/** Candidate order: larger key first, then lower id (explicit compares: -inf - -inf is NaN). */
function byKeyThenId(key: readonly number[]): (a: number, b: number) => number {
  return (a, b) => {
    const ka = key[a] as number;
    const kb = key[b] as number;
    if (ka > kb) return -1;
    if (ka < kb) return 1;
    return a - b;
  };
}

export function referenceSample(logits: readonly number[], params: SamplingParams, seed: Bytes, step: number): { token: number; marginPpm: number } {
  const ids = logits.map((_, i) => i);
  if (params.temperatureMilli === 0) {
    const order = ids.sort(byKeyThenId(logits));
    const top1 = order[0] as number;
    const gap = order.length > 1 ? (logits[top1] as number) - (logits[order[1] as number] as number) : Infinity;
    const scaled = gap * 1e6;
    return { token: top1, marginPpm: scaled >= CAP ? CAP : Math.floor(scaled) };
  }
  const temperature = params.temperatureMilli / 1000;
  const s = logits.map((l) => l / temperature);
  let order = ids.sort(byKeyThenId(s));
  if (params.topK > 0 && params.topK < order.length) order = order.slice(0, params.topK);
  const m = s[order[0] as number] as number;
  const weight = new Map(order.map((i) => [i, referenceWeight((s[i] as number) - m)]));
  const total = order.reduce((sum, i) => sum + (weight.get(i) as bigint), 0n);
  let length = order.length;
  if (params.topPPpm < 1_000_000) {
    const need = (total * BigInt(params.topPPpm) + 999_999n) / 1_000_000n;
    let cum = 0n;
    for (length = 1; length <= order.length; length++) {
      cum += weight.get(order[length - 1] as number) as bigint;
      if (cum >= need) break;
    }
  }
  const nucleus = order.slice(0, length).sort((a, b) => a - b);
  const nucleusWeight = nucleus.reduce((sum, i) => sum + (weight.get(i) as bigint), 0n);
  const point = referenceUniformBits(seed, step) * nucleusWeight;
  let cum = 0n;
  for (const i of nucleus) {
    const before = cum;
    cum += weight.get(i) as bigint;
    if (point < cum * TWO_53) {
      const below = point - before * TWO_53;
      const above = cum * TWO_53 - point;
      const nearest = below < above ? below : above;
      return { token: i, marginPpm: Number((nearest * 1_000_000n) / (TWO_53 * nucleusWeight)) };
    }
  }
  throw new Error("reference draw ran past the nucleus");
}

// ---- Generators ----

const logitValue = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: -6, max: 6 }) }, // many exact ties
  { weight: 3, arbitrary: fc.double({ min: -40, max: 40, noNaN: true }) },
  { weight: 2, arbitrary: fc.double({ min: -40, max: 40, noNaN: true }).map(Math.fround) },
  { weight: 1, arbitrary: fc.constant(-Infinity) },
);
const scale = fc.constantFrom(1, 1, 1, 0.25, 1e-3, 7, 1e4, 1e9);
const logitsArb = fc
  .tuple(fc.array(logitValue, { minLength: 1, maxLength: 80 }), scale)
  .map(([values, factor]) => values.map((v) => v * factor))
  .filter((values) => values.some((v) => v > -Infinity));

const paramsArb = (vocabMax: number): fc.Arbitrary<SamplingParams> =>
  fc.record({
    temperatureMilli: fc.oneof(fc.constant(0), fc.constantFrom(1, 700, 1000, 1500), fc.integer({ min: 1, max: 5000 })),
    topK: fc.oneof(fc.constant(0), fc.constantFrom(1, 2, 50), fc.integer({ min: 0, max: vocabMax + 2 })),
    topPPpm: fc.oneof(fc.constant(1_000_000), fc.integer({ min: 900_000, max: 950_000 }), fc.integer({ min: 0, max: 1_000_000 }), fc.constant(0)),
    maxTokens: fc.constant(16),
  });

const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const stepArb = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constant(0xffff_ffff), fc.nat({ max: 0xffff_ffff }));


describe("sampler: fast path equals the full-sort definition", () => {
  it("agrees exactly on small vocabularies (ties, -inf, float32, huge and tiny scales)", () => {
    fc.assert(
      fc.property(logitsArb, paramsArb(80), seedArb, stepArb, (logits, params, seed, step) => {
        const expected = referenceSample(logits, params, seed, step);
        expect(sampleNext(logits, params, seed, step)).toEqual(expected);
        expect(sampleNext(Float64Array.from(logits), params, seed, step)).toEqual(expected);
      }),
      { seed: 20240601, numRuns: 1500 },
    );
  }, 60_000);

  it("agrees exactly on large vocabularies (bucket selection, many survivors)", () => {
    const shape = fc.record({
      vocab: fc.integer({ min: 500, max: 40_000 }),
      spread: fc.constantFrom(0.2, 1, 2.5, 6),
      peaks: fc.integer({ min: 0, max: 30 }),
      quantum: fc.constantFrom(0, 0.5, 1 / 64), // 0: continuous values; else many ties
      // A head of likely tokens spaced about one bucket (0.0108 nats) apart above the bulk: a
      // nucleus spread over neighbouring buckets, small next to the survivors.
      head: fc.integer({ min: 0, max: 60 }),
      headStep: fc.constantFrom(0.004, 0.0108, 0.02, 0.1),
      headLift: fc.double({ min: 2, max: 9, noNaN: true }),
      seed: fc.nat(),
    });
    fc.assert(
      fc.property(shape, paramsArb(40_000), seedArb, stepArb, (sh, params, seed, step) => {
        const random = mulberry32(sh.seed);
        const logits = new Float32Array(sh.vocab);
        for (let i = 0; i < sh.vocab; i++) {
          const g = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
          const v = sh.spread * g;
          logits[i] = sh.quantum > 0 ? Math.round(v / sh.quantum) * sh.quantum : v;
        }
        for (let p = 0; p < sh.peaks; p++) {
          const i = Math.floor(random() * sh.vocab);
          logits[i] = (logits[i] as number) + 4 + 10 * random();
        }
        for (let h = 0; h < sh.head; h++) {
          const i = Math.floor(random() * sh.vocab);
          logits[i] = 3 * sh.spread + sh.headLift - h * sh.headStep;
        }
        expect(sampleNext(logits, params, seed, step)).toEqual(referenceSample(Array.from(logits), params, seed, step));
      }),
      { seed: 7, numRuns: 120 },
    );
  }, 120_000);
});

describe("sampler: the margin bounds what drift can change", () => {
  it("greedy: moving every logit by less than half the margin keeps the token", () => {
    const arb = fc.record({
      logits: fc.array(fc.integer({ min: -20_000, max: 20_000 }).map((v) => v / 1000), { minLength: 2, maxLength: 60 }),
      noise: fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 60, maxLength: 60 }),
      seed: seedArb,
    });
    fc.assert(
      fc.property(arb, ({ logits, noise, seed }) => {
        const params: SamplingParams = { temperatureMilli: 0, topK: 0, topPPpm: 1_000_000, maxTokens: 1 };
        const { token, marginPpm } = sampleNext(logits, params, seed, 0);
        if (marginPpm === 0) return;
        const d = (marginPpm / 1e6 / 2) * 0.999;
        const moved = logits.map((l, i) => l + (noise[i] as number) * d);
        expect(sampleNext(moved, params, seed, 0).token).toBe(token);
      }),
      { seed: 11, numRuns: 1000 },
    );
  }, 60_000);

  it("sampled: logit drift d moves CDF edges by at most tanh(d / 2T), so a smaller move than the margin keeps the token", () => {
    const arb = fc.record({
      logits: fc.array(fc.double({ min: -12, max: 12, noNaN: true }), { minLength: 2, maxLength: 60 }),
      noise: fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 60, maxLength: 60 }),
      temperatureMilli: fc.integer({ min: 100, max: 3000 }),
      seed: seedArb,
      step: stepArb,
    });
    let checked = 0;
    fc.assert(
      fc.property(arb, ({ logits, noise, temperatureMilli, seed, step }) => {
        // No top-k/top-p: the margin does not cover a token entering or leaving the kept set.
        const params: SamplingParams = { temperatureMilli, topK: 0, topPPpm: 1_000_000, maxTokens: 1 };
        const { token, marginPpm } = sampleNext(logits, params, seed, step);
        const slack = (2 * logits.length) / 2 ** 32 + 1e-9; // integer weights: < 1 unit each
        const room = marginPpm / 1e6 - slack;
        if (room <= 0) return;
        const T = temperatureMilli / 1000;
        const d = 2 * T * Math.atanh(Math.min(room, 0.999)) * 0.99;
        const moved = logits.map((l, i) => l + (noise[i] as number) * d);
        checked++;
        expect(sampleNext(moved, params, seed, step).token).toBe(token);
      }),
      { seed: 12, numRuns: 1000 },
    );
    expect(checked).toBeGreaterThan(900);
  }, 60_000);
});
