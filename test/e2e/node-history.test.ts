/**
 * F5: a node that has signed before must not start on a lost slashing-protection history (the
 * file deleted, or emptied to zero bytes): it would sign again, for a request still open, what
 * its history would have refused. It refuses with exit code 2, naming the way back (import the
 * history it exported, `concord slashing import`) and the flag that starts it anyway
 * (--i-know-slashing-history-is-lost). A real node process signs a real request first; its
 * data directory then says it has signed (has-signed.json, written before that first signature).
 */
import { existsSync, readFileSync, rmSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SIGNED_MARKER_FILE } from "../../src/node/history.ts";
import { clusterForSuite, runConcord, stopNode } from "../helpers/processes.ts";
import { PROCESS_TEST_TIMEOUT_MS } from "../helpers/timeouts.ts";
import { taggedHash } from "../../src/wire/hash.ts";

const suite = clusterForSuite({
  nodes: 1,
  seed: "node-history",
  backend: () => ({ type: "fixed", modelSeed: "e2e-history", delayMs: 0 }),
  pool: { n: 1, closeGraceMs: 50, deadlineMs: 20_000 },
});

const FLAG = "--i-know-slashing-history-is-lost";
const node = () => suite.cluster.devnet.nodes[0] as { id: string; configPath: string; dataDir: string };
const slashingFiles = () => ["", "-wal", "-shm"].map((suffix) => join(node().dataDir, `slashing.sqlite${suffix}`));
const exportPath = () => join(suite.dir, "node-01.slashing.json");

async function refusedStart(): Promise<string> {
  const result = await runConcord(["node", "--config", node().configPath], 15_000);
  expect(result.signal, result.output).toBeNull();
  expect(result.code, result.output).toBe(2);
  return result.output;
}

describe("a node that has signed before, whose slashing-protection history is lost", { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it("signed a request, wrote has-signed.json in its data directory, and its history exports", async () => {
    const id = await suite.cluster.pool.submit({ model: "chat", input: "a first signature", entropy: taggedHash("e2e/history", "1") });
    expect((await suite.cluster.outcome(id, 20_000)).kind).toBe("agreed");
    expect((await stopNode(suite.cluster.nodes[0] as Parameters<typeof stopNode>[0])).code).toBe(0);
    const marker = JSON.parse(readFileSync(join(node().dataDir, SIGNED_MARKER_FILE), "utf8")) as Record<string, unknown>;
    expect(marker).toMatchObject({ node: "node-01", chain: suite.cluster.devnet.chain });
    const exported = await runConcord(["slashing", "export", "--data-dir", node().dataDir, "--chain", suite.cluster.devnet.chain, "--out", exportPath()], 15_000);
    expect(exported.code, exported.output).toBe(0);
    const document = JSON.parse(readFileSync(exportPath(), "utf8")) as { records: { node: string; kind: string }[] };
    expect(document.records).toEqual([expect.objectContaining({ node: "node-01", kind: "commitment" })]);
  });

  it("refuses to start on an emptied (zero-length) file, naming the import and the flag", async () => {
    const [file, ...companions] = slashingFiles();
    truncateSync(file as string, 0);
    for (const path of companions) rmSync(path, { force: true });
    const output = await refusedStart();
    expect(output).toMatch(/CONFIG: slashing-protection history lost: .*slashing\.sqlite is empty, but this node has signed before \(.*has-signed\.json/);
    expect(output).toContain(`concord slashing import <file> --data-dir ${node().dataDir}`);
    expect(output).toContain(FLAG);
    expect(readFileSync(file as string).length).toBe(0);
  });

  it("refuses to start on a deleted file", async () => {
    for (const path of slashingFiles()) rmSync(path, { force: true });
    expect(await refusedStart()).toMatch(/CONFIG: slashing-protection history lost: .*slashing\.sqlite is missing, but this node has signed before/);
    expect(existsSync(slashingFiles()[0] as string)).toBe(false);
  });

  it("starts again once its history is imported (concord slashing import), which is refused while the node runs", async () => {
    const imported = await runConcord(["slashing", "import", exportPath(), "--data-dir", node().dataDir], 15_000);
    expect(imported.code, imported.output).toBe(0);
    expect(imported.output).toMatch(/1 record imported/);
    const restarted = await suite.cluster.startNode(0);
    const again = await runConcord(["slashing", "import", exportPath(), "--data-dir", node().dataDir], 15_000);
    expect(again.code).toBe(2);
    expect(again.output).toContain("data directory in use");
    expect((await stopNode(restarted)).code).toBe(0);
  });

  it(`starts with ${FLAG} on an empty history, which then starts from now (a floor), and signs again`, async () => {
    for (const path of slashingFiles()) rmSync(path, { force: true });
    const restarted = await suite.cluster.startNode(0, [FLAG]);
    expect(restarted.logs.some((line) => line.msg === `slashing-protection history lost: starting without it (${FLAG})`)).toBe(true);
    expect((await stopNode(restarted)).code).toBe(0);
    const plain = await suite.cluster.startNode(0);
    await suite.cluster.waitForPeers(1, 15_000);
    const id = await suite.cluster.pool.submit({ model: "chat", input: "after the loss", entropy: taggedHash("e2e/history", "2") });
    expect((await suite.cluster.outcome(id, 20_000)).kind).toBe("agreed");
    expect((await stopNode(plain)).code).toBe(0);
  });
});
