/**
 * Slashing protection off the event loop: the node's SlashingProtection file, owned by a worker
 * thread (./slashing-worker.ts). `checkAndInsert` keeps its rule and its meaning — sign only
 * after it resolves — but the transaction and its fsync run on the worker, and checks that
 * arrive together share one commit. A node under load kept its event loop blocked ~2 ms per
 * commitment on this fsync (bench/network.bench.ts), while gossip waited.
 *
 * @example
 * const guard = await SlashingGuard.open({ path: "data/slashing.sqlite" });
 * await guard.checkAndInsert({ chain, request, node, kind: "commitment", signingRoot, deadline });
 * const sig = sign(signingRoot); // only now
 * await guard.close();
 */
import { Worker } from "node:worker_threads";
import { ConcordError } from "../errors.ts";
import { rebuildError, workerEntry, type ClonedError } from "../threads.ts";
import type { Bytes } from "../wire/types.ts";
import { SlashingConflictError, type CheckResult, type OpenRequestsParams, type SigningRecord, type SlashingProtectionInit } from "./slashing.ts";

export interface SlashingGuardInit extends SlashingProtectionInit {
  /**
   * The node's data directory: before the first signature this guard allows, it writes
   * has-signed.json there (src/node/history.ts), so that a node whose history is later lost
   * knows it has signed. Unset: no marker.
   */
  signedMarkerDir?: string;
}

/** What the guard asks its worker (internal: the worker protocol). */
export type GuardRequest =
  | { type: "check"; id: number; record: SigningRecord }
  | { type: "prune"; id: number; params: { chain: string; before: number } }
  | { type: "open"; id: number; params: OpenRequestsParams }
  | { type: "close" };

/** What the worker answers (internal: the worker protocol). */
export type GuardReply =
  | { type: "ready" }
  | { type: "failed"; error: ClonedError }
  | { type: "checked"; id: number; result: CheckResult }
  | { type: "pruned"; id: number; deleted: number }
  | { type: "open"; id: number; requests: Bytes[] }
  | { type: "conflict"; id: number; stored: SigningRecord; attempted: SigningRecord }
  | { type: "error"; id: number; error: ClonedError };

type Answer = CheckResult | number | Bytes[];

interface Waiting {
  resolve(value: Answer): void;
  reject(error: ConcordError): void;
}

export class SlashingGuard {
  readonly path: string;
  readonly #worker: Worker;
  readonly #waiting = new Map<number, Waiting>();
  #outbox: GuardRequest[] = [];
  #nextId = 0;
  /** Why no more checks can be answered (closed, or the worker died); undefined while running. */
  #down: ConcordError | undefined;
  readonly #exited: Promise<void>;

  private constructor(path: string, worker: Worker) {
    this.path = path;
    this.#worker = worker;
    this.#exited = new Promise((resolve) => worker.once("exit", () => resolve()));
    // Replies come as lists (one per drain of the worker's queue).
    worker.on("message", (replies: GuardReply[] | GuardReply) => {
      for (const reply of Array.isArray(replies) ? replies : [replies]) this.#answer(reply);
    });
    const fail = (why: string) => {
      this.#down ??= new ConcordError("STORE", "slashing protection stopped", { details: `${path}: ${why}` });
      for (const waiting of this.#waiting.values()) waiting.reject(this.#down);
      this.#waiting.clear();
    };
    worker.on("error", (error) => fail(error.message));
    worker.once("exit", (code) => fail(`worker exited (${code})`));
  }

  /** Starts the worker and opens the file there. A damaged or foreign file is a STORE error. */
  static async open(init: SlashingGuardInit): Promise<SlashingGuard> {
    const worker = new Worker(workerEntry("slashing-worker", import.meta.url), { workerData: init });
    const first = await new Promise<GuardReply>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`worker exited (${code}) before opening`)));
    }).catch((error: unknown) => ({ type: "failed", error: { code: "STORE", shortMessage: "cannot start slashing protection", details: String(error), action: "reject" } }) as const);
    if (first.type !== "ready") {
      await worker.terminate();
      throw rebuildError(first.type === "failed" ? first.error : { code: "STORE", shortMessage: "slashing protection did not start", details: init.path, action: "reject" });
    }
    return new SlashingGuard(init.path, worker);
  }

  /**
   * SlashingProtection.checkAndInsert, on the worker: resolves once the record is on disk;
   * rejects with SLASHING_CONFLICT (SlashingConflictError names both roots) or STORE.
   */
  checkAndInsert(record: SigningRecord): Promise<CheckResult> {
    return this.#ask((id) => ({ type: "check", id, record })) as Promise<CheckResult>;
  }

  /** SlashingProtection.prune, on the worker: how many records were deleted. */
  prune(params: { chain: string; before: number }): Promise<number> {
    return this.#ask((id) => ({ type: "prune", id, params })) as Promise<number>;
  }

  /** SlashingProtection.openRequests, on the worker: requests this node signed for that are still open. */
  openRequests(params: OpenRequestsParams): Promise<Bytes[]> {
    return this.#ask((id) => ({ type: "open", id, params })) as Promise<Bytes[]>;
  }

  /** Answers every check already asked, then closes the file and stops the worker. Safe to call twice. */
  async close(): Promise<void> {
    if (!this.#down) {
      this.#down = new ConcordError("STORE", "slashing protection is closed", { details: this.path });
      this.#post({ type: "close" });
    }
    await this.#exited;
  }

  #ask(request: (id: number) => GuardRequest): Promise<Answer> {
    if (this.#down) return Promise.reject(this.#down);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#post(request(id));
    });
  }

  /**
   * Requests go to the worker as one message per turn of the event loop (a list), and its replies
   * come back the same way: a structured clone and a wakeup per batch, not per signature.
   */
  #post(request: GuardRequest): void {
    this.#outbox.push(request);
    if (this.#outbox.length > 1) return;
    setImmediate(() => {
      const requests = this.#outbox;
      this.#outbox = [];
      this.#worker.postMessage(requests);
    });
  }

  #answer(reply: GuardReply): void {
    if (reply.type === "ready" || reply.type === "failed") return;
    const waiting = this.#waiting.get(reply.id);
    if (!waiting) return;
    this.#waiting.delete(reply.id);
    switch (reply.type) {
      case "checked":
        return waiting.resolve(reply.result);
      case "pruned":
        return waiting.resolve(reply.deleted);
      case "open":
        return waiting.resolve(reply.requests);
      case "conflict":
        return waiting.reject(new SlashingConflictError({ stored: reply.stored, attempted: reply.attempted }));
      case "error":
        return waiting.reject(rebuildError(reply.error));
    }
  }
}
