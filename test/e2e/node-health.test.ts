/**
 * `/health`, `/ready` and the build-info and mesh gauges of a real `concord node` process: a
 * lone node is up (200) but not ready (503, saying why); with a second node in its mesh it is
 * ready; when that peer leaves it is not ready again. `concord status` reads the same port.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createDevnet, type Devnet } from "../../src/cli/devnet.ts";
import { runConcord, startNode, stopAllNodes, stopNode } from "../helpers/processes.ts";
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

describe("concord status: a running node's state from its metrics port", () => {
  it("prints ready or why not, peers, mesh and request counts (text and --json); exit 0 ready, 1 not ready", async () => {
    const first = await startNode("node-01", ["--config", devnet.nodes[0]?.configPath as string]);
    const url = `http://127.0.0.1:${first.metricsPort}`;
    const alone = await runConcord(["status", "--metrics-url", url], 15_000);
    expect(alone.code, alone.output).toBe(1);

    const second = await startNode("node-02", ["--config", devnet.nodes[1]?.configPath as string, "--bootstrap", first.multiaddrs[0] as string]);
    await until(async () => (await get(first.metricsPort, "/ready")).status === 200, 30_000, "node-01 to be ready");
    const text = await runConcord(["status", "--metrics-url", url], 15_000);
    expect(text.code, text.output).toBe(0);
    expect(text.output).toContain(`node-01 at ${url}: ready (concord `);
    expect(text.output).toMatch(/peers +1 connected, 1 with gossip/);
    expect(text.output).toMatch(/requests +0 open, 0 in the request book/);
    expect(text.output).toMatch(/decisions +0 since start/);

    const json = await runConcord(["status", "--metrics-url", url, "--json"], 15_000);
    expect(json.code, json.output).toBe(0);
    const status = JSON.parse(json.output) as Record<string, unknown>;
    expect(status).toMatchObject({ url, ready: true, reasons: [], build: { node: "node-01" }, peers: { connected: 1, gossip: 1 }, requests: { open: 0 } });
    expect((status["mesh"] as { minPeers: number }).minPeers).toBe(1);
    expect((status["health"] as Record<string, unknown>)["peerId"]).toBe(first.peerId);
    await stopNode(second);
  }, PROCESS_TEST_TIMEOUT_MS);

  it("says clearly when nothing listens (exit 1), and refuses a URL that is not one (exit 2)", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    await new Promise((resolve) => server.close(resolve));
    const nothing = await runConcord(["status", "--metrics-url", `http://127.0.0.1:${port}`], 15_000);
    expect(nothing.code).toBe(1);
    expect(nothing.output).toContain(`concord: NODE_UNREACHABLE: no node answers: http://127.0.0.1:${port}/health: ECONNREFUSED (is \`concord node\` running`);
    const bad = await runConcord(["status", "--metrics-url", "not a url"], 15_000);
    expect(bad.code).toBe(2);
    expect(bad.output).toContain("CONFIG: --metrics-url is not a URL");
  }, PROCESS_TEST_TIMEOUT_MS);
});
