import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI_ENTRY } from "../../../src/cli/processes.ts";
import { signNoAgreement } from "../../../src/quorum/attest.ts";
import { registryConfigToJson } from "../../../src/quorum/registry.ts";
import { SqliteOutcomeStore } from "../../../src/sequencer/store.ts";
import { toHex } from "../../../src/wire/hash.ts";
import { messageToJson } from "../../../src/wire/json.ts";
import { encodeMessage } from "../../../src/wire/messages.ts";
import type { AgreedBundle, InferenceRequest } from "../../../src/wire/types.ts";
import { runRequest, testNetwork, testRequest } from "../../helpers/fixtures.ts";
import { PROCESS_TEST_TIMEOUT_MS } from "../../helpers/timeouts.ts";

const dir = mkdtempSync(join(tmpdir(), "concord-export-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const net = testNetwork(7);
const registryPath = join(dir, "registry.json");
writeFileSync(registryPath, JSON.stringify(registryConfigToJson(net.config)));
const storePath = join(dir, "outcomes.sqlite");

// Three requests as a pool leaves them in its store: agreed, NoAgreement, still pending.
const agreedRequest = testRequest(net, { input: "capital of France?" });
const agreed = runRequest(net, agreedRequest, () => ({ output: "Paris" }));
const bundle = agreed.collector.bundle as AgreedBundle;
const splitRequest = testRequest(net, { input: "a coin flip" });
const split = runRequest(net, splitRequest, (_node, index) => ({ output: `answer ${index}` }));
split.collector.tick(splitRequest.deadline);
if (!split.collector.noAgreement) throw new Error("the split request did not end in NoAgreement");
const noAgreement = signNoAgreement(net.sequencer, split.collector.noAgreement);
const pendingRequest = testRequest(net, { input: "still running" });
const pendingContext = runRequest(net, pendingRequest, () => undefined).context;
const pendingId = toHex(pendingContext.id);
const agreedId = toHex(agreed.context.id);
const splitId = toHex(split.context.id);

beforeAll(async () => {
  const store = new SqliteOutcomeStore({ path: storePath });
  store.open();
  const put = (request: InferenceRequest, id: Uint8Array) => store.putRequest({ id, encoded: encodeMessage(request), deadline: request.deadline, createdAt: 1 });
  await put(agreedRequest, agreed.context.id);
  await put(splitRequest, split.context.id);
  await put(pendingRequest, pendingContext.id);
  await store.putOutcome(agreed.context.id, { kind: "agreed", encoded: encodeMessage(bundle), decidedAt: 2 });
  await store.putOutcome(split.context.id, { kind: "no-agreement", encoded: encodeMessage(noAgreement), decidedAt: 2 });
  await store.close();
});

function concord(args: string[]) {
  const result = spawnSync(process.execPath, ["--disable-warning=ExperimentalWarning", CLI_ENTRY, ...args], { encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function save(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe("concord export (real store file, real CLI process)", { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it("prints an agreed bundle as JSON that concord verify accepts, as hex, and as CBOR in a file", () => {
    const json = concord(["export", agreedId, "--store", storePath]);
    expect(json.stderr).toBe("");
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(messageToJson(bundle));
    const verified = concord(["verify", save("bundle.json", json.stdout), "--registry", registryPath]);
    expect(verified.status).toBe(0);
    expect(verified.stdout).toContain(`valid bundle for request ${agreedId}`);

    const hex = concord(["export", `0x${agreedId.toUpperCase()}`, "--store", storePath, "--hex"]);
    expect(hex.status).toBe(0);
    expect(hex.stdout.trim()).toBe(toHex(encodeMessage(bundle)));

    const out = join(dir, "bundle.cbor");
    const written = concord(["export", agreedId, "--store", storePath, "--out", out]);
    expect(written.status).toBe(0);
    expect(written.stdout).toContain(`bundle for request ${agreedId}`);
    expect(new Uint8Array(readFileSync(out))).toEqual(encodeMessage(bundle));
    expect(concord(["verify", out, "--registry", registryPath]).status).toBe(0);
  });

  it("prints a NoAgreement, which concord inspect reads; a pending request has only its request", () => {
    const result = concord(["export", splitId, "--store", storePath]);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(messageToJson(noAgreement));
    const inspected = concord(["inspect", save("no-agreement.json", result.stdout)]);
    expect(inspected.status).toBe(0);
    expect(inspected.stdout).toContain(`no-agreement for request ${splitId}`);

    const pending = concord(["export", pendingId, "--store", storePath]);
    expect(pending.status).toBe(1);
    expect(pending.stdout).toBe("");
    expect(pending.stderr).toContain("no outcome yet (pending)");
    const request = concord(["export", pendingId, "--store", storePath, "--request"]);
    expect(request.status).toBe(0);
    expect(JSON.parse(request.stdout)).toEqual(messageToJson(pendingRequest));
  });

  it("refuses an unknown id (1), a malformed id or a missing store (2), and creates no file", () => {
    const unknown = concord(["export", "ab".repeat(32), "--store", storePath]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain("STORE: no such request in the outcome store");
    const malformed = concord(["export", "abc", "--store", storePath]);
    expect(malformed.status).toBe(2);
    expect(malformed.stderr).toContain("CONFIG: a request id is 32 bytes of hex");
    const missingPath = join(dir, "missing.sqlite");
    const missing = concord(["export", agreedId, "--store", missingPath]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("no outcome store at");
    expect(existsSync(missingPath)).toBe(false);
    const notAStore = concord(["export", agreedId, "--store", registryPath]);
    expect(notAStore.status).toBe(1);
    expect(notAStore.stderr).toContain("STORE");
  });

  it("refuses, with STORE, a store a running pool holds (its exclusive lock), and reads it once the pool closes it", async () => {
    const held = new SqliteOutcomeStore({ path: storePath });
    held.open();
    try {
      const refused = concord(["export", agreedId, "--store", storePath]);
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain("STORE: outcome store is in use by another process or store");
    } finally {
      await held.close();
    }
    expect(concord(["export", agreedId, "--store", storePath]).status).toBe(0);
  });
});
