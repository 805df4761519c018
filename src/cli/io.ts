/** Reading messages and registries from files for the CLI: CBOR, hex text or the JSON rendering. */
import { readFileSync } from "node:fs";
import type { PolicyRegistry } from "../agreement/policy.ts";
import { createDefaultPolicyRegistry } from "../agreement/registry.ts";
import { ConcordError } from "../errors.ts";
import { createRegistry, registryConfigFromJson, type Registry, type RegistryConfig } from "../quorum/registry.ts";
import { fromHex } from "../wire/hash.ts";
import { messageFromJson } from "../wire/json.ts";
import { decodeMessage } from "../wire/messages.ts";
import type { Message } from "../wire/types.ts";

function readFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new ConcordError("CONFIG", `cannot read ${path}`, { details: (cause as NodeJS.ErrnoException).code ?? String(cause), cause });
  }
}

/** A message file: canonical CBOR bytes, their hex, or the JSON rendering (`concord inspect --json`). */
export function readMessageFile(path: string): Message {
  const bytes = readFile(path);
  const text = bytes.toString("utf8").trim();
  if (text.startsWith("{")) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      throw new ConcordError("WIRE_DECODE", "not valid JSON", { details: path, cause });
    }
    return messageFromJson(json);
  }
  if (/^(0x)?[0-9a-fA-F]+$/.test(text)) return decodeMessage(fromHex(text.replace(/^0x/, "")));
  return decodeMessage(new Uint8Array(bytes));
}

/** Reads a registry JSON file's configuration (its shape checked, not yet its rules). */
export function readRegistryConfigFile(path: string): RegistryConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFile(path).toString("utf8"));
  } catch (cause) {
    if (cause instanceof ConcordError) throw cause;
    throw new ConcordError("CONFIG", `registry ${path} is not valid JSON`, { cause });
  }
  return registryConfigFromJson(json);
}

/** Reads and validates a registry JSON file. */
export function readRegistryFile(path: string): Registry {
  return createRegistry(readRegistryConfigFile(path));
}

export function defaultPolicies(): PolicyRegistry {
  return createDefaultPolicyRegistry();
}
