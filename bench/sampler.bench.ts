/**
 * Sampler throughput over a 32,000-token vocabulary on one core: median steps/s for greedy and
 * sampled decoding (src/agreement/sampler.ts). Logit shapes (seeded):
 * - "peaked": a N(0, 2.5^2) bulk plus 1-20 likely tokens lifted by 6-14 nats. At T = 0.7 about
 *   60% of the vocabulary still lies within the 23-nat cutoff, so this is a heavy case.
 * - "flat": standard normal logits, the worst case: every token survives and needs a weight.
 * Run alone: `npx node bench/sampler.bench.ts`.
 */
import { deriveDecodeSeed, sampleNext } from "../src/agreement/sampler.ts";
import { utf8 } from "../src/wire/hash.ts";
import type { SamplingParams } from "../src/wire/types.ts";
import { mulberry32 } from "../src/sim/prng.ts";

const VOCAB = 32_000;
const VECTORS = 32;
const STEPS_PER_ROUND = 2_000;
const ROUNDS = 7;

function gaussian(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export function makeLogits(kind: "peaked" | "flat", seed: number): Float32Array[] {
  const random = mulberry32(seed);
  const out: Float32Array[] = [];
  for (let v = 0; v < VECTORS; v++) {
    const logits = new Float32Array(VOCAB);
    if (kind === "flat") {
      for (let i = 0; i < VOCAB; i++) logits[i] = gaussian(random);
    } else {
      for (let i = 0; i < VOCAB; i++) logits[i] = 2.5 * gaussian(random);
      const likely = 1 + Math.floor(random() * 20);
      for (let j = 0; j < likely; j++) {
        const i = Math.floor(random() * VOCAB);
        logits[i] = (logits[i] as number) + 6 + 8 * random();
      }
    }
    out.push(logits);
  }
  return out;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function stepsPerSecond(vectors: Float32Array[], params: SamplingParams): number {
  const seed = deriveDecodeSeed(utf8("bench/sampler"));
  let sink = 0;
  for (let i = 0; i < 500; i++) sink += sampleNext(vectors[i % VECTORS] as Float32Array, params, seed, i).token; // warm-up
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    for (let i = 0; i < STEPS_PER_ROUND; i++) {
      sink += sampleNext(vectors[i % VECTORS] as Float32Array, params, seed, round * STEPS_PER_ROUND + i).token;
    }
    rates.push((STEPS_PER_ROUND * 1000) / (performance.now() - start));
  }
  if (sink < 0) throw new Error("unreachable");
  return Math.round(median(rates));
}

export async function run(): Promise<Record<string, number>> {
  const peaked = makeLogits("peaked", 1);
  const flat = makeLogits("flat", 2);
  const p = (temperatureMilli: number, topK: number, topPPpm: number): SamplingParams => ({ temperatureMilli, topK, topPPpm, maxTokens: 1 });
  return {
    "sampler.greedy.steps_per_s": stepsPerSecond(peaked, p(0, 0, 1_000_000)),
    "sampler.t0.7_p0.95.steps_per_s": stepsPerSecond(peaked, p(700, 0, 950_000)),
    "sampler.t0.7_k50_p0.9.steps_per_s": stepsPerSecond(peaked, p(700, 50, 900_000)),
    "sampler.t0.7_nofilter.steps_per_s": stepsPerSecond(peaked, p(700, 0, 1_000_000)),
    "sampler.flat_t1.0_p0.95.steps_per_s": stepsPerSecond(flat, p(1000, 0, 950_000)),
    "sampler.flat_t0.7_k50_p0.9.steps_per_s": stepsPerSecond(flat, p(700, 50, 900_000)),
  };
}

if (import.meta.main) console.log(JSON.stringify(await run(), null, 2));
