/**
 * Opening a durable SQLite file for one of Concord's stores: created 0600, WAL journal,
 * synchronous=FULL (a commit is on disk before the call returns), a busy timeout so several
 * processes can share the file (or, `exclusive`, a lock that keeps every other connection out),
 * and a header stamp (application_id + user_version) so a store never opens somebody else's
 * database, or a newer schema, as its own.
 * Shared by the node's slashing protection and the sequencer's outcome store.
 */
import { closeSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { ConcordError, isConcordError } from "../errors.ts";

export interface SqliteFileInit {
  /** File path, or ":memory:" for a throwaway database (tests). */
  path: string;
  /** Stamped into the header; a file with another non-zero id is refused. */
  applicationId: number;
  /** PRAGMA user_version this code writes; a file with another version is refused. */
  schemaVersion: number;
  /** DDL run once, in the transaction that stamps a new file. */
  schema: string;
  /** How long a writer waits for another process's transaction, in ms. */
  busyTimeoutMs: number;
  /** Run PRAGMA quick_check on open (O(size of the file)). */
  integrityCheck: boolean;
  /** What the file is, for error messages ("slashing-protection database"). */
  what: string;
  /**
   * Hold the file for this connection alone until it closes (PRAGMA locking_mode=EXCLUSIVE):
   * another connection, in this process or another, is refused with STORE after the busy timeout.
   * The lock is SQLite's own file lock, so the kernel drops it when the process dies (kill -9
   * included): there is no stale lock to clear after a crash. Default false.
   */
  exclusive?: boolean;
  /**
   * Open an existing file for reading only (`concord export`): nothing is created, stamped or
   * written, and a missing file is a STORE error. A file another connection holds `exclusive`
   * (a running pool) is refused with STORE after the busy timeout. Default false.
   */
  readOnly?: boolean;
}

/** Opens (creating if needed) and stamps the file; any failure is a STORE error. */
export function openSqliteFile(init: SqliteFileInit): DatabaseSync {
  const memory = init.path === ":memory:";
  const readOnly = init.readOnly === true;
  if (readOnly) assertFileExists(init.path, init.what);
  else if (!memory) createPrivateFile(init.path, init.what);
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(init.path, { timeout: init.busyTimeoutMs, enableForeignKeyConstraints: true, readOnly });
    if (readOnly) {
      // The header check is the first read: where a lock held elsewhere shows.
      if (stampState(db, init) === "new") throw new ConcordError("STORE", `not a Concord ${init.what}`, { details: `${init.path} is empty` });
    } else {
      // Before the first read: with the locking mode set first, WAL keeps its index in this
      // process's memory (no -shm file another process could use) and the lock is never released.
      if (init.exclusive === true) db.exec("PRAGMA locking_mode = EXCLUSIVE");
      if (!memory) {
        // WAL lets readers run beside the one writer; it must be set outside a transaction.
        const mode = pragmaValue(db, "PRAGMA journal_mode = WAL");
        if (mode !== "wal") throw new ConcordError("STORE", `cannot put ${init.what} in WAL mode`, { details: `journal_mode is ${String(mode)}` });
      }
      // FULL: the WAL is synced at every commit, so an acknowledged write survives power loss.
      db.exec("PRAGMA synchronous = FULL");
      if (pragmaValue(db, "PRAGMA synchronous") !== 2) throw new ConcordError("STORE", `cannot set synchronous=FULL on ${init.what}`);
      stamp(db, init);
      // Take the write lock now, not at the first write: a second holder is refused at open.
      if (init.exclusive === true) db.exec("BEGIN EXCLUSIVE; COMMIT");
    }
    if (init.integrityCheck) {
      const result = pragmaValue(db, "PRAGMA quick_check");
      if (result !== "ok") throw new ConcordError("STORE", `${init.what} failed its integrity check`, { details: `${init.path}: ${String(result)}` });
    }
    return db;
  } catch (error) {
    try {
      db?.close();
    } catch {
      // Already failing; the first error is the one worth reporting.
    }
    if ((init.exclusive === true || readOnly) && isBusy(error)) {
      throw new ConcordError("STORE", `${init.what} is in use by another process or store`, { details: init.path, cause: error });
    }
    throw asStoreError(error, `cannot open ${init.what}`, init.path);
  }
}

/** SQLITE_BUSY (5, or an extended code of it): another connection holds the lock. */
function isBusy(error: unknown): boolean {
  const errcode = typeof error === "object" && error !== null ? (error as { errcode?: unknown }).errcode : undefined;
  return typeof errcode === "number" && (errcode & 0xff) === 5;
}

/**
 * Runs `body` in one BEGIN IMMEDIATE transaction: the write lock is taken before the first read,
 * so a check and the insert that follows it see the same database, even across processes.
 */
export function inTransaction<T>(db: DatabaseSync, body: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = body();
    db.exec("COMMIT");
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

/** ConcordErrors pass through; anything else (an SQLite or file error) becomes a STORE error. */
export function asStoreError(error: unknown, message: string, details?: string): ConcordError {
  if (isConcordError(error)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new ConcordError("STORE", message, { details: details === undefined ? reason : `${details}: ${reason}`, cause: error });
}

function createPrivateFile(path: string, what: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // Create the file ourselves so it is 0600 from its first byte; SQLite gives its -wal and
    // -shm files the mode of the database file. An existing file is left as it is.
    closeSync(openSync(path, "wx", 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return;
    throw asStoreError(error, `cannot create ${what}`, path);
  }
}

function assertFileExists(path: string, what: string): void {
  try {
    if (!statSync(path).isFile()) throw new ConcordError("STORE", `no ${what} at ${path}`, { details: "not a regular file" });
  } catch (error) {
    if (isConcordError(error)) throw error;
    throw new ConcordError("STORE", `no ${what} at ${path}`, { details: (error as NodeJS.ErrnoException).code ?? String(error), cause: error });
  }
}

/** "new" for an empty file, "ours" for one stamped with this store's id and version; else STORE. */
function stampState(db: DatabaseSync, init: SqliteFileInit): "new" | "ours" {
  const applicationId = pragmaValue(db, "PRAGMA application_id");
  const version = pragmaValue(db, "PRAGMA user_version");
  if (applicationId === 0) {
    const tables = db.prepare("SELECT count(*) AS n FROM sqlite_schema").get()?.["n"];
    if (tables === 0 && version === 0) return "new";
    throw new ConcordError("STORE", `not a Concord ${init.what}`, { details: `${init.path} holds another database` });
  }
  if (applicationId !== init.applicationId) {
    throw new ConcordError("STORE", `not a Concord ${init.what}`, {
      details: `${init.path} has application_id ${String(applicationId)}, expected ${init.applicationId}`,
    });
  }
  if (version !== init.schemaVersion) {
    throw new ConcordError("STORE", `unsupported ${init.what} schema version`, {
      details: `${init.path} has version ${String(version)}, this build reads version ${init.schemaVersion}`,
    });
  }
  return "ours";
}

function stamp(db: DatabaseSync, init: SqliteFileInit): void {
  if (stampState(db, init) === "ours") return;
  inTransaction(db, () => {
    // Another process may have stamped the file between the check and the write lock.
    if (stampState(db, init) === "ours") return;
    db.exec(init.schema);
    db.exec(`PRAGMA application_id = ${init.applicationId}`);
    db.exec(`PRAGMA user_version = ${init.schemaVersion}`);
  });
}

function pragmaValue(db: DatabaseSync, sql: string): unknown {
  const row = db.prepare(sql).get();
  return row === undefined ? undefined : Object.values(row)[0];
}

/**
 * Opens the file and prepares the store's statements; if preparing fails, the file is closed
 * again and the failure is a STORE error.
 */
export function openPreparedSqliteFile<S>(init: SqliteFileInit, prepare: (db: DatabaseSync) => S): { db: DatabaseSync; statements: S } {
  const db = openSqliteFile(init);
  try {
    return { db, statements: prepare(db) };
  } catch (error) {
    db.close();
    throw asStoreError(error, `cannot prepare ${init.what} statements`, init.path);
  }
}
