import { describe, expect, it } from "vitest";
import { isConcordError } from "../../../src/errors.ts";
import { probeOpenAIServer } from "../../../src/runner/openai.ts";

function fakeFetch(respond: (url: string, init: RequestInit | undefined) => Response | Promise<Response>): { fetch: typeof globalThis.fetch; urls: string[] } {
  const urls: string[] = [];
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    urls.push(String(input));
    return respond(String(input), init);
  }) as typeof globalThis.fetch;
  return { fetch, urls };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error,
  );
}

describe("probeOpenAIServer: is a server there before the node joins", () => {
  it("lists the models of GET /v1/models (a trailing /v1 in the base URL accepted), sending the API key", async () => {
    const { fetch, urls } = fakeFetch((_url, init) => {
      expect((init?.headers as Record<string, string>).authorization).toBe("Bearer sk-1");
      return Response.json({ object: "list", data: [{ id: "qwen" }, { id: "llama3.2:latest" }] });
    });
    expect(await probeOpenAIServer({ baseUrl: "http://gpu-1:8000/v1/", apiKey: "sk-1", fetch })).toEqual({ models: ["qwen", "llama3.2:latest"] });
    expect(urls).toEqual(["http://gpu-1:8000/v1/models"]);
  });

  it("takes a server without the route as up (only /v1/completions is required)", async () => {
    expect(await probeOpenAIServer({ baseUrl: "http://x", fetch: fakeFetch(() => new Response("nope", { status: 404 })).fetch })).toEqual({ models: undefined });
    expect(await probeOpenAIServer({ baseUrl: "http://x", fetch: fakeFetch(() => new Response("not json")).fetch })).toEqual({ models: undefined });
  });

  it("is a CONFIG error when nothing answers or the key is refused", async () => {
    const refused = await rejection(probeOpenAIServer({ baseUrl: "http://127.0.0.1:1" }));
    expect(isConcordError(refused, "CONFIG")).toBe(true);
    expect((refused as Error).message).toMatch(/openai backend not reachable: http:\/\/127\.0\.0\.1:1\/v1\/models: .*start the server first/);
    const slow = fakeFetch((_url, init) => new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal?.reason))));
    expect((await rejection(probeOpenAIServer({ baseUrl: "http://x", timeoutMs: 20, fetch: slow.fetch })) as Error).message).toMatch(/no answer in 20 ms/);
    const denied = await rejection(probeOpenAIServer({ baseUrl: "http://x", fetch: fakeFetch(() => new Response("", { status: 401 })).fetch }));
    expect(isConcordError(denied, "CONFIG")).toBe(true);
    expect((denied as Error).message).toMatch(/refused the API key/);
  });
});
