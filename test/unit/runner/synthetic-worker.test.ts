/**
 * The synthetic backend decodes on worker threads (src/runner/synthetic-worker.ts): same results
 * as runSynthetic on the caller's thread, a free event loop meanwhile, and a clean lifecycle
 * (abort, close, crash, process exit).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ConcordError, isConcordError } from "../../../src/errors.ts";
import type { InferenceBackend, InferenceJob } from "../../../src/runner/backend.ts";
import { createSyntheticBackend, HARDWARE_PROFILES, runSynthetic, type SyntheticBackendOptions } from "../../../src/runner/synthetic.ts";
import { taggedHash } from "../../../src/wire/hash.ts";
import type { SamplingParams } from "../../../src/wire/types.ts";
import { rejection } from "../../helpers/errors.ts";

// Every worker the backend starts, so a test can kill one the way a crash would.
const started = vi.hoisted((): Worker[] => []);
vi.mock("node:worker_threads", async (importOriginal) => {
  const original = await importOriginal<typeof import("node:worker_threads")>();
  class TrackedWorker extends original.Worker {
    constructor(...args: ConstructorParameters<typeof original.Worker>) {
      super(...args);
      started.push(this);
    }
  }
  return { ...original, Worker: TrackedWorker };
});

const MODEL = "concord-synthetic-v1";
const GREEDY: SamplingParams = { temperatureMilli: 0, topK: 0, topPPpm: 1_000_000, maxTokens: 64 };
const SAMPLED: SamplingParams = { temperatureMilli: 700, topK: 40, topPPpm: 950_000, maxTokens: 64 };
/** Long enough (hundreds of ms of decoding) that the job is surely still running in the worker. */
const LONG: SamplingParams = { ...GREEDY, maxTokens: 800 };

function job(i: number, sampling: SamplingParams = GREEDY): InferenceJob {
  return {
    requestId: taggedHash("test/synthetic-worker", String(i)),
    model: "synthetic-v1",
    input: `Request ${i}: what do the harbor lights say about copper wire and winter wheat?`,
    sampling,
  };
}

const backends: InferenceBackend[] = [];
function synthetic(options: Partial<SyntheticBackendOptions> = {}): InferenceBackend {
  const backend = createSyntheticBackend({ modelSeed: MODEL, hardware: "blocked-8", ...options });
  backends.push(backend);
  return backend;
}
afterEach(async () => {
  await Promise.all(backends.splice(0).map((backend) => backend.close?.()));
  started.length = 0;
});


/** What `promise` has settled to once the microtasks queued now have run (before any I/O). */
function settledNow(promise: Promise<unknown>): Promise<unknown> {
  return Promise.race([promise.then(() => "resolved", (error: unknown) => error), new Promise((resolve) => setImmediate(() => resolve("pending")))]);
}

describe("synthetic backend on worker threads: results", () => {
  it("equals runSynthetic bit for bit, on every profile, batch size and thread count", async () => {
    for (const profile of HARDWARE_PROFILES) {
      for (const batchSize of [1, 4, 16]) {
        const backend = synthetic({ hardware: profile.name, batchSize, threads: 2 });
        const jobs = [0, 1, 2, 3].map((i) => job(i, i % 2 === 0 ? GREEDY : SAMPLED));
        const results = await Promise.all(jobs.map((j) => backend.run(j)));
        jobs.forEach((j, k) => expect(results[k]).toStrictEqual(runSynthetic(MODEL, profile, j, batchSize)));
      }
    }
  }, 120_000);

  it("dispatches concurrent jobs to the least-busy worker, starting no more than `threads`", async () => {
    const two = synthetic({ threads: 2 });
    await Promise.all([two.run(job(0)), two.run(job(1)), two.run(job(2))]);
    expect(started).toHaveLength(2);
    await two.run(job(3)); // both idle again: no third worker
    expect(started).toHaveLength(2);

    started.length = 0;
    const one = synthetic();
    await Promise.all([one.run(job(0)), one.run(job(1))]);
    expect(started).toHaveLength(1);
  }, 60_000);

  it("starts no worker until the first job", async () => {
    const backend = synthetic();
    expect(started).toHaveLength(0);
    // A job refused on this thread starts none either.
    expect(isConcordError(await rejection(synthetic({ model: "synthetic-v1" }).run({ ...job(0), model: "llama" })), "BACKEND")).toBe(true);
    expect(started).toHaveLength(0);
    await backend.run(job(0));
    expect(started).toHaveLength(1);
  }, 60_000);
});

describe("synthetic backend on worker threads: the caller's event loop", () => {
  it("keeps ticking while a long job decodes", async () => {
    const backend = synthetic();
    await backend.run(job(0, { ...GREEDY, maxTokens: 1 })); // the worker is up and has the weights
    let ticks = 0;
    const interval = setInterval(() => ticks++, 1);
    try {
      await backend.run(job(1, LONG));
    } finally {
      clearInterval(interval);
    }
    // Decoding on this thread would allow no tick at all; the job takes hundreds of ms.
    expect(ticks).toBeGreaterThanOrEqual(20);
  }, 60_000);

  it("keeps the process alive for a pending job, and lets it exit once idle without close()", () => {
    const backendUrl = new URL("../../../src/runner/synthetic.ts", import.meta.url).href;
    const hashUrl = new URL("../../../src/wire/hash.ts", import.meta.url).href;
    // Nothing but the worker holds this script's event loop while the job runs.
    const script = `
      import { createSyntheticBackend, runSynthetic } from ${JSON.stringify(backendUrl)};
      import { taggedHash } from ${JSON.stringify(hashUrl)};
      const job = { requestId: taggedHash("t", "1"), model: "m", input: "hello there", sampling: ${JSON.stringify({ ...GREEDY, maxTokens: 200 })} };
      const result = await createSyntheticBackend({ modelSeed: "seed", hardware: "reversed" }).run(job);
      const same = JSON.stringify(result) === JSON.stringify(runSynthetic("seed", "reversed", job));
      console.log(same ? "same result" : "different result");
    `;
    // A file, not `-e`: workers inherit the parent's flags, and --input-type is refused in one.
    const dir = mkdtempSync(join(tmpdir(), "concord-synthetic-"));
    try {
      writeFileSync(join(dir, "one-job.mjs"), script);
      const child = spawnSync(process.execPath, ["--disable-warning=ExperimentalWarning", join(dir, "one-job.mjs")], { encoding: "utf8", timeout: 30_000 });
      expect(child.error).toBeUndefined(); // a ref'd idle worker would hang it until the timeout
      expect(child.stderr).toBe("");
      expect(child.stdout.trim()).toBe("same result"); // an unref'd busy worker would exit 13 first
      expect(child.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("synthetic backend on worker threads: failures", () => {
  it("rejects at once with BACKEND on abort, and drops the worker's late answer", async () => {
    const backend = synthetic();
    const controller = new AbortController();
    const pending = backend.run(job(0, LONG), controller.signal);
    controller.abort(new Error("deadline"));
    const error = await settledNow(pending);
    expect(isConcordError(error, "BACKEND")).toBe(true);
    expect((error as ConcordError).message).toBe("inference aborted: synthetic:blocked-8");
    // The worker finishes the abandoned job, then serves the next one correctly.
    expect(await backend.run(job(1))).toStrictEqual(runSynthetic(MODEL, "blocked-8", job(1)));
    expect(started).toHaveLength(1);
  }, 60_000);

  it("passes a decode error from the worker on as the same ConcordError", async () => {
    const backend = synthetic();
    for (const maxTokens of [100_000, -1, 1.5]) {
      const tooMany = job(0, { ...GREEDY, maxTokens });
      let expected: unknown;
      try {
        runSynthetic(MODEL, "blocked-8", tooMany);
      } catch (error) {
        expected = error;
      }
      expect(expected).toBeInstanceOf(ConcordError);
      const actual = await rejection(backend.run(tooMany));
      expect(actual).toBeInstanceOf(ConcordError);
      const { code, message, details, action } = expected as ConcordError;
      expect(actual).toMatchObject({ name: "ConcordError", code, message, details, action });
    }
    // The worker survives its jobs' errors.
    await backend.run(job(0));
    expect(started).toHaveLength(1);
  }, 60_000);

  it("fails jobs in flight on close(), and every job after it", async () => {
    const backend = synthetic({ threads: 2 });
    const pending = [backend.run(job(0, LONG)), backend.run(job(1, LONG))].map(rejection);
    const delayed = synthetic({ delayMs: 60_000 });
    const waiting = rejection(delayed.run(job(2)));
    setTimeout(() => void delayed.close?.(), 300); // in its decode or in its delay: either way cut short
    await backend.close?.();
    for (const error of [...(await Promise.all(pending)), await waiting]) {
      expect(isConcordError(error, "BACKEND")).toBe(true);
      expect((error as ConcordError).message).toMatch(/^backend closed: synthetic:blocked-8$/);
    }
    const after = await rejection(backend.run(job(3)));
    expect(isConcordError(after, "BACKEND") && after.message).toBe("backend closed: synthetic:blocked-8");
    await backend.close?.(); // twice is harmless
  }, 60_000);

  it("fails a crashed worker's jobs with BACKEND and starts a fresh worker for the next job", async () => {
    const backend = synthetic();
    // Killed while starting up, then killed in the middle of a decode.
    for (const warmUp of [false, true]) {
      if (warmUp) await backend.run(job(0, { ...GREEDY, maxTokens: 1 }));
      const pending = rejection(backend.run(job(0, LONG)));
      await started.at(-1)?.terminate();
      const error = await pending;
      expect(isConcordError(error, "BACKEND")).toBe(true);
      expect((error as ConcordError).message).toMatch(/^synthetic worker stopped: synthetic:blocked-8: exit code \d+$/);
    }
    expect(await backend.run(job(1))).toStrictEqual(runSynthetic(MODEL, "blocked-8", job(1)));
    expect(started).toHaveLength(3);
  }, 60_000);

  it("refuses a thread count that is not a positive integer with CONFIG", () => {
    for (const threads of [0, -1, 1.5, Number.NaN]) {
      expect(() => createSyntheticBackend({ modelSeed: MODEL, hardware: "reference", threads })).toThrow(/threads must be a positive integer/);
    }
  });
});
