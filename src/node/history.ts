/**
 * Whether a node has signed before, and refusing to start when it has but its slashing-protection
 * history is gone (the file deleted, emptied to zero bytes, or replaced by an empty one): with an
 * empty history it would sign again, for a request still open, what its history would refuse.
 * Consensus clients refuse the same way (Lighthouse without its slashing database).
 *
 * The node knows it has signed from `has-signed.json` in its data directory: written, synced,
 * before the first signature its slashing protection allows (slashing-worker.ts), or at start
 * when the history holds records from before this file existed. It says nothing once the whole
 * data directory is lost (the marker goes with it): moving a node means moving its data
 * directory, or exporting its history and importing it (spec/slashing-interchange.md).
 */
import { closeSync, fsyncSync, openSync, renameSync, statSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { ConcordError } from "../errors.ts";
import { readRegularFile } from "./files.ts";
import { SlashingProtection } from "./slashing.ts";

/** The slashing-protection database in a node's data directory. */
export const SLASHING_FILE = "slashing.sqlite";
export const SIGNED_MARKER_FILE = "has-signed.json";

/** What `has-signed.json` holds (for people: its presence is what counts). */
export interface SignedMarker {
  node: string;
  chain: string;
  /** ISO 8601: when the marker was written. */
  since: string;
}

/** The flag that starts a node on a lost history anyway (`concord node`). */
export const HISTORY_LOST_FLAG = "--i-know-slashing-history-is-lost";

/** Writes the marker durably: a temporary file, fsync, rename over, fsync of the folder. */
export function writeSignedMarker(dataDir: string, marker: Omit<SignedMarker, "since">): void {
  const path = join(dataDir, SIGNED_MARKER_FILE);
  const temp = `${path}.${process.pid}.tmp`;
  const fd = openSync(temp, "w", 0o600);
  try {
    writeSync(fd, `${JSON.stringify({ ...marker, since: new Date().toISOString() } satisfies SignedMarker)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  syncDirectory(dirname(path));
}

export interface CheckHistoryParams {
  dataDir: string;
  /** The slashing-protection file (dataDir/slashing.sqlite). */
  slashingPath: string;
  chain: string;
  node: string;
  /** Start even though the history is lost (the operator said so). */
  acceptLost: boolean;
}

/**
 * Before the node opens its slashing protection: `kept` (a history, or none was ever needed),
 * or `lost-accepted` when it has signed before, its history is gone and `acceptLost` is set.
 * Lost without `acceptLost` is a CONFIG error naming the file and the ways out.
 */
export function checkSigningHistory(params: CheckHistoryParams): "kept" | "lost-accepted" {
  const { dataDir, slashingPath, chain } = params;
  const marker = readMarker(dataDir);
  let size: number | undefined;
  try {
    size = statSync(slashingPath).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  // A file with bytes: the history is there unless it holds nothing for this chain, neither a
  // record nor a floor (pruning leaves one, so a store whose records were all pruned has it).
  const held = size ? storedHistory(slashingPath, chain) : { records: 0, floor: false };
  const problem = size === undefined ? "is missing" : size === 0 ? "is empty" : held.records === 0 && !held.floor ? "holds no history for this chain" : undefined;
  if (problem === undefined) {
    // Records from before has-signed.json existed: the node has signed, and says so from now on.
    if (marker === undefined && held.records > 0) writeSignedMarker(dataDir, { node: params.node, chain });
    return "kept";
  }
  if (marker === undefined) return "kept";
  if (params.acceptLost) return "lost-accepted";
  throw new ConcordError("CONFIG", "slashing-protection history lost", {
    details:
      `${slashingPath} ${problem}, but this node has signed before (${join(dataDir, SIGNED_MARKER_FILE)}${marker.since ? `, since ${marker.since}` : ""}). ` +
      `Restore the file from a backup, or import the history this node exported: concord slashing import <file> --data-dir ${dataDir}. ` +
      `Starting without it may sign a second, conflicting commitment for a request still open; if every request it may have signed has passed its deadline: ${HISTORY_LOST_FLAG}`,
  });
}

function readMarker(dataDir: string): Partial<SignedMarker> | undefined {
  let text: string;
  try {
    text = readRegularFile(join(dataDir, SIGNED_MARKER_FILE)).toString("utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as Partial<SignedMarker>;
  } catch {
    // Damaged, but there: the node has signed.
    return {};
  }
}

function storedHistory(path: string, chain: string): { records: number; floor: boolean } {
  // The slashing worker opens the file next, with its integrity check.
  const protection = new SlashingProtection({ path, integrityCheck: false });
  protection.open();
  try {
    const history = protection.export(chain);
    return { records: history.records.length, floor: history.floor !== undefined };
  } finally {
    protection.close();
  }
}

function syncDirectory(directory: string): void {
  try {
    const fd = openSync(directory, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some platforms cannot fsync a folder; the file itself is synced.
  }
}
