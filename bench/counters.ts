/**
 * Benchmark instrumentation, outside production code: counts the SHA-256 hashes, signatures and
 * signature checks a process makes through node:crypto (Concord's only path for all three, see
 * src/wire/hash.ts, src/net/message-id.ts and src/crypto/schemes.ts). Installed by wrapping
 * node:crypto's exports before the code under test runs; the wrappers only add a counter each.
 *
 * - In a child process: `NODE_OPTIONS=--import=<this file>` with CONCORD_BENCH_COUNTS=<dir>; on
 *   SIGUSR2 the process writes its totals to <dir>/<pid>.json (see readChildCounts).
 * - In the bench's own process: `installCounters()`, then `counts()`.
 */
import crypto from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { join } from "node:path";

export interface CryptoCounts {
  sha256: number;
  signs: number;
  verifies: number;
}

const totals: CryptoCounts = { sha256: 0, signs: 0, verifies: 0 };
let installed = false;

/** Wraps node:crypto's hash, Hash#digest, sign and verify with counters (idempotent). */
export function installCounters(): void {
  if (installed) return;
  installed = true;
  const { hash, sign, verify } = crypto;
  crypto.hash = ((algorithm: string, ...rest: unknown[]) => {
    if (algorithm === "sha256") totals.sha256++;
    return (hash as (...args: unknown[]) => unknown)(algorithm, ...rest);
  }) as typeof crypto.hash;
  crypto.sign = ((...args: Parameters<typeof crypto.sign>) => {
    totals.signs++;
    return (sign as (...a: unknown[]) => unknown)(...args);
  }) as typeof crypto.sign;
  crypto.verify = ((...args: Parameters<typeof crypto.verify>) => {
    totals.verifies++;
    return (verify as (...a: unknown[]) => unknown)(...args);
  }) as typeof crypto.verify;
  // Every digest of a createHash("sha256") object or a copy of one (gossip message ids).
  const probe = crypto.createHash("sha256");
  const prototype = Object.getPrototypeOf(probe) as { digest: (...args: unknown[]) => unknown; copy: (...args: unknown[]) => unknown };
  const { digest } = prototype;
  const algorithms = new WeakMap<object, string>();
  const { createHash } = crypto;
  crypto.createHash = ((algorithm: string, options?: crypto.HashOptions) => {
    const created = createHash(algorithm, options);
    algorithms.set(created, algorithm.toLowerCase());
    return created;
  }) as typeof crypto.createHash;
  const { copy } = prototype;
  prototype.copy = function (this: object, ...args: unknown[]) {
    const copied = copy.apply(this, args) as object;
    const algorithm = algorithms.get(this);
    if (algorithm !== undefined) algorithms.set(copied, algorithm);
    return copied;
  };
  prototype.digest = function (this: object, ...args: unknown[]) {
    if (algorithms.get(this) === "sha256") totals.sha256++;
    return digest.apply(this, args);
  };
  syncBuiltinESMExports();
}

export function counts(): CryptoCounts {
  return { ...totals };
}

/**
 * Sends SIGUSR2 to each child and reads the totals they write (waits up to `timeoutMs`: a busy
 * child on a loaded machine can take seconds to get to its signal handler).
 */
export async function readChildCounts(dir: string, pids: readonly number[], timeoutMs = 60_000): Promise<CryptoCounts> {
  const sum: CryptoCounts = { sha256: 0, signs: 0, verifies: 0 };
  const stamp = Date.now();
  for (const pid of pids) process.kill(pid, "SIGUSR2");
  for (const pid of pids) {
    const file = join(dir, `${pid}.json`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (existsSync(file)) {
        const written = JSON.parse(readFileSync(file, "utf8")) as CryptoCounts & { at: number };
        if (written.at >= stamp) {
          sum.sha256 += written.sha256;
          sum.signs += written.signs;
          sum.verifies += written.verifies;
          break;
        }
      }
      if (Date.now() > deadline) throw new Error(`no counts from process ${pid}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  return sum;
}

/** The totals of the child processes `pids` (readChildCounts) and of this process together. */
export async function allCounts(dir: string, pids: readonly number[]): Promise<CryptoCounts> {
  const children = await readChildCounts(dir, pids);
  const own = counts();
  return { sha256: children.sha256 + own.sha256, signs: children.signs + own.signs, verifies: children.verifies + own.verifies };
}

const dir = process.env.CONCORD_BENCH_COUNTS;
if (dir !== undefined && dir.length > 0) {
  installCounters();
  process.on("SIGUSR2", () => {
    // Written aside and renamed: the reader never sees half a file.
    const file = join(dir, `${process.pid}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify({ ...totals, at: Date.now() }));
    renameSync(`${file}.tmp`, file);
  });
}
