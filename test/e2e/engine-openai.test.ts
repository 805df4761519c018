/**
 * The `openai` backend against a real llama.cpp `llama-server` running the project's trained
 * model (models/concord-wordnet-1m.gguf), built from node-llama-cpp's bundled source. Runs in
 * `npm run test:engine` (vitest.engine.config.ts), not in `npm test`: it needs the built server.
 *
 * Five participants and a pool run in this process over a local bus, each with its own backend
 * pointed at the server; the server has one slot and every request turns the prompt cache off,
 * so equal requests (same prompt, same seed: the backend sends the request's decode seed) give
 * equal tokens. A lazy node is a backend on a second server that runs an untrained model of the
 * same shape. The faults are real: a port nothing listens on, a real request given too little
 * time, the real server refusing a prompt larger than its context, and a tiny HTTP server for
 * 500s and bodies that are not completions.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MARGIN_CAP_PPM } from "../../src/agreement/sampler.ts";
import { isConcordError } from "../../src/errors.ts";
import { Participant } from "../../src/node/participant.ts";
import { SlashingProtection } from "../../src/node/slashing.ts";
import { verifyBundle } from "../../src/quorum/verify.ts";
import type { InferenceBackend, InferenceJob, InferenceResult } from "../../src/runner/backend.ts";
import { createOpenAIBackend, parseCompletion, serverSeed, type OpenAIBackendOptions } from "../../src/runner/openai.ts";
import { certifiedAnswer } from "../../src/sequencer/certified.ts";
import { createPool, type PoolOutcome } from "../../src/sequencer/pool.ts";
import { SqliteOutcomeStore } from "../../src/sequencer/store.ts";
import { fromHex, taggedHash } from "../../src/wire/hash.ts";
import type { PolicyRef, SamplingParams } from "../../src/wire/types.ts";
import { LocalBus } from "../helpers/bus.ts";
import { rejection } from "../helpers/errors.ts";
import { testNetwork } from "../helpers/fixtures.ts";
import { freePort } from "../../src/cli/processes.ts";
import { startLlamaServer, writeRandomModel, type LlamaServer } from "../helpers/llama-server.ts";

const MODEL = "concord-wordnet-1m";
const GREEDY: SamplingParams = { temperatureMilli: 0, topK: 0, topPPpm: 1_000_000, maxTokens: 32 };
const SAMPLED: SamplingParams = { temperatureMilli: 700, topK: 40, topPPpm: 950_000, maxTokens: 32 };
const EXACT: PolicyRef = { id: "exact", version: 1, params: {} };
const SEEDED: PolicyRef = { id: "seeded", version: 1, params: {} };
/** Far ahead and fixed: request ids, and with them the seeds sent to the server, repeat each run. */
const DEADLINE = Date.UTC(2100, 0, 1);

let dir: string;
let trained: LlamaServer;
let untrained: LlamaServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "concord-engine-"));
  const randomModel = join(dir, "random.gguf");
  writeRandomModel(randomModel, 7);
  [trained, untrained] = await Promise.all([startLlamaServer(), startLlamaServer({ model: randomModel })]);
}, 900_000); // the first run builds llama-server (minutes)

afterAll(async () => {
  await Promise.all([trained?.stop(), untrained?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

/** A backend on `server` that compares exactly: no prompt cache (it shifts logprobs by ~1e-7). */
function backendOn(server: LlamaServer, options: Partial<OpenAIBackendOptions> = {}): InferenceBackend {
  return createOpenAIBackend({ baseUrl: server.url, model: MODEL, extraBody: { cache_prompt: false }, ...options });
}

function jobFor(input: string, sampling: SamplingParams, id = "job"): InferenceJob {
  return { requestId: taggedHash("e2e/engine/job", id), model: MODEL, input, sampling };
}

describe("logprobs from a real llama-server", () => {
  it("come as logprobs.content[{id, token, bytes, logprob, top_logprobs}] and parse to real token ids and top-2 margins", async () => {
    const job = jobFor("water (noun):", GREEDY);
    const body = { model: MODEL, prompt: job.input, max_tokens: 16, temperature: 0, seed: serverSeed(job.requestId), logprobs: 2, cache_prompt: false };
    const response = await fetch(`${trained.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(response.status).toBe(200);
    const raw = (await response.json()) as { choices: { text: string; logprobs: { content: { id: number; token: string; bytes: number[]; logprob: number; top_logprobs: { id: number; token: string; logprob: number }[] }[] } }[] };
    const { content } = raw.choices[0]!.logprobs;
    expect(content.length).toBeGreaterThan(0);
    for (const entry of content) {
      expect(entry).toMatchObject({ id: expect.any(Number), token: expect.any(String), bytes: expect.any(Array), logprob: expect.any(Number) });
      expect(entry.top_logprobs).toHaveLength(2);
    }
    expect(content.map((entry) => entry.token).join("")).toBe(raw.choices[0]!.text);

    const parsed = parseCompletion(raw, "completions");
    expect(parsed.output).toBe(raw.choices[0]!.text);
    // Real vocabulary ids (the model has 1,024), not hashes of the token text (those are >= 2^31).
    expect(parsed.evidence.tokens).toEqual(content.map((entry) => entry.id));
    for (const id of parsed.evidence.tokens) expect(id).toBeLessThan(1024);
    // Greedy: the chosen token is the top one, and the margin is the top-2 gap in micro-nats.
    content.forEach((entry, i) => {
      const [first, second] = entry.top_logprobs;
      expect(entry.id).toBe(first!.id);
      const margin = parsed.evidence.margins[i]!;
      expect(margin).toBeLessThanOrEqual(MARGIN_CAP_PPM);
      expect(Math.abs(margin - (first!.logprob - second!.logprob) * 1e6)).toBeLessThanOrEqual(1);
    });

    // The backend sends the same request, so it gets the same answer.
    const result = await backendOn(trained).run({ ...job, sampling: { ...GREEDY, maxTokens: 16 } });
    expect(result).toEqual(parsed);
  });

  it("are the same for the same seeded T=0.7 request, and differ for another seed", async () => {
    const backend = backendOn(trained);
    const job = jobFor("king (noun):", SAMPLED, "seeded");
    const [a, b] = [await backend.run(job), await backend.run(job)];
    expect(b).toEqual(a);
    const outputs = new Set<string>([a.output]);
    for (let i = 0; i < 4; i++) outputs.add((await backend.run(jobFor("king (noun):", SAMPLED, `other-${i}`))).output);
    expect(outputs.size).toBeGreaterThan(1);
  });
});

describe("five participants on the real server, a pool, a local bus", () => {
  /**
   * Five participants whose backends `backendFor` picks, and a pool (n = 5); every commitment
   * arrives within the close's grace, so all five votes count, and the policy decides once k of
   * them agree. Returns the outcome of one request and what each node's backend answered.
   */
  async function decide(policy: PolicyRef, sampling: SamplingParams, input: string, k: number, backendFor: (node: string) => InferenceBackend) {
    const net = testNetwork(5);
    const bus = new LocalBus();
    const answers = new Map<string, InferenceResult>();
    const cleanups: (() => void | Promise<void>)[] = [];
    const runDir = mkdtempSync(join(dir, "run-"));
    try {
      for (const [nodeId, key] of net.keys) {
        const slashing = new SlashingProtection({ path: join(runDir, `${nodeId}.sqlite`) });
        slashing.open();
        cleanups.push(() => slashing.close());
        const inner = backendFor(nodeId);
        const backend: InferenceBackend = {
          name: inner.name,
          async run(job, signal) {
            const result = await inner.run(job, signal);
            answers.set(nodeId, result);
            return result;
          },
        };
        const endpoint = bus.endpoint(nodeId);
        const participant = new Participant({
          nodeId,
          key,
          registry: net.registry,
          policies: net.policies,
          backend,
          slashing,
          clock: Date.now,
          publish: (message) => endpoint.publish(message).then(() => undefined),
          logger: { debug() {}, info() {}, warn() {}, error() {} },
        });
        endpoint.attach((message) => participant.receive(message));
        cleanups.push(() => participant.stop());
      }
      const store = new SqliteOutcomeStore({ path: join(runDir, "pool.sqlite") });
      store.open();
      const pool = createPool({ registry: net.registry, sequencerKey: net.sequencer, network: bus.endpoint("sequencer"), store, defaults: { n: 5, k, closeGraceMs: 10_000, deadlineMs: 60_000 }, tickMs: 5 });
      await pool.start();
      cleanups.push(async () => {
        await pool.stop();
        await store.close();
      });
      const outcomes = pool.outcomes();
      const id = await pool.submit({ model: MODEL, input, entropy: taggedHash("e2e/engine", `${policy.id}/${input}`), policy, sampling, deadline: DEADLINE });
      const { value } = await outcomes.next();
      const outcome = value as PoolOutcome;
      expect(outcome.requestId).toBe(id);
      return { outcome, answers, net, id };
    } finally {
      for (const cleanup of cleanups.reverse()) await cleanup();
    }
  }

  for (const [policy, sampling] of [
    [EXACT, GREEDY],
    [SEEDED, SAMPLED],
  ] as const) {
    it(`${policy.id}: all five agree (k = 5) on the server's answer, and the bundle verifies`, async () => {
      const backend = (): InferenceBackend => backendOn(trained);
      const { outcome, answers, net, id } = await decide(policy, sampling, "happy (adjective):", 5, backend);
      expect(outcome.kind).toBe("agreed");
      if (outcome.kind !== "agreed") return;
      expect(outcome.bundle.outcome.supporters).toEqual(["node-00", "node-01", "node-02", "node-03", "node-04"]);
      // What anyone asking the server the same request gets.
      const direct = await backendOn(trained).run({ requestId: fromHex(id), model: MODEL, input: "happy (adjective):", sampling });
      expect(outcome.bundle.outcome.output).toBe(direct.output);
      expect(direct.output.length).toBeGreaterThan(0);
      // seeded reads the tokens and margins (logprobs asked for); exact reads the text only.
      const sent = policy.id === "seeded" ? direct : { output: direct.output, evidence: { tokens: [], margins: [] } };
      expect(answers.size).toBe(5);
      for (const answer of answers.values()) expect(answer).toEqual(sent);
      expect(() => verifyBundle(outcome.bundle, net.registry, net.policies)).not.toThrow();
    }, 120_000);

    it(`${policy.id}: a node on another (untrained) model is outvoted (k = 4)`, async () => {
      const backend = (node: string): InferenceBackend => backendOn(node === "node-04" ? untrained : trained);
      const { outcome, answers, net } = await decide(policy, sampling, "quickly (adverb):", 4, backend);
      expect(outcome.kind).toBe("agreed");
      if (outcome.kind !== "agreed") return;
      const lazy = answers.get("node-04");
      const honest = answers.get("node-00");
      expect(lazy).toBeDefined();
      expect(lazy?.output).not.toBe(honest?.output);
      // Its commitment was in the close, so its vote was counted: and lost.
      expect(outcome.bundle.close?.commitments.map((c) => c.node)).toContain("node-04");
      expect(outcome.bundle.outcome.supporters).toEqual(["node-00", "node-01", "node-02", "node-03"]);
      expect(outcome.bundle.outcome.output).toBe(honest?.output);
      expect(() => verifyBundle(outcome.bundle, net.registry, net.policies)).not.toThrow();
    }, 120_000);
  }

  it("structured@2 over the chat API: the server decodes under the request's schema (its JSON-schema grammar) and all five agree", async () => {
    // llama-server reads response_format (what the backend sends) on /v1/chat/completions; its
    // /v1/completions ignores it and wants a top-level json_schema instead.
    const policy: PolicyRef = {
      id: "structured",
      version: 2,
      params: { properties: { pos: { enum: ["noun", "verb", "adjective", "adverb"] }, gloss: { type: "string", commentary: true } }, required: ["pos"] },
    };
    const backend = (): InferenceBackend => backendOn(trained, { api: "chat" });
    const { outcome, answers, net } = await decide(policy, { ...GREEDY, maxTokens: 48 }, "river", 5, backend);
    expect(answers.size).toBe(5);
    for (const answer of answers.values()) {
      const parsed = JSON.parse(answer.output) as { pos: string };
      expect(["noun", "verb", "adjective", "adverb"]).toContain(parsed.pos);
    }
    expect(outcome.kind).toBe("agreed");
    if (outcome.kind !== "agreed") return;
    expect(outcome.bundle.outcome.supporters).toEqual(["node-00", "node-01", "node-02", "node-03", "node-04"]);
    expect(Object.keys(certifiedAnswer(outcome.bundle).structured?.certified ?? {})).toEqual(["pos"]);
    expect(() => verifyBundle(outcome.bundle, net.registry, net.policies)).not.toThrow();
  }, 120_000);
});

describe("server faults are ConcordError(BACKEND)", () => {
  let fake: Server;
  let fakeUrl: string;
  let reply: { status: number; body: string };

  beforeAll(async () => {
    fake = createServer((request, response) => {
      request.resume();
      request.on("end", () => {
        response.writeHead(reply.status, { "content-type": "application/json" });
        response.end(reply.body);
      });
    });
    await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
    fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    fake.closeAllConnections();
    await new Promise<void>((resolve) => fake.close(() => resolve()));
  });

  async function backendError(options: OpenAIBackendOptions, job = jobFor("water (noun):", GREEDY)) {
    const error = await rejection(createOpenAIBackend({ model: MODEL, backoffMs: 10, ...options }).run(job));
    expect(isConcordError(error, "BACKEND"), String(error)).toBe(true);
    return error;
  }

  it("down: nothing listens on the port", async () => {
    const error = await backendError({ baseUrl: `http://127.0.0.1:${await freePort()}`, maxAttempts: 2 });
    expect(error.message).toMatch(/^server unreachable: http:\/\/127\.0\.0\.1:\d+\/v1\/completions/);
  });

  it("slow: a real request given less time than it takes", async () => {
    const job = jobFor("water (noun):", { ...GREEDY, maxTokens: 200 });
    const error = await backendError({ baseUrl: trained.url, timeoutMs: 5, extraBody: { cache_prompt: false, ignore_eos: true } }, job);
    expect(error.message).toMatch(/^server timed out: .* after 5 ms$/);
    // The server is still fine afterwards.
    expect((await backendOn(trained).run(jobFor("water (noun):", GREEDY))).output.length).toBeGreaterThan(0);
  });

  it("a prompt larger than the server's context: the real server's 4xx, not retried", async () => {
    const long = "a definition of a word ".repeat(200);
    const error = await backendError({ baseUrl: trained.url, maxAttempts: 3 }, jobFor(long, GREEDY));
    expect(error.message).toMatch(/^server rejected the request: .*HTTP 400/);
  });

  it("500 from the real server: a completion that is not valid UTF-8 (a lone byte token, forced here by logit_bias), retried, then reported", async () => {
    // Byte token <0xC5> (id 200) opens a two-byte UTF-8 sequence that never closes.
    const error = await backendError({ baseUrl: trained.url, maxAttempts: 2, extraBody: { cache_prompt: false, logit_bias: [[200, 100]] } });
    expect(error.message).toMatch(/^server error: .*HTTP 500 .*does not match the expected/);
  });

  it("500 from a proxy: retried, then reported with the status and the body", async () => {
    reply = { status: 500, body: JSON.stringify({ error: { code: 500, message: "model crashed" } }) };
    const error = await backendError({ baseUrl: fakeUrl, maxAttempts: 2 });
    expect(error.message).toMatch(/^server error: .*HTTP 500 .*model crashed/);
  });

  it("garbage: a body that is not JSON, or JSON that is not a completion", async () => {
    reply = { status: 200, body: "<html>502 bad gateway</html>" };
    expect((await backendError({ baseUrl: fakeUrl })).message).toMatch(/^malformed response: not JSON: <html>/);
    reply = { status: 200, body: JSON.stringify({ choices: [] }) };
    expect((await backendError({ baseUrl: fakeUrl })).message).toMatch(/^malformed response: no choices\[0\]/);
    reply = { status: 200, body: JSON.stringify({ choices: [{ text: "hi", logprobs: { content: [{ token: "hi" }] } }] }) };
    expect((await backendError({ baseUrl: fakeUrl })).message).toMatch(/^malformed response: logprobs\.content\[0\]/);
  });
});
