/**
 * One outcome store, one process (src/sequencer/store.ts): two pools on one file would each
 * resume its pending requests and sign its own close for them, an equivocation by the sequencer.
 * A pool process holds the file; a second process, or a second store in this one, is refused
 * with STORE; once the holder is SIGKILLed, the kernel has dropped its lock and the file opens.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, expect, it } from "vitest";
import { ConcordError } from "../../src/errors.ts";
import { SqliteOutcomeStore } from "../../src/sequencer/store.ts";
import { killRunningChildren, runChild, type ChildResult } from "../helpers/child.ts";

const CHILD = fileURLToPath(new URL("../fixtures/store/pool-child.ts", import.meta.url));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "concord-store-lock-"));
});
afterEach(() => {
  killRunningChildren();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts a pool child; resolves `started` at its first line, `done` when it exits. */
function poolChild(path: string, holdMs: number): { started: Promise<string>; done: Promise<ChildResult> } {
  const { promise: started, resolve } = Promise.withResolvers<string>();
  const done = runChild(CHILD, [path, String(holdMs)], (lines) => {
    if (lines[0] !== undefined) resolve(lines[0]);
    return false;
  });
  void done.then((result) => resolve(result.lines[0] ?? `exited ${String(result.code)}: ${result.stderr}`));
  return { started, done };
}

function openError(path: string): unknown {
  const store = new SqliteOutcomeStore({ path, busyTimeoutMs: 200 });
  try {
    store.open();
  } catch (error) {
    return error;
  }
  void store.close();
  return undefined;
}

it("refuses a second pool process on a store file a pool process holds, and opens once the holder is killed", async () => {
  const path = join(dir, "pool.sqlite");
  const first = poolChild(path, 30_000);
  expect(await first.started).toBe("started");

  const second = poolChild(path, 0);
  expect(await second.started).toBe("refused STORE");
  expect((await second.done).code).toBe(0);

  // In this process too, with an error that says why.
  const error = openError(path);
  expect(error).toBeInstanceOf(ConcordError);
  expect((error as ConcordError).code).toBe("STORE");
  expect((error as Error).message).toMatch(/in use by another process/);

  // kill -9: nothing is left to clean up, the next pool opens the file.
  killRunningChildren();
  expect((await first.done).signal).toBe("SIGKILL");
  expect(openError(path)).toBeUndefined();
}, 30_000);
