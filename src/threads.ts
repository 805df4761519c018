/**
 * What Concord's worker threads share: where an entry file lives (source or dist/), and how a
 * ConcordError crosses a thread (structured clone keeps an error's fields, not its class).
 */
import { ConcordError, type ErrorCode, type GossipAction } from "./errors.ts";

/**
 * The URL of the worker entry `name` next to the calling module (pass its import.meta.url):
 * `name.ts` when running from source, `name.js` from the compiled package.
 */
export function workerEntry(name: string, callerUrl: string): URL {
  const extension = new URL(callerUrl).pathname.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`./${name}${extension}`, callerUrl);
}

/** A ConcordError as it crosses a thread. */
export interface ClonedError {
  code: ErrorCode;
  shortMessage: string;
  details: string | undefined;
  action: GossipAction;
}

/** Clones a ConcordError; anything else (a bug, not a rule) becomes `fallback` with its message. */
export function cloneError(error: unknown, fallback: { code: ErrorCode; shortMessage: string }): ClonedError {
  if (error instanceof ConcordError) {
    const suffix = error.details ? `: ${error.details}` : "";
    const shortMessage = error.message.slice(0, error.message.length - suffix.length);
    return { code: error.code, shortMessage, details: error.details, action: error.action };
  }
  const details = error instanceof Error ? error.message : String(error);
  return { code: fallback.code, shortMessage: fallback.shortMessage, details, action: "reject" };
}

export function rebuildError(cloned: ClonedError): ConcordError {
  return new ConcordError(cloned.code, cloned.shortMessage, {
    action: cloned.action,
    ...(cloned.details !== undefined ? { details: cloned.details } : {}),
  });
}
