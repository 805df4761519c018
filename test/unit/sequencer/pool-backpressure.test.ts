/**
 * Backpressure in bytes as well as requests: 1,500 submits of 128 KiB inputs once added 417 MB to
 * a pool whose only bound was 10,000 requests in flight. The requests in flight are bounded by
 * their encoded bytes too (`maxInFlightBytes`, 64 MiB by default).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { isConcordError } from "../../../src/errors.ts";
import { createPool, DEFAULT_POOL_DEFAULTS } from "../../../src/sequencer/pool.ts";
import { SqliteOutcomeStore } from "../../../src/sequencer/store.ts";
import { taggedHash } from "../../../src/wire/hash.ts";
import { testNetwork } from "../../helpers/fixtures.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "concord-pool-backpressure-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const MiB = 1024 * 1024;

it("bounds the bytes in flight: BACKPRESSURE once the requests in flight hold maxInFlightBytes, and room again once one is decided", async () => {
  const net = testNetwork(5);
  let now = Date.UTC(2030, 0, 1);
  const store = new SqliteOutcomeStore({ path: join(dir, "pool.sqlite") });
  store.open();
  const pool = createPool({
    registry: net.registry,
    sequencerKey: net.sequencer,
    network: { attach() {}, publish: async () => undefined },
    store,
    defaults: { n: 5, deadlineMs: 1_000, maxInFlightBytes: MiB },
    clock: () => now,
    tickMs: 3_600_000,
  });
  await pool.start();
  try {
    const big = "x".repeat(128 * 1024);
    let accepted = 0;
    let refusal: unknown;
    for (let i = 0; i < 20 && refusal === undefined; i++) {
      try {
        await pool.submit({ model: "m", input: big, entropy: taggedHash("backpressure", String(i)) });
        accepted++;
      } catch (error) {
        refusal = error;
      }
    }
    // Seven requests of a little over 128 KiB fit in 1 MiB; the eighth does not.
    expect(accepted).toBe(7);
    expect(isConcordError(refusal, "BACKPRESSURE")).toBe(true);
    expect(pool.inFlight).toBe(7);
    // Bytes, not a count: a small request still fits.
    await pool.submit({ model: "m", input: "small", entropy: taggedHash("backpressure", "small") });
    // Past the deadline every request is decided, and the room is back.
    now += 1_001;
    pool.tick();
    expect(pool.inFlight).toBe(0);
    await pool.submit({ model: "m", input: big, entropy: taggedHash("backpressure", "after") });
  } finally {
    await pool.stop();
    await store.close();
  }
});

it("has a byte bound by default", () => {
  expect(DEFAULT_POOL_DEFAULTS.maxInFlightBytes).toBe(64 * MiB);
});
