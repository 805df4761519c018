/**
 * The discrete-event queue: events ordered by simulated time, ties by the order they were
 * scheduled, so a run is a pure function of its inputs. Times are milliseconds since the request
 * was published; nothing here reads a clock.
 */

export interface SimEvent<T> {
  at: number;
  seq: number;
  payload: T;
}

function before<T>(a: SimEvent<T>, b: SimEvent<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** A binary min-heap of events. */
export class EventQueue<T> {
  readonly #heap: SimEvent<T>[] = [];
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
      if (!before(event, heap[parent] as SimEvent<T>)) break;
      heap[i] = heap[parent] as SimEvent<T>;
      i = parent;
    }
    heap[i] = event;
  }

  /** The earliest event, left in place; undefined when empty. */
  peek(): SimEvent<T> | undefined {
    return this.#heap[0];
  }

  /** The earliest event, removed; undefined when empty. */
  next(): SimEvent<T> | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && before(heap[right] as SimEvent<T>, heap[left] as SimEvent<T>) ? right : left;
      if (!before(heap[child] as SimEvent<T>, last)) break;
      heap[i] = heap[child] as SimEvent<T>;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
