/** The inference backend interface: what a node runs for each request it serves. */
import type { Bytes, Evidence, SamplingParams } from "../wire/types.ts";

export interface InferenceJob {
  requestId: Bytes;
  model: string;
  input: string;
  sampling: SamplingParams;
}

export interface InferenceResult {
  output: string;
  /** Token ids and per-step decision margins (ppm), one per generated step. */
  evidence: Evidence;
}

export interface InferenceBackend {
  readonly name: string;
  run(job: InferenceJob, signal?: AbortSignal): Promise<InferenceResult>;
}
