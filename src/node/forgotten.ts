/**
 * Requests this node committed to and then forgot. A close that lists this node's commitment for
 * a request its book does not know means it committed and lost its memory since (a crash, a
 * restart). It asks peers for that request's messages (ConcordNetwork.fetch, spec/06): with the
 * request back it runs the model again, and the same output gives the same commitment (the salt
 * derives from its key and the request, ed25519 signs deterministically, and slashing protection
 * allows signing identical data again), so the close already listing it brings its reveal. A
 * different output is refused by slashing protection, as always.
 *
 * A close can come too late: it may have gone out while the node was down, and gossip does not
 * send it again. So at start the node also resumes (`resume`) the requests its slashing
 * protection holds a signature for and whose deadline has not passed, and the open requests its
 * peers name, fetched the same way: that brings the close, brings back in direct mode a request
 * whose output was lost to the restart (signed again identically and sent), and brings requests
 * it never got to sign for (its model was still running).
 *
 * A peer can send a close for a made-up request, unchecked (the book refuses it before any
 * signature check): so each request id is asked for once, one fetch runs at a time, and at most
 * MAX_QUEUED wait.
 */
import { MAX_FETCH_REQUESTS } from "../net/fetch.ts";
import { toHex } from "../wire/hash.ts";
import type { Bytes, CommitClose } from "../wire/types.ts";

const MAX_REMEMBERED = 1_024;
const MAX_QUEUED = 64;

export interface ForgottenRequestsInit {
  nodeId: string;
  /** Asks peers for these requests' messages and hands them to the receiver. */
  fetch(requests: Bytes[]): Promise<unknown>;
  logger: { info(fields: object, message: string): void; warn(fields: object, message: string): void };
}

export class ForgottenRequests {
  readonly #init: ForgottenRequestsInit;
  /** Request ids already asked for (or queued), oldest first. */
  readonly #asked = new Set<string>();
  /** Fetches waiting: one id for a close, up to MAX_FETCH_REQUESTS for a resume. */
  readonly #queue: Bytes[][] = [];
  #running = false;

  constructor(init: ForgottenRequestsInit) {
    this.#init = init;
  }

  /** A close for a request the book does not know: if it lists this node, ask for the request. */
  noteClose(close: CommitClose): void {
    if (!close.commitments.some((ref) => ref.node === this.#init.nodeId)) return;
    const id = toHex(close.request);
    if (this.#asked.has(id) || this.#queue.length >= MAX_QUEUED) return;
    this.#remember(id);
    this.#queue.push([close.request]);
    this.#init.logger.info({ request: id }, "a close lists this node's commitment for a request it does not know: fetching it");
    void this.#drain();
  }

  /**
   * At start: requests still open that this node may owe an answer to (those its slashing
   * protection holds a signature for, then those its peers name), each fetched once, in asks of
   * at most MAX_FETCH_REQUESTS.
   */
  resume(requests: readonly Bytes[]): void {
    const fresh = new Map<string, Bytes>();
    for (const request of requests) if (!this.#asked.has(toHex(request))) fresh.set(toHex(request), request);
    if (fresh.size === 0) return;
    const ids = [...fresh.values()];
    for (let at = 0; at < ids.length && this.#queue.length < MAX_QUEUED; at += MAX_FETCH_REQUESTS) {
      const batch = ids.slice(at, at + MAX_FETCH_REQUESTS);
      for (const request of batch) this.#remember(toHex(request));
      this.#queue.push(batch);
    }
    this.#init.logger.info({ requests: fresh.size }, "resuming the requests still open: fetching them");
    void this.#drain();
  }

  #remember(id: string): void {
    this.#asked.add(id);
    if (this.#asked.size > MAX_REMEMBERED) this.#asked.delete(this.#asked.values().next().value as string);
  }

  async #drain(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      for (let next = this.#queue.shift(); next !== undefined; next = this.#queue.shift()) {
        const requests = next;
        await this.#init.fetch(requests).catch((error: unknown) =>
          this.#init.logger.warn({ requests: requests.map(toHex), error: String(error) }, "fetching forgotten requests failed"),
        );
      }
    } finally {
      this.#running = false;
    }
  }
}
