/**
 * spec/vectors/sampler.json: known answers for the normative sampler (spec/09-policies.md,
 * "The sampler"): the decode seed, the per-step uniform, the weight table and weights, and
 * `sampleNext` (logits, sampling parameters, seed, step -> token and margin, or SAMPLER_INPUT).
 * The cases below are the single source; answers a person can work out are written here and
 * checked against the reference code, the rest are computed by it.
 */
import {
  candidateWeight,
  deriveDecodeSeed,
  MARGIN_CAP_PPM,
  sampleNext,
  stepUniformBits,
  weightTable,
} from "../../src/agreement/sampler.ts";
import { isConcordError, type ErrorCode } from "../../src/errors.ts";
import { sha256, taggedHash, toHex, utf8 } from "../../src/wire/hash.ts";
import type { Bytes, SamplingParams } from "../../src/wire/types.ts";
import type { NotedCase, NotedFile } from "./format.ts";

/** A logit as vector JSON: a number, or "-inf", "+inf", "nan" (JSON has no such numbers). */
type LogitJson = number | "-inf" | "+inf" | "nan";

function logitFromJson(value: LogitJson): number {
  if (value === "-inf") return -Infinity;
  if (value === "+inf") return Infinity;
  if (value === "nan") return Number.NaN;
  return value;
}

function logitToJson(value: number): LogitJson {
  if (Number.isNaN(value)) return "nan";
  if (value === Infinity) return "+inf";
  if (value === -Infinity) return "-inf";
  if (Object.is(value, -0)) throw new Error("gen-vectors: sampler.json writes no -0 (JSON would drop its sign)");
  return value;
}

/** The request ids the seeds derive from (seed = H("concord/decode-seed", requestId)). */
const REQUEST_A = utf8("concord/test-request");
const REQUEST_B = taggedHash("vector-request", "sampler");
const SEED_A = deriveDecodeSeed(REQUEST_A);
const SEED_B = deriveDecodeSeed(REQUEST_B);

const greedy: SamplingParams = { temperatureMilli: 0, topK: 0, topPPpm: 1_000_000, maxTokens: 16 };
const sampled = (temperatureMilli: number, topK = 0, topPPpm = 1_000_000): SamplingParams => ({ temperatureMilli, topK, topPPpm, maxTokens: 16 });

interface SampleCase {
  name: string;
  note: string;
  logits: readonly number[];
  sampling: SamplingParams;
  seed?: Bytes;
  step?: number;
  /** What a person can work out: checked against the reference code. */
  expect?: { token?: number; marginPpm?: number } | "SAMPLER_INPUT";
}

const MAX = Number.MAX_VALUE;
const PROBS = [0.5, 0.3, 0.15, 0.05].map(Math.log);
const PINNED = [2.5, -1, 0.75, 3, 3, -Infinity, 1.25, 0];
/** A 600-token vocabulary with logits on a grid of 1/16 (short, exact decimals). */
const VARIED = Array.from({ length: 600 }, (_, i) => ((i * 37) % 97) / 16 - 3);
/** 300 tokens, all but every 7th masked. */
const SPARSE = Array.from({ length: 300 }, (_, i) => (i % 7 === 0 ? ((i * 13) % 29) / 8 : -Infinity));

const sampleCases: SampleCase[] = [
  // Greedy.
  { name: "greedy-argmax", note: "The largest logit; margin (3 - 2.5) * 1e6 micro-nats.", logits: [1, 3, 2.5], sampling: greedy, expect: { token: 1, marginPpm: 500_000 } },
  { name: "greedy-tie-to-lowest-id", note: "Ties go to the lowest id; an equal runner-up gives margin 0.", logits: [0, 7, 1, 7, 7], sampling: greedy, expect: { token: 1, marginPpm: 0 } },
  { name: "greedy-two-equal", note: "Two equal logits: token 0, margin 0, whatever the step.", logits: [5, 5], sampling: greedy, step: 9, expect: { token: 0, marginPpm: 0 } },
  { name: "greedy-masked-first", note: "A masked (-inf) first token; the tie after it goes to the lower id.", logits: [-Infinity, -2, -2], sampling: greedy, expect: { token: 1, marginPpm: 0 } },
  { name: "greedy-margin-floors-below-one", note: "A gap of 0.4 micro-nats floors to 0.", logits: [0.25, 0.2500004], sampling: greedy, expect: { token: 1, marginPpm: 0 } },
  { name: "greedy-margin-one", note: "A gap of 1.5 micro-nats floors to 1.", logits: [0.25, 0.2500015], sampling: greedy, expect: { token: 1, marginPpm: 1 } },
  { name: "greedy-single-token", note: "V = 1: no runner-up, the margin is the cap 2^32 - 1.", logits: [42], sampling: greedy, expect: { token: 0, marginPpm: MARGIN_CAP_PPM } },
  { name: "greedy-masked-runner-up", note: "A -inf runner-up: gap +inf, the cap.", logits: [1, -Infinity], sampling: greedy, expect: { token: 0, marginPpm: MARGIN_CAP_PPM } },
  { name: "greedy-gap-above-cap", note: "A gap of 1e12 micro-nats is capped at 2^32 - 1.", logits: [1e6, 0], sampling: greedy, expect: { token: 0, marginPpm: MARGIN_CAP_PPM } },
  { name: "greedy-gap-overflows", note: "The difference of the extreme finite logits overflows to +inf: the cap.", logits: [MAX, -MAX], sampling: greedy, expect: { token: 0, marginPpm: MARGIN_CAP_PPM } },
  { name: "greedy-binary64-compare", note: "Logits compare as binary64: 0.1 + 0.2 is above 0.3; the gap (5.6e-17) floors to 0.", logits: [0.3, 0.1 + 0.2], sampling: greedy, expect: { token: 1, marginPpm: 0 } },
  { name: "greedy-float32-logits", note: "float32 logits, taken as binary64 exactly: (0.2f - 0.1f) * 1e6 = 100000.0015.", logits: [Math.fround(0.1), Math.fround(0.2), Math.fround(-1.5)], sampling: greedy, expect: { token: 1, marginPpm: 100_000 } },
  { name: "greedy-ignores-top-k-top-p-and-seed", note: "At temperature 0, topK, topPPpm, the seed and the step play no part.", logits: [1, 3, 2.5], sampling: { temperatureMilli: 0, topK: 1, topPPpm: 1, maxTokens: 1 }, seed: SEED_B, step: 0xffff_ffff, expect: { token: 1, marginPpm: 500_000 } },
  // Sampled: the pinned answers of the original unit test.
  ...([
    [sampled(700), 0, 4, 75700],
    [sampled(700), 1, 3, 61794],
    [sampled(700), 3, 4, 26586],
    [sampled(700, 3), 0, 4, 112160],
    [sampled(700, 3), 3, 4, 11416],
    [sampled(1000, 0, 900_000), 0, 4, 49658],
    [sampled(1000, 0, 900_000), 1, 3, 56471],
    [sampled(1300, 50, 950_000), 3, 4, 13904],
  ] as const).map(([sampling, step, token, marginPpm]): SampleCase => ({
    name: `sampled-t${sampling.temperatureMilli}-k${sampling.topK}-p${sampling.topPPpm}-step-${step}`,
    note: "Eight logits with a tie at the top and a masked token.",
    logits: PINNED,
    sampling,
    step,
    expect: { token, marginPpm },
  })),
  { name: "sampled-top-k-ties-keep-lowest-ids", note: "Three tied tokens and topK 2: ids 1 and 2 are kept, id 4 is not.", logits: [-5, 1, 1, -5, 1], sampling: sampled(1000, 2), step: 0 },
  { name: "sampled-top-k-ties-step-2", note: "The same at another step (u = 0.5176: the second half of the two kept).", logits: [-5, 1, 1, -5, 1], sampling: sampled(1000, 2), step: 2, expect: { token: 2 } },
  { name: "sampled-top-k-one", note: "topK 1 keeps the top token: margin = min(u, 1 - u) (u = 0.8878).", logits: PROBS, sampling: sampled(1000, 1), step: 0, expect: { token: 0, marginPpm: 112_160 } },
  { name: "sampled-top-k-at-vocabulary-size", note: "topK >= V keeps everything (the same draw as topK 0).", logits: PROBS, sampling: sampled(1000, 4), step: 1 },
  { name: "sampled-top-k-off", note: "topK 0: no top-k filter.", logits: PROBS, sampling: sampled(1000, 0), step: 1 },
  { name: "sampled-top-p-zero", note: "topPPpm 0 (allowed here, not on the wire): need = 0, the nucleus is the top candidate.", logits: [0.5, 2, 1], sampling: sampled(1000, 0, 0), step: 0, expect: { token: 1 } },
  { name: "sampled-top-p-exactly-reached", note: "Two equal tokens, p = 0.5: the first candidate's weight equals need, so the nucleus is token 0 alone.", logits: [3, 3], sampling: sampled(1000, 0, 500_000), step: 0, expect: { token: 0, marginPpm: 112_160 } },
  { name: "sampled-top-p-one-ppm-more", note: "p = 0.500001 needs both tokens: u = 0.8878 lands in token 1's half.", logits: [3, 3], sampling: sampled(1000, 0, 500_001), step: 0, expect: { token: 1, marginPpm: 112_160 } },
  { name: "sampled-top-p-need-rounds-up", note: "W * p is just above the top weight (floor equals it): need = ceil(W * p) brings token 1 into the nucleus, and u = 0.8878 draws it.", logits: [0, -0.0012], sampling: sampled(1000, 0, 500_300), step: 0, expect: { token: 1 } },
  { name: "sampled-top-k-then-top-p", note: "Top-k first, then top-p over the kept weights: k = 3 renormalizes to [0.526, 0.316, 0.158], so p = 0.8 keeps two tokens.", logits: PROBS, sampling: sampled(1000, 3, 800_000), step: 3 },
  { name: "sampled-temperature-one-milli", note: "T = 0.001: a gap of 1 nat is 1000 scaled nats, the runner-up weighs 0.", logits: [1, 0], sampling: sampled(1), step: 0, expect: { token: 0, marginPpm: 112_160 } },
  { name: "sampled-temperature-wire-max", note: "temperatureMilli 100,000 (T = 100), the wire's largest.", logits: [1, 0, 0.5], sampling: sampled(100_000), step: 0 },
  { name: "sampled-temperature-above-wire-max", note: "sampleNext itself takes any temperatureMilli >= 0.", logits: [1, 0, 0.5], sampling: sampled(1_000_000), step: 4 },
  { name: "sampled-masked-tokens", note: "-inf tokens weigh 0 and are never drawn.", logits: [-Infinity, 0, -Infinity], sampling: sampled(1000), step: 0, expect: { token: 1, marginPpm: 112_160 } },
  { name: "sampled-single-token", note: "V = 1: always token 0, margin min(u, 1 - u) (u = 0.6097).", logits: [7], sampling: sampled(700), step: 3, expect: { token: 0, marginPpm: 390_264 } },
  { name: "sampled-below-the-cutoff", note: "Tokens more than 23 scaled nats below the top weigh 0.", logits: [0, -30, -40], sampling: sampled(1000), step: 6, expect: { token: 0 } },
  { name: "sampled-at-the-cutoff", note: "x = -23 exactly survives the cutoff but weighs floor(2^32 * e^-23) = 0.", logits: [0, -23], sampling: sampled(1000), step: 1, expect: { token: 0 } },
  { name: "sampled-cdf-in-id-order-a", note: "With [0, 0, -1] and [0, 1e-9, -1] (b) the same u draws the same token: the CDF runs in id order.", logits: [0, 0, -1], sampling: sampled(1000), step: 5 },
  { name: "sampled-cdf-in-id-order-b", note: "The runner-up nudged above the top one: same token as case a.", logits: [0, 1e-9, -1], sampling: sampled(1000), step: 5 },
  { name: "sampled-flat-300", note: "300 equal logits: token floor(u * 300).", logits: Array.from({ length: 300 }, () => 1.5), sampling: sampled(700), step: 0, expect: { token: 266 } },
  { name: "sampled-flat-300-top-k-50", note: "The 50 lowest ids are kept: token floor(u * 50).", logits: Array.from({ length: 300 }, () => 1.5), sampling: sampled(700, 50), step: 0, expect: { token: 44 } },
  { name: "sampled-flat-300-top-p-half", note: "p = 0.5 keeps the 150 lowest ids: token floor(u * 150).", logits: Array.from({ length: 300 }, () => 1.5), sampling: sampled(700, 0, 500_000), step: 0, expect: { token: 133 } },
  { name: "sampled-600-no-filter", note: "600 tokens on a grid of 1/16.", logits: VARIED, sampling: sampled(800), step: 0 },
  { name: "sampled-600-top-k-100", note: "600 tokens, the top 100 kept (the boundary falls among equal logits).", logits: VARIED, sampling: sampled(800, 100), step: 1 },
  { name: "sampled-600-top-p-90", note: "600 tokens, the nucleus of 90%.", logits: VARIED, sampling: sampled(800, 0, 900_000), step: 2 },
  { name: "sampled-600-top-k-and-top-p", note: "600 tokens, top 250 then 50%.", logits: VARIED, sampling: sampled(1200, 250, 500_000), step: 3 },
  { name: "sampled-sparse-300", note: "300 tokens, six of every seven masked.", logits: SPARSE, sampling: sampled(650, 0, 950_000), step: 7 },
  { name: "sampled-seed-b", note: "Another seed (SEED_B), a late step.", logits: PINNED, sampling: sampled(700), seed: SEED_B, step: 0xffff_ffff },
  // Errors.
  { name: "error-nan-greedy", note: "A NaN logit.", logits: [0, Number.NaN], sampling: greedy, expect: "SAMPLER_INPUT" },
  { name: "error-nan-sampled", note: "A NaN logit.", logits: [0, Number.NaN], sampling: sampled(700), expect: "SAMPLER_INPUT" },
  { name: "error-plus-inf-greedy", note: "A +inf logit.", logits: [0, Infinity], sampling: greedy, expect: "SAMPLER_INPUT" },
  { name: "error-plus-inf-sampled", note: "A +inf logit.", logits: [Infinity, 0], sampling: sampled(700), expect: "SAMPLER_INPUT" },
  { name: "error-empty-vocabulary", note: "V = 0.", logits: [], sampling: greedy, expect: "SAMPLER_INPUT" },
  { name: "error-all-masked-greedy", note: "Every logit -inf.", logits: [-Infinity, -Infinity], sampling: greedy, expect: "SAMPLER_INPUT" },
  { name: "error-all-masked-sampled", note: "Every logit -inf.", logits: [-Infinity, -Infinity], sampling: sampled(700), expect: "SAMPLER_INPUT" },
  { name: "error-scaled-logit-overflows", note: "lmax / T is not finite (1e306 / 0.001).", logits: [1e306, 0], sampling: sampled(1), expect: "SAMPLER_INPUT" },
  { name: "error-largest-logit-overflows", note: "MAX_VALUE / 0.7 overflows.", logits: [MAX], sampling: sampled(700), expect: "SAMPLER_INPUT" },
  { name: "error-negative-temperature", note: "temperatureMilli < 0.", logits: [0], sampling: sampled(-1), expect: "SAMPLER_INPUT" },
  { name: "error-fractional-temperature", note: "temperatureMilli is an integer.", logits: [0], sampling: sampled(0.5), expect: "SAMPLER_INPUT" },
  { name: "error-negative-top-k", note: "topK < 0.", logits: [0], sampling: sampled(700, -1), expect: "SAMPLER_INPUT" },
  { name: "error-fractional-top-k", note: "topK is an integer.", logits: [0], sampling: sampled(700, 1.5), expect: "SAMPLER_INPUT" },
  { name: "error-top-p-above-one", note: "topPPpm > 1,000,000.", logits: [0], sampling: sampled(700, 0, 1_000_001), expect: "SAMPLER_INPUT" },
  { name: "error-negative-top-p", note: "topPPpm < 0.", logits: [0], sampling: sampled(700, 0, -1), expect: "SAMPLER_INPUT" },
  { name: "error-negative-step", note: "step < 0.", logits: [0], sampling: greedy, step: -1, expect: "SAMPLER_INPUT" },
  { name: "error-step-2-pow-32", note: "step >= 2^32.", logits: [0], sampling: sampled(700), step: 2 ** 32, expect: "SAMPLER_INPUT" },
  { name: "error-fractional-step", note: "step is an integer.", logits: [0], sampling: sampled(700), step: 1.5, expect: "SAMPLER_INPUT" },
];

const WEIGHT_XS: [string, LogitJson][] = [
  ["weight-zero", 0],
  ["weight-minus-1e-9", -1e-9],
  ["weight-minus-half", -0.5],
  ["weight-minus-one", -1],
  ["weight-minus-ln2", -0.6931471805599453],
  ["weight-minus-10", -10],
  ["weight-minus-20", -20],
  ["weight-minus-22-5", -22.5],
  ["weight-minus-23", -23],
  ["weight-below-cutoff", -23.000001],
  ["weight-minus-inf", "-inf"],
];
const TABLE_ENTRIES = [0, 1, 2, 1024, 2048, 4095];

function binary64Bits(value: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value, false);
  return toHex(new Uint8Array(view.buffer));
}

function fail(name: string, what: string): never {
  throw new Error(`gen-vectors: sampler.json ${name}: ${what}`);
}

function run(fn: () => unknown): { expected: unknown } | { expectedError: ErrorCode } {
  try {
    return { expected: fn() };
  } catch (error) {
    if (isConcordError(error)) return { expectedError: error.code };
    throw error;
  }
}

/** One `sample` case's input, as the vector writes it. */
function sampleInput(c: SampleCase): Record<string, unknown> {
  return { op: "sample", logits: c.logits.map(logitToJson), sampling: c.sampling, seed: toHex(c.seed ?? SEED_A), step: c.step ?? 0 };
}

export function samplerVectors(): NotedFile {
  const cases: NotedCase[] = [];
  for (const [name, requestId] of [
    ["seed-test-request", REQUEST_A],
    ["seed-vector-request", REQUEST_B],
  ] as const) {
    cases.push({ name, note: "seed = H('concord/decode-seed', requestId).", input: { op: "seed", requestId: toHex(requestId) }, expected: { seed: toHex(deriveDecodeSeed(requestId)) } });
  }
  const pinnedBits: Record<number, bigint> = { 0: 7996950206967347n, 1: 4695942099345667n };
  for (const [name, seed, step] of [
    ["uniform-step-0", SEED_A, 0],
    ["uniform-step-1", SEED_A, 1],
    ["uniform-last-step", SEED_A, 0xffff_ffff],
    ["uniform-seed-b-step-0", SEED_B, 0],
  ] as const) {
    const bits = stepUniformBits(seed, step);
    if (seed === SEED_A && pinnedBits[step] !== undefined && pinnedBits[step] !== bits) fail(name, "U_t changed");
    cases.push({ name, note: "U_t = top 53 bits of H('concord/step-uniform', seed, u32be(step)).", input: { op: "uniform", seed: toHex(seed), step }, expected: { bits: Number(bits) } });
  }
  const table = weightTable();
  const digest = toHex(sha256(new Uint8Array(table.buffer, table.byteOffset, table.byteLength)));
  if (digest !== "b3ac84a1a224ce42f97d5a01ded38b538a904c5c5ce2da900822a6b483d751e7") fail("table", "the weight table changed");
  cases.push({
    name: "weight-table",
    note: "E[j] = exp13(-(j * H)), j = 0..4095: SHA-256 of the 4,096 entries as little-endian binary64, and some entries as big-endian binary64 bits.",
    input: { op: "table" },
    expected: { sha256: digest, entries: TABLE_ENTRIES.map((j) => [j, binary64Bits(table[j] as number)]) },
  });
  for (const [name, x] of WEIGHT_XS) {
    cases.push({ name, note: "candidateWeight(x): the integer weight of a candidate x scaled nats below the top one.", input: { op: "weight", x }, expected: { weight: candidateWeight(logitFromJson(x)) } });
  }
  const names = new Set(cases.map((c) => c.name));
  for (const c of sampleCases) {
    if (names.has(c.name)) fail(c.name, "duplicate name");
    names.add(c.name);
    const result = run(() => sampleNext(c.logits, c.sampling, c.seed ?? SEED_A, c.step ?? 0));
    if (c.expect === "SAMPLER_INPUT") {
      if (!("expectedError" in result) || result.expectedError !== "SAMPLER_INPUT") fail(c.name, `expected SAMPLER_INPUT, got ${JSON.stringify(result)}`);
    } else {
      if (!("expected" in result)) fail(c.name, `unexpected ${result.expectedError}`);
      const got = result.expected as { token: number; marginPpm: number };
      if (c.expect?.token !== undefined && got.token !== c.expect.token) fail(c.name, `token ${got.token}, expected ${c.expect.token}`);
      if (c.expect?.marginPpm !== undefined && got.marginPpm !== c.expect.marginPpm) fail(c.name, `margin ${got.marginPpm}, expected ${c.expect.marginPpm}`);
      // The same answer from a Float64Array, and from a Float32Array when every logit is a float32.
      if (JSON.stringify(sampleNext(Float64Array.from(c.logits), c.sampling, c.seed ?? SEED_A, c.step ?? 0)) !== JSON.stringify(got)) fail(c.name, "Float64Array differs");
      if (c.logits.every((l) => Number.isNaN(l) || Math.fround(l) === l) && JSON.stringify(sampleNext(Float32Array.from(c.logits), c.sampling, c.seed ?? SEED_A, c.step ?? 0)) !== JSON.stringify(got)) {
        fail(c.name, "Float32Array differs");
      }
    }
    cases.push({ name: c.name, note: c.note, input: sampleInput(c), ...result });
  }
  const a = cases.find((c) => c.name === "sampled-cdf-in-id-order-a");
  const b = cases.find((c) => c.name === "sampled-cdf-in-id-order-b");
  if (JSON.stringify((a?.expected as { token?: number })?.token) !== JSON.stringify((b?.expected as { token?: number })?.token)) fail("sampled-cdf-in-id-order", "tokens differ");
  return {
    description:
      "The normative sampler (spec/09-policies.md, seeded@1, src/agreement/sampler.ts). op=seed: seed = H('concord/decode-seed', requestId). " +
      "op=uniform: bits = U_t, the top 53 bits of H('concord/step-uniform', seed, u32be(step)) (u_t = bits / 2^53). op=table: the weight " +
      "table E (SHA-256 of its 4,096 little-endian binary64 values; entries [j, big-endian binary64 bits of E[j]]). op=weight: " +
      "candidateWeight(x). op=sample: sampleNext(logits, sampling, seed, step) = {token, marginPpm}, or SAMPLER_INPUT. Logits are JSON " +
      "numbers read as the nearest binary64 (each was written by a shortest round-trip formatter, so it reads back exactly), or the " +
      "strings '-inf', '+inf', 'nan'.",
    cases,
  };
}
