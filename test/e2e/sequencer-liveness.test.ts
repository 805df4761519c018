/**
 * A pool stays live over a long life and under a slow disk. In-process (no network: a publish
 * that goes nowhere, committee messages signed here and fed to `receive`), because what is
 * checked is the pool's own bookkeeping and scheduling:
 * - it forgets requests some time after their deadline, so a long-running pool keeps accepting
 *   requests (it used to refuse every submit with BACKPRESSURE once maxInFlight × 2 requests had
 *   ever been submitted);
 * - a backlog of store writes (node:sqlite commits synchronously, an fsync each) goes to the
 *   store in a few group commits, not one commit per write: it neither holds up the event loop —
 *   the block builder's timer — for long, nor makes `ready()` wait for it.
 */
import { describe, expect, it } from "vitest";
import { commitOutput, commitmentSalt } from "../../src/quorum/attest.ts";
import { createPool } from "../../src/sequencer/pool.ts";
import { SqliteOutcomeStore } from "../../src/sequencer/store.ts";
import { storeWithWrite } from "../helpers/store.ts";
import { fromHex, taggedHash } from "../../src/wire/hash.ts";
import { testNetwork } from "../helpers/fixtures.ts";

const nowhere = { attach() {}, publish: async () => undefined };
const entropy = (label: string) => taggedHash("liveness/entropy", label);

describe("pool liveness", () => {
  it("keeps accepting requests after many more than maxInFlight × 2 have come and gone", async () => {
    const net = testNetwork(5);
    const store = new SqliteOutcomeStore({ path: ":memory:" });
    store.open();
    let now = Date.UTC(2030, 0, 1);
    const pool = createPool({
      registry: net.registry,
      sequencerKey: net.sequencer,
      network: nowhere,
      store,
      defaults: { n: 5, maxInFlight: 3, deadlineMs: 1_000 },
      clock: () => now,
      tickMs: 60_000,
    });
    await pool.start();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        ids.push(await pool.submit({ model: "m", input: `request ${i}`, entropy: entropy(String(i)) }));
        // Nobody answers: the deadline passes (NoAgreement), then the pool forgets the request.
        now += 60_000;
        pool.tick();
        expect(pool.inFlight).toBe(0);
        expect(pool.book.size).toBeLessThanOrEqual(1);
      }
      // Forgotten by the book, still known through the store.
      expect(await pool.status(ids[0] as string)).toBe("no-agreement");
      expect(pool.counters.noAgreement).toBe(20);
    } finally {
      await pool.stop();
      await store.close();
    }
  });

  it("lets timers run between store writes, and ready() does not wait for queued writes", async () => {
    const net = testNetwork(5);
    const WRITE_MS = 15;
    const busy = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until);
    };
    // A disk whose every commit blocks the thread for WRITE_MS, as a synchronous fsync does.
    let commits = 0;
    const { store: slow, memory } = storeWithWrite((batch, memory) => {
      commits++;
      busy(WRITE_MS);
      return memory.write(batch);
    });
    const pool = createPool({ registry: net.registry, sequencerKey: net.sequencer, network: nowhere, store: slow, defaults: { n: 5, deadlineMs: 60_000 } });
    await pool.start();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) ids.push(await pool.submit({ model: "m", input: `slow ${i}`, entropy: entropy(`slow ${i}`) }));
      const commitsBefore = commits;
      // Five commitments per request, the fifth closing it: 8 × 6 = 48 queued writes, ~720 ms of
      // disk if each were its own commit.
      let queued = 0;
      for (const id of ids) {
        for (const [node, key] of net.keys) {
          const { commitment } = commitOutput(key, { chain: net.registry.chain, request: fromHex(id), node, output: "answer" }, commitmentSalt(key, fromHex(id)));
          pool.receive(commitment);
          queued++;
        }
        queued++;
      }
      expect(queued).toBe(48);
      // The block builder's timer: how late does it fire while the backlog drains?
      let maxLateMs = 0;
      let last = performance.now();
      const timer = setInterval(() => {
        const at = performance.now();
        maxLateMs = Math.max(maxLateMs, at - last - 5);
        last = at;
      }, 5);
      const asked = performance.now();
      const ready = await pool.ready();
      const readyMs = performance.now() - asked;
      await pool.stop(); // waits for the backlog
      clearInterval(timer);
      expect(ready).toEqual([]);
      // Once the whole backlog ran in one turn of the event loop (~720 ms) and ready() waited for
      // it; then it ran one commit per turn (48 commits). Now: one group commit for all 48.
      expect(commits - commitsBefore).toBeLessThanOrEqual(2);
      expect(readyMs).toBeLessThan(5 * WRITE_MS);
      expect(maxLateMs).toBeLessThan(8 * WRITE_MS);
      expect((await memory.get(fromHex(ids[7] as string)))?.messages.length).toBe(6);
    } finally {
      await pool.stop();
      await memory.close();
    }
  });
});
