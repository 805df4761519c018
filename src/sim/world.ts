/**
 * The simulated world: the fleet (a real registry of seeded ed25519 keys, nodes assigned to honest
 * hardware classes and adversary classes by share) and, per request, what every node would
 * output and how long everything takes. A request's world is fixed before any policy looks at
 * it, and every draw is addressed by (request, node, purpose), so all policies and the first-wins
 * baseline are measured on the same draws.
 */
import { createRegistry, type Registry } from "../quorum/registry.ts";
import { taggedHash } from "../wire/hash.ts";
import { payloadHash } from "../wire/ids.ts";
import type { Bytes, PolicyRef } from "../wire/types.ts";
import { SIM_CORPUS, type CorpusPrompt, type SectionName } from "./corpus.ts";
import { adversaryCorpusRun, createCorpusModel, honestCorpusRun, isHonestCorpusOutput, type CorpusRequestModel } from "./corpus-model.ts";
import { branchText, adversaryText, createTextModel, honestForkRun, type RunOutput, type TextRequestModel } from "./divergence.ts";
import { Rng, deriveKey, rootKey, type StreamKey } from "./prng.ts";
import {
  corpusPolicyParams,
  type AdversarySpec,
  type AdversaryType,
  type CorpusParams,
  type DivergenceSpec,
  type Dist,
  type HonestClass,
  type PolicyKind,
  type RequestKind,
  type RequestMixEntry,
  type SamplerKind,
  type Scenario,
} from "./scenario.ts";
import { createSigner, simKey, type Signer } from "./signer.ts";

export const SIM_CHAIN = "concord-sim";
export const SIM_MODEL = "concord-synthetic-sim";

export type Behavior = "honest" | AdversaryType;

export interface FleetClass {
  index: number;
  name: string;
  behavior: Behavior;
  count: number;
  honest?: HonestClass;
  adversary?: AdversarySpec;
}

export interface FleetNode {
  id: string;
  index: number;
  cls: FleetClass;
  weight: number;
  signer: Signer;
}

export interface Fleet {
  readonly classes: readonly FleetClass[];
  readonly nodes: readonly FleetNode[];
  readonly byId: ReadonlyMap<string, FleetNode>;
  readonly registry: Registry;
  readonly sequencer: Signer;
}

/** Draw purposes: each (request, node, purpose) has its own stream. */
export const Purpose = {
  compute: 1,
  output: 2,
  requestHop: 3,
  commitHop: 4,
  closeHop: 5,
  revealHop: 6,
  outputHop: 7,
  observeHop: 8,
  secondHop: 9,
} as const;

const STREAM_MIX = 0x4d49;
const STREAM_FLEET = 0x464c;
const STREAM_REQUEST = 0x5251;
const STREAM_HARDWARE = 0x4857;
const STREAM_SHARED = 0x4144;
const STREAM_CORPUS = 0x4350;
const STREAM_SLOTS = 0x534c;

export function sampleDist(dist: Dist, rng: Rng): number {
  switch (dist.dist) {
    case "fixed":
      return dist.ms;
    case "uniform":
      return dist.minMs + (dist.maxMs - dist.minMs) * rng.next();
    case "lognormal":
      return rng.lognormal(dist.medianMs, dist.sigma);
    case "exponential":
      return rng.exponential(dist.meanMs);
  }
}

/** Simulated times are kept to the microsecond, so every printed value is exact. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Largest-remainder apportionment of `total` over `quotas` (ties to the earlier entry). */
export function apportion(quotas: readonly number[], total: number): number[] {
  const sum = quotas.reduce((a, b) => a + b, 0);
  const exact = quotas.map((q) => (q / sum) * total);
  const counts = exact.map(Math.floor);
  let left = total - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    counts[i] = (counts[i] as number) + 1;
    left--;
  }
  return counts;
}

/** Builds the fleet: classes, node ids, weights, keys and the registry. */
export function createFleet(scenario: Scenario): Fleet {
  const size = scenario.registry.size;
  const adversaryShare = scenario.adversaries.reduce((sum, a) => sum + a.share, 0);
  const honestShare = scenario.classes.reduce((sum, c) => sum + c.share, 0);
  const quotas = [
    ...scenario.classes.map((c) => ((1 - adversaryShare) * c.share) / honestShare),
    ...scenario.adversaries.map((a) => a.share),
  ];
  const counts = apportion(quotas, size);
  const classes: FleetClass[] = [
    ...scenario.classes.map((honest, i): FleetClass => ({ index: i, name: honest.name, behavior: "honest", count: counts[i] as number, honest })),
    ...scenario.adversaries.map((adversary, j): FleetClass => {
      const index = scenario.classes.length + j;
      return { index, name: adversary.name, behavior: adversary.type, count: counts[index] as number, adversary };
    }),
  ];
  const slots: FleetClass[] = classes.flatMap((cls) => new Array<FleetClass>(cls.count).fill(cls));
  const root = rootKey(scenario.seed);
  const rng = new Rng(deriveKey(root, STREAM_FLEET));
  for (let i = slots.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = slots[i] as FleetClass;
    slots[i] = slots[j] as FleetClass;
    slots[j] = tmp;
  }
  const width = Math.max(3, String(size - 1).length);
  const weights = scenario.registry.weights;
  const nodes: FleetNode[] = slots.map((cls, index) => {
    const id = `node-${String(index).padStart(width, "0")}`;
    let base = 1;
    if (weights.kind === "uniform") base = weights.min + rng.int(weights.max - weights.min + 1);
    else if (weights.kind === "lognormal") base = Math.max(1, Math.round(rng.lognormal(weights.median, weights.sigma)));
    const multiplier = cls.honest?.weight ?? cls.adversary?.weight ?? 1;
    return { id, index, cls, weight: Math.min(2 ** 32 - 1, base * multiplier), signer: createSigner(simKey(scenario.seed, id)) };
  });
  const sequencer = createSigner(simKey(scenario.seed, "sequencer"));
  const registry = createRegistry({
    chain: SIM_CHAIN,
    sequencer: { scheme: "ed25519", publicKey: sequencer.key.publicKey },
    nodes: nodes.map((node) => ({ id: node.id, scheme: "ed25519", publicKey: node.signer.key.publicKey, weight: node.weight })),
  });
  return { classes, nodes, byId: new Map(nodes.map((node) => [node.id, node])), registry, sequencer };
}

/** One node's part in one request. */
export interface NodeRun {
  node: FleetNode;
  /** What it sends (undefined: a silent node, or a copycat, which copies at run time). */
  output: RunOutput | undefined;
  /** payloadHash of `output`, computed once and shared by every policy's run. */
  payload: Bytes | undefined;
  /** An equivocator's second, different output. */
  second: RunOutput | undefined;
  /** Whether `output` is what an honest run produces. */
  honestOutput: boolean;
  /** Time from receiving the request to having the output (compute), ms. */
  computeMs: number;
  /** Encoded sizes of this node's messages, filled on first use (they do not depend on the request id). */
  sizes: { commitment?: number; reveal?: number; output?: number };
}

/** Per-scenario constants derived once. */
export interface WorldConstants {
  readonly root: StreamKey;
  /** Largest run + hardware drift of any class that computes honestly (micro-nats). */
  readonly maxDrift: number;
  readonly answerFlips: boolean;
  /** Some honest class flips structured decisions (jsonLabelFlipPpm or answerFlipPpm). */
  readonly labelsFlip: boolean;
  /** Divergence of honest-computing adversaries (slow, equivocator, copycat fallbacks). */
  readonly adversaryDivergence: DivergenceSpec;
}

export function worldConstants(scenario: Scenario): WorldConstants {
  const divergences = scenario.classes.map((c) => c.divergence);
  return {
    root: rootKey(scenario.seed),
    maxDrift: Math.max(0, ...divergences.map((d) => d.runDriftPpm + d.hardwareDriftPpm)),
    answerFlips: divergences.some((d) => d.answerFlipPpm > 0),
    labelsFlip: divergences.some((d) => d.jsonLabelFlipPpm > 0 || d.answerFlipPpm > 0),
    adversaryDivergence: divergences[0] as DivergenceSpec,
  };
}

function pickMix(mix: readonly RequestMixEntry[], rng: Rng): RequestMixEntry {
  const total = mix.reduce((sum, entry) => sum + entry.share, 0);
  let x = rng.next() * total;
  for (const entry of mix) {
    x -= entry.share;
    if (x < 0) return entry;
  }
  return mix[mix.length - 1] as RequestMixEntry;
}

/** Whether a member computes the request honestly (honest, slow and equivocating nodes do). */
function computesHonestly(node: FleetNode): boolean {
  const behavior = node.cls.behavior;
  return behavior === "honest" || behavior === "slow" || behavior === "equivocator";
}

/** 0..count-1 in a random order (Fisher-Yates). */
function shuffled(count: number, rng: Rng): number[] {
  const out = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = out[i] as number;
    out[i] = out[j] as number;
    out[j] = tmp;
  }
  return out;
}

/** A u32 label from the first bytes of a request id. */
function idLabel(id: Bytes): number {
  return (((id[0] ?? 0) << 24) | ((id[1] ?? 0) << 16) | ((id[2] ?? 0) << 8) | (id[3] ?? 0)) >>> 0;
}

/** Everything about one request that does not depend on the policy. */
export class RequestWorld {
  readonly index: number;
  readonly key: StreamKey;
  readonly mix: RequestMixEntry;
  readonly kind: RequestKind;
  readonly sampler: SamplerKind;
  /** The kinds of policy this request is for ("text" and "text/seeded", say). */
  readonly policyKinds: readonly PolicyKind[];
  /** Tokens: seeded text's drawn length, or the corpus reference answer's. */
  readonly length: number;
  readonly entropy: Bytes;
  readonly input: string;
  /** Seeded (and greedy) text: the fork model. */
  readonly text: TextRequestModel | undefined;
  /** Free-sampled text and JSON: answers from the decisions corpus. */
  readonly corpus: CorpusRequestModel | undefined;
  readonly #scenario: Scenario;
  readonly #constants: WorldConstants;
  readonly #runs = new Map<string, NodeRun>();
  readonly #delays = new Map<number, number>();

  constructor(scenario: Scenario, constants: WorldConstants, index: number) {
    this.#scenario = scenario;
    this.#constants = constants;
    this.index = index;
    this.key = deriveKey(constants.root, STREAM_REQUEST, index);
    const rng = new Rng(deriveKey(constants.root, STREAM_MIX, index));
    this.mix = pickMix(scenario.requestMix, rng);
    this.kind = this.mix.kind;
    this.sampler = this.mix.sampler;
    const seededText = this.kind === "text" && this.sampler === "seeded";
    if (seededText) {
      this.length = this.mix.tokens.min + rng.int(this.mix.tokens.max - this.mix.tokens.min + 1);
      this.text = createTextModel(this.key, this.length, this.mix.temperature, this.mix.temperature > 0, scenario.model, constants.maxDrift, constants.answerFlips);
      this.corpus = undefined;
      this.input = `sim ${scenario.name} request ${index}: ${this.kind}, temperature ${this.mix.temperature}, ${this.length} tokens`;
      this.policyKinds = ["text", "text/seeded"];
    } else {
      const prompt = SIM_CORPUS[rng.int(SIM_CORPUS.length)] as CorpusPrompt;
      const section: SectionName = this.kind === "json" ? "json" : this.mix.format;
      const flipsHonest = this.kind === "json" ? constants.labelsFlip : constants.answerFlips;
      this.corpus = createCorpusModel(deriveKey(this.key, STREAM_CORPUS), prompt, section, this.mix.temperature, this.sampler === "seeded", scenario.model, constants.maxDrift, flipsHonest);
      this.text = undefined;
      this.length = this.corpus.tokens;
      this.input = this.corpus.input;
      this.policyKinds = this.kind === "json" ? ["json"] : ["text", section === "pinned" ? "text/pinned" : "text/free"];
    }
    this.entropy = taggedHash("concord/sim-entropy", scenario.seed, String(index));
  }

  /** The corpus prompt and section this request draws from ("" for seeded text). */
  get promptId(): string {
    return this.corpus ? `${this.corpus.prompt.id}/${this.corpus.sectionName}` : "";
  }

  /** The request's sampling parameters on the wire. */
  get sampling() {
    return { temperatureMilli: Math.round(this.mix.temperature * 1000), topK: 0, topPPpm: 1_000_000, maxTokens: Math.max(this.length, 64) };
  }

  /** Whether a run configuration applies to this request (its policy's kinds). */
  appliesTo(kinds: readonly PolicyKind[]): boolean {
    return kinds.some((kind) => this.policyKinds.includes(kind));
  }

  /** The policy as this request carries it: the scenario's, plus what it takes from the corpus prompt. */
  policyFor(policy: PolicyRef, corpus: CorpusParams | undefined): PolicyRef {
    if (!corpus || !this.corpus) return policy;
    return { ...policy, params: corpusPolicyParams(policy.params, corpus, this.corpus.prompt) };
  }

  /** A one-way network delay for `node` and `purpose`, ms (the same for every policy). */
  delay(node: FleetNode, purpose: number): number {
    const slot = node.index * 16 + purpose;
    let ms = this.#delays.get(slot);
    if (ms === undefined) {
      ms = roundMs(Math.max(0, sampleDist(this.#scenario.timing.network, new Rng(deriveKey(this.key, node.index, purpose)))));
      this.#delays.set(slot, ms);
    }
    return ms;
  }

  #honestRun(node: FleetNode, divergence: DivergenceSpec, slot: number | undefined): RunOutput {
    const ctx = {
      run: new Rng(deriveKey(this.key, node.index, Purpose.output)),
      divergence,
      hardwareKey: deriveKey(this.key, STREAM_HARDWARE, node.cls.index),
    };
    if (this.corpus) {
      // JSON flips on either chance (a label flip or an answer flip), text on an answer flip.
      const flipPpm = this.kind === "json" ? 1e6 - ((1e6 - divergence.jsonLabelFlipPpm) * (1e6 - divergence.answerFlipPpm)) / 1e6 : divergence.answerFlipPpm;
      return honestCorpusRun(this.corpus, ctx, slot, flipPpm);
    }
    return honestForkRun(this.text as TextRequestModel, ctx);
  }

  #adversaryRun(node: FleetNode, spec: AdversarySpec, label: number): RunOutput {
    const shared = new Rng(deriveKey(this.key, STREAM_SHARED, node.cls.index, label));
    const own = new Rng(deriveKey(this.key, node.index, Purpose.output, label));
    return this.corpus ? adversaryCorpusRun(this.corpus, spec, shared, own) : adversaryText(this.text as TextRequestModel, spec, shared, own);
  }

  /**
   * The committee's parts in this request, in committee order. Under free sampling the members
   * that compute honestly draw the section's honest answers without repeats while there are
   * answers left (a shuffle keyed by the request id, reshuffled when used up), as independent
   * samples differ; every other run is the node's own, whatever the committee.
   */
  runsFor(members: readonly FleetNode[], requestId: Bytes): NodeRun[] {
    if (!this.corpus || this.corpus.fork) return members.map((node) => this.run(node));
    const answers = this.corpus.section.honest.length;
    const rng = new Rng(deriveKey(this.key, STREAM_SLOTS, idLabel(requestId)));
    let order: number[] = [];
    return members.map((node) => {
      if (!computesHonestly(node)) return this.run(node);
      if (order.length === 0) order = shuffled(answers, rng);
      return this.run(node, order.pop() as number);
    });
  }

  /** The node's part in this request (computed once per node and answer slot, on first use). */
  run(node: FleetNode, slot?: number): NodeRun {
    const cacheKey = slot === undefined ? node.id : `${node.id}#${slot}`;
    const cached = this.#runs.get(cacheKey);
    if (cached) return cached;
    const cls = node.cls;
    const timing = cls.honest ?? (cls.adversary as AdversarySpec);
    const factor = cls.adversary?.latencyFactor ?? 1;
    let output: RunOutput | undefined;
    let second: RunOutput | undefined;
    let honestOutput = false;
    switch (cls.behavior) {
      case "honest":
        output = this.#honestRun(node, (cls.honest as HonestClass).divergence, slot);
        honestOutput = true;
        break;
      case "slow":
      case "equivocator":
        output = this.#honestRun(node, this.#constants.adversaryDivergence, slot);
        honestOutput = true;
        if (cls.behavior === "equivocator") second = this.#adversaryRun(node, { ...(cls.adversary as AdversarySpec), type: "random" }, 2);
        break;
      case "silent":
      case "copycat":
        break;
      default:
        output = this.#adversaryRun(node, cls.adversary as AdversarySpec, 1);
    }
    const compute = new Rng(deriveKey(this.key, node.index, Purpose.compute));
    const tokens = output?.evidence.tokens.length ?? this.length;
    const computeMs = roundMs(Math.max(0, (sampleDist(timing.latency, compute) + timing.perTokenMs * tokens) * factor));
    const run: NodeRun = {
      node,
      output,
      payload: output ? payloadHash(output.output, output.evidence) : undefined,
      second,
      honestOutput,
      computeMs,
      sizes: {},
    };
    this.#runs.set(cacheKey, run);
    return run;
  }

  /**
   * Whether an agreed output is honest: an output some honest run of this request produced (or
   * could produce: any branch of the reference tree, any honest answer of the corpus section), or,
   * for structured outputs, whose canonical form is built from the supporters' medians, decision
   * values honest runs give. `producedHonestly` says whether a vote carrying exactly this output
   * came from an honest computation.
   */
  isHonestOutcome(output: string, producedHonestly: boolean): boolean {
    if (producedHonestly) return true;
    if (this.corpus) return isHonestCorpusOutput(this.corpus, output);
    // Any branch of the reference tree is an output honest drift can produce.
    return (this.text as TextRequestModel).branches.some((branch) => branchText(branch) === output);
  }
}
