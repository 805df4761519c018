import { describe, expect, it } from "vitest";
import { BoundedQueue } from "../../../src/net/queue.ts";

describe("BoundedQueue", () => {
  it("processes in order, one at a time", async () => {
    const seen: number[] = [];
    let active = 0;
    let maxActive = 0;
    const queue = new BoundedQueue<number>({
      capacity: 10,
      process: async (item) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((resolve) => setTimeout(resolve, 1));
        seen.push(item);
        active--;
      },
      onError: () => undefined,
    });
    for (let i = 0; i < 5; i++) expect(queue.push(i)).toBe(true);
    await queue.onIdle();
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(maxActive).toBe(1);
  });

  it("refuses pushes beyond capacity while the worker is busy", async () => {
    const { promise: gate, resolve: open } = Promise.withResolvers<void>();
    const seen: number[] = [];
    const queue = new BoundedQueue<number>({
      capacity: 3,
      process: async (item) => {
        await gate;
        seen.push(item);
      },
      onError: () => undefined,
    });
    const accepted = Array.from({ length: 10 }, (_, i) => queue.push(i));
    // The worker starts on a microtask: until then all three slots are waiting.
    expect(accepted).toEqual([true, true, true, false, false, false, false, false, false, false]);
    await Promise.resolve();
    expect(queue.length).toBe(2);
    expect(queue.push(10)).toBe(true);
    expect(queue.push(11)).toBe(false);
    open();
    await queue.onIdle();
    expect(seen).toEqual([0, 1, 2, 10]);
  });

  it("reports handler errors and goes on", async () => {
    const errors: unknown[] = [];
    const seen: number[] = [];
    const queue = new BoundedQueue<number>({
      capacity: 4,
      process: (item) => {
        if (item === 1) throw new Error("boom");
        seen.push(item);
      },
      onError: (error) => errors.push(error),
    });
    queue.push(0);
    queue.push(1);
    queue.push(2);
    await queue.onIdle();
    expect(seen).toEqual([0, 2]);
    expect(errors).toHaveLength(1);
  });

  it("drops everything after close", async () => {
    const seen: number[] = [];
    const queue = new BoundedQueue<number>({ capacity: 4, process: (item) => void seen.push(item), onError: () => undefined });
    queue.push(0);
    queue.close();
    expect(queue.push(1)).toBe(false);
    await queue.onIdle();
    expect(seen).toEqual([]);
  });
});
