/** The node's Prometheus metrics and the HTTP endpoint that serves them. */
import { createServer, type Server, type ServerResponse } from "node:http";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { ConcordError } from "../errors.ts";
import type { BuildInfo } from "./build-info.ts";
import type { Readiness } from "./health.ts";

export interface NodeMetrics {
  registry: Registry;
  decisions: Counter<"policy" | "outcome">;
  decisionLatency: Histogram<"policy">;
  inference: Histogram<"outcome">;
  signingChecks: Histogram<"outcome">;
  bundlesPublished: Counter;
  peers: Gauge;
  requestsFollowed: Gauge;
  /** Always 1; the labels name the build (version, node id, commit when known). */
  buildInfo: Gauge<"version" | "node" | "commit">;
  connectedPeers: Gauge;
  topicSubscribers: Gauge<"topic">;
  meshPeers: Gauge<"topic">;
  requestsOpen: Gauge;
  ready: Gauge;
}

export function createNodeMetrics(build?: BuildInfo & { node: string }): NodeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const buildInfo = new Gauge({
    name: "concord_build_info",
    help: "Always 1: the labels name the running build (version, node id, source commit when the build recorded one)",
    labelNames: ["version", "node", "commit"],
    registers: [registry],
  });
  if (build) buildInfo.set({ version: build.version, node: build.node, ...(build.commit ? { commit: build.commit } : {}) }, 1);
  return {
    buildInfo,
    connectedPeers: new Gauge({ name: "concord_libp2p_connected_peers", help: "Peers with an open libp2p connection", registers: [registry] }),
    topicSubscribers: new Gauge({
      name: "concord_gossip_topic_peers",
      help: "Peers known to be subscribed to a Concord gossip topic",
      labelNames: ["topic"],
      registers: [registry],
    }),
    meshPeers: new Gauge({ name: "concord_gossip_mesh_peers", help: "Peers in this node's gossipsub mesh for a Concord topic", labelNames: ["topic"], registers: [registry] }),
    requestsOpen: new Gauge({ name: "concord_requests_open", help: "Requests in the node's request book with neither a bundle nor a NoAgreement yet, whose deadline is ahead", registers: [registry] }),
    ready: new Gauge({ name: "concord_ready", help: "1 when /ready answers 200 (started, and a subscribed mesh peer on every topic), else 0", registers: [registry] }),
    registry,
    decisions: new Counter({ name: "concord_decisions_total", help: "Requests decided, by policy and outcome", labelNames: ["policy", "outcome"], registers: [registry] }),
    decisionLatency: new Histogram({
      name: "concord_decision_latency_seconds",
      help: "Time from seeing a request to its decision",
      labelNames: ["policy"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    inference: new Histogram({
      name: "concord_inference_seconds",
      help: "Backend inference time, by outcome",
      labelNames: ["outcome"],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
      registers: [registry],
    }),
    signingChecks: new Histogram({
      name: "concord_signing_check_seconds",
      help: "Slashing-protection check before a signature, until its durable answer, by outcome (signed, refused, failed)",
      labelNames: ["outcome"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers: [registry],
    }),
    bundlesPublished: new Counter({ name: "concord_bundles_published_total", help: "Bundles this node published as the request's aggregator", registers: [registry] }),
    peers: new Gauge({ name: "concord_peers", help: "Peers with a gossipsub session", registers: [registry] }),
    requestsFollowed: new Gauge({ name: "concord_requests_followed", help: "Requests in the node's request book", registers: [registry] }),
  };
}

/** What the metrics port answers besides /metrics; absent, /health and /ready answer 404. */
export interface HealthProbes {
  /** The body of /health (always 200 while the process serves it). */
  health(): Record<string, unknown>;
  /** /ready: 200 when ready, else 503; the body is the readiness as JSON. */
  readiness(): Readiness;
  /**
   * Called before each /metrics scrape: brings sampled gauges up to date, so one scrape agrees
   * with /ready asked at the same moment (between scrapes they are sampled once a second).
   */
  refresh?(): void;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(`${JSON.stringify(body)}\n`);
}

/**
 * Serves GET /metrics (and /health, /ready when `probes` is given) on host:port; resolves with
 * the bound port. Port in use is CONFIG.
 */
export async function serveMetrics(registry: Registry, host: string, port: number, probes?: HealthProbes): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/metrics") {
      probes?.refresh?.();
      registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { "content-type": registry.contentType });
          res.end(body);
        })
        .catch(() => {
          res.writeHead(500);
          res.end();
        });
      return;
    }
    if (req.method === "GET" && probes && path === "/health") return sendJson(res, 200, { status: "ok", ...probes.health() });
    if (req.method === "GET" && probes && path === "/ready") {
      const readiness = probes.readiness();
      return sendJson(res, readiness.ready ? 200 : 503, { status: readiness.ready ? "ready" : "not ready", ...readiness });
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end(probes ? "not found: try /metrics, /health or /ready\n" : "not found: try /metrics\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(new ConcordError("CONFIG", "cannot serve metrics", { details: `${host}:${port}: ${error.code ?? error.message}`, cause: error })),
    );
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return { server, port: typeof address === "object" && address ? address.port : port };
}
