/**
 * Calibration of the divergence models against the published figures (docs/sim.md shows the
 * numbers this prints). Run: `npx node src/sim/calibrate.ts`.
 *
 *  - Thinking Machines (2025): 1,000 greedy runs of one 1,000-token prompt: 80 distinct
 *    completions, the most common 78 times, first divergence at token 103.
 *  - Token-DiFR (2025): with a shared seed, over 98% of tokens match (per step, given the prefix).
 *
 * Free-sampled text and JSON are not a model to calibrate: the simulator draws them from the
 * decisions corpus. `corpusSimilarity` prints the similarity distributions it therefore has (what
 * the old paraphrase model got wrong: it made honest pairs ~94% alike).
 */
import { distance } from "fastest-levenshtein";
import { MINIMAL_EDIT_KINDS, SIM_CORPUS, type SectionName } from "./corpus.ts";
import { createTextModel, honestForkRun, type TextRequestModel } from "./divergence.ts";
import { Rng, deriveKey, rootKey } from "./prng.ts";
import { DEFAULT_MODEL, DIVERGENCE_PRESETS, type DivergenceSpec, type ModelSpec } from "./scenario.ts";

export interface GreedyCalibration {
  prompts: number;
  runs: number;
  tokens: number;
  /** Medians over prompts. */
  distinctCompletions: number;
  mostCommonCount: number;
  firstDivergenceStep: number;
}

export interface SampledCalibration {
  prompts: number;
  runs: number;
  tokens: number;
  temperature: number;
  /** Share of steps at which a run keeps the reference's token given the same prefix. */
  stepMatchRate: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] as number;
}

function divergence(preset: string): DivergenceSpec {
  return { preset, ...(DIVERGENCE_PRESETS[preset] as Omit<DivergenceSpec, "preset">) };
}

/** Greedy runs of `prompts` prompts, `runs` runs each (the Thinking Machines experiment). */
export function calibrateGreedy(options: { prompts?: number; runs?: number; tokens?: number; preset?: string; model?: ModelSpec; seed?: string } = {}): GreedyCalibration {
  const { prompts = 25, runs = 1000, tokens = 1000, preset = "vllm-default", model = DEFAULT_MODEL, seed = "calibration" } = options;
  const spec = divergence(preset);
  const root = rootKey(seed);
  const distinct: number[] = [];
  const common: number[] = [];
  const first: number[] = [];
  for (let p = 0; p < prompts; p++) {
    const world = createTextModel(deriveKey(root, p), tokens, 0, false, model, spec.runDriftPpm + spec.hardwareDriftPpm, false);
    const counts = new Map<string, number>();
    const outputs: number[][] = [];
    for (let r = 0; r < runs; r++) {
      const out = honestForkRun(world, { run: new Rng(deriveKey(root, p, r, 1)), divergence: spec, hardwareKey: deriveKey(root, p, 2) });
      counts.set(out.output, (counts.get(out.output) ?? 0) + 1);
      outputs.push(out.evidence.tokens);
    }
    distinct.push(counts.size);
    common.push(Math.max(...counts.values()));
    let earliest = tokens;
    const reference = outputs[0] as number[];
    for (const tokensOut of outputs) {
      let i = 0;
      while (i < earliest && tokensOut[i] === reference[i]) i++;
      if (i < earliest) earliest = i;
    }
    first.push(earliest + 1);
  }
  return { prompts, runs, tokens, distinctCompletions: median(distinct), mostCommonCount: median(common), firstDivergenceStep: median(first) };
}

/** Per-step agreement with a shared seed (the Token-DiFR measurement). */
export function calibrateSampled(options: { prompts?: number; runs?: number; tokens?: number; temperature?: number; preset?: string; model?: ModelSpec; seed?: string } = {}): SampledCalibration {
  const { prompts = 25, runs = 200, tokens = 500, temperature = 0.7, preset = "vllm-default", model = DEFAULT_MODEL, seed = "calibration" } = options;
  const spec = divergence(preset);
  const root = rootKey(seed);
  let steps = 0;
  let forks = 0;
  for (let p = 0; p < prompts; p++) {
    const world: TextRequestModel = createTextModel(deriveKey(root, p), tokens, temperature, true, model, spec.runDriftPpm + spec.hardwareDriftPpm, false);
    // Given the reference prefix, a run keeps the reference token at step t unless its
    // perceived margin there falls below zero: count that over every step of every run.
    for (let r = 0; r < runs; r++) {
      const rng = new Rng(deriveKey(root, p, r, 3));
      for (const step of world.root.candidates) {
        const perceived = (world.root.margins[step] as number) + rng.normal() * spec.runDriftPpm * world.noiseScale;
        if (perceived < 0) forks++;
      }
      steps += tokens;
    }
  }
  return { prompts, runs, tokens, temperature, stepMatchRate: 1 - forks / steps };
}

export interface SimilarityFigures {
  /** Pairs compared, and the median and mean character similarity (1 - Levenshtein / longer length). */
  pairs: number;
  median: number;
  mean: number;
}

function figures(values: number[]): SimilarityFigures {
  const mean = values.reduce((sum, v) => sum + v, 0) / Math.max(1, values.length);
  return { pairs: values.length, median: Math.round(median(values) * 1000) / 1000, mean: Math.round(mean * 1000) / 1000 };
}

const charSimilarity = (a: string, b: string): number => 1 - distance(a, b) / Math.max(a.length, b.length, 1);

/**
 * Character similarity of the outputs free-sampled text requests draw, per corpus section:
 * honest against honest, a minimal edit (critical token changed) against the honest answer it
 * edits, and lazy and confidently wrong answers against every honest answer.
 */
export function corpusSimilarity(section: SectionName = "free"): Record<"honest" | "critical" | "lazy" | "confidentWrong", SimilarityFigures> {
  const honest: number[] = [];
  const critical: number[] = [];
  const lazy: number[] = [];
  const confident: number[] = [];
  for (const prompt of SIM_CORPUS) {
    const answers = prompt[section].honest;
    for (let i = 0; i < answers.length; i++) for (let j = i + 1; j < answers.length; j++) honest.push(charSimilarity(answers[i] as string, answers[j] as string));
    for (const wrong of prompt[section].wrong) {
      if (MINIMAL_EDIT_KINDS.includes(wrong.kind) && wrong.of !== undefined) critical.push(charSimilarity(wrong.text, answers[wrong.of] as string));
      else if (wrong.kind === "lazy") for (const answer of answers) lazy.push(charSimilarity(wrong.text, answer));
      else if (wrong.kind === "confident-wrong") for (const answer of answers) confident.push(charSimilarity(wrong.text, answer));
    }
  }
  return { honest: figures(honest), critical: figures(critical), lazy: figures(lazy), confidentWrong: figures(confident) };
}

if (import.meta.main) {
  const greedy = calibrateGreedy();
  process.stdout.write(`greedy (Thinking Machines): ${JSON.stringify(greedy)}\n`);
  for (const temperature of [0.3, 0.7, 1.0]) {
    process.stdout.write(`sampled (Token-DiFR): ${JSON.stringify(calibrateSampled({ temperature }))}\n`);
  }
  for (const section of ["free", "pinned", "json"] as const) {
    process.stdout.write(`corpus ${section}, character similarity: ${JSON.stringify(corpusSimilarity(section))}\n`);
  }
}
