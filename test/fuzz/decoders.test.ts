/**
 * Fuzzes the decoders and everything behind them with >= 100,000 mutated messages of every kind
 * (bit flips, byte inserts and deletes, truncation, splices, structure-aware edits re-encoded
 * canonically, plain random bytes), from a seeded PRNG. Asserts:
 *   - every throw is a ConcordError (never a TypeError or RangeError from deep inside);
 *   - nothing hangs: each call is timed, and each worker is time-boxed and killed if it overruns;
 *   - no mutated signed message is accepted: whatever decodes and passes its consumer
 *     (openRequest, the collector's add*, verifyBundle, verifyEquivocation, verifyMessage) is
 *     byte-identical to a valid message the fuzzer started from.
 * It runs in two worker threads (one per core). Longer runs: FUZZ_INPUTS=1000000 FUZZ_SEED=7
 * npm run test:fuzz. On a failure the report lists the offending inputs as hex.
 */
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { MESSAGE_KINDS } from "../../src/wire/messages.ts";
import type { FuzzOptions, FuzzReport } from "./decoders.worker.ts";

const TOTAL_INPUTS = Number(process.env.FUZZ_INPUTS ?? 104_000);
const SEED = Number(process.env.FUZZ_SEED ?? 0xc0c0a);
const WORKERS = 2;
/** The whole run is killed after this long: a hang fails the test instead of stalling CI. */
const TIME_BOX_MS = Number(process.env.FUZZ_TIME_BOX_MS ?? 150_000);

function runWorker(options: FuzzOptions): Promise<FuzzReport> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./decoders.worker.ts", import.meta.url), { workerData: options });
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error(`fuzz worker (seed ${options.seed}) still running after ${TIME_BOX_MS} ms: a decoder or verifier hangs`));
    }, TIME_BOX_MS);
    worker.once("message", (report: FuzzReport) => {
      clearTimeout(timer);
      void worker.terminate();
      resolve(report);
    });
    worker.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

describe("fuzz: decoders and verifiers on mutated input", () => {
  it(
    `${TOTAL_INPUTS} mutated messages: only typed errors, no hang, no mutated message accepted`,
    async () => {
      const reports = await Promise.all(
        Array.from({ length: WORKERS }, (_, i) =>
          runWorker({ seed: SEED + i, inputs: Math.ceil(TOTAL_INPUTS / WORKERS), maxCallMs: 2_000, structuralShare: 0.3 }),
        ),
      );
      const failures = reports.flatMap((r) => r.failures);
      expect(failures, JSON.stringify(failures.slice(0, 5), null, 2)).toEqual([]);
      const inputs = reports.reduce((n, r) => n + r.inputs, 0);
      expect(inputs).toBeGreaterThanOrEqual(Math.min(TOTAL_INPUTS, 100_000));
      const sum = (pick: (r: FuzzReport) => Record<string, number>) => {
        const out: Record<string, number> = {};
        for (const r of reports) for (const [key, n] of Object.entries(pick(r))) out[key] = (out[key] ?? 0) + n;
        return out;
      };
      const decoded = sum((r) => r.decodedByKind);
      const codes = sum((r) => r.codes);
      // The mutations reach past the decoder into every consumer, and hit every decoder error.
      for (const kind of MESSAGE_KINDS) expect(decoded[kind] ?? 0, kind).toBeGreaterThan(50);
      for (const code of ["WIRE_DECODE", "WIRE_SCHEMA", "WIRE_KIND", "WIRE_VERSION", "WIRE_OVERSIZED", "WIRE_NON_CANONICAL", "SIG_INVALID"]) {
        expect(codes[code] ?? 0, code).toBeGreaterThan(0);
      }
      expect(Math.max(...reports.map((r) => r.slowestCallMs))).toBeLessThan(2_000);
    },
    TIME_BOX_MS + 10_000,
  );
});
