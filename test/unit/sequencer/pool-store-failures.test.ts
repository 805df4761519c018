/**
 * The pool when its store refuses a write: a failed group commit must not lose what the pool
 * already decided, leave a half-submitted request behind, or be forced by a peer.
 */
import { afterEach, describe, expect, it } from "vitest";
import { signMessage } from "../../../src/crypto/sign.ts";
import { commitOutput, commitmentSalt } from "../../../src/quorum/attest.ts";
import { createPool, type PoolInit, type PoolOutcome } from "../../../src/sequencer/pool.ts";
import type { OutcomeStore, StoreBatch } from "../../../src/sequencer/store.ts";
import { compareBytes, fromHex, taggedHash } from "../../../src/wire/hash.ts";
import { bodyBytes } from "../../../src/wire/ids.ts";
import { PROTOCOL_VERSION } from "../../../src/wire/limits.ts";
import type { EquivocationEvidence, Message, OutputCommitment } from "../../../src/wire/types.ts";
import { testNetwork } from "../../helpers/fixtures.ts";
import { storeWithWrite } from "../../helpers/store.ts";

const net = testNetwork(5);
const entropy = (label: string) => taggedHash("store-failures", label);

/** An in-memory store whose writes fail while `failing(batch)` says so. */
function flakyStore(failing: (batch: StoreBatch) => boolean) {
  return storeWithWrite(async (batch, memory) => {
    if (failing(batch)) throw new Error("disk busy");
    return memory.write(batch);
  });
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A started pool on `store` (closed with it after the test); `receive` feeds it a message from a peer. */
async function poolOn(store: OutcomeStore, init: Partial<PoolInit> = {}) {
  let receive: ((message: Message, from: string) => void) | undefined;
  const pool = createPool({
    registry: net.registry,
    sequencerKey: net.sequencer,
    network: { attach: (receiver) => void (receive = receiver), publish: async () => undefined },
    store,
    defaults: { n: 5, k: 4, closeGraceMs: 0 },
    ...init,
  });
  await pool.start();
  cleanups.push(async () => {
    await pool.stop();
    await store.close();
  });
  return { pool, receive: (message: Message) => receive?.(message, "peer") };
}

describe("pool store failures", () => {
  it("is not stalled by valid evidence about a request it never stored", async () => {
    const { store, memory } = flakyStore(() => false);
    const { pool, receive } = await poolOn(store);
    // A registered node signs two commitments for a made-up request and gossips the evidence.
    const made = taggedHash("made-up request");
    const key = net.keys.get("node-00")!;
    const commit = (label: string) => signMessage<OutputCommitment>(key, { t: "commitment", v: PROTOCOL_VERSION, chain: net.registry.chain, request: made, node: "node-00", commitment: taggedHash(label) });
    let [first, second] = [commit("a"), commit("b")];
    if (compareBytes(bodyBytes(first), bodyBytes(second)) > 0) [first, second] = [second, first];
    const evidence: EquivocationEvidence = { t: "equivocation", v: PROTOCOL_VERSION, chain: net.registry.chain, first, second };
    const submitted = pool.submit({ model: "m", input: "q", entropy: entropy("q") });
    receive(evidence);
    const id = await submitted;
    expect((await memory.pending()).map((r) => r.id)).toEqual([fromHex(id)]);
  });

  it("forgets a request whose write failed, so submitting it again stores it", async () => {
    let fail = true;
    const { store, memory } = flakyStore((batch) => fail && (batch.requests?.length ?? 0) > 0);
    const { pool } = await poolOn(store);
    const submission = { model: "m", input: "q", entropy: entropy("again"), deadline: Date.now() + 60_000 };
    await expect(pool.submit(submission)).rejects.toThrow(/disk busy/);
    expect(await memory.pending()).toEqual([]);
    expect(pool.inFlight).toBe(0);
    fail = false;
    const id = await pool.submit(submission);
    expect((await memory.pending()).map((r) => r.id)).toEqual([fromHex(id)]);
    expect(await pool.status(id)).toBe("pending");
  });

  it("writes a decided outcome again after a failed commit, then reports it", async () => {
    let failures = 1;
    const { store, memory } = flakyStore((batch) => (batch.outcomes?.length ?? 0) > 0 && failures-- > 0);
    const { pool, receive } = await poolOn(store);
    const outcomes = pool.outcomes();
    const id = await pool.submit({ model: "m", input: "q", entropy: entropy("outcome") });
    const members = pool.book.get(id)?.context.committee ?? [];
    const pairs = members.map((node) => commitOutput(net.keys.get(node)!, { chain: net.registry.chain, request: fromHex(id), node, output: "Paris" }, commitmentSalt(net.keys.get(node)!, fromHex(id))));
    for (const { commitment } of pairs) receive(commitment);
    for (const { reveal } of pairs.slice(0, 4)) receive(reveal);
    const { value } = await outcomes.next();
    expect((value as PoolOutcome).kind).toBe("agreed");
    expect(failures).toBeLessThan(0);
    expect((await memory.get(fromHex(id)))?.outcome?.kind).toBe("agreed");
    expect((await pool.ready()).length).toBe(1);
  });

  it("drops the outcome of a request whose write failed, without failing or retrying the batch it shares", async () => {
    let writes = 0;
    let release: () => void = () => undefined;
    // The first commit (the first request) hangs, then fails; later ones work.
    const { store, memory } = storeWithWrite(async (batch, memory) => {
      if (++writes === 1) {
        await new Promise<void>((resolve) => (release = resolve));
        throw new Error("disk busy");
      }
      return memory.write(batch);
    });
    let now = Date.UTC(2030, 0, 1);
    const warnings: string[] = [];
    const { pool } = await poolOn(store, {
      defaults: { n: 5, deadlineMs: 1_000 },
      clock: () => now,
      tickMs: 3_600_000,
      logger: { debug() {}, info() {}, warn: (_context, message) => void warnings.push(message) },
    });
    const first = pool.submit({ model: "m", input: "first", entropy: entropy("first") });
    first.catch(() => undefined);
    while (writes === 0) await new Promise((resolve) => setImmediate(resolve));
    // Its deadline passes while its write hangs: its NoAgreement is queued behind that write,
    // in the same commit as a second request.
    now += 2_000;
    pool.tick();
    const second = pool.submit({ model: "m", input: "second", entropy: entropy("second") });
    release();
    await expect(first).rejects.toThrow(/disk busy/);
    const id = await second;
    expect((await memory.pending()).map((r) => r.id)).toEqual([fromHex(id)]);
    expect(writes).toBe(2);
    expect(warnings.filter((message) => message.includes("trying again"))).toEqual([]);
  });

  it("keeps writing a decided outcome through an outage that outlasts the request's time in memory", async () => {
    let failing = true;
    const { store, memory } = flakyStore((batch) => failing && (batch.outcomes?.length ?? 0) > 0);
    let now = Date.UTC(2030, 0, 1);
    const { pool, receive } = await poolOn(store, { defaults: { n: 5, k: 4, closeGraceMs: 0, deadlineMs: 5_000 }, clock: () => now, tickMs: 3_600_000 });
    const outcomes = pool.outcomes();
    const id = await pool.submit({ model: "m", input: "q", entropy: entropy("outage") });
    const members = pool.book.get(id)?.context.committee ?? [];
    const pairs = members.map((node) => commitOutput(net.keys.get(node)!, { chain: net.registry.chain, request: fromHex(id), node, output: "Paris" }, commitmentSalt(net.keys.get(node)!, fromHex(id))));
    for (const { commitment } of pairs) receive(commitment);
    for (const { reveal } of pairs.slice(0, 4)) receive(reveal);
    // Far past the deadline: the pool forgets the request in memory while its outcome is unwritten.
    now += 60_000;
    pool.tick();
    expect(pool.book.get(id)).toBeUndefined();
    failing = false;
    const { value } = await outcomes.next();
    expect(value).toMatchObject({ kind: "agreed", requestId: id });
    expect((await memory.get(fromHex(id)))?.outcome?.kind).toBe("agreed");
  });
});
