/**
 * `concord registry new|add|check`: write and check the registry file (spec/05-committee.md)
 * instead of editing it by hand. Every change goes through createRegistry, so a file these
 * commands write is one the node and the sequencer load (no duplicate ids or keys, no member
 * holding the sequencer's key, weights in range).
 */
import { existsSync, renameSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { readKeystore } from "../crypto/keystore.ts";
import { SCHEMES } from "../crypto/schemes.ts";
import { ConcordError } from "../errors.ts";
import { createRegistry, registryConfigToJson, type Registry, type RegistryConfig } from "../quorum/registry.ts";
import { fromHex, toHex } from "../wire/hash.ts";
import { readRegistryConfigFile, readRegistryFile } from "./io.ts";
import type { Bytes, SchemeName } from "../wire/types.ts";

/** A public key named on the command line: a key file (its public half is read), or hex with a scheme. */
export interface KeySource {
  /** A key file written by `concord keys new` or `keys import`. */
  keystore?: string;
  /** A public key as hex (with `scheme`), for a key whose secret half lives elsewhere. */
  publicKey?: string;
  scheme?: string;
}

async function resolveKey(source: KeySource, what: string): Promise<{ scheme: SchemeName; publicKey: Bytes; node?: string }> {
  if ((source.keystore === undefined) === (source.publicKey === undefined)) {
    throw new ConcordError("CONFIG", `${what}: give a key file or a public key`, { details: "one of --keystore <file> or --public-key <hex> (with --scheme)" });
  }
  if (source.keystore !== undefined) {
    const { keyPair, node } = await readKeystore(source.keystore);
    return { scheme: keyPair.scheme, publicKey: keyPair.publicKey, ...(node !== undefined ? { node } : {}) };
  }
  const scheme = source.scheme ?? "ed25519";
  if (!SCHEMES.includes(scheme as SchemeName)) throw new ConcordError("CONFIG", "unknown scheme", { details: `${scheme}; choose ${SCHEMES.join(" or ")}` });
  const hex = (source.publicKey as string).replace(/^0x/, "");
  if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new ConcordError("CONFIG", `${what}: the public key must be hex`, { details: source.publicKey as string });
  return { scheme: scheme as SchemeName, publicKey: fromHex(hex.toLowerCase()) };
}


/** Validates, then replaces the file in one rename (a reader sees the old or the new registry). */
function writeRegistry(path: string, config: RegistryConfig, options: { overwrite: boolean }): Registry {
  const registry = createRegistry(config);
  if (!options.overwrite && existsSync(path)) throw new ConcordError("CONFIG", "registry file exists", { details: `${path} (--force replaces it)` });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(registryConfigToJson(config), null, 2)}\n`);
  renameSync(temp, path);
  return registry;
}

function summary(path: string, registry: Registry): string {
  const weight = registry.members.reduce((sum, member) => sum + member.weight, 0);
  return [
    `${path}: chain ${registry.chain}, ${registry.members.length} node${registry.members.length === 1 ? "" : "s"}, total weight ${weight}`,
    `  sequencer  ${registry.sequencer.scheme} ${toHex(registry.sequencer.bytes)}`,
    ...registry.members.map((member) => `  ${member.id.padEnd(10)} ${member.scheme} ${toHex(member.publicKey)} weight ${member.weight}${registry.subnets > 1 ? ` subnet ${member.subnet}` : ""}`),
    ...(registry.subnets > 1
      ? registry.subnetMembers.map((members, s) => `  subnet ${s}: ${members.length} node${members.length === 1 ? "" : "s"}, weight ${members.reduce((sum, member) => sum + member.weight, 0)} (seats committees of n <= ${members.length})`)
      : []),
  ].join("\n");
}

export interface RegistryNewOptions {
  out: string;
  chain: string;
  /** The sequencer's key. */
  sequencer: KeySource;
  /** Subnets S (spec/05); default 1, and the file then names none. */
  subnets?: number;
  force?: boolean;
}

/** Writes a registry with a chain id, the sequencer's key and no nodes yet. */
export async function registryNewCommand(options: RegistryNewOptions): Promise<string> {
  const key = await resolveKey(options.sequencer, "sequencer");
  const config: RegistryConfig = { chain: options.chain, sequencer: { scheme: key.scheme, publicKey: key.publicKey }, nodes: [] };
  if (options.subnets !== undefined && options.subnets !== 1) config.subnets = options.subnets;
  const registry = writeRegistry(options.out, config, { overwrite: options.force === true });
  return `wrote ${summary(options.out, registry)}\nadd nodes with: concord registry add ${options.out} --keystore <node.key.json>`;
}

export interface RegistryAddOptions extends KeySource {
  /** The node id; default: the one the key file names. */
  node?: string;
  weight?: number;
}

/** Adds one node; the whole registry is checked (createRegistry) before the file is replaced. */
export async function registryAddCommand(path: string, options: RegistryAddOptions): Promise<string> {
  const config = readRegistryConfigFile(path);
  const key = await resolveKey(options, "node");
  const id = options.node ?? key.node;
  if (id === undefined) throw new ConcordError("CONFIG", "no node id", { details: "the key file names none: pass --node <id>" });
  const weight = options.weight ?? 1;
  const registry = writeRegistry(path, { ...config, nodes: [...config.nodes, { id, scheme: key.scheme, publicKey: key.publicKey, weight }] }, { overwrite: true });
  return `added ${id} (${key.scheme} ${toHex(key.publicKey)}, weight ${weight})\n${summary(path, registry)}`;
}

/** Loads the registry as a node does; a bad one is a CONFIG error naming the first problem. */
export function registryCheckCommand(path: string): string {
  return `ok ${summary(path, readRegistryFile(path))}`;
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new ConcordError("CONFIG", "expected a positive integer", { details: value });
  return number;
}

export function addRegistryCommand(program: Command): void {
  const registry = program.command("registry").description("write and check the registry file (chain, sequencer key, nodes)");
  registry
    .command("new")
    .description("write a registry with the sequencer's key and no nodes")
    .requiredOption("-o, --out <file>", "where to write the registry")
    .requiredOption("--chain <id>", "the chain id every message names")
    .option("--keystore <file>", "the sequencer's key file (its public key is read)")
    .option("--public-key <hex>", "the sequencer's public key, instead of a key file")
    .option("--scheme <scheme>", "with --public-key: ed25519 (default) or secp256k1")
    .option("--subnets <S>", "split the nodes into S subnets, each request served within one (spec/05; default 1)", positiveInteger)
    .option("--force", "replace an existing file")
    .action(async (options: { out: string; chain: string; keystore?: string; publicKey?: string; scheme?: string; subnets?: number; force?: boolean }) => {
      const sequencer: KeySource = {
        ...(options.keystore !== undefined ? { keystore: options.keystore } : {}),
        ...(options.publicKey !== undefined ? { publicKey: options.publicKey } : {}),
        ...(options.scheme !== undefined ? { scheme: options.scheme } : {}),
      };
      const extra = { ...(options.subnets !== undefined ? { subnets: options.subnets } : {}), ...(options.force ? { force: true } : {}) };
      process.stdout.write(`${await registryNewCommand({ out: options.out, chain: options.chain, sequencer, ...extra })}\n`);
    });
  registry
    .command("add")
    .description("add a node (refused if its id or key is already registered)")
    .argument("<registry>", "the registry file, replaced in place")
    .option("--keystore <file>", "the node's key file (its public key and node id are read)")
    .option("--public-key <hex>", "the node's public key, instead of a key file")
    .option("--scheme <scheme>", "with --public-key: ed25519 (default) or secp256k1")
    .option("--node <id>", "the node id (default: the one in the key file)")
    .option("--weight <n>", "stake weight (default 1)", positiveInteger)
    .action(async (path: string, options: RegistryAddOptions) => {
      process.stdout.write(`${await registryAddCommand(path, options)}\n`);
    });
  registry
    .command("check")
    .description("load a registry as a node does; exit 2 naming the first problem")
    .argument("<registry>", "the registry file")
    .action((path: string) => {
      process.stdout.write(`${registryCheckCommand(path)}\n`);
    });
}
