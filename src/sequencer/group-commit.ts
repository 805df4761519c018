/**
 * Group commit for the pool's store writes: everything queued during one turn of the event loop
 * goes to the store as one batch (one transaction, one fsync), and each caller's promise settles
 * with its own item's result once that batch is durable.
 *
 * Why: the pool writes a request, its commitments, its close, its reveals and its outcome, and a
 * write per event (or even one per turn, each waiting its turn behind the network's I/O) put an
 * agreed bundle several turns and fsyncs behind the reveal that decided it. Batches run one after
 * another, in the order they were queued, and the next one starts a turn after the last is
 * committed, so a slow disk holds the event loop for one commit at a time, never for a backlog.
 */
import type { OutcomeStore, StoreBatch, StoreBatchResult } from "./store.ts";

type Kind = keyof StoreBatch;
type Item<K extends Kind> = NonNullable<StoreBatch[K]>[number];
type Result<K extends Kind> = StoreBatchResult[K][number];

interface Pending {
  batch: { [K in Kind]: Item<K>[] };
  done: Promise<StoreBatchResult>;
  resolve: (result: StoreBatchResult) => void;
  reject: (error: unknown) => void;
}

function pending(): Pending {
  const { promise, resolve, reject } = Promise.withResolvers<StoreBatchResult>();
  // Callers that drop their promise still must not see an unhandled rejection from the batch.
  promise.catch(() => undefined);
  return { batch: { requests: [], messages: [], evidence: [], outcomes: [] }, done: promise, resolve, reject };
}

export class GroupCommit {
  readonly #store: OutcomeStore;
  #next: Pending = pending();
  #scheduled = false;
  #chain: Promise<void> = Promise.resolve();

  constructor(store: OutcomeStore) {
    this.#store = store;
  }

  /** Queues one write; resolves with its result (a conflict included) once it is durable. */
  add<K extends Kind>(kind: K, item: Item<K>): Promise<Result<K>> {
    const next = this.#next;
    const index = (next.batch[kind] as Item<K>[]).push(item) - 1;
    if (!this.#scheduled) {
      this.#scheduled = true;
      this.#chain = this.#chain.then(() => new Promise<void>((resolve) => setImmediate(resolve))).then(() => this.#flush());
    }
    return next.done.then((result) => result[kind][index] as Result<K>);
  }

  /** Resolves once every write queued so far is committed (or has failed). */
  settled(): Promise<void> {
    return this.#chain;
  }

  async #flush(): Promise<void> {
    const { batch, resolve, reject } = this.#next;
    this.#next = pending();
    this.#scheduled = false;
    try {
      resolve(await this.#store.write(batch));
    } catch (error) {
      reject(error);
    }
  }
}
