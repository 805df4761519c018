/**
 * A backend for any OpenAI-compatible server (vLLM, SGLang, llama.cpp server, Ollama): one
 * non-streaming POST to {baseUrl}/v1/completions (or /v1/chat/completions) per job.
 *
 * What goes out: model, the input as the prompt (chat: one user message), max_tokens,
 * temperature = temperatureMilli / 1000, top_p = topPPpm / 1e6, top_k when the job sets one (vLLM,
 * SGLang and llama.cpp accept it), logprobs = 2 (chat: logprobs + top_logprobs = 2) unless the
 * job says its policy reads no evidence (then none are asked for, and the evidence is empty), and
 * seed = the first 4 bytes of deriveDecodeSeed(requestId) as a big-endian uint32, shifted right
 * by one: 31 bits, which every server's seed field takes (signed or unsigned 32-bit) and which
 * never hits llama.cpp's "random seed" value 0xFFFFFFFF. Committee members thus share a seed, but
 * the server's own sampler is not the spec's (src/agreement/sampler.ts): only a backend that
 * exposes logits can produce the spec's token, so with a server the seeded policy compares what
 * the servers chose.
 *
 * What comes back: the text, and per generated token its id and a margin. The margin is the gap
 * between the two most likely tokens' log-probabilities at that step, in micro-nats (the spec's
 * greedy margin; for sampled decoding the same gap is reported, not the spec's CDF distance).
 * Margins are the server's claim: nothing here can check them. Token ids come from the response
 * when the server gives them (a numeric `id` per logprob entry as llama.cpp sends, `token_ids` on
 * the choice, or vLLM's "token_id:<n>" strings when asked with return_tokens_as_token_ids);
 * otherwise a token's text is hashed to an id: 2^31 + the first 31 bits of
 * taggedHash("concord/token-text", text), so hashed ids never collide with real vocabulary ids.
 *
 * Failures are ConcordError("BACKEND"): a server that cannot be reached, a timeout (per attempt),
 * a 4xx, a 5xx after the last retry, a body that is not JSON or lacks a field. Connection errors
 * and 5xx are retried with exponential backoff (bounded attempts); 4xx, timeouts and malformed
 * bodies are not.
 *
 * @example
 * const vllm = createOpenAIBackend({ baseUrl: "http://gpu-1:8000", model: "meta-llama/Llama-3.1-8B-Instruct" });
 * const { output, evidence } = await vllm.run({ requestId, model: "llama-3.1-8b", input: "hello", sampling });
 */
import { deriveDecodeSeed, MARGIN_CAP_PPM } from "../agreement/sampler.ts";
import { ConcordError, isConcordError } from "../errors.ts";
import { taggedHash } from "../wire/hash.ts";
import type { SamplingParams } from "../wire/types.ts";
import { sleep, throwIfAborted } from "./backend.ts";
import type { InferenceBackend, InferenceJob, InferenceResult } from "./backend.ts";

export interface OpenAIBackendOptions {
  /** Server root, e.g. "http://127.0.0.1:8000" (a trailing "/v1" is accepted too). */
  baseUrl: string;
  /** Model name sent to the server. Default: the job's model. */
  model?: string;
  /** Sent as "Authorization: Bearer <apiKey>". */
  apiKey?: string;
  /** "completions" (default): POST /v1/completions; "chat": POST /v1/chat/completions. */
  api?: "completions" | "chat";
  /** Time one attempt may take, response body included, in ms. Default 60,000. */
  timeoutMs?: number;
  /** Attempts for connection errors and 5xx (1: no retry). Default 3. */
  maxAttempts?: number;
  /** Wait before the first retry, in ms, doubled for each further one (capped at 5 s). Default 200. */
  backoffMs?: number;
  /** Send top_k when the job sets one (off for servers that reject unknown fields). Default true. */
  sendTopK?: boolean;
  /**
   * Where a structured@2 job's output schema goes: `response_format` ({type: "json_schema", ...}:
   * every server's chat API, OpenAI's), `json_schema` (the bare schema: llama.cpp server and
   * SGLang on /v1/completions, where llama.cpp ignores response_format), or `guided_json` (vLLM's
   * completions). Default: response_format for chat, json_schema for completions.
   */
  schemaField?: "response_format" | "json_schema" | "guided_json";
  /** Extra request fields for one server kind, e.g. { return_tokens_as_token_ids: true } for vLLM. */
  extraBody?: Record<string, unknown>;
  /** The fetch to use. Default: the global fetch. */
  fetch?: typeof fetch;
}

const MAX_BACKOFF_MS = 5_000;
const BODY_SNIPPET = 200;

/**
 * The seed sent to the server: the first 4 bytes of deriveDecodeSeed(requestId), big-endian,
 * shifted right by one (31 bits).
 */
export function serverSeed(requestId: Uint8Array): number {
  const seed = deriveDecodeSeed(requestId);
  return new DataView(seed.buffer, seed.byteOffset, 4).getUint32(0, false) >>> 1;
}

/** The id a token's text maps to when the server sends no ids: 2^31 + 31 bits of its hash. */
export function hashedTokenId(text: string): number {
  const digest = taggedHash("concord/token-text", text);
  return 0x8000_0000 + (new DataView(digest.buffer, digest.byteOffset, 4).getUint32(0, false) >>> 1);
}

/** A log-probability gap in nats as the evidence's margin: micro-nats, floored, in [0, 2^32-1]. */
function gapToPpm(gap: number): number {
  const scaled = gap * 1e6;
  if (!(scaled > 0)) return 0;
  return scaled >= MARGIN_CAP_PPM ? MARGIN_CAP_PPM : Math.floor(scaled);
}

function requestBody(job: InferenceJob, options: OpenAIBackendOptions): Record<string, unknown> {
  const sampling: SamplingParams = job.sampling;
  const body: Record<string, unknown> = {
    model: options.model ?? job.model,
    max_tokens: sampling.maxTokens,
    temperature: sampling.temperatureMilli / 1000,
    top_p: sampling.topPPpm / 1_000_000,
    seed: serverSeed(job.requestId),
    stream: false,
  };
  if (sampling.topK > 0 && options.sendTopK !== false) body.top_k = sampling.topK;
  const evidence = job.evidence !== false;
  if (options.api === "chat") {
    body.messages = [{ role: "user", content: job.input }];
    if (evidence) {
      body.logprobs = true;
      body.top_logprobs = 2;
    }
  } else {
    body.prompt = job.input;
    if (evidence) body.logprobs = 2;
  }
  if (job.outputSchema) {
    // Constrained decoding. Servers read the schema from different fields (see schemaField).
    const field = options.schemaField ?? (options.api === "chat" ? "response_format" : "json_schema");
    body[field] =
      field === "response_format" ? { type: "json_schema", json_schema: { name: "concord_output", strict: true, schema: job.outputSchema } } : job.outputSchema;
  }
  return { ...body, ...options.extraBody };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function malformed(details: string): ConcordError {
  return new ConcordError("BACKEND", "malformed response", { details });
}

/** Token id from an explicit id, a "token_id:<n>" string, or a hash of the text. */
function tokenId(text: string, explicitId: unknown): number {
  if (typeof explicitId === "number" && Number.isSafeInteger(explicitId) && explicitId >= 0) return explicitId;
  const tagged = /^token_id:(\d+)$/.exec(text);
  if (tagged) return Number(tagged[1]);
  return hashedTokenId(text);
}

/** Top-2 gap over alternatives, each token counted once (vLLM also lists the sampled token). */
function marginOf(alternatives: Map<string, number>): number {
  let first = -Infinity;
  let second = -Infinity;
  for (const logprob of alternatives.values()) {
    if (typeof logprob !== "number" || Number.isNaN(logprob)) throw malformed("logprob is not a number");
    if (logprob > first) {
      second = first;
      first = logprob;
    } else if (logprob > second) {
      second = logprob;
    }
  }
  // One alternative only: no runner-up was reported, so the decision reads as clear.
  return second === -Infinity ? MARGIN_CAP_PPM : gapToPpm(first - second);
}

/**
 * Parses /v1/completions or /v1/chat/completions JSON into output text and evidence (with
 * `evidence` false, the text only: logprobs were not asked for).
 */
export function parseCompletion(json: unknown, api: "completions" | "chat", evidence = true): InferenceResult {
  if (!isRecord(json)) throw malformed("body is not a JSON object");
  const choices = json.choices;
  if (!Array.isArray(choices) || !isRecord(choices[0])) throw malformed("no choices[0]");
  const choice = choices[0];
  let output: unknown;
  if (api === "chat") {
    if (!isRecord(choice.message)) throw malformed("no choices[0].message");
    output = choice.message.content ?? "";
  } else {
    output = choice.text;
  }
  if (typeof output !== "string") throw malformed(api === "chat" ? "choices[0].message.content is not text" : "choices[0].text is not text");
  if (!evidence) return { output, evidence: { tokens: [], margins: [] } };
  const logprobs = choice.logprobs;
  if (!isRecord(logprobs)) throw malformed("no choices[0].logprobs (does the server support logprobs?)");
  const tokens: number[] = [];
  const margins: number[] = [];
  const choiceIds = Array.isArray(choice.token_ids) ? choice.token_ids : undefined;

  if (Array.isArray(logprobs.content)) {
    // Chat format (also llama.cpp's completions): [{ token, logprob, id?, top_logprobs: [{ token, logprob, id? }] }]
    logprobs.content.forEach((entry, i) => {
      if (!isRecord(entry) || typeof entry.token !== "string" || typeof entry.logprob !== "number") throw malformed(`logprobs.content[${i}]`);
      const alternatives = new Map<string, number>([[entry.token, entry.logprob]]);
      if (!Array.isArray(entry.top_logprobs)) throw malformed(`logprobs.content[${i}].top_logprobs`);
      for (const top of entry.top_logprobs) {
        if (!isRecord(top) || typeof top.token !== "string" || typeof top.logprob !== "number") throw malformed(`logprobs.content[${i}].top_logprobs`);
        alternatives.set(top.token, top.logprob);
      }
      tokens.push(tokenId(entry.token, choiceIds?.[i] ?? entry.id));
      margins.push(marginOf(alternatives));
    });
  } else {
    // Legacy completions format: { tokens, token_logprobs, top_logprobs: [{ token: logprob }] }
    const { tokens: texts, token_logprobs: chosen, top_logprobs: tops } = logprobs;
    if (!Array.isArray(texts) || !Array.isArray(tops) || tops.length !== texts.length) throw malformed("logprobs.tokens / logprobs.top_logprobs");
    texts.forEach((text, i) => {
      if (typeof text !== "string") throw malformed(`logprobs.tokens[${i}]`);
      const top = tops[i];
      const alternatives = new Map<string, number>();
      const own = Array.isArray(chosen) ? chosen[i] : undefined;
      if (typeof own === "number") alternatives.set(text, own);
      if (isRecord(top)) {
        for (const [token, logprob] of Object.entries(top)) {
          if (typeof logprob !== "number") throw malformed(`logprobs.top_logprobs[${i}]`);
          alternatives.set(token, logprob);
        }
      } else if (top !== null) {
        throw malformed(`logprobs.top_logprobs[${i}]`);
      }
      tokens.push(tokenId(text, choiceIds?.[i]));
      margins.push(alternatives.size === 0 ? MARGIN_CAP_PPM : marginOf(alternatives));
    });
  }
  return { output, evidence: { tokens, margins } };
}

function endpoint(baseUrl: string, api: "completions" | "chat"): string {
  let root = baseUrl.replace(/\/+$/, "");
  if (root.endsWith("/v1")) root = root.slice(0, -3);
  return `${root}/v1/${api === "chat" ? "chat/completions" : "completions"}`;
}

/**
 * A backend that forwards jobs to an OpenAI-compatible server.
 * @example createOpenAIBackend({ baseUrl: "http://127.0.0.1:11434", model: "llama3.2", api: "chat" })
 */
export function createOpenAIBackend(options: OpenAIBackendOptions): InferenceBackend {
  const api = options.api ?? "completions";
  const url = endpoint(options.baseUrl, api);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const backoffMs = options.backoffMs ?? 200;
  const doFetch = options.fetch ?? globalThis.fetch;
  const name = `openai:${options.baseUrl}`;
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;

  /** One attempt: the parsed result, or an error marked retryable or not. */
  async function attempt(body: string, evidence: boolean, signal: AbortSignal | undefined): Promise<{ result: InferenceResult } | { error: ConcordError; retry: boolean }> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let status: number;
    let text: string;
    try {
      const response = await doFetch(url, { method: "POST", headers, body, signal: combined });
      status = response.status;
      text = await response.text();
    } catch (cause) {
      if (signal?.aborted) throw new ConcordError("BACKEND", "inference aborted", { details: name, cause: signal.reason });
      if (timeout.aborted) return { error: new ConcordError("BACKEND", "server timed out", { details: `${url} after ${timeoutMs} ms`, cause }), retry: false };
      return { error: new ConcordError("BACKEND", "server unreachable", { details: `${url}: ${describeCause(cause)}`, cause }), retry: true };
    }
    if (status >= 500) return { error: new ConcordError("BACKEND", "server error", { details: `${url}: HTTP ${status} ${text.slice(0, BODY_SNIPPET)}` }), retry: true };
    if (status >= 400) return { error: new ConcordError("BACKEND", "server rejected the request", { details: `${url}: HTTP ${status} ${text.slice(0, BODY_SNIPPET)}` }), retry: false };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { error: malformed(`not JSON: ${text.slice(0, BODY_SNIPPET)}`), retry: false };
    }
    try {
      return { result: parseCompletion(json, api, evidence) };
    } catch (error) {
      if (isConcordError(error)) return { error, retry: false };
      throw error;
    }
  }

  return {
    name,
    async run(job, signal) {
      throwIfAborted(signal, name);
      const body = JSON.stringify(requestBody(job, options));
      let last: ConcordError | undefined;
      for (let n = 1; n <= maxAttempts; n++) {
        if (n > 1) await sleep(Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** (n - 2)), signal, name);
        const outcome = await attempt(body, job.evidence !== false, signal);
        if ("result" in outcome) return outcome.result;
        last = outcome.error;
        if (!outcome.retry) break;
      }
      throw last ?? new ConcordError("BACKEND", "no attempt made", { details: name });
    },
  };
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : "";
    return `${cause.message}${inner}`;
  }
  return String(cause);
}

/** What a probe of an OpenAI-compatible server found. */
export interface OpenAIServerProbe {
  /** The model ids GET /v1/models listed; undefined when the server has no such route. */
  models: string[] | undefined;
}

/**
 * Checks, before a node joins, that an OpenAI-compatible server answers at `baseUrl`: one
 * GET {baseUrl}/v1/models. Nothing answering (refused, unresolvable, timed out) or an API key the
 * server refuses (401/403) is a CONFIG error; a server without the route (404, other statuses) is
 * taken as up, since only /v1/completions is required.
 *
 * @example await probeOpenAIServer({ baseUrl: "http://127.0.0.1:8000" }) // { models: ["Qwen2.5-7B-Instruct"] }
 */
export async function probeOpenAIServer(options: {
  baseUrl: string;
  apiKey?: string;
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
}): Promise<OpenAIServerProbe> {
  let root = options.baseUrl.replace(/\/+$/, "");
  if (root.endsWith("/v1")) root = root.slice(0, -3);
  const url = `${root}/v1/models`;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const headers: Record<string, string> = { accept: "application/json" };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
  let status: number;
  let text: string;
  try {
    const response = await (options.fetch ?? globalThis.fetch)(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    status = response.status;
    text = await response.text();
  } catch (cause) {
    const reason = cause instanceof Error && cause.name === "TimeoutError" ? `no answer in ${timeoutMs} ms` : describeCause(cause);
    throw new ConcordError("CONFIG", "openai backend not reachable", {
      details: `${url}: ${reason}; start the server first, or set backend.baseUrl (--openai-url, CONCORD_OPENAI_URL) to where it listens`,
      cause,
    });
  }
  if (status === 401 || status === 403) {
    throw new ConcordError("CONFIG", "openai backend refused the API key", { details: `${url}: HTTP ${status} (backend.apiKeyEnv names the variable holding the key)` });
  }
  if (status < 200 || status >= 300) return { models: undefined };
  try {
    const json = JSON.parse(text) as { data?: unknown };
    if (!Array.isArray(json.data)) return { models: undefined };
    return { models: json.data.map((entry: unknown) => (entry as { id?: unknown }).id).filter((id): id is string => typeof id === "string") };
  } catch {
    return { models: undefined };
  }
}
