/**
 * `concord slashing export|import`: a node's slashing-protection history in the interchange
 * format (spec/slashing-interchange.md), to move it with the node, or to bring back a history
 * that was lost (a node that has signed before refuses to start without it: src/node/history.ts).
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { ConcordError } from "../errors.ts";
import { assertRegularFileIfPresent, readRegularFile } from "../node/files.ts";
import { SLASHING_FILE, writeSignedMarker } from "../node/history.ts";
import { DataDirLock } from "../node/lock.ts";
import { parseInterchange, serializeInterchange, SlashingProtection } from "../node/slashing.ts";
import { toHex } from "../wire/hash.ts";

/** Exports one chain's history from a data directory: the canonical interchange text. */
export function slashingExportCommand(options: { dataDir: string; chain: string }): string {
  const path = join(options.dataDir, SLASHING_FILE);
  assertRegularFileIfPresent(path, "the slashing-protection database");
  // Opening would create an empty store: an export of nothing must not look like one.
  if (!existsSync(path)) throw new ConcordError("CONFIG", "no slashing-protection database", { details: `${path} does not exist` });
  const protection = new SlashingProtection({ path });
  protection.open();
  try {
    return serializeInterchange(protection.export(options.chain));
  } finally {
    protection.close();
  }
}

/**
 * Imports an interchange document into a data directory (created if needed), holding the data
 * directory's lock: never beside a running node. Conflicting records are reported, not written.
 */
export function slashingImportCommand(file: string, options: { dataDir: string }): { lines: string[]; conflicts: number } {
  let text: string;
  try {
    text = readRegularFile(file).toString("utf8");
  } catch (cause) {
    if (cause instanceof ConcordError) throw cause;
    throw new ConcordError("CONFIG", `cannot read ${file}`, { details: (cause as NodeJS.ErrnoException).code ?? String(cause), cause });
  }
  const interchange = parseInterchange(text);
  try {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new ConcordError("CONFIG", "cannot create the data directory", { details: `${options.dataDir}: ${(cause as Error).message}`, cause });
  }
  const lock = DataDirLock.acquire(options.dataDir, "slashing import");
  try {
    const path = join(options.dataDir, SLASHING_FILE);
    assertRegularFileIfPresent(path, "the slashing-protection database");
    const protection = new SlashingProtection({ path });
    protection.open();
    let report;
    try {
      report = protection.import(interchange);
    } finally {
      protection.close();
    }
    const [first] = interchange.records;
    // A history holds signatures: the node it belongs to has signed (src/node/history.ts).
    if (first) writeSignedMarker(options.dataDir, { node: first.node, chain: interchange.chain });
    const plural = (n: number) => (n === 1 ? "record" : "records");
    const lines = [
      `${path}: ${report.inserted} ${plural(report.inserted)} imported, ${report.identical} already there, ${report.conflicts.length} in conflict; chain ${report.chain}, floor ${report.floor}`,
      ...report.conflicts.map(
        ({ stored, attempted }) =>
          `conflict, not written: ${attempted.kind} request=${toHex(attempted.request)} node=${attempted.node} stored=${toHex(stored.signingRoot)} imported=${toHex(attempted.signingRoot)}`,
      ),
    ];
    if (report.conflicts.length > 0) lines.push("the two histories signed different data under one identity: find out why before this node signs again");
    return { lines, conflicts: report.conflicts.length };
  } finally {
    lock.release();
  }
}

export function addSlashingCommand(program: Command): void {
  const slashing = program.command("slashing").description("a node's slashing-protection history: export it, import it (spec/slashing-interchange.md)");
  slashing
    .command("export")
    .description("print (or write) one chain's history from a data directory, in the interchange format")
    .requiredOption("--data-dir <dir>", "the node's data directory")
    .requiredOption("--chain <chain>", "the chain (the registry's \"chain\")")
    .option("-o, --out <file>", "write it to this file (mode 0600) instead of stdout")
    .action((options: { dataDir: string; chain: string; out?: string }) => {
      const text = slashingExportCommand(options);
      if (options.out === undefined) return void process.stdout.write(text);
      writeFileSync(options.out, text, { mode: 0o600 });
    });
  slashing
    .command("import")
    .description("merge an interchange file into a data directory's history (the node must be stopped); exit 1 on conflicting records, which are not written")
    .argument("<file>", "interchange JSON file")
    .requiredOption("--data-dir <dir>", "the node's data directory")
    .action((file: string, options: { dataDir: string }) => {
      const result = slashingImportCommand(file, options);
      process.stdout.write(`${result.lines.join("\n")}\n`);
      if (result.conflicts > 0) process.exitCode = 1;
    });
}
