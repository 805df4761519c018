/**
 * The outcome store under real crashes: a child process drives the store like a sequencer and is
 * SIGKILLed mid-stream, twice, then restarted on the same file and run to the end. After each
 * crash, every outcome and inclusion a child acknowledged is in the file, as acknowledged, and no
 * outcome is ever included in two blocks.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteOutcomeStore, StoreConflictError } from "../../src/sequencer/store.ts";
import { fromHex, toHex } from "../../src/wire/hash.ts";
import { crashOutcomeBytes, crashOutcomeKind, crashRequestId } from "../fixtures/store/crash-child.ts";
import { runChild } from "../helpers/child.ts";

const CHILD = fileURLToPath(new URL("../fixtures/store/crash-child.ts", import.meta.url));

/** What the children acknowledged, across runs. */
class Acks {
  /** request index → acknowledged sequence. */
  readonly outcomes = new Map<number, number>();
  /** request hex → block. */
  readonly included = new Map<string, number>();

  add(lines: string[]): { outcomeLines: number } {
    let outcomeLines = 0;
    for (const line of lines) {
      const [word, a, b, c] = line.split(" ");
      if (word === "outcome") {
        outcomeLines++;
        const i = Number(a);
        expect(b).toBe(toHex(crashRequestId(i)));
        const sequence = Number(c);
        const earlier = this.outcomes.get(i);
        // A replayed, identical outcome keeps the sequence it was first given.
        if (earlier !== undefined) expect(sequence, `sequence of request ${i}`).toBe(earlier);
        this.outcomes.set(i, sequence);
      } else if (word === "included") {
        const block = Number(a);
        for (const hex of (b ?? "").split(",")) {
          const earlier = this.included.get(hex);
          expect(earlier, `request ${hex} acknowledged in block ${String(earlier)} and again in block ${block}`).toBeUndefined();
          this.included.set(hex, block);
        }
      } else {
        throw new Error(`unexpected line from child: ${line}`);
      }
    }
    return { outcomeLines };
  }
}

async function verify(path: string, acks: Acks): Promise<void> {
  const store = new SqliteOutcomeStore({ path, integrityCheck: true });
  store.open();
  try {
    for (const [i, sequence] of acks.outcomes) {
      const record = await store.get(crashRequestId(i));
      expect(record?.outcome?.sequence, `outcome of request ${i}`).toBe(sequence);
      expect(record?.outcome?.kind).toBe(crashOutcomeKind(i));
      expect(record?.outcome?.encoded).toEqual(crashOutcomeBytes(i));
      expect(record?.request.status).toBe(crashOutcomeKind(i));
      expect(record?.messages.length).toBe(2);
    }
    for (const [hex, block] of acks.included) {
      expect((await store.get(fromHex(hex)))?.outcome?.includedIn, `inclusion of ${hex}`).toBe(block);
    }
    const ready = await store.readyOutcomes(1_000_000);
    for (const outcome of ready) {
      expect(outcome.includedIn).toBeUndefined();
      expect(acks.included.has(toHex(outcome.requestId))).toBe(false);
    }
  } finally {
    await store.close();
  }
  // Sequences are 1..N with no gap or repeat, and the file is consistent.
  const raw = new DatabaseSync(path, { readOnly: true });
  try {
    const row = raw.prepare("SELECT count(*) AS n, count(DISTINCT sequence) AS d, max(sequence) AS m FROM outcomes").get();
    expect(row?.["n"]).toBe(row?.["d"]);
    expect(row?.["m"]).toBe(row?.["n"]);
  } finally {
    raw.close();
  }
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "concord-store-crash-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("outcome store survives kill -9", () => {
  it("keeps every acknowledged outcome and inclusion, and never includes an outcome twice", async () => {
    const path = join(dir, "outcomes.sqlite");
    const acks = new Acks();
    const countLines = (lines: readonly string[]): number => lines.filter((line) => line.startsWith("outcome ")).length;

    // 1. Run until killed.
    const first = await runChild(CHILD, [path, "1000000", "1000"], (lines) => countLines(lines) >= 150);
    expect(first.signal, first.stderr).toBe("SIGKILL");
    acks.add(first.lines);
    expect(acks.outcomes.size).toBeGreaterThanOrEqual(150);
    expect(acks.included.size).toBeGreaterThan(0);
    await verify(path, acks);

    // 2. Restart: it replays the same writes (identical, so accepted) and goes further; kill again.
    const reached = Math.max(...acks.outcomes.keys());
    const second = await runChild(CHILD, [path, "1000000", "2000"], (lines) => countLines(lines) >= reached + 100);
    expect(second.signal, second.stderr).toBe("SIGKILL");
    acks.add(second.lines);
    await verify(path, acks);

    // 3. Restart and run to the end.
    const end = Math.max(...acks.outcomes.keys()) + 30;
    const third = await runChild(CHILD, [path, String(end), "3000"]);
    expect(third.code, third.stderr).toBe(0);
    acks.add(third.lines);
    await verify(path, acks);
    for (let i = 0; i < end; i++) expect(acks.outcomes.has(i)).toBe(true);

    // 4. An included bundle can never be handed to another block.
    const store = new SqliteOutcomeStore({ path });
    store.open();
    try {
      const [hex, block] = [...acks.included.entries()][0] ?? ["", 0];
      await expect(store.markIncluded([fromHex(hex)], block + 1)).rejects.toBeInstanceOf(StoreConflictError);
      await store.markIncluded([fromHex(hex)], block);
    } finally {
      await store.close();
    }
  }, 120_000);
});
