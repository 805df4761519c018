/**
 * The Grafana dashboard and the Prometheus alert rules in deploy/ name only metrics a node
 * registers (a renamed metric would leave a panel or an alert silently empty).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createNetMetrics } from "../../../src/net/metrics.ts";
import { createNodeMetrics } from "../../../src/node/metrics.ts";

const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), "utf8");

async function registeredNames(): Promise<Set<string>> {
  const metrics = createNodeMetrics({ version: "0.0.0", node: "n" });
  createNetMetrics(metrics.registry);
  const names = new Set<string>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    // A histogram is queried through its series.
    if (String(metric.type) === "histogram") for (const suffix of ["_bucket", "_count", "_sum"]) names.add(metric.name + suffix);
  }
  return names;
}

const namesIn = (text: string) => new Set([...text.matchAll(/\bconcord_[a-z0-9_]+\b/g)].map((match) => match[0]));

describe("deploy/ dashboards and alerts", () => {
  it("the Grafana dashboard parses, has unique panel ids, and queries only registered metrics", async () => {
    const dashboard = JSON.parse(read("deploy/grafana/concord-dashboard.json")) as { uid: string; panels: { id: number; targets: { expr: string }[] }[] };
    expect(dashboard.uid).toBe("concord-node");
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    const registered = await registeredNames();
    const used = namesIn(dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr)).join("\n"));
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((name) => !registered.has(name))).toEqual([]);
  });

  it("every alert rule has a name, an expression and a summary, over registered metrics only", async () => {
    const rules = read("deploy/prometheus/concord-alerts.yml");
    const alerts = [...rules.matchAll(/^\s+- alert: (\w+)$/gm)].map((match) => match[1]);
    expect(alerts.length).toBeGreaterThanOrEqual(6);
    expect([...rules.matchAll(/^\s+expr: /gm)].length).toBe(alerts.length);
    expect([...rules.matchAll(/^\s+summary: /gm)].length).toBe(alerts.length);
    const registered = await registeredNames();
    expect([...namesIn(rules)].filter((name) => !registered.has(name))).toEqual([]);
  });
});
