/**
 * `concord registry new|add|check` and `concord keys new|import|list`, run in-process through
 * main() as the executable runs them.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../../../src/cli/main.ts";
import { readKeystore } from "../../../src/crypto/keystore.ts";
import { keyPairFromSeed } from "../../../src/crypto/schemes.ts";
import { toHex } from "../../../src/wire/hash.ts";
import { readRegistryFile } from "../../../src/cli/io.ts";

const dir = mkdtempSync(join(tmpdir(), "concord-registry-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

/** Runs `concord <args>`: exit code, stdout and stderr. */
async function concord(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => ((err += String(chunk)), true));
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  }
}

const path = (name: string) => join(dir, name);

describe("concord registry: written and checked by the tool, through createRegistry", () => {
  it("new, add from key files, check: a registry the node loads", async () => {
    expect((await concord("keys", "new", "--out", path("seq.key.json"))).code).toBe(0);
    for (const id of ["node-01", "node-02"]) expect((await concord("keys", "new", "--out", path(`${id}.key.json`), "--node", id)).code).toBe(0);
    const created = await concord("registry", "new", "--out", path("registry.json"), "--chain", "devnet-1", "--keystore", path("seq.key.json"));
    expect(created).toMatchObject({ code: 0 });
    expect(created.out).toContain("chain devnet-1, 0 nodes");
    expect((await concord("registry", "add", path("registry.json"), "--keystore", path("node-01.key.json"))).out).toContain("added node-01");
    expect((await concord("registry", "add", path("registry.json"), "--keystore", path("node-02.key.json"), "--weight", "3")).code).toBe(0);
    const check = await concord("registry", "check", path("registry.json"));
    expect(check).toMatchObject({ code: 0 });
    expect(check.out).toContain("chain devnet-1, 2 nodes, total weight 4");
    const registry = readRegistryFile(path("registry.json"));
    const key = (await readKeystore(path("node-02.key.json"))).keyPair;
    expect(registry.byId.get("node-02")).toMatchObject({ weight: 3, publicKey: key.publicKey });
    // A second `new` over it is refused without --force.
    expect(await concord("registry", "new", "--out", path("registry.json"), "--chain", "x", "--keystore", path("seq.key.json"))).toMatchObject({ code: 2 });
  });

  it("refuses a duplicate id, a key registered twice, the sequencer's key as a node, and leaves the file as it was", async () => {
    const before = readFileSync(path("registry.json"), "utf8");
    const twice = await concord("registry", "add", path("registry.json"), "--keystore", path("node-01.key.json"), "--node", "node-03");
    expect(twice.code).toBe(2);
    expect(twice.err).toMatch(/CONFIG: invalid registry: node "node-03" has the key of node "node-01": one key, one member/);
    const sequencer = await concord("registry", "add", path("registry.json"), "--keystore", path("seq.key.json"), "--node", "node-04");
    expect(sequencer.err).toMatch(/has the key of the sequencer/);
    const fresh = toHex(keyPairFromSeed("ed25519", new Uint8Array(32).fill(7)).publicKey);
    const sameId = await concord("registry", "add", path("registry.json"), "--public-key", fresh, "--node", "node-01");
    expect(sameId.err).toMatch(/node "node-01" listed twice/);
    expect(await concord("registry", "add", path("registry.json"), "--public-key", fresh)).toMatchObject({ code: 2 });
    expect(readFileSync(path("registry.json"), "utf8")).toBe(before);
    expect((await concord("registry", "add", path("registry.json"), "--public-key", fresh, "--node", "node-05")).code).toBe(0);
  });

  it("new --subnets S writes S; add keeps it; check prints each subnet's size and weight", async () => {
    const created = await concord("registry", "new", "--out", path("subnets.json"), "--chain", "devnet-1", "--keystore", path("seq.key.json"), "--subnets", "2");
    expect(created.code).toBe(0);
    for (const id of ["node-01", "node-02"]) expect((await concord("registry", "add", path("subnets.json"), "--keystore", path(`${id}.key.json`))).code).toBe(0);
    expect(JSON.parse(readFileSync(path("subnets.json"), "utf8"))).toMatchObject({ subnets: 2 });
    const check = await concord("registry", "check", path("subnets.json"));
    expect(check.out).toMatch(/subnet 0: 1 node, weight 1 \(seats committees of n <= 1\)/);
    expect(check.out).toMatch(/subnet 1: 1 node, weight 1/);
    expect(readRegistryFile(path("subnets.json")).subnets).toBe(2);
    expect((await concord("registry", "new", "--out", path("bad.json"), "--chain", "x", "--keystore", path("seq.key.json"), "--subnets", "65")).err).toMatch(/subnets must be an integer in 1..64/);
    expect(JSON.parse(readFileSync(path("registry.json"), "utf8"))).not.toHaveProperty("subnets");
  });

  it("check names the problem of a hand-edited registry (exit 2)", async () => {
    const json = JSON.parse(readFileSync(path("registry.json"), "utf8")) as { nodes: { id: string }[] };
    json.nodes.push({ ...(json.nodes[0] as { id: string }), id: "node-09" });
    writeFileSync(path("edited.json"), JSON.stringify(json));
    const result = await concord("registry", "check", path("edited.json"));
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/CONFIG: invalid registry: node "node-09" has the key of node "node-0\d": one key, one member/);
    writeFileSync(path("garbage.json"), "{");
    expect((await concord("registry", "check", path("garbage.json"))).err).toMatch(/is not valid JSON/);
  });
});

describe("concord keys import and list", () => {
  it("imports a secret key from a file into a 0600 key file with the same public key", async () => {
    const seed = new Uint8Array(32).fill(42);
    writeFileSync(path("secret.hex"), `0x${toHex(seed)}\n`);
    const result = await concord("keys", "import", path("secret.hex"), "--out", path("imported.key.json"), "--node", "node-07");
    expect(result.code).toBe(0);
    const expected = keyPairFromSeed("ed25519", seed);
    expect(result.out).toContain(toHex(expected.publicKey));
    const stored = await readKeystore(path("imported.key.json"));
    expect(stored).toMatchObject({ node: "node-07", keyPair: { publicKey: expected.publicKey } });
    writeFileSync(path("short.hex"), "abcd");
    expect((await concord("keys", "import", path("short.hex"), "--out", path("short.key.json"))).err).toMatch(/CONFIG: not a secret key: .*64 characters/);
    expect((await concord("keys", "import", path("secret.hex"), "--out", path("imported.key.json"))).code).not.toBe(0);
  });

  it("lists key files of a folder, never a secret, and flags an unreadable one (exit 1)", async () => {
    const listed = await concord("keys", "list", dir);
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(/node-01\.key\.json {2}node node-01 {2}ed25519 [0-9a-f]{64}/);
    expect(listed.out).toContain("imported.key.json  node node-07");
    expect(listed.out).not.toContain(toHex(new Uint8Array(32).fill(42)));
    chmodSync(path("node-02.key.json"), 0o644);
    const loose = await concord("keys", "list", path("node-02.key.json"));
    expect(loose.code).toBe(1);
    expect(loose.out).toMatch(/ERROR key file is readable by group or others/);
  });
});
