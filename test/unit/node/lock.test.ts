import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DataDirLock, LOCK_FILE } from "../../../src/node/lock.ts";

const dir = mkdtempSync(join(tmpdir(), "concord-lock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("DataDirLock", () => {
  it("is held by one holder at a time, names it to the next, and is free again once released", () => {
    const first = DataDirLock.acquire(dir, "node node-01");
    expect(() => DataDirLock.acquire(dir, "slashing import")).toThrow(
      expect.objectContaining({ code: "CONFIG", message: expect.stringContaining(`${dir} is locked by another concord process (pid ${process.pid}, node node-01, since `) }),
    );
    first.release();
    first.release();
    const second = DataDirLock.acquire(dir, "slashing import");
    second.release();
  });

  it.runIf(process.platform !== "win32")("refuses a lock path that is not a regular file", () => {
    const fifoDir = mkdtempSync(join(dir, "fifo-"));
    execFileSync("mkfifo", [join(fifoDir, LOCK_FILE)]);
    expect(() => DataDirLock.acquire(fifoDir, "node node-01")).toThrow(expect.objectContaining({ code: "CONFIG", message: expect.stringContaining("is not a regular file (a FIFO)") }));
  });
});
