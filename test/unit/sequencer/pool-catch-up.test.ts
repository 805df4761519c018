/**
 * Pool.catchUp's bookkeeping, with a network that records what it is asked: requests resumed
 * undecided are published again and fetched, nearest deadline first; those no peer answered are
 * asked for again by the next call, and nothing else is.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { createPool, type PoolNetwork } from "../../../src/sequencer/pool.ts";
import { SqliteOutcomeStore } from "../../../src/sequencer/store.ts";
import { taggedHash, toHex } from "../../../src/wire/hash.ts";
import type { Bytes, Message } from "../../../src/wire/types.ts";
import { testNetwork } from "../../helpers/fixtures.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "concord-pool-catch-up-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it("fetches resumed requests nearest deadline first, and asks again only for those nobody answered", async () => {
  const net = testNetwork(5);
  const now = Date.UTC(2030, 0, 1);
  const path = join(dir, "pool.sqlite");
  const published: Message[] = [];
  const asked: string[][] = [];
  let unansweredNext: (ids: readonly Bytes[]) => Bytes[] = () => [];
  const network: PoolNetwork = {
    attach() {},
    publish: async (message) => void published.push(message),
    fetch: async (ids) => {
      asked.push(ids.map(toHex));
      return { unanswered: unansweredNext(ids) };
    },
  };
  const open = async () => {
    const store = new SqliteOutcomeStore({ path });
    store.open();
    const pool = createPool({ registry: net.registry, sequencerKey: net.sequencer, network, store, defaults: { n: 5 }, clock: () => now, tickMs: 3_600_000, catchUpRetryMs: 3_600_000 });
    await pool.start();
    return { pool, store };
  };

  const first = await open();
  const ids: string[] = [];
  // Later submissions get earlier deadlines: the fetch order must follow deadlines, not submission.
  for (const [i, deadline] of [now + 30_000, now + 20_000, now + 10_000].entries()) {
    ids.push(await first.pool.submit({ model: "m", input: `q${i}`, entropy: taggedHash("catch-up-unit", String(i)), deadline }));
  }
  // A fresh pool has nothing to catch up on.
  expect(await first.pool.catchUp()).toEqual({ republished: 0, fetched: 0, unanswered: 0 });
  expect(asked).toEqual([]);
  await first.pool.stop();
  await first.store.close();

  const second = await open();
  published.length = 0;
  unansweredNext = (asking) => asking.filter((id) => toHex(id) === ids[1]);
  expect(await second.pool.catchUp()).toEqual({ republished: 3, fetched: 3, unanswered: 1 });
  expect(asked).toEqual([[ids[2], ids[1], ids[0]]]);
  expect(published.map((message) => message.t)).toEqual(["request", "request", "request"]);

  published.length = 0;
  unansweredNext = () => [];
  expect(await second.pool.catchUp()).toEqual({ republished: 1, fetched: 1, unanswered: 0 });
  expect(asked[1]).toEqual([ids[1]]);
  expect(await second.pool.catchUp()).toEqual({ republished: 0, fetched: 0, unanswered: 0 });
  expect(asked).toHaveLength(2);
  await second.pool.stop();
  await second.store.close();
});

it("runs catchUp again by itself while requests are left unanswered, and stops with the pool", async () => {
  const net = testNetwork(5);
  const path = join(dir, "pool.sqlite");
  const asked: number[] = [];
  let answerFrom = 3;
  const network: PoolNetwork = {
    attach() {},
    publish: async () => undefined,
    // Nobody answers the first two asks.
    fetch: async (ids) => {
      asked.push(ids.length);
      return { unanswered: asked.length < answerFrom ? [...ids] : [] };
    },
  };
  const open = async () => {
    const store = new SqliteOutcomeStore({ path });
    store.open();
    const pool = createPool({ registry: net.registry, sequencerKey: net.sequencer, network, store, defaults: { n: 5 }, tickMs: 3_600_000, catchUpRetryMs: 20 });
    await pool.start();
    return { pool, store };
  };
  const first = await open();
  await first.pool.submit({ model: "m", input: "q", entropy: taggedHash("catch-up-retry", "1") });
  await first.pool.stop();
  await first.store.close();

  const second = await open();
  expect((await second.pool.catchUp()).unanswered).toBe(1);
  const deadline = Date.now() + 5_000;
  while (asked.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(asked).toEqual([1, 1, 1]);
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(asked).toHaveLength(3);

  await second.pool.stop();
  await second.store.close();

  // Nobody answers again: a retry is due, and stopping the pool cancels it.
  answerFrom = Infinity;
  const third = await open();
  expect((await third.pool.catchUp()).unanswered).toBe(1);
  await third.pool.stop();
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(asked).toHaveLength(4);
  await third.store.close();
});
