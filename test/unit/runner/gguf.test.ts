/**
 * The random-weight copy of a GGUF model (src/runner/gguf.ts), which the byzantine wrong-model
 * mode runs with the llama backend: same layout, tokenizer and shapes as the project's model,
 * seeded noise for weights, the same bytes for the same seed, and a model llama.cpp loads and
 * that answers differently from the trained one.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { isConcordError } from "../../../src/errors.ts";
import { wrongModelBackend } from "../../../src/node/byzantine.ts";
import { readGgufLayout, writeRandomWeightModel } from "../../../src/runner/gguf.ts";
import { createLlamaBackend } from "../../../src/runner/llama.ts";
import { taggedHash } from "../../../src/wire/hash.ts";

const MODEL_FILE = fileURLToPath(new URL("../../../models/concord-wordnet-1m.gguf", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "concord-gguf-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("GGUF layout and random-weight copies", () => {
  it("reads the project model's tensor table", () => {
    const layout = readGgufLayout(MODEL_FILE);
    expect(layout.version).toBe(3);
    expect(layout.dataOffset % layout.alignment).toBe(0);
    expect(layout.tensors.map((t) => t.name)).toContain("token_embd.weight");
    expect(layout.tensors.find((t) => t.name === "blk.0.attn_q.weight")?.dims).toEqual([128, 128]);
    // Tensors lie one after another inside the file.
    const size = readFileSync(MODEL_FILE).byteLength;
    for (const t of layout.tensors) expect(t.fileOffset + t.dims.reduce((a, b) => a * b, 1) * 4).toBeLessThanOrEqual(size);
  });

  it("keeps the header, replaces the weights, and gives the same bytes for the same seed", () => {
    const a = join(tmp, "a.gguf");
    const b = join(tmp, "b.gguf");
    const c = join(tmp, "c.gguf");
    writeRandomWeightModel(MODEL_FILE, a, "one");
    writeRandomWeightModel(MODEL_FILE, b, "one");
    writeRandomWeightModel(MODEL_FILE, c, "two");
    const source = readFileSync(MODEL_FILE);
    const [bytesA, bytesB, bytesC] = [readFileSync(a), readFileSync(b), readFileSync(c)];
    const { dataOffset, tensors } = readGgufLayout(a);
    expect(bytesA.subarray(0, dataOffset).equals(source.subarray(0, dataOffset))).toBe(true);
    expect(bytesA.equals(bytesB)).toBe(true);
    expect(bytesA.equals(bytesC)).toBe(false);
    const embedding = tensors.find((t) => t.name === "token_embd.weight");
    const norm = tensors.find((t) => t.name === "output_norm.weight");
    if (!embedding || !norm) throw new Error("tensors missing");
    const floats = (bytes: Buffer, at: number, n: number) => Array.from({ length: n }, (_, i) => bytes.readFloatLE(at + 4 * i));
    const noise = floats(bytesA, embedding.fileOffset, 1024);
    expect(Math.max(...noise.map(Math.abs))).toBeLessThanOrEqual(0.02 * Math.sqrt(3) + 1e-6);
    const std = Math.sqrt(noise.reduce((s, x) => s + x * x, 0) / noise.length);
    expect(std).toBeGreaterThan(0.015);
    expect(std).toBeLessThan(0.025);
    expect(floats(bytesA, norm.fileOffset, 128).every((x) => x === 1)).toBe(true);
  });

  it("is a model llama.cpp runs, answering otherwise than the trained one", async () => {
    const random = join(tmp, "random.gguf");
    writeRandomWeightModel(MODEL_FILE, random, "byzantine-wrong-model");
    const job = { requestId: taggedHash("test/gguf"), model: "m", input: "water (noun):", sampling: { temperatureMilli: 0, topK: 0, topPPpm: 1_000_000, maxTokens: 12 } };
    const trained = createLlamaBackend({ modelFile: MODEL_FILE });
    const untrained = createLlamaBackend({ modelFile: random });
    try {
      const [a, b] = await Promise.all([trained.run(job), untrained.run(job)]);
      expect(b.evidence.tokens.length).toBeGreaterThan(0);
      expect(b.evidence.tokens).not.toEqual(a.evidence.tokens);
    } finally {
      await Promise.all([trained.close(), untrained.close()]);
    }
  }, 60_000);

  it("refuses what is not a GGUF with CONFIG", () => {
    const garbage = join(tmp, "garbage.gguf");
    writeFileSync(garbage, "not a model");
    let error: unknown;
    try {
      writeRandomWeightModel(garbage, join(tmp, "out.gguf"), "x");
    } catch (caught) {
      error = caught;
    }
    expect(isConcordError(error, "CONFIG") && error.message).toMatch(/not a GGUF model file/);
  });

  it("wrong-model with llama runs a random-weight copy from the node's data folder", () => {
    const dataDir = join(tmp, "elsewhere");
    const config = wrongModelBackend({ type: "llama", modelFile: MODEL_FILE, hardware: "blocked-8", threads: 1 }, { dataDir: tmp });
    expect(config).toEqual({ type: "llama", modelFile: join(tmp, "wrong-model-concord-wordnet-1m.gguf"), hardware: "blocked-8", threads: 1 });
    expect(readGgufLayout(config.type === "llama" ? config.modelFile : "").tensors.length).toBe(readGgufLayout(MODEL_FILE).tensors.length);
    expect(wrongModelBackend({ type: "synthetic", modelSeed: "s", hardware: "reference", delayMs: 0 }, { dataDir })).toMatchObject({ modelSeed: "s/byzantine-wrong-model" });
    expect(() => wrongModelBackend({ type: "openai", baseUrl: "http://127.0.0.1:1", timeoutMs: 1 }, { dataDir })).toThrow(/wrong-model needs the synthetic, fixed or llama backend/);
  });
});
