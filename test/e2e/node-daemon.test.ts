/**
 * `concord node` as a person runs it: real child processes, a devnet's files, loopback only.
 * Configuration errors exit with code 2 and say what is wrong; a started node logs one JSON
 * "node started" line with its addresses and stops cleanly (exit 0) on SIGINT and SIGTERM.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createDevnet, type Devnet } from "../../src/cli/devnet.ts";
import { runConcord, spawnLogged, startNode, stopAllNodes, stopNode } from "../helpers/processes.ts";
import { PROCESS_TEST_TIMEOUT_MS } from "../helpers/timeouts.ts";
import { until } from "../helpers/wait.ts";

let dir: string;
let devnet: Devnet;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "concord-node-daemon-"));
  devnet = await createDevnet({ dir, nodes: 2, seed: "node-daemon", backend: () => ({ type: "fixed", modelSeed: "m", delayMs: 0 }) });
});
afterEach(async () => {
  await stopAllNodes();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const node1 = () => devnet.nodes[0]?.configPath as string;

/** Runs `concord node` expecting it to fail at once with a configuration error. */
async function configFailure(args: string[]): Promise<string> {
  const result = await runConcord(["node", ...args], 15_000);
  expect(result.signal).toBeNull();
  expect(result.code, result.output).toBe(2);
  return result.output;
}

describe("concord node: configuration errors exit 2 with a clear message", { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it("gives its tests a timeout of their own: each spawns processes, slow on a loaded machine", ({ task }) => {
    expect(task.timeout).toBe(PROCESS_TEST_TIMEOUT_MS);
  });

  it("documents itself in --help", async () => {
    const result = await runConcord(["node", "--help"], 15_000);
    expect(result.code).toBe(0);
    for (const text of ["--config", "--byzantine", "TESTING AID", "--backend", "fixed", "CONCORD_REGISTRY", "Exit codes"]) expect(result.output).toContain(text);
  });

  it("refuses a missing key file", async () => {
    const output = await configFailure(["--config", node1(), "--keystore", join(dir, "absent.key.json")]);
    expect(output).toMatch(/CONFIG: cannot load the node key: no key file at .*absent\.key\.json; create one with: concord keys new/);
  });

  it("refuses a registry it cannot read, or that is not JSON", async () => {
    expect(await configFailure(["--config", node1(), "--registry", join(dir, "absent-registry.json")])).toMatch(/CONFIG: cannot read the registry: .*absent-registry\.json: ENOENT/);
    const garbage = join(dir, "garbage-registry.json");
    writeFileSync(garbage, "{ not json");
    expect(await configFailure(["--config", node1(), "--registry", garbage])).toMatch(/CONFIG: registry is not valid JSON/);
  });

  it("refuses a node id that is not in the registry, and a key that is not the registered one", async () => {
    expect(await configFailure(["--config", node1(), "--node", "node-99"])).toMatch(/CONFIG: node not in the registry: "node-99"/);
    const otherKey = join(dir, "node-02.key.json");
    expect(await configFailure(["--config", node1(), "--keystore", otherKey])).toMatch(/CONFIG: key does not match the registry/);
  });

  it("refuses a config file it cannot read, unknown settings and bad values", async () => {
    expect(await configFailure(["--config", join(dir, "absent.config.json")])).toMatch(/CONFIG: invalid node configuration: cannot read config file/);
    expect(await configFailure(["--registry", devnet.registryPath])).toMatch(/missing "node"/);
    expect(await configFailure(["--config", node1(), "--byzantine", "lazy"])).toMatch(/byzantine must be one of/);
    expect(await configFailure(["--config", node1(), "--backend", "gpu"])).toMatch(/backend.type must be/);
  });

  it("refuses a llama backend without a model file, with a missing one, or one llama.cpp cannot load", async () => {
    expect(await configFailure(["--config", node1(), "--backend", "llama"])).toMatch(/CONFIG: invalid node configuration: backend.modelFile \(or --model-file\) must be a non-empty string/);
    expect(await configFailure(["--config", node1(), "--model-file", join(dir, "m.gguf")])).toMatch(/--model-file is a llama backend setting/);
    expect(await configFailure(["--config", node1(), "--backend", "llama", "--model-file", join(dir, "absent.gguf")])).toMatch(/CONFIG: llama model file not found: .*absent\.gguf/);
    const garbage = join(dir, "garbage.gguf");
    writeFileSync(garbage, "not a model");
    const output = await configFailure(["--config", node1(), "--backend", "llama", "--model-file", garbage]);
    expect(output).toMatch(/CONFIG: cannot load the llama model: cannot load the model file: .*garbage\.gguf/);
    expect(output).not.toMatch(/\n\s+at /);
  }, 60_000);

  it("refuses an openai backend with nothing answering at its URL, and a misspelt setting inside backend", async () => {
    const output = await configFailure(["--config", node1(), "--backend", "openai", "--openai-url", "http://127.0.0.1:1"]);
    expect(output).toMatch(/CONFIG: openai backend not reachable: http:\/\/127\.0\.0\.1:1\/v1\/models: .*start the server first/);
    expect(output).not.toContain("node started");
    const typo = join(dir, "typo.config.json");
    writeFileSync(typo, JSON.stringify({ node: "node-01", keystore: "k", registry: "r", backend: { type: "synthetic", hardwre: "reversed" } }));
    expect(await configFailure(["--config", typo])).toMatch(/CONFIG: invalid node configuration: .*typo\.config\.json: unknown setting "backend\.hardwre" for the synthetic backend \(did you mean "hardware"\?\)/);
  });

  it("refuses a key, config, registry or slashing-protection file that is not a regular file (a FIFO blocked it forever)", async () => {
    const fifo = (name: string): string => {
      const path = join(dir, name);
      execFileSync("mkfifo", [path]);
      return path;
    };
    expect(await configFailure(["--config", node1(), "--keystore", fifo("fifo.key.json")])).toMatch(/CONFIG: cannot load the node key: not a key file: .*fifo\.key\.json: not a regular file/);
    expect(await configFailure(["--config", fifo("fifo.config.json")])).toMatch(/CONFIG: invalid node configuration: .*fifo\.config\.json is not a regular file/);
    expect(await configFailure(["--config", node1(), "--registry", fifo("fifo-registry.json")])).toMatch(/CONFIG: cannot read the registry: .*fifo-registry\.json is not a regular file/);
    const dataDir = join(dir, "fifo-data");
    mkdirSync(dataDir);
    fifo("fifo-data/slashing.sqlite");
    expect(await configFailure(["--config", node1(), "--data-dir", dataDir])).toMatch(/CONFIG: .*fifo-data\/slashing\.sqlite is not a regular file/);
    expect(await configFailure(["--config", node1(), "--keystore", dir])).toMatch(/CONFIG: cannot load the node key: not a key file: .*: not a regular file/);
  });

  it("refuses a listen port or a metrics port already in use", async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    try {
      expect(await configFailure(["--config", node1(), "--listen", `/ip4/127.0.0.1/tcp/${port}`])).toMatch(/CONFIG: cannot start the network: listen \/ip4\/127\.0\.0\.1\/tcp\/\d+/);
      expect(await configFailure(["--config", node1(), "--metrics-port", String(port)])).toMatch(new RegExp(`CONFIG: cannot serve metrics: 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  }, 30_000);
});

describe("concord node: lifecycle", () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`logs "node started" with its addresses, serves metrics, and exits 0 on ${signal}`, async () => {
      const node = await startNode("node-01", ["--config", node1()]);
      expect(node.multiaddrs.length).toBeGreaterThan(0);
      for (const address of node.multiaddrs) expect(address).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${node.peerId}$`));
      const started = node.logs.find((line) => line.msg === "node started");
      expect(started).toMatchObject({ node: "node-01", chain: devnet.chain, backend: "fixed(0 ms)" });
      const metrics = await fetch(`http://127.0.0.1:${node.metricsPort}/metrics`).then((response) => response.text());
      expect(metrics).toContain("concord_peers");

      node.child.kill(signal);
      const exit = await node.exited;
      expect(exit, node.tail()).toEqual({ code: 0, signal: null });
      expect(node.logs.map((line) => line.msg)).toEqual(expect.arrayContaining(["shutting down", "node stopped"]));
    }, 30_000);
  }

  const stops = [
    ["SIGTERM to npm", "SIGTERM", false],
    ["SIGINT to npm", "SIGINT", false],
    // A terminal's Ctrl-C reaches npm and the node, and npm passes it on: the node gets it twice.
    ["Ctrl-C (SIGINT to the process group)", "SIGINT", true],
  ] as const;
  for (const [how, signal, group] of stops) {
    it(`started by \`npm run concord -- node\`, stops cleanly on ${how} and frees its ports`, async () => {
      const npm = spawnLogged("npm", "npm", ["run", "concord", "--", "node", "--config", node1()], {}, { detached: group });
      const started = await npm.waitForLog((line) => line.msg === "node started", 30_000, '"node started"');
      const pid = started["pid"] as number;
      expect(pid).not.toBe(npm.child.pid);
      try {
        if (group) process.kill(-(npm.child.pid as number), signal);
        else npm.child.kill(signal);
        await until(() => !isRunning(pid), 10_000, `the node (pid ${pid}) to exit after ${signal} to npm`);
        const exit = await npm.exited;
        expect(npm.logs.map((line) => line.msg)).toEqual(expect.arrayContaining(["shutting down", "node stopped"]));
        expect(exit, npm.tail()).toEqual({ code: 0, signal: null });
        await expect(fetch(`http://127.0.0.1:${started["metricsPort"] as number}/metrics`)).rejects.toThrow();
      } finally {
        if (isRunning(pid)) process.kill(pid, "SIGKILL");
      }
    }, PROCESS_TEST_TIMEOUT_MS);
  }

  it("refuses a second node on the same data directory, naming the first; the lock goes with the first, even after kill -9", async () => {
    const first = await startNode("node-01", ["--config", node1()]);
    const pid = first.logs.find((line) => line.msg === "node started")?.["pid"] as number;
    const dataDir = join(dir, "node-01");
    const second = await configFailure(["--config", node1()]);
    expect(second).toContain(`CONFIG: data directory in use: ${dataDir} is locked by another concord process (pid ${pid}, node node-01, since `);
    // Another node id with the same folder too: the lock is the folder's, not the key's.
    expect(await configFailure(["--config", devnet.nodes[1]?.configPath as string, "--data-dir", dataDir])).toContain(`${dataDir} is locked by another concord process (pid ${pid}`);
    first.child.kill("SIGKILL");
    await first.exited;
    const third = await startNode("node-01", ["--config", node1()]);
    expect((await stopNode(third)).code).toBe(0);
    const fourth = await startNode("node-01", ["--config", node1()]);
    expect((await stopNode(fourth)).code).toBe(0);
  }, PROCESS_TEST_TIMEOUT_MS);

  it("keeps its peer id across restarts (it derives from the node key)", async () => {
    const first = await startNode("node-01", ["--config", node1()]);
    await stopNode(first);
    const second = await startNode("node-01", ["--config", node1()]);
    expect(second.peerId).toBe(first.peerId);
    expect((await stopNode(second)).code).toBe(0);
  }, 30_000);
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
