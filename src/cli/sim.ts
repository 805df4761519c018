/**
 * `concord sim <scenario.json> --out <dir>`: runs a simulation scenario (docs/sim.md) and writes
 * runs.csv, runs.json, summary.json, report.html (with SVG charts) and summary.txt into <dir>,
 * then prints the text summary. A progress bar goes to stderr when it is a terminal.
 *
 * Wiring into the `concord` program (src/cli/main.ts): `addSimCommand(program)`, or call
 * `runSimCommand` from an action. Run alone: `npx node src/cli/sim.ts <scenario.json> --out <dir>`.
 * Exit codes follow main.ts: 0 done, 1 some agreed bundle failed verifyBundle (a core bug the
 * simulation surfaced), 2 bad scenario (thrown as ConcordError SCENARIO).
 */
import { readFileSync } from "node:fs";
import { SingleBar } from "cli-progress";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { createDefaultPolicyRegistry } from "../agreement/registry.ts";
import { ConcordError, isConcordError } from "../errors.ts";
import { writeReport } from "../sim/report.ts";
import { parseScenarioText, type Scenario } from "../sim/scenario.ts";
import { simulate } from "../sim/simulate.ts";

export interface SimCommandOptions {
  /** Path of the scenario JSON file. */
  scenario: string;
  /** Directory the report files are written to (created if missing). */
  out: string;
  /** Show a progress bar on stderr; default: only when stderr is a TTY. */
  progress?: boolean;
  /** Override the scenario's request count (e.g. for a quick look). */
  requests?: number;
  /** Override the scenario's seed. */
  seed?: string;
}

export interface SimCommandResult {
  exitCode: number;
  /** The text summary (also written to <out>/summary.txt). */
  summary: string;
  files: string[];
}

export interface SimCommandIo {
  stderr: NodeJS.WriteStream | NodeJS.WritableStream;
  isTty: boolean;
}

function readScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new ConcordError("SCENARIO", `cannot read ${path}`, { details: (cause as NodeJS.ErrnoException).code ?? String(cause), cause });
  }
  try {
    return parseScenarioText(text, createDefaultPolicyRegistry());
  } catch (error) {
    if (isConcordError(error, "SCENARIO")) throw new ConcordError("SCENARIO", `${path}: ${error.message}`, { cause: error });
    throw error;
  }
}

/** Runs a scenario file and writes its report. Throws ConcordError SCENARIO for a bad scenario. */
export async function runSimCommand(
  options: SimCommandOptions,
  io: SimCommandIo = { stderr: process.stderr, isTty: Boolean(process.stderr.isTTY) },
): Promise<SimCommandResult> {
  let scenario = readScenario(options.scenario);
  if (options.requests !== undefined) scenario = { ...scenario, requests: options.requests };
  if (options.seed !== undefined) scenario = { ...scenario, seed: options.seed };
  const showProgress = options.progress ?? io.isTty;
  const bar = showProgress
    ? new SingleBar({ stream: io.stderr, format: "concord sim [{bar}] {percentage}% | {value}/{total} runs | eta {eta_formatted}", hideCursor: true, clearOnComplete: true, etaBuffer: 200 })
    : undefined;
  let lastShown = 0;
  try {
    bar?.start(1, 0);
    const result = simulate(scenario, {
      onProgress: (done, total) => {
        if (!bar) return;
        if (done === 1) bar.setTotal(total);
        if (done - lastShown >= 50 || done === total) {
          lastShown = done;
          bar.update(done);
        }
      },
    });
    bar?.stop();
    const { files, text } = writeReport(result, options.out);
    const failures = result.summaries.reduce((sum, s) => sum + s.verifyFailures, 0);
    return { exitCode: failures > 0 ? 1 : 0, summary: text, files };
  } finally {
    bar?.stop();
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError("must be a positive integer");
  return n;
}

/** Adds `sim` to a commander program (the `concord` CLI). */
export function addSimCommand(program: Command): Command {
  program
    .command("sim")
    .description("simulate agreement policies under calibrated nondeterminism and adversaries (see docs/sim.md)")
    .argument("<scenario>", "scenario JSON file (examples/scenarios/)")
    .requiredOption("-o, --out <dir>", "directory for runs.csv, runs.json, summary.json, report.html")
    .option("--requests <n>", "override the scenario's request count", positiveInt)
    .option("--seed <seed>", "override the scenario's seed")
    .option("--no-progress", "never show the progress bar")
    .action(async (scenario: string, opts: { out: string; requests?: number; seed?: string; progress: boolean }) => {
      const result = await runSimCommand({
        scenario,
        out: opts.out,
        ...(opts.progress === false ? { progress: false } : {}),
        ...(opts.requests !== undefined ? { requests: opts.requests } : {}),
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      });
      process.stdout.write(result.summary);
      process.stdout.write(`report: ${result.files.find((file) => file.endsWith("report.html")) ?? opts.out}\n`);
      process.exitCode = result.exitCode;
    });
  return program;
}

if (import.meta.main) {
  const program = addSimCommand(new Command("concord").exitOverride());
  const args = process.argv.slice(2);
  try {
    await program.parseAsync(args[0] === "sim" ? args : ["sim", ...args], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : 2;
    } else if (isConcordError(error)) {
      process.stderr.write(`concord: ${error.code}: ${error.message}\n`);
      process.exitCode = error.code === "SCENARIO" ? 2 : 1;
    } else {
      throw error;
    }
  }
}
