/** The node's Prometheus metrics and the HTTP endpoint that serves them. */
import { createServer, type Server } from "node:http";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { ConcordError } from "../errors.ts";

export interface NodeMetrics {
  registry: Registry;
  decisions: Counter<"policy" | "outcome">;
  decisionLatency: Histogram<"policy">;
  inference: Histogram<"outcome">;
  signingChecks: Histogram<"outcome">;
  bundlesPublished: Counter;
  peers: Gauge;
  requestsFollowed: Gauge;
}

export function createNodeMetrics(): NodeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
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
    peers: new Gauge({ name: "concord_peers", help: "Connected libp2p peers", registers: [registry] }),
    requestsFollowed: new Gauge({ name: "concord_requests_followed", help: "Requests in the node's request book", registers: [registry] }),
  };
}

/** Serves GET /metrics on host:port; resolves with the bound port. Port in use is CONFIG. */
export async function serveMetrics(registry: Registry, host: string, port: number): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/metrics") {
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
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found: try /metrics\n");
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
