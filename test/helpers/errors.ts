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

/** What `promise` rejects with; fails the test if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}
