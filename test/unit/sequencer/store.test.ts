import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isConcordError } from "../../../src/errors.ts";
import { SlashingProtection } from "../../../src/node/slashing.ts";
import { SqliteOutcomeStore, StoreConflictError } from "../../../src/sequencer/store.ts";
import type { NewRequest, OutcomeStore } from "../../../src/sequencer/store.ts";
import { sha256, toHex, utf8 } from "../../../src/wire/hash.ts";
import { codeOf, rejection } from "../../helpers/errors.ts";

const T0 = 1_767_225_600_000;

const id = (label: string): Uint8Array => sha256(`request/${label}`);
const request = (label: string, change: Partial<NewRequest> = {}): NewRequest => ({
  id: id(label),
  encoded: utf8(`request ${label}`),
  deadline: T0 + 60_000,
  createdAt: T0,
  ...change,
});
const agreed = (label: string) => ({ kind: "agreed" as const, encoded: utf8(`bundle ${label}`), decidedAt: T0 + 1 });
const noAgreement = (label: string) => ({ kind: "no-agreement" as const, encoded: utf8(`no-agreement ${label}`), decidedAt: T0 + 1 });


let dir: string;
let store: SqliteOutcomeStore;

function openStore(path = join(dir, "outcomes.sqlite")): SqliteOutcomeStore {
  const opened = new SqliteOutcomeStore({ path });
  opened.open();
  return opened;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "concord-store-"));
  store = openStore();
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("putRequest", () => {
  it("stores a pending request once; the same bytes again are identical", async () => {
    expect(await store.putRequest(request("a"))).toBe("inserted");
    expect(await store.putRequest(request("a"))).toBe("identical");
    const record = await store.get(id("a"));
    expect(record?.request).toEqual({ ...request("a"), status: "pending" });
    expect(record?.messages).toEqual([]);
    expect(record?.evidence).toEqual([]);
    expect(record?.outcome).toBeUndefined();
    expect(await store.get(id("missing"))).toBeUndefined();
  });

  it("refuses other bytes under a stored id and keeps the first", async () => {
    await store.putRequest(request("a"));
    const error = await rejection(store.putRequest(request("a", { encoded: utf8("something else") })));
    expect(error).toBeInstanceOf(StoreConflictError);
    expect(isConcordError(error, "STORE")).toBe(true);
    expect((error as StoreConflictError).conflict).toBe("request");
    expect((await store.get(id("a")))?.request.encoded).toEqual(utf8("request a"));
  });

  it("links a retry to the request it retries, which must be stored", async () => {
    const error = await rejection(store.putRequest(request("retry", { retryOf: id("a") })));
    expect(isConcordError(error, "STORE")).toBe(true);
    expect((error as Error).message).toMatch(/unknown request/);
    await store.putRequest(request("a"));
    await store.putRequest(request("retry", { retryOf: id("a") }));
    expect((await store.get(id("retry")))?.request.retryOf).toEqual(id("a"));
  });

  it("asserts caller mistakes", async () => {
    await expect(store.putRequest(request("a", { id: new Uint8Array(31) }))).rejects.toThrow(/32 bytes/);
    await expect(store.putRequest(request("a", { deadline: 1.5 }))).rejects.toThrow(/deadline/);
  });
});

describe("addMessage and addEvidence", () => {
  it("keeps messages per request, deduplicated by hash, in arrival order", async () => {
    await store.putRequest(request("a"));
    const commitment = { kind: "commitment" as const, node: "n1", hash: sha256("m1"), encoded: utf8("m1") };
    const close = { kind: "close" as const, hash: sha256("m2"), encoded: utf8("m2") };
    const reveal = { kind: "reveal" as const, node: "n1", hash: sha256("m3"), encoded: utf8("m3") };
    expect(await store.addMessage(id("a"), commitment)).toBe("inserted");
    expect(await store.addMessage(id("a"), close)).toBe("inserted");
    expect(await store.addMessage(id("a"), commitment)).toBe("identical");
    expect(await store.addMessage(id("a"), reveal)).toBe("inserted");
    expect((await store.get(id("a")))?.messages).toEqual([commitment, close, reveal]);
  });

  it("refuses a different message under a stored hash, and messages for unknown requests", async () => {
    await store.putRequest(request("a"));
    const message = { kind: "output" as const, node: "n1", hash: sha256("m1"), encoded: utf8("m1") };
    await store.addMessage(id("a"), message);
    const error = await rejection(store.addMessage(id("a"), { ...message, encoded: utf8("other") }));
    expect((error as StoreConflictError).conflict).toBe("message");
    expect(isConcordError(await rejection(store.addMessage(id("b"), message)), "STORE")).toBe(true);
  });

  it("keeps one close per request: a second, different one is refused (a sequencer equivocation) and the first kept", async () => {
    await store.putRequest(request("a"));
    await store.putRequest(request("b"));
    const close = { kind: "close" as const, hash: sha256("close 1"), encoded: utf8("close 1") };
    const other = { kind: "close" as const, hash: sha256("close 2"), encoded: utf8("close 2") };
    expect(await store.addMessage(id("a"), close)).toBe("inserted");
    expect(await store.addMessage(id("a"), close)).toBe("identical");
    const error = await rejection(store.addMessage(id("a"), other));
    expect(error).toBeInstanceOf(StoreConflictError);
    expect((error as StoreConflictError).conflict).toBe("close");
    expect((await store.get(id("a")))?.messages).toEqual([close]);
    // Another request's close is its own.
    expect(await store.addMessage(id("b"), other)).toBe("inserted");
    // In the file too, whoever writes it.
    await store.close();
    const raw = new DatabaseSync(join(dir, "outcomes.sqlite"));
    try {
      expect(() => raw.prepare("INSERT INTO messages (request_id, hash, kind, encoded) VALUES (?, ?, 'close', x'00')").run(id("a"), sha256("close 3"))).toThrow(/UNIQUE/);
    } finally {
      raw.close();
      store = openStore();
    }
  });

  it("writes a batch for several requests in one transaction: conflicts per item, other failures all or nothing", async () => {
    await store.putRequest(request("a"));
    const m1 = { kind: "commitment" as const, node: "n1", hash: sha256("m1"), encoded: utf8("m1") };
    const m2 = { kind: "commitment" as const, node: "n2", hash: sha256("m2"), encoded: utf8("m2") };
    const m3 = { kind: "reveal" as const, node: "n1", hash: sha256("m3"), encoded: utf8("m3") };
    const agreed = { kind: "agreed" as const, encoded: utf8("bundle a"), decidedAt: 5 };
    await store.putOutcome(id("a"), agreed);
    // A request and its first message in one batch; a repeated message; a conflicting outcome.
    const result = await store.write({
      requests: [request("b")],
      messages: [{ requestId: id("a"), message: m1 }, { requestId: id("b"), message: m2 }, { requestId: id("a"), message: m1 }],
      outcomes: [{ requestId: id("a"), outcome: { ...agreed, encoded: utf8("another bundle") } }, { requestId: id("b"), outcome: agreed }],
    });
    expect(result.requests).toEqual(["inserted"]);
    expect(result.messages).toEqual(["inserted", "inserted", "identical"]);
    expect(result.evidence).toEqual([]);
    expect((result.outcomes[0] as StoreConflictError).conflict).toBe("outcome");
    expect(result.outcomes[1]).toMatchObject({ kind: "agreed", sequence: 2 });
    expect((await store.get(id("a")))?.messages).toEqual([m1]);
    expect((await store.get(id("a")))?.outcome?.encoded).toEqual(agreed.encoded);
    expect((await store.get(id("b")))?.messages).toEqual([m2]);
    // An item naming an unknown request is that item's conflict; the rest is written.
    const partial = await store.write({ requests: [request("c")], messages: [{ requestId: id("a"), message: m3 }, { requestId: id("zz"), message: m3 }] });
    expect(partial.messages[0]).toBe("inserted");
    expect((partial.messages[1] as StoreConflictError).conflict).toBe("unknown-request");
    expect((await store.get(id("a")))?.messages).toEqual([m1, m3]);
    expect(await store.get(id("c"))).toBeDefined();
    expect(await store.get(id("zz"))).toBeUndefined();
    // Anything else (here: the file closed under it) fails the whole batch and writes nothing.
    const other = openStore(join(dir, "other.sqlite"));
    await other.close();
    await rejection(other.write({ requests: [request("d")] }));
  });

  it("keeps evidence once per hash", async () => {
    await store.putRequest(request("a"));
    const evidence = { node: "n1", hash: sha256("e1"), encoded: utf8("e1") };
    expect(await store.addEvidence(id("a"), evidence)).toBe("inserted");
    expect(await store.addEvidence(id("a"), evidence)).toBe("identical");
    expect((await store.get(id("a")))?.evidence).toEqual([evidence]);
    const error = await rejection(store.addEvidence(id("a"), { ...evidence, node: "n2" }));
    expect((error as StoreConflictError).conflict).toBe("evidence");
    expect(isConcordError(await rejection(store.addEvidence(id("zz"), { ...evidence, hash: sha256("e2") })), "STORE")).toBe(true);
  });
});

describe("putOutcome", () => {
  it("resolves a request once, numbering decisions in order", async () => {
    for (const label of ["a", "b", "c"]) await store.putRequest(request(label));
    const first = await store.putOutcome(id("b"), agreed("b"));
    const second = await store.putOutcome(id("a"), noAgreement("a"));
    expect(first).toEqual({ requestId: id("b"), ...agreed("b"), sequence: 1 });
    expect(second.sequence).toBe(2);
    expect((await store.get(id("b")))?.request.status).toBe("agreed");
    expect((await store.get(id("a")))?.request.status).toBe("no-agreement");
    expect((await store.get(id("b")))?.outcome).toEqual(first);
  });

  it("is idempotent: the same outcome again returns the stored one", async () => {
    await store.putRequest(request("a"));
    const first = await store.putOutcome(id("a"), agreed("a"));
    expect(await store.putOutcome(id("a"), { ...agreed("a"), decidedAt: T0 + 99 })).toEqual(first);
  });

  it("refuses a second, different outcome and keeps the first", async () => {
    await store.putRequest(request("a"));
    const first = await store.putOutcome(id("a"), agreed("a"));
    const otherBytes = await rejection(store.putOutcome(id("a"), agreed("a-other")));
    expect(otherBytes).toBeInstanceOf(StoreConflictError);
    expect((otherBytes as StoreConflictError).conflict).toBe("outcome");
    expect((otherBytes as Error).message).toContain(toHex(id("a")));
    const otherKind = await rejection(store.putOutcome(id("a"), noAgreement("a")));
    expect((otherKind as StoreConflictError).conflict).toBe("outcome");
    expect((await store.get(id("a")))?.outcome).toEqual(first);
    expect((await store.get(id("a")))?.request.status).toBe("agreed");
  });

  it("needs the request stored first", async () => {
    expect(isConcordError(await rejection(store.putOutcome(id("a"), agreed("a"))), "STORE")).toBe(true);
  });
});

describe("pending", () => {
  it("lists unresolved requests by deadline, then id", async () => {
    await store.putRequest(request("late", { deadline: T0 + 3 }));
    await store.putRequest(request("early", { deadline: T0 + 1 }));
    await store.putRequest(request("x", { deadline: T0 + 2 }));
    await store.putRequest(request("y", { deadline: T0 + 2 }));
    await store.putRequest(request("done", { deadline: T0 }));
    await store.putOutcome(id("done"), agreed("done"));
    const tied = [id("x"), id("y")].sort(Buffer.compare);
    expect((await store.pending()).map((r) => r.id)).toEqual([id("early"), ...tied, id("late")]);
  });
});

describe("readyOutcomes and markIncluded", () => {
  async function resolve(labels: string[]): Promise<void> {
    for (const label of labels) {
      await store.putRequest(request(label));
      await store.putOutcome(id(label), label.startsWith("na") ? noAgreement(label) : agreed(label));
    }
  }

  it("offers agreed, not included outcomes in decision order, at most max", async () => {
    await resolve(["c", "na1", "a", "b"]);
    expect((await store.readyOutcomes(10)).map((o) => o.requestId)).toEqual([id("c"), id("a"), id("b")]);
    expect((await store.readyOutcomes(2)).map((o) => o.sequence)).toEqual([1, 3]);
    expect(await store.readyOutcomes(0)).toEqual([]);
  });

  it("hands a bundle to one block: included ones leave the ready list, the same block again is a no-op", async () => {
    await resolve(["a", "b", "c"]);
    await store.markIncluded([id("a"), id("b")], 7);
    expect((await store.readyOutcomes(10)).map((o) => o.requestId)).toEqual([id("c")]);
    expect((await store.get(id("a")))?.outcome?.includedIn).toBe(7);
    await store.markIncluded([id("a"), id("a")], 7);
    expect((await store.get(id("a")))?.outcome?.includedIn).toBe(7);
  });

  it("refuses another block for an included bundle, and marks nothing of that batch", async () => {
    await resolve(["a", "b"]);
    await store.markIncluded([id("a")], 7);
    const error = await rejection(store.markIncluded([id("b"), id("a")], 8));
    expect(error).toBeInstanceOf(StoreConflictError);
    expect((error as StoreConflictError).conflict).toBe("inclusion");
    expect((error as Error).message).toMatch(/block 7.*block 8/);
    expect((await store.get(id("a")))?.outcome?.includedIn).toBe(7);
    expect((await store.get(id("b")))?.outcome?.includedIn).toBeUndefined();
    expect((await store.readyOutcomes(10)).map((o) => o.requestId)).toEqual([id("b")]);
  });

  it("includes only agreed outcomes", async () => {
    await resolve(["na1"]);
    await store.putRequest(request("open"));
    expect(isConcordError(await rejection(store.markIncluded([id("na1")], 1)), "STORE")).toBe(true);
    expect(isConcordError(await rejection(store.markIncluded([id("open")], 1)), "STORE")).toBe(true);
    expect(isConcordError(await rejection(store.markIncluded([id("unknown")], 1)), "STORE")).toBe(true);
    await expect(store.markIncluded([], -1)).rejects.toThrow(/blockNumber/);
  });

  it("enforces write-once outcomes and single inclusion in the file itself", async () => {
    await resolve(["a"]);
    await store.markIncluded([id("a")], 7);
    // The store holds the file while it is open: another writer comes after it.
    await store.close();
    store = openStore();
    await store.close();
    const raw = new DatabaseSync(join(dir, "outcomes.sqlite"));
    try {
      expect(() => raw.prepare("UPDATE outcomes SET encoded = x'00'").run()).toThrow(/write-once/);
      expect(() => raw.prepare("UPDATE outcomes SET included_in = 8").run()).toThrow(/one block/);
      expect(() => raw.prepare("DELETE FROM outcomes").run()).toThrow(/never deleted/);
    } finally {
      raw.close();
    }
  });
});

describe("the file", () => {
  it("keeps everything across close and reopen", async () => {
    await store.putRequest(request("a"));
    await store.addMessage(id("a"), { kind: "commitment", node: "n1", hash: sha256("m"), encoded: utf8("m") });
    const outcome = await store.putOutcome(id("a"), agreed("a"));
    await store.markIncluded([id("a")], 3);
    const before = await store.get(id("a"));
    await store.close();
    store = openStore();
    expect(await store.get(id("a"))).toEqual(before);
    expect(before?.outcome).toEqual({ ...outcome, includedIn: 3 });
    await store.putRequest(request("b"));
    expect((await store.putOutcome(id("b"), agreed("b"))).sequence).toBe(2);
  });

  it("is held by one store at a time: a second one is refused with STORE until the first closes", async () => {
    await store.putRequest(request("a"));
    const path = join(dir, "outcomes.sqlite");
    const second = new SqliteOutcomeStore({ path, busyTimeoutMs: 50 });
    let error: unknown;
    try {
      second.open();
    } catch (caught) {
      error = caught;
    }
    expect(isConcordError(error, "STORE")).toBe(true);
    expect((error as Error).message).toMatch(/in use by another process/);
    expect(second.isOpen).toBe(false);
    // Nor can another connection read it behind the store's back.
    expect(() => new DatabaseSync(path, { readOnly: true, timeout: 50 }).prepare("SELECT count(*) FROM requests").get()).toThrow(/locked/);
    await store.close();
    second.open();
    expect((await second.pending()).length).toBe(1);
    store = second;
  });

  it("opens read-only: reads what a store wrote, writes nothing, creates no file, and is refused while a store holds it", async () => {
    await store.putRequest(request("a"));
    await store.putOutcome(id("a"), agreed("a"));
    const path = join(dir, "outcomes.sqlite");
    const refused = new SqliteOutcomeStore({ path, readOnly: true, busyTimeoutMs: 50 });
    expect(codeOf(() => refused.open())).toBe("STORE");
    await store.close();
    const reader = new SqliteOutcomeStore({ path, readOnly: true });
    reader.open();
    try {
      expect((await reader.get(id("a")))?.outcome?.kind).toBe("agreed");
      expect(isConcordError(await rejection(reader.putRequest(request("b"))), "STORE")).toBe(true);
      expect(await reader.get(id("b"))).toBeUndefined();
    } finally {
      await reader.close();
    }
    const missing = join(dir, "missing.sqlite");
    expect(() => new SqliteOutcomeStore({ path: missing, readOnly: true }).open()).toThrow(/no outcome store at/);
    expect(existsSync(missing)).toBe(false);
    store = openStore();
  });

  it("is created 0600", () => {
    expect(statSync(join(dir, "outcomes.sqlite")).mode & 0o777).toBe(0o600);
  });

  it("refuses garbage, foreign databases and slashing-protection files with STORE", () => {
    const garbage = join(dir, "garbage.sqlite");
    writeFileSync(garbage, "not a database ".repeat(500));
    expect(() => openStore(garbage)).toThrow(/cannot open outcome store/);
    const slashing = new SlashingProtection({ path: join(dir, "slashing.sqlite") });
    slashing.open();
    slashing.close();
    let error: unknown;
    try {
      openStore(join(dir, "slashing.sqlite"));
    } catch (caught) {
      error = caught;
    }
    expect(isConcordError(error, "STORE")).toBe(true);
    expect((error as Error).message).toMatch(/not a Concord outcome store/);
  });

  it("works in memory and rejects calls once closed", async () => {
    const memory: OutcomeStore = openStore(":memory:");
    await memory.write({ requests: [request("a")] });
    expect((await memory.pending()).length).toBe(1);
    await memory.close();
    await expect(memory.pending()).rejects.toThrow(/not open/);
  });
});
