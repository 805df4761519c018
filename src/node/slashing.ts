/**
 * Slashing protection (spec/slashing-interchange.md): the node's durable record of every
 * commitment and signed output it has signed, consulted before each signature, so that no crash,
 * restart or replay can make an honest node sign two different messages of one kind for one
 * request (which EquivocationEvidence would prove and a registry would slash).
 *
 * The one rule lives in `checkAndInsert`, run in a single BEGIN IMMEDIATE transaction against a
 * WAL SQLite file with synchronous=FULL: the record is on disk before the method returns, and
 * the node signs only after it returns. Re-signing identical data is allowed (a restarted node
 * may rebroadcast); anything else for the same (chain, request, node, kind) is refused with both
 * roots named.
 *
 * @example
 * const protection = new SlashingProtection({ path: "data/slashing.sqlite" });
 * protection.open();
 * protection.checkAndInsert({ chain, request, node, kind: "commitment", signingRoot, deadline });
 * const sig = sign(signingRoot); // only now
 * protection.close();
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { ConcordError, assert } from "../errors.ts";
import { bytesEqual, toHex } from "../wire/hash.ts";
import type { Bytes } from "../wire/types.ts";
import { asStoreError, inTransaction, openPreparedSqliteFile } from "../storage/sqlite-file.ts";

/** The signed message kinds that equivocation is about. */
export type SignedKind = "commitment" | "output";
const SIGNED_KINDS: readonly SignedKind[] = ["commitment", "output"];

/** One signature the node has made (or is about to make). */
export interface SigningRecord {
  chain: string;
  /** Request id, 32 bytes. */
  request: Bytes;
  node: string;
  kind: SignedKind;
  /** The 32 bytes the signature covers (the domain-separated message hash). */
  signingRoot: Bytes;
  /** The request's deadline (unix ms): what pruning keys on. */
  deadline: number;
}

export type SigningKey = Pick<SigningRecord, "chain" | "request" | "node" | "kind">;

/** `inserted`: first signature for this key; `identical`: the same root was signed before. */
export type CheckResult = "inserted" | "identical";

export interface SlashingConflictParams {
  stored: SigningRecord;
  attempted: SigningRecord;
}

/** A signature that would equivocate: a different root is already recorded for the key. */
export class SlashingConflictError extends ConcordError {
  override readonly name: string = "SlashingConflictError";
  readonly stored: SigningRecord;
  readonly attempted: SigningRecord;

  constructor(params: SlashingConflictParams) {
    const { stored, attempted } = params;
    super("SLASHING_CONFLICT", `refusing to sign a second ${attempted.kind} for one request`, {
      details:
        `chain=${attempted.chain} request=${toHex(attempted.request)} node=${attempted.node} ` +
        `stored=${toHex(stored.signingRoot)} attempted=${toHex(attempted.signingRoot)}`,
    });
    this.stored = stored;
    this.attempted = attempted;
  }
}

// ---------------------------------------------------------------------------------------------
// Interchange format (spec/slashing-interchange.md)

export const INTERCHANGE_FORMAT = "concord-slashing-interchange";
export const INTERCHANGE_VERSION = 1;

export interface InterchangeRecord {
  /** Request id, 64 lowercase hex characters. */
  request: string;
  node: string;
  kind: SignedKind;
  /** Signing root, 64 lowercase hex characters. */
  signingRoot: string;
  /** Unix ms. */
  deadline: number;
}

export interface SlashingInterchange {
  format: typeof INTERCHANGE_FORMAT;
  version: typeof INTERCHANGE_VERSION;
  chain: string;
  /** Present when records were pruned: requests with a deadline below it must not be signed. */
  floor?: number;
  records: InterchangeRecord[];
}

/** What `import` did. Conflicting records are reported, never written over the stored ones. */
export interface ImportReport {
  chain: string;
  /** Records new to this database, now stored. */
  inserted: number;
  /** Records already stored with the same signing root. */
  identical: number;
  conflicts: SlashingConflictParams[];
  /** The chain's floor after the import. */
  floor: number;
}

const INTERCHANGE_KEYS = new Set(["format", "version", "chain", "floor", "records"]);
const RECORD_KEYS = ["request", "node", "kind", "signingRoot", "deadline"] as const;
const HEX32 = /^[0-9a-f]{64}$/;
const MAX_TEXT = 256;

/**
 * Strictly validates an interchange document (JSON text or an already parsed value): exact keys,
 * lowercase 32-byte hex, safe non-negative integers, no duplicate (request, node, kind).
 * Throws CONFIG with the path of the first bad field.
 *
 * @example
 * const interchange = parseInterchange(readFileSync("slashing.json", "utf8"));
 */
export function parseInterchange(data: unknown): SlashingInterchange {
  let value = data;
  if (typeof data === "string") {
    try {
      value = JSON.parse(data);
    } catch (error) {
      throw new ConcordError("CONFIG", "slashing interchange is not valid JSON", { details: (error as Error).message, cause: error });
    }
  }
  if (!isPlainObject(value)) invalid("$", "expected a JSON object");
  for (const key of Object.keys(value)) if (!INTERCHANGE_KEYS.has(key)) invalid(key, "unknown field");
  if (value["format"] !== INTERCHANGE_FORMAT) invalid("format", `expected "${INTERCHANGE_FORMAT}"`);
  const version = value["version"];
  if (!Number.isSafeInteger(version)) invalid("version", "expected an integer");
  if (version !== INTERCHANGE_VERSION) {
    throw new ConcordError("CONFIG", "unsupported slashing interchange version", {
      details: `version ${String(version)}; this build reads version ${INTERCHANGE_VERSION}`,
    });
  }
  const chain = text(value["chain"], "chain");
  const records = value["records"];
  if (!Array.isArray(records)) invalid("records", "expected an array");
  const seen = new Map<string, number>();
  const parsed: InterchangeRecord[] = records.map((raw: unknown, i: number) => {
    const at = `records[${i}]`;
    if (!isPlainObject(raw)) invalid(at, "expected an object");
    for (const key of Object.keys(raw)) if (!(RECORD_KEYS as readonly string[]).includes(key)) invalid(`${at}.${key}`, "unknown field");
    const record: InterchangeRecord = {
      request: hex32(raw["request"], `${at}.request`),
      node: text(raw["node"], `${at}.node`),
      kind: signedKind(raw["kind"], `${at}.kind`),
      signingRoot: hex32(raw["signingRoot"], `${at}.signingRoot`),
      deadline: unixMs(raw["deadline"], `${at}.deadline`),
    };
    const key = `${record.request}\u0000${record.node}\u0000${record.kind}`;
    const first = seen.get(key);
    if (first !== undefined) invalid(at, `duplicates records[${first}] (same request, node and kind)`);
    seen.set(key, i);
    return record;
  });
  const interchange: SlashingInterchange = { format: INTERCHANGE_FORMAT, version: INTERCHANGE_VERSION, chain, records: parsed };
  if (value["floor"] !== undefined) interchange.floor = unixMs(value["floor"], "floor");
  return interchange;
}

/**
 * The canonical text of an interchange document: object keys sorted, records sorted by
 * (request, node, kind) in byte order, two-space indent, a final newline. Two documents with
 * the same content serialize to the same bytes.
 */
export function serializeInterchange(interchange: SlashingInterchange): string {
  const records = [...interchange.records].sort(compareRecords);
  return `${JSON.stringify(sortKeys({ ...interchange, records }), null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------------
// The store

export interface SlashingProtectionInit {
  /** Path of the SQLite file; created (mode 0600) if absent. */
  path: string;
  /** Wait this long for another process's write transaction before failing. Default 5,000 ms. */
  busyTimeoutMs?: number;
  /** Run PRAGMA quick_check on open, so a damaged file is refused up front. Default true. */
  integrityCheck?: boolean;
}

// "CNSP" — marks the file as a Concord slashing-protection database.
const APPLICATION_ID = 0x434e5350;
const SCHEMA_VERSION = 1;
const SCHEMA = `
CREATE TABLE signed (
  chain TEXT NOT NULL,
  request BLOB NOT NULL CHECK (length(request) = 32),
  node TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('commitment', 'output')),
  signing_root BLOB NOT NULL CHECK (length(signing_root) = 32),
  deadline INTEGER NOT NULL,
  PRIMARY KEY (chain, request, node, kind)
) STRICT, WITHOUT ROWID;
CREATE INDEX signed_by_deadline ON signed (chain, deadline);
CREATE TABLE floors (
  chain TEXT PRIMARY KEY,
  floor INTEGER NOT NULL
) STRICT;
`;

interface Statements {
  select: StatementSync;
  insert: StatementSync;
  floor: StatementSync;
  raiseFloor: StatementSync;
  prune: StatementSync;
  all: StatementSync;
  open: StatementSync;
}

/** SlashingProtection.openRequests' parameters. */
export interface OpenRequestsParams {
  chain: string;
  node: string;
  /** Unix ms: requests whose deadline is after this. */
  after: number;
  limit: number;
}

/** The node's slashing-protection database. One instance per process; files may be shared. */
export class SlashingProtection {
  readonly path: string;
  readonly #busyTimeoutMs: number;
  readonly #integrityCheck: boolean;
  #db: DatabaseSync | undefined;
  #statements: Statements | undefined;

  constructor(init: SlashingProtectionInit) {
    assert(init.path.length > 0, "slashing-protection path is empty");
    this.path = init.path;
    this.#busyTimeoutMs = init.busyTimeoutMs ?? 5_000;
    this.#integrityCheck = init.integrityCheck ?? true;
  }

  get isOpen(): boolean {
    return this.#db !== undefined;
  }

  /** Opens (creating if needed) the file. A damaged or foreign file is a STORE error. */
  open(): void {
    assert(this.#db === undefined, "slashing protection is already open");
    const { db, statements } = openPreparedSqliteFile(
      {
        path: this.path,
        applicationId: APPLICATION_ID,
        schemaVersion: SCHEMA_VERSION,
        schema: SCHEMA,
        busyTimeoutMs: this.#busyTimeoutMs,
        integrityCheck: this.#integrityCheck,
        what: "slashing-protection database",
      },
      (db) => ({
        select: db.prepare("SELECT signing_root, deadline FROM signed WHERE chain = ? AND request = ? AND node = ? AND kind = ?"),
        insert: db.prepare("INSERT INTO signed (chain, request, node, kind, signing_root, deadline) VALUES (?, ?, ?, ?, ?, ?)"),
        floor: db.prepare("SELECT floor FROM floors WHERE chain = ?"),
        raiseFloor: db.prepare(
          "INSERT INTO floors (chain, floor) VALUES (?, ?) ON CONFLICT (chain) DO UPDATE SET floor = max(floor, excluded.floor)",
        ),
        prune: db.prepare("DELETE FROM signed WHERE chain = ? AND deadline < ?"),
        all: db.prepare("SELECT request, node, kind, signing_root, deadline FROM signed WHERE chain = ? ORDER BY request, node, kind"),
        open: db.prepare(
          "SELECT request, max(deadline) AS deadline FROM signed WHERE chain = ? AND node = ? AND deadline > ? GROUP BY request ORDER BY deadline DESC, request LIMIT ?",
        ),
      }),
    );
    this.#db = db;
    this.#statements = statements;
  }

  /** Closes the file. Safe to call twice. */
  close(): void {
    const db = this.#db;
    this.#db = undefined;
    this.#statements = undefined;
    db?.close();
  }

  /**
   * Call before every signature, and sign only if it returns. In one transaction: no record for
   * (chain, request, node, kind) → insert it (`inserted`); the same signing root → `identical`
   * (re-signing identical data is safe); a different root → SlashingConflictError naming both.
   * A request whose deadline is below the chain's pruning floor is refused too (its record may
   * have been pruned). Storage failures are STORE errors: when in doubt, do not sign.
   */
  checkAndInsert(record: SigningRecord): CheckResult {
    const [result] = this.checkAndInsertMany([record]);
    if (result instanceof ConcordError) throw result;
    return result as CheckResult;
  }

  /**
   * `checkAndInsert` for several records in one transaction (one fsync), in order: each record's
   * result is its CheckResult or its SLASHING_CONFLICT error. A storage failure fails them all
   * (nothing is written, so nothing may be signed).
   */
  checkAndInsertMany(records: readonly SigningRecord[]): (CheckResult | ConcordError)[] {
    for (const record of records) assertRecord(record);
    const { db, statements } = this.#open();
    try {
      return inTransaction(db, () =>
        records.map((record) => {
          const stored = this.#select(statements, record);
          if (stored !== undefined) {
            if (bytesEqual(stored.signingRoot, record.signingRoot)) return "identical";
            return new SlashingConflictError({ stored, attempted: { ...record } });
          }
          const floor = this.#floor(statements, record.chain);
          if (record.deadline < floor) {
            return new ConcordError("SLASHING_CONFLICT", "refusing to sign for a request below the pruning floor", {
              details: `chain=${record.chain} request=${toHex(record.request)} deadline=${record.deadline} floor=${floor}`,
            });
          }
          statements.insert.run(record.chain, record.request, record.node, record.kind, record.signingRoot, record.deadline);
          return "inserted";
        }),
      );
    } catch (error) {
      throw asStoreError(error, "slashing protection failed", this.path);
    }
  }

  /** The stored record for a key, if any. */
  get(key: SigningKey): SigningRecord | undefined {
    const { statements } = this.#open();
    try {
      return this.#select(statements, key);
    } catch (error) {
      throw asStoreError(error, "slashing protection read failed", this.path);
    }
  }

  /** Requests of `chain` with a deadline below this are refused (0 when never pruned). */
  floor(chain: string): number {
    const { statements } = this.#open();
    try {
      return this.#floor(statements, chain);
    } catch (error) {
      throw asStoreError(error, "slashing protection read failed", this.path);
    }
  }

  /**
   * Deletes the records of `chain` whose request deadline is below `before` (typically
   * now − retention) and raises the chain's floor to `before`, so a pruned request can never be
   * signed again. Returns how many records were deleted.
   */
  prune(params: { chain: string; before: number }): number {
    assert(Number.isSafeInteger(params.before) && params.before >= 0, "prune: before must be a non-negative integer");
    const { db, statements } = this.#open();
    try {
      return inTransaction(db, () => {
        const { changes } = statements.prune.run(params.chain, params.before);
        statements.raiseFloor.run(params.chain, params.before);
        return Number(changes);
      });
    } catch (error) {
      throw asStoreError(error, "slashing protection prune failed", this.path);
    }
  }

  /**
   * The requests `node` signed for on `chain` whose deadline is after `after` (typically now):
   * those still open, which a restarted node resumes. Latest deadline first (most time left), at
   * most `limit`.
   */
  openRequests(params: OpenRequestsParams): Bytes[] {
    assert(Number.isSafeInteger(params.after) && params.after >= 0, "openRequests: after must be a non-negative integer");
    assert(Number.isSafeInteger(params.limit) && params.limit > 0, "openRequests: limit must be a positive integer");
    const { statements } = this.#open();
    try {
      return statements.open.all(params.chain, params.node, params.after, params.limit).map((row) => blob(row["request"]));
    } catch (error) {
      throw asStoreError(error, "slashing protection read failed", this.path);
    }
  }

  /** Every record of `chain`, in the interchange format (records in canonical order). */
  export(chain: string): SlashingInterchange {
    const { db, statements } = this.#open();
    try {
      // One read transaction, so records and floor are one snapshot.
      db.exec("BEGIN");
      try {
        const records = statements.all.all(chain).map((row) => ({
          request: toHex(blob(row["request"])),
          node: String(row["node"]),
          kind: signedKind(row["kind"], "kind"),
          signingRoot: toHex(blob(row["signing_root"])),
          deadline: Number(row["deadline"]),
        }));
        const floor = this.#floor(statements, chain);
        const interchange: SlashingInterchange = { format: INTERCHANGE_FORMAT, version: INTERCHANGE_VERSION, chain, records };
        if (floor > 0) interchange.floor = floor;
        return interchange;
      } finally {
        db.exec("COMMIT");
      }
    } catch (error) {
      throw asStoreError(error, "slashing protection export failed", this.path);
    }
  }

  /**
   * Merges an interchange document (text or parsed) in one transaction. New records are
   * inserted; records already stored with the same root are counted; records that conflict with
   * a stored one are reported and NOT written (the stored record stays). The chain's floor is
   * raised to the document's floor. The document is validated in full before anything is written.
   */
  import(data: unknown): ImportReport {
    const interchange = parseInterchange(data);
    const { db, statements } = this.#open();
    const { chain } = interchange;
    try {
      return inTransaction(db, () => {
        const report: ImportReport = { chain, inserted: 0, identical: 0, conflicts: [], floor: 0 };
        for (const entry of interchange.records) {
          const record: SigningRecord = {
            chain,
            request: fromHex32(entry.request),
            node: entry.node,
            kind: entry.kind,
            signingRoot: fromHex32(entry.signingRoot),
            deadline: entry.deadline,
          };
          const stored = this.#select(statements, record);
          if (stored === undefined) {
            statements.insert.run(chain, record.request, record.node, record.kind, record.signingRoot, record.deadline);
            report.inserted++;
          } else if (bytesEqual(stored.signingRoot, record.signingRoot)) {
            report.identical++;
          } else {
            report.conflicts.push({ stored, attempted: record });
          }
        }
        if (interchange.floor !== undefined) statements.raiseFloor.run(chain, interchange.floor);
        report.floor = this.#floor(statements, chain);
        return report;
      });
    } catch (error) {
      throw asStoreError(error, "slashing protection import failed", this.path);
    }
  }

  #open(): { db: DatabaseSync; statements: Statements } {
    const db = this.#db;
    const statements = this.#statements;
    assert(db !== undefined && statements !== undefined, "slashing protection is not open");
    return { db, statements };
  }

  #select(statements: Statements, key: SigningKey): SigningRecord | undefined {
    const row = statements.select.get(key.chain, key.request, key.node, key.kind);
    if (row === undefined) return undefined;
    return {
      chain: key.chain,
      request: key.request,
      node: key.node,
      kind: key.kind,
      signingRoot: blob(row["signing_root"]),
      deadline: Number(row["deadline"]),
    };
  }

  #floor(statements: Statements, chain: string): number {
    const row = statements.floor.get(chain);
    return row === undefined ? 0 : Number(row["floor"]);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

function assertRecord(record: SigningRecord): void {
  assert(record.chain.length > 0, "chain is empty");
  assert(record.node.length > 0, "node is empty");
  assert(SIGNED_KINDS.includes(record.kind), `kind must be commitment or output, not ${String(record.kind)}`);
  assert(record.request instanceof Uint8Array && record.request.length === 32, "request must be 32 bytes");
  assert(record.signingRoot instanceof Uint8Array && record.signingRoot.length === 32, "signingRoot must be 32 bytes");
  assert(Number.isSafeInteger(record.deadline) && record.deadline >= 0, "deadline must be a non-negative integer (unix ms)");
}

function blob(value: unknown): Bytes {
  if (!(value instanceof Uint8Array)) throw new ConcordError("STORE", "slashing-protection database holds a non-blob value");
  return value;
}

function fromHex32(hex: string): Bytes {
  return new Uint8Array(Buffer.from(hex, "hex"));
}

function invalid(path: string, problem: string): never {
  throw new ConcordError("CONFIG", "invalid slashing interchange", { details: `${path}: ${problem}` });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(value: unknown, path: string): string {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_TEXT) {
    invalid(path, `expected a non-empty string of at most ${MAX_TEXT} characters`);
  }
  return value;
}

function hex32(value: unknown, path: string): string {
  if (typeof value !== "string" || !HEX32.test(value)) invalid(path, "expected 64 lowercase hex characters (32 bytes)");
  return value;
}

function signedKind(value: unknown, path: string): SignedKind {
  if (value !== "commitment" && value !== "output") invalid(path, `expected "commitment" or "output"`);
  return value;
}

function unixMs(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) invalid(path, "expected a non-negative integer (unix ms)");
  return value;
}

const utf8Encoder = new TextEncoder();

function compareText(a: string, b: string): number {
  // UTF-8 byte order, as SQLite's BINARY collation and every other language sorts bytes.
  return Buffer.compare(utf8Encoder.encode(a), utf8Encoder.encode(b));
}

function compareRecords(a: InterchangeRecord, b: InterchangeRecord): number {
  return compareText(a.request, b.request) || compareText(a.node, b.node) || compareText(a.kind, b.kind);
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

function sortKeys(value: unknown): Json {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (isPlainObject(value)) {
    const out: { [key: string]: Json } = {};
    for (const key of Object.keys(value).sort(compareText)) {
      if (value[key] !== undefined) out[key] = sortKeys(value[key]);
    }
    return out;
  }
  return value as Json;
}
