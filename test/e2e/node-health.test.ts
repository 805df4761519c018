/**
 * `/health`, `/ready` and the build-info and mesh gauges of a real `concord node` process: a
 * lone node is up (200) but not ready (503, saying why); with a second node in its mesh it is
 * ready; when that peer leaves it is not ready again.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createDevnet, type Devnet } from "../../src/cli/devnet.ts";
import { startNode, stopAllNodes, stopNode } from "../helpers/processes.ts";
import { PROCESS_TEST_TIMEOUT_MS } from "../helpers/timeouts.ts";
import { until } from "../helpers/wait.ts";

let dir: string;
let devnet: Devnet;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "concord-node-health-"));
  devnet = await createDevnet({ dir, nodes: 2, seed: "node-health", backend: () => ({ type: "fixed", modelSeed: "m", delayMs: 0 }) });
});
afterEach(async () => {
  await stopAllNodes();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function get(port: number | null, path: string): Promise<{ status: number; body: string; json: Record<string, unknown> | undefined }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  const body = await response.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(body) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: response.status, body, json };
}

describe("concord node: /health and /ready on the metrics port", () => {
  it("is healthy alone but not ready, ready with a mesh peer, and not ready once that peer leaves", async () => {
    const first = await startNode("node-01", ["--config", devnet.nodes[0]?.configPath as string]);
    const health = await get(first.metricsPort, "/health");
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ status: "ok", node: "node-01", chain: devnet.chain, phase: "started", peerId: first.peerId });
    expect(typeof health.json?.["version"]).toBe("string");

    const alone = await get(first.metricsPort, "/ready");
    expect(alone.status).toBe(503);
    expect(alone.json).toMatchObject({ status: "not ready", ready: false, connectedPeers: 0 });
    expect(alone.json?.["reasons"]).toEqual(expect.arrayContaining(["no connected peers"]));

    const metrics = (await get(first.metricsPort, "/metrics")).body;
    expect(metrics).toMatch(/^concord_build_info\{version="[^"]+",node="node-01"\} 1$/m);
    expect(metrics).toMatch(/^concord_ready 0$/m);

    const second = await startNode("node-02", ["--config", devnet.nodes[1]?.configPath as string, "--bootstrap", first.multiaddrs[0] as string]);
    await until(async () => (await get(first.metricsPort, "/ready")).status === 200, 30_000, "node-01 to be ready with node-02 in its mesh");
    const ready = await get(first.metricsPort, "/ready");
    expect(ready.json).toMatchObject({ status: "ready", ready: true, reasons: [], connectedPeers: 1, minMeshPeers: 1 });
    await until(async () => /^concord_ready 1$/m.test((await get(first.metricsPort, "/metrics")).body), 5_000, "concord_ready 1");
    const joined = (await get(first.metricsPort, "/metrics")).body;
    expect(joined).toMatch(/^concord_gossip_mesh_peers\{topic="\/concord\/1\/[^"]+"\} 1$/m);
    expect(joined).toMatch(/^concord_libp2p_connected_peers 1$/m);
    expect(joined).toMatch(/^concord_requests_open 0$/m);

    expect((await stopNode(second)).code).toBe(0);
    await until(async () => (await get(first.metricsPort, "/ready")).status === 503, 15_000, "node-01 to be not ready once node-02 left");
    expect((await get(first.metricsPort, "/nothing")).status).toBe(404);
  }, PROCESS_TEST_TIMEOUT_MS);
});
