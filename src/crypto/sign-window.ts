/**
 * A signing window (spec/06, "Batching"): what a signer is ready to sign waits up to `windowMs`
 * after the first of it, or until `max` wait, and is then handed to `flush` at once, to be
 * signed under one batch signature. One shape for a node's commitments and a pool's requests
 * and closes; what to drop at signing time (a deadline passed meanwhile) is `flush`'s to decide.
 */
import { DEFAULT_BATCH_MAX, MAX_BATCH_LEAVES } from "../wire/signature.ts";

export interface SignWindowInit<T> {
  /** How long the first item waits for others, ms (> 0). */
  windowMs: number;
  /** Flush as soon as this many wait. Default DEFAULT_BATCH_MAX, at most MAX_BATCH_LEAVES. */
  max?: number;
  flush: (items: T[]) => void;
}

export class SignWindow<T> {
  #items: T[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #init: SignWindowInit<T>;
  readonly #max: number;

  constructor(init: SignWindowInit<T>) {
    this.#init = init;
    this.#max = Math.min(init.max ?? DEFAULT_BATCH_MAX, MAX_BATCH_LEAVES);
  }

  add(item: T): void {
    this.#items.push(item);
    if (this.#items.length >= this.#max) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.#init.windowMs).unref();
  }

  /** Hands everything waiting to `flush` now (nothing if nothing waits). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const items = this.#items;
    this.#items = [];
    if (items.length > 0) this.#init.flush(items);
  }

  /** Drops everything waiting, unsigned. */
  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#items = [];
  }
}
