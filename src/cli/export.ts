/**
 * `concord export`: one request's outcome (its agreed bundle, or the sequencer's signed
 * NoAgreement), or the request itself, read from a pool's outcome store by request id, as the
 * JSON rendering, hex, or canonical bytes in a file: what `concord verify` and `concord inspect`
 * read. The store is opened read-only and never created; while a pool runs it holds the file
 * alone (src/sequencer/store.ts), and the export is refused with STORE rather than waiting.
 */
import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { ConcordError } from "../errors.ts";
import { SqliteOutcomeStore } from "../sequencer/store.ts";
import { fromHex, toHex } from "../wire/hash.ts";
import { messageToJson } from "../wire/json.ts";
import { decodeMessage } from "../wire/messages.ts";
import { describeMessage } from "./inspect.ts";

export interface ExportOptions {
  store: string;
  /** The request message instead of its outcome (also while it is pending). */
  request?: boolean;
  /** Hex of the canonical bytes instead of the JSON rendering. */
  hex?: boolean;
  /** Write the canonical bytes (CBOR) to this file; stdout gets one line saying what. */
  out?: string;
}

/** How long an export waits for a store another process holds: a running pool never lets go. */
const BUSY_TIMEOUT_MS = 1_000;

/** What `concord export` prints on stdout (and writes to `--out`); throws CONFIG or STORE. */
export async function exportCommand(id: string, options: ExportOptions): Promise<string> {
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(id)) throw new ConcordError("CONFIG", "a request id is 32 bytes of hex", { details: id });
  const requestId = fromHex(id.replace(/^0x/, "").toLowerCase());
  const store = new SqliteOutcomeStore({ path: options.store, readOnly: true, busyTimeoutMs: BUSY_TIMEOUT_MS });
  try {
    store.open();
  } catch (error) {
    // The path is the operator's to fix: the same exit code as any other configuration mistake.
    if (error instanceof ConcordError && error.message.startsWith("no outcome store")) throw new ConcordError("CONFIG", error.message, { cause: error });
    throw error;
  }
  let record;
  try {
    record = await store.get(requestId);
  } finally {
    await store.close();
  }
  const hexId = toHex(requestId);
  if (!record) throw new ConcordError("STORE", "no such request in the outcome store", { details: `${hexId} in ${options.store}` });
  let encoded: Uint8Array;
  if (options.request === true) encoded = record.request.encoded;
  else if (record.outcome) encoded = record.outcome.encoded;
  else throw new ConcordError("STORE", "the request has no outcome yet (pending)", { details: `${hexId}; --request exports the request itself` });
  // Decoded strictly on the way out: a damaged row is reported here, not by whoever reads the file.
  const message = decodeMessage(encoded, options.request === true ? "request" : record.outcome?.kind === "agreed" ? "bundle" : "no-agreement");
  if (options.out !== undefined) {
    try {
      writeFileSync(options.out, encoded);
    } catch (cause) {
      throw new ConcordError("CONFIG", `cannot write ${options.out}`, { details: (cause as NodeJS.ErrnoException).code ?? String(cause), cause });
    }
    return `${describeMessage(message)} written to ${options.out}`;
  }
  if (options.hex === true) return toHex(encoded);
  return JSON.stringify(messageToJson(message), null, 2);
}

export function addExportCommand(program: Command): void {
  program
    .command("export")
    .description("print a request's outcome (agreed bundle or signed NoAgreement) from a pool's outcome store, for concord verify / inspect")
    .argument("<request-id>", "the request id, 64 hex digits (0x optional)")
    .requiredOption("-s, --store <file>", "the pool's outcome store (SQLite file; read-only, never created)")
    .option("--request", "export the request message instead of its outcome (works while it is pending)")
    .option("--hex", "print the canonical bytes as hex instead of the JSON rendering")
    .option("-o, --out <file>", "write the canonical bytes (CBOR) to this file")
    .addHelpText(
      "after",
      [
        "",
        "Every form (JSON, hex, CBOR file) is what `concord verify <file> --registry <file>` and",
        "`concord inspect <file>` read.",
        "",
        "A running pool holds its store alone (the lock that keeps a second pool out): export from",
        "a stopped pool's file. Exit codes: 0 exported; 1 the store is in use,",
        "damaged, has no such request, or the request is still pending; 2 bad usage (a malformed",
        "id, no store at that path).",
      ].join("\n"),
    )
    .action(async (id: string, options: ExportOptions) => {
      process.stdout.write(`${await exportCommand(id, options)}\n`);
    });
}
