/**
 * The inference-backend interface a node runs requests through: the built-in synthetic model
 * (src/runner/synthetic.ts) or any OpenAI-compatible server (src/runner/openai.ts).
 */
import { ConcordError } from "../errors.ts";
import type { Bytes, Evidence, SamplingParams } from "../wire/types.ts";

/** One request as a backend sees it. */
export interface InferenceJob {
  /** The request id: decoding seeds derive from it (deriveDecodeSeed in src/agreement/sampler.ts). */
  requestId: Bytes;
  model: string;
  input: string;
  sampling: SamplingParams;
  /**
   * Whether the request's policy reads evidence (AgreementPolicy.usesEvidence). When false the
   * caller drops it, so a backend may skip producing it (a server need not compute logprobs) and
   * return empty tokens and margins. Default true.
   */
  evidence?: boolean;
  /**
   * A JSON Schema the output must satisfy (from a structured@2 request: `outputJsonSchema` in
   * src/agreement/structured-schema.ts). Backends decode under it (a server's
   * `response_format: json_schema`, llama.cpp's JSON-schema grammar); an output that breaks it
   * does not vote anyway.
   */
  outputSchema?: Record<string, unknown>;
}

export interface InferenceResult {
  output: string;
  /** One token id and one margin (ppm, see src/agreement/sampler.ts) per generated step. */
  evidence: Evidence;
}

export interface InferenceBackend {
  /** Names the backend in logs and metrics, e.g. "synthetic:sim-h100" or "openai:http://gpu-1:8000". */
  readonly name: string;
  /** Runs one job. Fails with ConcordError("BACKEND") when the job cannot be served or `signal` aborts it. */
  run(job: InferenceJob, signal?: AbortSignal): Promise<InferenceResult>;
  /**
   * Releases what the backend holds (the synthetic backend's worker threads). Jobs in flight fail
   * with ConcordError("BACKEND"), and so do jobs run after it; calling it twice is harmless.
   * Backends that hold nothing omit it: callers write `await backend.close?.()`.
   */
  close?(): Promise<void>;
}

/** Throws BACKEND when `signal` has aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, backend: string): void {
  if (signal?.aborted) throw new ConcordError("BACKEND", "inference aborted", { details: backend, cause: signal.reason });
}

/** Waits `ms` milliseconds, or fails with BACKEND as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal | undefined, backend: string): Promise<void> {
  throwIfAborted(signal, backend);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new ConcordError("BACKEND", "inference aborted", { details: backend, cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
