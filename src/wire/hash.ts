import { createHash } from "node:crypto";
import type { Bytes } from "./types.ts";

const encoder = new TextEncoder();

/** UTF-8 bytes of a string. */
export function utf8(text: string): Bytes {
  return encoder.encode(text);
}

/**
 * SHA-256 of the concatenation of `parts` (strings as UTF-8). node:crypto is ~12x faster than a
 * pure-JS SHA-256 here and gives the same bytes; hashing is pure computation, no I/O.
 */
export function sha256(...parts: (Bytes | string)[]): Bytes {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(typeof part === "string" ? encoder.encode(part) : part);
  return new Uint8Array(hash.digest().buffer.slice(0));
}

/** Domain-separated hash: SHA-256(len(domain) || domain || parts...), so no two uses collide. */
export function taggedHash(domain: string, ...parts: (Bytes | string)[]): Bytes {
  const tag = encoder.encode(domain);
  return sha256(Uint8Array.of(tag.length), tag, ...parts);
}

/** Hash of a model output: the value policies and bundles name an output by. */
export function outputHash(output: string): Bytes {
  return taggedHash("concord/output", output);
}

export function toHex(bytes: Bytes): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

export function fromHex(hex: string): Bytes {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new TypeError(`not hex: ${hex.slice(0, 16)}`);
  return new Uint8Array(Buffer.from(hex, "hex"));
}

export function bytesEqual(a: Bytes, b: Bytes): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Byte-wise order (shorter prefix first): the order ties are broken in across the spec. */
export function compareBytes(a: Bytes, b: Bytes): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
