/**
 * Child node processes for `concord demo` (and the end-to-end tests): start `concord node`,
 * wait for its "node started" log line, and stop every child on exit — SIGTERM, then SIGKILL.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { ConcordError } from "../errors.ts";

export const CLI_ENTRY = fileURLToPath(new URL("./main.ts", import.meta.url));

export interface NodeProcess {
  id: string;
  child: ChildProcess;
  peerId: string;
  multiaddrs: string[];
  metricsPort: number | null;
  /** stderr and non-JSON stdout, kept for error reports. */
  output: string[];
}

/** Spawns `concord node` with `args` and resolves once it logs "node started". */
export function startNodeProcess(id: string, args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<NodeProcess> {
  const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", CLI_ENTRY, "node", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...options.env },
  });
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new ConcordError("CONFIG", `node ${id} did not start`, { details: output.slice(-5).join("\n") }));
    }, options.timeoutMs ?? 20_000);
    let buffered = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        let entry: { msg?: string; peerId?: string; multiaddrs?: string[]; metricsPort?: number | null } | undefined;
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          output.push(line);
          continue;
        }
        if (entry?.msg === "node started" && entry.peerId && entry.multiaddrs) {
          clearTimeout(timer);
          resolve({ id, child, peerId: entry.peerId, multiaddrs: entry.multiaddrs, metricsPort: entry.metricsPort ?? null, output });
        }
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString("utf8")));
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new ConcordError("CONFIG", `node ${id} exited before starting`, { details: `code ${code ?? signal}: ${output.slice(-5).join("").trim()}` }));
    });
  });
}

/** Stops children: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopNodeProcesses(nodes: readonly { child: ChildProcess }[], graceMs = 3_000): Promise<void> {
  await Promise.all(
    nodes.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
          child.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill("SIGTERM");
        }),
    ),
  );
}

/** A TCP port on 127.0.0.1 that nothing listened on at the time of the call (the OS's pick). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new ConcordError("CONFIG", "no free port on 127.0.0.1");
  return address.port;
}
