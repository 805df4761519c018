import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { certCommand } from "../../../src/cli/cert.ts";
import { CLI_ENTRY } from "../../../src/cli/processes.ts";
import { registryRoot } from "../../../src/cert/registry-root.ts";
import { verifyCertificate } from "../../../src/cert/verify.ts";
import { registryConfigToJson } from "../../../src/quorum/registry.ts";
import { fromHex, toHex } from "../../../src/wire/hash.ts";
import { encodeMessage } from "../../../src/wire/messages.ts";
import type { AgreedBundle } from "../../../src/wire/types.ts";
import { runRequest, testNetwork, testRequest, type TestNetwork } from "../../helpers/fixtures.ts";
import { PROCESS_TEST_TIMEOUT_MS } from "../../helpers/timeouts.ts";

const dir = mkdtempSync(join(tmpdir(), "concord-cert-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function setup(name: string, net: TestNetwork): { registry: string; bundle: AgreedBundle } {
  const registry = write(`${name}-registry.json`, JSON.stringify(registryConfigToJson(net.config)));
  const bundle = runRequest(net, testRequest(net), () => ({ output: "Paris" })).collector.bundle as AgreedBundle;
  return { registry, bundle };
}

const secp = testNetwork(7, { schemes: () => "secp256k1" });
const { registry, bundle } = setup("secp", secp);
const bundlePath = write("bundle.hex", toHex(encodeMessage(bundle)));

describe("concord cert", () => {
  it("prints the certificate as ABI hex and JSON, checked against the registry root", () => {
    const result = certCommand(bundlePath, { registry });
    expect(result.ok).toBe(true);
    const lines = result.text.split("\n");
    expect(lines[0]).toMatch(/^certificate for request [0-9a-f]{64} \(\d+ bytes, ABI-encoded\)$/);
    expect(result.text).toContain(`registry root 0x${toHex(registryRoot(secp.registry))}`);
    const json = JSON.parse(certCommand(bundlePath, { registry, json: true }).text) as { registryRoot: string; outputHash: string; hex: string; certificate: { votes: unknown[]; output: string } };
    expect(json.certificate.output).toBe("Paris");
    expect(json.certificate.votes).toHaveLength(5);
    expect(lines).toContain(`hex: ${json.hex}`);
    const verified = verifyCertificate(fromHex(json.hex.slice(2)), fromHex(json.registryRoot.slice(2)));
    expect(`0x${toHex(verified.outputHash)}`).toBe(json.outputHash);
    expect(toHex(verified.outputHash)).toBe(toHex(bundle.outcome.outputHash));
  });

  it("says why there is none: an invalid bundle, or supporters on ed25519 keys", () => {
    const tampered = write("tampered.cbor", encodeMessage({ ...bundle, outcome: { ...bundle.outcome, output: "Lyon" } }));
    expect(certCommand(tampered, { registry })).toMatchObject({ ok: false, text: expect.stringContaining("invalid bundle: POLICY_MISMATCH") });
    const ed = setup("ed25519", testNetwork(7));
    const edPath = write("ed25519-bundle.cbor", encodeMessage(ed.bundle));
    expect(certCommand(edPath, { registry: ed.registry })).toMatchObject({ ok: false, text: expect.stringContaining("no certificate: CERT_UNSUPPORTED") });
  });

  it("exits 0 with a certificate and 1 without (real process)", { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
    const run = (args: string[]) => spawnSync(process.execPath, [CLI_ENTRY, ...args], { encoding: "utf8" });
    const ok = run(["cert", bundlePath, "--registry", registry, "--json"]);
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout).certificate.output).toBe("Paris");
    expect(run(["cert", join(dir, "tampered.cbor"), "--registry", registry]).status).toBe(1);
  });
});
