/** checkSigningHistory: has this node signed, and is its slashing-protection history still there? Real files. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkSigningHistory, SIGNED_MARKER_FILE, SLASHING_FILE, writeSignedMarker } from "../../../src/node/history.ts";
import { SlashingProtection } from "../../../src/node/slashing.ts";
import { sha256 } from "../../../src/wire/hash.ts";

const CHAIN = "concord-test";
let dataDir: string;
let slashingPath: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "concord-history-"));
  slashingPath = join(dataDir, SLASHING_FILE);
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

const check = (acceptLost = false) => checkSigningHistory({ dataDir, slashingPath, chain: CHAIN, node: "node-a", acceptLost });

function store(fill: (protection: SlashingProtection) => void): void {
  const protection = new SlashingProtection({ path: slashingPath });
  protection.open();
  fill(protection);
  protection.close();
}
const sign = (protection: SlashingProtection) =>
  protection.checkAndInsert({ chain: CHAIN, request: sha256("r"), node: "node-a", kind: "commitment", signingRoot: sha256("root"), deadline: 1_000 });

describe("checkSigningHistory", () => {
  it("lets a node that never signed start on no history, or an empty one", () => {
    expect(check()).toBe("kept");
    store(() => undefined);
    expect(check()).toBe("kept");
    expect(existsSync(join(dataDir, SIGNED_MARKER_FILE))).toBe(false);
  });

  it("refuses a node that has signed, on a missing file, an empty file, or a store with no history for its chain", () => {
    writeSignedMarker(dataDir, { node: "node-a", chain: CHAIN });
    expect(check).toThrow(expect.objectContaining({ code: "CONFIG", message: expect.stringMatching(/^slashing-protection history lost: .*slashing\.sqlite is missing, but this node has signed before/) }));
    writeFileSync(slashingPath, "");
    expect(check).toThrow(expect.objectContaining({ message: expect.stringContaining("slashing.sqlite is empty") }));
    rmSync(slashingPath);
    store((protection) => protection.checkAndInsert({ chain: "another-chain", request: sha256("r"), node: "node-a", kind: "commitment", signingRoot: sha256("root"), deadline: 1_000 }));
    expect(check).toThrow(expect.objectContaining({ message: expect.stringContaining("slashing.sqlite holds no history for this chain") }));
    expect(check(true)).toBe("lost-accepted");
  });

  it("lets a node that has signed start on its records, or on a floor alone (every record pruned)", () => {
    writeSignedMarker(dataDir, { node: "node-a", chain: CHAIN });
    store(sign);
    expect(check()).toBe("kept");
    store((protection) => protection.prune({ chain: CHAIN, before: 2_000 }));
    expect(check()).toBe("kept");
  });

  it("writes the marker for a history from before the marker existed (records, not a floor alone)", () => {
    store((protection) => protection.prune({ chain: CHAIN, before: 2_000 }));
    expect(check()).toBe("kept");
    expect(existsSync(join(dataDir, SIGNED_MARKER_FILE))).toBe(false);
    rmSync(slashingPath);
    store(sign);
    expect(check()).toBe("kept");
    expect(existsSync(join(dataDir, SIGNED_MARKER_FILE))).toBe(true);
  });
});
