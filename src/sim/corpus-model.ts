/**
 * Free-sampled text and structured (JSON) outputs, drawn from the decisions corpus (corpus.ts).
 *
 * A request picks a corpus prompt and a section: `free` or `pinned` for free-sampled text, `json`
 * for structured requests (whose structured@2 schema the request can carry as its policy's
 * parameters). What an honest run outputs is one of the section's honest answers, so the
 * similarity between honest outputs is the similarity real samples have (the corpus's free-text
 * answers are ~28% alike by characters), not a model's:
 *
 *  - free sampling (each node samples on its own): the honest members of a committee draw the
 *    section's honest answers without repeats while there are answers left (world.ts assigns the
 *    slots), as independent T = 0.7 samples differ;
 *  - seeded or greedy decoding (JSON only; seeded text keeps the fork model): the fork model of
 *    divergence.ts, over as many tokens as the request's reference answer has, decides which runs
 *    match. A run that follows the reference gives the reference answer; a run that forks gives
 *    another honest answer, the same one for every run on that branch. So how often honest runs
 *    differ is the calibrated fork model's, and how they differ is the corpus's.
 *  - answer flips (the divergence's answerFlipPpm, and jsonLabelFlipPpm for JSON): the run gives
 *    one of the section's wrong answers that flip the answer itself (yes-no, direction, negation).
 *    As in the fork model, a flip is an honest computation (Atil et al., 2024), so agreeing on
 *    one is not counted as a false accept.
 *
 * Adversaries send the section's wrong answers (shared per request by every node of the class,
 * so colluders send the same one):
 *   lazy                    a `lazy` answer (a generic non-answer from a cheaper model);
 *   colluding, blatant      a `confident-wrong` answer (fluent, independently written, wrong);
 *   colluding, subtle       a minimal edit of one honest answer (number, negation, entity,
 *                           yes-no, direction: whichever the prompt has);
 *   margin-liar             a minimal edit too, claiming margin 0 at every token;
 *   random                  its own junk per node: random synthetic words, or for JSON random
 *                           values of the schema's types.
 *
 * Evidence (tokens and margins, which only the seeded policy reads) is the text cut into words,
 * digits and punctuation marks, each a stable token id, with margins drawn as the fork model
 * draws them (greedy or sampled); so equal texts carry equal tokens.
 */
import type { Evidence, PolicyParams } from "../wire/types.ts";
import { FLIP_KINDS, MINIMAL_EDIT_KINDS, type CorpusPrompt, type CorpusSection, type CorpusWrong, type SectionName, type WrongKind } from "./corpus.ts";
import { clampMargin, createTextModel, drawMargin, drawToken, forkWalk, type Branch, type HonestRunContext, type RunOutput, type TextRequestModel } from "./divergence.ts";
import { Rng, deriveKey, type StreamKey } from "./prng.ts";
import type { AdversarySpec, ModelSpec } from "./scenario.ts";
import { renderText } from "./vocab.ts";

/** A decision field of a JSON section's schema and the values honest runs give it. */
interface DecisionField {
  readonly name: string;
  readonly numeric: boolean;
  /** JSON text of each honest value (labels, booleans, strings). */
  readonly values: ReadonlySet<string>;
  /** Numbers: the honest range (any value between honest values is one an honest median can take). */
  readonly min: number;
  readonly max: number;
  /** Some honest answer leaves the field out. */
  readonly absent: boolean;
}

export interface CorpusRequestModel {
  readonly key: StreamKey;
  readonly prompt: CorpusPrompt;
  readonly sectionName: SectionName;
  readonly section: CorpusSection;
  readonly temperature: number;
  readonly model: ModelSpec;
  /** Seeded or greedy decoding: the fork model that decides which runs match (undefined: free sampling). */
  readonly fork: TextRequestModel | undefined;
  /** The honest answer a run that follows the reference gives (index into section.honest). */
  readonly reference: number;
  /** Wrong answers an honest run's answer flip gives. */
  readonly flips: readonly CorpusWrong[];
  /** Texts an honest run gives (the flips too, when honest runs can flip). */
  readonly honestTexts: ReadonlySet<string>;
  /** JSON sections: the schema's decision fields (commentary left out). */
  readonly fields: readonly DecisionField[] | undefined;
  /** Tokens of the reference answer. */
  readonly tokens: number;
  /** The request's input: the prompt, with the template instruction for a pinned section. */
  readonly input: string;
}

const CHUNK = /[\p{L}\p{M}]+|\p{N}|[^\s\p{L}\p{M}\p{N}]/gu;

/** A stable token id for a chunk of text (FNV-1a). */
function chunkToken(chunk: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < chunk.length; i++) h = Math.imul(h ^ chunk.charCodeAt(i), 0x01000193);
  return (h >>> 0) % 50_000;
}

/** The text as tokens: one per word, digit or punctuation mark. */
export function corpusTokens(text: string): number[] {
  const tokens: number[] = [];
  for (const match of text.matchAll(CHUNK)) tokens.push(chunkToken(match[0]));
  return tokens;
}

function evidenceOf(world: CorpusRequestModel, text: string, rng: Rng, claimZero: boolean): Evidence {
  const tokens = corpusTokens(text);
  const sampled = world.temperature > 0;
  const margins = tokens.map(() => (claimZero ? 0 : clampMargin(drawMargin(rng, world.model, world.temperature, sampled))));
  return { tokens, margins };
}

function decisionFields(section: CorpusSection, answers: readonly string[]): DecisionField[] | undefined {
  const properties = section.schema?.["properties"];
  if (typeof properties !== "object" || properties === null || Array.isArray(properties)) return undefined;
  const parsed = answers.map((text) => JSON.parse(text) as Record<string, unknown>);
  const fields: DecisionField[] = [];
  for (const name of Object.keys(properties).sort()) {
    const spec = properties[name] as PolicyParams;
    if (spec["commentary"] === true) continue;
    const numeric = spec["type"] === "number" || spec["type"] === "integer";
    const values = new Set<string>();
    let min = Infinity;
    let max = -Infinity;
    let absent = false;
    for (const answer of parsed) {
      if (!Object.hasOwn(answer, name)) {
        absent = true;
        continue;
      }
      const value = answer[name];
      values.add(JSON.stringify(value));
      if (typeof value === "number") {
        min = Math.min(min, value);
        max = Math.max(max, value);
      }
    }
    fields.push({ name, numeric, values, min, max, absent });
  }
  return fields;
}

/**
 * A request's corpus model. `seeded`: the request decodes with a shared seed (or greedily), so the
 * fork model decides which runs match; `maxDrift` bounds the steps any run can fork at (as for
 * text); `flipsHonest`: some honest class flips answers, so the flip answers count as honest.
 */
export function createCorpusModel(
  key: StreamKey,
  prompt: CorpusPrompt,
  sectionName: SectionName,
  temperature: number,
  seeded: boolean,
  model: ModelSpec,
  maxDrift: number,
  flipsHonest: boolean,
): CorpusRequestModel {
  const section = prompt[sectionName];
  const rng = new Rng(deriveKey(key, 1));
  const reference = rng.int(section.honest.length);
  const tokens = Math.max(1, corpusTokens(section.honest[reference] as string).length);
  const fork = seeded ? createTextModel(deriveKey(key, 2), tokens, temperature, temperature > 0, model, maxDrift, false) : undefined;
  const flips = section.wrong.filter((wrong) => FLIP_KINDS.includes(wrong.kind));
  const honest = flipsHonest ? [...section.honest, ...flips.map((flip) => flip.text)] : [...section.honest];
  return {
    key,
    prompt,
    sectionName,
    section,
    temperature,
    model,
    fork,
    reference,
    flips,
    honestTexts: new Set(honest),
    fields: sectionName === "json" ? decisionFields(section, honest) : undefined,
    tokens,
    input: sectionName === "pinned" && section.prompt ? `${prompt.prompt}\n\n${section.prompt}` : prompt.prompt,
  };
}

/** The honest answer a branch of the fork model gives: the reference on the root, another one (fixed per branch) elsewhere. */
function branchAnswer(world: CorpusRequestModel, branch: Branch): number {
  if (!world.fork || branch === world.fork.root) return world.reference;
  const pick = new Rng(deriveKey(branch.key, 0x414e)).int(world.section.honest.length - 1);
  return pick >= world.reference ? pick + 1 : pick;
}

/**
 * An honest run. `slot`: under free sampling, the honest answer the committee assignment gave
 * this member (world.ts); ignored under seeded decoding. `flipPpm`: the run's answer-flip chance.
 */
export function honestCorpusRun(world: CorpusRequestModel, ctx: HonestRunContext, slot: number | undefined, flipPpm: number): RunOutput {
  const index = world.fork ? branchAnswer(world, forkWalk(world.fork, ctx).branch) : (slot ?? world.reference);
  let text = world.section.honest[index % world.section.honest.length] as string;
  if (flipPpm > 0 && world.flips.length > 0 && ctx.run.chance(flipPpm / 1e6)) text = (world.flips[ctx.run.int(world.flips.length)] as CorpusWrong).text;
  return { output: text, evidence: evidenceOf(world, text, ctx.run, false) };
}

/** One of the section's wrong answers of the given kinds (any wrong answer if it has none of them). */
function pickWrong(section: CorpusSection, kinds: readonly WrongKind[], rng: Rng): CorpusWrong {
  const candidates = section.wrong.filter((wrong) => kinds.includes(wrong.kind));
  const from = candidates.length > 0 ? candidates : section.wrong;
  return from[rng.int(from.length)] as CorpusWrong;
}

/** Values of the schema's types, at random: schema-shaped junk. */
function randomJson(section: CorpusSection, rng: Rng): string {
  const properties = (section.schema?.["properties"] ?? {}) as Record<string, PolicyParams>;
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(properties)) {
    const spec = properties[name] as PolicyParams;
    const choices = spec["enum"];
    if (Array.isArray(choices)) out[name] = choices[rng.int(choices.length)];
    else if (spec["type"] === "boolean") out[name] = rng.chance(0.5);
    else if (spec["type"] === "integer") out[name] = rng.int(1000);
    else if (spec["type"] === "number") out[name] = rng.int(10_000_000) / 100;
    else out[name] = renderText([drawToken(rng), drawToken(rng), drawToken(rng)]);
  }
  return JSON.stringify(out);
}

/**
 * An adversary's output. `shared` is a stream shared by every node of the adversary class for
 * this request (lazy nodes and colluders send the same answer); `own` is the node's own.
 */
export function adversaryCorpusRun(world: CorpusRequestModel, spec: AdversarySpec, shared: Rng, own: Rng): RunOutput {
  const section = world.section;
  switch (spec.type) {
    case "lazy": {
      const text = pickWrong(section, ["lazy"], shared).text;
      return { output: text, evidence: evidenceOf(world, text, shared, false) };
    }
    case "colluding": {
      const text = pickWrong(section, spec.wrong === "subtle" ? MINIMAL_EDIT_KINDS : ["confident-wrong"], shared).text;
      return { output: text, evidence: evidenceOf(world, text, shared, false) };
    }
    case "margin-liar": {
      const text = pickWrong(section, MINIMAL_EDIT_KINDS, shared).text;
      return { output: text, evidence: evidenceOf(world, text, shared, true) };
    }
    case "random": {
      const text = world.sectionName === "json" ? randomJson(section, own) : renderText(Array.from({ length: world.tokens }, () => drawToken(own)));
      return { output: text, evidence: evidenceOf(world, text, own, false) };
    }
    default:
      throw new Error(`adversaryCorpusRun: ${spec.type} has no output model of its own`);
  }
}

/**
 * Whether an agreed output is one honest runs give: an honest answer's text (or a flip's, when
 * honest runs flip), or for JSON, an object whose every decision field holds what some honest
 * answer holds there (numbers: within the honest range, since a structured decision's canonical
 * number is its supporters' median).
 */
export function isHonestCorpusOutput(world: CorpusRequestModel, output: string): boolean {
  if (world.honestTexts.has(output)) return true;
  if (!world.fields) return false;
  let value: unknown;
  try {
    value = JSON.parse(output);
  } catch {
    return false;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const object = value as Record<string, unknown>;
  for (const field of world.fields) {
    if (!Object.hasOwn(object, field.name)) {
      if (!field.absent) return false;
      continue;
    }
    const v = object[field.name];
    if (field.numeric) {
      if (typeof v !== "number" || !(v >= field.min && v <= field.max)) return false;
    } else if (!field.values.has(JSON.stringify(v))) {
      return false;
    }
  }
  return true;
}
