import { generateKeyPair, writeKeystore } from "../crypto/keystore.ts";
import { SCHEMES } from "../crypto/schemes.ts";
import { ConcordError } from "../errors.ts";
import { toHex } from "../wire/hash.ts";
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
