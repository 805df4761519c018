/**
 * The request book: every request a participant follows, each with its collector, behind one
 * entry point `handle(message, now)`. Nodes, the sequencer pool and gossip validators all go
 * through it, so each rule is applied in one place. Pure: time is passed in, nothing is sent;
 * the caller acts on the returned events.
 */
import type { PolicyRegistry } from "../agreement/policy.ts";
import { verifyMessage } from "../crypto/sign.ts";
import { ConcordError } from "../errors.ts";
import { toHex } from "../wire/hash.ts";
import { requestId } from "../wire/ids.ts";
import { STALE_AFTER_MS } from "../wire/limits.ts";
import type {
  AgreedBundle,
  Bytes,
  EquivocationEvidence,
  BundledRequest,
  Message,
  NoAgreement,
} from "../wire/types.ts";
import { Collector, type CollectorEvent } from "./collector.ts";
import { EventQueue } from "./event-queue.ts";
import { verifyEquivocation } from "./equivocation.ts";
import type { Registry } from "./registry.ts";
import { checkDeadline, openRequest, type RequestContext } from "./rules.ts";
import { verifyBundle } from "./verify.ts";

export type BookEvent =
  | { type: "request"; context: RequestContext }
  | (CollectorEvent & { context: RequestContext })
  | { type: "bundle"; context: RequestContext; bundle: AgreedBundle }
  | { type: "evidence"; evidence: EquivocationEvidence; node: string }
  | { type: "no-agreement-signed"; context: RequestContext; message: NoAgreement };

export interface RequestBookInit {
  registry: Registry;
  policies: PolicyRegistry;
  /** Most requests followed at once; more are ignored until old ones are pruned. */
  maxRequests?: number;
  /** Check every signature (default true). */
  checkSignatures?: boolean;
}

export interface BookEntry {
  context: RequestContext;
  collector: Collector;
  /** The first verified bundle for this request: the one that counts (08-verification.md). */
  bundle?: AgreedBundle;
  noAgreement?: NoAgreement;
}

/** See RequestBook's #evidenceSeen: room for a few equivocating nodes on every request followed. */
const EVIDENCE_SEEN_PER_REQUEST = 4;

const ignore = (code: "DUPLICATE" | "LATE" | "BACKPRESSURE", message: string) => new ConcordError(code, message, { action: "ignore" });

export class RequestBook {
  readonly registry: Registry;
  readonly policies: PolicyRegistry;
  readonly #entries = new Map<string, BookEntry>();
  /**
   * Evidence already handled (node, request, kind), to drop repeats: at most EVIDENCE_SEEN_PER_REQUEST
   * × maxRequests, the oldest forgotten first. Valid evidence can name any request, so nothing
   * else bounded it: a node equivocating on every request grew it by one key each.
   */
  readonly #evidenceSeen = new Set<string>();
  readonly #maxRequests: number;
  readonly #keys: Registry | undefined;
  /**
   * Every request by deadline, once for tick and once for prune, so that each looks only at the
   * requests due: both ran over every request followed on every tick (a node ticks 20 times a
   * second and keeps a request a minute past its deadline: 30,000 of them at 500 a second).
   */
  readonly #toTick = new EventQueue<BookEntry>();
  readonly #toPrune = new EventQueue<BookEntry>();

  constructor(init: RequestBookInit) {
    this.registry = init.registry;
    this.policies = init.policies;
    this.#maxRequests = init.maxRequests ?? 10_000;
    this.#keys = init.checkSignatures === false ? undefined : init.registry;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(requestId: Bytes | string): BookEntry | undefined {
    return this.#entries.get(typeof requestId === "string" ? requestId : toHex(requestId));
  }

  entries(): IterableIterator<BookEntry> {
    return this.#entries.values();
  }

  /**
   * Applies one message; throws a typed error (with its gossip action) or returns what happened.
   * `signedHere`: a commitment or output this participant has just signed itself, whose own
   * signature needs no check.
   */
  handle(message: Message, now: number, options: { signedHere?: boolean } = {}): BookEvent[] {
    switch (message.t) {
      case "request":
        return [{ type: "request", context: this.addRequest(message, now).context }];
      case "commitment":
        return this.#withEntry(message.request, (entry) => entry.collector.addCommitment(message, now, options));
      case "close":
        return this.#withEntry(message.request, (entry) => entry.collector.addClose(message, now));
      case "reveal":
        return this.#withEntry(message.request, (entry) => entry.collector.addReveal(message, now));
      case "output":
        return this.#withEntry(message.request, (entry) => entry.collector.addOutput(message, now, options));
      case "bundle":
        return this.#addBundle(message, now);
      case "equivocation":
        return this.#addEvidence(message);
      case "no-agreement":
        return this.#addNoAgreement(message);
    }
  }

  /** Follows a request (idempotent: a known one is DUPLICATE). */
  addRequest(request: BundledRequest, now: number, options: { authenticated?: boolean } = {}): BookEntry {
    const checkSignature = this.#keys !== undefined && options.authenticated !== true;
    const context = openRequest(request, this.registry, this.policies, { now, checkSignature });
    // [IGNORE] A request already followed.
    if (this.#entries.has(context.idHex)) throw ignore("DUPLICATE", "request already known");
    // [IGNORE] More requests than the book holds: a flood cannot grow memory without bound.
    if (this.#entries.size >= this.#maxRequests) throw ignore("BACKPRESSURE", "request book full");
    const keys = this.#keys;
    const entry: BookEntry = { context, collector: new Collector(context, keys ? { keys } : {}) };
    this.#entries.set(context.idHex, entry);
    this.#toTick.schedule(request.deadline, entry);
    this.#toPrune.schedule(request.deadline, entry);
    return entry;
  }

  /** Stops following a request (its owner could not keep it, e.g. a failed store write). */
  remove(requestId: Bytes | string): boolean {
    return this.#entries.delete(typeof requestId === "string" ? requestId : toHex(requestId));
  }

  /**
   * Advances time for every request (or those `include` accepts): deadlines resolve to
   * NoAgreement.
   */
  tick(now: number, include?: (entry: BookEntry) => boolean): BookEvent[] {
    const events: BookEvent[] = [];
    // Only a deadline makes a collector's tick do anything (Collector.tick), so only the
    // requests at or past theirs are looked at, each once; those `include` leaves out wait for the next tick.
    const waiting = this.#due(this.#toTick, (deadline) => deadline <= now, (entry) => {
      if (include && !include(entry)) return false;
      for (const event of entry.collector.tick(now)) events.push({ ...event, context: entry.context });
      return true;
    });
    for (const entry of waiting) this.#toTick.schedule(entry.context.request.deadline, entry);
    return events;
  }

  /**
   * Forgets requests whose deadline is more than `retainMs` in the past, except those `keep`
   * holds on to; returns those forgotten, for the caller to drop what it keeps beside them.
   */
  prune(now: number, retainMs: number, keep?: (entry: BookEntry) => boolean): BookEntry[] {
    const removed: BookEntry[] = [];
    const kept = this.#due(this.#toPrune, (deadline) => deadline + retainMs < now, (entry) => {
      if (keep?.(entry)) return false;
      this.#entries.delete(entry.context.idHex);
      removed.push(entry);
      return true;
    });
    for (const entry of kept) this.#toPrune.schedule(entry.context.request.deadline, entry);
    return removed;
  }

  /**
   * Takes the followed requests whose deadline is `due` off `queue`, earliest first, and hands
   * each to `handle`; returns those it declined (false), for the caller to put back.
   */
  #due(queue: EventQueue<BookEntry>, due: (deadline: number) => boolean, handle: (entry: BookEntry) => boolean): BookEntry[] {
    const declined: BookEntry[] = [];
    for (let next = queue.peek(); next !== undefined && due(next.at); next = queue.peek()) {
      queue.next();
      const entry = next.payload;
      // Removed, pruned, or followed again since (a new entry was queued for it then).
      if (this.#entries.get(entry.context.idHex) !== entry) continue;
      if (!handle(entry)) declined.push(entry);
    }
    return declined;
  }

  #withEntry(request: Bytes, apply: (entry: BookEntry) => CollectorEvent[]): BookEvent[] {
    const entry = this.get(request);
    // [IGNORE] Messages for a request this participant does not follow (yet).
    if (!entry) throw new ConcordError("REQUEST_MISMATCH", "unknown request", { action: "ignore" });
    return apply(entry).map((event) => ({ ...event, context: entry.context }));
  }

  #addBundle(bundle: AgreedBundle, now: number): BookEvent[] {
    // [IGNORE] Only the first verified bundle for a request counts: once the request has one,
    // later bundles are dropped unverified. The first is checked in full, except the signatures
    // this participant's collector has already checked (after its own decision, usually all).
    // [REJECT] Long past the deadline — STALE: a replay (spec/07), penalized even where the
    // request has its bundle already. Checked first: it costs nothing.
    if (now >= bundle.request.deadline + STALE_AFTER_MS) checkDeadline(bundle.request.deadline, now);
    const known = this.get(requestId(bundle.request));
    if (known?.bundle) throw ignore("DUPLICATE", "request already has a bundle");
    // [IGNORE] Nothing counts at or after the deadline (spec/06), a bundle no more than a vote:
    // between the deadline and the tick that resolves it, a late bundle would otherwise win.
    // The deadline is part of the request id, so an altered one names another request.
    if (now >= bundle.request.deadline) throw new ConcordError("EXPIRED", "bundle at or after the request's deadline", { action: "ignore" });
    const collector = known?.collector;
    // [IGNORE] Before its own decision, a bundle that counts a vote from a node this participant
    // holds equivocation evidence against, for this request: its aggregator may not have seen the
    // second message. After the decision it stands (the vote was counted before the evidence).
    // Checked before verifyBundle: variants of such a bundle cost nothing to drop.
    const equivocator = collector && !collector.decided ? collector.equivocatorIn(bundle) : undefined;
    if (equivocator) throw new ConcordError("EQUIVOCATION", "bundle counts an equivocator's vote", { action: "ignore", details: equivocator });
    const verified = verifyBundle(
      bundle,
      this.registry,
      this.policies,
      known ? { knownSignature: (message) => known.collector.knowsSignature(message), knownContext: known.context } : {},
    );
    let entry = this.get(verified.context.id);
    // verifyBundle has authenticated the request (through the close, or its own signature).
    if (!entry) entry = this.addRequest(bundle.request, now, { authenticated: true });
    // [IGNORE] Only the first verified bundle for a request counts.
    if (entry.bundle) throw ignore("DUPLICATE", "request already has a bundle");
    entry.bundle = bundle;
    return [{ type: "bundle", context: entry.context, bundle }];
  }

  #addEvidence(evidence: EquivocationEvidence): BookEvent[] {
    const node = verifyEquivocation(evidence, this.registry);
    const key = `${node}/${toHex(evidence.first.request)}/${evidence.first.t}`;
    if (this.#evidenceSeen.has(key)) throw ignore("DUPLICATE", "evidence already known");
    this.#evidenceSeen.add(key);
    // Forgotten evidence that comes again is handled again: consumers keep it once (the pool's store dedups by hash).
    if (this.#evidenceSeen.size > EVIDENCE_SEEN_PER_REQUEST * this.#maxRequests) this.#evidenceSeen.delete(this.#evidenceSeen.values().next().value as string);
    return [{ type: "evidence", evidence, node }];
  }

  #addNoAgreement(message: NoAgreement): BookEvent[] {
    // [REJECT] A NoAgreement is signed by the sequencer.
    if (!verifyMessage(this.registry.sequencer, message)) throw new ConcordError("SIG_INVALID", "no-agreement not signed by the sequencer");
    const entry = this.get(message.request);
    if (!entry) throw new ConcordError("REQUEST_MISMATCH", "unknown request", { action: "ignore" });
    if (entry.noAgreement) throw ignore("DUPLICATE", "no-agreement already known");
    entry.noAgreement = message;
    return [{ type: "no-agreement-signed", context: entry.context, message }];
  }
}
