/**
 * Pool.catchUp's bookkeeping, with a network that records what it is asked: requests resumed
 * undecided are published again and fetched, nearest deadline first; those no peer answered are
 * asked for again by the next call, and nothing else is. A request whose deadline passed while
 * the pool was down is decided only after a fetch has answered for it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { commitOutput } from "../../../src/quorum/attest.ts";
import { Collector } from "../../../src/quorum/collector.ts";
import { openRequest } from "../../../src/quorum/rules.ts";
import { createPool, type PoolNetwork, type PoolOutcome } from "../../../src/sequencer/pool.ts";
import { SqliteOutcomeStore } from "../../../src/sequencer/store.ts";
import { fromHex, taggedHash, toHex } from "../../../src/wire/hash.ts";
import { decodeMessage } from "../../../src/wire/messages.ts";
import type { Bytes, Message } from "../../../src/wire/types.ts";
import { salt, testNetwork } from "../../helpers/fixtures.ts";

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

describe("a request whose deadline passed while the pool was down", () => {
  const net = testNetwork(5);
  const start = Date.UTC(2030, 0, 1);
  const DEADLINE_MS = 10_000;

  /**
   * A pool that submits a request, takes the committee's five commitments and closes (the close
   * is stored), and is then killed. Meanwhile the committee reveals and its aggregator publishes
   * the bundle, all before the deadline. Returns what peers hold for the request, in the order
   * they had it.
   */
  async function agreedWhileDown(path: string): Promise<{ id: string; held: Message[] }> {
    const store = new SqliteOutcomeStore({ path });
    store.open();
    const pool = createPool({ registry: net.registry, sequencerKey: net.sequencer, network: { attach() {}, publish: async () => undefined }, store, defaults: { n: 5, deadlineMs: DEADLINE_MS }, clock: () => start, tickMs: 3_600_000 });
    await pool.start();
    const id = await pool.submit({ model: "m", input: "q", entropy: taggedHash("catch-up-deadline", "1") });
    const request = decodeMessage((await store.get(fromHex(id)))?.request.encoded as Uint8Array, "request");
    const context = openRequest(request, net.registry, net.policies);
    const signed = context.committee.map((node) => commitOutput(net.keys.get(node)!, { chain: request.chain, request: context.id, node, output: "Paris" }, salt(node)));
    for (const { commitment } of signed) pool.receive(commitment);
    await pool.stop(); // the close is written
    const stored = (await store.get(fromHex(id)))?.messages.find((message) => message.kind === "close");
    await store.close();
    expect(stored).toBeDefined();
    const close = decodeMessage(stored?.encoded as Uint8Array, "close");
    // The committee goes on without the pool, before the deadline.
    const aggregator = new Collector(context, { keys: net.registry });
    for (const { commitment } of signed) aggregator.addCommitment(commitment, start + 1);
    aggregator.addClose(close, start + 2);
    for (const { reveal } of signed) if (!aggregator.decided) aggregator.addReveal(reveal, start + 3);
    expect(aggregator.bundle).toBeDefined();
    return { id, held: [request, ...signed.map((s) => s.commitment), close, ...signed.map((s) => s.reveal), aggregator.bundle as Message] };
  }

  it.each([
    ["everything the committee sent", (held: Message[]) => held],
    ["the bundle alone", (held: Message[]) => held.filter((message) => message.t === "bundle")],
  ])("is fetched first and decided after: peers answer with %s, the agreement counts, no NoAgreement is signed", async (_, answer) => {
    const path = join(dir, "pool.sqlite");
    const { id, held: all } = await agreedWhileDown(path);
    const held = answer(all);
    const published: Message[] = [];
    let receiver: ((message: Message, fromPeer: string) => void) | undefined;
    const network: PoolNetwork = {
      attach: (next) => void (receiver = next),
      publish: async (message) => void published.push(message),
      // Peers answer with what they hold, as from gossip.
      fetch: async (ids) => {
        for (const message of held) {
          try {
            receiver?.(message, "peer");
          } catch {
            // Refused, as gossip would refuse it (a duplicate).
          }
        }
        return { unanswered: ids.filter((asked) => toHex(asked) !== id) };
      },
    };
    const store = new SqliteOutcomeStore({ path });
    store.open();
    const pool = createPool({ registry: net.registry, sequencerKey: net.sequencer, network, store, defaults: { n: 5 }, clock: () => start + DEADLINE_MS + 5_000, tickMs: 3_600_000 });
    const outcomes = pool.outcomes();
    const first = outcomes.next();
    try {
      await pool.start();
      // The timer's work, before catchUp: nothing is decided yet.
      pool.tick();
      expect(await pool.status(id)).toBe("pending");
      expect(await pool.catchUp()).toMatchObject({ fetched: 1, unanswered: 0 });
      expect(((await first).value as PoolOutcome).kind).toBe("agreed");
      expect(await pool.status(id)).toBe("agreed");
      expect((await pool.ready()).map((bundle) => bundle.outcome.output)).toEqual(["Paris"]);
      expect(published.filter((message) => message.t === "no-agreement")).toEqual([]);
      // Its request and close are not published again: past the deadline nobody takes them, and
      // long past it (STALE) every peer would penalize the pool for them.
      expect(published.filter((message) => message.t === "request" || message.t === "close")).toEqual([]);
    } finally {
      await outcomes.return(undefined);
      await pool.stop();
      await store.close();
    }
  });

  it("resolves to NoAgreement once a fetch has answered with nothing that decides it, not before", async () => {
    const path = join(dir, "pool.sqlite");
    const { id } = await agreedWhileDown(path);
    let answer = false;
    const network: PoolNetwork = {
      attach() {},
      publish: async () => undefined,
      fetch: async (ids) => ({ unanswered: answer ? [] : [...ids] }),
    };
    const store = new SqliteOutcomeStore({ path });
    store.open();
    const pool = createPool({ registry: net.registry, sequencerKey: net.sequencer, network, store, defaults: { n: 5 }, clock: () => start + DEADLINE_MS + 5_000, tickMs: 3_600_000, catchUpRetryMs: 3_600_000 });
    try {
      await pool.start();
      // Nobody answered: still undecided, also past the time the pool forgets decided requests.
      expect(await pool.catchUp()).toMatchObject({ fetched: 1, unanswered: 1 });
      pool.tick();
      expect(await pool.status(id)).toBe("pending");
      answer = true;
      expect(await pool.catchUp()).toMatchObject({ fetched: 1, unanswered: 0 });
      expect(await pool.status(id)).toBe("no-agreement");
      await pool.stop();
      expect((await store.get(fromHex(id)))?.outcome?.kind).toBe("no-agreement");
    } finally {
      await pool.stop();
      await store.close();
    }
  });
});
