/**
 * The case and file shapes of spec/vectors (spec/vectors/README.md, "Format"), as the generators
 * in this folder write them: gen-vectors.ts's VectorCase with the optional note; and what every
 * generator needs to record an expected error.
 */
import { isConcordError, type ErrorCode } from "../../src/errors.ts";

export interface NotedCase {
  name: string;
  /** Why the case exists, in one sentence (runners ignore it). */
  note?: string;
  input: unknown;
  expected?: unknown;
  expectedError?: ErrorCode;
}

export interface NotedFile {
  description: string;
  cases: NotedCase[];
}

/** The ConcordError code `fn` throws, or undefined when it returns. */
export function codeOf(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
  } catch (error) {
    if (isConcordError(error)) return error.code;
    throw error;
  }
  return undefined;
}
