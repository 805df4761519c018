/**
 * A bounded FIFO drained by one worker: items are processed one at a time, in order, and a push
 * onto a full queue is refused (the caller counts the drop). This is what keeps a flood of valid
 * messages from growing memory without limit when handlers are slower than the network.
 */

export interface BoundedQueueInit<T> {
  capacity: number;
  /** Processes one item; may be async. A throw is reported to `onError`, the queue goes on. */
  process: (item: T) => void | Promise<void>;
  onError: (error: unknown, item: T) => void;
}

export class BoundedQueue<T> {
  private readonly capacity: number;
  private readonly process: (item: T) => void | Promise<void>;
  private readonly onError: (error: unknown, item: T) => void;
  private items: T[] = [];
  private head = 0;
  private draining = false;
  private closed = false;
  private idle: PromiseWithResolvers<void> | undefined;

  constructor(init: BoundedQueueInit<T>) {
    if (!Number.isSafeInteger(init.capacity) || init.capacity < 1) throw new RangeError("queue capacity must be >= 1");
    this.capacity = init.capacity;
    this.process = init.process;
    this.onError = init.onError;
  }

  /** Items waiting (not counting the one being processed). */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Queues an item; false when the queue is full or closed (the item is dropped). */
  push(item: T): boolean {
    if (this.closed || this.length >= this.capacity) return false;
    this.items.push(item);
    if (!this.draining) {
      this.draining = true;
      // Start after the current task: the pusher (gossipsub) forwards the message before our
      // handlers run, so a slow handler never delays propagation.
      queueMicrotask(() => void this.drain());
    }
    return true;
  }

  /** Resolves when the queue is empty and nothing is being processed. */
  async onIdle(): Promise<void> {
    if (!this.draining) return;
    this.idle ??= Promise.withResolvers<void>();
    await this.idle.promise;
  }

  /** Drops what is waiting and refuses further pushes. */
  close(): void {
    this.closed = true;
    this.items = [];
    this.head = 0;
  }

  private async drain(): Promise<void> {
    try {
      while (this.head < this.items.length) {
        const item = this.items[this.head] as T;
        this.head++;
        // Compact now and then so consumed slots do not pin memory.
        if (this.head >= 1024 && this.head * 2 >= this.items.length) {
          this.items = this.items.slice(this.head);
          this.head = 0;
        }
        try {
          await this.process(item);
        } catch (error) {
          this.onError(error, item);
        }
      }
      this.items = [];
      this.head = 0;
    } finally {
      this.draining = false;
      this.idle?.resolve();
      this.idle = undefined;
    }
  }
}
