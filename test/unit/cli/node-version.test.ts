/**
 * The installed `concord` executable (package.json "bin": bin/concord.js) on a Node.js too old
 * for Concord (node:sqlite needs 22.13) refuses with one line naming the version it needs,
 * instead of a stack trace. Run with the machine's own `node` when it is older (skipped when the
 * machine has none), and with the bundled Node 24 for the other side.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { delimiter, join } from "node:path";
import { describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { PROCESS_TEST_TIMEOUT_MS } from "../../helpers/timeouts.ts";

const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const BIN = join(REPO_ROOT, "bin", "concord.js");

/** A `node` on PATH that is not this one (npm puts the bundled Node 24 first), if older than 22.13. */
function olderSystemNode(): { path: string; version: string } | undefined {
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    const path = join(dir, "node");
    if (dir.includes("node_modules") || !existsSync(path) || realpathSync(path) === realpathSync(process.execPath)) continue;
    const version = spawnSync(path, ["--version"], { encoding: "utf8" }).stdout.trim();
    const [major = 0, minor = 0] = version.replace(/^v/, "").split(".").map(Number);
    if (major < 22 || (major === 22 && minor < 13)) return { path, version };
  }
  return undefined;
}

const old = olderSystemNode();

describe("the concord executable checks the Node.js version first", { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it("is what the package installs", () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { bin: Record<string, string>; files: string[] };
    expect(pkg.bin).toEqual({ concord: "./bin/concord.js" });
    expect(pkg.files).toContain("bin");
  });

  it.skipIf(old === undefined)(`refuses on an older Node.js (${old?.version ?? "none on this machine"}) with one line naming the version it needs`, () => {
    for (const args of [["--help"], ["node", "--config", "node.json"], ["verify", "bundle.cbor", "--registry", "registry.json"]]) {
      const result = spawnSync(old?.path as string, [BIN, ...args], { encoding: "utf8", cwd: REPO_ROOT });
      expect(result.status, result.stderr).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).toBe(`concord: needs Node.js 22.13 or later (node:sqlite); this is ${old?.version}\n`);
    }
  });

  it("runs the command on this Node.js", () => {
    const result = spawnSync(process.execPath, [BIN, "--version"], { encoding: "utf8", cwd: REPO_ROOT });
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("0.1.0");
    expect(result.status).toBe(0);
    expect(spawnSync(process.execPath, [BIN, "node", "--node", "x"], { encoding: "utf8", cwd: REPO_ROOT }).status).toBe(2);
  });
});
