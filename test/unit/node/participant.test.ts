/**
 * The participant's aggregation duty (spec/06, step 5): in-process members over a LocalBus, the
 * fixed backend, a pool. One bundle per request, from the first member in the committee's draw
 * order; when that member stays silent, the next one publishes after the stagger.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { Participant } from "../../../src/node/participant.ts";
import { commitOutput, commitmentSalt, signClose, signOutput } from "../../../src/quorum/attest.ts";
import { RequestBook } from "../../../src/quorum/book.ts";
import { createFixedBackend } from "../../../src/runner/fixed.ts";
import { createPool } from "../../../src/sequencer/pool.ts";
import { SqliteOutcomeStore } from "../../../src/sequencer/store.ts";
import { taggedHash } from "../../../src/wire/hash.ts";
import { requestId } from "../../../src/wire/ids.ts";
import type { AgreedBundle, Message } from "../../../src/wire/types.ts";
import { LocalBus } from "../../helpers/bus.ts";
import { codeOf } from "../../helpers/errors.ts";
import { testNetwork, testRequest } from "../../helpers/fixtures.ts";

const STAGGER_MS = 60;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

interface Published {
  from: string;
  message: Message;
}

async function cluster(options: { silentAggregator?: (node: string) => boolean; delayMs?: number } = {}) {
  const net = testNetwork(5);
  const bus = new LocalBus(options.delayMs === undefined ? {} : { delayMs: options.delayMs });
  const published: Published[] = [];
  const participants: Participant[] = [];
  for (const [nodeId, key] of net.keys) {
    const endpoint = bus.endpoint(nodeId);
    const participant = new Participant({
      nodeId,
      key,
      registry: net.registry,
      policies: net.policies,
      backend: createFixedBackend({ seed: "aggregation", delayMs: 0 }),
      slashing: { checkAndInsert: () => "inserted" },
      clock: Date.now,
      publish: async (message) => {
        if (message.t === "bundle" && options.silentAggregator?.(nodeId)) return;
        published.push({ from: nodeId, message });
        await endpoint.publish(message);
      },
      logger: silent,
      aggregationStaggerMs: STAGGER_MS,
    });
    endpoint.attach((message) => participant.receive(message));
    participants.push(participant);
  }
  const timer = setInterval(() => {
    for (const participant of participants) participant.tick();
  }, 5);
  const store = new SqliteOutcomeStore({ path: ":memory:" });
  store.open();
  const sequencer = bus.endpoint("sequencer");
  const network = {
    attach: sequencer.attach,
    publish: (message: Message) => {
      published.push({ from: "sequencer", message });
      return sequencer.publish(message);
    },
  };
  const pool = createPool({ registry: net.registry, sequencerKey: net.sequencer, network, store, defaults: { n: 5, k: 4, closeGraceMs: 10, deadlineMs: 10_000 }, tickMs: 5 });
  await pool.start();
  return {
    net,
    pool,
    published,
    async stop() {
      clearInterval(timer);
      for (const participant of participants) participant.stop();
      await pool.stop();
      await store.close();
    },
  };
}

const bundlesFor = (published: Published[], id: string) =>
  published.filter((p): p is { from: string; message: AgreedBundle } => p.message.t === "bundle" && Buffer.from(p.message.close?.request ?? []).toString("hex") === id);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe("aggregation duty", () => {
  it("publishes one bundle per request, from the first member in the committee's draw order (the pool keeps its own)", async () => {
    const c = await cluster();
    cleanups.push(c.stop);
    const outcomes = c.pool.outcomes();
    for (let i = 0; i < 4; i++) {
      const id = await c.pool.submit({ model: "m", input: `question ${i}`, entropy: taggedHash("aggregation", String(i)) });
      const { value } = await outcomes.next();
      expect(value?.kind).toBe("agreed");
      // Past every member's stagger: nobody else published.
      await new Promise((resolve) => setTimeout(resolve, 6 * STAGGER_MS));
      const committee = c.pool.book.get(id)?.context.committee ?? [];
      const bundles = bundlesFor(c.published, id);
      expect(bundles.map((b) => b.from)).toEqual([committee[0]]);
    }
  });

  it("falls to the next member in draw order, after the stagger, when the first stays silent", async () => {
    let first: string | undefined;
    const c = await cluster({ silentAggregator: (node) => node === first });
    cleanups.push(c.stop);
    const outcomes = c.pool.outcomes();
    // The committee is drawn from the request id: learn it from a first request, then silence
    // that request's first member for a request with the same committee order.
    const entropy = taggedHash("aggregation", "silent");
    const id = await c.pool.submit({ model: "m", input: "silent first", entropy });
    const committee = c.pool.book.get(id)?.context.committee ?? [];
    first = committee[0];
    expect((await outcomes.next()).value?.kind).toBe("agreed");
    await vi.waitFor(() => expect(bundlesFor(c.published, id).length).toBe(1), { timeout: 5 * STAGGER_MS, interval: 5 });
    expect(bundlesFor(c.published, id)[0]?.from).toBe(committee[1]);
  });
});

describe("aggregation duty under load", () => {
  // Every message queues for three staggers, as at saturation: the first member's bundle comes
  // later than a fixed stagger after a stand-in's own decision.
  const QUEUED_MS = 3 * STAGGER_MS;

  it("still gets one bundle per request in a burst, from the first member in draw order", async () => {
    const c = await cluster({ delayMs: QUEUED_MS });
    cleanups.push(c.stop);
    const outcomes = c.pool.outcomes();
    const ids = await Promise.all([...Array(8).keys()].map((i) => c.pool.submit({ model: "m", input: `burst ${i}`, entropy: taggedHash("aggregation-burst", String(i)) })));
    for (let i = 0; i < ids.length; i++) expect((await outcomes.next()).value?.kind).toBe("agreed");
    // Past the last member's wait (4 ranks × twice a round of one queued hop) and the delivery.
    await new Promise((resolve) => setTimeout(resolve, 4 * 2 * QUEUED_MS + 3 * QUEUED_MS));
    for (const id of ids) {
      const committee = c.pool.book.get(id)?.context.committee ?? [];
      expect(bundlesFor(c.published, id).map((b) => b.from)).toEqual([committee[0]]);
    }
  });

  it("falls to the next member when the first stays silent", async () => {
    let first: string | undefined;
    const c = await cluster({ silentAggregator: (node) => node === first, delayMs: QUEUED_MS });
    cleanups.push(c.stop);
    const outcomes = c.pool.outcomes();
    const id = await c.pool.submit({ model: "m", input: "silent first, queued", entropy: taggedHash("aggregation", "silent-queued") });
    const committee = c.pool.book.get(id)?.context.committee ?? [];
    first = committee[0];
    expect((await outcomes.next()).value?.kind).toBe("agreed");
    await vi.waitFor(() => expect(bundlesFor(c.published, id).length).toBe(1), { timeout: 4 * QUEUED_MS + 2 * QUEUED_MS, interval: 5 });
    expect(bundlesFor(c.published, id)[0]?.from).toBe(committee[1]);
  });
});

describe("evidence", () => {
  it("goes out with outputs only for policies that read it (seeded), not for the others", async () => {
    const c = await cluster();
    cleanups.push(c.stop);
    const outcomes = c.pool.outcomes();
    const exact = await c.pool.submit({ model: "m", input: "exact", entropy: taggedHash("evidence", "exact") });
    expect((await outcomes.next()).value?.kind).toBe("agreed");
    const seeded = await c.pool.submit({ model: "m", input: "seeded", entropy: taggedHash("evidence", "seeded"), policy: { id: "seeded", version: 1, params: {} } });
    expect((await outcomes.next()).value?.kind).toBe("agreed");
    const reveals = (id: string) => c.published.map((p) => p.message).filter((m) => m.t === "reveal" && Buffer.from(m.request).toString("hex") === id);
    expect(reveals(exact).length).toBeGreaterThanOrEqual(4);
    for (const reveal of reveals(exact)) expect(reveal.t === "reveal" && reveal.evidence).toBeFalsy();
    expect(reveals(seeded).length).toBeGreaterThanOrEqual(4);
    for (const reveal of reveals(seeded)) expect(reveal.t === "reveal" && reveal.evidence?.tokens.length).toBeGreaterThan(0);
  });
});

describe("a bundle after the member's own decision", () => {
  function agreedBook() {
    const net = testNetwork(5);
    const request = testRequest(net, { n: 5, k: 4 });
    const book = new RequestBook({ registry: net.registry, policies: net.policies });
    const entry = book.addRequest(request, 0);
    const signed = entry.context.committee.map((node) => commitOutput(net.keys.get(node)!, { chain: request.chain, request: entry.context.id, node, output: "Paris" }, commitmentSalt(net.keys.get(node)!, entry.context.id)));
    for (const { commitment } of signed) book.handle(commitment, 1);
    book.handle(signClose(net.sequencer, request.chain, entry.context.id, signed.map((s) => s.commitment)), 2);
    let bundle: AgreedBundle | undefined;
    for (const { reveal } of signed) {
      for (const event of book.handle(reveal, 3)) if (event.type === "agreed") bundle = event.bundle;
      if (bundle) break;
    }
    return { net, book, bundle: bundle as AgreedBundle };
  }

  it("is verified without checking again the signatures the member has checked, and counts once", () => {
    const { net, book, bundle } = agreedBook();
    const verify = [net.registry.sequencer, ...net.registry.members.map((member) => member.key)].map((key) => vi.spyOn(key, "verify"));
    expect(book.handle(bundle, 4).map((event) => event.type)).toEqual(["bundle"]);
    for (const spy of verify) expect(spy).not.toHaveBeenCalled();
    expect(codeOf(() => book.handle(bundle, 5))).toBe("DUPLICATE");
  });

  it("still fails on a reveal signature the member has not seen", () => {
    const { book, bundle } = agreedBook();
    const forged = { ...bundle, reveals: bundle.reveals.map((r, i) => (i === 0 ? { ...r, commitmentSig: new Uint8Array(r.commitmentSig.length).fill(7) } : r)) };
    expect(codeOf(() => book.handle(forged, 4))).toBe("SIG_INVALID");
  });
});

describe("a bundle due after the deadline", () => {
  it("is not published: nothing counts then, and long after it every peer would reject it (STALE)", () => {
    const net = testNetwork(9);
    const request = testRequest(net, { mode: "direct", n: 5, k: 4 });
    const { committee } = new RequestBook({ registry: net.registry, policies: net.policies }).addRequest(request, 0).context;
    const outsider = [...net.keys.keys()].find((node) => !committee.includes(node)) as string;
    let now = request.deadline - 10;
    const published: Message[] = [];
    const participant = new Participant({
      nodeId: outsider,
      key: net.keys.get(outsider)!,
      registry: net.registry,
      policies: net.policies,
      backend: createFixedBackend({ seed: "late", delayMs: 0 }),
      slashing: { checkAndInsert: () => "inserted" },
      clock: () => now,
      publish: async (message) => void published.push(message),
      logger: silent,
      aggregationStaggerMs: STAGGER_MS,
    });
    participant.receive(request);
    for (const node of committee.slice(0, 4)) {
      participant.receive(signOutput(net.keys.get(node)!, { chain: request.chain, request: requestId(request), node, output: "Paris" }));
    }
    expect(participant.book.get(requestId(request))?.collector.decided).toBe(true);
    // Its duty comes after the last member's (it is not on the committee): past the deadline.
    now = request.deadline + 6 * STAGGER_MS;
    participant.tick();
    expect(published.filter((message) => message.t === "bundle")).toEqual([]);
    participant.stop();
  });
});
