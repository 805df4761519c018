/**
 * Decision quality on the decisions corpus (bench/data/decisions, README there): does a policy
 * agree when honest answers differ the way real samples do, and does it refuse an answer that is
 * wrong by one number, one "not", one name?
 *
 * For each prompt and each of its sections (free text, pinned template, JSON) and each policy
 * setting that applies to the section:
 *   honest agreement: TRIALS committees of honest answers (n=5, k=4 and n=7, k=5), drawn without
 *     repeats while the section has answers left (sections hold 5-7), agreed or not;
 *   false accepts: for each wrong answer, TRIALS committees of n=7, k=5 with one wrong member, and
 *     with two colluders sending the same wrong answer, the rest honest. When the wrong answer is
 *     a minimal edit of honest answer `of`, that honest answer is always in the committee (the
 *     hardest case: its near-twin is there to vouch for it). Counted:
 *       support   the decision agreed and counted a wrong member among the supporters;
 *       canonical the decision agreed on the wrong answer (its canonical form).
 * Figures are percentages over all trials, pooled over prompts; per wrong kind in the detail file
 * (bench/results/decisions-detail.json). Seeded; `npx node bench/decisions.bench.ts` runs it alone.
 */
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createDefaultPolicyRegistry } from "../src/agreement/registry.ts";
import type { BoundPolicy, Vote } from "../src/agreement/policy.ts";
import { outputHash, toHex, utf8 } from "../src/wire/hash.ts";
import type { PolicyParams } from "../src/wire/types.ts";
import { mulberry32 } from "../src/sim/prng.ts";

export type Section = "free" | "pinned" | "json";
export const WRONG_KINDS = ["number", "negation", "entity", "yes-no", "direction", "lazy", "confident-wrong"] as const;
export type WrongKind = (typeof WRONG_KINDS)[number];
const MINIMAL_EDITS: ReadonlySet<string> = new Set(["number", "negation", "entity", "yes-no", "direction"]);

export interface WrongAnswer {
  kind: WrongKind;
  of?: number;
  text: string;
}
export interface CorpusSection {
  prompt?: string;
  schema?: PolicyParams;
  honest: string[];
  wrong: WrongAnswer[];
}
export interface CorpusPrompt {
  id: string;
  kind: string;
  prompt: string;
  labels?: string[];
  free: CorpusSection;
  pinned: CorpusSection;
  json: CorpusSection;
}

export const CORPUS_DIR = fileURLToPath(new URL("./data/decisions/", import.meta.url));

/** Every prompt of the corpus, checked for the shape the README gives. */
export function loadCorpus(dir = CORPUS_DIR): CorpusPrompt[] {
  const prompts: CorpusPrompt[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
    const list = JSON.parse(readFileSync(join(dir, file), "utf8")) as CorpusPrompt[];
    if (!Array.isArray(list)) throw new Error(`${file}: not a list of prompts`);
    for (const prompt of list) {
      for (const section of ["free", "pinned", "json"] as const) {
        const body = prompt[section];
        if (!body || !Array.isArray(body.honest) || body.honest.length < 5) throw new Error(`${file} ${prompt.id} ${section}: fewer than 5 honest answers`);
        for (const wrong of body.wrong) {
          if (!(WRONG_KINDS as readonly string[]).includes(wrong.kind)) throw new Error(`${file} ${prompt.id}: unknown wrong kind ${wrong.kind}`);
          if (MINIMAL_EDITS.has(wrong.kind) && body.honest[wrong.of ?? -1] === undefined) throw new Error(`${file} ${prompt.id}: ${wrong.kind} without a valid 'of'`);
        }
      }
      prompts.push(prompt);
    }
  }
  return prompts;
}

export interface Setting {
  name: string;
  sections: readonly Section[];
  /** The policy bound for one prompt and section, or undefined when it does not apply. */
  bind(prompt: CorpusPrompt, section: CorpusSection): BoundPolicy | undefined;
}

const registry = createDefaultPolicyRegistry();
const bind = (id: string, version: number, params: PolicyParams): BoundPolicy => registry.bind({ id, version, params }, { allowRetired: true });

export const SETTINGS: readonly Setting[] = [
  { name: "exact", sections: ["free", "pinned", "json"], bind: () => bind("exact", 1, {}) },
  { name: "semantic1.char.t900", sections: ["free", "pinned"], bind: () => bind("semantic", 1, { thetaPpm: 900_000 }) },
  { name: "semantic1.char.t600", sections: ["free", "pinned"], bind: () => bind("semantic", 1, { thetaPpm: 600_000 }) },
  { name: "semantic1.word.t400", sections: ["free", "pinned"], bind: () => bind("semantic", 1, { thetaPpm: 400_000, unit: "word" }) },
  ...[300_000, 400_000, 500_000, 600_000, 700_000].map(
    (theta): Setting => ({
      name: `semantic2.t${theta / 1000}`,
      sections: ["free", "pinned"],
      bind: (prompt) => bind("semantic", 2, { thetaPpm: theta, ...(prompt.labels ? { terms: prompt.labels } : {}) }),
    }),
  ),
  { name: "structured2", sections: ["json"], bind: (_, section) => (section.schema ? bind("structured", 2, section.schema) : undefined) },
];

const TRIALS = 10;
const NODES = Array.from({ length: 7 }, (_, i) => `node-${String(i + 1).padStart(2, "0")}`);

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** `count` honest answers: `first` (if any) then a shuffle of the rest, reshuffled when used up. */
function honestDraw(honest: readonly string[], count: number, random: () => number, first?: number): string[] {
  const out: string[] = first === undefined ? [] : [honest[first] as string];
  const pool = honest.map((_, i) => i).filter((i) => i !== first);
  while (out.length < count) for (const i of shuffled(pool, random)) if (out.length < count) out.push(honest[i] as string);
  return out;
}

/** Votes for `outputs`, on node ids in a shuffled order; returns the node ids of `marked` outputs. */
function committee(outputs: readonly string[], markedFrom: number, random: () => number): { votes: Vote[]; marked: Set<string> } {
  const nodes = shuffled(NODES.slice(0, outputs.length), random);
  const marked = new Set<string>();
  const votes = outputs.map((output, i) => {
    if (i >= markedFrom) marked.add(nodes[i] as string);
    return { node: nodes[i] as string, output, outputHash: outputHash(output) };
  });
  return { votes, marked };
}

interface Tally {
  trials: number;
  agreed: number;
  support: number;
  canonical: number;
}
const tally = (): Tally => ({ trials: 0, agreed: 0, support: 0, canonical: 0 });
const pct = (part: number, whole: number): number => (whole === 0 ? 0 : Math.round((part / whole) * 1000) / 10);

export interface DecisionsReport {
  figures: Record<string, number>;
  detail: Record<string, Record<string, Record<string, { trials: number; percent: number }>>>;
}

export function evaluate(prompts: readonly CorpusPrompt[], settings: readonly Setting[] = SETTINGS, seed = 20261205): DecisionsReport {
  const figures: Record<string, number> = {};
  const detail: DecisionsReport["detail"] = {};
  for (const setting of settings) {
    for (const sectionName of setting.sections) {
      const honest = { n5k4: tally(), n7k5: tally() };
      const wrong = new Map<string, Tally>();
      const random = mulberry32(seed);
      for (const prompt of prompts) {
        const section = prompt[sectionName];
        const policy = setting.bind(prompt, section);
        if (!policy) continue;
        for (const [key, n, k] of [["n5k4", 5, 4], ["n7k5", 7, 5]] as const) {
          for (let t = 0; t < TRIALS; t++) {
            const { votes } = committee(honestDraw(section.honest, n, random), n, random);
            const decision = policy.decide(votes, { n, k, requestId: utf8(prompt.id) });
            honest[key].trials++;
            if (decision.agreed) honest[key].agreed++;
          }
        }
        for (const answer of section.wrong) {
          // The wrong answer's own canonical form: what the policy would certify if it won.
          const alone = policy.decide([{ node: "node-00", output: answer.text, outputHash: outputHash(answer.text) }], { n: 1, k: 1, requestId: utf8(prompt.id) });
          const wrongCanonical = alone.agreed ? toHex(alone.outputHash) : toHex(outputHash(answer.text));
          for (const colluders of [1, 2]) {
            const key = `${answer.kind}.c${colluders}`;
            const entry = wrong.get(key) ?? tally();
            wrong.set(key, entry);
            for (let t = 0; t < TRIALS; t++) {
              const outputs = [...honestDraw(section.honest, 7 - colluders, random, answer.of), ...Array<string>(colluders).fill(answer.text)];
              const { votes, marked } = committee(outputs, 7 - colluders, random);
              const decision = policy.decide(votes, { n: 7, k: 5, requestId: utf8(prompt.id) });
              entry.trials++;
              if (!decision.agreed) continue;
              entry.agreed++;
              if (decision.supporters.some((node) => marked.has(node))) entry.support++;
              if (toHex(decision.outputHash) === wrongCanonical) entry.canonical++;
            }
          }
        }
      }
      if (honest.n5k4.trials === 0) continue;
      const base = `${sectionName}.${setting.name}`;
      figures[`${base}.honest_agreed_pct.n5k4`] = pct(honest.n5k4.agreed, honest.n5k4.trials);
      figures[`${base}.honest_agreed_pct.n7k5`] = pct(honest.n7k5.agreed, honest.n7k5.trials);
      const rows: Record<string, { trials: number; percent: number }> = {};
      for (const group of ["critical", "lazy", "confident-wrong"] as const) {
        for (const colluders of [1, 2]) {
          const kinds = group === "critical" ? [...MINIMAL_EDITS] : [group];
          const pooled = tally();
          for (const kind of kinds) {
            const entry = wrong.get(`${kind}.c${colluders}`);
            if (!entry) continue;
            pooled.trials += entry.trials;
            pooled.support += entry.support;
            pooled.canonical += entry.canonical;
          }
          figures[`${base}.${group}.c${colluders}.support_pct`] = pct(pooled.support, pooled.trials);
          figures[`${base}.${group}.c${colluders}.canonical_pct`] = pct(pooled.canonical, pooled.trials);
        }
      }
      for (const [key, entry] of [...wrong].sort()) {
        rows[`${key}.support`] = { trials: entry.trials, percent: pct(entry.support, entry.trials) };
        rows[`${key}.canonical`] = { trials: entry.trials, percent: pct(entry.canonical, entry.trials) };
      }
      rows["honest.n5k4"] = { trials: honest.n5k4.trials, percent: pct(honest.n5k4.agreed, honest.n5k4.trials) };
      rows["honest.n7k5"] = { trials: honest.n7k5.trials, percent: pct(honest.n7k5.agreed, honest.n7k5.trials) };
      (detail[sectionName] ??= {})[setting.name] = rows;
    }
  }
  return { figures, detail };
}

export async function run(): Promise<Record<string, number>> {
  const prompts = loadCorpus();
  const report = evaluate(prompts);
  const resultsDir = fileURLToPath(new URL("./results/", import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, "decisions-detail.json"), `${JSON.stringify({ prompts: prompts.length, trials: TRIALS, detail: report.detail }, null, 2)}\n`);
  return { prompts: prompts.length, ...report.figures };
}

if (import.meta.main) console.log(JSON.stringify(await run(), null, 2));
