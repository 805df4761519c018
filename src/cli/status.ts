/**
 * `concord status`: what a running node says about itself on its metrics port (/health, /ready,
 * /metrics), in a few lines or as JSON. Reads only; the node needs no key or config for it.
 */
import type { Command } from "commander";
import { ConcordError } from "../errors.ts";
import { DEFAULT_METRICS_URL } from "../node/defaults.ts";

export interface StatusOptions {
  /** Base URL of the node's metrics port. Default: DEFAULT_METRICS_URL. */
  metricsUrl?: string;
  /** Per request. Default: 3000 ms. */
  timeoutMs?: number;
}

/** One sample of the Prometheus text format. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface NodeStatus {
  url: string;
  health: Record<string, unknown>;
  ready: boolean;
  reasons: string[];
  build: { version?: string; node?: string; commit?: string };
  peers: { connected: number; gossip: number };
  mesh: { minPeers: number; byTopic: Record<string, number> };
  requests: { open: number; followed: number };
  /** Decisions since the node started, by outcome and by policy and outcome. */
  decisions: { total: number; byOutcome: Record<string, number>; byPolicy: Record<string, Record<string, number>> };
  bundlesPublished: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * Parses the Prometheus text exposition format (samples only; HELP and TYPE lines skipped).
 *
 * @example
 * parsePrometheusText('concord_decisions_total{policy="exact@1",outcome="agreed"} 3')
 * // [{ name: "concord_decisions_total", labels: { policy: "exact@1", outcome: "agreed" }, value: 3 }]
 */
export function parsePrometheusText(text: string): PromSample[] {
  const samples: PromSample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = SAMPLE.exec(line.trim());
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? "").matchAll(LABEL)) {
      labels[label[1] as string] = (label[2] as string).replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Turns what the three endpoints answered into a status. */
export function summarizeStatus(url: string, health: Record<string, unknown>, readiness: Record<string, unknown>, samples: readonly PromSample[]): NodeStatus {
  const all = (name: string) => samples.filter((sample) => sample.name === name);
  const one = (name: string) => all(name).reduce((sum, sample) => sum + sample.value, 0);
  const build = all("concord_build_info")[0]?.labels ?? {};
  const byTopic: Record<string, number> = {};
  for (const sample of all("concord_gossip_mesh_peers")) byTopic[sample.labels["topic"] ?? ""] = sample.value;
  const byOutcome: Record<string, number> = {};
  const byPolicy: Record<string, Record<string, number>> = {};
  for (const sample of all("concord_decisions_total")) {
    const outcome = sample.labels["outcome"] ?? "";
    const policy = sample.labels["policy"] ?? "";
    byOutcome[outcome] = (byOutcome[outcome] ?? 0) + sample.value;
    (byPolicy[policy] ??= {})[outcome] = sample.value;
  }
  const meshValues = Object.values(byTopic);
  return {
    url,
    health,
    ready: readiness["ready"] === true,
    reasons: Array.isArray(readiness["reasons"]) ? readiness["reasons"].map(String) : [],
    build: {
      ...(build["version"] !== undefined ? { version: build["version"] } : {}),
      ...(build["node"] !== undefined ? { node: build["node"] } : {}),
      ...(build["commit"] !== undefined ? { commit: build["commit"] } : {}),
    },
    peers: { connected: one("concord_libp2p_connected_peers"), gossip: one("concord_peers") },
    mesh: { minPeers: meshValues.length === 0 ? 0 : Math.min(...meshValues), byTopic },
    requests: { open: one("concord_requests_open"), followed: one("concord_requests_followed") },
    decisions: { total: Object.values(byOutcome).reduce((a, b) => a + b, 0), byOutcome, byPolicy },
    bundlesPublished: one("concord_bundles_published_total"),
  };
}

async function get(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (cause) {
    const inner = (cause as { cause?: { code?: string } }).cause;
    const reason = inner?.code ?? ((cause as Error).name === "TimeoutError" ? `no answer in ${timeoutMs} ms` : (cause as Error).message);
    throw new ConcordError("NODE_UNREACHABLE", "no node answers", {
      details: `${url}: ${reason} (is \`concord node\` running with its metrics on this port? --metrics-url names another)`,
      cause,
    });
  }
  return { status: response.status, body: await response.text() };
}

function parseJson(url: string, body: string): Record<string, unknown> {
  try {
    const json = JSON.parse(body) as unknown;
    if (typeof json === "object" && json !== null && !Array.isArray(json)) return json as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  throw new ConcordError("NODE_UNREACHABLE", "not a Concord node's metrics port", { details: `${url} did not answer JSON` });
}

/** Reads a running node's /health, /ready and /metrics. Throws NODE_UNREACHABLE when nothing answers. */
export async function readNodeStatus(options: StatusOptions = {}): Promise<NodeStatus> {
  const base = (options.metricsUrl ?? DEFAULT_METRICS_URL).replace(/\/+$/, "");
  try {
    new URL(base);
  } catch {
    throw new ConcordError("CONFIG", "--metrics-url is not a URL", { details: base });
  }
  const timeoutMs = options.timeoutMs ?? 3_000;
  const [health, ready, metrics] = await Promise.all([get(`${base}/health`, timeoutMs), get(`${base}/ready`, timeoutMs), get(`${base}/metrics`, timeoutMs)]);
  if (health.status !== 200) {
    throw new ConcordError("NODE_UNREACHABLE", "not a Concord node's metrics port", { details: `${base}/health answered ${health.status}` });
  }
  return summarizeStatus(base, parseJson(`${base}/health`, health.body), parseJson(`${base}/ready`, ready.body), parsePrometheusText(metrics.body));
}

/** A few lines for a person. */
export function formatNodeStatus(status: NodeStatus): string {
  const node = status.build.node ?? String(status.health["node"] ?? "?");
  const version = status.build.version ?? String(status.health["version"] ?? "?");
  const lines = [
    `${node} at ${status.url}: ${status.ready ? "ready" : "NOT READY"} (concord ${version}${status.build.commit ? `, commit ${status.build.commit}` : ""})`,
  ];
  for (const reason of status.reasons) lines.push(`  not ready: ${reason}`);
  const row = (label: string, value: string) => lines.push(`  ${label.padEnd(10)} ${value}`);
  if (status.health["peerId"]) row("peer id", String(status.health["peerId"]));
  if (typeof status.health["uptimeSeconds"] === "number") row("uptime", `${status.health["uptimeSeconds"]} s`);
  row("peers", `${status.peers.connected} connected, ${status.peers.gossip} with gossip`);
  row("mesh", `at least ${status.mesh.minPeers} peer(s) on each of ${Object.keys(status.mesh.byTopic).length} topics`);
  row("requests", `${status.requests.open} open, ${status.requests.followed} in the request book`);
  const outcomes = Object.entries(status.decisions.byOutcome).map(([outcome, count]) => `${count} ${outcome}`);
  row("decisions", `${status.decisions.total} since start${outcomes.length > 0 ? ` (${outcomes.join(", ")})` : ""}`);
  for (const [policy, counts] of Object.entries(status.decisions.byPolicy)) {
    row("", `${policy}: ${Object.entries(counts).map(([outcome, count]) => `${count} ${outcome}`).join(", ")}`);
  }
  row("bundles", `${status.bundlesPublished} published as aggregator`);
  return lines.join("\n");
}

/** Registers `concord status`. Exit 0 when the node is ready, 1 when not ready or nothing answers, 2 for a bad URL. */
export function addStatusCommand(program: Command): void {
  program
    .command("status")
    .description("show a running node's state from its metrics port: ready or why not, peers, mesh, open requests, decisions since start")
    .option("--metrics-url <url>", `the node's metrics port (default ${DEFAULT_METRICS_URL}, the node's default)`)
    .option("--timeout-ms <ms>", "per request to the node (default 3000)", Number)
    .option("--json", "print the status as JSON")
    .addHelpText(
      "after",
      ["", "Reads /health, /ready and /metrics (docs/metrics.md).", "Exit codes: 0 the node is ready, 1 it is not ready or nothing answers, 2 a bad --metrics-url."].join("\n"),
    )
    .action(async (options: { metricsUrl?: string; timeoutMs?: number; json?: boolean }) => {
      const status = await readNodeStatus({
        ...(options.metricsUrl !== undefined ? { metricsUrl: options.metricsUrl } : {}),
        ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      });
      process.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : `${formatNodeStatus(status)}\n`);
      process.exitCode = status.ready ? 0 : 1;
    });
}
