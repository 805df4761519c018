/**
 * The llama backend: llama.cpp in-process (node-llama-cpp), a real model from a GGUF file, with
 * Concord's sampler (src/agreement/sampler.ts) choosing every token. The engine only computes
 * each step's next-token distribution; `sampleNext` picks from it with the request's decode seed,
 * so a `seeded` request gets the spec's tokens and margins from real logits, at temperature 0 and
 * above, and two nodes differ only where their floating-point paths flip a near tie.
 *
 * The distribution. node-llama-cpp gives each step's probabilities over the whole vocabulary
 * (`evaluateWithMetadata` with `probabilities: true`): llama.cpp's float32 softmax of the raw
 * logits, under its greedy sampler, which leaves the logits as they are. The sampler reads
 * log(p_i), the logits shifted by a constant (the spec's decisions do not depend on a shift) plus
 * float32 rounding of ~1e-7 nats. A token more than ~103 nats below the top one has p = 0 and reads
 * as -inf, which changes nothing below T = 4.4 (the sampler gives weight 0 to a token 23 T below
 * the top). The raw logits are not reachable through the library's public API; these are. The
 * evidence is sampleNext's: one token id and margin per step, an end-of-sequence token included
 * (it ends the decode and is not in the text).
 *
 * Structured requests (`job.outputSchema`): the schema becomes llama.cpp's JSON-schema grammar
 * (`llama.createGrammarForJsonSchema`), which sets every token it forbids to -inf before the
 * softmax: p = 0, log p = -inf, and `sampleNext` never chooses a -inf logit (its weight is 0,
 * greedy skips it). The output therefore follows the schema, up to maxTokens (a cut-off JSON text
 * does not parse: give structured requests room). node-llama-cpp's JSON grammars end the value
 * with four newlines before EOS is allowed; the decode stops there (those tokens are in the
 * evidence, and count against maxTokens) and the output drops them, as the library's own
 * completions do. Their integer rule also takes an exponent ("1e-5"), which JSON Schema's
 * integer does not: the rule is compiled without it. The grammar state must advance with the token
 * Concord chose, while the engine advances it with the token its own greedy sampler chose (no
 * public hook accepts a token into a grammar state). Each step hands the engine a clone of the
 * state; when the two tokens agree (greedy decoding, nearly always) the clone is the next state,
 * and otherwise a one-token forward pass on a small side context, with Concord's token forced by
 * a logit bias, advances a second clone with it.
 *
 * Engine settings by hardware profile. The synthetic model's profiles (synthetic.ts) name
 * floating-point paths; here each names real llama.cpp settings that select other kernels,
 * reduction orders or precisions (LLAMA_ENGINE_PROFILES). The batch size is llama.cpp's
 * n_batch = n_ubatch: a prompt longer than it is evaluated in chunks (batch 1: matrix-vector
 * kernels, the decode path, instead of matrix products), and the KV cache every later step
 * attends to is computed by those. Flash attention replaces the attention kernel at every step.
 * The KV cache holds keys and values at f16 (llama.cpp's default) or f32. Thread count splits
 * work by rows, and each dot product stays on one thread, so it changes speed, not results
 * (measured: test/unit/runner/llama.test.ts).
 *
 * Parallel sequences (`contextSequences`) serve up to that many jobs at once from one model;
 * node-llama-cpp batches their steps into one forward pass, as a server batches its slots, and a
 * batched step may round differently from a lone one (measured: 1 of 16 sampled jobs run two at a
 * time had other margins than alone, its text the same). For batch-invariant results run one
 * sequence (the default): jobs then queue for it.
 *
 * Failures are ConcordError("BACKEND"): an engine error, an abort, a closed backend, a prompt that
 * with maxTokens does not fit the context, a schema the grammar compiler rejects. A missing model
 * file is CONFIG, thrown by createLlamaBackend itself.
 *
 * @example
 * const llama = createLlamaBackend({ modelFile: "models/concord-wordnet-1m.gguf", hardware: "blocked-8" });
 * const { output, evidence } = await llama.run({ requestId, model: "concord-wordnet", input: "a stone", sampling });
 * await llama.close();
 */
import { statSync } from "node:fs";
import { basename } from "node:path";
import type { Llama, LlamaContext, LlamaContextSequence, LlamaGrammar, LlamaGrammarEvaluationState, LlamaModel, Token } from "node-llama-cpp";
import { deriveDecodeSeed, sampleNext } from "../agreement/sampler.ts";
import { ConcordError, isConcordError } from "../errors.ts";
import type { Evidence } from "../wire/types.ts";
import { throwIfAborted } from "./backend.ts";
import type { InferenceBackend, InferenceJob, InferenceResult } from "./backend.ts";

type NodeLlamaCpp = typeof import("node-llama-cpp");

/** llama.cpp settings that select kernels and summation orders. */
export interface LlamaEngineProfile {
  readonly name: string;
  /** Tokens per forward pass (n_batch = n_ubatch): longer prompts are evaluated in chunks of this many. */
  readonly batchSize: number;
  /** llama.cpp's flash-attention kernel instead of the plain one. */
  readonly flashAttention: boolean;
  /** The precision keys and values are cached at (llama.cpp's default is f16). */
  readonly kvCacheType: LlamaKvCacheType;
}

/** KV-cache precisions the backend offers (both exact for the math; they round differently). */
export type LlamaKvCacheType = "f16" | "f32";

/**
 * The synthetic model's hardware profiles as real engine settings; "blocked-<n>" for any n >= 1
 * also parses. `reference` is llama.cpp's stock path: a prompt of up to 512 tokens in one pass,
 * the plain attention kernel, an f16 KV cache. `fp32-accumulate` keeps the KV cache in f32 (the
 * same sums at another precision); `reversed` feeds the prompt one token at a time
 * (matrix-vector kernels instead of matrix products); `blocked-<n>` runs flash attention, which
 * reduces over the cache in tiles with an online softmax, and feeds the prompt in chunks of n.
 * Measured on CPU with the project's trained model (npm run bench divergence-engine, 100 prompts):
 * each path moves the greedy top-1/top-2 gap, by up to ~7e-4 nats (prompt one token at a time),
 * ~5e-3 (f32 KV cache) and ~3e-3 (flash attention), yet no greedy token changed; at T = 0.7 with
 * the spec sampler 0.23% (f32 KV) and 0.16% (flash attention) of steps flipped, all at near ties. Chunk sizes of 2 or more mostly compute alike (the matrix-product kernel
 * keeps each dot product's order for most batch shapes), so blocked-8 and blocked-16 agree there.
 */
export const LLAMA_ENGINE_PROFILES: readonly LlamaEngineProfile[] = [
  { name: "reference", batchSize: 512, flashAttention: false, kvCacheType: "f16" },
  { name: "fp32-accumulate", batchSize: 512, flashAttention: false, kvCacheType: "f32" },
  { name: "reversed", batchSize: 1, flashAttention: false, kvCacheType: "f16" },
  { name: "blocked-8", batchSize: 8, flashAttention: true, kvCacheType: "f16" },
  { name: "blocked-16", batchSize: 16, flashAttention: true, kvCacheType: "f16" },
];

/** Resolves a profile name; throws CONFIG for an unknown one. */
export function llamaEngineProfile(name: string): LlamaEngineProfile {
  const known = LLAMA_ENGINE_PROFILES.find((p) => p.name === name);
  if (known) return known;
  const blocked = /^blocked-([1-9][0-9]{0,3})$/.exec(name);
  if (blocked) return { name, batchSize: Number(blocked[1]), flashAttention: true, kvCacheType: "f16" };
  throw new ConcordError("CONFIG", "unknown hardware profile", {
    details: `${name} (known: ${LLAMA_ENGINE_PROFILES.map((p) => p.name).join(", ")}, blocked-<n>)`,
  });
}

export interface LlamaBackendOptions {
  /** The GGUF model file. */
  modelFile: string;
  /** Engine settings by profile (see LLAMA_ENGINE_PROFILES): a name or a profile. Default "reference". */
  hardware?: string | LlamaEngineProfile;
  /** CPU threads llama.cpp computes with (speed only: results do not depend on it). Default 1. */
  threads?: number;
  /** Overrides the profile's batch size (tokens per forward pass). */
  batchSize?: number;
  /** Overrides the profile's choice of attention kernel. */
  flashAttention?: boolean;
  /** Overrides the profile's KV-cache precision. */
  kvCacheType?: LlamaKvCacheType;
  /** Tokens per sequence: the prompt plus maxTokens must fit. Default: the model's training context. */
  contextSize?: number;
  /** Jobs served at once, one context sequence each (their steps share forward passes). Default 1. */
  contextSequences?: number;
  /** Serve only this model name (jobs for another fail with BACKEND). Default: any name. */
  model?: string;
  /** Offload to a GPU when node-llama-cpp finds one it has a binary for. Default false (CPU). */
  gpu?: boolean;
}

/** What a backend runs with, after the profile and the overrides. */
export interface LlamaEngineSettings {
  modelFile: string;
  profile: string;
  threads: number;
  batchSize: number;
  flashAttention: boolean;
  kvCacheType: LlamaKvCacheType;
  /** Undefined until the model is loaded when not configured: then the model's training context. */
  contextSize: number | undefined;
  contextSequences: number;
  gpu: boolean;
}

export interface LlamaBackend extends InferenceBackend {
  readonly settings: Readonly<LlamaEngineSettings>;
  /** Loads the model and creates the context (the first job does it otherwise); BACKEND when it cannot. */
  ready(): Promise<void>;
  /**
   * Teacher-forced replay: feeds `claimed` tokens one by one and returns, per step, the token this
   * engine would choose after the claimed prefix and its margin (as replaySynthetic does).
   */
  replay(job: InferenceJob, claimed: readonly number[], signal?: AbortSignal): Promise<Evidence>;
  /** Frees the context and the model once the jobs in flight have stopped (they fail with BACKEND). */
  close(): Promise<void>;
}

const KV_CACHE_TYPES = { f16: "F16", f32: "F32" } as const;

/** Compiled grammars kept per backend (one per distinct schema). */
const GRAMMAR_CACHE_SIZE = 32;
/** A logit bias that makes the forced token the greedy choice whatever the logits (finite in float32). */
const FORCE_LOGIT = 1e30;
const MAX_THREADS = 256;
const MAX_SEQUENCES = 64;
/** node-llama-cpp's GBNF rule for a JSON Schema integer, and the same rule without an exponent. */
const INTEGER_RULE = /^integer-number-rule ::= .*$/m;
const INTEGER_RULE_WITHOUT_EXPONENT = 'integer-number-rule ::= "-"? ("0" | [1-9] [0-9]{0,15})';
/** Generated tokens detokenized to look for a stop text at the end (every stop text is shorter). */
const STOP_TAIL_TOKENS = 16;

/** Throws CONFIG unless `path` is a readable regular file. */
export function checkModelFile(path: string): void {
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new ConcordError("CONFIG", "llama model file not found", { details: `${path}${code && code !== "ENOENT" ? ` (${code})` : ""}`, cause });
  }
  if (!isFile) throw new ConcordError("CONFIG", "llama model file is not a file", { details: path });
}

function positiveInt(value: number | undefined, name: string, max: number): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 1 || value > max)) {
    throw new ConcordError("CONFIG", `llama backend ${name} must be an integer in 1..${max}`, { details: String(value) });
  }
}

// One Llama binding per mode for the whole process: it owns the native library and its threads.
const llamas = new Map<string, Promise<{ lib: NodeLlamaCpp; llama: Llama }>>();

function loadLlama(gpu: boolean): Promise<{ lib: NodeLlamaCpp; llama: Llama }> {
  const key = gpu ? "auto" : "cpu";
  let loading = llamas.get(key);
  if (!loading) {
    loading = (async () => {
      // Imported on first use: the module alone takes ~0.4 s to load, which no other backend should pay.
      const lib = await import("node-llama-cpp");
      const llama = await lib.getLlama({
        gpu: gpu ? "auto" : false,
        build: "never",
        usePrebuiltBinaries: true,
        skipDownload: true,
        progressLogs: false,
        logLevel: lib.LlamaLogLevel.error,
        logger: (level, message) => {
          if (level === lib.LlamaLogLevel.error || level === lib.LlamaLogLevel.fatal) process.stderr.write(`llama.cpp: ${message.trimEnd()}\n`);
        },
      });
      return { lib, llama };
    })();
    // A failed load is retried by the next backend, not cached.
    loading.catch(() => llamas.delete(key));
    llamas.set(key, loading);
  }
  return loading;
}

interface Loaded {
  lib: NodeLlamaCpp;
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
  contextSize: number;
}

/** A queue for the free sequences: FIFO, abortable while waiting. */
class SequencePool {
  readonly #free: LlamaContextSequence[];
  readonly #waiting: { resolve(sequence: LlamaContextSequence): void; reject(error: unknown): void }[] = [];

  constructor(sequences: LlamaContextSequence[]) {
    this.#free = sequences;
  }

  acquire(signal: AbortSignal | undefined, name: string): Promise<LlamaContextSequence> {
    const free = this.#free.pop();
    if (free) return Promise.resolve(free);
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (sequence: LlamaContextSequence) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(sequence);
        },
        reject: (error: unknown) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      const onAbort = (): void => {
        const index = this.#waiting.indexOf(waiter);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(new ConcordError("BACKEND", "inference aborted", { details: name, cause: signal?.reason }));
      };
      this.#waiting.push(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  release(sequence: LlamaContextSequence): void {
    const next = this.#waiting.shift();
    if (next) next.resolve(sequence);
    else this.#free.push(sequence);
  }

  failWaiting(error: ConcordError): void {
    for (const waiter of this.#waiting.splice(0)) waiter.reject(error);
  }
}

/**
 * The llama backend for one node: its model file and engine settings. The model loads on
 * `ready()` or the first job; `close()` frees the context and the model.
 * @example createLlamaBackend({ modelFile: "models/concord-wordnet-1m.gguf", hardware: "reversed", threads: 2 })
 */
export function createLlamaBackend(options: LlamaBackendOptions): LlamaBackend {
  checkModelFile(options.modelFile);
  const profile = typeof options.hardware === "object" ? options.hardware : llamaEngineProfile(options.hardware ?? "reference");
  positiveInt(options.threads, "threads", MAX_THREADS);
  positiveInt(options.batchSize, "batchSize", 1 << 16);
  positiveInt(options.contextSize, "contextSize", 1 << 20);
  positiveInt(options.contextSequences, "contextSequences", MAX_SEQUENCES);
  if (options.kvCacheType !== undefined && !(options.kvCacheType in KV_CACHE_TYPES)) {
    throw new ConcordError("CONFIG", "llama backend kvCacheType must be f16 or f32", { details: String(options.kvCacheType) });
  }
  const settings: LlamaEngineSettings = {
    modelFile: options.modelFile,
    profile: profile.name,
    threads: options.threads ?? 1,
    batchSize: options.batchSize ?? profile.batchSize,
    flashAttention: options.flashAttention ?? profile.flashAttention,
    kvCacheType: options.kvCacheType ?? profile.kvCacheType,
    contextSize: options.contextSize,
    contextSequences: options.contextSequences ?? 1,
    gpu: options.gpu ?? false,
  };
  return new LlamaRunner(settings, options.model);
}

class LlamaRunner implements LlamaBackend {
  readonly name: string;
  readonly settings: LlamaEngineSettings;
  readonly #servedModel: string | undefined;
  #loading: Promise<Loaded> | undefined;
  #pool: SequencePool | undefined;
  /** The side context that advances grammar states (structured requests only), made on first use. */
  #side: Promise<LlamaContextSequence> | undefined;
  #sideQueue: Promise<unknown> = Promise.resolve();
  readonly #grammars = new Map<string, Promise<LlamaGrammar>>();
  readonly #running = new Set<Promise<unknown>>();
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(settings: LlamaEngineSettings, servedModel: string | undefined) {
    this.settings = settings;
    this.#servedModel = servedModel;
    this.name = `llama:${settings.profile}:${basename(settings.modelFile)}`;
  }

  ready(): Promise<void> {
    return this.#load().then(() => undefined);
  }

  async run(job: InferenceJob, signal?: AbortSignal): Promise<InferenceResult> {
    throwIfAborted(signal, this.name);
    if (this.#servedModel !== undefined && job.model !== this.#servedModel) {
      throw new ConcordError("BACKEND", "model not served by this backend", { details: `${job.model} (serves ${this.#servedModel})` });
    }
    return this.#track(async () => {
      const loaded = await this.#load();
      const { evidence, generated } = await this.#withSequence(signal, (sequence) => this.#decode(loaded, sequence, job, undefined, signal));
      const output = loaded.model.detokenize(generated, false);
      // A JSON grammar's closing newlines are its stop marker, not output (node-llama-cpp trims them too).
      return { output: job.outputSchema ? output.trimEnd() : output, evidence };
    });
  }

  async replay(job: InferenceJob, claimed: readonly number[], signal?: AbortSignal): Promise<Evidence> {
    throwIfAborted(signal, this.name);
    return this.#track(async () => {
      const loaded = await this.#load();
      return (await this.#withSequence(signal, (sequence) => this.#decode(loaded, sequence, job, claimed, signal))).evidence;
    });
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#pool?.failWaiting(this.#closedError());
    this.#closing = (async () => {
      // Jobs in flight stop at their next step; then the engine is freed under no one.
      await Promise.allSettled(this.#running);
      const loaded = await this.#loading?.catch(() => undefined);
      const side = await this.#side?.catch(() => undefined);
      await side?.context.dispose();
      await loaded?.context.dispose();
      await loaded?.model.dispose();
    })();
    return this.#closing;
  }

  #closedError(): ConcordError {
    return new ConcordError("BACKEND", "backend closed", { details: this.name });
  }

  /** Runs `work` as a tracked job: close() waits for it, and every failure comes out as BACKEND. */
  async #track<T>(work: () => Promise<T>): Promise<T> {
    if (this.#closed) throw this.#closedError();
    const running = work();
    this.#running.add(running);
    try {
      return await running;
    } catch (error) {
      throw asBackendError(error, this.name);
    } finally {
      this.#running.delete(running);
    }
  }

  #load(): Promise<Loaded> {
    if (this.#closed) return Promise.reject(this.#closedError());
    this.#loading ??= this.#open();
    return this.#loading;
  }

  async #open(): Promise<Loaded> {
    const { settings } = this;
    let lib: NodeLlamaCpp;
    let llama: Llama;
    try {
      ({ lib, llama } = await loadLlama(settings.gpu));
    } catch (cause) {
      throw new ConcordError("BACKEND", "cannot start llama.cpp", { details: describe(cause), cause });
    }
    let model: LlamaModel;
    try {
      model = await llama.loadModel({ modelPath: settings.modelFile, gpuLayers: settings.gpu ? "auto" : 0 });
    } catch (cause) {
      throw new ConcordError("BACKEND", "cannot load the model file", { details: `${settings.modelFile}: ${describe(cause)}`, cause });
    }
    try {
      const contextSize = settings.contextSize ?? model.trainContextSize;
      const context = await model.createContext({
        contextSize,
        sequences: settings.contextSequences,
        batchSize: settings.batchSize,
        threads: settings.threads,
        flashAttention: settings.flashAttention,
        experimentalKvCacheKeyType: KV_CACHE_TYPES[settings.kvCacheType],
        experimentalKvCacheValueType: KV_CACHE_TYPES[settings.kvCacheType],
        failedCreationRemedy: false,
      });
      const sequences = Array.from({ length: settings.contextSequences }, () => context.getSequence());
      this.#pool = new SequencePool(sequences);
      settings.contextSize = contextSize;
      if (this.#closed) {
        await context.dispose();
        throw this.#closedError();
      }
      return { lib, llama, model, context, contextSize };
    } catch (cause) {
      await model.dispose();
      if (isConcordError(cause)) throw cause;
      throw new ConcordError("BACKEND", "cannot create the llama.cpp context", { details: `${settings.modelFile}: ${describe(cause)}`, cause });
    }
  }

  async #withSequence<T>(signal: AbortSignal | undefined, work: (sequence: LlamaContextSequence) => Promise<T>): Promise<T> {
    const pool = this.#pool;
    if (!pool) throw new Error("assertion failed: llama context without a sequence pool");
    if (this.#closed) throw this.#closedError();
    const sequence = await pool.acquire(signal, this.name);
    try {
      return await work(sequence);
    } finally {
      pool.release(sequence);
    }
  }

  /**
   * One decode on `sequence`: the prompt, then a step per token. With `claimed`, the claimed
   * tokens are fed instead of the chosen ones (a replay) and every step is taken.
   */
  async #decode(
    loaded: Loaded,
    sequence: LlamaContextSequence,
    job: InferenceJob,
    claimed: readonly number[] | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ evidence: Evidence; generated: Token[] }> {
    const { model } = loaded;
    const prompt = promptTokens(model, job.input);
    const steps = claimed ? claimed.length : job.sampling.maxTokens;
    if (!Number.isSafeInteger(steps) || steps < 0) throw new ConcordError("BACKEND", "maxTokens must be a non-negative integer", { details: String(steps) });
    if (prompt.length + steps > loaded.contextSize) {
      throw new ConcordError("BACKEND", "prompt and maxTokens exceed the context size", {
        details: `${prompt.length} prompt tokens + ${steps} > ${loaded.contextSize} (contextSize)`,
      });
    }
    const tokens: number[] = [];
    const margins: number[] = [];
    const generated: Token[] = [];
    if (steps === 0) return { evidence: { tokens, margins }, generated };
    const grammar = job.outputSchema ? await this.#grammar(loaded, job.outputSchema) : undefined;
    // llama.cpp's JSON grammars end the value with "\n\n\n\n" and allow EOS only after it:
    // the decode stops there, as node-llama-cpp's own completions do.
    const stops = grammar ? stopTexts(loaded.lib, grammar) : [];
    // The grammar state after the tokens fed so far, and the clone the engine's sampler consumes.
    let state = grammar ? new loaded.lib.LlamaGrammarEvaluationState({ model, grammar }) : undefined;
    let offered = state?.clone();
    const seed = deriveDecodeSeed(job.requestId);
    // Each job starts from an empty sequence: a reused prompt prefix would shift the logits.
    await sequence.clearHistory();
    const engineSteps = sequence.evaluateWithMetadata(
      prompt,
      { probabilities: true },
      { yieldEogToken: true, ...(offered ? { grammarEvaluationState: () => offered } : {}) },
    );
    try {
      let fed: Token | undefined;
      for (let step = 0; step < steps; step++) {
        const next = fed === undefined ? await engineSteps.next() : await engineSteps.next(fed);
        if (next.done) throw new ConcordError("BACKEND", "llama.cpp stopped before the last step", { details: `step ${step}` });
        if (this.#closed) throw this.#closedError();
        throwIfAborted(signal, this.name);
        const { token, marginPpm } = sampleNext(logProbabilities(next.value.probabilities), job.sampling, seed, step);
        tokens.push(token);
        margins.push(marginPpm);
        const chosen = claimed ? checkClaimed(claimed[step], next.value.probabilities.size) : (token as Token);
        if (!claimed && model.isEogToken(chosen)) break;
        generated.push(chosen);
        if (!claimed && stops.length > 0) {
          const tail = model.detokenize(generated.slice(-STOP_TAIL_TOKENS), false);
          if (stops.some((stop) => tail.endsWith(stop))) break;
        }
        if (state && offered && step + 1 < steps) {
          // The engine advanced `offered` with its own choice; if that was not ours, advance a
          // fresh clone with ours.
          state = next.value.token === chosen ? offered : await this.#advanceGrammar(loaded, state, chosen);
          offered = state.clone();
        }
        fed = chosen;
      }
    } finally {
      await engineSteps.return();
    }
    return { evidence: { tokens, margins }, generated };
  }

  #grammar(loaded: Loaded, schema: Record<string, unknown>): Promise<LlamaGrammar> {
    const key = JSON.stringify(schema);
    let grammar = this.#grammars.get(key);
    if (!grammar) {
      grammar = (async () => {
        try {
          // The schema comes from a request: the grammar compiler checks it, at run time.
          const compiled = await loaded.llama.createGrammarForJsonSchema(schema as Parameters<Llama["createGrammarForJsonSchema"]>[0]);
          // Its integer rule allows an exponent ("1e-5"), which JSON Schema's integer does not:
          // integers are written without one.
          const grammar = compiled.grammar.replace(INTEGER_RULE, INTEGER_RULE_WITHOUT_EXPONENT);
          if (grammar === compiled.grammar) return compiled;
          return await loaded.llama.createGrammar({
            grammar,
            stopGenerationTriggers: compiled.stopGenerationTriggers,
            trimWhitespaceSuffix: compiled.trimWhitespaceSuffix,
          });
        } catch (cause) {
          throw new ConcordError("BACKEND", "output schema not supported by llama.cpp's JSON grammar", { details: describe(cause), cause });
        }
      })();
      grammar.catch(() => this.#grammars.delete(key));
      if (this.#grammars.size >= GRAMMAR_CACHE_SIZE) this.#grammars.delete(this.#grammars.keys().next().value as string);
      this.#grammars.set(key, grammar);
    }
    return grammar;
  }

  /** A clone of `state` advanced by `token`: one forced step on the side context. */
  #advanceGrammar(loaded: Loaded, state: LlamaGrammarEvaluationState, token: Token): Promise<LlamaGrammarEvaluationState> {
    const advance = async (): Promise<LlamaGrammarEvaluationState> => {
      const side = await this.#sideSequence(loaded);
      const advanced = state.clone();
      const force = new loaded.lib.TokenBias(loaded.model.tokenizer).set(token, { logit: FORCE_LOGIT });
      await side.clearHistory();
      const anchor = loaded.model.tokens.bos ?? (0 as Token);
      const forced = side.evaluateWithMetadata([anchor], {}, { grammarEvaluationState: advanced, tokenBias: force, yieldEogToken: true });
      try {
        const result = await forced.next();
        if (result.done || result.value.token !== token) {
          throw new ConcordError("BACKEND", "token not allowed by the output schema's grammar", { details: `token ${token}` });
        }
      } finally {
        await forced.return();
      }
      return advanced;
    };
    // One forced step at a time: the side context has one sequence.
    const done = this.#sideQueue.then(advance, advance);
    this.#sideQueue = done.catch(() => undefined);
    return done;
  }

  #sideSequence(loaded: Loaded): Promise<LlamaContextSequence> {
    this.#side ??= (async () => {
      const context = await loaded.model.createContext({
        contextSize: 2,
        sequences: 1,
        batchSize: 1,
        threads: this.settings.threads,
        flashAttention: this.settings.flashAttention,
        experimentalKvCacheKeyType: KV_CACHE_TYPES[this.settings.kvCacheType],
        experimentalKvCacheValueType: KV_CACHE_TYPES[this.settings.kvCacheType],
        failedCreationRemedy: false,
      });
      return context.getSequence();
    })();
    return this.#side;
  }
}

/** The grammar's stop texts (token-sequence triggers do not occur in llama.cpp's JSON grammars). */
function stopTexts(lib: NodeLlamaCpp, grammar: LlamaGrammar): string[] {
  const texts: string[] = [];
  for (const trigger of grammar.stopGenerationTriggers) {
    const text = typeof trigger === "string" ? trigger : lib.isLlamaText(trigger) ? trigger.toString() : undefined;
    if (text) texts.push(text);
  }
  return texts;
}

/** BOS (when the model wants one) and the input's tokens; special-token text in the input stays text. */
function promptTokens(model: LlamaModel, input: string): Token[] {
  const tokens = model.tokenize(input, false);
  const bos = model.tokens.bos;
  if (bos !== null && model.tokens.shouldPrependBosToken && tokens[0] !== bos) tokens.unshift(bos);
  if (tokens.length === 0) throw new ConcordError("BACKEND", "empty prompt", { details: "the input has no tokens and the model adds no BOS" });
  return tokens;
}

/** The distribution as log-probabilities by token id (p = 0, grammar-masked included, reads -inf). */
export function logProbabilities(probabilities: ReadonlyMap<number, number>): Float64Array {
  const logits = new Float64Array(probabilities.size).fill(-Infinity);
  for (const [token, p] of probabilities) {
    if (!(token >= 0 && token < logits.length)) throw new ConcordError("BACKEND", "distribution does not cover the vocabulary", { details: `token ${token}` });
    logits[token] = Math.log(p);
  }
  return logits;
}

function checkClaimed(token: number | undefined, vocab: number): Token {
  if (token === undefined || !Number.isSafeInteger(token) || token < 0 || token >= vocab) {
    throw new ConcordError("BACKEND", "claimed token outside the model's vocabulary", { details: String(token) });
  }
  return token as Token;
}

function asBackendError(error: unknown, name: string): ConcordError {
  if (isConcordError(error, "BACKEND") || isConcordError(error, "CONFIG")) return error;
  return new ConcordError("BACKEND", "llama.cpp inference failed", { details: `${name}: ${describe(error)}`, cause: error });
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message.split("\n")[0] ?? cause.name : String(cause);
}
