import { describe, expect, it } from "vitest";
import { isConcordError } from "../../../src/errors.ts";
import {
  candidateWeight,
  deriveDecodeSeed,
  MARGIN_CAP_PPM,
  sampleNext,
  stepUniform,
  stepUniformBits,
  weightTable,
} from "../../../src/agreement/sampler.ts";
import { taggedHash, utf8 } from "../../../src/wire/hash.ts";
import type { SamplingParams } from "../../../src/wire/types.ts";

const SEED = deriveDecodeSeed(utf8("concord/test-request"));
const greedy: SamplingParams = { temperatureMilli: 0, topK: 0, topPPpm: 1_000_000, maxTokens: 16 };
const sampled = (temperatureMilli: number, topK = 0, topPPpm = 1_000_000): SamplingParams => ({ temperatureMilli, topK, topPPpm, maxTokens: 16 });

/** Token frequencies over `steps` draws. */
function histogram(logits: readonly number[], params: SamplingParams, steps: number): number[] {
  const counts = new Array<number>(logits.length).fill(0);
  for (let step = 0; step < steps; step++) {
    const { token } = sampleNext(logits, params, SEED, step);
    counts[token] = (counts[token] as number) + 1;
  }
  return counts;
}

function expectSamplerError(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(isConcordError(caught, "SAMPLER_INPUT")).toBe(true);
}

describe("seeds", () => {
  it("derives the decode seed as taggedHash('concord/decode-seed', requestId)", () => {
    const requestId = utf8("concord/test-request");
    expect(deriveDecodeSeed(requestId)).toEqual(taggedHash("concord/decode-seed", requestId));
    // Known answers for other implementations: spec/vectors/sampler.json (seed-*, uniform-*).
  });

  it("takes u_t from the top 53 bits of taggedHash('concord/step-uniform', seed, BE32(step))", () => {
    const digest = taggedHash("concord/step-uniform", SEED, Uint8Array.of(0, 0, 0, 1));
    const top64 = new DataView(digest.buffer, digest.byteOffset, 8).getBigUint64(0, false);
    expect(stepUniformBits(SEED, 1)).toBe(top64 >> 11n);
    expect(stepUniform(SEED, 1)).toBe(Number(stepUniformBits(SEED, 1)) / 2 ** 53);
  });

  it("keeps u in [0, 1) and rejects steps outside [0, 2^32)", () => {
    for (let step = 0; step < 2000; step++) {
      const u = stepUniform(SEED, step);
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
    }
    expect(() => stepUniform(SEED, 0xffff_ffff)).not.toThrow();
    expectSamplerError(() => stepUniform(SEED, 2 ** 32));
    expectSamplerError(() => stepUniform(SEED, -1));
    expectSamplerError(() => stepUniform(SEED, 1.5));
  });
});

describe("weights", () => {
  it("weighs the top candidate 2^32 and cuts below -23", () => {
    expect(candidateWeight(0)).toBe(2 ** 32);
    expect(candidateWeight(-0)).toBe(2 ** 32);
    expect(candidateWeight(-23.0001)).toBe(0);
    expect(candidateWeight(-Infinity)).toBe(0);
  });

  it("tracks exp(x) * 2^32 to within the integer floor", () => {
    for (let x = -23; x <= 0; x += 0.000731) {
      const exact = Math.exp(x) * 2 ** 32;
      expect(Math.abs(candidateWeight(x) - exact)).toBeLessThanOrEqual(1 + exact * 1e-12);
    }
  });

  it("builds the 4096-entry table E[j] ~ 2^(-j/4096) (its digest is pinned in spec/vectors/sampler.json)", () => {
    const table = weightTable();
    expect(table.length).toBe(4096);
    expect(table[0]).toBe(1);
    for (let j = 0; j < 4096; j += 97) expect(Math.abs((table[j] as number) - 2 ** (-j / 4096))).toBeLessThan(3e-16);
  });
});

// Known answers (greedy ties, top-k and top-p boundaries, temperature extremes, bad logits, the
// eight draws this file used to pin) live in spec/vectors/sampler.json, run by
// test/spec/policy-vectors.test.ts; the tests here check behaviour over many draws.
describe("sampleNext: determinism", () => {
  const logits = [2.5, -1, 0.75, 3, 3, -Infinity, 1.25, 0];

  it("gives the same token and margin on every call and for every array type", () => {
    for (const params of [greedy, sampled(700), sampled(700, 3), sampled(1000, 0, 900_000), sampled(1300, 50, 950_000)]) {
      for (let step = 0; step < 50; step++) {
        const first = sampleNext(logits, params, SEED, step);
        expect(sampleNext(logits, params, SEED, step)).toEqual(first);
        expect(sampleNext(Float64Array.from(logits), params, SEED, step)).toEqual(first);
        expect(sampleNext(Float32Array.from(logits), params, SEED, step)).toEqual(first); // all exact in float32
      }
    }
  });

  it("changes with the seed and the step", () => {
    const flat = new Array<number>(64).fill(0);
    const a = Array.from({ length: 32 }, (_, step) => sampleNext(flat, sampled(1000), SEED, step).token);
    const b = Array.from({ length: 32 }, (_, step) => sampleNext(flat, sampled(1000), deriveDecodeSeed(utf8("other")), step).token);
    expect(new Set(a).size).toBeGreaterThan(10);
    expect(a).not.toEqual(b);
  });
});

describe("sampleNext: greedy", () => {
  it("takes the argmax and breaks ties toward the lowest token id", () => {
    expect(sampleNext([1, 3, 2.5], greedy, SEED, 0)).toEqual({ token: 1, marginPpm: 500_000 });
    expect(sampleNext([0, 7, 1, 7, 7], greedy, SEED, 0)).toEqual({ token: 1, marginPpm: 0 });
    expect(sampleNext([5, 5], greedy, SEED, 9)).toEqual({ token: 0, marginPpm: 0 });
    expect(sampleNext([-Infinity, -2, -2], greedy, SEED, 0)).toEqual({ token: 1, marginPpm: 0 });
  });

  it("reports the top-1 minus top-2 gap in micro-nats, floored and capped", () => {
    expect(sampleNext([0.25, 0.2500004], greedy, SEED, 0)).toEqual({ token: 1, marginPpm: 0 });
    expect(sampleNext([0.25, 0.2500015], greedy, SEED, 0).marginPpm).toBe(1);
    expect(sampleNext([42], greedy, SEED, 0)).toEqual({ token: 0, marginPpm: MARGIN_CAP_PPM });
    expect(sampleNext([1, -Infinity], greedy, SEED, 0).marginPpm).toBe(MARGIN_CAP_PPM);
    expect(sampleNext([1e6, 0], greedy, SEED, 0).marginPpm).toBe(MARGIN_CAP_PPM);
  });

  it("never changes the token under perturbations whose total effect is below the margin", () => {
    let checked = 0;
    for (let trial = 0; trial < 300; trial++) {
      const seed = deriveDecodeSeed(utf8(`greedy-${trial}`));
      const logits = Array.from({ length: 40 }, (_, i) => (stepUniform(seed, i) - 0.5) * 6);
      const { token, marginPpm } = sampleNext(logits, greedy, SEED, 0);
      const margin = marginPpm / 1e6;
      // Push the winner down and every rival up: a total effect of 0.999 margins.
      const moved = logits.map((l, i) => (i === token ? l - margin * 0.6 : l + margin * 0.399));
      expect(sampleNext(moved, greedy, SEED, 0).token).toBe(token);
      checked++;
    }
    expect(checked).toBe(300);
  });
});

describe("sampleNext: sampled", () => {
  // log-probabilities of [0.5, 0.3, 0.15, 0.05]
  const probs = [0.5, 0.3, 0.15, 0.05];
  const logits = probs.map(Math.log);

  it("draws in proportion to softmax(logits / T)", () => {
    const steps = 20_000;
    const counts = histogram(logits, sampled(1000), steps);
    probs.forEach((p, i) => {
      const sd = Math.sqrt(steps * p * (1 - p));
      expect(Math.abs((counts[i] as number) - steps * p)).toBeLessThan(4 * sd);
    });
    // T = 0.5 squares the odds: [25, 9, 2.25, 0.25] / 36.5
    const sharp = [25, 9, 2.25, 0.25].map((v) => v / 36.5);
    const counts2 = histogram(logits, sampled(500), steps);
    sharp.forEach((p, i) => expect(Math.abs((counts2[i] as number) - steps * p)).toBeLessThan(4 * Math.sqrt(steps * p * (1 - p)) + 1));
  });

  it("top-k keeps the k most likely tokens (ties to the lowest id)", () => {
    expect(histogram(logits, sampled(1000, 1), 300)).toEqual([300, 0, 0, 0]);
    const two = histogram(logits, sampled(1000, 2), 4000);
    expect(two[2]).toBe(0);
    expect(two[3]).toBe(0);
    expect(Math.abs((two[0] as number) / 4000 - 0.625)).toBeLessThan(0.03); // 0.5 / 0.8
    // Three tied tokens, k = 2: ids 1 and 2 stay, id 4 goes.
    const tied = histogram([-5, 1, 1, -5, 1], sampled(1000, 2), 2000);
    expect(tied[4]).toBe(0);
    expect((tied[1] as number) + (tied[2] as number)).toBe(2000);
  });

  it("top-p keeps the shortest prefix reaching p, then renormalizes", () => {
    expect(histogram(logits, sampled(1000, 0, 400_000), 300)).toEqual([300, 0, 0, 0]);
    expect(histogram(logits, sampled(1000, 0, 0), 300)).toEqual([300, 0, 0, 0]);
    const p75 = histogram(logits, sampled(1000, 0, 750_000), 4000); // {0.5, 0.3}
    expect(p75[2]).toBe(0);
    expect(p75[3]).toBe(0);
    expect(Math.abs((p75[0] as number) / 4000 - 0.625)).toBeLessThan(0.03);
    const p85 = histogram(logits, sampled(1000, 0, 850_000), 4000); // {0.5, 0.3, 0.15}
    expect(p85[3]).toBe(0);
    expect((p85[2] as number) / 4000).toBeGreaterThan(0.12);
    // Top-k first, then top-p over the renormalized survivors: k = 3 gives [0.526, 0.316, 0.158],
    // so p = 0.8 keeps two tokens (0.842) and p = 0.85 keeps three.
    const k3p80 = histogram(logits, sampled(1000, 3, 800_000), 4000);
    expect(k3p80[2]).toBe(0);
    expect(k3p80[3]).toBe(0);
    const k3p85 = histogram(logits, sampled(1000, 3, 850_000), 4000);
    expect(k3p85[3]).toBe(0);
    expect((k3p85[2] as number) / 4000).toBeGreaterThan(0.13);
  });

  it("rounds need = W * p up: a prefix just short of it does not count", () => {
    // Two tokens; find a gap for which floor(W * p) equals the top weight but W * p exceeds it.
    const top = 2 ** 32;
    for (let milli = 1; milli < 200_000; milli++) {
      const gap = milli / 10_000;
      const total = top + candidateWeight(-gap);
      const ppm = Math.ceil((top * 1e6) / total);
      const exact = (BigInt(total) * BigInt(ppm)) % 1_000_000n;
      const floorNeed = (BigInt(total) * BigInt(ppm)) / 1_000_000n;
      if (floorNeed !== BigInt(top) || exact === 0n) continue;
      // need = ceil(W * p) = top + 1 > top: the second token is in the nucleus.
      const counts = histogram([0, -gap], sampled(1000, 0, ppm), 3000);
      expect(counts[1]).toBeGreaterThan(0);
      return;
    }
    throw new Error("no knife-edge case found");
  });

  it("lays the CDF out in token-id order, so two nearly tied tokens swapping places moves nothing", () => {
    // In logit order the swap would hand every draw in [0, 0.4) to the other token.
    const a = [0, 0, -1];
    const b = [0, 1e-9, -1];
    for (let step = 0; step < 500; step++) {
      const first = sampleNext(a, sampled(1000), SEED, step);
      const second = sampleNext(b, sampled(1000), SEED, step);
      if (first.marginPpm > 1) expect(second.token).toBe(first.token);
    }
  });

  it("reports the distance of u to the nearer edge of the chosen interval", () => {
    // Two equal tokens: intervals [0, 0.5) and [0.5, 1).
    for (let step = 0; step < 200; step++) {
      const u = stepUniform(SEED, step);
      const { token, marginPpm } = sampleNext([3, 3], sampled(1000), SEED, step);
      expect(token).toBe(u < 0.5 ? 0 : 1);
      const margin = token === 0 ? Math.min(u, 0.5 - u) : Math.min(u - 0.5, 1 - u);
      expect(Math.abs(marginPpm - Math.floor(margin * 1e6))).toBeLessThanOrEqual(1);
    }
  });

  it("draws floor(u * V) from V equal logits; ties keep the lowest ids under top-k and top-p", () => {
    const vocab = 32_000;
    const flat = new Float32Array(vocab).fill(1.5);
    for (let step = 0; step < 100; step++) {
      const u = stepUniform(SEED, step);
      expect(sampleNext(flat, sampled(700), SEED, step).token).toBe(Math.floor(u * vocab));
      expect(sampleNext(flat, sampled(700, 50), SEED, step).token).toBe(Math.floor(u * 50));
      expect(sampleNext(flat, sampled(700, 0, 500_000), SEED, step).token).toBe(Math.floor(u * (vocab / 2)));
    }
  });

  it("handles masked (-inf) tokens, one-token vocabularies and extreme temperatures", () => {
    expect(histogram([-Infinity, 0, -Infinity], sampled(1000), 50)).toEqual([0, 50, 0]);
    expect(sampleNext([7], sampled(700), SEED, 3).token).toBe(0);
    expect(histogram([1, 0], sampled(1), 200)).toEqual([200, 0]); // T = 0.001: the gap is 1000 nats
    expect(new Set(histogram([1, 0, 0.5], sampled(1_000_000), 600)).size).toBeGreaterThan(1);
  });
});

describe("sampleNext: input errors", () => {
  it("rejects NaN, +inf, empty and all-masked logits", () => {
    for (const params of [greedy, sampled(700)]) {
      expectSamplerError(() => sampleNext([0, Number.NaN], params, SEED, 0));
      expectSamplerError(() => sampleNext([0, Infinity], params, SEED, 0));
      expectSamplerError(() => sampleNext([], params, SEED, 0));
      expectSamplerError(() => sampleNext([-Infinity, -Infinity], params, SEED, 0));
    }
    expectSamplerError(() => sampleNext([Number.MAX_VALUE], sampled(1), SEED, 0)); // l / T overflows
  });

  it("rejects malformed parameters", () => {
    expectSamplerError(() => sampleNext([0], sampled(-1), SEED, 0));
    expectSamplerError(() => sampleNext([0], sampled(0.5), SEED, 0));
    expectSamplerError(() => sampleNext([0], sampled(700, -1), SEED, 0));
    expectSamplerError(() => sampleNext([0], sampled(700, 1.5), SEED, 0));
    expectSamplerError(() => sampleNext([0], sampled(700, 0, 1_000_001), SEED, 0));
    expectSamplerError(() => sampleNext([0], sampled(700, 0, -1), SEED, 0));
  });
});
