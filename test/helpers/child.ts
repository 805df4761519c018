/**
 * Crash tests' child processes: run a .ts script on Node 24, collect its stdout lines (each an
 * acknowledgement printed only once durable), and SIGKILL it the moment `killWhen` holds.
 */
import { spawn, type ChildProcess } from "node:child_process";

export interface ChildResult {
  lines: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

const running = new Set<ChildProcess>();

/** Kills every child still running (for afterEach). */
export function killRunningChildren(): void {
  for (const child of running) child.kill("SIGKILL");
}

/** Runs `script` with `args`; `killWhen` sees every whole line so far and returns true to SIGKILL it. */
export function runChild(
  script: string,
  args: readonly string[],
  killWhen?: (lines: readonly string[]) => boolean,
  timeoutMs = 30_000,
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    // Under vitest process.execPath is node_modules' Node 24, which runs the .ts child directly.
    const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    running.add(child);
    const lines: string[] = [];
    let partial = "";
    let stderr = "";
    let killed = false;
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop() ?? "";
      lines.push(...parts);
      if (!killed && killWhen?.(lines)) {
        killed = true;
        child.kill("SIGKILL");
      }
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    // A line cut by the kill is no acknowledgement: only whole lines count.
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ lines, code, signal, stderr });
    });
  });
}
