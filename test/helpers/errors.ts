import { isConcordError, type ErrorCode } from "../../src/errors.ts";

/** Runs `fn`: the ConcordError code it throws, or "ok". Any other exception fails the test. */
export function codeOf(fn: () => unknown): ErrorCode | "ok" {
  try {
    fn();
  } catch (error) {
    if (isConcordError(error)) return error.code;
    throw error;
  }
  return "ok";
}
