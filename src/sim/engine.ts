/**
 * One simulated request under one run configuration: a discrete-event run that drives the real
 * core. The sequencer signs the request; `openRequest` draws the committee from the registry;
 * members compute (simulated time), sign commitments (or outputs, in direct mode) with their real
 * keys; a `Collector` applies the rules as messages arrive; the sequencer closes after k
 * commitments plus a grace period (or all n); members reveal; the request's real policy decides;
 * agreed bundles go through `verifyBundle`. Nothing about the rules is reimplemented here: the
 * simulator only decides who sends what, and when.
 *
 * The first-wins baseline is measured on the same draws: same committee, same outputs, same
 * compute times and network delays, every member sending its output directly, the first arrival
 * winning (through the registered first-wins policy).
 */
import type { AgreementPolicy, PolicyRegistry, Vote } from "../agreement/policy.ts";
import { ConcordError, isConcordError } from "../errors.ts";
import { Collector, type CollectorEvent } from "../quorum/collector.ts";
import { openRequest } from "../quorum/rules.ts";
import { verifyBundle } from "../quorum/verify.ts";
import { outputHash } from "../wire/hash.ts";
import { PROTOCOL_VERSION } from "../wire/limits.ts";
import { encodeMessage } from "../wire/messages.ts";
import type { AgreedBundle, OutputCommitment, OutputReveal, SignedOutput } from "../wire/types.ts";
import type { RunConfig } from "./configs.ts";
import { EventQueue } from "../quorum/event-queue.ts";
import type { Scenario } from "./scenario.ts";
import { signWith, simCommit, simSignClose, simSignNoAgreement, simSignOutput, simSignRequest } from "./signer.ts";
import { Purpose, RequestWorld, SIM_MODEL, roundMs, type Fleet, type FleetNode, type NodeRun } from "./world.ts";

export type RunOutcome = "agreed" | "exhausted" | "deadline";

/** One (request, configuration) run: every number the report aggregates. */
export interface RunRecord {
  request: number;
  config: number;
  kind: string;
  /** "seeded" (greedy or the spec's sampler) or "free". */
  sampler: string;
  /** The corpus prompt and section the outputs came from ("" for seeded text: the fork model). */
  prompt: string;
  temperature: number;
  tokens: number;
  /** Committee members per class, e.g. "h100:5 lazy:2" (classes in scenario order). */
  committee: string;
  honestMembers: number;
  adversarialMembers: number;
  outcome: RunOutcome;
  /** Simulated ms from publishing the request to the decision (agreed or NoAgreement). */
  decisionMs: number;
  supporters: number;
  adversarialSupporters: number;
  copycatSupporters: number;
  /** Copycats in the committee. */
  copycatMembers: number;
  /** Agreed on an output no honest run would give. */
  falseAccept: boolean;
  /** Honest members whose votes the collector had counted when it decided. */
  honestVotes: number;
  /** NoAgreement although at least k honest votes were counted: honest variance kept agreement out. */
  falseReject: boolean;
  /** NoAgreement with at least k honest members but fewer than k honest votes counted (the close or the deadline left them out). */
  stalled: boolean;
  /** First-wins on the same draws: when its output arrived, and whether it was honest. */
  baselineMs: number | null;
  baselineFalseAccept: boolean;
  baselineClass: string;
  /** Encoded bytes of every message published for the request (each counted once). */
  bytes: number;
  messages: number;
  baselineBytes: number;
  equivocations: number;
  /** Messages the collector rejected before the decision, by error code ("CODE:count;..."). */
  rejected: string;
  /** verifyBundle on the agreed bundle: "ok", "failed:<code>", or "" when not checked. */
  verified: string;
}

export interface EngineContext {
  scenario: Scenario;
  fleet: Fleet;
  policies: PolicyRegistry;
  firstWins: AgreementPolicy | undefined;
  /** Whether to verify this run's bundle (the caller samples). */
  verify: boolean;
  /** Encoded message sizes, shared by every run of a simulation. */
  sizes: SizeCache;
}

type Payload =
  | { type: "commitment"; commitment: OutputCommitment }
  | { type: "close" }
  | { type: "reveal"; reveal: OutputReveal }
  | { type: "output"; output: SignedOutput }
  | { type: "deadline" };

/**
 * Encoded sizes of votes and commitments, cached by the lengths that determine them. In these
 * messages every other field has a fixed size (chain, 32-byte request id, 32-byte salt, 64-byte
 * signature), so two messages with equal output byte length, evidence length and node id length
 * encode to the same number of bytes (test/unit/sim/engine.test.ts checks this).
 */
export class SizeCache {
  readonly #sizes = new Map<string, number>();

  of(message: OutputReveal | SignedOutput | OutputCommitment): number {
    const evidence = message.t === "commitment" ? -2 : message.evidence ? message.evidence.tokens.length : -1;
    const output = message.t === "commitment" ? 0 : Buffer.byteLength(message.output, "utf8");
    const key = `${message.t}:${message.node.length}:${output}:${evidence}:${message.chain}`;
    let size = this.#sizes.get(key);
    if (size === undefined) {
      size = encodeMessage(message).length;
      this.#sizes.set(key, size);
    }
    return size;
  }
}

/** Signature placeholder of the right length, for sizing messages that are never sent. */
const SIZE_SIG = new Uint8Array(64);

function sizeOfOutput(cache: SizeCache, run: NodeRun, chain: string, request: Uint8Array): number {
  if (run.sizes.output === undefined && run.output) {
    const message: SignedOutput = { t: "output", v: PROTOCOL_VERSION, chain, request, node: run.node.id, output: run.output.output, evidence: run.output.evidence, sig: SIZE_SIG };
    run.sizes.output = cache.of(message);
  }
  return run.sizes.output ?? 0;
}

/** CBOR head length of a list of `count` items. */
function listHead(count: number): number {
  return count < 24 ? 1 : count < 256 ? 2 : count < 65_536 ? 3 : 5;
}

/**
 * encodeMessage(bundle).length without encoding the votes again: the bundle with empty vote
 * lists, plus each vote's own encoded size (known from when it was published), plus the list
 * heads. A bundle's votes encode exactly as they do standalone, so this is exact
 * (test/unit/sim/engine.test.ts checks it against encodeMessage).
 */
export function bundleSize(bundle: AgreedBundle, sizeOf: (vote: OutputReveal | SignedOutput) => number): number {
  const skeleton = encodeMessage({ ...bundle, reveals: [], outputs: [] }).length;
  let votes = listHead(bundle.reveals.length) + listHead(bundle.outputs.length) - 2;
  for (const reveal of bundle.reveals) votes += sizeOf(reveal);
  for (const output of bundle.outputs) votes += sizeOf(output);
  return skeleton + votes;
}

/** Runs one request under one configuration. */
export function simulateRun(ctx: EngineContext, world: RequestWorld, config: RunConfig): RunRecord {
  const { scenario, fleet } = ctx;
  const chain = fleet.registry.chain;
  const request = simSignRequest(fleet.sequencer, {
    chain,
    entropy: world.entropy,
    model: SIM_MODEL,
    input: world.input,
    sampling: world.sampling,
    policy: world.policyFor(config.policy, config.corpus),
    mode: config.mode,
    n: config.n,
    k: config.k,
    deadline: scenario.timing.deadlineMs,
  });
  const context = openRequest(request, fleet.registry, ctx.policies, { checkSignature: false, allowRetired: true });
  const collector = new Collector(context, scenario.checks.collectorSignatures ? { keys: fleet.registry } : {});
  const id = context.id;
  const members = context.committee.map((node) => fleet.byId.get(node) as FleetNode);
  const runs = world.runsFor(members, id);
  const byNode = new Map(runs.map((run) => [run.node.id, run]));
  const direct = config.mode === "direct";
  const { k } = config;

  const queue = new EventQueue<Payload>();
  const requestBytes = encodeMessage(request).length;
  let bytes = requestBytes;
  let messages = 1;
  const publish = (size: number) => {
    bytes += size;
    messages++;
  };
  // Encoded sizes of the votes sent, so that the bundle need not be encoded again.
  const voteSizes = new Map<OutputReveal | SignedOutput, number>();
  const sizeOfVote = (vote: OutputReveal | SignedOutput) => voteSizes.get(vote) ?? ctx.sizes.of(vote);

  // Members compute and send. Reveals are kept back until the close.
  const reveals = new Map<string, { reveal: OutputReveal; copyOf?: string }>();
  const commitments = new Map<string, OutputCommitment>();
  const publishedAt = new Map<string, number>();
  for (const run of runs) {
    const node = run.node;
    if (!run.output || node.cls.behavior === "silent") continue;
    const ready = world.delay(node, Purpose.requestHop) + run.computeMs;
    publishedAt.set(node.id, ready);
    const attestation = { chain, request: id, node: node.id, output: run.output.output, evidence: run.output.evidence, ...(run.payload ? { payload: run.payload } : {}) };
    if (direct) {
      const output = simSignOutput(node.signer, attestation);
      voteSizes.set(output, sizeOfOutput(ctx.sizes, run, chain, id));
      publish(sizeOfOutput(ctx.sizes, run, chain, id));
      queue.schedule(roundMs(ready + world.delay(node, Purpose.outputHop)), { type: "output", output });
    } else {
      const pair = simCommit(node.signer, attestation);
      run.sizes.commitment ??= ctx.sizes.of(pair.commitment);
      publish(run.sizes.commitment);
      queue.schedule(roundMs(ready + world.delay(node, Purpose.commitHop)), { type: "commitment", commitment: pair.commitment });
      reveals.set(node.id, { reveal: pair.reveal });
      commitments.set(node.id, pair.commitment);
    }
    if (run.second) {
      // The equivocator signs a second, different output for the same request.
      const second = { chain, request: id, node: node.id, output: run.second.output, evidence: run.second.evidence };
      const at = roundMs(ready + 1 + world.delay(node, Purpose.secondHop));
      if (direct) {
        const output = simSignOutput(node.signer, second);
        voteSizes.set(output, ctx.sizes.of(output));
        publish(voteSizes.get(output) as number);
        queue.schedule(at, { type: "output", output });
      } else {
        const pair = simCommit(node.signer, second);
        publish(ctx.sizes.of(pair.commitment));
        queue.schedule(at, { type: "commitment", commitment: pair.commitment });
      }
    }
  }

  // Copycats copy the first message they see: a commitment hash (commit-reveal) or an output.
  let first: { node: string; at: number } | undefined;
  for (const [node, at] of publishedAt) if (!first || at < first.at) first = { node, at };
  const copycats = runs.filter((run) => run.node.cls.behavior === "copycat");
  // A copy is as honest as what it copied.
  const copiedHonestly = new Map<string, boolean>();
  const copied = first ? runs.find((run) => run.node.id === first.node) : undefined;
  if (first && copied?.output) {
    for (const run of copycats) {
      const node = run.node;
      const seen = roundMs(first.at + world.delay(node, Purpose.observeHop));
      copiedHonestly.set(node.id, copied.honestOutput);
      if (direct) {
        const output = simSignOutput(node.signer, { chain, request: id, node: node.id, output: copied.output.output, evidence: copied.output.evidence });
        voteSizes.set(output, sizeOfOutput(ctx.sizes, copied, chain, id));
        publish(sizeOfOutput(ctx.sizes, copied, chain, id));
        queue.schedule(roundMs(seen + world.delay(node, Purpose.outputHop)), { type: "output", output });
      } else {
        const original = reveals.get(copied.node.id)?.reveal;
        const hash = commitments.get(copied.node.id)?.commitment;
        if (!original || !hash) continue;
        const commitment = signWith<OutputCommitment>(node.signer, { t: "commitment", v: PROTOCOL_VERSION, chain, request: id, node: node.id, commitment: hash });
        publish(ctx.sizes.of(commitment));
        queue.schedule(roundMs(seen + world.delay(node, Purpose.commitHop)), { type: "commitment", commitment });
        // After the close it replays the original reveal under its own name: it cannot open
        // its commitment, which binds the original node's id.
        reveals.set(node.id, { reveal: { ...original, node: node.id, commitmentSig: commitment.sig }, copyOf: copied.node.id });
      }
    }
  }
  queue.schedule(scenario.timing.deadlineMs, { type: "deadline" });

  // The sequencer's side.
  const rejected = new Map<string, number>();
  let decision: { at: number; event: CollectorEvent } | undefined;
  let closeAt: number | undefined;
  let closed = false;
  const take = (events: readonly CollectorEvent[], at: number) => {
    for (const event of events) if (event.type !== "equivocation" && !decision) decision = { at, event };
  };
  const attempt = (at: number, fn: () => CollectorEvent[]) => {
    try {
      take(fn(), at);
    } catch (error) {
      if (!isConcordError(error)) throw error;
      if (!decision) rejected.set(error.code, (rejected.get(error.code) ?? 0) + 1);
    }
  };
  const revealPublished = new Map<string, number>();
  const equivocators = new Set(runs.filter((run) => run.second).map((run) => run.node.id));
  for (let event = queue.next(); event; event = queue.next()) {
    const { at, payload } = event;
    switch (payload.type) {
      case "commitment": {
        // After the decision only an equivocator's messages can still change anything (evidence).
        if (decision && !equivocators.has(payload.commitment.node)) break;
        attempt(at, () => collector.addCommitment(payload.commitment, at));
        if (!closed) {
          // The close goes out k commitments plus the grace period in, or as soon as all n are.
          const count = collector.commitments.length;
          let next = closeAt;
          if (count >= config.n && (closeAt === undefined || closeAt > at)) next = at;
          else if (count >= k && next === undefined) next = roundMs(at + config.graceMs);
          if (next !== undefined && next !== closeAt) {
            closeAt = next;
            queue.schedule(next, { type: "close" });
          }
        }
        break;
      }
      case "close": {
        if (closed || at !== closeAt || at >= scenario.timing.deadlineMs) break;
        if (collector.commitments.length < k) {
          // Equivocators found during the grace period dropped out: wait for more commitments.
          closeAt = undefined;
          break;
        }
        closed = true;
        const close = simSignClose(fleet.sequencer, chain, id, collector.commitments);
        publish(encodeMessage(close).length);
        attempt(at, () => collector.addClose(close, at));
        const listed = new Set(close.commitments.map((ref) => ref.node));
        // Members reveal on receiving the close, copycats once they have seen what to copy.
        const order = [...reveals.entries()].sort(([, a], [, b]) => (a.copyOf ? 1 : 0) - (b.copyOf ? 1 : 0));
        for (const [node, { reveal, copyOf }] of order) {
          if (!listed.has(node)) continue;
          const member = fleet.byId.get(node) as FleetNode;
          let sent = at + world.delay(member, Purpose.closeHop);
          if (copyOf !== undefined) {
            const original = revealPublished.get(copyOf);
            if (original === undefined) continue;
            sent = Math.max(sent, original + world.delay(member, Purpose.observeHop));
          }
          sent = roundMs(sent);
          revealPublished.set(node, sent);
          const run = byNode.get(node) as NodeRun;
          run.sizes.reveal ??= ctx.sizes.of(reveal);
          voteSizes.set(reveal, copyOf === undefined ? run.sizes.reveal : ctx.sizes.of(reveal));
          publish(voteSizes.get(reveal) as number);
          queue.schedule(roundMs(sent + world.delay(member, Purpose.revealHop)), { type: "reveal", reveal });
        }
        break;
      }
      case "reveal":
        if (!decision) attempt(at, () => collector.addReveal(payload.reveal, at));
        break;
      case "output":
        if (decision && !equivocators.has(payload.output.node)) break;
        attempt(at, () => collector.addOutput(payload.output, at));
        break;
      case "deadline":
        if (!decision) take(collector.tick(at), at);
        break;
    }
  }

  // Outcome and metrics.
  const honestMembers = runs.filter((run) => run.node.cls.behavior === "honest").length;
  let outcome: RunOutcome = "deadline";
  let supporters: string[] = [];
  let counted: string[] = [];
  let falseAccept = false;
  let verified = "";
  if (decision?.event.type === "agreed") {
    const bundle: AgreedBundle = decision.event.bundle;
    outcome = "agreed";
    supporters = bundle.outcome.supporters;
    counted = [...bundle.reveals, ...bundle.outputs].map((vote) => vote.node);
    publish(bundleSize(bundle, sizeOfVote));
    const producedHonestly = [...bundle.reveals, ...bundle.outputs].some(
      (vote) => vote.output === bundle.outcome.output && (copiedHonestly.get(vote.node) ?? byNode.get(vote.node)?.honestOutput) === true,
    );
    falseAccept = !world.isHonestOutcome(bundle.outcome.output, producedHonestly);
    if (ctx.verify) {
      try {
        verifyBundle(bundle, fleet.registry, ctx.policies, { allowRetired: true });
        verified = "ok";
      } catch (error) {
        verified = `failed:${isConcordError(error) ? error.code : "ERROR"}`;
      }
    }
  } else if (decision?.event.type === "no-agreement") {
    outcome = decision.event.result.reason;
    counted = decision.event.result.clusters.flatMap((cluster) => cluster.members);
    publish(encodeMessage(simSignNoAgreement(fleet.sequencer, decision.event.result)).length);
  } else {
    throw new ConcordError("SCENARIO", "internal: a run ended undecided", { details: `request ${world.index}, ${config.label}` });
  }

  const classCounts = new Map<string, number>();
  for (const run of runs) classCounts.set(run.node.cls.name, (classCounts.get(run.node.cls.name) ?? 0) + 1);
  const committee = fleet.classes.filter((cls) => classCounts.has(cls.name)).map((cls) => `${cls.name}:${classCounts.get(cls.name) as number}`).join(" ");
  const supporterRuns = supporters.map((node) => byNode.get(node) as NodeRun);
  const honestVotes = counted.filter((node) => byNode.get(node)?.node.cls.behavior === "honest").length;
  const baseline = firstWins(ctx, world, runs, id);

  return {
    request: world.index,
    config: config.index,
    kind: world.kind,
    sampler: world.sampler,
    prompt: world.promptId,
    temperature: world.mix.temperature,
    tokens: world.length,
    committee,
    honestMembers,
    adversarialMembers: runs.length - honestMembers,
    outcome,
    decisionMs: roundMs(decision.at),
    supporters: supporters.length,
    adversarialSupporters: supporterRuns.filter((run) => run.node.cls.behavior !== "honest").length,
    copycatSupporters: supporterRuns.filter((run) => run.node.cls.behavior === "copycat").length,
    copycatMembers: copycats.length,
    falseAccept,
    honestVotes,
    falseReject: outcome !== "agreed" && honestVotes >= k,
    stalled: outcome !== "agreed" && honestMembers >= k && honestVotes < k,
    baselineMs: baseline?.at ?? null,
    baselineFalseAccept: baseline?.falseAccept ?? false,
    baselineClass: baseline?.cls ?? "",
    bytes,
    messages,
    baselineBytes: requestBytes + runs.reduce((sum, run) => sum + (run.node.cls.behavior === "silent" ? 0 : sizeOfOutput(ctx.sizes, run, chain, id)), 0),
    equivocations: collector.evidence.length,
    rejected: [...rejected.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([code, count]) => `${code}:${count}`).join(";"),
    verified,
  };
}


/** First-wins on the same draws: every member sends its output directly; the first arrival wins. */
function firstWins(ctx: EngineContext, world: RequestWorld, runs: readonly NodeRun[], id: Uint8Array): { at: number; falseAccept: boolean; cls: string } | undefined {
  let best: { run: NodeRun; at: number } | undefined;
  for (const run of runs) {
    if (!run.output || run.node.cls.behavior === "silent") continue;
    const at = roundMs(world.delay(run.node, Purpose.requestHop) + run.computeMs + world.delay(run.node, Purpose.outputHop));
    if (!best || at < best.at) best = { run, at };
  }
  if (!best?.run.output) return undefined;
  const output = best.run.output;
  const vote: Vote = { node: best.run.node.id, output: output.output, outputHash: outputHash(output.output), evidence: output.evidence };
  let decided = { output: output.output, agreed: true };
  if (ctx.firstWins) {
    const decision = ctx.firstWins.decide([vote], ctx.firstWins.parseParams({}), { n: runs.length, k: 1, requestId: id });
    decided = decision.agreed ? { output: decision.output, agreed: true } : { output: "", agreed: false };
  }
  if (!decided.agreed) return undefined;
  return { at: best.at, falseAccept: !world.isHonestOutcome(decided.output, best.run.honestOutput), cls: best.run.node.cls.name };
}
