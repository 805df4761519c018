/**
 * The llama backend on the project's trained model (committed under models/): Concord's sampler
 * picks every token from llama.cpp's real distributions. The evidence is checked against an
 * independent path (node-llama-cpp driven directly, one token at a time), structured requests
 * against their schema, and the failure modes (missing file, abort, close, context) for clear
 * BACKEND or CONFIG errors. The model file is part of the repository: without it these tests fail,
 * they do not skip.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Llama, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deriveDecodeSeed, sampleNext } from "../../../src/agreement/sampler.ts";
import { isConcordError } from "../../../src/errors.ts";
import { resolveNodeConfig } from "../../../src/node/config.ts";
import type { InferenceJob } from "../../../src/runner/backend.ts";
import {
  createLlamaBackend,
  LLAMA_ENGINE_PROFILES,
  llamaEngineProfile,
  logProbabilities,
  type LlamaBackend,
  type LlamaBackendOptions,
} from "../../../src/runner/llama.ts";
import { HARDWARE_PROFILES } from "../../../src/runner/synthetic.ts";
import { taggedHash } from "../../../src/wire/hash.ts";
import type { SamplingParams } from "../../../src/wire/types.ts";
import { rejection } from "../../helpers/errors.ts";

/** The project's trained model, committed under models/; CONCORD_LLAMA_TEST_MODEL points elsewhere. */
const MODEL_FILE = resolve(process.env.CONCORD_LLAMA_TEST_MODEL ?? fileURLToPath(new URL("../../../models/concord-wordnet-1m.gguf", import.meta.url)));
const GREEDY: SamplingParams = { temperatureMilli: 0, topK: 0, topPPpm: 1_000_000, maxTokens: 24 };
const SAMPLED: SamplingParams = { temperatureMilli: 700, topK: 40, topPPpm: 950_000, maxTokens: 24 };
/** Prompts in the training text's shape: a WordNet lemma, its part of speech, then its gloss. */
const INPUTS = ["boat (noun):", "run (verb):", "happy (adjective):", "quickly (adverb):", "river (noun):", "teach (verb):"];

function job(i: number, sampling: SamplingParams = GREEDY, extra: Partial<InferenceJob> = {}): InferenceJob {
  return { requestId: taggedHash("test/llama", String(i)), model: "concord-wordnet", input: INPUTS[i % INPUTS.length] as string, sampling, ...extra };
}

const backends: LlamaBackend[] = [];
function llama(options: Partial<LlamaBackendOptions> = {}): LlamaBackend {
  const backend = createLlamaBackend({ modelFile: MODEL_FILE, ...options });
  backends.push(backend);
  return backend;
}
let reference: LlamaBackend;
let direct: DirectEngine;
let tmp: string;

beforeAll(async () => {
  // A missing model is a failure with a reason, never a skipped suite.
  expect(existsSync(MODEL_FILE), `the trained model ${MODEL_FILE} is missing: it is committed to the repository`).toBe(true);
  tmp = mkdtempSync(join(tmpdir(), "concord-llama-"));
  reference = llama();
  await reference.ready();
  direct = await DirectEngine.open();
}, 60_000);
afterAll(async () => {
  await direct?.close();
  await Promise.all(backends.map((backend) => backend.close()));
  rmSync(tmp, { recursive: true, force: true });
});

/**
 * The independent path: node-llama-cpp driven directly, prompt in one pass and then one token per
 * pass (as the backend does), returning each step's distribution after the given tokens.
 */
class DirectEngine {
  static async open(): Promise<DirectEngine> {
    const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
    const lib: Llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    const model = await lib.loadModel({ modelPath: MODEL_FILE, gpuLayers: 0 });
    const context = await model.createContext({ contextSize: model.trainContextSize, sequences: 1, batchSize: 512, threads: 1, flashAttention: false });
    return new DirectEngine(model, context.getSequence());
  }

  readonly model: LlamaModel;
  readonly sequence: LlamaContextSequence;

  constructor(model: LlamaModel, sequence: LlamaContextSequence) {
    this.model = model;
    this.sequence = sequence;
  }

  /** Per step: log-probabilities after the prompt and tokens[0..t-1]. */
  async distributions(input: string, tokens: readonly number[]): Promise<Float64Array[]> {
    await this.sequence.clearHistory();
    const bos = this.model.tokens.bos;
    const prompt = [...(bos !== null && this.model.tokens.shouldPrependBosToken ? [bos] : []), ...this.model.tokenize(input, false)];
    const out: Float64Array[] = [];
    let feed = prompt;
    for (let t = 0; t < tokens.length; t++) {
      const last = feed.length - 1;
      const items = feed.map((token, i) => (i === last ? ([token, { generateNext: { probabilities: true } }] as const) : token));
      const results = await this.sequence.controlledEvaluate(items as Parameters<LlamaContextSequence["controlledEvaluate"]>[0]);
      const probabilities = results[last]?.next.probabilities;
      if (!probabilities) throw new Error("no distribution");
      out.push(logProbabilities(probabilities));
      feed = [tokens[t] as Token];
    }
    return out;
  }

  async close(): Promise<void> {
    await this.sequence.context.dispose();
    await this.model.dispose();
  }
}

describe("llama backend: engine profiles", () => {
  it("maps every synthetic hardware profile to engine settings, and blocked-<n> to batch size n", () => {
    for (const profile of HARDWARE_PROFILES) expect(llamaEngineProfile(profile.name).name).toBe(profile.name);
    expect(llamaEngineProfile("blocked-32")).toEqual({ name: "blocked-32", batchSize: 32, flashAttention: true, kvCacheType: "f16" });
    expect(new Set(LLAMA_ENGINE_PROFILES.map((p) => `${p.batchSize}/${p.flashAttention}/${p.kvCacheType}`)).size).toBe(LLAMA_ENGINE_PROFILES.length);
    const error = (() => {
      try {
        llamaEngineProfile("tpu");
      } catch (caught) {
        return caught;
      }
    })();
    expect(isConcordError(error, "CONFIG") && error.message).toMatch(/unknown hardware profile: tpu \(known: reference/);
  });
});

describe("llama backend: decoding with the spec sampler", () => {
  it("gives the same output and evidence for the same job, every run and every instance", async () => {
    const other = llama();
    for (const sampling of [GREEDY, SAMPLED]) {
      for (let i = 0; i < 3; i++) {
        const first = await reference.run(job(i, sampling));
        expect(first.evidence.tokens.length).toBeGreaterThan(0);
        expect(first.evidence.margins).toHaveLength(first.evidence.tokens.length);
        expect(await reference.run(job(i, sampling))).toEqual(first);
        expect(await other.run(job(i, sampling))).toEqual(first);
      }
    }
  }, 60_000);

  it("chooses every token with sampleNext from the engine's distributions (T = 0 and T = 0.7): tokens and margins match an independent replay", async () => {
    for (const sampling of [GREEDY, SAMPLED]) {
      for (let i = 0; i < 3; i++) {
        const request = job(i, sampling);
        const { evidence } = await reference.run(request);
        const seed = deriveDecodeSeed(request.requestId);
        const steps = await direct.distributions(request.input, evidence.tokens);
        steps.forEach((logits, step) => {
          expect(sampleNext(logits, sampling, seed, step), `request ${i}, step ${step}`).toEqual({ token: evidence.tokens[step], marginPpm: evidence.margins[step] });
        });
        // Teacher-forced replay through the backend gives the same evidence back.
        expect(await reference.replay(request, evidence.tokens)).toEqual(evidence);
      }
    }
  }, 60_000);

  it("at T = 0 takes the most likely token, with the top-1 minus top-2 log-probability as margin", async () => {
    const request = job(4, { ...GREEDY, maxTokens: 16 });
    const { evidence } = await reference.run(request);
    const steps = await direct.distributions(request.input, evidence.tokens);
    steps.forEach((logits, step) => {
      const sorted = Array.from(logits).sort((a, b) => b - a);
      expect(logits[evidence.tokens[step] as number]).toBe(sorted[0]);
      expect(Math.abs((evidence.margins[step] as number) - ((sorted[0] as number) - (sorted[1] as number)) * 1e6)).toBeLessThanOrEqual(1);
    });
  }, 60_000);

  it("stops at the end-of-sequence token (kept in the evidence, not in the text) or at maxTokens", async () => {
    let stopped = 0;
    for (let i = 0; i < INPUTS.length; i++) {
      const { output, evidence } = await reference.run(job(i, { ...SAMPLED, maxTokens: 48 }));
      expect(evidence.tokens.length).toBeLessThanOrEqual(48);
      if (evidence.tokens.length < 48) {
        stopped += 1;
        expect(direct.model.isEogToken(evidence.tokens.at(-1) as Token)).toBe(true);
      }
      expect(output).not.toContain("</s>");
    }
    expect(stopped).toBeGreaterThan(0);
    expect(await reference.run(job(0, { ...GREEDY, maxTokens: 0 }))).toEqual({ output: "", evidence: { tokens: [], margins: [] } });
  }, 60_000);

  it("serves jobs on parallel sequences, and queues them on one", async () => {
    const parallel = llama({ contextSequences: 2 });
    const jobs = [0, 1, 2, 3].map((i) => job(i, SAMPLED));
    const serial = await Promise.all(jobs.map((j) => reference.run(j)));
    const together = await Promise.all(jobs.map((j) => parallel.run(j)));
    together.forEach((result) => expect(result.evidence.tokens.length).toBeGreaterThan(0));
    // One sequence: concurrent jobs queue and give what they give alone.
    for (const [i, result] of serial.entries()) expect(await reference.run(jobs[i] as InferenceJob)).toEqual(result);
  }, 60_000);

  it("gives identical results at any thread count (work splits by rows, each dot product stays on one thread)", async () => {
    const two = llama({ threads: 2 });
    // Two threads on a loaded two-core machine wait on each other (llama.cpp threads spin): a few tokens suffice.
    for (const sampling of [GREEDY, SAMPLED]) expect(await two.run(job(1, { ...sampling, maxTokens: 4 }))).toEqual(await reference.run(job(1, { ...sampling, maxTokens: 4 })));
  }, 60_000);

  it("computes other logits on each profile's engine path (kernels, reduction order, KV precision); chunk sizes of 2 or more alike", async () => {
    // Teacher-forced on the reference's tokens, so every step compares the same history.
    const request = job(0, { ...GREEDY, maxTokens: 16 });
    const { evidence } = await reference.run(request);
    const margins = new Map<string, number[]>();
    for (const profile of LLAMA_ENGINE_PROFILES) {
      const backend = profile.name === "reference" ? reference : llama({ hardware: profile.name });
      margins.set(profile.name, (await backend.replay(request, evidence.tokens)).margins);
    }
    const paths = ["reference", "fp32-accumulate", "reversed", "blocked-8"];
    for (const [i, a] of paths.entries()) {
      for (const b of paths.slice(i + 1)) expect(margins.get(a), `${a} against ${b}`).not.toEqual(margins.get(b));
    }
    expect(margins.get("blocked-16")).toEqual(margins.get("blocked-8"));
  }, 60_000);
});

describe("llama backend: structured requests decode under the schema's grammar", () => {
  const schema = {
    type: "object",
    properties: { label: { enum: ["noun", "verb", "adjective"] }, count: { type: "integer" }, plural: { type: "boolean" } },
    required: ["label", "count", "plural"],
    additionalProperties: false,
  };

  it("outputs JSON that satisfies the schema, at T = 0 and T = 0.7, and replays to the same evidence", async () => {
    for (const sampling of [GREEDY, SAMPLED]) {
      for (let i = 0; i < 4; i++) {
        const request = job(i, { ...sampling, maxTokens: 64 }, { outputSchema: schema });
        const { output, evidence } = await reference.run(request);
        const value = JSON.parse(output) as Record<string, unknown>;
        expect(Object.keys(value).sort()).toEqual(["count", "label", "plural"]);
        expect(["noun", "verb", "adjective"]).toContain(value.label);
        expect(Number.isInteger(value.count)).toBe(true);
        expect(typeof value.plural).toBe("boolean");
        expect(await reference.run(request)).toEqual({ output, evidence });
      }
    }
  }, 120_000);

  it("fails with BACKEND for a schema llama.cpp's grammar compiler rejects", async () => {
    const error = await rejection(reference.run(job(0, GREEDY, { outputSchema: { enum: "not a list" } })));
    expect(isConcordError(error, "BACKEND") && error.message).toMatch(/output schema not supported/);
  });
});

describe("llama backend: failures are typed, never a crash", () => {
  /** 200 claimed tokens (any id in the vocabulary, repeated). */
  const longClaim = (): number[] => Array.from({ length: 200 }, () => 300);

  it("refuses a missing model file with CONFIG, and a file that is not a model with BACKEND", async () => {
    const missing = (() => {
      try {
        createLlamaBackend({ modelFile: join(tmp, "absent.gguf") });
      } catch (caught) {
        return caught;
      }
    })();
    expect(isConcordError(missing, "CONFIG") && missing.message).toMatch(/llama model file not found: .*absent\.gguf/);
    const garbage = join(tmp, "garbage.gguf");
    writeFileSync(garbage, "not a model");
    const backend = createLlamaBackend({ modelFile: garbage });
    backends.push(backend);
    const error = await rejection(backend.run(job(0)));
    expect(isConcordError(error, "BACKEND") && error.message).toMatch(/cannot load the model file: .*garbage\.gguf/);
  });

  it("fails with BACKEND when the prompt and maxTokens do not fit the context, or the job is for another model", async () => {
    const small = llama({ contextSize: 32 });
    const error = await rejection(small.run(job(0, { ...GREEDY, maxTokens: 64 })));
    expect(isConcordError(error, "BACKEND") && error.message).toMatch(/prompt and maxTokens exceed the context size/);
    const picky = llama({ model: "other" });
    expect(isConcordError(await rejection(picky.run(job(0))), "BACKEND")).toBe(true);
  });

  it("aborts: before the start, while queued behind another job, and between steps", async () => {
    const pre = new AbortController();
    pre.abort();
    expect(isConcordError(await rejection(reference.run(job(0), pre.signal)), "BACKEND")).toBe(true);

    const long = reference.run(job(1, { ...SAMPLED, maxTokens: 64 }));
    const queued = new AbortController();
    const waiting = reference.run(job(2), queued.signal);
    queued.abort();
    expect(isConcordError(await rejection(waiting), "BACKEND")).toBe(true);
    await long;

    // A replay takes every step (no end-of-sequence stop): 200 of them outlast the 20 ms.
    const midway = new AbortController();
    const running = reference.replay(job(3), longClaim(), midway.signal);
    setTimeout(() => midway.abort(), 20);
    const error = await rejection(running);
    expect(isConcordError(error, "BACKEND") && error.message).toMatch(/inference aborted/);
    // The backend serves the next job as if nothing happened.
    expect((await reference.run(job(0))).evidence.tokens.length).toBeGreaterThan(0);
  }, 60_000);

  it("close() fails the job in flight and later ones with BACKEND, and is harmless twice", async () => {
    const backend = createLlamaBackend({ modelFile: MODEL_FILE });
    await backend.ready();
    const running = rejection(backend.replay(job(1), longClaim()));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await backend.close();
    await backend.close();
    const error = await running;
    expect(isConcordError(error, "BACKEND")).toBe(true);
    expect(isConcordError(await rejection(backend.run(job(0))), "BACKEND")).toBe(true);
  }, 60_000);
});

describe("llama backend: node configuration", () => {
  const base = { node: "n1", keystore: "k.json", registry: "r.json" };

  it("reads --backend llama with its settings, defaults the profile to reference, and resolves a config file's modelFile beside it", () => {
    const config = resolveNodeConfig({ ...base, backend: "llama", modelFile: MODEL_FILE, hardware: "blocked-8", threads: 2, batchSize: 64, contextSize: 128, contextSequences: 2 });
    expect(config.backend).toEqual({ type: "llama", modelFile: MODEL_FILE, hardware: "blocked-8", threads: 2, batchSize: 64, contextSize: 128, contextSequences: 2 });
    expect(resolveNodeConfig({ ...base, backend: "llama" }, { CONCORD_MODEL_FILE: "m.gguf" }).backend).toEqual({ type: "llama", modelFile: "m.gguf", hardware: "reference" });
    const file = join(tmp, "node.json");
    writeFileSync(file, JSON.stringify({ ...base, backend: { type: "llama", modelFile: "models/x.gguf", flashAttention: true } }));
    expect(resolveNodeConfig({ config: file }).backend).toEqual({ type: "llama", modelFile: join(tmp, "models/x.gguf"), hardware: "reference", flashAttention: true });
  });

  it("names the setting that is wrong", () => {
    const fails = (overrides: Record<string, unknown>): string => {
      try {
        resolveNodeConfig({ ...base, ...overrides });
      } catch (error) {
        if (isConcordError(error, "CONFIG")) return error.message;
        throw error;
      }
      throw new Error("expected a CONFIG error");
    };
    expect(fails({ backend: "llama" })).toMatch(/backend.modelFile \(or --model-file\) must be a non-empty string/);
    expect(fails({ modelFile: "m.gguf" })).toMatch(/--model-file is a llama backend setting \(the backend is synthetic: add --backend llama\)/);
    expect(fails({ backend: "llama", modelFile: "m.gguf", hardware: "tpu" })).toMatch(/backend.hardware: unknown hardware profile: tpu/);
    expect(fails({ backend: "llama", modelFile: "m.gguf", threads: Number("two") })).toMatch(/backend.threads \(or --threads\) must be an integer in 1..256/);
    expect(fails({ backend: "llama", modelFile: "m.gguf", contextSequences: 0 })).toMatch(/backend.contextSequences \(or --context-sequences\)/);
  });
});
