/**
 * Divergence models: how honest runs of one request differ, and how adversaries' outputs differ
 * from them. Calibrated against published figures (docs/sim.md has the derivations):
 *
 *  - Thinking Machines (2025): 1,000 greedy runs of one prompt on one server gave 80 distinct
 *    completions, the first divergence near token 103; batch-invariant kernels made all 1,000
 *    match.
 *  - Token-DiFR (2025): with a shared sampling seed more than 98% of tokens match between honest
 *    runs.
 *  - Atil et al. (2024): accuracy varies by up to 15% between runs at "deterministic" settings.
 *  - Measured here (the `llama-cpu` model and presets): the project's trained model on llama.cpp
 *    (CPU) under six engine paths, bench/results/divergence-engine.json; calibrate.ts derives them.
 *
 * Text (fork model). A request's reference trajectory is a token sequence with, per step, the
 * exact-arithmetic decision margin m (greedy: top-1 minus top-2 logit in micro-nats; sampled with
 * the spec's sampler: distance of the step's uniform to the nearer edge of the chosen token's CDF
 * interval, in ppm). A run perceives m + noise, the noise being the run's numerical drift (a
 * per-run part and a per-hardware part); where that is below zero the run takes the runner-up
 * token: a fork. So forks happen only where the reference margin is small, which is the property
 * the seeded policy's fork tolerance relies on. Runs that fork at the same step take the same
 * branch (the runner-up is a property of the prefix), and a branch continues like its parent with
 * a few words changed (a near tie changes the wording, not the subject), so honest outputs form
 * the cluster structure the figures show. Evidence is what each run saw: tokens, and margins with
 * the run's own drift at the steps where it mattered.
 *
 * The fork model's text is synthetic words: it says which runs match and where they fork, not
 * what natural-language answers look like. Free-sampled text and structured (JSON) outputs are
 * answers from the decisions corpus instead (corpus-model.ts).
 */
import type { Evidence } from "../wire/types.ts";
import { Rng, deriveKey, type StreamKey } from "./prng.ts";
import type { AdversarySpec, DivergenceSpec, ModelSpec } from "./scenario.ts";
import { VOCAB_SIZE, renderText, synonymOf } from "./vocab.ts";

export const U32_MAX = 0xffff_ffff;

/** Steps whose margin exceeds this many noise deviations are never examined (P < 1e-15). */
const CANDIDATE_SIGMAS = 8;

export function clampMargin(value: number): number {
  if (!(value > 0)) return 0;
  return value >= U32_MAX ? U32_MAX : Math.floor(value);
}

/** A token id with a Zipf-like skew (common words more often). */
export function drawToken(rng: Rng): number {
  const u = rng.next();
  return Math.floor(u * u * VOCAB_SIZE);
}

// ---------------------------------------------------------------------------------------------
// Text: branches of the reference tree.

export interface Branch {
  /** Names the branch by its path from the root (fork steps), so draws never depend on which run created it. */
  readonly key: StreamKey;
  readonly tokens: Uint32Array;
  /** Exact-arithmetic margins along this branch. */
  readonly margins: Uint32Array;
  /** Steps that can fork under the largest drift in the scenario, ascending. */
  readonly candidates: Int32Array;
  /** Children by fork step. */
  readonly children: Map<number, Branch>;
  text: string | undefined;
  /** `tokens` as a plain list (evidence), made once. */
  list: number[] | undefined;
}

export interface TextRequestModel {
  readonly key: StreamKey;
  readonly length: number;
  readonly temperature: number;
  readonly sampled: boolean;
  readonly model: ModelSpec;
  /** Noise deviations in margin units: greedy micro-nats, or ppm of probability when sampled. */
  readonly noiseScale: number;
  /** Margins below this are candidates. */
  readonly candidateCap: number;
  readonly root: Branch;
  /** Alternative final answers (answer flips), each `answerTokens` long. */
  readonly answers: Uint32Array[];
  branches: Branch[];
}

/** The margin scale factor for sampled steps: logits moved by d move CDF edges by at most d / 2T. */
export function samplingScale(temperature: number): number {
  return temperature > 0 ? 1 / (2 * temperature) : 1;
}

export function drawMargin(rng: Rng, model: ModelSpec, temperature: number, sampled: boolean): number {
  if (!sampled) {
    return rng.chance(model.nearTieRate) ? rng.exponential(model.nearTieMeanPpm) : rng.lognormal(model.bulkMarginMedianPpm, model.bulkMarginSigma);
  }
  // The chosen token's probability W (flatter at higher temperature), u uniform inside its
  // interval: the distance to the nearer edge is uniform on [0, W/2].
  const width = sampledWidth(rng.next(), model, temperature);
  return rng.next() * (width / 2) * 1_000_000;
}

/** The chosen token's probability W at a sampled step, for r uniform on [0, 1). */
export function sampledWidth(r: number, model: ModelSpec, temperature: number): number {
  const min = model.sampledWidthMin;
  const exponent = model.sampledWidthExponent;
  // The calibrated default, written as it always was (so its floats are unchanged).
  if (min === undefined && exponent === undefined) return 0.02 + 0.98 * Math.pow(r, 1.5 * temperature);
  const floor = min ?? 0.02;
  return floor + (1 - floor) * Math.pow(r, (exponent ?? 1.5) * temperature);
}

/**
 * Noise deviations per micro-nat of drift, in margin units: 1 for greedy steps; for sampled ones
 * the 1/(2T) bound times the model's measured share of it (`sampledDriftScale`, default 1).
 */
export function noiseScaleOf(model: ModelSpec, temperature: number, sampled: boolean): number {
  return sampled ? samplingScale(temperature) * (model.sampledDriftScale ?? 1) : 1;
}

function candidatesOf(margins: Uint32Array, cap: number, from: number): Int32Array {
  const out: number[] = [];
  for (let i = from; i < margins.length; i++) if ((margins[i] as number) < cap) out.push(i);
  return Int32Array.from(out);
}

/**
 * A request's text model. `maxDrift` is the largest per-run plus per-hardware deviation of any
 * class in the scenario (micro-nats), which bounds the steps any run can fork at.
 */
export function createTextModel(key: StreamKey, length: number, temperature: number, sampled: boolean, model: ModelSpec, maxDrift: number, flips: boolean): TextRequestModel {
  const rng = new Rng(deriveKey(key, 1));
  const tokens = new Uint32Array(length);
  const margins = new Uint32Array(length);
  for (let i = 0; i < length; i++) {
    tokens[i] = drawToken(rng);
    margins[i] = clampMargin(drawMargin(rng, model, temperature, sampled));
  }
  const answerStart = Math.max(0, length - model.answerTokens);
  // Where answers can flip between runs, the reference is itself near a tie at the answer.
  if (flips) margins[answerStart] = clampMargin(rng.exponential(model.nearTieMeanPpm));
  const noiseScale = noiseScaleOf(model, temperature, sampled);
  const candidateCap = CANDIDATE_SIGMAS * maxDrift * noiseScale;
  const root: Branch = { key: deriveKey(key, 0), tokens, margins, candidates: candidatesOf(margins, candidateCap, 0), children: new Map(), text: undefined, list: undefined };
  const answers: Uint32Array[] = [];
  for (let a = 0; a < 2; a++) {
    const alt = new Uint32Array(length - answerStart);
    for (let i = 0; i < alt.length; i++) alt[i] = drawToken(rng);
    answers.push(alt);
  }
  return { key, length, temperature, sampled, model, noiseScale, candidateCap, root, answers, branches: [root] };
}

/** The branch a run takes when it forks from `parent` at `step` (one per (parent, step)). */
export function childBranch(world: TextRequestModel, parent: Branch, step: number): Branch {
  const existing = parent.children.get(step);
  if (existing) return existing;
  const branchKey = deriveKey(parent.key, step);
  const rng = new Rng(branchKey);
  const tokens = parent.tokens.slice();
  const margins = parent.margins.slice();
  // The runner-up token at the near tie; the gap is the same near tie seen from the other side.
  let alt = drawToken(rng);
  if (alt === parent.tokens[step]) alt = (alt + 1) % VOCAB_SIZE;
  tokens[step] = alt;
  // The continuation rewords a few of the parent's words (new wording, same subject).
  const rate = world.model.resyncEditRate;
  for (let i = step + 1; i < tokens.length; i++) {
    if (!rng.chance(rate)) continue;
    tokens[i] = rng.chance(0.7) ? synonymOf(tokens[i] as number, rng.int(3)) : drawToken(rng);
    margins[i] = clampMargin(drawMargin(rng, world.model, world.temperature, world.sampled));
  }
  const branch: Branch = { key: branchKey, tokens, margins, candidates: candidatesOf(margins, world.candidateCap, step + 1), children: new Map(), text: undefined, list: undefined };
  world.branches.push(branch);
  parent.children.set(step, branch);
  return branch;
}

export interface RunOutput {
  output: string;
  evidence: Evidence;
}

/** The text of a branch (rendered once). */
export function branchText(branch: Branch): string {
  if (branch.text === undefined) branch.text = renderText(branch.tokens);
  return branch.text;
}

/** Binary search: first index in `sorted` whose value is > `after`. */
function firstAfter(sorted: Int32Array, after: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) > after) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export interface HonestRunContext {
  /** The run's own noise stream. */
  run: Rng;
  divergence: DivergenceSpec;
  /** Key of the node's hardware class for this request (systematic drift, shared by the class). */
  hardwareKey: StreamKey;
}

/** Emitted margins: the final branch's, with what the run perceived at the steps it examined. */
function emitted(branch: Branch, examined: Map<number, number>): Uint32Array {
  const margins = branch.margins.slice();
  for (const [step, perceived] of examined) margins[step] = clampMargin(Math.abs(perceived));
  return margins;
}

function withAnswer(world: TextRequestModel, tokens: Uint32Array, margins: Uint32Array, answer: Uint32Array): void {
  const start = world.length - answer.length;
  tokens.set(answer, start);
  margins[start] = clampMargin(Math.min(margins[start] as number, world.model.nearTieMeanPpm));
}

/** A hardware class's systematic offset at a step of a branch, in deviations (the same for every run of the class). */
export function hardwareNoise(hardwareKey: StreamKey, branch: Branch, step: number): number {
  return new Rng(deriveKey(hardwareKey, branch.key[0], branch.key[1], step)).normal();
}

/**
 * Where a run ends up in the reference tree: the branch it follows to the end and what it perceived
 * at the steps it examined. Consumes the run's stream exactly as honestForkRun always has.
 */
export function forkWalk(world: TextRequestModel, ctx: HonestRunContext): { branch: Branch; examined: Map<number, number> } {
  const runScale = ctx.divergence.runDriftPpm * world.noiseScale;
  const hardwareScale = ctx.divergence.hardwareDriftPpm * world.noiseScale;
  let branch = world.root;
  const examined = new Map<number, number>();
  if (runScale > 0 || hardwareScale > 0) {
    let index = 0;
    for (;;) {
      const step = branch.candidates[index];
      if (step === undefined) break;
      const hardware = hardwareScale > 0 ? hardwareNoise(ctx.hardwareKey, branch, step) * hardwareScale : 0;
      const perceived = (branch.margins[step] as number) + ctx.run.normal() * runScale + hardware;
      examined.set(step, perceived);
      if (perceived < 0) {
        branch = childBranch(world, branch, step);
        index = firstAfter(branch.candidates, step);
      } else {
        index++;
      }
    }
  }
  return { branch, examined };
}

/** An honest run under the fork model (greedy, or sampled with the spec's sampler). */
export function honestForkRun(world: TextRequestModel, ctx: HonestRunContext): RunOutput {
  const { branch, examined } = forkWalk(world, ctx);
  const flip = ctx.run.chance(ctx.divergence.answerFlipPpm / 1e6) ? (world.answers[ctx.run.int(world.answers.length)] as Uint32Array) : undefined;
  const margins = emitted(branch, examined);
  if (!flip) {
    branch.list ??= Array.from(branch.tokens);
    return { output: branchText(branch), evidence: { tokens: branch.list, margins: Array.from(margins) } };
  }
  const tokens = branch.tokens.slice();
  withAnswer(world, tokens, margins, flip);
  return { output: renderText(tokens), evidence: { tokens: Array.from(tokens), margins: Array.from(margins) } };
}

/** First step of the reference whose margin is a near tie, if any (where a smart liar forks). */
export function firstNearTie(world: TextRequestModel): number | undefined {
  let best: number | undefined;
  const limit = Math.floor(world.length * 0.75);
  for (const step of world.root.candidates) {
    if (step >= limit) break;
    if (best === undefined || (world.root.margins[step] as number) < (world.root.margins[best] as number)) best = step;
  }
  return best;
}

/** The reference with everything from `from` on replaced by fresh tokens (a different answer). */
function divergentTokens(world: TextRequestModel, rng: Rng, from: number): Uint32Array {
  const tokens = world.root.tokens.slice();
  for (let i = from; i < tokens.length; i++) tokens[i] = drawToken(rng);
  if (tokens[from] === world.root.tokens[from]) tokens[from] = ((tokens[from] as number) + 1) % VOCAB_SIZE;
  return tokens;
}

function liarMargins(length: number): number[] {
  return new Array<number>(length).fill(0);
}

/**
 * An adversary's text output. `shared` is a stream shared by every node of the adversary class
 * for this request (colluders and lazy nodes agree among themselves); `own` is the node's own.
 */
export function adversaryText(world: TextRequestModel, spec: AdversarySpec, shared: Rng, own: Rng): RunOutput {
  const length = world.length;
  switch (spec.type) {
    case "lazy": {
      // A cheaper model: follows the reference for a while, then words a share of it differently.
      const tokens = world.root.tokens.slice();
      const margins = world.root.margins.slice();
      const from = Math.floor(length * (0.02 + 0.08 * shared.next()));
      for (let i = from; i < length; i++) {
        if (!shared.chance(spec.editRate)) continue;
        tokens[i] = shared.chance(0.5) ? synonymOf(tokens[i] as number, shared.int(3)) : drawToken(shared);
        margins[i] = clampMargin(drawMargin(shared, world.model, world.temperature, world.sampled));
      }
      return { output: renderText(tokens), evidence: { tokens: Array.from(tokens), margins: Array.from(margins) } };
    }
    case "random": {
      const tokens = new Uint32Array(length);
      const margins = new Array<number>(length);
      for (let i = 0; i < length; i++) {
        tokens[i] = drawToken(own);
        margins[i] = own.int(2_000_000);
      }
      return { output: renderText(tokens), evidence: { tokens: Array.from(tokens), margins } };
    }
    case "colluding": {
      if (spec.wrong === "subtle") {
        // Only the final answer differs, stated confidently.
        const tokens = world.root.tokens.slice();
        const start = Math.max(0, length - world.model.answerTokens);
        for (let i = start; i < length; i++) tokens[i] = drawToken(shared);
        if (tokens[start] === world.root.tokens[start]) tokens[start] = ((tokens[start] as number) + 1) % VOCAB_SIZE;
        return { output: renderText(tokens), evidence: { tokens: Array.from(tokens), margins: Array.from(world.root.margins) } };
      }
      const tokens = divergentTokens(world, shared, Math.floor(length * 0.1));
      return { output: renderText(tokens), evidence: { tokens: Array.from(tokens), margins: Array.from(world.root.margins) } };
    }
    case "margin-liar": {
      // All liars send one wrong output and claim a margin of 0 at every step, so that every
      // fork from it looks like a near tie. "near-tie": the wrong output leaves the reference at a
      // genuine near tie (the honest runner-up token), so honest nodes that kept the reference
      // token there truly measured a small margin at that step.
      const nearTie = spec.strategy === "near-tie" ? firstNearTie(world) : undefined;
      const step = nearTie ?? Math.floor(length * (0.05 + 0.2 * shared.next()));
      const tokens = divergentTokens(world, shared, step);
      if (nearTie !== undefined) tokens[step] = childBranch(world, world.root, step).tokens[step] as number;
      return { output: renderText(tokens), evidence: { tokens: Array.from(tokens), margins: liarMargins(length) } };
    }
    default:
      throw new Error(`adversaryText: ${spec.type} has no output model of its own`);
  }
}
