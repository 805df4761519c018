#!/usr/bin/env node
/**
 * The `concord` command. Exit codes: 0 success, 1 a verification failed (or a run found
 * problems), 2 bad usage or configuration. Every subcommand explains itself with --help.
 */
import { Command, CommanderError } from "commander";
import { isConcordError } from "../errors.ts";
import { inspectCommand } from "./inspect.ts";
import { verifyCommand } from "./verify.ts";

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

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
    .command("inspect")
    .description("pretty-print any Concord wire message (CBOR, hex or JSON rendering)")
    .argument("<file>", "message file")
    .option("--json", "print only the JSON rendering")
    .action((file: string, options: { json?: boolean }) => {
      process.stdout.write(`${inspectCommand(file, options)}\n`);
    });

  return program;
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

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
