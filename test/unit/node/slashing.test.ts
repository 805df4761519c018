import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, openSync, writeSync, closeSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConcordError, isConcordError } from "../../../src/errors.ts";
import { SlashingConflictError, SlashingProtection, serializeInterchange } from "../../../src/node/slashing.ts";
import type { SigningRecord } from "../../../src/node/slashing.ts";
import { sha256, toHex } from "../../../src/wire/hash.ts";

const CHAIN = "concord-test";
const DEADLINE = 1_767_225_600_000;

function record(label: string, change: Partial<SigningRecord> = {}): SigningRecord {
  return {
    chain: CHAIN,
    request: sha256(`request/${label}`),
    node: "node-a",
    kind: "commitment",
    signingRoot: sha256(`root/${label}`),
    deadline: DEADLINE,
    ...change,
  };
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

let dir: string;
let opened: SlashingProtection[];

function openAt(path = join(dir, "slashing.sqlite")): SlashingProtection {
  const protection = new SlashingProtection({ path });
  protection.open();
  opened.push(protection);
  return protection;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "concord-slashing-"));
  opened = [];
});

afterEach(() => {
  for (const protection of opened) protection.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("checkAndInsert", () => {
  it("inserts the first signature and allows re-signing the identical root", () => {
    const protection = openAt();
    expect(protection.checkAndInsert(record("1"))).toBe("inserted");
    expect(protection.checkAndInsert(record("1"))).toBe("identical");
    expect(protection.get(record("1"))?.signingRoot).toEqual(record("1").signingRoot);
  });

  it("refuses a different root for the same (chain, request, node, kind), naming both roots", () => {
    const protection = openAt();
    const first = record("1");
    const second = record("1", { signingRoot: sha256("root/other") });
    protection.checkAndInsert(first);
    const error = catchError(() => protection.checkAndInsert(second));
    expect(error).toBeInstanceOf(SlashingConflictError);
    expect(isConcordError(error, "SLASHING_CONFLICT")).toBe(true);
    const conflict = error as SlashingConflictError;
    expect(conflict.stored.signingRoot).toEqual(first.signingRoot);
    expect(conflict.attempted.signingRoot).toEqual(second.signingRoot);
    expect(conflict.message).toContain(toHex(first.signingRoot));
    expect(conflict.message).toContain(toHex(second.signingRoot));
    expect(conflict.details).toContain(`stored=${toHex(first.signingRoot)}`);
    expect(conflict.details).toContain(`attempted=${toHex(second.signingRoot)}`);
    // The refused attempt leaves the stored record as it was.
    expect(protection.get(first)?.signingRoot).toEqual(first.signingRoot);
  });

  it("keeps requests, nodes, kinds and chains independent", () => {
    const protection = openAt();
    const base = record("1");
    const root = sha256("root/other");
    expect(protection.checkAndInsert(base)).toBe("inserted");
    expect(protection.checkAndInsert({ ...base, request: sha256("request/2"), signingRoot: root })).toBe("inserted");
    expect(protection.checkAndInsert({ ...base, node: "node-b", signingRoot: root })).toBe("inserted");
    expect(protection.checkAndInsert({ ...base, kind: "output", signingRoot: root })).toBe("inserted");
    expect(protection.checkAndInsert({ ...base, chain: "other-chain", signingRoot: root })).toBe("inserted");
    expect(() => protection.checkAndInsert({ ...base, signingRoot: root })).toThrow(SlashingConflictError);
  });

  it("remembers across close and reopen, and across two connections to one file", () => {
    const path = join(dir, "slashing.sqlite");
    const first = openAt(path);
    first.checkAndInsert(record("1"));
    const second = openAt(path);
    expect(() => second.checkAndInsert(record("1", { signingRoot: sha256("x") }))).toThrow(SlashingConflictError);
    second.checkAndInsert(record("2"));
    expect(() => first.checkAndInsert(record("2", { signingRoot: sha256("x") }))).toThrow(SlashingConflictError);
    first.close();
    second.close();
    const third = openAt(path);
    expect(third.checkAndInsert(record("1"))).toBe("identical");
    expect(third.checkAndInsert(record("2"))).toBe("identical");
  });

  it("asserts caller mistakes (wrong lengths, bad kind, fractional deadline, closed store)", () => {
    const protection = openAt();
    expect(() => protection.checkAndInsert(record("1", { request: new Uint8Array(31) }))).toThrow(/request must be 32 bytes/);
    expect(() => protection.checkAndInsert(record("1", { signingRoot: new Uint8Array(33) }))).toThrow(/signingRoot/);
    expect(() => protection.checkAndInsert(record("1", { kind: "close" as "output" }))).toThrow(/kind/);
    expect(() => protection.checkAndInsert(record("1", { deadline: 1.5 }))).toThrow(/deadline/);
    protection.close();
    expect(() => protection.checkAndInsert(record("1"))).toThrow(/not open/);
  });
});

describe("prune", () => {
  it("deletes records below the cutoff and refuses to sign below the floor afterwards", () => {
    const protection = openAt();
    protection.checkAndInsert(record("old", { deadline: DEADLINE - 10 }));
    protection.checkAndInsert(record("new", { deadline: DEADLINE + 10 }));
    protection.checkAndInsert(record("other-chain", { chain: "other", deadline: DEADLINE - 10 }));
    expect(protection.prune({ chain: CHAIN, before: DEADLINE })).toBe(1);
    expect(protection.floor(CHAIN)).toBe(DEADLINE);
    expect(protection.get(record("old"))).toBeUndefined();
    expect(protection.get(record("new"))).toBeDefined();
    expect(protection.get(record("other-chain", { chain: "other" }))).toBeDefined();
    // Even the identical root is refused: the record that would prove it identical is gone.
    const error = catchError(() => protection.checkAndInsert(record("old", { deadline: DEADLINE - 10 })));
    expect(isConcordError(error, "SLASHING_CONFLICT")).toBe(true);
    expect((error as Error).message).toMatch(/floor/);
    // At or above the floor, signing goes on as usual.
    expect(protection.checkAndInsert(record("edge", { deadline: DEADLINE }))).toBe("inserted");
    // The floor never goes down.
    protection.prune({ chain: CHAIN, before: DEADLINE - 100 });
    expect(protection.floor(CHAIN)).toBe(DEADLINE);
    expect(protection.export(CHAIN).floor).toBe(DEADLINE);
  });
});

describe("openRequests", () => {
  it("lists the requests a node signed for whose deadline is still ahead, latest deadline first, once each", () => {
    const protection = openAt();
    protection.checkAndInsert(record("past", { deadline: DEADLINE - 1 }));
    protection.checkAndInsert(record("at", { deadline: DEADLINE }));
    protection.checkAndInsert(record("soon", { deadline: DEADLINE + 10 }));
    protection.checkAndInsert(record("later", { deadline: DEADLINE + 20 }));
    // A request signed twice (a commitment and, say, an output) is listed once.
    protection.checkAndInsert(record("later", { kind: "output", deadline: DEADLINE + 20 }));
    protection.checkAndInsert(record("someone else", { node: "node-b", deadline: DEADLINE + 30 }));
    protection.checkAndInsert(record("other chain", { chain: "other", deadline: DEADLINE + 30 }));
    const open = (limit: number) => protection.openRequests({ chain: CHAIN, node: "node-a", after: DEADLINE, limit }).map(toHex);
    expect(open(10)).toEqual([toHex(record("later").request), toHex(record("soon").request)]);
    expect(open(1)).toEqual([toHex(record("later").request)]);
    expect(() => open(0)).toThrow(/limit/);
  });
});

describe("export and import", () => {
  it("moves every record of a chain to another database", () => {
    const source = openAt(join(dir, "a.sqlite"));
    source.checkAndInsert(record("1"));
    source.checkAndInsert(record("2", { kind: "output", node: "node-b" }));
    source.checkAndInsert(record("3", { chain: "other" }));
    const exported = source.export(CHAIN);
    expect(exported.records).toHaveLength(2);
    const target = openAt(join(dir, "b.sqlite"));
    const report = target.import(serializeInterchange(exported));
    expect(report).toEqual({ chain: CHAIN, inserted: 2, identical: 0, conflicts: [], floor: 0 });
    expect(() => target.checkAndInsert(record("1", { signingRoot: sha256("x") }))).toThrow(SlashingConflictError);
    expect(serializeInterchange(target.export(CHAIN))).toBe(serializeInterchange(exported));
    // Importing again changes nothing.
    expect(target.import(exported)).toMatchObject({ inserted: 0, identical: 2, conflicts: [] });
  });

  it("reports conflicting records and keeps the stored ones", () => {
    const source = openAt(join(dir, "a.sqlite"));
    source.checkAndInsert(record("1", { signingRoot: sha256("theirs") }));
    source.checkAndInsert(record("2"));
    const target = openAt(join(dir, "b.sqlite"));
    target.checkAndInsert(record("1", { signingRoot: sha256("ours") }));
    const report = target.import(source.export(CHAIN));
    expect(report.inserted).toBe(1);
    expect(report.conflicts).toHaveLength(1);
    expect(report.conflicts[0]?.stored.signingRoot).toEqual(sha256("ours"));
    expect(report.conflicts[0]?.attempted.signingRoot).toEqual(sha256("theirs"));
    expect(target.get(record("1"))?.signingRoot).toEqual(sha256("ours"));
    expect(target.get(record("2"))).toBeDefined();
  });

  it("carries the floor and raises the importer's", () => {
    const source = openAt(join(dir, "a.sqlite"));
    source.checkAndInsert(record("1", { deadline: DEADLINE + 5 }));
    source.prune({ chain: CHAIN, before: DEADLINE });
    const target = openAt(join(dir, "b.sqlite"));
    expect(target.import(source.export(CHAIN)).floor).toBe(DEADLINE);
    expect(() => target.checkAndInsert(record("9", { deadline: DEADLINE - 1 }))).toThrow(/floor/);
  });

  it("validates the whole document before writing anything", () => {
    const target = openAt();
    const good = { request: toHex(sha256("a")), node: "n", kind: "output", signingRoot: toHex(sha256("b")), deadline: 1 };
    const bad = { ...good, request: "zz" };
    const error = catchError(() =>
      target.import({ format: "concord-slashing-interchange", version: 1, chain: CHAIN, records: [good, bad] }),
    );
    expect(isConcordError(error, "CONFIG")).toBe(true);
    expect((error as Error).message).toContain("records[1].request");
    expect(target.export(CHAIN).records).toEqual([]);
  });
});

describe("the file", () => {
  it("is created with mode 0600, its WAL companions too, in a new 0700 folder", () => {
    const path = join(dir, "nested", "slashing.sqlite");
    const protection = openAt(path);
    protection.checkAndInsert(record("1"));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(existsSync(`${path}-wal`)).toBe(true);
    expect(statSync(`${path}-wal`).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "nested")).mode & 0o777).toBe(0o700);
  });

  it("is in WAL mode", () => {
    const path = join(dir, "slashing.sqlite");
    openAt(path).checkAndInsert(record("1"));
    const db = new DatabaseSync(path, { readOnly: true });
    expect(db.prepare("PRAGMA journal_mode").get()?.["journal_mode"]).toBe("wal");
    db.close();
  });

  it("refuses a file that is not a database with a STORE error", () => {
    const path = join(dir, "garbage.sqlite");
    writeFileSync(path, "this is not an SQLite database, just some text ".repeat(200));
    const error = catchError(() => new SlashingProtection({ path }).open());
    expect(error).toBeInstanceOf(ConcordError);
    expect((error as ConcordError).code).toBe("STORE");
    expect((error as Error).message).toMatch(/cannot open slashing-protection database/);
  });

  it("refuses another application's SQLite database", () => {
    const path = join(dir, "other.sqlite");
    const db = new DatabaseSync(path);
    db.exec("CREATE TABLE t (x)");
    db.close();
    const error = catchError(() => new SlashingProtection({ path }).open());
    expect(isConcordError(error, "STORE")).toBe(true);
    expect((error as Error).message).toMatch(/not a Concord slashing-protection database/);
  });

  it("refuses a schema version it does not know", () => {
    const path = join(dir, "slashing.sqlite");
    openAt(path).close();
    const db = new DatabaseSync(path);
    db.exec("PRAGMA user_version = 99");
    db.close();
    const error = catchError(() => new SlashingProtection({ path }).open());
    expect(isConcordError(error, "STORE")).toBe(true);
    expect((error as Error).message).toMatch(/schema version/);
  });

  it("refuses a damaged file with a STORE error instead of signing", () => {
    const path = join(dir, "slashing.sqlite");
    const protection = openAt(path);
    for (let i = 0; i < 400; i++) protection.checkAndInsert(record(String(i)));
    protection.close(); // checkpoints the WAL into the main file
    expect(statSync(path).size).toBeGreaterThan(4 * 4096);
    // Overwrite the middle of the file (table pages), leaving the header valid.
    const fd = openSync(path, "r+");
    writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, 2 * 4096);
    closeSync(fd);
    const error = catchError(() => new SlashingProtection({ path }).open());
    expect(isConcordError(error, "STORE")).toBe(true);
  });

  it("creates a readable file a fresh process can reopen (header stamp)", () => {
    const path = join(dir, "slashing.sqlite");
    openAt(path).close();
    const header = readFileSync(path).subarray(68, 72);
    expect(header.toString("latin1")).toBe("CNSP");
  });
});
