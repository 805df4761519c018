/**
 * The `concord` executable as a shell runs it: real processes.
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { CLI_ENTRY } from "../../../src/cli/processes.ts";
import { PROCESS_TEST_TIMEOUT_MS } from "../../helpers/timeouts.ts";

/** Runs `concord <args>` with its stdout read by nobody (`concord --help | head` once head has exited). */
function runIntoClosedPipe(args: readonly string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", CLI_ENTRY, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    // Our end of the pipe closes long before the child has loaded: its first write gets EPIPE.
    child.stdout.destroy();
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stderr }));
  });
}

describe("concord writing into a closed pipe", { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  for (const args of [["--help"], ["node", "--help"], ["--version"]]) {
    it(`concord ${args.join(" ")} | head: exits 0 quietly, no unhandled EPIPE`, async () => {
      const result = await runIntoClosedPipe(args);
      expect(result.stderr).toBe("");
      expect(result).toMatchObject({ code: 0, signal: null });
    });
  }
});
