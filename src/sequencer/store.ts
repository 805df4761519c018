/**
 * The sequencer's durable outcome store: requests, the messages seen for them, the one outcome
 * each request resolves to, equivocation evidence, and which block each agreed bundle went into.
 *
 * Bytes are opaque here (the canonical codec lives in src/wire); the store keeps them next to
 * the few columns it indexes. Its rules are the ones a block builder leans on:
 * - an outcome is written once: repeating it is a no-op, a different one is refused (the first
 *   is kept), so a request never resolves two ways even across restarts;
 * - a bundle goes into at most one block: `markIncluded` with another block is refused, and
 *   `readyOutcomes` never offers an included one again;
 * - every write is one transaction, committed with synchronous=FULL before the promise resolves;
 *   `write` puts many (a turn of the pool's event loop) in one, so they share one fsync;
 * - a request has at most one close: a second, different one is refused (two closes are the
 *   sequencer's equivocation, spec/06);
 * - one store holds the file while it is open: a second one, in another process or this one, is
 *   refused (STORE). Two pools on one file would each resume the pending requests and sign their
 *   own closes for them. The lock is SQLite's exclusive locking mode rather than a lock file with
 *   a pid: it is the kernel's file lock, dropped when the process dies, so a kill -9 leaves nothing
 *   stale to clear and no pid to guess about (pids are reused, and in a container every
 *   restarted pool is pid 1). The cost: no other process reads the file while a pool runs.
 *
 * `OutcomeStore` is the small interface a sequencer codes against; `SqliteOutcomeStore` is the
 * embedded default (node:sqlite, WAL).
 *
 * @example
 * const store = new SqliteOutcomeStore({ path: "data/outcomes.sqlite" });
 * store.open();
 * await store.putRequest({ id, encoded, deadline, createdAt: now });
 * await store.putOutcome(id, { kind: "agreed", encoded: bundleBytes, decidedAt: now });
 * const ready = await store.readyOutcomes(64);
 * await store.markIncluded(ready.map((o) => o.requestId), blockNumber);
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { ConcordError, assert } from "../errors.ts";
import { bytesEqual, sha256, toHex } from "../wire/hash.ts";
import type { Bytes } from "../wire/types.ts";
import { asStoreError, inTransaction, openPreparedSqliteFile } from "../storage/sqlite-file.ts";

export type RequestStatus = "pending" | "agreed" | "no-agreement";
export type OutcomeKind = "agreed" | "no-agreement";
/** The per-request messages the store keeps (requests, bundles and evidence have their own tables). */
export type StoredMessageKind = "commitment" | "close" | "reveal" | "output";

const MESSAGE_KINDS: readonly StoredMessageKind[] = ["commitment", "close", "reveal", "output"];
const OUTCOME_KINDS: readonly OutcomeKind[] = ["agreed", "no-agreement"];

export interface NewRequest {
  /** Request id, 32 bytes. */
  id: Bytes;
  /** The request's canonical encoding. */
  encoded: Bytes;
  /** Unix ms, from the request. */
  deadline: number;
  /** Unix ms, when the sequencer took the request in. */
  createdAt: number;
  /** The request this one retries (after a NoAgreement), if any; it must be stored already. */
  retryOf?: Bytes;
}

export interface StoredRequest extends NewRequest {
  status: RequestStatus;
}

export interface NewMessage {
  kind: StoredMessageKind;
  /** The node that sent it; absent for the sequencer's own messages (a commit-close). */
  node?: string;
  /** The message's hash (its gossip id), 32 bytes: messages are deduplicated by it. */
  hash: Bytes;
  encoded: Bytes;
}

export interface NewEvidence {
  /** The node the evidence is against. */
  node: string;
  /** Hash of the encoded evidence, 32 bytes: evidence is deduplicated by it. */
  hash: Bytes;
  encoded: Bytes;
}

export interface NewOutcome {
  kind: OutcomeKind;
  /** Encoded AgreedBundle or NoAgreement. */
  encoded: Bytes;
  /** Unix ms. */
  decidedAt: number;
}

export interface StoredOutcome extends NewOutcome {
  requestId: Bytes;
  /** Order of decision, assigned by the store: 1, 2, 3, ... */
  sequence: number;
  /** The block the bundle went into, once `markIncluded` recorded it. */
  includedIn?: number;
}

export interface RequestRecord {
  request: StoredRequest;
  /** In the order they were first added. */
  messages: NewMessage[];
  outcome?: StoredOutcome;
  evidence: NewEvidence[];
}

/** `inserted`: new; `identical`: the same thing was stored before (nothing changed). */
export type PutResult = "inserted" | "identical";

/**
 * Several writes in one atomic, durable commit (one fsync for all of them), applied in this
 * order: requests, messages, evidence, outcomes, so one batch may store a request and what
 * follows it. Every message and outcome must name a request stored before or in the batch.
 */
export interface StoreBatch {
  requests?: readonly NewRequest[];
  messages?: readonly { requestId: Bytes; message: NewMessage }[];
  evidence?: readonly { requestId: Bytes; evidence: NewEvidence }[];
  outcomes?: readonly { requestId: Bytes; outcome: NewOutcome }[];
}

/**
 * Each item's result, in the batch's order. A conflict (a stored value contradicted, or an item
 * naming a request the store does not hold) is that item's result, not a failure of the batch:
 * nothing of that item is written, and the rest of the batch is.
 */
export interface StoreBatchResult {
  requests: (PutResult | StoreConflictError)[];
  messages: (PutResult | StoreConflictError)[];
  evidence: (PutResult | StoreConflictError)[];
  /** The outcome as stored (an identical repeat returns the first), or the conflict. */
  outcomes: (StoredOutcome | StoreConflictError)[];
}

/**
 * The sequencer's view of durable storage: the pool writes through `write` only. Every method is
 * one atomic, durable write or read; anything but a conflict (a full disk, a busy file) fails the
 * whole call and writes nothing.
 */
export interface OutcomeStore {
  write(batch: StoreBatch): Promise<StoreBatchResult>;
  /** Requests not yet resolved, by deadline then id. */
  pending(): Promise<StoredRequest[]>;
  /** Up to `max` agreed outcomes not yet in a block, by sequence then request id. */
  readyOutcomes(max: number): Promise<StoredOutcome[]>;
  get(requestId: Bytes): Promise<RequestRecord | undefined>;
  /**
   * Records that these agreed bundles went into `blockNumber`, all or none. Marking again with
   * the same block is a no-op; with another block → StoreConflictError.
   */
  markIncluded(requestIds: readonly Bytes[], blockNumber: number): Promise<void>;
  close(): Promise<void>;
}

/** What a write contradicts: a stored value, or ("unknown-request") the absence of its request. */
export type StoreConflict = "request" | "message" | "close" | "evidence" | "outcome" | "inclusion" | "unknown-request";

export interface StoreConflictParams {
  conflict: StoreConflict;
  requestId: Bytes;
  /** What is stored and what was attempted, in words (hashes, not payloads). */
  stored: string;
  attempted: string;
}

/**
 * A write that contradicts what the store already holds: the stored value is kept. In a batch it
 * is that item's result, and the rest of the batch is written.
 */
export class StoreConflictError extends ConcordError {
  override readonly name: string = "StoreConflictError";
  readonly conflict: StoreConflict;
  readonly requestId: Bytes;

  constructor(params: StoreConflictParams) {
    super("STORE", params.conflict === "unknown-request" ? "write names an unknown request" : `conflicting ${params.conflict} for one request`, {
      details: `request=${toHex(params.requestId)} stored=${params.stored} attempted=${params.attempted}`,
    });
    this.conflict = params.conflict;
    this.requestId = params.requestId;
  }
}

export interface SqliteOutcomeStoreInit {
  /** Path of the SQLite file (created 0600 if absent), or ":memory:" for tests. */
  path: string;
  /**
   * At open, wait this long for another store holding the file (one shutting down) before
   * refusing with STORE. Default 5,000 ms.
   */
  busyTimeoutMs?: number;
  /** Run PRAGMA quick_check on open (cost grows with the file). Default false. */
  integrityCheck?: boolean;
  /**
   * Read an existing file without taking it (`concord export`): nothing is created or written,
   * every write fails with STORE, and a file a running pool holds is refused with STORE.
   * Default false.
   */
  readOnly?: boolean;
}

// "CNSO" — marks the file as a Concord outcome store.
const APPLICATION_ID = 0x434e534f;
const SCHEMA_VERSION = 1;
// One close per request, in the file too (run at every open: files made before it get it then).
const ONE_CLOSE = "CREATE UNIQUE INDEX IF NOT EXISTS messages_one_close ON messages (request_id) WHERE kind = 'close';";
const SCHEMA = `
CREATE TABLE requests (
  id BLOB PRIMARY KEY CHECK (length(id) = 32),
  encoded BLOB NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'agreed', 'no-agreement')),
  deadline INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  retry_of BLOB REFERENCES requests (id)
) STRICT;
CREATE INDEX requests_pending ON requests (deadline, id) WHERE status = 'pending';
CREATE TABLE messages (
  request_id BLOB NOT NULL REFERENCES requests (id),
  hash BLOB NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('commitment', 'close', 'reveal', 'output')),
  node TEXT,
  encoded BLOB NOT NULL,
  PRIMARY KEY (request_id, hash)
) STRICT;
${ONE_CLOSE}
CREATE TABLE evidence (
  hash BLOB PRIMARY KEY,
  request_id BLOB NOT NULL REFERENCES requests (id),
  node TEXT NOT NULL,
  encoded BLOB NOT NULL
) STRICT;
CREATE INDEX evidence_by_request ON evidence (request_id);
CREATE TABLE outcomes (
  request_id BLOB PRIMARY KEY REFERENCES requests (id),
  kind TEXT NOT NULL CHECK (kind IN ('agreed', 'no-agreement')),
  encoded BLOB NOT NULL,
  sequence INTEGER NOT NULL UNIQUE CHECK (sequence > 0),
  decided_at INTEGER NOT NULL,
  included_in INTEGER CHECK (included_in IS NULL OR (kind = 'agreed' AND included_in >= 0))
) STRICT;
CREATE INDEX outcomes_ready ON outcomes (sequence, request_id) WHERE kind = 'agreed' AND included_in IS NULL;
-- The rules hold in the file too, whoever writes it: outcomes are write-once, inclusion is set once.
CREATE TRIGGER outcomes_write_once BEFORE UPDATE OF request_id, kind, encoded, sequence, decided_at ON outcomes
BEGIN SELECT RAISE(ABORT, 'outcomes are write-once'); END;
CREATE TRIGGER outcomes_include_once BEFORE UPDATE OF included_in ON outcomes
WHEN OLD.included_in IS NOT NULL AND NEW.included_in IS NOT OLD.included_in
BEGIN SELECT RAISE(ABORT, 'an outcome is included in one block'); END;
CREATE TRIGGER outcomes_kept BEFORE DELETE ON outcomes
BEGIN SELECT RAISE(ABORT, 'outcomes are never deleted'); END;
`;

interface Statements {
  closeOf: StatementSync;
  requestById: StatementSync;
  insertRequest: StatementSync;
  setStatus: StatementSync;
  pending: StatementSync;
  messageByHash: StatementSync;
  insertMessage: StatementSync;
  messagesOf: StatementSync;
  evidenceByHash: StatementSync;
  insertEvidence: StatementSync;
  evidenceOf: StatementSync;
  outcomeOf: StatementSync;
  nextSequence: StatementSync;
  insertOutcome: StatementSync;
  ready: StatementSync;
  include: StatementSync;
}

/** The embedded OutcomeStore: one SQLite file (WAL, synchronous=FULL). */
export class SqliteOutcomeStore implements OutcomeStore {
  readonly path: string;
  readonly #busyTimeoutMs: number;
  readonly #integrityCheck: boolean;
  readonly #readOnly: boolean;
  #db: DatabaseSync | undefined;
  #statements: Statements | undefined;

  constructor(init: SqliteOutcomeStoreInit) {
    assert(init.path.length > 0, "outcome store path is empty");
    this.path = init.path;
    this.#busyTimeoutMs = init.busyTimeoutMs ?? 5_000;
    this.#integrityCheck = init.integrityCheck ?? false;
    this.#readOnly = init.readOnly ?? false;
  }

  get isOpen(): boolean {
    return this.#db !== undefined;
  }

  /** Opens (creating if needed) the file. A damaged or foreign file is a STORE error. */
  open(): void {
    assert(this.#db === undefined, "outcome store is already open");
    const { db, statements } = openPreparedSqliteFile(
      {
        path: this.path,
        applicationId: APPLICATION_ID,
        schemaVersion: SCHEMA_VERSION,
        schema: SCHEMA,
        busyTimeoutMs: this.#busyTimeoutMs,
        integrityCheck: this.#integrityCheck,
        what: "outcome store",
        exclusive: !this.#readOnly,
        readOnly: this.#readOnly,
      },
      (db) => {
        if (!this.#readOnly) db.exec(ONE_CLOSE);
        return prepareStatements(db);
      },
    );
    this.#db = db;
    this.#statements = statements;
  }

  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    this.#statements = undefined;
    db?.close();
  }

  async write(batch: StoreBatch): Promise<StoreBatchResult> {
    for (const request of batch.requests ?? []) assertRequest(request);
    for (const { requestId, message } of batch.messages ?? []) assertMessage(requestId, message);
    for (const { requestId, evidence } of batch.evidence ?? []) assertEvidence(requestId, evidence);
    for (const { requestId, outcome } of batch.outcomes ?? []) assertOutcome(requestId, outcome);
    return this.#write("write", (statements) => ({
      requests: (batch.requests ?? []).map((request) => orConflict(() => this.#putRequest(statements, request))),
      messages: (batch.messages ?? []).map(({ requestId, message }) => orConflict(() => this.#putMessage(statements, requestId, message))),
      evidence: (batch.evidence ?? []).map(({ requestId, evidence }) => orConflict(() => this.#putEvidence(statements, requestId, evidence))),
      outcomes: (batch.outcomes ?? []).map(({ requestId, outcome }) => orConflict(() => this.#putOutcome(statements, requestId, outcome))),
    }));
  }

  /** Stores a new pending request. Same id with other bytes → StoreConflictError. */
  async putRequest(request: NewRequest): Promise<PutResult> {
    return single((await this.write({ requests: [request] })).requests);
  }

  /** Records a message seen for a stored request, once per hash. */
  async addMessage(requestId: Bytes, message: NewMessage): Promise<PutResult> {
    return single((await this.write({ messages: [{ requestId, message }] })).messages);
  }

  /** Records equivocation evidence about a stored request, once per hash. */
  async addEvidence(requestId: Bytes, evidence: NewEvidence): Promise<PutResult> {
    return single((await this.write({ evidence: [{ requestId, evidence }] })).evidence);
  }

  /**
   * Resolves a request, once. The same outcome again returns the stored one; a different one is
   * refused with StoreConflictError and the first is kept.
   */
  async putOutcome(requestId: Bytes, outcome: NewOutcome): Promise<StoredOutcome> {
    return single((await this.write({ outcomes: [{ requestId, outcome }] })).outcomes);
  }

  #putRequest(statements: Statements, request: NewRequest): PutResult {
    const stored = statements.requestById.get(request.id);
    if (stored !== undefined) {
      const encoded = blob(stored["encoded"]);
      if (bytesEqual(encoded, request.encoded)) return "identical";
      throw new StoreConflictError({ conflict: "request", requestId: request.id, stored: digest(encoded), attempted: digest(request.encoded) });
    }
    if (request.retryOf !== undefined && statements.requestById.get(request.retryOf) === undefined) {
      throw unknownRequest(request.id, `retryOf ${toHex(request.retryOf)}`);
    }
    statements.insertRequest.run(request.id, request.encoded, request.deadline, request.createdAt, request.retryOf ?? null);
    return "inserted";
  }

  #putMessage(statements: Statements, requestId: Bytes, message: NewMessage): PutResult {
    if (message.kind === "close") {
      const stored = statements.closeOf.get(requestId);
      if (stored !== undefined && !bytesEqual(blob(stored["hash"]), message.hash)) {
        throw new StoreConflictError({ conflict: "close", requestId, stored: digest(blob(stored["encoded"])), attempted: digest(message.encoded) });
      }
    }
    // One statement in the common case (a new message): the insert is skipped on a repeated hash
    // and the foreign key refuses an unknown request; only a repeat is read back and compared.
    let changes: number | bigint;
    try {
      ({ changes } = statements.insertMessage.run(requestId, message.hash, message.kind, message.node ?? null, message.encoded));
    } catch (error) {
      if (/FOREIGN KEY/.test(String(error))) throw unknownRequest(requestId, "request");
      throw error;
    }
    if (Number(changes) === 1) return "inserted";
    const stored = statements.messageByHash.get(requestId, message.hash) as Row;
    const same = stored["kind"] === message.kind && nullable(stored["node"]) === message.node && bytesEqual(blob(stored["encoded"]), message.encoded);
    if (same) return "identical";
    throw new StoreConflictError({
      conflict: "message",
      requestId,
      stored: `${String(stored["kind"])}:${digest(blob(stored["encoded"]))}`,
      attempted: `${message.kind}:${digest(message.encoded)}`,
    });
  }

  #putEvidence(statements: Statements, requestId: Bytes, evidence: NewEvidence): PutResult {
    this.#requireRequest(statements, requestId);
    const stored = statements.evidenceByHash.get(evidence.hash);
    if (stored !== undefined) {
      const same =
        bytesEqual(blob(stored["request_id"]), requestId) && stored["node"] === evidence.node && bytesEqual(blob(stored["encoded"]), evidence.encoded);
      if (same) return "identical";
      throw new StoreConflictError({ conflict: "evidence", requestId, stored: digest(blob(stored["encoded"])), attempted: digest(evidence.encoded) });
    }
    statements.insertEvidence.run(evidence.hash, requestId, evidence.node, evidence.encoded);
    return "inserted";
  }

  #putOutcome(statements: Statements, requestId: Bytes, outcome: NewOutcome): StoredOutcome {
    this.#requireRequest(statements, requestId);
    const row = statements.outcomeOf.get(requestId);
    if (row !== undefined) {
      const stored = outcomeFromRow(row);
      if (stored.kind === outcome.kind && bytesEqual(stored.encoded, outcome.encoded)) return stored;
      throw new StoreConflictError({
        conflict: "outcome",
        requestId,
        stored: `${stored.kind}:${digest(stored.encoded)}`,
        attempted: `${outcome.kind}:${digest(outcome.encoded)}`,
      });
    }
    const sequence = Number(statements.nextSequence.get()?.["next"]);
    statements.insertOutcome.run(requestId, outcome.kind, outcome.encoded, sequence, outcome.decidedAt);
    statements.setStatus.run(outcome.kind, requestId);
    return { requestId, kind: outcome.kind, encoded: outcome.encoded, decidedAt: outcome.decidedAt, sequence };
  }

  async pending(): Promise<StoredRequest[]> {
    return this.#read("pending", (statements) => statements.pending.all().map(requestFromRow));
  }

  async readyOutcomes(max: number): Promise<StoredOutcome[]> {
    assert(Number.isSafeInteger(max) && max >= 0, "readyOutcomes: max must be a non-negative integer");
    if (max === 0) return [];
    return this.#read("readyOutcomes", (statements) => statements.ready.all(max).map(outcomeFromRow));
  }

  async get(requestId: Bytes): Promise<RequestRecord | undefined> {
    assertId(requestId, "request id");
    return this.#read("get", (statements, db) => {
      // One read transaction: the request, its messages and its outcome are one snapshot.
      db.exec("BEGIN");
      try {
        const row = statements.requestById.get(requestId);
        if (row === undefined) return undefined;
        const record: RequestRecord = {
          request: requestFromRow(row),
          messages: statements.messagesOf.all(requestId).map((m) => {
            const message: NewMessage = { kind: m["kind"] as StoredMessageKind, hash: blob(m["hash"]), encoded: blob(m["encoded"]) };
            const node = nullable(m["node"]);
            if (node !== undefined) message.node = String(node);
            return message;
          }),
          evidence: statements.evidenceOf.all(requestId).map((e) => ({ node: String(e["node"]), hash: blob(e["hash"]), encoded: blob(e["encoded"]) })),
        };
        const outcome = statements.outcomeOf.get(requestId);
        if (outcome !== undefined) record.outcome = outcomeFromRow(outcome);
        return record;
      } finally {
        db.exec("COMMIT");
      }
    });
  }

  async markIncluded(requestIds: readonly Bytes[], blockNumber: number): Promise<void> {
    assert(Number.isSafeInteger(blockNumber) && blockNumber >= 0, "blockNumber must be a non-negative integer");
    for (const id of requestIds) assertId(id, "request id");
    this.#write("markIncluded", (statements) => {
      for (const requestId of requestIds) {
        const row = statements.outcomeOf.get(requestId);
        if (row === undefined || row["kind"] !== "agreed") {
          throw new ConcordError("STORE", "only an agreed outcome can be included in a block", {
            details: `request=${toHex(requestId)} outcome=${row === undefined ? "none" : String(row["kind"])}`,
          });
        }
        const included = nullable(row["included_in"]);
        if (included === undefined) statements.include.run(blockNumber, requestId);
        else if (Number(included) !== blockNumber) {
          throw new StoreConflictError({ conflict: "inclusion", requestId, stored: `block ${String(included)}`, attempted: `block ${blockNumber}` });
        }
      }
    });
  }

  #handles(): { db: DatabaseSync; statements: Statements } {
    const db = this.#db;
    const statements = this.#statements;
    assert(db !== undefined && statements !== undefined, "outcome store is not open");
    return { db, statements };
  }

  #write<T>(operation: string, body: (statements: Statements) => T): T {
    const { db, statements } = this.#handles();
    try {
      return inTransaction(db, () => body(statements));
    } catch (error) {
      throw asStoreError(error, `outcome store ${operation} failed`, this.path);
    }
  }

  #read<T>(operation: string, body: (statements: Statements, db: DatabaseSync) => T): T {
    const { db, statements } = this.#handles();
    try {
      return body(statements, db);
    } catch (error) {
      throw asStoreError(error, `outcome store ${operation} failed`, this.path);
    }
  }

  #requireRequest(statements: Statements, requestId: Bytes): void {
    if (statements.requestById.get(requestId) === undefined) throw unknownRequest(requestId, "request");
  }
}

function prepareStatements(db: DatabaseSync): Statements {
  const outcomeColumns = "request_id, kind, encoded, sequence, decided_at, included_in";
  return {
    closeOf: db.prepare("SELECT hash, encoded FROM messages WHERE request_id = ? AND kind = 'close'"),
    requestById: db.prepare("SELECT id, encoded, status, deadline, created_at, retry_of FROM requests WHERE id = ?"),
    insertRequest: db.prepare(
      "INSERT INTO requests (id, encoded, status, deadline, created_at, retry_of) VALUES (?, ?, 'pending', ?, ?, ?)",
    ),
    setStatus: db.prepare("UPDATE requests SET status = ? WHERE id = ?"),
    pending: db.prepare(
      "SELECT id, encoded, status, deadline, created_at, retry_of FROM requests WHERE status = 'pending' ORDER BY deadline, id",
    ),
    messageByHash: db.prepare("SELECT kind, node, encoded FROM messages WHERE request_id = ? AND hash = ?"),
    insertMessage: db.prepare(
      "INSERT INTO messages (request_id, hash, kind, node, encoded) VALUES (?, ?, ?, ?, ?) ON CONFLICT (request_id, hash) DO NOTHING",
    ),
    messagesOf: db.prepare("SELECT hash, kind, node, encoded FROM messages WHERE request_id = ? ORDER BY rowid"),
    evidenceByHash: db.prepare("SELECT request_id, node, encoded FROM evidence WHERE hash = ?"),
    insertEvidence: db.prepare("INSERT INTO evidence (hash, request_id, node, encoded) VALUES (?, ?, ?, ?)"),
    evidenceOf: db.prepare("SELECT hash, node, encoded FROM evidence WHERE request_id = ? ORDER BY rowid"),
    outcomeOf: db.prepare(`SELECT ${outcomeColumns} FROM outcomes WHERE request_id = ?`),
    nextSequence: db.prepare("SELECT coalesce(max(sequence), 0) + 1 AS next FROM outcomes"),
    insertOutcome: db.prepare("INSERT INTO outcomes (request_id, kind, encoded, sequence, decided_at) VALUES (?, ?, ?, ?, ?)"),
    ready: db.prepare(
      `SELECT ${outcomeColumns} FROM outcomes WHERE kind = 'agreed' AND included_in IS NULL ORDER BY sequence, request_id LIMIT ?`,
    ),
    include: db.prepare("UPDATE outcomes SET included_in = ? WHERE request_id = ? AND included_in IS NULL"),
  };
}

type Row = Record<string, unknown>;

function requestFromRow(row: Row): StoredRequest {
  const request: StoredRequest = {
    id: blob(row["id"]),
    encoded: blob(row["encoded"]),
    status: row["status"] as RequestStatus,
    deadline: Number(row["deadline"]),
    createdAt: Number(row["created_at"]),
  };
  const retryOf = nullable(row["retry_of"]);
  if (retryOf !== undefined) request.retryOf = blob(retryOf);
  return request;
}

function outcomeFromRow(row: Row): StoredOutcome {
  const outcome: StoredOutcome = {
    requestId: blob(row["request_id"]),
    kind: row["kind"] as OutcomeKind,
    encoded: blob(row["encoded"]),
    sequence: Number(row["sequence"]),
    decidedAt: Number(row["decided_at"]),
  };
  const included = nullable(row["included_in"]);
  if (included !== undefined) outcome.includedIn = Number(included);
  return outcome;
}

function blob(value: unknown): Bytes {
  if (!(value instanceof Uint8Array)) throw new ConcordError("STORE", "outcome store holds a non-blob value where bytes belong");
  return value;
}

function nullable<T>(value: T | null | undefined): T | undefined {
  return value === null ? undefined : value;
}

/** Names bytes in an error by length and hash, never by content. */
function digest(bytes: Bytes): string {
  return `${bytes.length}B/sha256:${toHex(sha256(bytes)).slice(0, 16)}`;
}

function unknownRequest(requestId: Bytes, what: string): StoreConflictError {
  return new StoreConflictError({ conflict: "unknown-request", requestId, stored: "none", attempted: what });
}

/** Runs one item's write; a conflict becomes its result instead of failing the batch. */
function orConflict<T>(put: () => T): T | StoreConflictError {
  try {
    return put();
  } catch (error) {
    if (error instanceof StoreConflictError) return error;
    throw error;
  }
}

/** The one result of a one-item batch; a conflict is thrown. */
function single<T>(results: readonly (T | StoreConflictError)[]): T {
  const [result] = results;
  if (result instanceof StoreConflictError) throw result;
  return result as T;
}

function assertRequest(request: NewRequest): void {
  assertId(request.id, "request id");
  assert(request.encoded instanceof Uint8Array, "encoded must be bytes");
  assertUnixMs(request.deadline, "deadline");
  assertUnixMs(request.createdAt, "createdAt");
  if (request.retryOf !== undefined) assertId(request.retryOf, "retryOf");
}

function assertMessage(requestId: Bytes, message: NewMessage): void {
  assertId(requestId, "request id");
  assertId(message.hash, "message hash");
  assert(MESSAGE_KINDS.includes(message.kind), `unknown message kind ${String(message.kind)}`);
  assert(message.encoded instanceof Uint8Array, "encoded must be bytes");
}

function assertEvidence(requestId: Bytes, evidence: NewEvidence): void {
  assertId(requestId, "request id");
  assertId(evidence.hash, "evidence hash");
  assert(evidence.node.length > 0, "evidence node is empty");
  assert(evidence.encoded instanceof Uint8Array, "encoded must be bytes");
}

function assertOutcome(requestId: Bytes, outcome: NewOutcome): void {
  assertId(requestId, "request id");
  assert(OUTCOME_KINDS.includes(outcome.kind), `unknown outcome kind ${String(outcome.kind)}`);
  assert(outcome.encoded instanceof Uint8Array, "encoded must be bytes");
  assertUnixMs(outcome.decidedAt, "decidedAt");
}

function assertId(id: Bytes, what: string): void {
  assert(id instanceof Uint8Array && id.length === 32, `${what} must be 32 bytes`);
}

function assertUnixMs(value: number, what: string): void {
  assert(Number.isSafeInteger(value) && value >= 0, `${what} must be a non-negative integer (unix ms)`);
}
