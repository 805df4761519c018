/**
 * The OpenAI-compatible backend against a real HTTP server on 127.0.0.1 that speaks the same
 * wire format (legacy completions and chat), scripted per test.
 */
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { deriveDecodeSeed, MARGIN_CAP_PPM } from "../../../src/agreement/sampler.ts";
import { isConcordError } from "../../../src/errors.ts";
import type { InferenceJob } from "../../../src/runner/backend.ts";
import { createOpenAIBackend, hashedTokenId, parseCompletion, serverSeed } from "../../../src/runner/openai.ts";
import { taggedHash } from "../../../src/wire/hash.ts";
import { rejection } from "../../helpers/errors.ts";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
}

type Handler = (request: Seen, response: ServerResponse) => void;

let server: Server;
let baseUrl: string;
let handler: Handler;
let seen: Seen[];

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk: Buffer) => (raw += chunk.toString("utf8")));
    req.on("end", () => {
      const request: Seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: JSON.parse(raw) as Record<string, unknown> };
      seen.push(request);
      handler(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen = [];
  handler = (_request, response) => json(response, 200, completion());
});

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

/** A /v1/completions answer with logprobs=2, as vLLM and OpenAI send it. */
function completion(
  tokens: string[] = ["Hello", " world", "!"],
  tops: Record<string, number>[] = [{ Hello: -0.1, Hi: -2.6 }, { " world": -0.5, " there": -0.75 }, { "!": -0.01, ".": -5 }],
): unknown {
  return {
    id: "cmpl-1",
    object: "text_completion",
    model: "m",
    choices: [
      {
        index: 0,
        text: tokens.join(""),
        logprobs: { tokens, token_logprobs: tops.map((t, i) => t[tokens[i] as string] ?? null), top_logprobs: tops, text_offset: tokens.map((_, i) => i) },
        finish_reason: "length",
      },
    ],
    usage: { prompt_tokens: 3, completion_tokens: tokens.length, total_tokens: 3 + tokens.length },
  };
}

const job: InferenceJob = {
  requestId: taggedHash("test/openai", "request-1"),
  model: "llama-3.1-8b",
  input: "Say hello",
  sampling: { temperatureMilli: 0, topK: 0, topPPpm: 1_000_000, maxTokens: 3 },
};


describe("openai backend: success", () => {
  it("posts the job to /v1/completions and turns logprobs into token ids and margins", async () => {
    const backend = createOpenAIBackend({ baseUrl, model: "meta-llama/Llama-3.1-8B-Instruct", apiKey: "sk-test" });
    const result = await backend.run({ ...job, sampling: { temperatureMilli: 700, topK: 40, topPPpm: 950_000, maxTokens: 3 } });
    expect(result.output).toBe("Hello world!");
    // No ids from this server: the token text is hashed into the upper half of the id space.
    expect(result.evidence.tokens).toEqual(["Hello", " world", "!"].map(hashedTokenId));
    for (const id of result.evidence.tokens) expect(id).toBeGreaterThanOrEqual(2 ** 31);
    expect(result.evidence.margins).toEqual([2_500_000, 250_000, 4_990_000]);

    expect(seen).toHaveLength(1);
    const [request] = seen as [Seen];
    expect(request.method).toBe("POST");
    expect(request.url).toBe("/v1/completions");
    expect(request.headers.authorization).toBe("Bearer sk-test");
    expect(request.body).toEqual({
      model: "meta-llama/Llama-3.1-8B-Instruct",
      prompt: "Say hello",
      max_tokens: 3,
      temperature: 0.7,
      top_p: 0.95,
      top_k: 40,
      seed: serverSeed(job.requestId),
      logprobs: 2,
      stream: false,
    });
  });

  it("derives the seed from the first 4 bytes of the decode seed, 31 bits", () => {
    const decodeSeed = deriveDecodeSeed(job.requestId);
    const expected = (((decodeSeed[0] as number) << 24) | ((decodeSeed[1] as number) << 16) | ((decodeSeed[2] as number) << 8) | (decodeSeed[3] as number)) >>> 1;
    expect(serverSeed(job.requestId)).toBe(expected);
    expect(expected).toBeLessThan(2 ** 31);
  });

  it("uses the job's model, leaves top_k out when off, and accepts a base URL ending in /v1/", async () => {
    const backend = createOpenAIBackend({ baseUrl: `${baseUrl}/v1/` });
    await backend.run(job);
    const [request] = seen as [Seen];
    expect(request.url).toBe("/v1/completions");
    expect(request.body.model).toBe("llama-3.1-8b");
    expect(request.body.temperature).toBe(0);
    expect(request.body.top_p).toBe(1);
    expect("top_k" in request.body).toBe(false);
    expect(request.headers.authorization).toBeUndefined();
  });

  it("asks for constrained decoding when the job carries an output schema, and only then: json_schema on completions, response_format on chat, guided_json when told", async () => {
    const schema = { type: "object", properties: { verdict: { type: "string", enum: ["approve", "reject"] } }, required: ["verdict"], additionalProperties: false };
    await createOpenAIBackend({ baseUrl }).run({ ...job, outputSchema: schema });
    expect((seen.at(-1) as Seen).body.json_schema).toEqual(schema);
    expect("response_format" in (seen.at(-1) as Seen).body).toBe(false);
    await createOpenAIBackend({ baseUrl, schemaField: "guided_json" }).run({ ...job, outputSchema: schema });
    expect((seen.at(-1) as Seen).body.guided_json).toEqual(schema);
    handler = (_request, response) => json(response, 200, { choices: [{ index: 0, message: { role: "assistant", content: "{}" } }] });
    await createOpenAIBackend({ baseUrl, api: "chat" }).run({ ...job, evidence: false, outputSchema: schema });
    expect((seen.at(-1) as Seen).body.response_format).toEqual({ type: "json_schema", json_schema: { name: "concord_output", strict: true, schema } });
    await createOpenAIBackend({ baseUrl, api: "chat" }).run({ ...job, evidence: false });
    const plain = (seen.at(-1) as Seen).body;
    expect(["response_format", "json_schema", "guided_json"].some((key) => key in plain)).toBe(false);
  });

  it("asks for no logprobs when the job's policy reads no evidence, and takes an answer without them", async () => {
    handler = (_request, response) => json(response, 200, { choices: [{ index: 0, text: "Paris", logprobs: null, finish_reason: "stop" }] });
    for (const api of ["completions", "chat"] as const) {
      if (api === "chat") handler = (_request, response) => json(response, 200, { choices: [{ index: 0, message: { role: "assistant", content: "Paris" } }] });
      const backend = createOpenAIBackend({ baseUrl, api });
      expect(await backend.run({ ...job, evidence: false })).toEqual({ output: "Paris", evidence: { tokens: [], margins: [] } });
      const request = seen.at(-1) as Seen;
      expect("logprobs" in request.body).toBe(false);
      expect("top_logprobs" in request.body).toBe(false);
    }
  });

  it("reads vLLM's token_id:<n> strings as ids, and counts the sampled token once", async () => {
    handler = (_request, response) =>
      json(response, 200, completion(["token_id:9906", "token_id:1917"], [{ "token_id:9906": -0.25, "token_id:13347": -0.375 }, { "token_id:1917": -1e-4 }]));
    const backend = createOpenAIBackend({ baseUrl, extraBody: { return_tokens_as_token_ids: true } });
    const result = await backend.run(job);
    expect(result.evidence.tokens).toEqual([9906, 1917]);
    expect(result.evidence.margins).toEqual([125_000, MARGIN_CAP_PPM]); // one alternative only: no runner-up
    expect((seen[0] as Seen).body.return_tokens_as_token_ids).toBe(true);
  });

  it("speaks /v1/chat/completions with logprobs + top_logprobs, taking ids when given", async () => {
    handler = (_request, response) =>
      json(response, 200, {
        object: "chat.completion",
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: "Hi!" },
            logprobs: {
              content: [
                { id: 13347, token: "Hi", logprob: -0.05, top_logprobs: [{ id: 13347, token: "Hi", logprob: -0.05 }, { id: 9906, token: "Hello", logprob: -3.05 }] },
                { id: 0, token: "!", logprob: -0.7, top_logprobs: [{ token: ".", logprob: -0.69 }, { token: "!", logprob: -0.7 }] },
              ],
            },
            finish_reason: "stop",
          },
        ],
      });
    const backend = createOpenAIBackend({ baseUrl, api: "chat" });
    const result = await backend.run(job);
    expect(result.output).toBe("Hi!");
    expect(result.evidence.tokens).toEqual([13347, 0]);
    expect(result.evidence.margins).toEqual([3_000_000, 10_000]); // sampled "!" was not the top token
    const [request] = seen as [Seen];
    expect(request.url).toBe("/v1/chat/completions");
    expect(request.body.messages).toEqual([{ role: "user", content: "Say hello" }]);
    expect(request.body.logprobs).toBe(true);
    expect(request.body.top_logprobs).toBe(2);
  });
});

describe("openai backend: failures", () => {
  it("retries after a 503 and then succeeds", async () => {
    let calls = 0;
    handler = (_request, response) => {
      calls++;
      if (calls === 1) json(response, 503, { error: "loading model" });
      else json(response, 200, completion());
    };
    const backend = createOpenAIBackend({ baseUrl, backoffMs: 10 });
    const result = await backend.run(job);
    expect(result.output).toBe("Hello world!");
    expect(calls).toBe(2);
  });

  it("gives up on 5xx after maxAttempts, with the status in the error", async () => {
    handler = (_request, response) => json(response, 500, { error: "boom" });
    const backend = createOpenAIBackend({ baseUrl, backoffMs: 5, maxAttempts: 3 });
    const error = await rejection(backend.run(job));
    expect(isConcordError(error, "BACKEND")).toBe(true);
    expect(error.message).toMatch(/server error.*HTTP 500/);
    expect(seen).toHaveLength(3);
  });

  it("does not retry a 4xx", async () => {
    handler = (_request, response) => json(response, 400, { error: { message: "unknown field top_k" } });
    const backend = createOpenAIBackend({ baseUrl, backoffMs: 5 });
    const error = await rejection(backend.run(job));
    expect(isConcordError(error, "BACKEND")).toBe(true);
    expect(error.message).toMatch(/rejected.*HTTP 400.*unknown field/);
    expect(seen).toHaveLength(1);
  });

  it("times out a server that does not answer, without retrying", async () => {
    handler = () => {}; // never responds
    const backend = createOpenAIBackend({ baseUrl, timeoutMs: 150, backoffMs: 5 });
    const start = performance.now();
    const error = await rejection(backend.run(job));
    expect(isConcordError(error, "BACKEND")).toBe(true);
    expect(error.message).toMatch(/timed out/);
    expect(performance.now() - start).toBeLessThan(2_000);
    expect(seen).toHaveLength(1);
  });

  it("rejects a body that is not JSON", async () => {
    handler = (_request, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.end('{"choices": [');
    };
    const error = await rejection(createOpenAIBackend({ baseUrl }).run(job));
    expect(isConcordError(error, "BACKEND")).toBe(true);
    expect(error.message).toMatch(/malformed response: not JSON/);
    expect(seen).toHaveLength(1);
  });

  it("rejects JSON without the fields it needs", async () => {
    for (const body of [{}, { choices: [] }, { choices: [{ text: "hi" }] }, { choices: [{ text: 1, logprobs: {} }] }, { choices: [{ text: "hi", logprobs: { tokens: ["hi"] } }] }]) {
      handler = (_request, response) => json(response, 200, body);
      const error = await rejection(createOpenAIBackend({ baseUrl }).run(job));
      expect(isConcordError(error, "BACKEND")).toBe(true);
      expect(error.message).toMatch(/malformed response/);
    }
  });

  it("reports a server that is down (closed port) after bounded retries", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const backend = createOpenAIBackend({ baseUrl: `http://127.0.0.1:${port}`, backoffMs: 5, maxAttempts: 3 });
    const error = await rejection(backend.run(job));
    expect(isConcordError(error, "BACKEND")).toBe(true);
    expect(error.message).toMatch(/unreachable.*ECONNREFUSED/);
  });

  it("stops when the caller aborts", async () => {
    handler = () => {};
    const controller = new AbortController();
    const pending = createOpenAIBackend({ baseUrl, timeoutMs: 10_000 }).run(job, controller.signal);
    setTimeout(() => controller.abort(), 30);
    const error = await rejection(pending);
    expect(isConcordError(error, "BACKEND")).toBe(true);
    expect(error.message).toMatch(/aborted/);
  });
});

describe("parseCompletion", () => {
  it("caps margins, floors them to micro-nats and treats missing top_logprobs as a clear decision", () => {
    const parsed = parseCompletion(completion(["a", "b", "c"], [{ a: 0, b: -9999 }, { b: -1.0000004, a: -1.0000009 }, { c: -1 }]), "completions");
    expect(parsed.evidence.margins).toEqual([MARGIN_CAP_PPM, 0, MARGIN_CAP_PPM]);
  });
});
