import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { renderReport, writeReport } from "../../../src/sim/report.ts";
import { simulate } from "../../../src/sim/simulate.ts";
import { FULL_MIX, scenarioOf } from "./helpers.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("reproducibility", () => {
  const scenario = scenarioOf({
    requests: 25,
    modes: ["commit-reveal", "direct"],
    requestMix: FULL_MIX,
    adversaries: [
      { type: "lazy", share: 0.1 },
      { type: "copycat", share: 0.1 },
      { type: "equivocator", share: 0.1 },
      { type: "margin-liar", share: 0.1 },
      { type: "random", share: 0.05 },
      { type: "colluding", share: 0.05, wrong: "subtle" },
    ],
    sweeps: [{ policy: "semantic", param: "thetaPpm", values: [800000, 950000] }],
  });

  it("the same scenario and seed give byte-identical CSV, JSON and HTML", () => {
    const a = renderReport(simulate(scenario));
    const b = renderReport(simulate(scenario));
    expect(b.csv).toBe(a.csv);
    expect(b.runsJson).toBe(a.runsJson);
    expect(b.summaryJson).toBe(a.summaryJson);
    expect(b.html).toBe(a.html);
    expect(a.csv.split("\n").length).toBeGreaterThan(100);
  });

  it("writes identical files on disk, and a different seed changes them", () => {
    const one = mkdtempSync(join(tmpdir(), "concord-sim-"));
    const two = mkdtempSync(join(tmpdir(), "concord-sim-"));
    const three = mkdtempSync(join(tmpdir(), "concord-sim-"));
    dirs.push(one, two, three);
    writeReport(simulate(scenario), one);
    writeReport(simulate(scenario), two);
    writeReport(simulate({ ...scenario, seed: "another" }), three);
    const files = readdirSync(one).sort();
    expect(files).toEqual(["acceptance.svg", "latency.svg", "report.html", "runs.csv", "runs.json", "summary.json", "summary.txt"]);
    for (const file of files) expect(readFileSync(join(two, file)).equals(readFileSync(join(one, file))), file).toBe(true);
    expect(readFileSync(join(three, "runs.csv")).equals(readFileSync(join(one, "runs.csv")))).toBe(false);
  });

  it("does not depend on the order configurations run in (common random numbers per request)", () => {
    const base = scenarioOf({ requests: 15, requestMix: FULL_MIX });
    const reversed = { ...base, policies: [...base.policies].reverse() };
    const forward = simulate(base);
    const backward = simulate(reversed);
    for (const summary of forward.summaries) {
      const twin = backward.summaries.find((s) => s.label === summary.label);
      expect({ ...twin, config: 0 }).toEqual({ ...summary, config: 0 });
    }
  });
});
