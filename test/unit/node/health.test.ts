import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readBuildInfo } from "../../../src/node/build-info.ts";
import { nodeReadiness, type ReadinessInput } from "../../../src/node/health.ts";
import { createNodeMetrics, serveMetrics } from "../../../src/node/metrics.ts";

const topic = (name: string, subscribers: number, mesh: number) => ({ topic: name, subscribed: true, subscribers, mesh });
const started = (overrides: Partial<ReadinessInput> = {}): ReadinessInput => ({
  phase: "started",
  connectedPeers: 2,
  topics: [topic("/concord/1/c/request", 2, 2), topic("/concord/1/c/commit", 2, 1)],
  ...overrides,
});

describe("nodeReadiness: /ready", () => {
  it("is ready once started with a subscribed mesh peer on every topic", () => {
    expect(nodeReadiness(started())).toEqual({ ready: true, reasons: [], connectedPeers: 2, minMeshPeers: 1 });
  });

  it("is not ready while starting or stopping, whatever the network", () => {
    expect(nodeReadiness(started({ phase: "starting" })).reasons).toEqual(["node is starting"]);
    expect(nodeReadiness(started({ phase: "stopping" })).reasons).toEqual(["node is stopping"]);
  });

  it("names every reason: no peers, a topic nobody subscribed to, a topic without a mesh peer", () => {
    const readiness = nodeReadiness({
      phase: "started",
      connectedPeers: 0,
      topics: [topic("/a", 0, 0), topic("/b", 1, 0), { topic: "/c", subscribed: false, subscribers: 1, mesh: 1 }],
    });
    expect(readiness.ready).toBe(false);
    expect(readiness.reasons).toEqual(["no connected peers", "not subscribed to /c", "no peer subscribed to /a", "no mesh peer on /b"]);
    expect(readiness.minMeshPeers).toBe(0);
  });

  it("a topic it only publishes its votes on needs a subscriber (the pool), not a subscription or a mesh", () => {
    const routed = (subscribers: number) => ({ topic: "/concord/1/c/reveals", publishOnly: true, subscribed: false, subscribers, mesh: 0 });
    expect(nodeReadiness(started({ topics: [topic("/concord/1/c/requests", 2, 1), routed(1)] }))).toEqual({ ready: true, reasons: [], connectedPeers: 2, minMeshPeers: 1 });
    expect(nodeReadiness(started({ topics: [topic("/concord/1/c/requests", 2, 1), routed(0)] })).reasons).toEqual(["no peer subscribed to /concord/1/c/reveals"]);
  });
});

describe("readBuildInfo", () => {
  it("reads the package version, and the commit only when the build recorded one", () => {
    const { version } = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
    expect(readBuildInfo({})).toEqual({ version });
    expect(readBuildInfo({ CONCORD_BUILD_COMMIT: " 5e2c88f\n" })).toEqual({ version, commit: "5e2c88f" });
  });
});

describe("serveMetrics: a scrape samples the gauges first", () => {
  it("calls refresh before every /metrics scrape, so the gauges agree with /ready asked at the same moment", async () => {
    const metrics = createNodeMetrics({ version: "0.0.0", node: "n" });
    let peers = 0;
    const { server, port } = await serveMetrics(metrics.registry, "127.0.0.1", 0, {
      health: () => ({ status: "ok" }),
      readiness: () => nodeReadiness({ phase: "started", connectedPeers: peers, topics: [] }),
      refresh: () => metrics.peers.set(peers),
    });
    try {
      peers = 3;
      const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(body).toMatch(/^concord_peers 3$/m);
    } finally {
      server.close();
    }
  });
});
