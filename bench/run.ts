/**
 * `npm run bench [filter...]`: runs every bench/*.bench.ts that exports
 * `run(): Promise<Record<string, number>>`, one after another (never in parallel: they would
 * share cores and skew each other), prints a table, and writes machine-readable results:
 *   bench/results/<name>.json   { name, figures, seconds, machine }
 *   bench/results/summary.json  { machine, benches: { <name>: { figures, seconds, date } } }
 * A filter keeps the benches whose name contains it (`npm run bench core sampler`). The summary
 * is rebuilt from every results file present, so a filtered run updates its benches and keeps
 * the others' last figures (each with its own date and machine).
 */
import { cpus, availableParallelism, totalmem, platform, arch, release } from "node:os";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

type Figures = Record<string, number>;

interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  arch: string;
  kernel: string;
  node: string;
  openssl: string;
  date: string;
}

interface BenchResult {
  name: string;
  figures: Figures;
  seconds: number;
  machine: Machine;
}

const BENCH_DIR = fileURLToPath(new URL(".", import.meta.url));
const RESULTS_DIR = join(BENCH_DIR, "results");

function machine(): Machine {
  return {
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    platform: platform(),
    arch: arch(),
    kernel: release(),
    node: process.version,
    openssl: process.versions.openssl ?? "",
    date: new Date().toISOString(),
  };
}

function isFigures(value: unknown): value is Figures {
  return typeof value === "object" && value !== null && Object.values(value).every((v) => typeof v === "number" && Number.isFinite(v));
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? value.toLocaleString("en-US") : value.toLocaleString("en-US", { maximumFractionDigits: 3 });
}

function printTable(results: BenchResult[]): void {
  const rows = results.flatMap((r) => Object.entries(r.figures).map(([metric, value]) => [r.name, metric, formatNumber(value)] as const));
  const widths = [0, 1, 2].map((i) => Math.max(["bench", "metric", "value"][i]?.length ?? 0, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => (i === 2 ? cell.padStart(widths[i] as number) : cell.padEnd(widths[i] as number))).join("  ");
  console.log(line(["bench", "metric", "value"]));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) console.log(line(row));
}

/** The summary: every results file in bench/results, by bench name. */
function writeSummary(current: Machine): void {
  const benches: Record<string, { figures: Figures; seconds: number; date: string; machine: Machine }> = {};
  for (const file of readdirSync(RESULTS_DIR).filter((f) => f.endsWith(".json") && f !== "summary.json").sort()) {
    try {
      const result = JSON.parse(readFileSync(join(RESULTS_DIR, file), "utf8")) as BenchResult;
      if (typeof result.name === "string" && isFigures(result.figures)) {
        benches[result.name] = { figures: result.figures, seconds: result.seconds, date: result.machine.date, machine: result.machine };
      }
    } catch {
      console.warn(`bench: skipping unreadable ${file}`);
    }
  }
  writeFileSync(join(RESULTS_DIR, "summary.json"), `${JSON.stringify({ machine: current, benches }, null, 2)}\n`);
}

async function main(filters: string[]): Promise<void> {
  const files = readdirSync(BENCH_DIR)
    .filter((file) => file.endsWith(".bench.ts"))
    .sort()
    .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)));
  if (files.length === 0) {
    console.error(`bench: no bench/*.bench.ts matches ${filters.join(", ")}`);
    process.exitCode = 1;
    return;
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  const info = machine();
  console.log(`${info.cpu}, ${info.cores} cores, Node ${info.node} (OpenSSL ${info.openssl}), ${info.date}\n`);
  const results: BenchResult[] = [];
  let failed = false;
  for (const file of files) {
    const name = basename(file, ".bench.ts");
    const module = (await import(pathToFileURL(join(BENCH_DIR, file)).href)) as { run?: unknown };
    if (typeof module.run !== "function") {
      console.log(`${name}: no run() export, skipped`);
      continue;
    }
    process.stdout.write(`${name}: running... `);
    const start = performance.now();
    try {
      const figures: unknown = await (module.run as () => Promise<unknown>)();
      if (!isFigures(figures)) throw new Error("run() must resolve to a record of finite numbers");
      const seconds = Math.round((performance.now() - start) / 100) / 10;
      console.log(`${seconds} s`);
      const result: BenchResult = { name, figures, seconds, machine: { ...info, date: new Date().toISOString() } };
      results.push(result);
      writeFileSync(join(RESULTS_DIR, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
    } catch (error) {
      failed = true;
      console.log(`failed: ${(error as Error).message}`);
    }
  }
  console.log("");
  printTable(results);
  writeSummary(info);
  console.log(`\nresults: ${join(RESULTS_DIR, "<name>.json")}, ${join(RESULTS_DIR, "summary.json")}`);
  if (failed) process.exitCode = 1;
}

await main(process.argv.slice(2));
