/**
 * The node registry (spec/05-committee.md): who may serve on committees, with which key and
 * weight, and the sequencer's key. Keys are validated once here, so every later signature
 * check is a single verify call.
 */
import { ConcordError } from "../errors.ts";
import { publicKey, SCHEMES, type PublicKey, type PublicKeyOptions } from "../crypto/schemes.ts";
import { compareBytes, fromHex, taggedHash, toHex } from "../wire/hash.ts";
import { MAX_CHAIN_ID_BYTES, MAX_NODE_ID_BYTES } from "../wire/limits.ts";
import { IDENTIFIER } from "../wire/messages.ts";
import type { Bytes, SchemeName } from "../wire/types.ts";

export interface RegistryEntry {
  id: string;
  scheme: SchemeName;
  publicKey: Bytes;
  /** Stake weight: a positive integer below 2^32. */
  weight: number;
}

export interface RegistryConfig {
  chain: string;
  sequencer: { scheme: SchemeName; publicKey: Bytes };
  nodes: RegistryEntry[];
  /**
   * Subnets S (spec/05-committee.md, "Subnets"): members are dealt into S groups, and a request's
   * committee is drawn from, and its traffic travels within, one of them. Default: 1, the whole
   * registry (and the field is absent from the file).
   */
  subnets?: number;
}

export interface RegistryMember extends RegistryEntry {
  key: PublicKey;
  /** The member's home subnet, 0..subnets-1 (0 when the registry has one). */
  subnet: number;
}

export interface Registry {
  readonly chain: string;
  readonly sequencer: PublicKey;
  /** Members sorted by id: the order the committee draw walks. */
  readonly members: readonly RegistryMember[];
  readonly byId: ReadonlyMap<string, RegistryMember>;
  /** S, at least 1. */
  readonly subnets: number;
  /** Each subnet's members, sorted by id; with S = 1 the one entry is `members`. */
  readonly subnetMembers: readonly (readonly RegistryMember[])[];
}

const MAX_WEIGHT = 2 ** 32 - 1;

/** Most subnets a registry may have: a node subscribes to 6 topics per subnet it serves (a pool to all). */
export const MAX_SUBNETS = 64;

/**
 * Deals members into `subnets` home subnets (spec/05, "Subnets"): heaviest first, equal weights in
 * the order of H("concord/subnet-order", id), dealt in a snake (0, 1, .., S-1, S-1, .., 0, 0, ..).
 * Member counts differ by at most one, so the smallest subnet is as large as it can be (it caps
 * the committee size), and each round of the snake gives every subnet one of the next S weights,
 * so weights balance too. The hash keeps an operator's similar names from landing together.
 */
export function assignSubnets(members: readonly RegistryEntry[], subnets: number): Map<string, number> {
  const keyed = members.map((member) => ({ member, order: taggedHash("concord/subnet-order", member.id) }));
  keyed.sort((a, b) => b.member.weight - a.member.weight || compareBytes(a.order, b.order));
  const home = new Map<string, number>();
  keyed.forEach(({ member }, position) => {
    const round = Math.floor(position / subnets);
    const slot = position % subnets;
    home.set(member.id, round % 2 === 0 ? slot : subnets - 1 - slot);
  });
  return home;
}

function configError(details: string, cause?: unknown): ConcordError {
  return new ConcordError("CONFIG", "invalid registry", { details, cause });
}

/** A key's identity: schemes' encodings are canonical (04-signing.md), so equal bytes are one key. */
function keyName(scheme: SchemeName, bytes: Bytes): string {
  return `${scheme}/${toHex(bytes)}`;
}

/**
 * Validates a registry and its keys; throws CONFIG naming the first bad entry. One key is one
 * member: a key under two node ids would give its holder two votes that verifyBundle counts as
 * two members, and a node holding the sequencer's key could sign closes as well as votes.
 */
export function createRegistry(config: RegistryConfig, options: PublicKeyOptions = {}): Registry {
  if (!IDENTIFIER.test(config.chain) || config.chain.length > MAX_CHAIN_ID_BYTES) throw configError(`bad chain id "${config.chain}"`);
  let sequencer: PublicKey;
  try {
    sequencer = publicKey(config.sequencer.scheme, config.sequencer.publicKey, options);
  } catch (cause) {
    throw configError(`sequencer key: ${(cause as Error).message}`, cause);
  }
  const byId = new Map<string, Omit<RegistryMember, "subnet">>();
  const holders = new Map<string, string>([[keyName(sequencer.scheme, sequencer.bytes), "the sequencer"]]);
  for (const entry of config.nodes) {
    if (!IDENTIFIER.test(entry.id) || entry.id.length > MAX_NODE_ID_BYTES) throw configError(`bad node id "${entry.id}"`);
    if (byId.has(entry.id)) throw configError(`node "${entry.id}" listed twice`);
    if (!Number.isInteger(entry.weight) || entry.weight < 1 || entry.weight > MAX_WEIGHT) {
      throw configError(`node "${entry.id}": weight must be an integer in 1..${MAX_WEIGHT}`);
    }
    let key: PublicKey;
    try {
      key = publicKey(entry.scheme, entry.publicKey, options);
    } catch (cause) {
      throw configError(`node "${entry.id}": ${(cause as Error).message}`, cause);
    }
    const holder = holders.get(keyName(key.scheme, key.bytes));
    if (holder !== undefined) throw configError(`node "${entry.id}" has the key of ${holder}: one key, one member`);
    holders.set(keyName(key.scheme, key.bytes), `node "${entry.id}"`);
    byId.set(entry.id, { ...entry, key });
  }
  const subnets = config.subnets ?? 1;
  // 1 <= S <= MAX_SUBNETS. More subnets than nodes loads (as a registry without nodes does):
  // `concord registry new --subnets` writes S before any node, and an empty subnet only refuses its draws.
  if (!Number.isInteger(subnets) || subnets < 1 || subnets > MAX_SUBNETS) throw configError(`subnets must be an integer in 1..${MAX_SUBNETS}`);
  const home = subnets === 1 ? undefined : assignSubnets([...byId.values()], subnets);
  const members = [...byId.values()]
    .map((member) => ({ ...member, subnet: home?.get(member.id) ?? 0 }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  const sorted = new Map(members.map((member) => [member.id, member]));
  const subnetMembers = Array.from({ length: subnets }, (_, s) => (subnets === 1 ? members : members.filter((member) => member.subnet === s)));
  return { chain: config.chain, sequencer, members, byId: sorted, subnets, subnetMembers };
}

/** The registry file's JSON form: keys as hex. */
export interface RegistryJson {
  chain: string;
  sequencer: { scheme: string; publicKey: string };
  nodes: { id: string; scheme: string; publicKey: string; weight: number }[];
  /** Absent means 1. */
  subnets?: number;
}

function readScheme(value: unknown, where: string): SchemeName {
  if (!SCHEMES.includes(value as SchemeName)) throw configError(`${where}: scheme must be one of ${SCHEMES.join(", ")}`);
  return value as SchemeName;
}

function readHexKey(value: unknown, where: string): Bytes {
  try {
    if (typeof value !== "string") throw new TypeError("expected a hex string");
    return fromHex(value);
  } catch (cause) {
    throw configError(`${where}: publicKey must be hex`, cause);
  }
}

/** Parses the registry file's JSON value (already parsed from text) into a config. */
export function registryConfigFromJson(value: unknown): RegistryConfig {
  if (typeof value !== "object" || value === null) throw configError("expected a JSON object");
  const json = value as Partial<RegistryJson>;
  if (typeof json.chain !== "string") throw configError("missing \"chain\"");
  if (typeof json.sequencer !== "object" || json.sequencer === null) throw configError("missing \"sequencer\"");
  if (!Array.isArray(json.nodes)) throw configError("missing \"nodes\" list");
  if (json.subnets !== undefined && typeof json.subnets !== "number") throw configError("\"subnets\" must be a number");
  return {
    chain: json.chain,
    sequencer: { scheme: readScheme(json.sequencer.scheme, "sequencer"), publicKey: readHexKey(json.sequencer.publicKey, "sequencer") },
    nodes: json.nodes.map((node, i) => {
      const where = `nodes[${i}]`;
      if (typeof node !== "object" || node === null) throw configError(`${where}: expected an object`);
      if (typeof node.id !== "string") throw configError(`${where}: missing "id"`);
      if (typeof node.weight !== "number") throw configError(`${where}: missing "weight"`);
      return { id: node.id, scheme: readScheme(node.scheme, where), publicKey: readHexKey(node.publicKey, where), weight: node.weight };
    }),
    ...(json.subnets !== undefined ? { subnets: json.subnets } : {}),
  };
}

export function registryConfigToJson(config: RegistryConfig): RegistryJson {
  return {
    chain: config.chain,
    sequencer: { scheme: config.sequencer.scheme, publicKey: toHex(config.sequencer.publicKey) },
    nodes: config.nodes.map((node) => ({ id: node.id, scheme: node.scheme, publicKey: toHex(node.publicKey), weight: node.weight })),
    ...(config.subnets !== undefined ? { subnets: config.subnets } : {}),
  };
}
