import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { generateKeyPair, readKeystore, writeKeystore } from "../crypto/keystore.ts";
import { keyPairFromSeed, SCHEMES } from "../crypto/schemes.ts";
import { ConcordError, isConcordError } from "../errors.ts";
import { fromHex, toHex } from "../wire/hash.ts";
import type { SchemeName } from "../wire/types.ts";

export interface KeysNewOptions {
  out: string;
  scheme: string;
  node?: string;
  force?: boolean;
}

/** Writes a new key file (mode 0600) and returns the registry entry to publish. */
export async function keysNewCommand(options: KeysNewOptions): Promise<string> {
  if (!SCHEMES.includes(options.scheme as SchemeName)) {
    throw new ConcordError("CONFIG", "unknown scheme", { details: `${options.scheme}; choose ${SCHEMES.join(" or ")}` });
  }
  const keyPair = generateKeyPair(options.scheme as SchemeName);
  await writeKeystore(options.out, keyPair, options.node, { overwrite: options.force === true });
  const entry = { id: options.node ?? "<node id>", scheme: keyPair.scheme, publicKey: toHex(keyPair.publicKey), weight: 1 };
  return [`wrote ${options.out} (mode 0600; keep it secret)`, "registry entry:", JSON.stringify(entry, null, 2)].join("\n");
}

export interface KeysImportOptions {
  out: string;
  scheme: string;
  node?: string;
  force?: boolean;
}

/**
 * Writes a key file (mode 0600) from an existing secret key: a file holding its 32 bytes as hex
 * (never a command-line argument, which shell history and `ps` would keep). Prints the registry entry.
 */
export async function keysImportCommand(secretFile: string, options: KeysImportOptions): Promise<string> {
  if (!SCHEMES.includes(options.scheme as SchemeName)) {
    throw new ConcordError("CONFIG", "unknown scheme", { details: `${options.scheme}; choose ${SCHEMES.join(" or ")}` });
  }
  let text: string;
  try {
    text = readFileSync(secretFile, "utf8").trim().replace(/^0x/, "").toLowerCase();
  } catch (cause) {
    throw new ConcordError("CONFIG", `cannot read ${secretFile}`, { details: (cause as NodeJS.ErrnoException).code ?? String(cause), cause });
  }
  if (!/^[0-9a-f]{64}$/.test(text)) throw new ConcordError("CONFIG", "not a secret key", { details: `${secretFile}: expected 32 bytes as hex (64 characters)` });
  let keyPair;
  try {
    keyPair = keyPairFromSeed(options.scheme as SchemeName, fromHex(text));
  } catch (cause) {
    throw new ConcordError("CONFIG", "not a secret key", { details: `${secretFile}: ${(cause as Error).message}`, cause });
  }
  await writeKeystore(options.out, keyPair, options.node, { overwrite: options.force === true });
  const entry = { id: options.node ?? "<node id>", scheme: keyPair.scheme, publicKey: toHex(keyPair.publicKey), weight: 1 };
  return [`wrote ${options.out} (mode 0600; keep it secret; delete ${secretFile} once the key file is backed up)`, "registry entry:", JSON.stringify(entry, null, 2)].join("\n");
}

/** Lists key files (given, or the *.key.json files of given folders): node, scheme, public key; never a secret. */
export async function keysListCommand(paths: readonly string[]): Promise<string> {
  const files: string[] = [];
  for (const path of paths.length > 0 ? paths : ["."]) {
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) {
      files.push(...readdirSync(path).filter((name) => name.endsWith(".key.json")).sort().map((name) => join(path, name)));
    } else files.push(path);
  }
  if (files.length === 0) return "no key files (*.key.json)";
  const lines: string[] = [];
  for (const file of files) {
    try {
      const { keyPair, node } = await readKeystore(file);
      lines.push(`${file}  node ${node ?? "-"}  ${keyPair.scheme} ${toHex(keyPair.publicKey)}`);
    } catch (error) {
      if (!isConcordError(error)) throw error;
      process.exitCode = 1;
      lines.push(`${file}  ERROR ${error.message}`);
    }
  }
  return lines.join("\n");
}

export function addKeysCommand(program: Command): void {
  const keys = program.command("keys").description("manage node keys");
  keys
    .command("new")
    .description("generate a key file (mode 0600) and print its registry entry")
    .requiredOption("-o, --out <file>", "where to write the key file")
    .option("--scheme <scheme>", "ed25519 (default) or secp256k1 (ecrecover-compatible)", "ed25519")
    .option("--node <id>", "the node id this key is for")
    .option("--force", "overwrite an existing key file")
    .action(async (options: KeysNewOptions) => {
      process.stdout.write(`${await keysNewCommand(options)}\n`);
    });
  keys
    .command("import")
    .description("write a key file (mode 0600) from an existing secret key, and print its registry entry")
    .argument("<secret-file>", "a file holding the 32-byte secret key as hex")
    .requiredOption("-o, --out <file>", "where to write the key file")
    .option("--scheme <scheme>", "ed25519 (default) or secp256k1", "ed25519")
    .option("--node <id>", "the node id this key is for")
    .option("--force", "overwrite an existing key file")
    .action(async (secretFile: string, options: KeysImportOptions) => {
      process.stdout.write(`${await keysImportCommand(secretFile, options)}\n`);
    });
  keys
    .command("list")
    .description("list key files: node id, scheme, public key (exit 1 if one cannot be read)")
    .argument("[paths...]", "key files or folders holding *.key.json (default: the current folder)")
    .action(async (paths: string[]) => {
      process.stdout.write(`${await keysListCommand(paths)}\n`);
    });
}
