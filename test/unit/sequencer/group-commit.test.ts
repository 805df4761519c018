import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GroupCommit } from "../../../src/sequencer/group-commit.ts";
import { SqliteOutcomeStore, StoreConflictError, type OutcomeStore, type StoreBatch } from "../../../src/sequencer/store.ts";
import { sha256, utf8 } from "../../../src/wire/hash.ts";
import { storeWithWrite } from "../../helpers/store.ts";

const id = (label: string) => sha256(`group/${label}`);
const request = (label: string) => ({ id: id(label), encoded: utf8(`request ${label}`), deadline: 2_000, createdAt: 1_000 });
const message = (label: string) => ({ kind: "commitment" as const, node: "n1", hash: sha256(label), encoded: utf8(label) });

describe("GroupCommit", () => {
  let memory: SqliteOutcomeStore;
  let batches: StoreBatch[];
  let store: OutcomeStore;

  beforeEach(() => {
    batches = [];
    ({ store, memory } = storeWithWrite((batch, memory) => {
      batches.push(batch);
      return memory.write(batch);
    }));
  });
  afterEach(() => memory.close());

  it("commits everything queued in one turn as one batch, and gives each caller its own result", async () => {
    const commits = new GroupCommit(store);
    const results = await Promise.all([
      commits.add("requests", request("a")),
      commits.add("messages", { requestId: id("a"), message: message("m1") }),
      commits.add("messages", { requestId: id("a"), message: message("m1") }),
      commits.add("outcomes", { requestId: id("a"), outcome: { kind: "agreed", encoded: utf8("bundle"), decidedAt: 1_500 } }),
    ]);
    expect(batches.length).toBe(1);
    expect(results.slice(0, 3)).toEqual(["inserted", "inserted", "identical"]);
    expect(results[3]).toMatchObject({ kind: "agreed", sequence: 1 });
  });

  it("keeps batches in order: what is queued during a commit goes into the next one", async () => {
    const commits = new GroupCommit(store);
    const first = commits.add("requests", request("a"));
    await first;
    const second = commits.add("messages", { requestId: id("a"), message: message("m1") });
    const conflict = commits.add("requests", { ...request("a"), encoded: utf8("other bytes") });
    expect(await second).toBe("inserted");
    expect(((await conflict) as StoreConflictError).conflict).toBe("request");
    await commits.settled();
    expect(batches.length).toBe(2);
  });

  it("gives an item naming an unknown request its own conflict, and writes the rest of its batch", async () => {
    const commits = new GroupCommit(store);
    const orphan = commits.add("messages", { requestId: id("nobody"), message: message("m1") });
    const sameBatch = commits.add("requests", request("a"));
    expect(((await orphan) as StoreConflictError).conflict).toBe("unknown-request");
    expect(await sameBatch).toBe("inserted");
  });

  it("fails every item of a failed batch, and the next batch still commits", async () => {
    let fail = true;
    const flaky: OutcomeStore = {
      ...store,
      write: (batch) => (fail ? Promise.reject(new Error("disk busy")) : store.write(batch)),
    };
    const commits = new GroupCommit(flaky);
    const first = commits.add("requests", request("a"));
    const sameBatch = commits.add("requests", request("b"));
    expect(String(await first.catch((error: unknown) => error))).toMatch(/disk busy/);
    expect(String(await sameBatch.catch((error: unknown) => error))).toMatch(/disk busy/);
    expect(await memory.get(id("a"))).toBeUndefined();
    fail = false;
    expect(await commits.add("requests", request("a"))).toBe("inserted");
  });
});
