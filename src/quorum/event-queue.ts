/**
 * A min-heap of timed entries: earliest first, ties in the order they were scheduled, so whoever
 * drains it gets the same order every run. Nothing here reads a clock: times are the caller's
 * (the simulator's milliseconds since a request was published; the request book's deadlines).
 */

export interface Timed<T> {
  at: number;
  seq: number;
  payload: T;
}

function before<T>(a: Timed<T>, b: Timed<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** A binary min-heap of timed entries. */
export class EventQueue<T> {
  readonly #heap: Timed<T>[] = [];
  #seq = 0;

  get size(): number {
    return this.#heap.length;
  }

  schedule(at: number, payload: T): void {
    const heap = this.#heap;
    const event = { at, seq: this.#seq++, payload };
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(event, heap[parent] as Timed<T>)) break;
      heap[i] = heap[parent] as Timed<T>;
      i = parent;
    }
    heap[i] = event;
  }

  /** The earliest event, left in place; undefined when empty. */
  peek(): Timed<T> | undefined {
    return this.#heap[0];
  }

  /** The earliest event, removed; undefined when empty. */
  next(): Timed<T> | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && before(heap[right] as Timed<T>, heap[left] as Timed<T>) ? right : left;
      if (!before(heap[child] as Timed<T>, last)) break;
      heap[i] = heap[child] as Timed<T>;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
