/**
 * Slashing protection under a real crash: a child process signs against a real SQLite file and
 * is SIGKILLed mid-stream; a restarted process on the same file tries DIFFERENT roots for the
 * same requests. Every record the first process acknowledged must be refused, and present in
 * the file. Also: two processes racing on one file never both sign one request.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SlashingProtection } from "../../src/node/slashing.ts";
import { toHex } from "../../src/wire/hash.ts";
import { CRASH_CHAIN, crashKind, crashNode, crashRequest, crashRoot } from "../fixtures/slashing/crash-child.ts";
import { runChild } from "../helpers/child.ts";

const CHILD = fileURLToPath(new URL("../fixtures/slashing/crash-child.ts", import.meta.url));

function indices(lines: string[], word: string): Set<number> {
  const found = new Set<number>();
  for (const line of lines) {
    const [first, index] = line.split(" ");
    if (first === word) found.add(Number(index));
  }
  return found;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "concord-slashing-crash-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("slashing protection survives kill -9", () => {
  // Sequential through SlashingProtection, and 16 at a time through the node's SlashingGuard
  // (its worker commits the checks in flight together).
  for (const [killAfter, window] of [[40, undefined], [300, undefined], [300, 16]] as const) {
    const how = window === undefined ? "one at a time" : `${window} at a time through SlashingGuard`;
    it(`refuses a different root for every record acknowledged before SIGKILL (kill after ${killAfter} acks, ${how})`, async () => {
      const path = join(dir, "slashing.sqlite");

      // 1. Sign with roots "A" until killed.
      const first = await runChild(CHILD, [path, "A", "0", "1000000", ...(window === undefined ? [] : [String(window)])], (lines) => lines.length >= killAfter);
      expect(first.signal, first.stderr).toBe("SIGKILL");
      const acked = indices(first.lines, "ack");
      expect(acked.size).toBeGreaterThanOrEqual(killAfter);
      expect(indices(first.lines, "error").size, first.lines.join("\n")).toBe(0);
      // The child printed the request id it acknowledged.
      for (const line of first.lines) {
        const [, index, requestHex] = line.split(" ");
        expect(requestHex).toBe(toHex(crashRequest(Number(index))));
      }
      const highest = Math.max(...acked);

      // 2. Restart on the same file and try roots "B" for the same requests (and a few beyond).
      const second = await runChild(CHILD, [path, "B", "0", String(highest + 50)]);
      expect(second.code, second.stderr).toBe(0);
      expect(indices(second.lines, "error").size, second.lines.join("\n")).toBe(0);
      const refused = indices(second.lines, "refused");
      for (const i of acked) expect(refused.has(i), `request ${i} was acknowledged but not refused`).toBe(true);
      // The first child acknowledges right after each commit, and on Linux a write to a pipe is
      // synchronous, so at most the records in flight (one, or the window) can be committed
      // without their acknowledgement having reached us. (Elsewhere a few acks may die in the
      // child's buffer.)
      const refusedUnacked = [...refused].filter((i) => !acked.has(i));
      if (process.platform === "linux") expect(refusedUnacked.length).toBeLessThanOrEqual(window ?? 1);

      // 3. Nothing lost: every acknowledged record is in the file with the first root.
      const protection = new SlashingProtection({ path });
      protection.open();
      try {
        for (const i of acked) {
          const stored = protection.get({ chain: CRASH_CHAIN, request: crashRequest(i), node: crashNode(i), kind: crashKind(i) });
          expect(stored?.signingRoot, `request ${i}`).toEqual(crashRoot("A", i));
        }
        expect(protection.export(CRASH_CHAIN).records.length).toBe(highest + 50);
      } finally {
        protection.close();
      }

      // 4. Re-signing the identical data after the restart is still allowed.
      const third = await runChild(CHILD, [path, "A", "0", String(highest + 1)]);
      expect(third.code, third.stderr).toBe(0);
      const reacked = indices(third.lines, "ack");
      for (const i of acked) expect(reacked.has(i)).toBe(true);
    }, 120_000);
  }

  it("two processes racing on one file never both sign one request", async () => {
    const path = join(dir, "slashing.sqlite");
    // Create the file first so both children open an initialized database.
    const init = new SlashingProtection({ path });
    init.open();
    init.close();
    const count = 200;
    const [x, y] = await Promise.all([runChild(CHILD, [path, "X", "0", String(count)]), runChild(CHILD, [path, "Y", "0", String(count)])]);
    expect(x.code, x.stderr).toBe(0);
    expect(y.code, y.stderr).toBe(0);
    const ackedX = indices(x.lines, "ack");
    const ackedY = indices(y.lines, "ack");
    for (let i = 0; i < count; i++) {
      // Exactly one of them signed request i; the other was refused.
      expect(Number(ackedX.has(i)) + Number(ackedY.has(i)), `request ${i}`).toBe(1);
    }
    expect(indices(x.lines, "error").size + indices(y.lines, "error").size).toBe(0);
  }, 120_000);
});
