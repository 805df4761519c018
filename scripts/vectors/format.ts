/**
 * The case and file shapes of spec/vectors (spec/vectors/README.md, "Format"), as the generators
 * in this folder write them: gen-vectors.ts's VectorCase with the optional note.
 */
import type { ErrorCode } from "../../src/errors.ts";

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
