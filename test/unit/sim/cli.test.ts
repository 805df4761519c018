import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { runSimCommand } from "../../../src/cli/sim.ts";
import { isConcordError } from "../../../src/errors.ts";
import { scenarioJson } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "concord-sim-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = { stderr: new PassThrough(), isTty: false };

describe("concord sim", () => {
  it("runs a scenario file and writes the report", async () => {
    const file = join(dir, "ok.json");
    writeFileSync(file, JSON.stringify(scenarioJson({ requests: 8 })));
    const out = join(dir, "out");
    const result = await runSimCommand({ scenario: file, out }, quiet);
    expect(result.exitCode).toBe(0);
    expect(result.summary).toMatch(/^scenario test: 8 requests/);
    expect(result.summary).toMatch(/first-wins \(baseline, same draws\)/);
    for (const name of ["runs.csv", "runs.json", "summary.json", "report.html", "summary.txt"]) expect(existsSync(join(out, name))).toBe(true);
    expect(readFileSync(join(out, "report.html"), "utf8")).toContain("<svg");
  });

  it("overrides requests and seed, and shows a progress bar only when asked", async () => {
    const file = join(dir, "ok2.json");
    writeFileSync(file, JSON.stringify(scenarioJson({ requests: 50 })));
    // A stream that says it is a terminal, as process.stderr does in one.
    const stderr = Object.assign(new PassThrough(), { isTTY: true, columns: 120 });
    let written = "";
    stderr.on("data", (chunk: Buffer) => (written += chunk.toString()));
    const result = await runSimCommand({ scenario: file, out: join(dir, "out2"), requests: 3, seed: "x", progress: true }, { stderr, isTty: true });
    expect(result.summary).toMatch(/3 requests, seed x/);
    expect(written).toContain("concord sim");
  });

  it("reports a bad scenario with the file and the path of the bad field", async () => {
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify(scenarioJson({ committee: { n: 7, k: "five" } })));
    const error = await runSimCommand({ scenario: file, out: join(dir, "bad") }, quiet).catch((e: unknown) => e);
    expect(isConcordError(error, "SCENARIO")).toBe(true);
    expect((error as Error).message).toMatch(/bad\.json: invalid scenario: committee\.k: must be an integer/);
    const missing = await runSimCommand({ scenario: join(dir, "none.json"), out: dir }, quiet).catch((e: unknown) => e);
    expect(isConcordError(missing, "SCENARIO")).toBe(true);
  });

  it("validates every shipped example scenario", async () => {
    const { readdirSync } = await import("node:fs");
    const { parseScenarioText } = await import("../../../src/sim/scenario.ts");
    const { createDefaultPolicyRegistry } = await import("../../../src/agreement/registry.ts");
    const examples = join(import.meta.dirname, "../../../examples/scenarios");
    const files = readdirSync(examples).filter((f) => f.endsWith(".json"));
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const f of files) expect(() => parseScenarioText(readFileSync(join(examples, f), "utf8"), createDefaultPolicyRegistry()), f).not.toThrow();
  });
});
