/**
 * One process per data directory, as geth locks its datadir: a second `concord node` (or a
 * `concord slashing import`) on a folder a running node uses is refused, naming the holder.
 *
 * The lock is an operating-system file lock, taken through SQLite (node has no flock): an
 * exclusive transaction on `node.lock` that is never committed. The kernel drops it when the
 * holder exits in any way, kill -9 included, so a crash leaves no stale lock to clear by hand.
 * Who holds it is written beside it, in `node.lock.json`, for the refusal to name; that file is
 * only a description (a stale one is overwritten by the next holder).
 *
 * @example
 * const lock = DataDirLock.acquire("./concord-data", "node node-07");
 * // ... run ...
 * lock.release();
 */
import { writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { ConcordError } from "../errors.ts";
import { assertRegularFileIfPresent, readRegularFile } from "./files.ts";

export const LOCK_FILE = "node.lock";
export const LOCK_HOLDER_FILE = "node.lock.json";

/** What `node.lock.json` says about the holder. */
export interface LockHolder {
  pid: number;
  /** What holds it: `node <id>`, or a command (`slashing import`). */
  holder: string;
  host: string;
  /** ISO 8601. */
  since: string;
}

export class DataDirLock {
  readonly dir: string;
  #db: DatabaseSync | undefined;

  private constructor(dir: string, db: DatabaseSync) {
    this.dir = dir;
    this.#db = db;
  }

  /** Takes the lock on `dir` (which must exist) or throws CONFIG naming the holder. */
  static acquire(dir: string, holder: string): DataDirLock {
    const path = join(dir, LOCK_FILE);
    assertRegularFileIfPresent(path, "the data-directory lock");
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path, { timeout: 0 });
      // EXCLUSIVE locking mode keeps the lock for the connection's life; the transaction takes it.
      db.exec("PRAGMA locking_mode = EXCLUSIVE");
      db.exec("BEGIN EXCLUSIVE");
    } catch (cause) {
      db?.close();
      if ((cause as { errcode?: number }).errcode === SQLITE_BUSY) {
        throw new ConcordError("CONFIG", "data directory in use", { details: `${dir} is locked by ${describeHolder(dir)}; stop it first`, cause });
      }
      throw new ConcordError("CONFIG", "cannot lock the data directory", { details: `${path}: ${(cause as Error).message}`, cause });
    }
    const description: LockHolder = { pid: process.pid, holder, host: hostname(), since: new Date().toISOString() };
    try {
      writeFileSync(join(dir, LOCK_HOLDER_FILE), `${JSON.stringify(description)}\n`, { mode: 0o600 });
    } catch {
      // Only a description for a later refusal: the lock itself is held.
    }
    return new DataDirLock(dir, db);
  }

  /** Releases the lock. Safe to call twice. */
  release(): void {
    const db = this.#db;
    this.#db = undefined;
    db?.close();
  }
}

const SQLITE_BUSY = 5;

function describeHolder(dir: string): string {
  try {
    const holder = JSON.parse(readRegularFile(join(dir, LOCK_HOLDER_FILE)).toString("utf8")) as Partial<LockHolder>;
    if (typeof holder.pid === "number" && typeof holder.holder === "string") {
      return `another concord process (pid ${holder.pid}, ${holder.holder}, since ${String(holder.since)} on ${String(holder.host)})`;
    }
  } catch {
    // The holder has not written its description yet, or it is unreadable: say what is known.
  }
  return "another process";
}
