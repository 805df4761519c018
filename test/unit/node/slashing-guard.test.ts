/** SlashingGuard: slashing protection on a worker thread, against a real SQLite file. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isConcordError } from "../../../src/errors.ts";
import { SIGNED_MARKER_FILE } from "../../../src/node/history.ts";
import { SlashingGuard } from "../../../src/node/slashing-guard.ts";
import { SlashingConflictError, SlashingProtection, type SigningRecord } from "../../../src/node/slashing.ts";
import { sha256 } from "../../../src/wire/hash.ts";

const CHAIN = "concord-test";
const DEADLINE = 1_767_225_600_000;

function record(label: string, change: Partial<SigningRecord> = {}): SigningRecord {
  return { chain: CHAIN, request: sha256(`request/${label}`), node: "node-a", kind: "commitment", signingRoot: sha256(`root/${label}`), deadline: DEADLINE, ...change };
}

const failure = (promise: Promise<unknown>) => promise.then(() => new Error("expected a rejection"), (error: unknown) => error);

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "concord-slashing-guard-"));
  path = join(dir, "slashing.sqlite");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("SlashingGuard", () => {
  it("applies the slashing rule on its worker: insert, identical re-sign, conflict naming both roots", async () => {
    const guard = await SlashingGuard.open({ path });
    try {
      expect(await guard.checkAndInsert(record("a"))).toBe("inserted");
      expect(await guard.checkAndInsert(record("a"))).toBe("identical");
      const error = await failure(guard.checkAndInsert(record("a", { signingRoot: sha256("another root") })));
      expect(error).toBeInstanceOf(SlashingConflictError);
      expect((error as SlashingConflictError).stored.signingRoot).toEqual(record("a").signingRoot);
      expect((error as SlashingConflictError).attempted.signingRoot).toEqual(sha256("another root"));
    } finally {
      await guard.close();
    }
    // It is the same file SlashingProtection reads.
    const protection = new SlashingProtection({ path });
    protection.open();
    expect(protection.get(record("a"))?.signingRoot).toEqual(record("a").signingRoot);
    protection.close();
  });

  it("writes has-signed.json in its data directory before the first signature it allows", async () => {
    const marker = join(dir, SIGNED_MARKER_FILE);
    const guard = await SlashingGuard.open({ path, signedMarkerDir: dir });
    try {
      expect(existsSync(marker)).toBe(false);
      expect(await guard.checkAndInsert(record("first"))).toBe("inserted");
      // On disk when the check answers: the node signs only after that.
      expect(JSON.parse(readFileSync(marker, "utf8"))).toMatchObject({ node: "node-a", chain: CHAIN });
    } finally {
      await guard.close();
    }
  });

  it("answers checks asked together in the order they were asked: the first root wins, every other is refused", async () => {
    const guard = await SlashingGuard.open({ path });
    try {
      const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => guard.checkAndInsert(record("race", { signingRoot: sha256(`root ${i}`) }))));
      expect(results[0]).toEqual({ status: "fulfilled", value: "inserted" });
      for (const result of results.slice(1)) {
        expect(result.status).toBe("rejected");
        expect(isConcordError((result as PromiseRejectedResult).reason, "SLASHING_CONFLICT")).toBe(true);
      }
    } finally {
      await guard.close();
    }
  });

  it("prunes on the worker and refuses requests below the raised floor", async () => {
    const guard = await SlashingGuard.open({ path });
    try {
      await guard.checkAndInsert(record("old"));
      expect(await guard.prune({ chain: CHAIN, before: DEADLINE + 1 })).toBe(1);
      const error = await failure(guard.checkAndInsert(record("older", { deadline: DEADLINE - 5 })));
      expect(isConcordError(error, "SLASHING_CONFLICT")).toBe(true);
      expect(String(error)).toMatch(/pruning floor/);
    } finally {
      await guard.close();
    }
  });

  it("lists the open requests on the worker", async () => {
    const guard = await SlashingGuard.open({ path });
    try {
      await guard.checkAndInsert(record("closed", { deadline: DEADLINE - 1 }));
      await guard.checkAndInsert(record("open", { deadline: DEADLINE + 1 }));
      expect(await guard.openRequests({ chain: CHAIN, node: "node-a", after: DEADLINE, limit: 64 })).toEqual([record("open").request]);
      const error = await failure(guard.openRequests({ chain: CHAIN, node: "node-a", after: -1, limit: 64 }));
      expect(String(error)).toMatch(/after/);
    } finally {
      await guard.close();
    }
  });

  it("answers every check already asked before it closes, and refuses checks after", async () => {
    const guard = await SlashingGuard.open({ path });
    const asked = Array.from({ length: 20 }, (_, i) => guard.checkAndInsert(record(`closing ${i}`)));
    await guard.close();
    expect(await Promise.all(asked)).toEqual(Array(20).fill("inserted"));
    expect(isConcordError(await failure(guard.checkAndInsert(record("late"))), "STORE")).toBe(true);
    await guard.close();
  });

  it("fails to open a file that is not a slashing-protection database, with a STORE error", async () => {
    writeFileSync(path, "not a database, just text that is long enough to be read as a header....................................");
    const error = await failure(SlashingGuard.open({ path }));
    expect(isConcordError(error, "STORE")).toBe(true);
  });
});
