/**
 * Key files. One JSON object per file:
 *   { "format": "concord-keystore", "version": 1, "scheme": "ed25519" | "secp256k1",
 *     "publicKey": hex, "secretKey": hex, "node"?: node id }
 * written with mode 0600 through a temporary file and a rename (or a link, when an existing
 * file must not be replaced), so a crash never leaves a half-written key behind. A file that
 * group or others may read is refused, as ssh refuses such a key.
 *
 * This is the one crypto module that does I/O, so it is also the one that draws randomness for
 * new keys (node:crypto randomBytes); `keyPairFromSeed` stays the pure entry point.
 *
 * @example
 *   const key = await generateKeystore("/var/lib/concord/node.key", "ed25519", { node: "node-01" });
 *   const { keyPair, node } = await readKeystore("/var/lib/concord/node.key");
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { link, open, rename, unlink, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { ConcordError, isConcordError } from "../errors.ts";
import { bytesEqual, fromHex, toHex } from "../wire/hash.ts";
import { MAX_NODE_ID_BYTES } from "../wire/limits.ts";
import { IDENTIFIER } from "../wire/messages.ts";
import type { Bytes, SchemeName } from "../wire/types.ts";
import { keyPairFromSeed, SCHEMES, type KeyPair } from "./schemes.ts";

export const KEYSTORE_FORMAT = "concord-keystore";
export const KEYSTORE_VERSION = 1;
/** The only mode a key file may have: owner read/write. */
export const KEYSTORE_MODE = 0o600;

export interface KeystoreJson {
  format: typeof KEYSTORE_FORMAT;
  version: typeof KEYSTORE_VERSION;
  scheme: SchemeName;
  publicKey: string;
  secretKey: string;
  node?: string;
}

export interface Keystore {
  keyPair: KeyPair;
  /** The node id the key was made for, when the file names one. */
  node?: string;
}

export interface WriteKeystoreOptions {
  /** Replace an existing file (default false: an existing key is never silently lost). */
  overwrite?: boolean;
}

const keystoreError = (message: string, path: string, details?: string, cause?: unknown) =>
  new ConcordError("KEYSTORE", message, { details: details ? `${path}: ${details}` : path, cause });

/** A fresh key pair from 32 random bytes (redrawn for secp256k1 until it is a valid scalar). */
export function generateKeyPair(scheme: SchemeName): KeyPair {
  for (;;) {
    try {
      return keyPairFromSeed(scheme, new Uint8Array(randomBytes(32)));
    } catch (error) {
      // Only secp256k1 can refuse a seed (probability ~2^-128): draw again.
      if (!isConcordError(error, "KEY_INVALID") || scheme !== "secp256k1") throw error;
    }
  }
}

/** The file's JSON form of a key pair. */
export function keystoreToJson(keyPair: KeyPair, node?: string): KeystoreJson {
  if (node !== undefined) checkNode(node, "<new key file>");
  const json: KeystoreJson = {
    format: KEYSTORE_FORMAT,
    version: KEYSTORE_VERSION,
    scheme: keyPair.scheme,
    publicKey: toHex(keyPair.publicKey),
    secretKey: toHex(keyPair.secretKey),
  };
  if (node !== undefined) json.node = node;
  return json;
}

/** Parses a key file's JSON value; throws KEYSTORE naming `path` for anything off. */
export function keystoreFromJson(value: unknown, path: string): Keystore {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw keystoreError("corrupt key file", path, "expected a JSON object");
  const json = value as Record<string, unknown>;
  const known = new Set(["format", "version", "scheme", "publicKey", "secretKey", "node"]);
  const unknown = Object.keys(json).find((key) => !known.has(key));
  if (unknown !== undefined) throw keystoreError("corrupt key file", path, `unknown field "${unknown}"`);
  if (json.format !== KEYSTORE_FORMAT) throw keystoreError("not a concord key file", path, `format must be "${KEYSTORE_FORMAT}"`);
  if (json.version !== KEYSTORE_VERSION) throw keystoreError("unsupported key file version", path, String(json.version));
  if (!SCHEMES.includes(json.scheme as SchemeName)) throw keystoreError("corrupt key file", path, `scheme must be one of ${SCHEMES.join(", ")}`);
  const scheme = json.scheme as SchemeName;
  const secretKey = readHex(json.secretKey, "secretKey", path);
  const publicKey = readHex(json.publicKey, "publicKey", path);
  let keyPair: KeyPair;
  try {
    keyPair = keyPairFromSeed(scheme, secretKey);
  } catch (cause) {
    throw keystoreError("corrupt key file", path, `secretKey: ${(cause as Error).message}`, cause);
  }
  // [REJECT] The stored public key is the one the secret key gives: a mismatch means corruption.
  if (!bytesEqual(keyPair.publicKey, publicKey)) throw keystoreError("corrupt key file", path, "publicKey does not match secretKey");
  if (json.node === undefined) return { keyPair };
  return { keyPair, node: checkNode(json.node, path) };
}

function readHex(value: unknown, field: string, path: string): Bytes {
  if (typeof value !== "string" || !/^([0-9a-f]{2})+$/.test(value)) throw keystoreError("corrupt key file", path, `${field} must be lowercase hex`);
  return fromHex(value);
}

function checkNode(node: unknown, path: string): string {
  if (typeof node !== "string" || !IDENTIFIER.test(node) || node.length > MAX_NODE_ID_BYTES) {
    throw keystoreError("bad node id in key file", path, JSON.stringify(node));
  }
  return node;
}

/**
 * Writes a key file with mode 0600: a temporary file beside it (created 0600, written, synced),
 * then a rename over `path` (overwrite) or a link to `path` that fails if it exists.
 */
export async function writeKeystore(path: string, keyPair: KeyPair, node?: string, options: WriteKeystoreOptions = {}): Promise<void> {
  const text = `${JSON.stringify(keystoreToJson(keyPair, node), null, 2)}\n`;
  const temp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    const handle = await open(temp, "wx", KEYSTORE_MODE);
    try {
      // The umask can only clear bits; chmod makes the mode exactly 0600 whatever it is.
      await handle.chmod(KEYSTORE_MODE);
      await handle.writeFile(text, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.overwrite) {
      await rename(temp, path);
    } else {
      await link(temp, path);
      await unlink(temp);
    }
  } catch (cause) {
    await unlink(temp).catch(() => undefined);
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw keystoreError("key file already exists", path, "refusing to replace an existing key", cause);
    throw keystoreError("cannot write key file", path, (cause as Error).message, cause);
  }
  await syncDirectory(dirname(path));
}

/** Makes the rename durable where the platform allows it (Linux); best effort elsewhere. */
async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await open(directory, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some platforms cannot open or fsync a directory; the file itself is already synced.
  }
}

/** Draws a new key pair and writes it to `path` (never replacing an existing file). */
export async function generateKeystore(path: string, scheme: SchemeName, options: { node?: string } = {}): Promise<KeyPair> {
  const keyPair = generateKeyPair(scheme);
  await writeKeystore(path, keyPair, options.node);
  return keyPair;
}

/**
 * Reads a key file. Throws KEYSTORE when it is missing, not a regular file, readable by group
 * or others (with the chmod that fixes it), or not a valid key file.
 */
export async function readKeystore(path: string): Promise<Keystore> {
  let handle: FileHandle;
  try {
    // Non-blocking: a FIFO at the path opens at once (and is refused below) instead of waiting
    // forever for a writer. O_NONBLOCK is undefined on Windows, which has no FIFOs at a path.
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw keystoreError("no key file", path, "file not found (create one with generateKeystore)", cause);
    throw keystoreError("cannot read key file", path, (cause as Error).message, cause);
  }
  let text: string;
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw keystoreError("not a key file", path, "not a regular file");
    // [REJECT] Only the owner may read a key (POSIX modes; Windows has no such bits).
    if (process.platform !== "win32" && (info.mode & 0o077) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(3, "0");
      throw keystoreError("key file is readable by group or others", path, `mode ${mode}; run: chmod 600 ${path}`);
    }
    text = await handle.readFile("utf8");
  } catch (cause) {
    if (isConcordError(cause)) throw cause;
    throw keystoreError("cannot read key file", path, (cause as Error).message, cause);
  } finally {
    await handle.close();
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw keystoreError("corrupt key file", path, "not valid JSON", cause);
  }
  return keystoreFromJson(value, path);
}
