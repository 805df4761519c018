import { describe, expect, it } from "vitest";
import { formatNodeStatus, parsePrometheusText, summarizeStatus } from "../../../src/cli/status.ts";

const METRICS = [
  "# HELP concord_decisions_total Requests decided, by policy and outcome",
  "# TYPE concord_decisions_total counter",
  'concord_decisions_total{policy="exact@1",outcome="agreed"} 7',
  'concord_decisions_total{policy="exact@1",outcome="no-agreement"} 1',
  'concord_decisions_total{policy="seeded@1",outcome="agreed"} 2',
  'concord_build_info{version="0.1.0",node="node-07",commit="5e2c88f"} 1',
  "concord_peers 3",
  "concord_libp2p_connected_peers 4",
  'concord_gossip_mesh_peers{topic="/concord/1/c/request"} 2',
  'concord_gossip_mesh_peers{topic="/concord/1/c/commit"} 1',
  "concord_requests_open 2",
  "concord_requests_followed 11",
  "concord_bundles_published_total 5",
  'odd_label{text="a \\"quoted\\" \\\\ value"} 1.5e3',
].join("\n");

describe("concord status: reading the Prometheus text format", () => {
  it("parses samples with labels, escapes and exponents; skips HELP and TYPE", () => {
    const samples = parsePrometheusText(METRICS);
    expect(samples).toHaveLength(12);
    expect(samples.at(-1)).toEqual({ name: "odd_label", labels: { text: 'a "quoted" \\ value' }, value: 1500 });
  });

  it("sums decisions by outcome and by policy, takes the smallest mesh, and prints them", () => {
    const status = summarizeStatus("http://127.0.0.1:9781", { node: "node-07", uptimeSeconds: 12 }, { ready: true, reasons: [] }, parsePrometheusText(METRICS));
    expect(status).toMatchObject({
      ready: true,
      build: { version: "0.1.0", node: "node-07", commit: "5e2c88f" },
      peers: { connected: 4, gossip: 3 },
      mesh: { minPeers: 1 },
      requests: { open: 2, followed: 11 },
      decisions: { total: 10, byOutcome: { agreed: 9, "no-agreement": 1 }, byPolicy: { "exact@1": { agreed: 7, "no-agreement": 1 }, "seeded@1": { agreed: 2 } } },
      bundlesPublished: 5,
    });
    const text = formatNodeStatus(status);
    expect(text).toContain("node-07 at http://127.0.0.1:9781: ready (concord 0.1.0, commit 5e2c88f)");
    expect(text).toMatch(/decisions +10 since start \(9 agreed, 1 no-agreement\)/);
    expect(text).toMatch(/exact@1: 7 agreed, 1 no-agreement/);
  });
});
