/**
 * A GGUF file's layout (header, metadata, tensor table), read without loading the model, and
 * a random-weight copy of a model: the same architecture, shapes and tokenizer, seeded noise for
 * every weight. The copy is "another model" in the plainest sense — what a lazy node that skips
 * the real model would run — for the byzantine wrong-model mode (src/node/byzantine.ts) and tests.
 *
 * Format (GGUF v2/v3, little-endian): "GGUF", version u32, tensor count u64, metadata count u64,
 * the metadata (key string, value type u32, value), the tensor table (name, n_dims u32, dims u64,
 * ggml type u32, offset u64 from the data section), then the data section at the next multiple of
 * `general.alignment` (default 32). A string is a u64 byte length and UTF-8 bytes.
 *
 * @example
 * writeRandomWeightModel("models/concord-wordnet-1m.gguf", "/tmp/lazy.gguf", "seed");
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { ConcordError } from "../errors.ts";
import { taggedHash } from "../wire/hash.ts";
import { mulberry32 } from "../sim/prng.ts";

export interface GgufTensor {
  name: string;
  dims: number[];
  /** ggml type id: 0 F32, 1 F16, others quantized or integer. */
  type: number;
  /** Byte offset of the tensor's data in the file. */
  fileOffset: number;
}

export interface GgufLayout {
  version: number;
  alignment: number;
  /** Where the data section starts. */
  dataOffset: number;
  tensors: GgufTensor[];
}

const GGML_F32 = 0;
const GGML_F16 = 1;
/** Bytes of each GGUF metadata scalar type, by type id (8 string and 9 array are read apart). */
const SCALAR_BYTES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const TYPE_STRING = 8;
const TYPE_ARRAY = 9;
/** Guards against a corrupt count sending the reader into a huge loop. */
const MAX_ENTRIES = 1 << 24;

function formatError(path: string, what: string): ConcordError {
  return new ConcordError("CONFIG", "not a GGUF model file the random-weight copy can read", { details: `${path}: ${what}` });
}

/** Reads a GGUF file's header, metadata and tensor table (the data section is not read). */
export function readGgufLayout(path: string): GgufLayout {
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number) => {
    if (at + n > bytes.byteLength) throw formatError(path, "truncated header");
  };
  const u32 = () => (need(4), (at += 4), view.getUint32(at - 4, true));
  const u64 = () => {
    need(8);
    const value = view.getBigUint64(at, true);
    at += 8;
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw formatError(path, "a length beyond 2^53");
    return Number(value);
  };
  const string = () => {
    const length = u64();
    need(length);
    at += length;
    return bytes.toString("utf8", at - length, at);
  };
  const skipValue = (type: number, depth: number): void => {
    if (type === TYPE_STRING) return void string();
    if (type === TYPE_ARRAY) {
      if (depth > 4) throw formatError(path, "arrays nested too deep");
      const element = u32();
      const count = u64();
      if (count > MAX_ENTRIES) throw formatError(path, "an array too long");
      const size = SCALAR_BYTES[element];
      if (size !== undefined) return void (need(size * count), (at += size * count));
      for (let i = 0; i < count; i++) skipValue(element, depth + 1);
      return;
    }
    const size = SCALAR_BYTES[type];
    if (size === undefined) throw formatError(path, `unknown metadata type ${type}`);
    need(size);
    at += size;
  };
  if (bytes.byteLength < 4 || bytes.toString("latin1", 0, 4) !== "GGUF") throw formatError(path, "no GGUF magic");
  at = 4;
  const version = u32();
  if (version !== 2 && version !== 3) throw formatError(path, `GGUF version ${version} (2 or 3 expected)`);
  const tensorCount = u64();
  const metadataCount = u64();
  if (tensorCount > MAX_ENTRIES || metadataCount > MAX_ENTRIES) throw formatError(path, "implausible counts");
  let alignment = 32;
  for (let i = 0; i < metadataCount; i++) {
    const key = string();
    const type = u32();
    if (key === "general.alignment" && type === 4) {
      alignment = u32();
      if (alignment === 0 || (alignment & (alignment - 1)) !== 0) throw formatError(path, `alignment ${alignment}`);
    } else skipValue(type, 0);
  }
  const table: { name: string; dims: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = string();
    const nDims = u32();
    if (nDims > 8) throw formatError(path, `tensor ${name} has ${nDims} dimensions`);
    const dims = Array.from({ length: nDims }, u64);
    const type = u32();
    const offset = u64();
    table.push({ name, dims, type, offset });
  }
  const dataOffset = Math.ceil(at / alignment) * alignment;
  const tensors = table.map(({ offset, ...tensor }) => ({ ...tensor, fileOffset: dataOffset + offset }));
  return { version, alignment, dataOffset, tensors };
}

/** float32 to IEEE half (round to nearest even; the noise here stays far from subnormals and overflow). */
function toHalf(value: number): number {
  const f32 = new Float32Array([value]);
  const bits = new Uint32Array(f32.buffer)[0] as number;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  if (exponent <= 0) return sign;
  if (exponent >= 31) return sign | 0x7c00;
  let half = sign | (exponent << 10) | ((bits >>> 13) & 0x3ff);
  const rest = bits & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  return half;
}

/** Standard deviation of the noise weights (a common initialization scale for small transformers). */
const NOISE_STD = 0.02;

/**
 * Writes a copy of the GGUF at `source` to `dest` whose weights are seeded noise: every F32 or
 * F16 tensor becomes uniform noise with standard deviation 0.02, normalization weights (names
 * ending in "norm.weight") become 1. Metadata, tokenizer and shapes are kept, so llama.cpp loads it
 * as the same architecture. The same source and seed give the same bytes. CONFIG when the file is
 * not a GGUF or holds quantized tensors (their blocks carry scales that noise would make NaN).
 */
export function writeRandomWeightModel(source: string, dest: string, seed: string): void {
  const layout = readGgufLayout(source);
  for (const tensor of layout.tensors) {
    if (tensor.type !== GGML_F32 && tensor.type !== GGML_F16) {
      throw formatError(source, `tensor ${tensor.name} has ggml type ${tensor.type}: only F32 and F16 weights can be replaced by noise`);
    }
  }
  const bytes = readFileSync(source);
  const out = Buffer.from(bytes);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const next = mulberry32(taggedHash("concord/gguf/random-weights", seed).reduce((acc, byte, i) => (i < 4 ? (acc << 8) | byte : acc), 0));
  const scale = NOISE_STD * Math.sqrt(3);
  for (const tensor of layout.tensors) {
    const count = tensor.dims.reduce((a, b) => a * b, 1);
    const width = tensor.type === GGML_F32 ? 4 : 2;
    if (tensor.fileOffset + count * width > out.byteLength) throw formatError(source, `tensor ${tensor.name} runs past the end of the file`);
    const norm = tensor.name.endsWith("norm.weight");
    for (let i = 0; i < count; i++) {
      const value = norm ? 1 : (next() * 2 - 1) * scale;
      const at = tensor.fileOffset + i * width;
      if (width === 4) view.setFloat32(at, value, true);
      else view.setUint16(at, toHalf(value), true);
    }
  }
  // Written whole, then renamed: a reader never sees half a model.
  const partial = `${dest}.partial`;
  writeFileSync(partial, out);
  renameSync(partial, dest);
}

