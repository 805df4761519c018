/**
 * The per-request collector (spec/06-commit-reveal.md): a deterministic state machine. Feed it
 * messages (already decoded) and the current time; it applies the rules, detects equivocation
 * and asks the request's policy to decide as soon as enough votes are in. It never waits for all
 * n: k agreeing votes decide. At the deadline an undecided request becomes NoAgreement.
 *
 * It reads no clock: every call takes `now`. With `keys` it checks signatures too; without,
 * the caller vouches for them (benchmarks, the sequencer's own messages).
 */
import { clustersByHash, sortVotes } from "../agreement/clusters.ts";
import type { Vote } from "../agreement/policy.ts";
import { verifyMessage } from "../crypto/sign.ts";
import { ConcordError } from "../errors.ts";
import { bytesEqual } from "../wire/hash.ts";
import { bodyBytes, commitmentOfReveal } from "../wire/ids.ts";
import { PROTOCOL_VERSION } from "../wire/limits.ts";
import type {
  AgreedBundle,
  BundledRequest,
  Bytes,
  CommitClose,
  EquivocationEvidence,
  NoAgreementBody,
  OutputCommitment,
  OutputReveal,
  SignedOutput,
} from "../wire/types.ts";
import { equivocationOf } from "./equivocation.ts";
import type { Registry } from "./registry.ts";
import { checkClose, checkCommitment, checkRequestRef, checkReveal, checkSignedOutput, type RequestContext } from "./rules.ts";

export type CollectorStatus = "committing" | "revealing" | "agreed" | "no-agreement";

export type CollectorEvent =
  | { type: "equivocation"; evidence: EquivocationEvidence }
  | { type: "agreed"; bundle: AgreedBundle }
  | { type: "no-agreement"; result: NoAgreementBody };

export interface CollectorOptions {
  /** Registry whose keys check every signature; omit when the caller has checked them. */
  keys?: Registry;
}

interface Counted {
  vote: Vote;
  message: OutputReveal | SignedOutput;
}

const late = (what: string) => new ConcordError("LATE", what, { action: "ignore" });

/** Two closes with every field equal. */
function sameClose(a: CommitClose, b: CommitClose): boolean {
  return (
    a.v === b.v &&
    a.chain === b.chain &&
    bytesEqual(a.request, b.request) &&
    bytesEqual(a.sig, b.sig) &&
    a.commitments.length === b.commitments.length &&
    a.commitments.every((ref, i) => ref.node === b.commitments[i]?.node && bytesEqual(ref.commitment, (b.commitments[i] as typeof ref).commitment))
  );
}

/** Two commitments with equal body fields (what equivocationOf would compare encoded). */
function sameCommitmentBody(a: OutputCommitment, b: OutputCommitment): boolean {
  return a.v === b.v && a.chain === b.chain && a.node === b.node && bytesEqual(a.request, b.request) && bytesEqual(a.commitment, b.commitment);
}

/**
 * [REJECT] A reveal carries its node's signature over the commitment it opens (with `keys`). The
 * commitment already verified from that node, with the same hash and signature bytes, proves it
 * without a second check.
 */
function checkRevealSignature(reveal: OutputReveal, keys: Registry | undefined, verified: OutputCommitment | SignedOutput | undefined): void {
  if (!keys) return;
  const opened = commitmentOfReveal(reveal);
  if (verified?.t === "commitment" && bytesEqual(verified.sig, opened.sig) && bytesEqual(verified.commitment, opened.commitment)) return;
  const member = keys.byId.get(reveal.node);
  if (!member || !verifyMessage(member.key, opened)) {
    throw new ConcordError("SIG_INVALID", "reveal's commitment signature invalid", { details: reveal.node });
  }
}

export class Collector {
  readonly context: RequestContext;
  readonly #keys: Registry | undefined;
  #status: CollectorStatus = "committing";
  /** First signed commitment (or direct output) seen per node. */
  readonly #signed = new Map<string, OutputCommitment | SignedOutput>();
  readonly #equivocators = new Set<string>();
  readonly #evidence: EquivocationEvidence[] = [];
  #close: CommitClose | undefined;
  #listed: Map<string, Bytes> | undefined;
  /** Reveals that arrived before the close (gossip reorders); at most one per member. */
  readonly #early = new Map<string, OutputReveal>();
  readonly #votes = new Map<string, Counted>();
  #bundle: AgreedBundle | undefined;
  #noAgreement: NoAgreementBody | undefined;

  constructor(context: RequestContext, options: CollectorOptions = {}) {
    this.context = context;
    this.#keys = options.keys;
    if (context.request.mode === "direct") this.#status = "revealing";
  }

  get status(): CollectorStatus {
    return this.#status;
  }
  get decided(): boolean {
    return this.#status === "agreed" || this.#status === "no-agreement";
  }
  get bundle(): AgreedBundle | undefined {
    return this.#bundle;
  }
  get noAgreement(): NoAgreementBody | undefined {
    return this.#noAgreement;
  }
  get close(): CommitClose | undefined {
    return this.#close;
  }
  get evidence(): readonly EquivocationEvidence[] {
    return this.#evidence;
  }
  /** Valid commitments from non-equivocating members, sorted by node: what a close lists. */
  get commitments(): OutputCommitment[] {
    return [...this.#signed.values()]
      .filter((m): m is OutputCommitment => m.t === "commitment" && !this.#equivocators.has(m.node))
      .sort((a, b) => (a.node < b.node ? -1 : 1));
  }
  /** A node whose vote `bundle` counts and that this collector holds equivocation evidence against. */
  equivocatorIn(bundle: AgreedBundle): string | undefined {
    for (const vote of [...bundle.reveals, ...bundle.outputs]) if (this.#equivocators.has(vote.node)) return vote.node;
    return undefined;
  }
  get voteCount(): number {
    return this.#votes.size;
  }

  /**
   * True when this collector has already checked the signature `message` carries, on the same
   * signed content: the close it holds (every field equal, not just the signature: a real
   * signature on another list of commitments is a forgery), or a reveal whose commitment
   * signature and listed hash are those of the node's verified commitment (an honest reveal
   * carries exactly that signature). A caller may skip checking such a signature again; the
   * reveal must still open the listed hash. Always false without keys: then nothing was checked.
   */
  knowsSignature(message: CommitClose | OutputReveal): boolean {
    if (!this.#keys) return false;
    if (message.t === "close") return this.#close !== undefined && sameClose(this.#close, message);
    const seen = this.#signed.get(message.node);
    const listed = this.#listed?.get(message.node);
    return seen?.t === "commitment" && listed !== undefined && bytesEqual(seen.sig, message.commitmentSig) && bytesEqual(seen.commitment, listed);
  }

  /** `signedHere`: a member applying the commitment it just signed skips checking its own signature. */
  addCommitment(commitment: OutputCommitment, now: number, options: { signedHere?: boolean } = {}): CollectorEvent[] {
    checkCommitment(this.context, commitment, options.signedHere ? undefined : this.#keys);
    // [IGNORE] A repeat, by body: the same commitment under another signature field (another
    // batch, spec/04) is a new gossip message and must not be relayed as one.
    const first = this.#signed.get(commitment.node);
    if (first?.t === "commitment" && sameCommitmentBody(first, commitment)) throw new ConcordError("DUPLICATE", "commitment already seen", { action: "ignore" });
    const events = this.#recordSigned(commitment);
    this.#ignoreKnownEquivocator(commitment.node, events);
    // [IGNORE] Commitments after the close or the deadline do not count; an equivocation they
    // prove still does (its evidence goes out, whenever it comes).
    if (events.length > 0 && (this.#status !== "committing" || now >= this.context.request.deadline)) return events;
    if (this.#status !== "committing") throw late("commitment after the close");
    this.#checkDeadline(now);
    return events;
  }

  /** `signedHere`: the sequencer applying the close it just signed skips checking its own signature. */
  addClose(close: CommitClose, now: number, options: { signedHere?: boolean } = {}): CollectorEvent[] {
    const listed = checkClose(this.context, close, options.signedHere ? undefined : this.#keys);
    // [IGNORE] A repeated close; a second, different close is the sequencer's fault: reject.
    // Repeated by body, not bytes: one close re-signed in another batch has another signature field.
    if (this.#close) {
      if (bytesEqual(bodyBytes(this.#close), bodyBytes(close))) throw new ConcordError("DUPLICATE", "close already seen", { action: "ignore" });
      throw new ConcordError("EQUIVOCATION", "a second, different close for this request");
    }
    this.#checkDeadline(now);
    this.#close = close;
    this.#listed = listed;
    if (this.#status === "committing") this.#status = "revealing";
    const events: CollectorEvent[] = [];
    const early = [...this.#early.values()];
    this.#early.clear();
    for (const reveal of early) {
      try {
        events.push(...this.addReveal(reveal, now));
      } catch {
        // An early reveal that does not open its listed commitment is simply dropped.
      }
    }
    return events;
  }

  addReveal(reveal: OutputReveal, now: number): CollectorEvent[] {
    if (!this.#listed) {
      if (this.decided) throw late("request already decided");
      this.#checkDeadline(now);
      // Before the close: keep one reveal per member until the close says what counts.
      checkRequestRef(this.context, reveal);
      if (!this.context.members.has(reveal.node)) throw new ConcordError("NOT_IN_COMMITTEE", "node not in the request's committee", { details: reveal.node });
      // [REJECT] Its commitmentSig is its node's signature over the commitment it opens. Checked
      // now, not at the close: otherwise any peer could fill a member's one early slot with a
      // forged reveal (and have it relayed), and the member's real reveal would be dropped.
      checkRevealSignature(reveal, this.#keys, this.#signed.get(reveal.node));
      if (this.#early.has(reveal.node)) throw new ConcordError("DUPLICATE", "reveal already buffered", { action: "ignore" });
      this.#early.set(reveal.node, reveal);
      return [];
    }
    // The [REJECT] rules first, even after the decision: a reveal that opens nothing (a copycat's)
    // is its sender's fault whenever it arrives, and must cost its score, not slip by as LATE.
    const vote = checkReveal(this.context, this.#listed, reveal, this.knowsSignature(reveal) ? undefined : this.#keys);
    if (this.decided) throw late("request already decided");
    this.#checkDeadline(now);
    if (this.#votes.has(reveal.node)) throw new ConcordError("DUPLICATE", "reveal already counted", { action: "ignore" });
    // checkReveal has just shown the reveal opens the listed hash: the commitment it stands for
    // is that hash with the reveal's signature, no need to hash it all again.
    const listedHash = this.#listed.get(reveal.node) as Bytes;
    const { t: _t, output: _output, evidence: _evidence, salt: _salt, commitmentSig, ...header } = reveal;
    const events = this.#recordSigned({ ...header, t: "commitment", commitment: listedHash, sig: commitmentSig });
    if (this.#equivocators.has(reveal.node)) return events;
    this.#votes.set(reveal.node, { vote, message: reveal });
    return [...events, ...this.#tryDecide()];
  }

  /** `signedHere`: as for addCommitment. */
  addOutput(output: SignedOutput, now: number, options: { signedHere?: boolean } = {}): CollectorEvent[] {
    const vote = checkSignedOutput(this.context, output, options.signedHere ? undefined : this.#keys);
    const events = this.#recordSigned(output);
    this.#ignoreKnownEquivocator(output.node, events);
    // An equivocation counts whenever it comes; anything else after the decision or the deadline does not.
    if (events.length > 0 && (this.decided || now >= this.context.request.deadline)) return events;
    if (this.decided) throw late("request already decided");
    this.#checkDeadline(now);
    if (this.#equivocators.has(output.node)) return events;
    if (this.#votes.has(output.node)) throw new ConcordError("DUPLICATE", "output already counted", { action: "ignore" });
    this.#votes.set(output.node, { vote, message: output });
    return [...events, ...this.#tryDecide()];
  }

  /** Advances time: at the deadline an undecided request resolves to NoAgreement. */
  tick(now: number): CollectorEvent[] {
    if (this.decided || now < this.context.request.deadline) return [];
    return [this.#resolveNoAgreement("deadline")];
  }

  #checkDeadline(now: number): void {
    // [IGNORE] Nothing counts at or after the deadline.
    if (now >= this.context.request.deadline) throw new ConcordError("EXPIRED", "request deadline passed", { action: "ignore" });
  }

  /**
   * [IGNORE] Anything more from a node already caught equivocating on this request: the evidence
   * is out, and accepting (so relaying) each further distinct message would let it flood.
   */
  #ignoreKnownEquivocator(node: string, events: CollectorEvent[]): void {
    if (events.length === 0 && this.#equivocators.has(node)) {
      throw new ConcordError("EQUIVOCATION", "node already caught equivocating on this request", { action: "ignore", details: node });
    }
  }

  /** Remembers a node's first signed message; a different second one is equivocation. */
  #recordSigned(message: OutputCommitment | SignedOutput): CollectorEvent[] {
    const first = this.#signed.get(message.node);
    if (!first) {
      this.#signed.set(message.node, message);
      return [];
    }
    // The common case, a reveal opening the commitment already seen: same body, no encoding.
    if (first.t === "commitment" && message.t === "commitment" && sameCommitmentBody(first, message)) return [];
    const evidence = equivocationOf(first, message);
    if (!evidence) return [];
    if (this.#equivocators.has(message.node)) return [];
    this.#equivocators.add(message.node);
    this.#votes.delete(message.node);
    this.#evidence.push(evidence);
    return [{ type: "equivocation", evidence }];
  }

  #tryDecide(): CollectorEvent[] {
    const { k, n } = this.context.request;
    const votes = sortVotes([...this.#votes.values()].map((c) => c.vote));
    if (votes.length >= k) {
      const decision = this.context.policy.decide(votes, { n, k, requestId: this.context.id });
      if (decision.agreed) {
        this.#status = "agreed";
        this.#bundle = this.#buildBundle({ output: decision.output, outputHash: decision.outputHash, supporters: decision.supporters });
        return [{ type: "agreed", bundle: this.#bundle }];
      }
    }
    // Exhausted: even if every vote still possible arrived, fewer than k could agree.
    const outstanding = [...(this.#listed?.keys() ?? this.context.committee)].filter(
      (node) => !this.#votes.has(node) && !this.#equivocators.has(node),
    ).length;
    if (outstanding === 0 || votes.length + outstanding < k) {
      return [this.#resolveNoAgreement("exhausted")];
    }
    return [];
  }

  #resolveNoAgreement(reason: NoAgreementBody["reason"]): CollectorEvent {
    const { k, n } = this.context.request;
    const votes = sortVotes([...this.#votes.values()].map((c) => c.vote));
    const decision = votes.length > 0 ? this.context.policy.decide(votes, { n, k, requestId: this.context.id }) : undefined;
    const clusters = decision && !decision.agreed ? decision.clusters : clustersByHash(votes);
    this.#status = "no-agreement";
    this.#noAgreement = { t: "no-agreement", v: PROTOCOL_VERSION, chain: this.context.request.chain, request: this.context.id, reason, clusters };
    return { type: "no-agreement", result: this.#noAgreement };
  }

  #buildBundle(outcome: AgreedBundle["outcome"]): AgreedBundle {
    const counted = [...this.#votes.values()].sort((a, b) => (a.vote.node < b.vote.node ? -1 : 1));
    const bundle: AgreedBundle = {
      t: "bundle",
      v: PROTOCOL_VERSION,
      chain: this.context.request.chain,
      request: bundledRequest(this.context.request),
      reveals: counted.flatMap((c) => (c.message.t === "reveal" ? [c.message] : [])),
      outputs: counted.flatMap((c) => (c.message.t === "output" ? [c.message] : [])),
      outcome,
    };
    if (this.#close) bundle.close = this.#close;
    return bundle;
  }
}

/** Commit-reveal bundles carry the request body only: the close signs its id (spec/08-verification.md). */
function bundledRequest(request: BundledRequest): BundledRequest {
  if (request.mode === "direct") return request;
  const { sig: _sig, ...body } = request;
  return body;
}
