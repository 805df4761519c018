import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI_ENTRY } from "../../../src/cli/processes.ts";
import { inspectCommand } from "../../../src/cli/inspect.ts";
import { verifyCommand } from "../../../src/cli/verify.ts";
import { registryConfigToJson } from "../../../src/quorum/registry.ts";
import { toHex } from "../../../src/wire/hash.ts";
import { messageToJson } from "../../../src/wire/json.ts";
import { encodeMessage } from "../../../src/wire/messages.ts";
import type { AgreedBundle } from "../../../src/wire/types.ts";
import { runRequest, testNetwork, testRequest } from "../../helpers/fixtures.ts";
import { PROCESS_TEST_TIMEOUT_MS } from "../../helpers/timeouts.ts";

const dir = mkdtempSync(join(tmpdir(), "concord-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const net = testNetwork(7);
const registryPath = join(dir, "registry.json");
writeFileSync(registryPath, JSON.stringify(registryConfigToJson(net.config)));
const bundle = runRequest(net, testRequest(net), () => ({ output: "Paris" })).collector.bundle as AgreedBundle;

function write(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe("concord verify", () => {
  it("accepts a valid bundle as CBOR, hex and JSON rendering, and says why", () => {
    for (const path of [
      write("bundle.cbor", encodeMessage(bundle)),
      write("bundle.hex", toHex(encodeMessage(bundle))),
      write("bundle.json", JSON.stringify(messageToJson(bundle))),
    ]) {
      const result = verifyCommand(path, { registry: registryPath });
      expect(result.valid).toBe(true);
      expect(result.lines.join("\n")).toContain("supporters (5)");
    }
  });

  it("names the failed check of a tampered bundle", () => {
    const tampered = { ...bundle, outcome: { ...bundle.outcome, output: "Lyon" } };
    const result = verifyCommand(write("tampered.cbor", encodeMessage(tampered)), { registry: registryPath });
    expect(result.valid).toBe(false);
    expect(result.lines[0]).toContain("POLICY_MISMATCH");
  });

  it("exits 0 for a valid bundle, 1 for an invalid one, 2 for a missing registry (real process)", { timeout: PROCESS_TEST_TIMEOUT_MS }, ({ task }) => {
    // Three processes in a row: a timeout of its own, not the 5 s default (slow on a loaded machine).
    expect(task.timeout).toBe(PROCESS_TEST_TIMEOUT_MS);
    const run = (args: string[]) => spawnSync(process.execPath, [CLI_ENTRY, ...args], { encoding: "utf8" }).status;
    expect(run(["verify", join(dir, "bundle.cbor"), "--registry", registryPath])).toBe(0);
    expect(run(["verify", join(dir, "tampered.cbor"), "--registry", registryPath])).toBe(1);
    expect(run(["verify", join(dir, "bundle.cbor"), "--registry", join(dir, "missing.json")])).toBe(2);
  });
});

describe("concord inspect", () => {
  it("prints a headline and the JSON rendering of any message", () => {
    const out = inspectCommand(join(dir, "bundle.cbor"), {});
    expect(out.split("\n")[0]).toMatch(/^bundle for request [0-9a-f]{64} \(\d+ bytes\): 5 supporters$/);
    expect(JSON.parse(inspectCommand(join(dir, "bundle.cbor"), { json: true }))).toEqual(messageToJson(bundle));
  });

  it("refuses bytes that are not a canonical message with a typed error", () => {
    expect(() => inspectCommand(write("garbage.bin", Uint8Array.of(0xff, 0x00, 0x13)), {})).toThrow(expect.objectContaining({ code: "WIRE_DECODE" }));
  });
});
