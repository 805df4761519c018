/**
 * The worker-thread entry of slashing protection (SlashingGuard in ./slashing-guard.ts starts
 * it): owns the node's SlashingProtection file and answers check-and-insert requests. Requests
 * that arrive while a commit (an fsync) is running are committed together in the next one, so
 * a busy node pays one fsync per batch, on this thread, not one per signature on the event loop.
 * Loaded as ./slashing-worker.ts from source and ./slashing-worker.js from dist/.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parentPort, workerData } from "node:worker_threads";
import { assert } from "../errors.ts";
import { asStoreError } from "../storage/sqlite-file.ts";
import { cloneError } from "../threads.ts";
import { SIGNED_MARKER_FILE, writeSignedMarker } from "./history.ts";
import { SlashingConflictError, SlashingProtection } from "./slashing.ts";
import type { GuardReply, GuardRequest, SlashingGuardInit } from "./slashing-guard.ts";

const port = parentPort;
assert(port !== null, "slashing-worker runs as a worker thread (SlashingGuard starts it)");
const { signedMarkerDir, ...init } = workerData as SlashingGuardInit;
const protection = new SlashingProtection(init);
/** has-signed.json still to write before the first check that lets the node sign. */
let markerPending = signedMarkerDir !== undefined && !existsSync(join(signedMarkerDir, SIGNED_MARKER_FILE));
const STORE_FAILURE = { code: "STORE", shortMessage: "slashing protection failed" } as const;

try {
  protection.open();
  port.postMessage({ type: "ready" } satisfies GuardReply);
} catch (error) {
  port.postMessage({ type: "failed", error: cloneError(error, STORE_FAILURE) } satisfies GuardReply);
  port.close();
}

const queue: GuardRequest[] = [];
/** Replies of this drain, posted as one message at its end (the guard posts its requests the same way). */
let replies: GuardReply[] = [];
const reply = (message: GuardReply): void => {
  replies.push(message);
};
port.on("message", (requests: GuardRequest[]) => {
  const first = queue.length === 0;
  queue.push(...requests);
  // Everything that arrives before this turn ends shares the commit.
  if (first) setImmediate(drain);
});

function drain(): void {
  const closing = commitAll();
  if (replies.length > 0) port?.postMessage(replies);
  replies = [];
  if (closing) {
    protection.close();
    port?.close();
  }
}

/** Answers the queue up to a close, if any (true: close now; what came after it is not answered). */
function commitAll(): boolean {
  const requests = queue.splice(0);
  for (let i = 0; i < requests.length; ) {
    const request = requests[i] as GuardRequest;
    if (request.type === "close") return true;
    if (request.type === "prune" || request.type === "open") {
      try {
        reply(
          request.type === "prune"
            ? { type: "pruned", id: request.id, deleted: protection.prune(request.params) }
            : { type: "open", id: request.id, requests: protection.openRequests(request.params) },
        );
      } catch (error) {
        reply({ type: "error", id: request.id, error: cloneError(error, STORE_FAILURE) } satisfies GuardReply);
      }
      i++;
      continue;
    }
    // A run of checks: one transaction.
    let end = i;
    while (end < requests.length && requests[end]?.type === "check") end++;
    const checks = requests.slice(i, end) as Extract<GuardRequest, { type: "check" }>[];
    i = end;
    let results;
    try {
      results = protection.checkAndInsertMany(checks.map((check) => check.record));
    } catch (error) {
      const cloned = cloneError(error, STORE_FAILURE);
      for (const check of checks) reply({ type: "error", id: check.id, error: cloned } satisfies GuardReply);
      continue;
    }
    const allowed = results.findIndex((result) => typeof result === "string");
    if (markerPending && signedMarkerDir !== undefined && allowed >= 0) {
      const { node, chain } = (checks[allowed] as (typeof checks)[number]).record;
      try {
        writeSignedMarker(signedMarkerDir, { node, chain });
        markerPending = false;
      } catch (error) {
        // Nothing is signed without the marker: these checks fail (their records stay, so a
        // retry is answered identical, and writes the marker first).
        const cloned = cloneError(asStoreError(error, "cannot write the has-signed marker", signedMarkerDir), STORE_FAILURE);
        for (const check of checks) reply({ type: "error", id: check.id, error: cloned } satisfies GuardReply);
        continue;
      }
    }
    results.forEach((result, j) => {
      const id = (checks[j] as (typeof checks)[number]).id;
      if (result instanceof SlashingConflictError) {
        reply({ type: "conflict", id, stored: result.stored, attempted: result.attempted } satisfies GuardReply);
      } else if (typeof result === "string") {
        reply({ type: "checked", id, result } satisfies GuardReply);
      } else {
        reply({ type: "error", id, error: cloneError(result, STORE_FAILURE) } satisfies GuardReply);
      }
    });
  }
  return false;
}
