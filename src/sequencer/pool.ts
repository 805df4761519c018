/**
 * The pre-execution pool: what a rollup sequencer embeds. `submit` signs and publishes a request
 * and returns at once (a block never waits on a model); the pool closes the commit phase, keeps
 * every message in its durable store, verifies every bundle before it can be `ready`, and
 * resolves undecided requests to NoAgreement at their deadline — explicitly, never silently.
 * After a crash, `start` resumes pending requests from the store.
 */
import type { PolicyRegistry } from "../agreement/policy.ts";
import { createDefaultPolicyRegistry } from "../agreement/registry.ts";
import type { KeyPair } from "../crypto/schemes.ts";
import { assert, ConcordError, isConcordError } from "../errors.ts";
import { signMessage, signMessages, type Unsigned } from "../crypto/sign.ts";
import { SignWindow } from "../crypto/sign-window.ts";
import { closeBody, requestBody, signClose, signNoAgreement } from "../quorum/attest.ts";
import { RequestBook, type BookEntry, type BookEvent } from "../quorum/book.ts";
import { defaultThreshold } from "../quorum/committee.ts";
import type { Registry } from "../quorum/registry.ts";
import { verifyBundle } from "../quorum/verify.ts";
import { bytesEqual, fromHex, sha256, taggedHash, toHex } from "../wire/hash.ts";
import { requestId, requestIdOf } from "../wire/ids.ts";
import { MAX_KIND_BYTES } from "../wire/limits.ts";
import { decodeMessage, encodeMessage } from "../wire/messages.ts";
import type {
  AgreedBundle,
  AttestationMode,
  BundledRequest,
  Bytes,
  CommitClose,
  InferenceRequest,
  Message,
  NoAgreement,
  PolicyRef,
  SamplingParams,
} from "../wire/types.ts";
import { GroupCommit } from "./group-commit.ts";
import {
  StoreConflictError,
  type NewMessage,
  type NewOutcome,
  type OutcomeStore,
  type StoreBatch,
  type StoreBatchResult,
  type StoredMessageKind,
  type StoredOutcome,
} from "./store.ts";

/** What the pool needs of the network: ConcordNetwork fits. */
export interface PoolNetwork {
  /** `payload`, when given, is the message's canonical encoding (ConcordNetwork passes it). */
  attach(receiver: (message: Message, fromPeer: string, payload?: Bytes) => void): void;
  publish(message: Message): Promise<unknown>;
  /**
   * Asks peers for what they hold for `requests`, handing it to the receiver like gossip
   * (ConcordNetwork.fetch). Optional: without it, `catchUp` only publishes again.
   */
  fetch?(requests: readonly Bytes[]): Promise<{ unanswered: readonly Bytes[] }>;
  /** The registry subnets the network was made for (ConcordNetwork has it): must be the registry's. */
  readonly subnets?: number;
}

/** What `catchUp` did. */
export interface CatchUpResult {
  /** Requests and closes published again. */
  republished: number;
  /** Requests whose messages were asked of peers; of them, those no peer answered (call again later). */
  fetched: number;
  unanswered: number;
}

export interface PoolDefaults {
  policy: PolicyRef;
  n: number;
  /** Default ceil(2n/3). */
  k?: number;
  mode: AttestationMode;
  sampling: SamplingParams;
  /** Time from submit to deadline. */
  deadlineMs: number;
  /** After k commitments, wait this long for more before closing (all n close at once). */
  closeGraceMs: number;
  /**
   * Batch signatures (spec/06, "Batching"): a submitted request, and a close falling due, waits up
   * to this long to be signed with the others of its kind under one signature (spec/04), and
   * they are published together, in one envelope (spec/03). `submit` resolves once its request's
   * batch is signed and stored, so a caller that awaits each submit before the next waits out the
   * window every time: submit concurrently. Default 0: each is signed at once, plainly.
   */
  signBatchWindowMs?: number;
  /** A batch of requests or of closes is signed as soon as it holds this many. Default 64; at most 1,024. */
  signBatchMax?: number;
  /** Requests in flight at once; more are refused with BACKPRESSURE. Default 10,000. */
  maxInFlight: number;
  /**
   * Bytes of requests (their encoding) in flight at once; a submit past it is refused with
   * BACKPRESSURE. At least the largest request (160 KiB). Default 64 MiB: a count alone let 1,500
   * submits of 128 KiB inputs add 417 MB; small requests meet the count first.
   */
  maxInFlightBytes: number;
  /** On NoAgreement, retry as a new request linked to the first. */
  retry?: RetryPolicy;
}

export interface RetryPolicy {
  /** Retries after the first attempt. */
  maxRetries: number;
  /** Policies to escalate through, one per retry (e.g. exact, then seeded, then semantic). */
  escalate?: PolicyRef[];
}

export const DEFAULT_POOL_DEFAULTS: PoolDefaults = {
  policy: { id: "exact", version: 1, params: {} },
  n: 5,
  mode: "commit-reveal",
  sampling: { temperatureMilli: 0, topK: 0, topPPpm: 1_000_000, maxTokens: 64 },
  deadlineMs: 30_000,
  // Shorter graces let fast adversaries (lazy models, copycats) fill the close: concord sim
  // measured 33-42% NoAgreement at 50 ms and none at 250 ms (examples/scenarios/adversary-*).
  closeGraceMs: 250,
  maxInFlight: 10_000,
  maxInFlightBytes: 64 * 1024 * 1024,
};

export interface Submission {
  model: string;
  input: string;
  /** Randomness from the chain that binds the request id (e.g. a block hash), 32 bytes. */
  entropy: Bytes;
  weights?: Bytes;
  sampling?: SamplingParams;
  policy?: PolicyRef;
  n?: number;
  k?: number;
  mode?: AttestationMode;
  /** Time from submit to deadline (default from the pool's defaults). */
  deadlineMs?: number;
  /**
   * Absolute deadline (Unix ms). The request id covers the deadline, so pass it to make a
   * resubmission idempotent across time.
   */
  deadline?: number;
}

export type RequestState = "unknown" | "pending" | "agreed" | "no-agreement";

export type PoolOutcome =
  | { kind: "agreed"; requestId: string; bundle: AgreedBundle; retryOf?: string }
  | { kind: "no-agreement"; requestId: string; result: NoAgreement; retryOf?: string; retriedAs?: string };

export interface PoolLogger {
  debug(context: Record<string, unknown>, message: string): void;
  info(context: Record<string, unknown>, message: string): void;
  warn(context: Record<string, unknown>, message: string): void;
}

export interface PoolInit {
  registry: Registry;
  sequencerKey: KeyPair;
  network: PoolNetwork;
  store: OutcomeStore;
  defaults?: Partial<PoolDefaults>;
  policies?: PolicyRegistry;
  clock?: () => number;
  logger?: PoolLogger;
  /** How often deadlines and close timers are checked. Default 25 ms. */
  tickMs?: number;
  /**
   * After a `catchUp` that left requests unanswered, how long until it runs again by itself
   * (peers answer a bounded number of asks a minute). Default 60 s.
   */
  catchUpRetryMs?: number;
}

interface Tracked {
  /** The request's encoded size: what it counts against maxInFlightBytes while undecided. */
  requestBytes: number;
  /** When the k-th commitment arrived: the grace period runs from here. */
  kthCommitmentAt?: number;
  retryOf?: string;
  attempt: number;
  /** What a retry resubmits (see submissionOf). */
  submission?: Submission;
}

/**
 * The submission a retry of `request` starts from: the same request, with a deadline as far from
 * the retry's submit time as the first one's was from its own (an absolute deadline would have
 * passed already). Rebuilt from the stored request after a restart, so it is the same either way.
 */
function submissionOf(request: BundledRequest, createdAt: number): Submission {
  const { entropy, model, weights, input, sampling, policy, mode, n, k, deadline } = request;
  return { entropy, model, ...(weights ? { weights } : {}), input, sampling, policy, mode, n, k, deadlineMs: Math.max(1, deadline - createdAt) };
}

/** Retry `attempt`'s entropy: chained from the previous attempt's, so each retry draws a fresh committee. */
function retryEntropy(previous: Bytes, attempt: number): Bytes {
  return taggedHash("concord/retry", previous, String(attempt));
}

const silent: PoolLogger = { debug() {}, info() {}, warn() {} };

/** Wait before a close or an outcome is written again after a failed store write. */
const STORE_RETRY_MS = 1_000;

/** How long after its deadline the pool keeps following a request (late equivocations still caught). */
const FORGET_AFTER_DEADLINE_MS = 10_000;

export class Pool {
  readonly defaults: PoolDefaults;
  readonly book: RequestBook;
  readonly #init: PoolInit;
  readonly #clock: () => number;
  readonly #logger: PoolLogger;
  readonly #tracked = new Map<string, Tracked>();
  /** Submits whose request write is pending, by id: a repeat waits for the same write. */
  readonly #storing = new Map<string, Promise<string>>();
  readonly #waiters = new Set<(outcome: PoolOutcome) => void>();
  #timer: NodeJS.Timeout | undefined;
  /** The next `catchUp`, while requests are left unanswered. */
  #catchUpRetry: NodeJS.Timeout | undefined;
  /** Store writes, in the order their events happened, one commit per turn of the event loop. */
  readonly #commits: GroupCommit;
  #running = false;
  /** Ids of the requests `start` resumed from the store, for `catchUp`. */
  #resumed: string[] = [];
  /**
   * Requests `start` resumed after their deadline had passed, undecided: held (not resolved, not
   * forgotten) until a `catchUp` fetch has been answered for them, since the committee may have
   * agreed while the pool was down (spec/06, "Catching up"). Fetch first, decide after.
   */
  readonly #catchingUp = new Set<string>();
  /** Counters a caller can read or export as metrics. */
  readonly counters = { submitted: 0, agreed: 0, noAgreement: 0, badBundles: 0, retries: 0, evidence: 0, corruptBundles: 0 };
  /** Requests whose stored bundle failed its check on the way out (reported once each). */
  readonly #corrupt = new Set<string>();
  /**
   * SHA-256 of each bundle this pool verified and stored, or verified on its way out, by request,
   * until it is included: bytes that read back with that hash need no second verifyBundle. At
   * most `maxInFlight` of them, the oldest forgotten first (it is verified again on its way out):
   * a pool whose bundles never went into a block grew this by one entry per agreed request.
   */
  readonly #verifiedBundles = new Map<string, string>();
  /**
   * Requests in their close grace (k commitments in, not closed yet), by id: what tick looks at
   * for closes, instead of every request the book follows, five times a second and more.
   */
  readonly #inGrace = new Set<string>();
  /** Closes due and waiting for their batch's signature (signBatchWindowMs), by request. */
  readonly #closing = new Set<string>();
  /** The signing windows of requests and closes (signBatchWindowMs > 0). */
  readonly #requestWindow: SignWindow<{ body: Unsigned<InferenceRequest>; signed: (request: InferenceRequest) => void }> | undefined;
  readonly #closeWindow: SignWindow<string> | undefined;

  constructor(init: PoolInit) {
    this.#init = init;
    this.defaults = { ...DEFAULT_POOL_DEFAULTS, ...init.defaults };
    this.#clock = init.clock ?? Date.now;
    this.#logger = init.logger ?? silent;
    this.#commits = new GroupCommit(init.store);
    assert(this.defaults.maxInFlightBytes >= MAX_KIND_BYTES.request, `maxInFlightBytes must hold the largest request (${MAX_KIND_BYTES.request} bytes)`);
    // A network on other topics than the registry's subnets would publish where no member listens.
    assert(init.network.subnets === undefined || init.network.subnets === init.registry.subnets, `the network has ${init.network.subnets} subnets, the registry ${init.registry.subnets}`);
    this.book = new RequestBook({
      registry: init.registry,
      policies: init.policies ?? createDefaultPolicyRegistry(),
      maxRequests: this.defaults.maxInFlight * 2,
    });
    const windowMs = this.defaults.signBatchWindowMs ?? 0;
    if (windowMs > 0) {
      const max = this.defaults.signBatchMax !== undefined ? { max: this.defaults.signBatchMax } : {};
      this.#requestWindow = new SignWindow({ windowMs, ...max, flush: (waiting) => this.#signRequests(waiting) });
      this.#closeWindow = new SignWindow({ windowMs, ...max, flush: (ids) => this.#signCloses(ids) });
    }
  }

  /** Resumes pending requests from the store, then starts listening and ticking. */
  async start(): Promise<void> {
    if (this.#running) return;
    await this.#recover();
    this.#init.network.attach((message, _fromPeer, payload) => this.receive(message, payload));
    this.#running = true;
    this.#timer = setInterval(() => this.tick(), this.#init.tickMs ?? 25);
    this.#timer.unref?.();
  }

  async stop(): Promise<void> {
    // Requests waiting for their signature are signed and stored (their submits resolve); closes are dropped.
    this.#requestWindow?.flush();
    this.#running = false;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#closeWindow?.clear();
    this.#closing.clear();
    clearTimeout(this.#catchUpRetry);
    this.#catchUpRetry = undefined;
    await this.#commits.settled();
  }

  /**
   * After a restart, once the network is started (`start` runs before the network's start):
   * for every request `start` resumed that is still undecided,
   * - publishes the request again, then the close the store holds for it, if any (the same bytes:
   *   peers that saw them drop them as duplicates). Without it, a crash between a store write and
   *   its publish leaves the committee without the request (nobody runs it) or without the close
   *   (nobody reveals) until the deadline;
   * - asks peers for what was published while the pool was down (`network.fetch`): gossip does
   *   not deliver it again, so commitments, outputs or a bundle sent meanwhile would be lost and
   *   the request would end in NoAgreement although the committee agreed. Requests no peer
   *   answered for (`unanswered`: no peer yet, or more than a peer answers a minute, 3,840) are
   *   asked for again, with their requests published again, by a catchUp that runs by itself
   *   `catchUpRetryMs` later (default a minute), until none is left or the pool stops;
   * - decides, once a fetch has been answered for them, the requests whose deadline passed while
   *   the pool was down: `start` holds them undecided (the committee may have agreed in time), and
   *   what is still undecided after the fetch is NoAgreement.
   */
  async catchUp(): Promise<CatchUpResult> {
    await this.#commits.settled();
    let republished = 0;
    const publish = (id: string, message: Message) =>
      this.#init.network.publish(message).then(
        () => void republished++,
        (error: unknown) => this.#logger.warn({ request: id, kind: message.t, error: String(error) }, "republish failed"),
      );
    const undecided: Bytes[] = [];
    await Promise.all(
      this.#resumed.splice(0).map(async (id) => {
        const entry = this.book.get(id);
        if (!entry || this.#isDecided(entry)) {
          // Decided since start (gossip brought what decides it): nothing left to hold it for.
          this.#catchingUp.delete(id);
          return;
        }
        undecided.push(entry.context.id);
        // Past its deadline nobody takes the request or close, and long past it (STALE) peers
        // would penalize this pool for them: fetched, not published again.
        if (this.#clock() >= entry.context.request.deadline) return;
        const record = await this.#init.store.get(entry.context.id);
        if (!record) return;
        await publish(id, decodeMessage(record.request.encoded, "request"));
        // The stored bytes, not the collector's copy: a close leaves only once it is durable.
        const close = record.messages.find((message) => message.kind === "close");
        if (close) await publish(id, decodeMessage(close.encoded, "close"));
      }),
    );
    const network = this.#init.network;
    if (network.fetch === undefined || undecided.length === 0) return { republished, fetched: 0, unanswered: 0 };
    // The nearest deadlines first: a large catch-up is answered over more than one call.
    undecided.sort((a, b) => (this.book.get(a)?.context.request.deadline ?? 0) - (this.book.get(b)?.context.request.deadline ?? 0));
    const { unanswered } = await network.fetch(undecided).catch((error: unknown) => {
      this.#logger.warn({ error: String(error) }, "catch-up fetch failed");
      return { unanswered: undecided };
    });
    // What nobody answered (no peer yet, or past a peer's asks a minute): asked for again by the
    // next catchUp, which runs by itself a minute later.
    this.#resumed.push(...unanswered.map(toHex));
    // Requests resumed past their deadline that a peer has now answered for: whatever the fetch
    // brought is applied, so what is still undecided is NoAgreement.
    const answered = new Set(undecided.map(toHex));
    for (const id of unanswered) answered.delete(toHex(id));
    this.#release(answered);
    if (unanswered.length > 0 && this.#running && this.#catchUpRetry === undefined) {
      this.#catchUpRetry = setTimeout(() => {
        this.#catchUpRetry = undefined;
        void this.catchUp().catch((error: unknown) => this.#logger.warn({ error: String(error) }, "catch-up failed"));
      }, this.#init.catchUpRetryMs ?? 60_000);
      this.#catchUpRetry.unref?.();
    }
    return { republished, fetched: undecided.length, unanswered: unanswered.length };
  }

  /** Requests submitted and not yet decided. */
  get inFlight(): number {
    return this.#load().requests;
  }

  /** Requests submitted and not yet decided, and their encoded bytes. */
  #load(): { requests: number; bytes: number } {
    let requests = 0;
    let bytes = 0;
    for (const entry of this.book.entries()) {
      if (this.#isDecided(entry)) continue;
      requests++;
      bytes += this.#tracked.get(entry.context.idHex)?.requestBytes ?? 0;
    }
    return { requests, bytes };
  }

  /**
   * Signs, stores and publishes a request; returns its id at once. Idempotent: submitting the
   * same request again returns the same id. Throws REQUEST_INVALID, POLICY_UNKNOWN,
   * POLICY_PARAMS, WIRE_OVERSIZED (invalid) or BACKPRESSURE (too many in flight).
   */
  async submit(submission: Submission): Promise<string> {
    return this.#submit(submission, { attempt: 0 });
  }

  async #submit(submission: Submission, tracked: Pick<Tracked, "attempt" | "retryOf">): Promise<string> {
    const createdAt = this.#clock();
    const request = await this.#signRequest(this.#requestBody(submission, createdAt));
    const bytes = encodeMessage(request);
    if (bytes.length > MAX_KIND_BYTES.request) {
      throw new ConcordError("WIRE_OVERSIZED", "request over size limit", { details: `${bytes.length} bytes` });
    }
    const known = this.book.get(requestId(request));
    // The same request again: its id once it is stored (the first submit's write, if pending).
    if (known) return this.#storing.get(known.context.idHex) ?? known.context.idHex;
    const load = this.#load();
    if (load.requests >= this.defaults.maxInFlight) {
      throw new ConcordError("BACKPRESSURE", "too many requests in flight", { details: `${this.defaults.maxInFlight}` });
    }
    if (load.bytes + bytes.length > this.defaults.maxInFlightBytes) {
      throw new ConcordError("BACKPRESSURE", "too many request bytes in flight", { details: `${load.bytes} + ${bytes.length} > ${this.defaults.maxInFlightBytes}` });
    }
    let entry: BookEntry;
    try {
      // The pool signed this request itself a moment ago: no need to check its own signature.
      entry = this.book.addRequest(request, this.#clock(), { authenticated: true });
    } catch (error) {
      if (isConcordError(error, "DUPLICATE")) return toHex(requestId(request));
      throw error;
    }
    const id = entry.context.idHex;
    // Tracked (its messages stored, its commit phase closed, its outcome reported) from here,
    // before the write: nothing about it can arrive before it is published, which waits for it.
    this.#tracked.set(id, { ...tracked, requestBytes: bytes.length, submission: submissionOf(request, createdAt) });
    const storing = this.#commits
      .add("requests", { id: entry.context.id, encoded: bytes, deadline: request.deadline, createdAt, ...(tracked.retryOf ? { retryOf: fromHex(tracked.retryOf) } : {}) })
      .then((stored) => {
        if (stored instanceof StoreConflictError) throw stored;
        this.counters.submitted++;
        this.#publish(request);
        return id;
      })
      .catch((error: unknown) => {
        // Not stored, so not submitted: forget it, and a later submit of it starts afresh.
        this.book.remove(id);
        this.#tracked.delete(id);
        throw error;
      })
      .finally(() => {
        if (this.#storing.get(id) === storing) this.#storing.delete(id);
      });
    this.#storing.set(id, storing);
    return storing;
  }

  /** Signs a request at once, or (signBatchWindowMs) once its window closes. */
  #signRequest(body: Unsigned<InferenceRequest>): Promise<InferenceRequest> {
    if (this.#requestWindow === undefined) return Promise.resolve(signMessage<InferenceRequest>(this.#init.sequencerKey, body));
    const window = this.#requestWindow;
    return new Promise((signed) => window.add({ body, signed }));
  }

  /** Signs the requests waiting (signBatchWindowMs) under one batch signature. */
  #signRequests(waiting: { body: Unsigned<InferenceRequest>; signed: (request: InferenceRequest) => void }[]): void {
    const requests = signMessages<InferenceRequest>(this.#init.sequencerKey, waiting.map(({ body }) => body));
    waiting.forEach(({ signed }, i) => signed(requests[i] as InferenceRequest));
  }

  #requestBody(submission: Submission, now: number): Unsigned<InferenceRequest> {
    const d = this.defaults;
    const n = submission.n ?? d.n;
    return requestBody({
      chain: this.#init.registry.chain,
      entropy: submission.entropy,
      model: submission.model,
      ...(submission.weights ? { weights: submission.weights } : {}),
      input: submission.input,
      sampling: submission.sampling ?? d.sampling,
      policy: submission.policy ?? d.policy,
      mode: submission.mode ?? d.mode,
      n,
      k: submission.k ?? (submission.n === undefined && d.k !== undefined ? d.k : defaultThreshold(n)),
      deadline: submission.deadline ?? now + (submission.deadlineMs ?? d.deadlineMs),
    });
  }

  /**
   * Agreed, verified bundles not yet included in a block, in a deterministic order: those already
   * durable (every one `outcomes()` has reported). Never waits, on the network or on store
   * writes still queued: a bundle whose write is behind them goes into a later block. Each is
   * checked as it leaves the store; a corrupt one is reported and left out (`#checkedBundle`).
   */
  async ready(options: { max?: number } = {}): Promise<AgreedBundle[]> {
    const outcomes = await this.#init.store.readyOutcomes(options.max ?? 1000);
    return outcomes.flatMap((outcome) => this.#checkedBundle(outcome) ?? []);
  }

  /**
   * A stored bundle on its way out, checked: SQLite checks its pages' structure, not a blob's
   * bytes, so a byte flipped on disk reads back as a sound row (quick_check passes). Bytes whose
   * hash is the one this pool verified are handed out (a hash, ~10 µs, where verifyBundle costs
   * about a millisecond at n = 7); any other bytes (after a restart, or changed) go through
   * verifyBundle, the one check a sequencer trusts (spec/08), which catches a change whatever its
   * cause and needs no new column in the file. A corrupt bundle is never handed out: it is
   * reported once (STORE, with the failed check as its cause), counted, and kept out of every block.
   */
  #checkedBundle(outcome: StoredOutcome): AgreedBundle | undefined {
    const id = toHex(outcome.requestId);
    const digest = toHex(sha256(outcome.encoded));
    try {
      const bundle = decodeMessage(outcome.encoded, "bundle");
      if (this.#verifiedBundles.get(id) === digest) return bundle;
      // Intact bytes are the question here: a bundle agreed under a policy retired since it was
      // stored still goes into a block.
      const { context } = verifyBundle(bundle, this.#init.registry, this.book.policies, { allowRetired: true });
      if (!bytesEqual(context.id, outcome.requestId)) throw new ConcordError("REQUEST_MISMATCH", "stored bundle is for another request");
      this.#rememberVerified(id, digest);
      return bundle;
    } catch (error) {
      if (!this.#corrupt.has(id)) {
        this.#corrupt.add(id);
        this.counters.corruptBundles++;
        const cause = isConcordError(error) ? error.code : "UNEXPECTED";
        this.#logger.warn({ request: id, code: "STORE", cause }, "stored bundle is corrupt: not handed out");
      }
      return undefined;
    }
  }

  #rememberVerified(id: string, digest: string): void {
    this.#verifiedBundles.delete(id);
    this.#verifiedBundles.set(id, digest);
    if (this.#verifiedBundles.size > this.defaults.maxInFlight) this.#verifiedBundles.delete(this.#verifiedBundles.keys().next().value as string);
  }

  /**
   * What the pool holds in memory now, for metrics and leak checks: requests it follows (pending,
   * and decided ones until FORGET_AFTER_DEADLINE_MS past their deadline), and bundles whose
   * verified hash it remembers (at most maxInFlight).
   */
  get held(): { requests: number; verifiedBundles: number } {
    return { requests: this.book.size, verifiedBundles: this.#verifiedBundles.size };
  }

  /** Marks bundles as included in a block: they never reach `ready` again. */
  async markIncluded(requestIds: readonly string[], blockNumber: number): Promise<void> {
    await this.#init.store.markIncluded(requestIds.map(fromHex), blockNumber);
    for (const id of requestIds) this.#verifiedBundles.delete(id);
  }

  async status(requestId: string): Promise<RequestState> {
    const entry = this.book.get(requestId);
    if (entry) {
      // A NoAgreement is set only while no bundle was in: a bundle after it (the book keeps a late
      // valid one) does not change the pool's outcome.
      if (entry.noAgreement) return "no-agreement";
      if (entry.bundle || entry.collector.status === "agreed") return "agreed";
      if (entry.collector.status === "no-agreement") return "no-agreement";
      return "pending";
    }
    await this.#commits.settled();
    const record = await this.#init.store.get(fromHex(requestId));
    return record ? record.request.status : "unknown";
  }

  /** Every outcome as it is decided (agreed or no agreement), until the iteration is ended. */
  async *outcomes(): AsyncGenerator<PoolOutcome> {
    const queue: PoolOutcome[] = [];
    let wake: (() => void) | undefined;
    const waiter = (outcome: PoolOutcome) => {
      queue.push(outcome);
      wake?.();
    };
    this.#waiters.add(waiter);
    try {
      for (;;) {
        while (queue.length > 0) yield queue.shift() as PoolOutcome;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      this.#waiters.delete(waiter);
    }
  }

  /**
   * Applies a message from the network. Throws typed errors: gossip maps them to ignore/reject.
   * `encoded`, the message's canonical encoding as it arrived, saves encoding it again to store it.
   */
  receive(message: Message, encoded?: Bytes): void {
    let events: BookEvent[];
    try {
      events = this.book.handle(message, this.#timeOf(message));
    } catch (error) {
      if (message.t === "bundle" && isConcordError(error) && error.action === "reject") {
        this.counters.badBundles++;
        this.#logger.warn({ code: error.code }, "bad bundle dropped");
      }
      throw error;
    }
    const item = this.#messageItem(message, encoded);
    if (item) void this.#logged(this.#commits.add("messages", item));
    this.#react(events);
    if (message.t === "commitment") this.#maybeClose(message.request);
  }

  /** Closes due commit phases and resolves deadlines. Called by the timer; callable by tests. */
  tick(): void {
    const now = this.#clock();
    for (const id of this.#inGrace) {
      const entry = this.book.get(id);
      const tracked = this.#tracked.get(id);
      if (!entry || tracked?.kthCommitmentAt === undefined || entry.collector.status !== "committing") {
        this.#inGrace.delete(id);
        continue;
      }
      if (now < tracked.kthCommitmentAt + this.defaults.closeGraceMs) continue;
      // An equivocation found after the k-th commitment removes one from the count: a close
      // must list at least k, so wait for k again (a signed close below k was rejected by
      // every peer and, thrown from this timer, crashed the sequencer).
      if (entry.collector.commitments.length < entry.context.request.k) {
        delete tracked.kthCommitmentAt;
        this.#inGrace.delete(id);
        continue;
      }
      // At the deadline the request resolves to NoAgreement below; a close would be EXPIRED.
      if (now >= entry.context.request.deadline) continue;
      this.#close(entry, now);
    }
    const held = (entry: BookEntry) => this.#catchingUp.has(entry.context.idHex);
    this.#react(this.book.tick(now, this.#catchingUp.size > 0 ? (entry) => !held(entry) : undefined));
    // Forget requests well past their deadline: decided and stored (status() reads the store),
    // and any message still arriving for one is ignored either way. Without this the book only
    // grew: after maxInFlight × 2 requests in the pool's life, every submit was BACKPRESSURE.
    for (const { context } of this.book.prune(now, FORGET_AFTER_DEADLINE_MS, held)) this.#tracked.delete(context.idHex);
  }

  /**
   * The time `message` is judged at: the clock, except for a request held for its catch-up, where
   * it is just before the deadline. The pool was down, so it cannot tell when the committee sent
   * what peers hand back now, and a peer could have sent it in time: peers keep and answer only
   * what they accepted, and they accept nothing at or after the deadline (spec/06).
   */
  #timeOf(message: Message): number {
    const now = this.#clock();
    if (this.#catchingUp.size === 0) return now;
    const entry = this.book.get(requestIdOf(message));
    return entry && this.#catchingUp.has(entry.context.idHex) ? Math.min(now, entry.context.request.deadline - 1) : now;
  }

  /** Decides the held requests `ids` (catch-up answered): NoAgreement for those still undecided. */
  #release(ids: ReadonlySet<string>): void {
    const released = new Set([...ids].filter((id) => this.#catchingUp.delete(id)));
    if (released.size > 0) this.#react(this.book.tick(this.#clock(), (entry) => released.has(entry.context.idHex)));
  }

  /**
   * A committee message or close as the store keeps it, for the pool's own requests only: the
   * store holds no other (valid evidence and messages can name any request id).
   */
  #messageItem(message: Message, bytes?: Bytes): { requestId: Bytes; message: NewMessage } | undefined {
    if (message.t !== "commitment" && message.t !== "close" && message.t !== "reveal" && message.t !== "output") return undefined;
    if (!this.#tracked.has(toHex(message.request))) return undefined;
    const encoded = bytes ?? encodeMessage(message);
    const kind: StoredMessageKind = message.t;
    const node = message.t === "close" ? undefined : message.node;
    return { requestId: message.request, message: { kind, ...(node ? { node } : {}), hash: sha256(encoded), encoded } };
  }

  #maybeClose(requestId: Bytes): void {
    const entry = this.book.get(requestId);
    if (!entry || entry.collector.status !== "committing") return;
    const count = entry.collector.commitments.length;
    const { n, k } = entry.context.request;
    // The pool closes only its own requests.
    const tracked = this.#tracked.get(entry.context.idHex);
    if (!tracked) return;
    // A close at or after the deadline would be EXPIRED everywhere (commitments still come in for
    // a request resumed, or caught up, after its deadline).
    const now = this.#clock();
    if (now >= entry.context.request.deadline) return;
    if (count >= k && tracked.kthCommitmentAt === undefined) {
      tracked.kthCommitmentAt = now;
      this.#inGrace.add(entry.context.idHex);
    }
    if (count >= n) this.#close(entry, now);
  }

  /**
   * Signs the close, stores it before it leaves (a restart reuses it, never signs another),
   * publishes it. `now` is the time the caller checked against the deadline: a second reading
   * could be past it (a busy tick), and the EXPIRED that addClose would throw, thrown from the
   * timer, killed the sequencer's process.
   */
  #close(entry: BookEntry, now: number): void {
    const { context } = entry;
    if (this.#closeWindow === undefined) return this.#closeSigned(entry, signClose(this.#init.sequencerKey, context.request.chain, context.id, entry.collector.commitments), now);
    // Batching: the close waits for others (tick and #maybeClose ask again meanwhile: once is enough).
    if (this.#closing.has(context.idHex)) return;
    this.#closing.add(context.idHex);
    this.#closeWindow.add(context.idHex);
  }

  /**
   * Signs the closes waiting (signBatchWindowMs) under one batch signature, each listing the
   * commitments its collector holds now; a request decided, expired or back below k meanwhile
   * is left out (the tick closes it again once it has k).
   */
  #signCloses(ids: string[]): void {
    const now = this.#clock();
    const due = ids.flatMap((id) => {
      const entry = this.book.get(id);
      return entry && entry.collector.status === "committing" && now < entry.context.request.deadline && entry.collector.commitments.length >= entry.context.request.k ? [entry] : [];
    });
    this.#closing.clear();
    if (due.length === 0) return;
    const bodies = due.map(({ context, collector }) => closeBody(context.request.chain, context.id, collector.commitments));
    const closes = signMessages<CommitClose>(this.#init.sequencerKey, bodies);
    due.forEach((entry, i) => this.#closeSigned(entry, closes[i] as CommitClose, now));
  }

  /** Applies, stores and (once stored) publishes a close this pool has just signed. */
  #closeSigned(entry: BookEntry, close: CommitClose, now: number): void {
    const { context } = entry;
    const events = entry.collector.addClose(close, now, { signedHere: true });
    // Published only once it is durable: a close that left without being stored could be followed,
    // after a restart, by a second, different one (an equivocation by the sequencer).
    const item = this.#messageItem(close);
    if (item) {
      this.#durable("messages", item).then(
        (stored) => (stored instanceof StoreConflictError ? this.#logger.warn({ request: context.idHex }, "close not stored, so not published") : this.#publish(close)),
        () => this.#logger.warn({ request: context.idHex }, "close not stored, so not published"),
      );
    }
    this.#react(events.map((event) => ({ ...event, context })));
  }

  #react(events: BookEvent[]): void {
    for (const event of events) {
      switch (event.type) {
        case "agreed":
        case "bundle":
          this.#agreed(event.context.idHex, event.bundle);
          break;
        case "no-agreement":
          this.#noAgreement(event.context.idHex, signNoAgreement(this.#init.sequencerKey, event.result));
          break;
        case "equivocation":
        case "evidence": {
          const evidence = event.evidence;
          if (event.type === "equivocation") this.#publish(evidence);
          // Kept for the pool's own requests only (valid evidence can name any request id).
          if (!this.#tracked.has(toHex(evidence.first.request))) break;
          this.counters.evidence++;
          const encoded = encodeMessage(evidence);
          void this.#logged(this.#commits.add("evidence", { requestId: evidence.first.request, evidence: { node: evidence.first.node, hash: sha256(encoded), encoded } }));
          break;
        }
        case "request":
        case "no-agreement-signed":
          break;
      }
    }
  }

  #agreed(id: string, bundle: AgreedBundle): void {
    const entry = this.book.get(id);
    if (!entry || entry.noAgreement || !this.#tracked.has(id)) return;
    // Nothing unverified gets here: a received bundle passed verifyBundle in the book (a bad one
    // was counted and dropped in `receive`), and the pool's own collector built its bundle from
    // messages it checked one by one under the same rules, signatures included.
    if (entry.bundle && entry.bundle !== bundle) return;
    entry.bundle = bundle;
    const decidedAt = this.#clock();
    const encoded = encodeMessage(bundle);
    void this.#logged(this.#putOutcome(entry.context.id, { kind: "agreed", encoded, decidedAt }).then((stored) => {
      if (!stored) return;
      this.#rememberVerified(id, toHex(sha256(encoded)));
      this.counters.agreed++;
      const tracked = this.#tracked.get(id);
      this.#emit({ kind: "agreed", requestId: id, bundle, ...(tracked?.retryOf ? { retryOf: tracked.retryOf } : {}) });
    }));
    // Not published: the pool is the bundle's consumer, and the committee's first member in draw
    // order publishes one for the network (spec/06, aggregation duty).
  }

  #noAgreement(id: string, result: NoAgreement): void {
    const entry = this.book.get(id);
    if (!entry || entry.bundle || !this.#tracked.has(id)) return;
    entry.noAgreement = result;
    const tracked = this.#tracked.get(id);
    const decidedAt = this.#clock();
    void this.#logged(this.#putOutcome(entry.context.id, { kind: "no-agreement", encoded: encodeMessage(result), decidedAt }).then(async (stored) => {
      if (!stored) return;
      // Published once durable, as a close is: a restart must not sign a different one.
      this.#publish(result);
      this.counters.noAgreement++;
      const retriedAs = await this.#retry(id, tracked);
      this.#emit({
        kind: "no-agreement",
        requestId: id,
        result,
        ...(tracked?.retryOf ? { retryOf: tracked.retryOf } : {}),
        ...(retriedAs ? { retriedAs } : {}),
      });
    }));
  }

  /** Stores an outcome once; false if the request already has another (the first one stands). */
  async #putOutcome(requestId: Bytes, outcome: NewOutcome): Promise<boolean> {
    const stored = await this.#durable("outcomes", { requestId, outcome });
    if (stored instanceof StoreConflictError && stored.conflict === "unknown-request") {
      this.#logger.warn({ request: toHex(requestId) }, "outcome not stored: its request is not in the store (its own write failed)");
    }
    return !(stored instanceof StoreConflictError);
  }

  /**
   * One write that must happen: after a failed commit (a busy or full disk) it is tried again
   * while the pool runs. For closes and outcomes: the request is closed or decided here already,
   * so nothing else would ever write them, and a close unwritten is a close never published.
   */
  async #durable<K extends "messages" | "outcomes">(kind: K, item: NonNullable<StoreBatch[K]>[number]): Promise<StoreBatchResult[K][number]> {
    const id = toHex(item.requestId);
    for (;;) {
      try {
        return await this.#commits.add(kind, item);
      } catch (error) {
        this.#logger.warn({ request: id, kind, code: isConcordError(error) ? error.code : "STORE", error: String(error) }, "store write failed, trying again");
        await new Promise((resolve) => setTimeout(resolve, STORE_RETRY_MS).unref());
        // Only a failed commit is tried again (an item whose request is gone is its own conflict,
        // not a failure), until the pool stops.
        if (!this.#running) throw error;
      }
    }
  }

  /** A retry is a new request (new entropy, so a fresh committee), optionally with the next policy. */
  async #retry(id: string, tracked: Tracked | undefined): Promise<string | undefined> {
    const retry = this.defaults.retry;
    if (!retry || !tracked?.submission || tracked.attempt >= retry.maxRetries) return undefined;
    const attempt = tracked.attempt + 1;
    const policy = retry.escalate?.[attempt - 1] ?? tracked.submission.policy;
    const submission: Submission = {
      ...tracked.submission,
      entropy: retryEntropy(tracked.submission.entropy, attempt),
      ...(policy ? { policy } : {}),
    };
    try {
      this.counters.retries++;
      return await this.#submit(submission, { attempt, retryOf: tracked.retryOf ?? id });
    } catch (error) {
      this.#logger.warn({ request: id, code: isConcordError(error) ? error.code : "UNEXPECTED" }, "retry refused");
      return undefined;
    }
  }

  #emit(outcome: PoolOutcome): void {
    for (const waiter of this.#waiters) waiter(outcome);
  }

  #isDecided(entry: BookEntry): boolean {
    return entry.bundle !== undefined || entry.noAgreement !== undefined || entry.collector.decided;
  }

  #publish(message: Message): void {
    this.#init.network.publish(message).catch((error: unknown) => {
      this.#logger.warn({ kind: message.t, error: error instanceof Error ? error.message : String(error) }, "publish failed");
    });
  }

  /** Logs a failed store write (the promise still rejects for callers that act on it). */
  #logged<T>(write: Promise<T>): Promise<T> {
    write.catch((error: unknown) => {
      this.#logger.warn({ code: isConcordError(error) ? error.code : "STORE", error: String(error) }, "store write failed");
    });
    return write;
  }

  /**
   * Which retry of the first request `request` is, found by replaying the entropy chain from the
   * first request's; past the retry policy's limit (or not found), no more retries follow it.
   */
  async #attemptOf(request: BundledRequest, first: Bytes): Promise<number> {
    const maxRetries = this.defaults.retry?.maxRetries ?? 0;
    const record = await this.#init.store.get(first);
    if (!record) return maxRetries;
    let entropy = decodeMessage(record.request.encoded, "request").entropy;
    for (let attempt = 1; attempt <= maxRetries; attempt++) {
      entropy = retryEntropy(entropy, attempt);
      if (bytesEqual(entropy, request.entropy)) return attempt;
    }
    return maxRetries;
  }

  /** Rebuilds the book from the store: pending requests with every message they had. */
  async #recover(): Promise<void> {
    const now = this.#clock();
    for (const stored of await this.#init.store.pending()) {
      const request = decodeMessage(stored.encoded, "request");
      let entry: BookEntry;
      try {
        entry = this.book.addRequest(request, Math.min(now, request.deadline - 1));
      } catch (error) {
        this.#logger.warn({ code: isConcordError(error) ? error.code : "UNEXPECTED" }, "stored request not resumed");
        continue;
      }
      this.#tracked.set(entry.context.idHex, {
        requestBytes: stored.encoded.length,
        attempt: stored.retryOf ? await this.#attemptOf(request, stored.retryOf) : 0,
        submission: submissionOf(request, stored.createdAt),
        ...(stored.retryOf ? { retryOf: toHex(stored.retryOf) } : {}),
      });
      this.#resumed.push(entry.context.idHex);
      const record = await this.#init.store.get(stored.id);
      const messages = (record?.messages ?? []).map((m) => decodeMessage(m.encoded));
      // Commitments first, then the close, then votes: the order the protocol ran in.
      const rank = { commitment: 0, close: 1, reveal: 2, output: 2 } as Record<string, number>;
      messages.sort((a, b) => (rank[a.t] ?? 3) - (rank[b.t] ?? 3));
      for (const message of messages) {
        try {
          const events = this.book.handle(message, Math.min(now, request.deadline - 1));
          this.#react(events);
        } catch {
          // Duplicates and late messages were already judged when first stored.
        }
      }
      this.#maybeClose(entry.context.id);
      // Past its deadline and undecided: held for catchUp's fetch, if there is one, instead of a
      // NoAgreement now that what the committee agreed meanwhile would come too late for.
      if (this.#init.network.fetch !== undefined && now >= request.deadline && !this.#isDecided(entry)) this.#catchingUp.add(entry.context.idHex);
    }
    this.#react(this.book.tick(now, (entry) => !this.#catchingUp.has(entry.context.idHex)));
  }
}

export function createPool(init: PoolInit): Pool {
  return new Pool(init);
}
