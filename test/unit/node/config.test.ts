import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isConcordError } from "../../../src/errors.ts";
import { NODE_ENV_VARS, resolveNodeConfig, type NodeOverrides } from "../../../src/node/config.ts";

const tmp = mkdtempSync(join(tmpdir(), "concord-config-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const base = { node: "n1", keystore: "k.json", registry: "r.json" };

function configFile(content: unknown): string {
  const path = join(tmp, `node-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

function fails(overrides: NodeOverrides, env: NodeJS.ProcessEnv = {}): string {
  try {
    resolveNodeConfig(overrides, env);
  } catch (error) {
    if (isConcordError(error, "CONFIG")) return error.message;
    throw error;
  }
  throw new Error("expected a CONFIG error");
}

describe("node configuration: one schema, unknown settings refused at any depth", () => {
  it("names a misspelt backend setting with its path and a suggestion (it was silently ignored)", () => {
    const hardwre = configFile({ ...base, backend: { type: "synthetic", hardwre: "reversed" } });
    expect(fails({ config: hardwre })).toMatch(/invalid node configuration: .*\.json: unknown setting "backend\.hardwre" for the synthetic backend \(did you mean "hardware"\?\)/);
    const modle = configFile({ ...base, backend: { type: "openai", baseUrl: "http://127.0.0.1:8000", modle: "qwen" } });
    expect(fails({ config: modle })).toMatch(/unknown setting "backend\.modle" for the openai backend \(did you mean "model"\?\)/);
    expect(fails({ config: configFile({ ...base, metrics: { host: "127.0.0.1", port: 1, prot: 2 } }) })).toMatch(/unknown setting "metrics\.prot"/);
    expect(fails({ config: configFile({ ...base, logLevle: "info" }) })).toMatch(/unknown setting "logLevle" \(did you mean "logLevel"\?\)/);
    // A setting of another backend than the one chosen is refused too.
    expect(fails({ ...base, backend: "openai", openaiUrl: "http://127.0.0.1:1", hardware: "reversed" })).toMatch(/unknown setting "backend\.hardware" for the openai backend/);
  });

  it("keeps the messages that name the setting and the flag", () => {
    expect(fails({ registry: "r.json" })).toMatch(/missing "node" \(config file, --node or CONCORD_NODE\)/);
    expect(fails({ ...base, logLevel: "loud" })).toMatch(/logLevel must be debug, info, warn or error/);
    expect(fails({ ...base, byzantine: "lazy" })).toMatch(/byzantine must be one of wrong-model, /);
    expect(fails({ ...base, backend: "gpu" })).toMatch(/backend\.type must be "synthetic", "openai", "fixed" or "llama"/);
    expect(fails({ ...base, backend: "openai" })).toMatch(/backend\.baseUrl \(or --openai-url\) must be a non-empty string/);
    expect(fails({ ...base, backend: "openai", openaiUrl: "not a url" })).toMatch(/backend\.baseUrl is not a URL: not a url/);
    expect(fails({ ...base, maxConcurrentJobs: 0 })).toMatch(/maxConcurrentJobs must be an integer in 1\.\.256/);
    expect(fails({ ...base, signBatchMax: 1025 })).toMatch(/signBatchMax must be an integer in 2\.\.1024/);
    expect(fails({ config: configFile({ ...base, listen: "/ip4/0.0.0.0/tcp/1" }) })).toMatch(/listen must be a list of strings/);
    expect(fails({ config: configFile({ ...base, mdns: "yes" }) })).toMatch(/mdns must be true or false/);
    expect(fails({ config: configFile({ ...base, backend: "synthetic" }) })).toMatch(/backend must be an object with a type/);
    expect(fails({ config: configFile({ ...base, backend: { type: "openai", baseUrl: "http://x", api: "rest" } }) })).toMatch(/backend\.api must be "completions" or "chat"/);
  });

  it("reads every flag's setting from a CONCORD_* variable, and names a malformed one", () => {
    expect(Object.keys(NODE_ENV_VARS).length).toBe(31);
    const config = resolveNodeConfig(
      {},
      {
        CONCORD_NODE: "n2",
        CONCORD_KEYSTORE: "k2.json",
        CONCORD_REGISTRY: "r2.json",
        CONCORD_DATA_DIR: "/data",
        CONCORD_LISTEN: "/ip4/0.0.0.0/tcp/9000, /ip4/0.0.0.0/tcp/9001",
        CONCORD_BOOTSTRAP: "/ip4/10.0.0.1/tcp/9000",
        CONCORD_MDNS: "true",
        CONCORD_BACKEND: "synthetic",
        CONCORD_HARDWARE: "reversed",
        CONCORD_MODEL_SEED: "seed-2",
        CONCORD_DELAY_MS: "25",
        CONCORD_METRICS_HOST: "0.0.0.0",
        CONCORD_METRICS_PORT: "9464",
        CONCORD_LOG_LEVEL: "warn",
        CONCORD_MAX_CONCURRENT_JOBS: "4",
        CONCORD_MAX_REQUESTS: "50000",
        CONCORD_SIGN_BATCH_WINDOW_MS: "5",
        CONCORD_SIGN_BATCH_MAX: "128",
        CONCORD_VOTES: "sequencer",
        CONCORD_TRACE_FILE: "/tmp/trace.jsonl",
        CONCORD_PEER_WHITELIST: "127.0.0.1, 10.0.0.0/8",
      },
    );
    expect(config).toEqual({
      node: "n2",
      keystore: "k2.json",
      registry: "r2.json",
      dataDir: "/data",
      listen: ["/ip4/0.0.0.0/tcp/9000", "/ip4/0.0.0.0/tcp/9001"],
      bootstrap: ["/ip4/10.0.0.1/tcp/9000"],
      mdns: true,
      backend: { type: "synthetic", modelSeed: "seed-2", hardware: "reversed", delayMs: 25 },
      metrics: { host: "0.0.0.0", port: 9464 },
      logLevel: "warn",
      maxConcurrentJobs: 4,
      maxRequests: 50_000,
      signBatchWindowMs: 5,
      signBatchMax: 128,
      votes: "sequencer",
      traceFile: "/tmp/trace.jsonl",
      peerWhitelist: ["127.0.0.1", "10.0.0.0/8"],
    });
    const openai = resolveNodeConfig(base, { CONCORD_BACKEND: "openai", CONCORD_OPENAI_URL: "http://127.0.0.1:8000", CONCORD_OPENAI_MODEL: "qwen", CONCORD_NO_METRICS: "1" });
    expect(openai.backend).toEqual({ type: "openai", baseUrl: "http://127.0.0.1:8000", model: "qwen", timeoutMs: 60_000 });
    expect(openai.metrics).toBeNull();
    const llama = resolveNodeConfig(base, { CONCORD_BACKEND: "llama", CONCORD_MODEL_FILE: "m.gguf", CONCORD_THREADS: "2", CONCORD_BATCH_SIZE: "64", CONCORD_CONTEXT_SIZE: "256", CONCORD_CONTEXT_SEQUENCES: "2" });
    expect(llama.backend).toEqual({ type: "llama", modelFile: "m.gguf", hardware: "reference", threads: 2, batchSize: 64, contextSize: 256, contextSequences: 2 });
    expect(fails(base, { CONCORD_MDNS: "maybe" })).toMatch(/CONCORD_MDNS: not true or false: maybe/);
    expect(fails(base, { CONCORD_DELAY_MS: "soon" })).toMatch(/CONCORD_DELAY_MS: not an integer: soon/);
    expect(fails(base, { CONCORD_VOTES: "everyone" })).toMatch(/votes must be gossip or sequencer/);
    // Flags win over the environment, the environment over the file.
    const file = configFile({ ...base, logLevel: "debug", backend: { type: "synthetic", hardware: "blocked-8" } });
    expect(resolveNodeConfig({ config: file }, { CONCORD_LOG_LEVEL: "warn" }).logLevel).toBe("warn");
    expect(resolveNodeConfig({ config: file, logLevel: "error" }, { CONCORD_LOG_LEVEL: "warn" }).logLevel).toBe("error");
    expect(resolveNodeConfig({ config: file }, { CONCORD_HARDWARE: "reversed" }).backend).toMatchObject({ hardware: "reversed" });
    expect(resolveNodeConfig({ config: file }).backend).toEqual({ type: "synthetic", modelSeed: "concord-synthetic-v1", hardware: "blocked-8", delayMs: 0 });
  });
});

describe("metrics overrides on a file without metrics", () => {
  it("a host or port given on top of metrics: null takes the documented default for the other (127.0.0.1:9781), not a random port", () => {
    const file = configFile({ ...base, metrics: null });
    expect(resolveNodeConfig({ config: file, metricsHost: "0.0.0.0" }).metrics).toEqual({ host: "0.0.0.0", port: 9781 });
    expect(resolveNodeConfig({ config: file, metricsPort: 9500 }).metrics).toEqual({ host: "127.0.0.1", port: 9500 });
  });
});

describe("peerWhitelist", () => {
  it("defaults to none, takes peer ids, IP addresses and CIDR ranges from a file, a variable or flags, and names a bad entry", () => {
    expect(resolveNodeConfig(base).peerWhitelist).toEqual([]);
    const peer = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5";
    expect(resolveNodeConfig({ config: configFile({ ...base, peerWhitelist: [peer, "fd00::/8"] }) }).peerWhitelist).toEqual([peer, "fd00::/8"]);
    expect(resolveNodeConfig({ ...base, peerWhitelist: ["192.168.0.7"] }, { CONCORD_PEER_WHITELIST: "10.0.0.1" }).peerWhitelist).toEqual(["192.168.0.7"]);
    expect(fails({ ...base, peerWhitelist: ["10.0.0.0/40"] })).toMatch(/peerWhitelist\[0\]: "10\.0\.0\.0\/40": a CIDR prefix is 0\.\.32/);
    expect(fails(base, { CONCORD_PEER_WHITELIST: "localhost" })).toMatch(/peerWhitelist\[0\]: "localhost": not a peer id, IP address or CIDR range/);
  });
});

