/**
 * Agreement-policy decision cost on one core, committees of n = 7, inputs from a seeded generator.
 *   semantic: p50 ms per decision. Each output is one shared base text with ~5% of its characters
 *     edited (substitutions, insertions, deletions), so two outputs differ by ~10% (the measured
 *     mean pairwise distance is reported too); "r10" variants edit 10% each (~19% pairwise). Also
 *     one case with an unrelated outlier and one at word level.
 *   exact, seeded (512 tokens), structured (20 fields): decisions/s.
 * Every figure is the median of repeated rounds after a warm-up.
 * Run alone: `npx node bench/policies.bench.ts`.
 */
import { distance } from "fastest-levenshtein";
import { exactPolicy } from "../src/agreement/exact.ts";
import type { AgreementPolicy, DecideContext, Vote } from "../src/agreement/policy.ts";
import { seededPolicy } from "../src/agreement/seeded.ts";
import { semanticPolicy } from "../src/agreement/semantic.ts";
import { structuredPolicy } from "../src/agreement/structured.ts";
import { outputHash, utf8 } from "../src/wire/hash.ts";
import type { Evidence, PolicyParams } from "../src/wire/types.ts";
import { mulberry32 } from "../src/sim/prng.ts";

const N = 7;
const CONTEXT: DecideContext = { n: N, k: 5, requestId: utf8("bench/policies") };

const WORDS = (
  "the of and to in is was for on that with as by at from it be this are or an have not which " +
  "model output token price value network node vote agree policy result answer market report " +
  "request committee block chain sequencer contract state update river mountain city country " +
  "history science energy system between during because however through several important " +
  "people government company research development information question problem number " +
  "Queens York London Paris weather morning evening quickly slowly carefully probably"
).split(" ");

function baseText(random: () => number, length: number): string {
  let text = "";
  while (text.length < length) {
    const word = WORDS[Math.floor(random() * WORDS.length)] as string;
    text += word + (random() < 0.08 ? ". " : random() < 0.05 ? ",\n" : " ");
  }
  return text.slice(0, length);
}

/** Edits about `rate` of the characters: a third substituted, a third deleted, a third followed by an insertion. */
function mutate(random: () => number, text: string, rate: number): string {
  const letters = "abcdefghijklmnopqrstuvwxyz ";
  let out = "";
  for (const ch of text) {
    const r = random();
    if (r < rate / 3) out += letters[Math.floor(random() * letters.length)];
    else if (r < (2 * rate) / 3) continue;
    else if (r < rate) out += ch + (letters[Math.floor(random() * letters.length)] as string);
    else out += ch;
  }
  return out;
}

function vote(node: number, output: string, evidence?: Evidence): Vote {
  const base = { node: `node-${String(node).padStart(2, "0")}`, output, outputHash: outputHash(output) };
  return evidence ? { ...base, evidence } : base;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function decideFn<P>(policy: AgreementPolicy<P>, params: PolicyParams): (votes: readonly Vote[]) => boolean {
  const parsed = policy.parseParams(params);
  return (votes) => policy.decide(votes, parsed, CONTEXT).agreed;
}

/** p50 milliseconds of one decision over several committees, each decided repeatedly. */
function p50Ms(decide: (votes: readonly Vote[]) => boolean, committees: Vote[][], repeats: number): number {
  for (const votes of committees) decide(votes); // warm-up
  const times: number[] = [];
  let agreed = 0;
  for (let r = 0; r < repeats; r++) {
    for (const votes of committees) {
      const start = performance.now();
      if (decide(votes)) agreed++;
      times.push(performance.now() - start);
    }
  }
  if (agreed === 0) throw new Error("bench inputs never agreed: check the generator");
  return Math.round(median(times) * 1000) / 1000;
}

/** Median decisions per second over rounds of `perRound` decisions. */
function perSecond(decide: (votes: readonly Vote[]) => boolean, committees: Vote[][], perRound: number, rounds = 9): number {
  let agreed = 0;
  for (let i = 0; i < perRound; i++) if (decide(committees[i % committees.length] as Vote[])) agreed++; // warm-up
  if (agreed === 0) throw new Error("bench inputs never agreed: check the generator");
  const rates: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const start = performance.now();
    for (let i = 0; i < perRound; i++) decide(committees[i % committees.length] as Vote[]);
    rates.push((perRound * 1000) / (performance.now() - start));
  }
  return Math.round(median(rates));
}

interface SemanticCase {
  committees: Vote[][];
  /** Mean pairwise edit distance over the longer length, in ppm (sampled on the first committee). */
  pairwisePpm: number;
}

function semanticCommittees(length: number, rate: number, seed: number, count: number, outlier = false): SemanticCase {
  const committees: Vote[][] = [];
  let pairwisePpm = 0;
  for (let c = 0; c < count; c++) {
    const random = mulberry32(seed * 1000 + c);
    const base = baseText(random, length);
    const outputs = Array.from({ length: N }, () => mutate(random, base, rate));
    if (outlier) outputs[3] = baseText(random, length);
    committees.push(outputs.map((output, i) => vote(i, output)));
    if (c === 0) {
      let sum = 0;
      let pairs = 0;
      for (let i = 0; i < N; i++) {
        for (let j = i + 1; j < N; j++) {
          if (outlier && (i === 3 || j === 3)) continue;
          const a = outputs[i] as string;
          const b = outputs[j] as string;
          sum += distance(a, b) / Math.max(a.length, b.length);
          pairs++;
        }
      }
      pairwisePpm = Math.round((sum / pairs) * 1_000_000);
    }
  }
  return { committees, pairwisePpm };
}

/** Mean pairwise word-level edit distance over the longer length, in ppm. */
function wordPairwisePpm(votes: Vote[]): number {
  const ids = new Map<string, string>();
  const encode = (text: string) =>
    text
      .trim()
      .split(/\s+/)
      .map((word) => {
        if (!ids.has(word)) ids.set(word, String.fromCharCode(0x4e00 + ids.size));
        return ids.get(word) as string;
      })
      .join("");
  const texts = votes.map((v) => encode(v.output));
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < texts.length; i++) {
    for (let j = i + 1; j < texts.length; j++) {
      const a = texts[i] as string;
      const b = texts[j] as string;
      sum += distance(a, b) / Math.max(a.length, b.length);
      pairs++;
    }
  }
  return Math.round((sum / pairs) * 1_000_000);
}

function tokenCommittees(count: number, seed: number, forks: boolean): Vote[][] {
  const committees: Vote[][] = [];
  for (let c = 0; c < count; c++) {
    const random = mulberry32(seed * 1000 + c);
    const tokens = Array.from({ length: 512 }, () => Math.floor(random() * 32_000));
    const margins = Array.from({ length: 512 }, () => Math.floor(random() * 3_000_000));
    margins[300] = 900; // a near tie at step 300
    const text = tokens.map((t) => `t${t}`).join(" ");
    const votes: Vote[] = [];
    for (let i = 0; i < N; i++) {
      if (forks && i >= 5) {
        const forked = [...tokens.slice(0, 300), tokens[300] as number ^ 1, ...tokens.slice(301).reverse()];
        const forkMargins = margins.map((m, step) => (step === 300 ? 1100 : m));
        votes.push(vote(i, forked.map((t) => `t${t}`).join(" "), { tokens: forked, margins: forkMargins }));
      } else {
        // Honest margins drift a little between nodes; tokens and text match.
        votes.push(vote(i, text, { tokens, margins: margins.map((m) => m + i) }));
      }
    }
    committees.push(votes);
  }
  return committees;
}

const STRUCTURED_PARAMS: PolicyParams = {
  fields: Object.fromEntries([
    ...Array.from({ length: 6 }, (_, i) => [`label${i}`, { type: "label" }]),
    ...Array.from({ length: 2 }, (_, i) => [`flag${i}`, { type: "bool" }]),
    ["note", { type: "string", optional: true }],
    ["unit", { type: "string" }],
    ...Array.from({ length: 10 }, (_, i) => [`price${i}`, { type: "number", absTol: 5_000, relTolPpm: 2_000 }]),
  ]),
  extra: "ignore",
};

function structuredCommittees(count: number, seed: number): Vote[][] {
  const committees: Vote[][] = [];
  for (let c = 0; c < count; c++) {
    const random = mulberry32(seed * 1000 + c);
    const prices = Array.from({ length: 10 }, () => Math.round(random() * 1e8) / 1e4);
    const votes: Vote[] = [];
    for (let i = 0; i < N; i++) {
      const record: Record<string, unknown> = { unit: "USD", note: "spot" };
      for (let l = 0; l < 6; l++) record[`label${l}`] = ["buy", "sell", "hold"][l % 3];
      record["flag0"] = true;
      record["flag1"] = false;
      for (let p = 0; p < 10; p++) record[`price${p}`] = Number(((prices[p] as number) * (1 + (random() - 0.5) * 0.001)).toFixed(4));
      votes.push(vote(i, JSON.stringify(record)));
    }
    committees.push(votes);
  }
  return committees;
}

export async function run(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const semantic = (params: PolicyParams) => decideFn(semanticPolicy, params);
  const char85 = semantic({ thetaPpm: 850_000, unit: "char" });
  const char75 = semantic({ thetaPpm: 750_000, unit: "char" });

  const s4k = semanticCommittees(4_000, 0.05, 1, 9);
  out["semantic.char.4k.pairwise_distance_ppm"] = s4k.pairwisePpm;
  out["semantic.char.4k.p50_ms"] = p50Ms(char85, s4k.committees, 11);
  const s16k = semanticCommittees(16_000, 0.05, 2, 5);
  out["semantic.char.16k.pairwise_distance_ppm"] = s16k.pairwisePpm;
  out["semantic.char.16k.p50_ms"] = p50Ms(char85, s16k.committees, 7);
  const s4kR10 = semanticCommittees(4_000, 0.1, 3, 9);
  out["semantic.char.4k_r10.pairwise_distance_ppm"] = s4kR10.pairwisePpm;
  out["semantic.char.4k_r10.p50_ms"] = p50Ms(char75, s4kR10.committees, 11);
  const s16kR10 = semanticCommittees(16_000, 0.1, 4, 5);
  out["semantic.char.16k_r10.p50_ms"] = p50Ms(char75, s16kR10.committees, 7);
  const s4kOutlier = semanticCommittees(4_000, 0.05, 5, 9, true);
  out["semantic.char.4k_outlier.p50_ms"] = p50Ms(char85, s4kOutlier.committees, 11);
  // At word level the same texts differ far more (a 5% character edit rate touches ~30% of words).
  out["semantic.word.4k.pairwise_distance_ppm"] = wordPairwisePpm(s4k.committees[0] as Vote[]);
  out["semantic.word.4k.p50_ms"] = p50Ms(semantic({ thetaPpm: 400_000, unit: "word" }), s4k.committees, 11);

  out["exact.512tok.decisions_per_s"] = perSecond(decideFn(exactPolicy, {}), tokenCommittees(16, 6, false), 20_000);
  out["seeded.512tok.decisions_per_s"] = perSecond(decideFn(seededPolicy, {}), tokenCommittees(16, 7, false), 20_000);
  out["seeded.512tok_forks_eps2000.decisions_per_s"] = perSecond(
    decideFn(seededPolicy, { epsPpm: 2_000 }),
    tokenCommittees(16, 8, true),
    20_000,
  );
  out["structured.20fields.decisions_per_s"] = perSecond(
    decideFn(structuredPolicy, STRUCTURED_PARAMS),
    structuredCommittees(16, 9),
    20_000,
  );
  return out;
}

if (import.meta.main) console.log(JSON.stringify(await run(), null, 2));
