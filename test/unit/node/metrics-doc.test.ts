import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createNetMetrics } from "../../../src/net/metrics.ts";
import { createNodeMetrics } from "../../../src/node/metrics.ts";

describe("docs/metrics.md", () => {
  it("documents every concord_* metric a node registers, and no other", async () => {
    const doc = readFileSync(new URL("../../../docs/metrics.md", import.meta.url), "utf8");
    const metrics = createNodeMetrics({ version: "0.0.0", node: "n" });
    createNetMetrics(metrics.registry);
    const documented = [...doc.matchAll(/^\| `(concord_[a-z0-9_]+)` \| (?:counter|gauge|histogram) \|/gm)].map((match) => match[1] as string);
    const registered = (await metrics.registry.getMetricsAsJSON()).filter((metric) => metric.name.startsWith("concord_"));
    expect(documented.sort()).toEqual(registered.map((metric) => metric.name).sort());
  });
});
