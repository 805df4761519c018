/**
 * The simulator's randomness: xoshiro128** streams keyed by a 128-bit key, keys derived from the
 * scenario seed and small integer labels (request, node, purpose...). Every random choice the
 * simulator makes comes from here, never from Math.random, so a scenario and its seed fix every
 * byte of the output.
 *
 * Streams are addressed, not shared: the draw for (request 17, node 3, "compute latency") comes
 * from its own stream whatever else ran before it. Two policies simulated on one request therefore
 * see the same outputs and the same latencies (common random numbers), which is what makes their
 * paired comparison (e.g. latency against first-wins on the same draws) meaningful.
 *
 * Floats: distributions use +, *, /, Math.sqrt (correctly rounded) and Math.log / Math.exp, which
 * V8 implements in software (its fdlibm port), so results do not depend on the CPU or libm.
 *
 * @example
 * const root = rootKey("42");
 * const rng = new Rng(deriveKey(root, 17, 3));
 * rng.next(); // a float in [0, 1), the same on every run
 */
import { taggedHash } from "../wire/hash.ts";

/** 128 bits, as four unsigned 32-bit words. */
export type StreamKey = readonly [number, number, number, number];

/** murmur3's 32-bit finalizer: a bijection that spreads every input bit over the output. */
export function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** splitmix32 step: returns the next state and its output. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return [next, (z ^ (z >>> 15)) >>> 0];
}

/** The root key of a scenario: SHA-256("concord/sim-seed", seed), first 16 bytes. */
export function rootKey(seed: string): StreamKey {
  const bytes = taggedHash("concord/sim-seed", seed);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return [view.getUint32(0), view.getUint32(4), view.getUint32(8), view.getUint32(12)];
}

/**
 * A child key for integer labels (each taken as an unsigned 32-bit value). Deterministic and cheap
 * (no hashing of bytes): each label is folded into all four words through fmix32.
 */
export function deriveKey(key: StreamKey, ...labels: number[]): StreamKey {
  let [a, b, c, d] = key;
  for (const label of labels) {
    const x = label >>> 0;
    a = fmix32(a ^ x ^ 0x243f6a88);
    b = fmix32(b ^ Math.imul(x, 0x9e3779b1) ^ a);
    c = fmix32(c ^ (x + 0x85a308d3) ^ b);
    d = fmix32(d ^ Math.imul(x ^ 0x13198a2e, 0xcc9e2d51) ^ c);
  }
  return [a, b, c, d];
}

/** A 32-bit label for a short text (FNV-1a then fmix32), for keys named by a string. */
export function labelOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return fmix32(h);
}

const TWO_POW_32 = 4294967296;

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
const TWO_POW_53 = 9007199254740992;

/** One xoshiro128** stream. */
export class Rng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;
  /** The second normal of a polar-method pair, kept for the next call. */
  #spare: number | undefined;

  constructor(key: StreamKey) {
    // Seed the state through splitmix32 so that related keys give unrelated streams and the
    // all-zero state (xoshiro's one fixed point) cannot occur in practice.
    let state = fmix32(key[0] ^ fmix32(key[1] ^ fmix32(key[2] ^ fmix32(key[3]))));
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [next, out] = splitmix32(state ^ (key[i] as number));
      state = next;
      words.push(out);
    }
    this.#s0 = words[0] as number;
    this.#s1 = words[1] as number;
    this.#s2 = words[2] as number;
    this.#s3 = words[3] as number;
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
  }

  /** An unsigned 32-bit integer. */
  nextU32(): number {
    const s1 = this.#s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  /** A float in [0, 1) with 53 random bits. */
  next(): number {
    const high = this.nextU32() >>> 5; // 27 bits
    const low = this.nextU32() >>> 6; // 26 bits
    return (high * 67108864 + low) / TWO_POW_53;
  }

  /** An integer in [0, n) for 1 <= n <= 2^32 (multiply-shift; bias below n / 2^32). */
  int(n: number): number {
    return Math.floor((this.nextU32() / TWO_POW_32) * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  /** A standard normal (Marsaglia's polar method: only log and sqrt). */
  normal(): number {
    const spare = this.#spare;
    if (spare !== undefined) {
      this.#spare = undefined;
      return spare;
    }
    for (;;) {
      const u = 2 * this.next() - 1;
      const v = 2 * this.next() - 1;
      const s = u * u + v * v;
      if (s >= 1 || s === 0) continue;
      const f = Math.sqrt((-2 * Math.log(s)) / s);
      this.#spare = v * f;
      return u * f;
    }
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  /** Log-normal with the given median and log-space standard deviation. */
  lognormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  /** An element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
}

/** A stream for `labels` under `key`: shorthand for new Rng(deriveKey(key, ...labels)). */
export function streamOf(key: StreamKey, ...labels: number[]): Rng {
  return new Rng(deriveKey(key, ...labels));
}

/**
 * mulberry32: a tiny seeded uniform stream in [0, 1) for inputs outside the simulator (the
 * random-weight model copy, test and benchmark inputs); the simulator's draws use the streams above.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
