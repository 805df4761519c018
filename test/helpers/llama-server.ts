/**
 * A real llama.cpp `llama-server` for the engine e2e tests (npm run test:engine), built from the
 * source node-llama-cpp ships by scripts/engine/build-llama.sh (cached per llama.cpp commit):
 * started on 127.0.0.1 at a free port with one slot (`-np 1`, so requests never share a batch)
 * and a given model, ready once /health answers 200, stopped with SIGTERM (SIGKILL after 5 s).
 * Every server started is killed if this process exits first.
 *
 * Also writes random-weight models of the project model's shape (llama2.c checkpoint, converted
 * with the same tools and tokenizer): a "different model" for a lazy node.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { mulberry32 } from "../../src/sim/prng.ts";
import { freePort } from "../../src/cli/processes.ts";
import { REPO_ROOT } from "./processes.ts";

/** The model the project trains and ships (scripts/engine/train-model.sh). */
export const PROJECT_MODEL = join(REPO_ROOT, "models", "concord-wordnet-1m.gguf");
const TOKENIZER_BIN = join(REPO_ROOT, "models", "tokenizer.bin");

let binDir: string | undefined;

/** The directory holding llama-server and llama-convert-llama2c-to-ggml; builds them on first use (minutes). */
export function llamaBinDir(): string {
  binDir ??= execFileSync("bash", [join(REPO_ROOT, "scripts/engine/build-llama.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
  return binDir;
}


export interface LlamaServerOptions {
  /** GGUF file. Default: the project's model. */
  model?: string;
  /** CPU threads (-t). Default 1. */
  threads?: number;
  /** Context size in tokens (-c). Default 256, the project model's training length. */
  contextSize?: number;
  /** Time allowed until /health answers 200, in ms. Default 60,000. */
  readyTimeoutMs?: number;
}

export interface LlamaServer {
  /** e.g. "http://127.0.0.1:43121" */
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** The last lines of the server's output, for failure messages. */
  tail(lines?: number): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Starts llama-server with one slot on 127.0.0.1 and waits until it is ready. */
export async function startLlamaServer(options: LlamaServerOptions = {}): Promise<LlamaServer> {
  const port = await freePort();
  const args = ["-m", options.model ?? PROJECT_MODEL, "--host", "127.0.0.1", "--port", String(port), "-np", "1", "-t", String(options.threads ?? 1), "-c", String(options.contextSize ?? 256)];
  const child = spawn(join(llamaBinDir(), "llama-server"), args, { stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    output.push(...chunk.toString("utf8").split("\n").filter((line) => line.length > 0));
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      live.delete(child);
      exit = `llama-server exited (code ${code}, signal ${signal})`;
      resolve();
    }),
  );
  const tail = (lines = 20) => output.slice(-lines).join("\n");
  const stop = async () => {
    if (exit !== undefined) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exit !== undefined) throw new Error(`${exit} before it was ready:\n${tail()}`);
    try {
      const response = await fetch(`${url}/health`);
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`llama-server not ready after ${options.readyTimeoutMs ?? 60_000} ms:\n${tail()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url, port, child, tail, stop };
}

/** The project model's shape (scripts/engine/model.py). */
const SHAPE = { dim: 128, hiddenDim: 352, layers: 4, heads: 4, vocab: 1024, seqLen: 256 };

/** Byte-fallback tokens <0x00>..<0xFF> are ids 3..258 (after <unk>, <s>, </s>). */
const BYTE_TOKENS = { first: 3, count: 256 };

/**
 * Writes a GGUF of the project model's shape and tokenizer whose weights are seeded uniform
 * noise (std 0.02, norms 1): an untrained model, converted by the same tool as the real one.
 * The byte tokens' embedding rows are zero (logit 0), so with top-k sampling they are never
 * among the top and the output is valid UTF-8: llama-server answers 500 to a completion whose
 * text is not, and an untrained model would sample lone bytes all the time.
 */
export function writeRandomModel(path: string, seed: number): void {
  const { dim, hiddenDim, layers, heads, vocab, seqLen } = SHAPE;
  const random = mulberry32(seed);
  const noise = (n: number) => Float32Array.from({ length: n }, () => (random() * 2 - 1) * 0.02 * Math.sqrt(3));
  const ones = (n: number) => new Float32Array(n).fill(1);
  const embedding = noise(vocab * dim);
  embedding.fill(0, BYTE_TOKENS.first * dim, (BYTE_TOKENS.first + BYTE_TOKENS.count) * dim);
  const parts: ArrayBufferView[] = [
    Int32Array.of(dim, hiddenDim, layers, heads, heads, vocab, seqLen),
    embedding, // tied with the output
    ones(layers * dim), // attention norms
    noise(layers * dim * dim), // wq
    noise(layers * dim * dim), // wk
    noise(layers * dim * dim), // wv
    noise(layers * dim * dim), // wo
    ones(layers * dim), // ffn norms
    noise(layers * hiddenDim * dim), // w1
    noise(layers * dim * hiddenDim), // w2
    noise(layers * hiddenDim * dim), // w3
    ones(dim), // final norm
    new Float32Array(seqLen * (dim / heads)), // rotary tables, skipped by the converter
  ];
  const checkpoint = `${path}.llama2c.bin`;
  writeFileSync(checkpoint, Buffer.concat(parts.map((part) => new Uint8Array(part.buffer, part.byteOffset, part.byteLength))));
  execFileSync(join(llamaBinDir(), "llama-convert-llama2c-to-ggml"), ["--copy-vocab-from-model", TOKENIZER_BIN, "--llama2c-model", checkpoint, "--llama2c-output-model", path], { stdio: "ignore" });
}
