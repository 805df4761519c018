/**
 * The JSON rendering of messages, for people and tools (`concord inspect`, `concord verify`):
 * byte fields as "0x…" hex, evidence as number lists. Never signed: a message read from JSON is
 * re-encoded and strictly decoded, so it is exactly as valid as its canonical bytes.
 */
import { schemaError } from "./cbor.ts";
import { fromHex, toHex } from "./hash.ts";
import { decodeMessage, encodeMessage } from "./messages.ts";
import type { Message, MessageKind } from "./types.ts";

/** Keys whose values are bytes wherever they appear as strings. */
const BYTE_KEYS = new Set(["entropy", "weights", "sig", "request", "commitment", "salt", "commitmentSig", "outputHash"]);

export function messageToJson(message: Message): unknown {
  return render(message);
}

function render(value: unknown): unknown {
  if (value instanceof Uint8Array) return `0x${toHex(value)}`;
  if (Array.isArray(value)) return value.map(render);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, render(item)]));
  }
  return value;
}

function parse(value: unknown, key: string | undefined, path: string): unknown {
  if (typeof value === "string" && key !== undefined && BYTE_KEYS.has(key)) {
    if (!value.startsWith("0x")) throw schemaError(path, "bytes are written as 0x-prefixed hex");
    try {
      return fromHex(value.slice(2));
    } catch {
      throw schemaError(path, "not hex");
    }
  }
  if (Array.isArray(value)) return value.map((item, i) => parse(item, undefined, `${path}[${i}]`));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, item]) => [k, parse(item, k, `${path}.${k}`)]));
  }
  return value;
}

/** Reads a message from its JSON rendering; throws the same typed errors as decodeMessage. */
export function messageFromJson(json: unknown, expected?: MessageKind): Message {
  const candidate = parse(json, undefined, "$") as Message;
  let bytes: Uint8Array;
  try {
    bytes = encodeMessage(candidate);
  } catch (cause) {
    throw schemaError("$", `cannot be encoded: ${(cause as Error).message}`);
  }
  return expected ? decodeMessage(bytes, expected) : decodeMessage(bytes);
}
