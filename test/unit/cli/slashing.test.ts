/** `concord slashing export|import` on real data directories. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { slashingExportCommand, slashingImportCommand } from "../../../src/cli/slashing.ts";
import { SIGNED_MARKER_FILE, SLASHING_FILE } from "../../../src/node/history.ts";
import { SlashingProtection } from "../../../src/node/slashing.ts";
import { sha256 } from "../../../src/wire/hash.ts";

const CHAIN = "concord-test";
const dir = mkdtempSync(join(tmpdir(), "concord-cli-slashing-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function signedDataDir(name: string, root: string): string {
  const dataDir = join(dir, name);
  const protection = new SlashingProtection({ path: join(dataDir, SLASHING_FILE) });
  protection.open();
  protection.checkAndInsert({ chain: CHAIN, request: sha256("request"), node: "node-a", kind: "commitment", signingRoot: sha256(root), deadline: 5_000 });
  protection.close();
  return dataDir;
}

describe("concord slashing", () => {
  it("exports a history and imports it into a new data directory, which then says the node has signed", () => {
    const text = slashingExportCommand({ dataDir: signedDataDir("old", "root"), chain: CHAIN });
    const file = join(dir, "history.json");
    writeFileSync(file, text);
    const fresh = join(dir, "fresh");
    const result = slashingImportCommand(file, { dataDir: fresh });
    expect(result.conflicts).toBe(0);
    expect(result.lines[0]).toMatch(/1 record imported, 0 already there, 0 in conflict; chain concord-test, floor 0$/);
    expect(existsSync(join(fresh, SIGNED_MARKER_FILE))).toBe(true);
    expect(slashingExportCommand({ dataDir: fresh, chain: CHAIN })).toBe(text);
    expect(slashingImportCommand(file, { dataDir: fresh }).lines[0]).toMatch(/0 records imported, 1 already there/);
  });

  it("reports a conflicting record and does not write it", () => {
    const file = join(dir, "other.json");
    writeFileSync(file, slashingExportCommand({ dataDir: signedDataDir("other", "another root"), chain: CHAIN }));
    const target = signedDataDir("target", "root");
    const result = slashingImportCommand(file, { dataDir: target });
    expect(result.conflicts).toBe(1);
    expect(result.lines[1]).toContain(`stored=${Buffer.from(sha256("root")).toString("hex")}`);
    expect(slashingExportCommand({ dataDir: target, chain: CHAIN })).toContain(Buffer.from(sha256("root")).toString("hex"));
  });

  it("refuses to export from a data directory without a history (an empty export would look like one)", () => {
    expect(() => slashingExportCommand({ dataDir: join(dir, "nothing"), chain: CHAIN })).toThrow(expect.objectContaining({ code: "CONFIG", message: expect.stringContaining("no slashing-protection database") }));
    expect(existsSync(join(dir, "nothing"))).toBe(false);
  });
});
