/**
 * The sequencer pool under real crashes. A child process (test/fixtures/pool/crash-child.ts) runs
 * a Pool on a real SqliteOutcomeStore file, submits requests from a seeded mempool and builds
 * blocks from `ready()`, printing each event only once it is durable. It is SIGKILLed mid-stream,
 * twice, each time at a moment when some requests are submitted and undecided and some have a
 * published close but no outcome yet; then a last run goes to the end. Every run uses the same
 * store file, node keys and slashing-protection files.
 *
 * The committee: five in-process Participants inside the child, over a LocalBus with seeded
 * delivery jitter (fixed backend, 15..150 ms per node), not node processes: so a kill takes the
 * committee down with the pool, and what comes back up knows only what is on disk. That is the
 * harder case for the pool: it must publish its pending requests and stored closes again
 * (`catchUp`) for anyone to work on them.
 *
 * After each kill and at the end, against the child's acknowledgements and the file:
 * - pending requests are resumed and reach an outcome (all agreed: the committee is honest);
 * - no acknowledged outcome is lost or changed;
 * - no bundle goes to two blocks, and `markIncluded` with another block is refused;
 * - the pool never publishes two different closes for a request, a restarted pool reuses the
 *   stored close, and the agreed bundle carries that close;
 * - no participant's slashing protection had to refuse a signature.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteOutcomeStore } from "../../src/sequencer/store.ts";
import { fromHex, sha256, toHex } from "../../src/wire/hash.ts";
import { decodeMessage, encodeMessage } from "../../src/wire/messages.ts";
import type { ChildConfig } from "../fixtures/pool/crash-child.ts";
import { killRunningChildren, runChild, type ChildResult } from "../helpers/child.ts";

const CHILD = fileURLToPath(new URL("../fixtures/pool/crash-child.ts", import.meta.url));
const SEED = "sequencer-crash";

/** Runs the child with its JSON config; `killWhen` sees every whole line and returns true to SIGKILL it. */
function runPoolChild(config: ChildConfig, killWhen?: (lines: readonly string[]) => boolean, timeoutMs = 30_000): Promise<ChildResult> {
  return runChild(CHILD, [JSON.stringify(config)], killWhen, timeoutMs);
}

interface AckedOutcome {
  kind: string;
  hash: string;
  close: string;
}

/** What the children acknowledged, across runs, checked for consistency as it is read. */
class Acks {
  readonly submitted = new Map<number, string>();
  readonly outcomes = new Map<string, AckedOutcome>();
  readonly included = new Map<string, number>();
  /** Every close published, by request. */
  readonly closes = new Map<string, Set<string>>();
  /** Per run: requests resumed from the store at start, with their stored close ("-" if none). */
  readonly resumed: Map<string, string>[] = [];
  readonly probes: string[] = [];
  readonly refused: string[] = [];
  republished = 0;

  add(lines: readonly string[]): void {
    const resumed = new Map<string, string>();
    this.resumed.push(resumed);
    for (const line of lines) {
      const [word, a = "", b = "", c = "", d = ""] = line.split(" ");
      switch (word) {
        case "resumed":
          resumed.set(a, b);
          break;
        case "started":
          // Every resumed request is in flight after start, unless it was decided in the
          // meantime (its deadline can pass while the restarted child starts up on a loaded
          // machine); catchUp re-publishes the still-undecided ones and their stored closes.
          // That each resumed request reaches an outcome is checked after the last run.
          expect(Number(a), "requests in flight after start").toBeLessThanOrEqual(resumed.size);
          expect(Number(b)).toBeLessThanOrEqual(resumed.size + [...resumed.values()].filter((close) => close !== "-").length);
          this.republished += Number(b);
          break;
        case "submitted": {
          const earlier = this.submitted.get(Number(a));
          if (earlier !== undefined) expect(b, `id of mempool entry ${a}`).toBe(earlier);
          this.submitted.set(Number(a), b);
          break;
        }
        case "close": {
          const set = this.closes.get(a) ?? new Set<string>();
          set.add(b);
          this.closes.set(a, set);
          expect(set.size, `closes published for ${a}`).toBe(1);
          break;
        }
        case "outcome": {
          const outcome = { kind: b, hash: c, close: d };
          const earlier = this.outcomes.get(a);
          if (earlier !== undefined) expect(outcome, `outcome of ${a} acknowledged twice`).toEqual(earlier);
          this.outcomes.set(a, outcome);
          break;
        }
        case "included":
          for (const id of b.split(",")) {
            const earlier = this.included.get(id);
            expect(earlier, `${id} acknowledged in block ${String(earlier)} and again in block ${a}`).toBeUndefined();
            this.included.set(id, Number(a));
          }
          break;
        case "probe":
          this.probes.push(`${a} ${b}`.trim());
          break;
        case "refused":
          this.refused.push(line);
          break;
        case "done":
          expect(line, "no evidence, no bad bundle").toBe("done 0 0");
          break;
        default:
          throw new Error(`unexpected line from child: ${line}`);
      }
    }
  }

  /** Submitted, not yet acknowledged as decided. */
  undecided(): string[] {
    return [...this.submitted.values()].filter((id) => !this.outcomes.has(id));
  }
}

const hashOf = (bytes: Uint8Array) => toHex(sha256(bytes)).slice(0, 16);

/** The file agrees with every acknowledgement so far. */
async function verify(path: string, acks: Acks): Promise<void> {
  const store = new SqliteOutcomeStore({ path, integrityCheck: true });
  store.open();
  try {
    for (const id of acks.submitted.values()) expect(await store.get(fromHex(id)), `acknowledged request ${id}`).toBeDefined();
    for (const [id, acked] of acks.outcomes) {
      const outcome = (await store.get(fromHex(id)))?.outcome;
      expect(outcome?.kind, `outcome of ${id}`).toBe(acked.kind);
      expect(hashOf(outcome?.encoded ?? new Uint8Array()), `outcome bytes of ${id}`).toBe(acked.hash);
    }
    for (const [id, block] of acks.included) expect((await store.get(fromHex(id)))?.outcome?.includedIn, `block of ${id}`).toBe(block);
    for (const [id, published] of acks.closes) {
      const record = await store.get(fromHex(id));
      const stored = (record?.messages ?? []).filter((message) => message.kind === "close").map((message) => hashOf(message.encoded));
      // Stored before it was published, and never a second one.
      expect(stored, `closes stored for ${id}`).toEqual([...published]);
    }
  } finally {
    await store.close();
  }
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "concord-sequencer-crash-"));
});
afterEach(() => {
  killRunningChildren();
  rmSync(dir, { recursive: true, force: true });
});

describe("sequencer pool survives kill -9", () => {
  it("resumes pending requests, keeps every acknowledged outcome and inclusion, reuses its stored close", async () => {
    const path = join(dir, "pool.sqlite");
    const acks = new Acks();
    // Far enough for three runs; the same for every request, so a resubmission is the same request.
    const deadline = Date.now() + 45_000;
    const base = { dir, seed: SEED, deadline };

    /** Mid-stream: decided and included work behind it, undecided and closed-but-undecided requests in flight. */
    const midStream = (minimum: number) => (lines: readonly string[]) => {
      const submitted = new Set<string>();
      const decided = new Set<string>();
      const closed = new Set<string>();
      let blocks = 0;
      for (const line of lines) {
        const [word, a = "", b = ""] = line.split(" ");
        if (word === "submitted") submitted.add(b);
        else if (word === "outcome") decided.add(a);
        else if (word === "close") closed.add(a);
        else if (word === "included") blocks++;
      }
      const closedUndecided = [...closed].filter((id) => !decided.has(id)).length;
      const undecided = [...submitted].filter((id) => !decided.has(id)).length;
      return submitted.size >= minimum && decided.size >= minimum / 2 && blocks >= 3 && closedUndecided >= 2 && undecided >= 5;
    };

    let from = 0;
    let pending: string[] = [];
    const pendingInStore = async () => {
      const store = new SqliteOutcomeStore({ path });
      store.open();
      try {
        return (await store.pending()).map((request) => toHex(request.id)).sort();
      } finally {
        await store.close();
      }
    };
    for (const [run, firstBlock] of [1, 1001].entries()) {
      const probe = [...acks.included.entries()][0];
      const result = await runPoolChild({
        ...base,
        from,
        to: 1_000_000,
        firstBlock,
        finish: false,
        ...(probe ? { probe: { request: probe[0], block: probe[1] + 500 } } : {}),
      }, midStream(40));
      expect(result.signal, `run ${run + 1}: ${result.stderr}`).toBe("SIGKILL");
      acks.add(result.lines);
      // The restart resumed exactly what the store held as pending.
      expect([...(acks.resumed[run]?.keys() ?? [])].sort(), `resumed by run ${run + 1}`).toEqual(pending);
      await verify(path, acks);
      expect(acks.undecided().length, "killed with requests in flight").toBeGreaterThanOrEqual(5);
      pending = await pendingInStore();
      // Acknowledged as submitted and not as decided: still pending, unless decided just before the kill.
      expect(pending.length).toBeGreaterThanOrEqual(acks.undecided().length - 2);
      from = Math.max(...acks.submitted.keys()) + 1;
    }

    // The last run: 30 more entries, then until everything is decided and included.
    const probe = [...acks.included.entries()].at(-1) as [string, number];
    const last = await runPoolChild({ ...base, from, to: from + 30, firstBlock: 2001, finish: true, probe: { request: probe[0], block: probe[1] + 500 } });
    expect(last.code, last.stderr).toBe(0);
    acks.add(last.lines);
    expect([...(acks.resumed[2]?.keys() ?? [])].sort(), "resumed by the last run").toEqual(pending);
    await verify(path, acks);

    // An included bundle is never handed to another block: the restarted pools refused both probes.
    expect(acks.probes).toEqual(["refused StoreConflictError", "refused StoreConflictError"]);
    expect(acks.refused, "slashing refusals").toEqual([]);

    // Every request any run resumed was undecided, and reached an outcome.
    const resumedAll = new Map(acks.resumed.flatMap((resumed) => [...resumed]));
    expect(resumedAll.size).toBeGreaterThanOrEqual(5);
    // Rebroadcast ran (a request decided during start-up needs none, so no exact count).
    expect(acks.republished).toBeGreaterThan(0);
    const store = new SqliteOutcomeStore({ path });
    store.open();
    try {
      expect(await store.pending()).toEqual([]);
      expect(await store.readyOutcomes(1_000)).toEqual([]);
      for (const id of acks.submitted.values()) {
        const record = await store.get(fromHex(id));
        expect(record?.outcome?.kind, `outcome of ${id}`).toBe("agreed");
        expect(record?.outcome?.includedIn, `block of ${id}`).toBeGreaterThan(0);
        const bundle = decodeMessage(record?.outcome?.encoded ?? new Uint8Array(), "bundle");
        const stored = (record?.messages ?? []).filter((message) => message.kind === "close");
        expect(stored.length, `closes stored for ${id}`).toBe(1);
        // The bundle carries the one close there is.
        expect(bundle.close && hashOf(encodeMessage(bundle.close))).toBe(hashOf(stored[0]?.encoded ?? new Uint8Array()));
      }
      // A restarted pool reused the close it had stored: the bundle carries that very close.
      const reused = [...resumedAll].filter(([, close]) => close !== "-");
      expect(reused.length, "restarts that found a stored close").toBeGreaterThanOrEqual(1);
      for (const [id, close] of reused) {
        const bundle = decodeMessage((await store.get(fromHex(id)))?.outcome?.encoded ?? new Uint8Array(), "bundle");
        expect(bundle.close && hashOf(encodeMessage(bundle.close)), `close of resumed ${id}`).toBe(close);
      }
    } finally {
      await store.close();
    }
  }, 55_000);
});
