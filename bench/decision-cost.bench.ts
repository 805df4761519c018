/**
 * Worst-case cost of one policy decision: every member byzantine, outputs at the largest size a
 * policy reads, built to defeat the cheap bounds. The spec's bound is 50 ms a decision
 * (spec/09-policies.md, "Cost"); verifyBundle and the collector each make one decision per
 * bundle or per new vote, so this is their worst case less signature checks.
 *   semantic@2: n = 7 and n = 64 outputs of MAX_SEMANTIC_WORDS distinct words each, with equal
 *     guards, overlapping just under theta (every pair merges to the end), also with words long
 *     enough to reach MAX_SEMANTIC_BYTES; outputs of 64 KiB (over the byte limit) and of just
 *     under 8 KiB with far too many words (normalized, counted, then refused).
 *   semantic@1 (retired: verify-only): n = 7 outputs of one 64 KiB text's characters shuffled,
 *     the case that made it unbounded.
 *   structured@2: n = 64, 64 KiB JSON outputs, 64 number fields each.
 *   seeded@1: n = 64, MAX_TOKENS tokens with forks at every step's margin.
 * Each figure is the median of timed repetitions on that worst-case input, in ms. `npx node bench/decision-cost.bench.ts`.
 */
import { createDefaultPolicyRegistry } from "../src/agreement/registry.ts";
import type { BoundPolicy, Vote } from "../src/agreement/policy.ts";
import { MAX_SEMANTIC_BYTES, MAX_SEMANTIC_WORDS } from "../src/agreement/semantic-guarded.ts";
import { outputHash, utf8 } from "../src/wire/hash.ts";
import { MAX_OUTPUT_BYTES, MAX_TOKENS } from "../src/wire/limits.ts";
import type { PolicyParams } from "../src/wire/types.ts";
import { mulberry32 } from "../src/sim/prng.ts";

const registry = createDefaultPolicyRegistry();

function votes(outputs: readonly string[], evidence?: (i: number) => { tokens: number[]; margins: number[] }): Vote[] {
  return outputs.map((output, i) => ({
    node: `node-${String(i).padStart(2, "0")}`,
    output,
    outputHash: outputHash(output),
    ...(evidence ? { evidence: evidence(i) } : {}),
  }));
}

/** Median of `reps` decisions on one worst-case input, in ms (the input is the worst case; the median keeps a shared machine's noise out). */
function worstMs(policy: BoundPolicy, committee: readonly Vote[], reps: number): number {
  const context = { n: committee.length, k: Math.floor((2 * committee.length) / 3) + 1, requestId: utf8("bench/decision-cost") };
  policy.decide(committee, context);
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const start = performance.now();
    policy.decide(committee, context);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return Math.round((times[(reps - 1) >> 1] as number) * 100) / 100;
}

/** n texts of `words` distinct words; each pair shares a fraction just under `thetaPpm`. */
function nearMissTexts(n: number, words: number, thetaPpm: number, seed: number, wordLength = 0): string[] {
  const random = mulberry32(seed);
  const shared = Math.floor((thetaPpm * words) / 1_000_000) - 1;
  const common = Array.from({ length: shared }, (_, i) => `w${i.toString(36)}`);
  return Array.from({ length: n }, (_, node) => {
    const own = Array.from({ length: words - shared }, (_, i) => `n${node}x${i.toString(36)}`);
    const all = [...common, ...own];
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [all[i], all[j]] = [all[j] as string, all[i] as string];
    }
    return all.map((word) => word.padEnd(wordLength, "q")).join(" ");
  });
}

function shuffledChars(text: string, seed: number): string {
  const random = mulberry32(seed);
  const chars = [...text];
  for (let i = chars.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join("");
}

export async function run(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const semantic2 = registry.bind({ id: "semantic", version: 2, params: { thetaPpm: 600_000 } });
  out["semantic2.n7.max_words.worst_ms"] = worstMs(semantic2, votes(nearMissTexts(7, MAX_SEMANTIC_WORDS, 600_000, 1)), 7);
  out["semantic2.n64.max_words.worst_ms"] = worstMs(semantic2, votes(nearMissTexts(64, MAX_SEMANTIC_WORDS, 600_000, 2)), 7);
  const overLong = Array.from({ length: 64 }, (_, i) => `${"ab ".repeat(MAX_OUTPUT_BYTES / 3 - 2)}${i}`);
  out["semantic2.n64.over_byte_limit_64KiB.worst_ms"] = worstMs(semantic2, votes(overLong), 7);
  // Just under the byte limit, far over the word limit: normalized and counted, then refused.
  const manyWords = Array.from({ length: 64 }, (_, i) => `${"a ".repeat(MAX_SEMANTIC_BYTES / 2 - 8)}${i}`);
  out["semantic2.n64.over_word_limit_8KiB.worst_ms"] = worstMs(semantic2, votes(manyWords), 7);
  // Just under both limits: long words, each pair merged to the end.
  out["semantic2.n64.max_bytes_and_words.worst_ms"] = worstMs(semantic2, votes(nearMissTexts(64, MAX_SEMANTIC_WORDS, 600_000, 5, 15)), 7);

  const base = nearMissTexts(1, 12_000, 0, 3)[0]?.slice(0, MAX_OUTPUT_BYTES) ?? "";
  const semantic1 = registry.bind({ id: "semantic", version: 1, params: { thetaPpm: 900_000 } }, { allowRetired: true });
  out["semantic1_retired.n7.shuffled_64KiB.worst_ms"] = worstMs(semantic1, votes(Array.from({ length: 7 }, (_, i) => shuffledChars(base, 10 + i))), 1);

  const fields: PolicyParams = {};
  for (let f = 0; f < 64; f++) fields[`f${f}`] = { type: "number", decimals: 6, relTolPpm: 1_000 };
  const structured2 = registry.bind({ id: "structured", version: 2, params: { properties: fields } });
  const random = mulberry32(4);
  const json = Array.from({ length: 64 }, () => {
    const members: string[] = [];
    for (let f = 0; f < 64; f++) members.push(`"f${f}": ${(random() * 1e6).toFixed(6)}${"0".repeat(950)}`);
    return `{${members.join(",")}}`.slice(0, MAX_OUTPUT_BYTES);
  });
  out["structured2.n64.64KiB.worst_ms"] = worstMs(structured2, votes(json), 7);

  const seeded = registry.bind({ id: "seeded", version: 1, params: { epsPpm: 1_000_000 } });
  const tokens = (i: number) => ({
    tokens: Array.from({ length: MAX_TOKENS }, (_, step) => (step % 97 === i % 97 ? i : step)),
    margins: new Array<number>(MAX_TOKENS).fill(1),
  });
  out["seeded.n64.max_tokens_forking.worst_ms"] = worstMs(seeded, votes(Array.from({ length: 64 }, (_, i) => `out ${i}`), tokens), 3);
  return out;
}

if (import.meta.main) console.log(JSON.stringify(await run(), null, 2));
