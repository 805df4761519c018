/**
 * What leaves the store is checked (spec/08: a sequencer trusts verifyBundle, nothing else).
 * SQLite checks its pages' structure, not a blob's bytes: one byte flipped on disk inside a stored
 * bundle reads back as a sound row, and quick_check passes. `ready()` must not hand it out.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { createPool, type PoolLogger, type PoolOutcome } from "../../../src/sequencer/pool.ts";
import { SqliteOutcomeStore } from "../../../src/sequencer/store.ts";
import { fromHex, taggedHash, utf8 } from "../../../src/wire/hash.ts";
import { decodeMessage, encodeMessage } from "../../../src/wire/messages.ts";
import { exactPolicy } from "../../../src/agreement/exact.ts";
import { PolicyRegistry } from "../../../src/agreement/policy.ts";
import { createDefaultPolicyRegistry } from "../../../src/agreement/registry.ts";
import { runRequest, testNetwork } from "../../helpers/fixtures.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "concord-pool-corruption-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const net = testNetwork(5);
const nowhere = { attach() {}, publish: async () => undefined };

function open(path: string, logger?: PoolLogger) {
  const store = new SqliteOutcomeStore({ path, integrityCheck: true });
  store.open();
  const pool = createPool({ registry: net.registry, sequencerKey: net.sequencer, network: nowhere, store, defaults: { n: 5 }, tickMs: 3_600_000, ...(logger ? { logger } : {}) });
  return { store, pool };
}

/** Agrees `count` requests (the committee's bundles) in a pool on `path`, and stops it. */
async function agreed(path: string, count: number): Promise<Uint8Array[]> {
  const { store, pool } = open(path);
  await pool.start();
  const outcomes = pool.outcomes();
  const bundles: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const id = await pool.submit({ model: "m", input: `q${i}`, entropy: taggedHash("pool-corruption", String(i)) });
    const request = decodeMessage((await store.get(fromHex(id)))?.request.encoded as Uint8Array, "request");
    const bundle = runRequest(net, request, () => ({ output: `Paris ${i}` })).collector.bundle;
    if (!bundle) throw new Error("the committee did not agree");
    pool.receive(bundle);
    expect(((await outcomes.next()).value as PoolOutcome).kind).toBe("agreed");
    bundles.push(encodeMessage(bundle));
  }
  await outcomes.return(undefined);
  expect(await pool.ready()).toHaveLength(count);
  await pool.stop();
  await store.close();
  return bundles;
}

/** Flips one byte of `needle`'s first occurrence in the file, at `offset` into it. */
function flipInFile(path: string, needle: Uint8Array, offset: number): void {
  const file = readFileSync(path);
  const at = file.indexOf(needle);
  expect(at, "the stored bytes are in the file").toBeGreaterThanOrEqual(0);
  file[at + offset] = (file[at + offset] as number) ^ 0x01;
  writeFileSync(path, file);
}

it("never hands out a stored bundle with a flipped byte: it is reported once, and the sound ones still go out", async () => {
  const path = join(dir, "pool.sqlite");
  const bundles = await agreed(path, 2);
  // "Paris 0" in the first bundle's last reveal becomes "Parhs 0": the row, the CBOR and the
  // file's structure stay sound.
  const output = utf8("Paris 0");
  const inBundle = Buffer.from(bundles[0] as Uint8Array).lastIndexOf(output);
  flipInFile(path, (bundles[0] as Uint8Array).subarray(Math.max(0, inBundle - 24), inBundle + output.length), Math.min(24, inBundle) + 3);

  const warnings: { context: Record<string, unknown>; message: string }[] = [];
  const logger: PoolLogger = { debug() {}, info() {}, warn: (context, message) => void warnings.push({ context, message }) };
  const { store, pool } = open(path, logger);
  try {
    await pool.start();
    const ready = await pool.ready();
    expect(ready.map((bundle) => bundle.outcome.output)).toEqual(["Paris 1"]);
    expect(await pool.ready()).toHaveLength(1);
    expect(pool.counters.corruptBundles).toBe(1);
    const reported = warnings.filter((warning) => /corrupt/.test(warning.message));
    expect(reported).toHaveLength(1);
    expect(reported[0]?.context).toMatchObject({ code: "STORE", cause: "COMMITMENT_MISMATCH" });
  } finally {
    await pool.stop();
    await store.close();
  }
});

it("hands out a stored bundle whose policy was retired after it agreed: intact bytes, not the live-policy rule, are checked", async () => {
  const path = join(dir, "pool.sqlite");
  const twin = { ...exactPolicy, id: "exact-twin" };
  const withPolicies = async (policies: PolicyRegistry) => {
    const store = new SqliteOutcomeStore({ path });
    store.open();
    const pool = createPool({ registry: net.registry, sequencerKey: net.sequencer, network: nowhere, store, defaults: { n: 5 }, tickMs: 3_600_000, policies });
    await pool.start();
    return { store, pool };
  };
  // Agreed while exact-twin@1 is live...
  const live = createDefaultPolicyRegistry().register(twin);
  const first = await withPolicies(live);
  const outcomes = first.pool.outcomes();
  const id = await first.pool.submit({ model: "m", input: "q", entropy: taggedHash("pool-corruption", "retired"), policy: { id: "exact-twin", version: 1, params: {} } });
  const request = decodeMessage((await first.store.get(fromHex(id)))?.request.encoded as Uint8Array, "request");
  const bundle = runRequest({ ...net, policies: live }, request, () => ({ output: "Paris" })).collector.bundle;
  if (!bundle) throw new Error("the committee did not agree");
  first.pool.receive(bundle);
  expect(((await outcomes.next()).value as PoolOutcome).kind).toBe("agreed");
  await outcomes.return(undefined);
  await first.pool.stop();
  await first.store.close();
  // ...and handed out after a restart on which it is retired.
  const second = await withPolicies(createDefaultPolicyRegistry().register({ ...twin, retired: true }));
  expect(await second.pool.ready()).toHaveLength(1);
  expect(second.pool.counters.corruptBundles).toBe(0);
  await second.pool.stop();
  await second.store.close();
});

it("remembers at most maxInFlight verified bundles while none goes into a block, and still hands every one out", async () => {
  // Before: one remembered hash per agreed request until it was included, so a pool whose
  // bundles never went into a block (a verifier, a demo) grew by one entry per agreement.
  const store = new SqliteOutcomeStore({ path: join(dir, "pool.sqlite") });
  store.open();
  const pool = createPool({ registry: net.registry, sequencerKey: net.sequencer, network: nowhere, store, defaults: { n: 5, maxInFlight: 3 }, tickMs: 3_600_000 });
  await pool.start();
  try {
    const outcomes = pool.outcomes();
    for (let i = 0; i < 5; i++) {
      const id = await pool.submit({ model: "m", input: `q${i}`, entropy: taggedHash("pool-verified-bound", String(i)) });
      const request = decodeMessage((await store.get(fromHex(id)))?.request.encoded as Uint8Array, "request");
      const bundle = runRequest(net, request, () => ({ output: `Paris ${i}` })).collector.bundle;
      if (!bundle) throw new Error("the committee did not agree");
      pool.receive(bundle);
      expect(((await outcomes.next()).value as PoolOutcome).kind).toBe("agreed");
      expect(pool.held.verifiedBundles).toBeLessThanOrEqual(3);
    }
    await outcomes.return(undefined);
    expect(await pool.ready()).toHaveLength(5);
    expect(pool.held.verifiedBundles).toBe(3);
    expect(pool.counters.corruptBundles).toBe(0);
  } finally {
    await pool.stop();
    await store.close();
  }
});
