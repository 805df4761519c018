/**
 * A committee member's protocol logic, apart from transport and process: it follows requests
 * in a RequestBook, runs the backend for those whose committee it sits on, commits (or signs,
 * in direct mode) behind its slashing-protection check, reveals after the close, and publishes
 * bundles and equivocation evidence it is first to see. Gossip validators call `receive`; the
 * daemon wires `publish` to the network. Time comes from the injected clock.
 */
import type { PolicyRegistry } from "../agreement/policy.ts";
import type { KeyPair } from "../crypto/schemes.ts";
import { isConcordError } from "../errors.ts";
import { messageSigningRoot, signWithRoots } from "../crypto/sign.ts";
import { SignWindow } from "../crypto/sign-window.ts";
import { commitmentBody, commitmentSalt, outputBody, revealOf, type Attestation } from "../quorum/attest.ts";
import { RequestBook, type BookEvent } from "../quorum/book.ts";
import type { Registry } from "../quorum/registry.ts";
import type { RequestContext } from "../quorum/rules.ts";
import type { InferenceBackend } from "../runner/backend.ts";
import { toHex } from "../wire/hash.ts";
import type { AgreedBundle, Message, OutputCommitment, OutputReveal, SignedOutput } from "../wire/types.ts";
import type { VoteRoute } from "../net/topics.ts";
import type { SigningRecord } from "./slashing.ts";

export interface ParticipantLogger {
  debug(context: Record<string, unknown>, message: string): void;
  info(context: Record<string, unknown>, message: string): void;
  warn(context: Record<string, unknown>, message: string): void;
  error(context: Record<string, unknown>, message: string): void;
}

/** What the participant reports, for metrics. */
export interface ParticipantObserver {
  decided?(context: RequestContext, outcome: "agreed" | "no-agreement", latencyMs: number): void;
  inference?(context: RequestContext, durationMs: number, ok: boolean): void;
  /** A slashing-protection check answered: the node signed, was refused, or the store failed. */
  signingCheck?(durationMs: number, outcome: "signed" | "refused" | "failed"): void;
  /** This node published a bundle as the request's aggregator. */
  bundlePublished?(context: RequestContext): void;
}

export interface ParticipantInit {
  nodeId: string;
  key: KeyPair;
  registry: Registry;
  policies: PolicyRegistry;
  backend: InferenceBackend;
  /** Slashing protection (SlashingGuard, or SlashingProtection): fails with SLASHING_CONFLICT to refuse a signature. */
  slashing: { checkAndInsert(record: SigningRecord): unknown };
  clock: () => number;
  publish: (message: Message) => Promise<void>;
  logger: ParticipantLogger;
  observer?: ParticipantObserver;
  /** Inference jobs run at once; more wait in order. Default 2. */
  maxConcurrentJobs?: number;
  /** Requests followed at once. Default 10,000. */
  maxRequests?: number;
  /**
   * Aggregation duty (spec/06): the member at position r of the committee's draw order publishes
   * the bundle r × max(this, twice its round time) after deciding, unless a verified bundle
   * arrived first. Default 250 ms.
   */
  aggregationStaggerMs?: number;
  /**
   * Batch signatures (spec/06, "Batching"): what passed slashing protection waits up to this
   * long to be signed with others under one signature (spec/04). Default 0: each is signed at
   * once, plainly.
   */
  signBatchWindowMs?: number;
  /** A batch is signed as soon as it holds this many messages. Default 64; at most 1,024. */
  signBatchMax?: number;
  /**
   * Vote routing (spec/06, "Vote routing"). `sequencer`: this member's votes go to the
   * sequencer's pool alone and it receives no other member's, so it neither aggregates bundles
   * nor learns an outcome: its own book ends each request at the deadline, and that is not
   * reported as a decision. Default `gossip`.
   */
  votes?: VoteRoute;
}

/** See ParticipantInit.aggregationStaggerMs. */
export const DEFAULT_AGGREGATION_STAGGER_MS = 250;

interface Job {
  context: RequestContext;
  receivedAt: number;
}

/** A commitment or output slashing protection has allowed, waiting for its batch's signature. */
interface Unsigned {
  context: RequestContext;
  body: UnsignedBody;
  /** The body's signing root, computed once for slashing protection and the signature. */
  root: Uint8Array;
  attestation: Attestation;
  salt: Uint8Array;
}
type UnsignedBody = ReturnType<typeof outputBody> | ReturnType<typeof commitmentBody>;


export class Participant {
  readonly book: RequestBook;
  readonly #init: ParticipantInit;
  /** Reveals kept back until the close, by request id. */
  readonly #pendingReveals = new Map<string, OutputReveal>();
  /** Bundles this node built and will publish at `due` unless a verified one arrives first. */
  readonly #pendingBundles = new Map<string, { bundle: AgreedBundle; due: number }>();
  readonly #receivedAt = new Map<string, number>();
  /** When the voting round began here, by request: the close's arrival (the request's in direct mode). */
  readonly #roundStartedAt = new Map<string, number>();
  readonly #queue: Job[] = [];
  /** Allowed by slashing protection, not signed yet (signBatchWindowMs > 0). */
  readonly #signing: SignWindow<Unsigned> | undefined;
  #running = 0;
  #stopped = false;
  readonly #abort = new AbortController();

  constructor(init: ParticipantInit) {
    this.#init = init;
    this.book = new RequestBook({ registry: init.registry, policies: init.policies, maxRequests: init.maxRequests ?? 10_000 });
    const windowMs = init.signBatchWindowMs ?? 0;
    if (windowMs > 0) this.#signing = new SignWindow({ windowMs, ...(init.signBatchMax !== undefined ? { max: init.signBatchMax } : {}), flush: (items) => this.#signBatch(items) });
  }

  get nodeId(): string {
    return this.#init.nodeId;
  }

  /**
   * Applies a message from the network. Throws a typed error (gossip maps it to reject/ignore);
   * on success the message is valid and its consequences are scheduled.
   */
  receive(message: Message): void {
    const now = this.#init.clock();
    const events = this.book.handle(message, now);
    this.#react(message, events, now);
  }

  /** Advances time: deadlines, pruning of old requests. */
  tick(): void {
    const now = this.#init.clock();
    this.#react(undefined, this.book.tick(now), now);
    for (const [id, { bundle, due }] of this.#pendingBundles) {
      if (now < due) continue;
      this.#pendingBundles.delete(id);
      this.#publishBundle(id, bundle);
    }
    for (const { context } of this.book.prune(now, 60_000)) {
      this.#pendingReveals.delete(context.idHex);
      this.#roundStartedAt.delete(context.idHex);
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#abort.abort();
    this.#queue.length = 0;
    this.#pendingBundles.clear();
    this.#signing?.clear();
  }

  #react(message: Message | undefined, events: BookEvent[], now: number): void {
    for (const event of events) {
      switch (event.type) {
        case "request":
          this.#receivedAt.set(event.context.idHex, now);
          if (event.context.request.mode === "direct") this.#roundStartedAt.set(event.context.idHex, now);
          if (event.context.members.has(this.#init.nodeId)) this.#enqueue({ context: event.context, receivedAt: now });
          break;
        case "equivocation":
          this.#init.logger.warn({ request: event.context.idHex, node: event.evidence.first.node }, "equivocation detected");
          this.#send(event.evidence);
          break;
        case "agreed": {
          const round = now - (this.#roundStartedAt.get(event.context.idHex) ?? now);
          this.#decided(event.context, "agreed", now);
          // Routing votes to the sequencer (only with k = 1 does a member's own vote decide): the
          // pool builds the same bundle itself.
          if (this.#init.votes === "sequencer") break;
          // Aggregation duty: the first member in the committee's draw order publishes at once,
          // the next ones later and only if no verified bundle came by then. Every member that
          // decided used to publish, and bundles (k reveals each) were most of a request's bytes.
          // The wait grows with this round's time (close to decision here): under load every
          // message queues, and the first member's bundle takes about as long to come as the
          // reveals did, so a fixed stagger made stand-ins publish beside a live first member
          // (2.4 bundles a request at saturation, bench/scaling.bench.ts).
          const rank = event.context.committee.indexOf(this.#init.nodeId);
          const stagger = Math.max(this.#init.aggregationStaggerMs ?? DEFAULT_AGGREGATION_STAGGER_MS, 2 * round);
          const delay = (rank < 0 ? event.context.committee.length : rank) * stagger;
          if (delay === 0) this.#publishBundle(event.context.idHex, event.bundle);
          else this.#pendingBundles.set(event.context.idHex, { bundle: event.bundle, due: now + delay });
          break;
        }
        case "no-agreement":
          this.#decided(event.context, "no-agreement", now);
          break;
        case "bundle":
        case "evidence":
        case "no-agreement-signed":
          break;
      }
    }
    // A close that lists our commitment is the signal to reveal.
    if (message?.t === "close") {
      const id = toHex(message.request);
      if (!this.#roundStartedAt.has(id) && this.book.get(id)?.collector.decided === false) this.#roundStartedAt.set(id, now);
      this.#revealIfListed(message.request);
    }
  }

  /** Publishes our bundle unless a verified one is in already; ours is then the one that counts here. */
  #publishBundle(id: string, bundle: AgreedBundle): void {
    const entry = this.book.get(id);
    if (!entry || entry.bundle) return;
    // Due after the deadline (a late rank): nothing counts then, and long after it peers would
    // reject it as STALE.
    if (this.#init.clock() >= entry.context.request.deadline) return;
    entry.bundle = bundle;
    this.#init.observer?.bundlePublished?.(entry.context);
    this.#send(bundle);
  }

  #decided(context: RequestContext, outcome: "agreed" | "no-agreement", now: number): void {
    const receivedAt = this.#receivedAt.get(context.idHex);
    this.#receivedAt.delete(context.idHex);
    this.#pendingReveals.delete(context.idHex);
    this.#roundStartedAt.delete(context.idHex);
    // Routing votes to the sequencer, this member sees only its own vote: its book's outcome says
    // nothing of the committee's.
    if (this.#init.votes === "sequencer") return;
    if (receivedAt !== undefined) this.#init.observer?.decided?.(context, outcome, now - receivedAt);
    this.#init.logger.debug({ request: context.idHex, outcome }, "request decided");
  }

  #enqueue(job: Job): void {
    this.#queue.push(job);
    this.#drain();
  }

  #drain(): void {
    const limit = this.#init.maxConcurrentJobs ?? 2;
    while (!this.#stopped && this.#running < limit && this.#queue.length > 0) {
      const job = this.#queue.shift() as Job;
      this.#running++;
      void this.#attest(job).finally(() => {
        this.#running--;
        this.#drain();
      });
    }
  }

  /** Runs the model and commits (or signs) the output, behind slashing protection. */
  async #attest({ context }: Job): Promise<void> {
    const { request } = context;
    const { key, nodeId, backend, logger } = this.#init;
    const started = this.#init.clock();
    let result;
    try {
      result = await backend.run(
        {
          requestId: context.id,
          model: request.model,
          input: request.input,
          sampling: request.sampling,
          evidence: context.policy.usesEvidence,
          ...(context.policy.outputSchema ? { outputSchema: context.policy.outputSchema } : {}),
        },
        this.#abort.signal,
      );
      this.#init.observer?.inference?.(context, this.#init.clock() - started, true);
    } catch (error) {
      this.#init.observer?.inference?.(context, this.#init.clock() - started, false);
      logger.warn({ request: context.idHex, code: isConcordError(error) ? error.code : "BACKEND" }, "inference failed");
      return;
    }
    const entry = this.book.get(context.id);
    if (this.#stopped || !entry || entry.collector.decided || this.#init.clock() >= request.deadline) return;
    // Evidence goes out only where the policy reads it (seeded): elsewhere it is most of the bytes.
    const evidence = context.policy.usesEvidence ? { evidence: result.evidence } : {};
    const attestation = { chain: request.chain, request: context.id, node: nodeId, output: result.output, ...evidence };
    const salt = commitmentSalt(key, context.id);
    const body = request.mode === "direct" ? outputBody(attestation) : commitmentBody(attestation, salt);
    const checking = this.#init.clock();
    const checked = (outcome: "signed" | "refused" | "failed") => this.#init.observer?.signingCheck?.(this.#init.clock() - checking, outcome);
    const root = messageSigningRoot(key.scheme, body);
    try {
      await this.#init.slashing.checkAndInsert({
        chain: request.chain,
        request: context.id,
        node: nodeId,
        kind: body.t,
        signingRoot: root,
        deadline: request.deadline,
      });
    } catch (error) {
      if (isConcordError(error, "SLASHING_CONFLICT")) {
        checked("refused");
        logger.warn({ request: context.idHex }, "refused to sign: slashing protection holds a different signature for this request");
      } else {
        checked("failed");
        logger.error({ request: context.idHex, code: isConcordError(error) ? error.code : "STORE", error: String(error) }, "refused to sign: slashing protection failed");
      }
      return;
    }
    checked("signed");
    // The one place this node signs its output, and only after slashing protection said yes.
    if (this.#stopped || this.#init.clock() >= request.deadline) return;
    const unsigned: Unsigned = { context, body, root, attestation, salt };
    if (this.#signing === undefined) return this.#publishSigned(unsigned, signWithRoots<SignedOutput | OutputCommitment>(key, [body], [root])[0] as SignedOutput | OutputCommitment);
    this.#signing.add(unsigned);
  }

  /**
   * Signs what waits with one batch signature (spec/04): every message in it passed slashing
   * protection already, one by one, as a plain signature's would. Those whose deadline passed
   * meanwhile are dropped unsigned.
   */
  #signBatch(waiting: Unsigned[]): void {
    const now = this.#init.clock();
    const roots = new Set<string>();
    const batch = waiting.filter((item) => {
      // The same message allowed twice (a request resumed) is signed once.
      const root = toHex(item.root);
      if (roots.has(root) || now >= item.context.request.deadline) return false;
      roots.add(root);
      return true;
    });
    if (this.#stopped || batch.length === 0) return;
    // The roots were computed for slashing protection: signed as they are, not derived again.
    const signed = signWithRoots<SignedOutput | OutputCommitment>(this.#init.key, batch.map((item) => item.body), batch.map((item) => item.root));
    batch.forEach((item, i) => this.#publishSigned(item, signed[i] as SignedOutput | OutputCommitment));
  }

  /** Publishes a signed commitment (keeping its reveal for the close) or a signed output. */
  #publishSigned({ context, attestation, salt }: Unsigned, message: SignedOutput | OutputCommitment): void {
    if (message.t === "output") return this.#own(message);
    this.#pendingReveals.set(context.idHex, revealOf(message, attestation, salt));
    this.#own(message);
    // The close may have arrived while the model ran.
    this.#revealIfListed(context.id);
  }

  #revealIfListed(requestId: Uint8Array): void {
    const entry = this.book.get(requestId);
    if (!entry) return;
    const reveal = this.#pendingReveals.get(entry.context.idHex);
    const close = entry.collector.close;
    if (!reveal || !close) return;
    this.#pendingReveals.delete(entry.context.idHex);
    if (!close.commitments.some((ref) => ref.node === this.#init.nodeId)) return;
    this.#own(reveal);
  }

  /** Publishes our own message and applies it locally (gossip does not deliver it back to us). */
  #own(message: Message): void {
    try {
      // Signed here a moment ago, with the key the registry holds for this node (checked at start).
      const events = this.book.handle(message, this.#init.clock(), { signedHere: true });
      this.#react(message, events, this.#init.clock());
    } catch (error) {
      if (!isConcordError(error)) throw error;
      this.#init.logger.debug({ code: error.code, kind: message.t }, "own message not applied locally");
    }
    this.#send(message);
  }

  #send(message: Message): void {
    this.#init.publish(message).catch((error: unknown) => {
      this.#init.logger.warn({ kind: message.t, error: error instanceof Error ? error.message : String(error) }, "publish failed");
    });
  }
}
