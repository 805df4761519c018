#!/usr/bin/env node
/**
 * The `concord` command. Exit codes: 0 success, 1 a verification failed (or a run found
 * problems), 2 bad usage or configuration. Every subcommand explains itself with --help.
 */
import { Command, CommanderError } from "commander";
import { ConcordError, isConcordError } from "../errors.ts";
import { addExportCommand } from "./export.ts";
import { inspectCommand } from "./inspect.ts";
import { addKeysCommand } from "./keys.ts";
import { addNodeCommand } from "./node.ts";
import { addRegistryCommand } from "./registry.ts";
import { addSimCommand } from "./sim.ts";
import { addSlashingCommand } from "./slashing.ts";
import { DEMO_BACKENDS, formatDemoSummary, runDemo, type DemoBackend } from "./demo.ts";
import { BYZANTINE_MODES } from "../node/config.ts";
import { VOTE_ROUTES, type VoteRoute } from "../net/topics.ts";
import { verifyCommand } from "./verify.ts";
import { certCommand } from "./cert.ts";
import { addStatusCommand } from "./status.ts";

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/**
 * Requests per second the demo streams by default. llama nodes really compute (~1.5 ms a token
 * on an idle core for the project's model, every node every request) and five of them share the
 * machine's cores: at 4 a second on this project's busy 2-core machine they queued past the
 * close and a third of the requests found no quorum; at 2 they keep up. Synthetic nodes only
 * emulate their latency.
 */
const DEMO_RATE: Record<DemoBackend, number> = { llama: 2, synthetic: 10 };

function buildProgram(): Command {
  const program = new Command("concord")
    .description("Consensus verification for nondeterministic model outputs")
    .version("0.1.0")
    .showHelpAfterError()
    .exitOverride();

  program
    .command("verify")
    .description("verify an agreed bundle (CBOR, hex or its JSON rendering) against a registry")
    .argument("<bundle>", "bundle file")
    .requiredOption("-r, --registry <file>", "registry JSON file (chain, sequencer key, nodes)")
    .action((file: string, options: { registry: string }) => {
      const result = verifyCommand(file, options);
      process.stdout.write(`${result.lines.join("\n")}\n`);
      process.exitCode = result.valid ? EXIT_OK : EXIT_FAILED;
    });

  program
    .command("cert")
    .description("print the certificate of an agreed secp256k1 bundle (ABI hex and JSON), checked against the registry root (spec/11-certificate.md)")
    .argument("<bundle>", "bundle file (CBOR, hex or its JSON rendering)")
    .requiredOption("-r, --registry <file>", "registry JSON file (chain, sequencer key, nodes)")
    .option("--json", "print only the JSON (registry root, output hash, hex, certificate)")
    .action((file: string, options: { registry: string; json?: boolean }) => {
      const result = certCommand(file, options);
      process.stdout.write(`${result.text}\n`);
      process.exitCode = result.ok ? EXIT_OK : EXIT_FAILED;
    });

  program
    .command("inspect")
    .description("pretty-print any Concord wire message (CBOR, hex or JSON rendering)")
    .argument("<file>", "message file")
    .option("--json", "print only the JSON rendering")
    .action((file: string, options: { json?: boolean }) => {
      process.stdout.write(`${inspectCommand(file, options)}\n`);
    });

  addExportCommand(program);
  addKeysCommand(program);
  addRegistryCommand(program);
  addNodeCommand(program);
  addStatusCommand(program);
  addSlashingCommand(program);
  addSimCommand(program);

  program
    .command("demo")
    .description("run a local network (node processes + an embedded sequencer) and compare policies with first-wins")
    .option("--backend <type>", "llama: llama.cpp in-process on a GGUF model, each node on another engine path; synthetic: the built-in synthetic model with emulated GPU latency", "llama")
    .option("--model-file <path>", "llama: the GGUF model file (default: the project's trained model, models/concord-wordnet-1m.gguf)")
    .option("--nodes <n>", "node processes", (v) => positiveInt(v, "--nodes"), 5)
    .option("--requests <n>", "requests to stream", (v) => positiveInt(v, "--requests"), 30)
    .option("--rate <n>", `requests per second (default: ${DEMO_RATE.llama} with llama, ${DEMO_RATE.synthetic} with synthetic)`, (v) => positiveInt(v, "--rate"))
    .option(
      "--byzantine <modes>",
      `comma-separated byzantine nodes, the last ones: ${BYZANTINE_MODES.join(", ")}, or none (default: wrong-model with llama, a lazy node on a random-weight copy of the model; none with synthetic)`,
      (v) => v.split(",").filter((mode) => mode && mode !== "none"),
    )
    .option("--votes <route>", "the nodes' vote routing: gossip (default) or sequencer (votes go to the embedded sequencer only; spec/06)", "gossip")
    .option("--seed <seed>", "seed for the request mix", "concord")
    .option("--keep <dir>", "build the network in this folder and keep it (keys, registry, databases)")
    .option("--json", "print the summary as JSON")
    .addHelpText(
      "after",
      [
        "",
        "With llama (the default), node i runs engine path i of reference, fp32-accumulate, reversed,",
        "blocked-8, blocked-16 (src/runner/llama.ts) on one thread, and the requests are exact@1 and",
        "seeded@1 at T=0, seeded@1 and structured@2 at T=0.7, on WordNet-style prompts (\"water (noun):\").",
        "With synthetic: exact@1, seeded@1 and semantic@2 on the synthetic model.",
      ].join("\n"),
    )
    .action(async (options: { backend: string; modelFile?: string; nodes: number; requests: number; rate?: number; byzantine?: string[]; seed: string; keep?: string; json?: boolean; votes: string }) => {
      if (!(DEMO_BACKENDS as readonly string[]).includes(options.backend)) {
        throw new ConcordError("CONFIG", "unknown --backend", { details: `${options.backend}; choose from ${DEMO_BACKENDS.join(", ")}` });
      }
      if (!(VOTE_ROUTES as readonly string[]).includes(options.votes)) {
        throw new ConcordError("CONFIG", "unknown --votes", { details: `${options.votes}; choose from ${VOTE_ROUTES.join(", ")}` });
      }
      const backend = options.backend as DemoBackend;
      const tty = process.stderr.isTTY === true;
      let lastLineAt = 0;
      const summary = await runDemo(
        {
          ...options,
          backend,
          votes: options.votes as VoteRoute,
          rate: options.rate ?? DEMO_RATE[backend],
          byzantine: options.byzantine ?? (backend === "llama" ? ["wrong-model"] : []),
          json: options.json === true,
        },
        {
          progress(line, final) {
            if (options.json) return;
            if (tty) return void process.stderr.write(`\r\x1b[2K${line}${final ? "\n" : ""}`);
            // Not a terminal (CI, a log file): a plain line at most every two seconds.
            if (final || Date.now() - lastLineAt >= 2_000) {
              lastLineAt = Date.now();
              process.stderr.write(`${line}\n`);
            }
          },
        },
      );
      process.stdout.write(options.json ? `${JSON.stringify(summary, null, 2)}\n` : `${formatDemoSummary(summary)}\n`);
    });

  return program;
}

function positiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ConcordError("CONFIG", `${name} must be a positive integer`, { details: value });
  return n;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[], { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    if (isConcordError(error)) {
      process.stderr.write(`concord: ${error.code}: ${error.message}\n`);
      return error.code === "CONFIG" || error.code === "SCENARIO" ? EXIT_USAGE : EXIT_FAILED;
    }
    throw error;
  }
}

/** Runs the command line as the `concord` executable does (bin/concord.js calls it). */
export async function runCli(argv: readonly string[]): Promise<void> {
  // A reader that went away (`concord --help | head`) is no error: stop writing, exit quietly.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    process.exit(typeof process.exitCode === "number" ? process.exitCode : EXIT_OK);
  });
  process.exitCode = await main(argv);
}

if (import.meta.main) await runCli(process.argv.slice(2));
