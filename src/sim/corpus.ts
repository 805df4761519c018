/**
 * The decisions corpus as the simulator sees it: bench/data/decisions (README there), copied into
 * corpus.json by scripts/gen-sim-corpus.ts (a test checks the copy is current). 63 prompts of the
 * kinds contracts ask, each with hand-written honest answers that differ the way independent
 * T = 0.7 samples of a strong chat model differ, and wrong answers: minimal edits of one honest
 * answer (a number, a "not", a name, the verdict, a direction changed), lazy non-answers and
 * fluent, confidently wrong ones; each in free text, in a pinned template and as JSON under a
 * structured@2 schema.
 *
 * Free-sampled text and structured requests in the simulator draw their outputs from here
 * (divergence.ts, world.ts): so similarity between honest outputs, and between honest and wrong
 * ones, is what the corpus measured, not a property of a synthetic model.
 */
import type { PolicyParams } from "../wire/types.ts";
import data from "./corpus.json" with { type: "json" };

export const WRONG_KINDS = ["number", "negation", "entity", "yes-no", "direction", "lazy", "confident-wrong"] as const;
export type WrongKind = (typeof WRONG_KINDS)[number];
/** The kinds that are one honest answer with one decision-bearing token changed (`of` names it). */
export const MINIMAL_EDIT_KINDS: readonly WrongKind[] = ["number", "negation", "entity", "yes-no", "direction"];
/** The kinds that flip the answer itself (where an honest run's answer flip lands). */
export const FLIP_KINDS: readonly WrongKind[] = ["yes-no", "direction", "negation"];

export interface CorpusWrong {
  readonly kind: WrongKind;
  readonly of?: number;
  readonly text: string;
}

export interface CorpusSection {
  /** pinned: the template instruction added to the prompt. */
  readonly prompt?: string;
  /** json: the structured@2 output schema. */
  readonly schema?: PolicyParams;
  readonly honest: readonly string[];
  readonly wrong: readonly CorpusWrong[];
}

export type SectionName = "free" | "pinned" | "json";

export interface CorpusPrompt {
  readonly id: string;
  readonly kind: string;
  readonly prompt: string;
  /** The answer vocabulary a request would declare (semantic@2 `terms`). */
  readonly labels?: readonly string[];
  readonly free: CorpusSection;
  readonly pinned: CorpusSection;
  readonly json: CorpusSection;
}

export const SIM_CORPUS: readonly CorpusPrompt[] = data as unknown as readonly CorpusPrompt[];
