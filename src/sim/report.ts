/**
 * Rendering a simulation: CSV and JSON of every run, a JSON summary, a self-contained HTML report
 * with SVG charts, and a short text summary for the terminal. Every renderer is a pure function
 * of the result (no timestamps, no host facts), so the same scenario and seed give byte-identical
 * files.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BaselineSummary, ConfigSummary } from "./metrics.ts";
import type { SimulationResult } from "./simulate.ts";
import { BASELINE_COLOR, PALETTE, barChart, escapeXml, formatPercent, lineChart, scatterChart, type Series } from "./svg.ts";

export const CSV_COLUMNS = [
  "request",
  "config",
  "policy",
  "n",
  "k",
  "mode",
  "kind",
  "sampler",
  "prompt",
  "temperature",
  "tokens",
  "committee",
  "honest_members",
  "adversarial_members",
  "outcome",
  "decision_ms",
  "supporters",
  "adversarial_supporters",
  "copycat_supporters",
  "copycat_members",
  "false_accept",
  "honest_votes",
  "false_reject",
  "stalled",
  "baseline_ms",
  "baseline_false_accept",
  "baseline_class",
  "bytes",
  "messages",
  "baseline_bytes",
  "equivocations",
  "rejected",
  "verified",
] as const;

function csvField(value: string | number | boolean | null): string {
  if (value === null) return "";
  if (typeof value === "boolean") return value ? "1" : "0";
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Every run as CSV, one row per (request, configuration). */
export function renderCsv(result: SimulationResult): string {
  const lines = [CSV_COLUMNS.join(",")];
  for (const run of result.runs) {
    const config = result.plan.configs[run.config];
    if (!config) continue;
    lines.push(
      [
        run.request,
        run.config,
        config.policyLabel,
        config.n,
        config.k,
        config.mode,
        run.kind,
        run.sampler,
        run.prompt,
        run.temperature,
        run.tokens,
        run.committee,
        run.honestMembers,
        run.adversarialMembers,
        run.outcome,
        run.decisionMs.toFixed(3),
        run.supporters,
        run.adversarialSupporters,
        run.copycatSupporters,
        run.copycatMembers,
        run.falseAccept,
        run.honestVotes,
        run.falseReject,
        run.stalled,
        run.baselineMs === null ? null : run.baselineMs.toFixed(3),
        run.baselineFalseAccept,
        run.baselineClass,
        run.bytes,
        run.messages,
        run.baselineBytes,
        run.equivocations,
        run.rejected,
        run.verified,
      ]
        .map(csvField)
        .join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Every run as JSON (one run per line), with the scenario and configurations that produced them. */
export function renderRunsJson(result: SimulationResult): string {
  const head = JSON.stringify({ scenario: result.scenario, configs: result.plan.configs });
  const runs = result.runs.map((run) => JSON.stringify(run)).join(",\n");
  return `${head.slice(0, -1)},"runs":[\n${runs}\n]}\n`;
}

export interface SummaryJson {
  scenario: string;
  seed: string;
  requests: number;
  fleet: SimulationResult["fleet"];
  baseline: BaselineSummary;
  configs: ConfigSummary[];
  sweeps: { name: string; over: string; series: { policy: string; points: { value: unknown; config: number; acceptanceRate: number; falseAcceptRate: number; falseRejectRate: number; stallRate: number }[] }[] }[];
}

export function summaryJson(result: SimulationResult): SummaryJson {
  const byConfig = (index: number) => result.summaries[index] as ConfigSummary;
  return {
    scenario: result.scenario.name,
    seed: result.scenario.seed,
    requests: result.scenario.requests,
    fleet: result.fleet,
    baseline: result.baseline,
    configs: result.summaries,
    sweeps: result.plan.sweeps.map((sweep) => ({
      name: sweep.name,
      over: sweep.over,
      series: sweep.series.map((series) => ({
        policy: series.policy,
        points: series.points.map((point) => {
          const s = byConfig(point.config);
          return { value: point.value, config: point.config, acceptanceRate: s.acceptanceRate, falseAcceptRate: s.falseAcceptRate, falseRejectRate: s.falseRejectRate, stallRate: s.stallRate };
        }),
      })),
    })),
  };
}

export function renderSummaryJson(result: SimulationResult): string {
  return `${JSON.stringify(summaryJson(result), null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------------
// Text summary.

function pad(text: string, width: number, right = false): string {
  if (text.length >= width) return text;
  return right ? text.padStart(width) : text.padEnd(width);
}

function ms(value: number | undefined): string {
  return value === undefined ? "-" : value >= 10_000 ? `${(value / 1000).toFixed(1)}s` : `${Math.round(value)}`;
}

function signedMs(value: number | undefined): string {
  if (value === undefined) return "-";
  const rounded = Math.round(value);
  return `${rounded >= 0 ? "+" : ""}${rounded}`;
}

/** A short fixed-width table for the terminal. */
export function renderTextSummary(result: SimulationResult): string {
  const { scenario } = result;
  const lines: string[] = [];
  const fleet = result.fleet.map((c) => `${c.name}${c.behavior === "honest" ? "" : `(${c.behavior})`}:${c.nodes}`).join(" ");
  lines.push(`scenario ${scenario.name}: ${scenario.requests} requests, seed ${scenario.seed}, n=${scenario.committee.n} k=${scenario.committee.k}, fleet ${fleet}`);
  const header = ["policy | committee | mode", "runs", "accept", "false-acc", "<k adv", "false-rej", "stalled", "p50 ms", "vs first-wins", "KB/req"];
  const widths = [Math.max(26, ...result.summaries.map((s) => s.label.length)), 6, 7, 9, 7, 9, 7, 7, 13, 7];
  lines.push(header.map((h, i) => pad(h, widths[i] as number, i > 0)).join("  "));
  const row = (cells: string[]) => lines.push(cells.map((c, i) => pad(c, widths[i] as number, i > 0)).join("  "));
  for (const s of result.summaries) {
    row([
      s.label,
      String(s.runs),
      formatPercent(s.acceptanceRate),
      formatPercent(s.falseAcceptRate),
      formatPercent(s.falseAcceptBelowKRate),
      formatPercent(s.falseRejectRate),
      formatPercent(s.stallRate),
      ms(s.latencyMs?.p50),
      signedMs(s.overBaselineMs?.p50),
      (s.bytesPerRequest / 1024).toFixed(1),
    ]);
  }
  const b = result.baseline;
  row(["first-wins (baseline, same draws)", String(b.runs), formatPercent(b.acceptanceRate), formatPercent(b.falseAcceptRate), "-", "-", "-", ms(b.latencyMs?.p50), "0", (b.bytesPerRequest / 1024).toFixed(1)]);
  lines.push("<k adv: false accepts among runs with fewer than k adversarial members (beyond what k colluding members can always force)");
  for (const s of result.summaries) {
    if (s.copycatMemberRuns > 0) lines.push(`copycats counted as support: ${s.label}: ${s.copycatSupportRuns} of ${s.copycatMemberRuns} runs with a copycat member`);
  }
  const equivocations = result.summaries.reduce((sum, s) => sum + s.equivocationsDetected, 0);
  if (equivocations > 0) lines.push(`equivocations caught (slashable evidence): ${equivocations}`);
  const failures = result.summaries.reduce((sum, s) => sum + s.verifyFailures, 0);
  const verified = result.summaries.reduce((sum, s) => sum + s.verifiedBundles, 0);
  lines.push(`verifyBundle: ${verified} agreed bundles checked, ${failures} failed`);
  return `${lines.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------
// HTML.

/** Up to `max` points of the empirical CDF of `values`. */
export function cdfPoints(values: readonly number[], max = 200): [number, number][] {
  if (values.length === 0) return [];
  const sorted = [...values].sort((a, b) => a - b);
  const points: [number, number][] = [];
  const step = Math.max(1, Math.floor(sorted.length / max));
  for (let i = step - 1; i < sorted.length; i += step) points.push([sorted[i] as number, (i + 1) / sorted.length]);
  const last = sorted.length - 1;
  if ((points[points.length - 1] as [number, number])[1] < 1) points.push([sorted[last] as number, 1]);
  return [[sorted[0] as number, 0], ...points];
}

function baseSummaries(result: SimulationResult): ConfigSummary[] {
  return result.summaries.filter((s) => s.base);
}

/** Acceptance against false accepts, one dot per base configuration and one for first-wins. */
export function acceptanceChart(result: SimulationResult): string {
  const points = baseSummaries(result).map((s, i) => ({ label: s.label, x: s.falseAcceptRate, y: s.acceptanceRate, color: PALETTE[i % PALETTE.length] as string }));
  points.push({ label: "first-wins (baseline)", x: result.baseline.falseAcceptRate, y: result.baseline.acceptanceRate, color: BASELINE_COLOR });
  const maxX = Math.max(0.05, ...points.map((p) => p.x));
  return scatterChart({
    title: `${result.scenario.name}: acceptance vs false accepts`,
    xLabel: "false-accept rate (agreed on a non-honest output)",
    yLabel: "acceptance rate",
    xMin: 0,
    xMax: Math.min(1, maxX * 1.15),
    yMin: 0,
    yMax: 1,
    xFormat: formatPercent,
    yFormat: formatPercent,
    points,
  });
}

/** Latency CDFs of agreed runs per base configuration (first mode) against first-wins. */
export function latencyChart(result: SimulationResult): string {
  const mode = result.scenario.modes[0];
  const summaries = baseSummaries(result).filter((s) => s.mode === mode);
  const latencies = new Map<number, number[]>(summaries.map((s) => [s.config, []]));
  const baseline: number[] = [];
  for (const run of result.runs) {
    const list = latencies.get(run.config);
    if (!list) continue;
    if (run.outcome === "agreed") list.push(run.decisionMs);
    if (run.baselineMs !== null) baseline.push(run.baselineMs);
  }
  const series: Series[] = summaries.map((s, i) => ({ name: s.policy, points: cdfPoints(latencies.get(s.config) ?? []), step: true, color: PALETTE[i % PALETTE.length] as string }));
  series.push({ name: "first-wins (same draws)", points: cdfPoints(baseline), step: true, dashed: true, color: BASELINE_COLOR });
  return lineChart({
    title: `${result.scenario.name}: time to agreement (${mode})`,
    xLabel: "simulated ms from request to decision",
    yLabel: "share of agreed requests",
    yMin: 0,
    yMax: 1,
    xMin: 0,
    yFormat: formatPercent,
    series,
  });
}

export function bytesChart(result: SimulationResult): string {
  const bars = baseSummaries(result).map((s, i) => ({ label: s.label, value: s.bytesPerRequest / 1024, color: PALETTE[i % PALETTE.length] as string }));
  bars.push({ label: "first-wins (baseline)", value: result.baseline.bytesPerRequest / 1024, color: BASELINE_COLOR });
  return barChart({ title: `${result.scenario.name}: bytes gossiped per request`, yLabel: "KiB per request (encoded messages)", bars });
}

export function sweepChart(result: SimulationResult, index: number): string {
  const sweep = result.plan.sweeps[index];
  if (!sweep) return "";
  const series: Series[] = [];
  sweep.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length] as string;
    const numeric = s.points.every((p) => typeof p.value === "number");
    const x = (value: unknown, j: number) => (numeric ? (value as number) : j);
    const of = (config: number) => result.summaries[config] as ConfigSummary;
    const name = sweep.series.length > 1 ? `${s.policy}: ` : "";
    const single = sweep.series.length === 1;
    const stalls = s.points.some((p) => of(p.config).stalls > 0);
    series.push({ name: `${name}acceptance`, color, markers: true, points: s.points.map((p, j) => [x(p.value, j), of(p.config).acceptanceRate]) });
    series.push({ name: `${name}false accepts`, color: single ? (PALETTE[1] as string) : color, dashed: true, markers: true, points: s.points.map((p, j) => [x(p.value, j), of(p.config).falseAcceptRate]) });
    if (single) series.push({ name: "false rejects", color: PALETTE[3] as string, markers: true, dashed: true, points: s.points.map((p, j) => [x(p.value, j), of(p.config).falseRejectRate]) });
    if (stalls && (single || sweep.over === "graceMs")) series.push({ name: `${name}stalls`, color: single ? (PALETTE[4] as string) : color, markers: true, dotted: true, points: s.points.map((p, j) => [x(p.value, j), of(p.config).stallRate]) });
  });
  return lineChart({
    title: `${result.scenario.name}: sweep over ${sweep.over}${sweep.series.length === 1 ? ` (${sweep.series[0]?.policy ?? ""})` : ""}`,
    xLabel: sweep.over,
    yLabel: "rate",
    yMin: 0,
    yMax: 1,
    yFormat: formatPercent,
    series,
  });
}

function cell(value: string, numeric = false): string {
  return `<td${numeric ? ' class="num"' : ""}>${escapeXml(value)}</td>`;
}

function summaryRow(s: ConfigSummary): string {
  return `<tr>${[
    cell(s.label),
    cell(String(s.runs), true),
    cell(formatPercent(s.acceptanceRate), true),
    cell(formatPercent(s.falseAcceptRate), true),
    cell(formatPercent(s.falseAcceptBelowKRate), true),
    cell(formatPercent(s.falseRejectRate), true),
    cell(formatPercent(s.stallRate), true),
    cell(String(s.noAgreementExhausted + s.noAgreementDeadline), true),
    cell(s.latencyMs ? String(Math.round(s.latencyMs.p50)) : "-", true),
    cell(s.latencyMs ? String(Math.round(s.latencyMs.p90)) : "-", true),
    cell(s.overBaselineMs ? signedMs(s.overBaselineMs.p50) : "-", true),
    cell((s.bytesPerRequest / 1024).toFixed(1), true),
    cell(formatPercent(s.adversarialSupportShare), true),
    cell(`${s.copycatSupportRuns}/${s.copycatMemberRuns}`, true),
    cell(String(s.equivocationsDetected), true),
    cell(`${s.verifiedBundles - s.verifyFailures}/${s.verifiedBundles}`, true),
    cell(Object.entries(s.rejected).map(([code, count]) => `${code} ${count}`).join(", ")),
  ].join("")}</tr>`;
}

/** The self-contained HTML report (inline SVG, no scripts, no external resources). */
export function renderHtml(result: SimulationResult): string {
  const { scenario } = result;
  const b = result.baseline;
  const charts = [acceptanceChart(result), latencyChart(result), bytesChart(result), ...result.plan.sweeps.map((_, i) => sweepChart(result, i))];
  const fleetRows = result.fleet.map((c) => `<tr>${cell(c.name)}${cell(c.behavior)}${cell(String(c.nodes), true)}${cell(String(c.weight), true)}</tr>`).join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Concord sim: ${escapeXml(scenario.name)}</title>
<style>
body { font-family: Helvetica, Arial, sans-serif; margin: 2em; color: #222; max-width: 1400px; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
.note { color: #555; font-size: 13px; max-width: 60em; }
</style>
</head>
<body>
<h1>Concord simulation: ${escapeXml(scenario.name)}</h1>
<p>${escapeXml(scenario.description)}</p>
<p class="note">${scenario.requests} requests, seed ${escapeXml(scenario.seed)}, committee n=${scenario.committee.n} k=${scenario.committee.k}, modes ${escapeXml(scenario.modes.join(", "))}, registry of ${scenario.registry.size} nodes. Every run drives the real core (committee draw, collector, policies, verifyBundle) in simulated time; first-wins is measured on the same draws as each run. Definitions and calibration: docs/sim.md.</p>
<h2>Fleet</h2>
<table><tr><th>class</th><th>behavior</th><th>nodes</th><th>total weight</th></tr>
${fleetRows}
</table>
<h2>Results</h2>
<table>
<tr><th>policy | committee | mode</th><th>runs</th><th>accept</th><th>false accept</th><th>false accept, &lt;k adversaries</th><th>false reject</th><th>stalled</th><th>no agreement</th><th>p50 ms</th><th>p90 ms</th><th>vs first-wins p50 ms</th><th>KiB/req</th><th>adversarial support</th><th>copycat counted (runs)</th><th>equivocations caught</th><th>bundles verified</th><th>rejected messages</th></tr>
${result.summaries.map(summaryRow).join("\n")}
<tr>${cell("first-wins (baseline, same draws)")}${cell(String(b.runs), true)}${cell(formatPercent(b.acceptanceRate), true)}${cell(formatPercent(b.falseAcceptRate), true)}${cell("-", true)}${cell("-", true)}${cell("-", true)}${cell(String(b.runs - b.accepted), true)}${cell(b.latencyMs ? String(Math.round(b.latencyMs.p50)) : "-", true)}${cell(b.latencyMs ? String(Math.round(b.latencyMs.p90)) : "-", true)}${cell("0", true)}${cell((b.bytesPerRequest / 1024).toFixed(1), true)}${cell("-")}${cell("-")}${cell("-")}${cell("-")}${cell("")}</tr>
</table>
<p class="note">False accept: agreed on an output no honest run gives (per run); &lt;k adversaries: the same among runs with fewer than k adversarial members, what the policy let through beyond what k colluding members can always force. False reject: NoAgreement although at least k honest votes were counted, i.e. honest variance kept agreement out (per run with at least k honest members). Stalled: NoAgreement with at least k honest members of which fewer than k were counted (the close listed too few of them, or the deadline passed). Latency: agreed runs, simulated. Bytes: encoded size of every message published for the request, each counted once (no gossip fan-out).</p>
<h2>Charts</h2>
<div class="charts">
${charts.join("\n")}
</div>
<h2>Scenario</h2>
<details><summary>The scenario as validated (defaults filled in)</summary>
<pre>${escapeXml(JSON.stringify(scenario, null, 2))}</pre>
</details>
</body>
</html>
`;
}

export interface ReportFiles {
  csv: string;
  runsJson: string;
  summaryJson: string;
  html: string;
  text: string;
}

/** Renders every output file of a simulation. */
export function renderReport(result: SimulationResult): ReportFiles {
  return {
    csv: renderCsv(result),
    runsJson: renderRunsJson(result),
    summaryJson: renderSummaryJson(result),
    html: renderHtml(result),
    text: renderTextSummary(result),
  };
}

/** Writes runs.csv, runs.json, summary.json, report.html and summary.txt into `dir`. */
export function writeReport(result: SimulationResult, dir: string): { files: string[]; text: string } {
  const files = renderReport(result);
  mkdirSync(dir, { recursive: true });
  const written: [string, string][] = [
    ["runs.csv", files.csv],
    ["runs.json", files.runsJson],
    ["summary.json", files.summaryJson],
    ["report.html", files.html],
    ["summary.txt", files.text],
    ["acceptance.svg", acceptanceChart(result)],
    ["latency.svg", latencyChart(result)],
  ];
  for (const [name, content] of written) writeFileSync(join(dir, name), content);
  return { files: written.map(([name]) => join(dir, name)), text: files.text };
}
