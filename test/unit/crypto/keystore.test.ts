import { execFileSync } from "node:child_process";
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  generateKeyPair,
  generateKeystore,
  KEYSTORE_FORMAT,
  keystoreToJson,
  readKeystore,
  writeKeystore,
} from "../../../src/crypto/keystore.ts";
import { publicKey, signRoot } from "../../../src/crypto/schemes.ts";
import { isConcordError } from "../../../src/errors.ts";
import { taggedHash, toHex } from "../../../src/wire/hash.ts";
import { testKey } from "../../helpers/fixtures.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "concord-keystore-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function codeAndMessage(promise: Promise<unknown>): Promise<[string, string]> {
  try {
    await promise;
  } catch (error) {
    if (isConcordError(error)) return [error.code, error.message];
    throw error;
  }
  return ["ok", ""];
}

const posix = process.platform !== "win32";

describe("writeKeystore / readKeystore", () => {
  for (const scheme of ["ed25519", "secp256k1"] as const) {
    it(`round-trips a ${scheme} key with and without a node id`, async () => {
      const key = testKey(`keystore-${scheme}`, scheme);
      const withNode = join(dir, `${scheme}-node.json`);
      await writeKeystore(withNode, key, "node-07");
      expect(await readKeystore(withNode)).toEqual({ keyPair: key, node: "node-07" });
      const plain = join(dir, `${scheme}.json`);
      await writeKeystore(plain, key);
      const read = await readKeystore(plain);
      expect(read).toEqual({ keyPair: key });
      expect(Object.hasOwn(read, "node")).toBe(false);
    });
  }

  it("writes the documented JSON format", async () => {
    const key = testKey("keystore-format");
    const path = join(dir, "format.json");
    await writeKeystore(path, key, "node-01");
    expect(JSON.parse(await readFile(path, "utf8"))).toEqual({
      format: KEYSTORE_FORMAT,
      version: 1,
      scheme: "ed25519",
      publicKey: toHex(key.publicKey),
      secretKey: toHex(key.secretKey),
      node: "node-01",
    });
  });

  it.runIf(posix)("creates the file with mode 0600, whatever the umask, and leaves no temporary file", async () => {
    const sub = join(dir, "mode");
    await mkdir(sub);
    const previous = process.umask(0);
    try {
      await writeKeystore(join(sub, "key.json"), testKey("keystore-mode"));
    } finally {
      process.umask(previous);
    }
    expect((await stat(join(sub, "key.json"))).mode & 0o777).toBe(0o600);
    expect(await readdir(sub)).toEqual(["key.json"]);
  });

  it("never replaces an existing key unless asked to", async () => {
    const path = join(dir, "existing.json");
    const first = testKey("keystore-first");
    const second = testKey("keystore-second");
    await writeKeystore(path, first);
    const [code, message] = await codeAndMessage(writeKeystore(path, second));
    expect(code).toBe("KEYSTORE");
    expect(message).toContain("already exists");
    expect((await readKeystore(path)).keyPair).toEqual(first);
    await writeKeystore(path, second, undefined, { overwrite: true });
    expect((await readKeystore(path)).keyPair).toEqual(second);
    expect((await readdir(dir)).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });

  it("refuses a bad node id when writing", async () => {
    const [code] = await codeAndMessage(writeKeystore(join(dir, "bad-node.json"), testKey("x"), "node 01"));
    expect(code).toBe("KEYSTORE");
  });

  it("reports a directory that does not exist as KEYSTORE", async () => {
    const [code] = await codeAndMessage(writeKeystore(join(dir, "missing", "key.json"), testKey("x")));
    expect(code).toBe("KEYSTORE");
  });
});

describe("readKeystore refuses", () => {
  it.runIf(posix)("a file that group or others can read, with the chmod that fixes it", async () => {
    const path = join(dir, "open.json");
    await writeKeystore(path, testKey("keystore-open"));
    for (const mode of [0o644, 0o640, 0o604, 0o660, 0o666, 0o601]) {
      await chmod(path, mode);
      const [code, message] = await codeAndMessage(readKeystore(path));
      expect(code, mode.toString(8)).toBe("KEYSTORE");
      expect(message).toContain(`chmod 600 ${path}`);
      expect(message).toContain(mode.toString(8));
    }
    await chmod(path, 0o400);
    expect((await readKeystore(path)).keyPair).toEqual(testKey("keystore-open"));
  });

  it("a missing file", async () => {
    const [code, message] = await codeAndMessage(readKeystore(join(dir, "nope.json")));
    expect(code).toBe("KEYSTORE");
    expect(message).toContain("not found");
  });

  it("a directory", async () => {
    const path = join(dir, "a-directory");
    await mkdir(path, { mode: 0o700 });
    expect((await codeAndMessage(readKeystore(path)))[0]).toBe("KEYSTORE");
  });

  it.runIf(posix)("a FIFO, at once (opening one waited forever for a writer)", async () => {
    const path = join(dir, "a-fifo");
    execFileSync("mkfifo", [path]);
    const [code, message] = await codeAndMessage(readKeystore(path));
    expect(code).toBe("KEYSTORE");
    expect(message).toContain("not a regular file");
  });

  const key = testKey("keystore-corrupt");
  const good = keystoreToJson(key, "node-01") as unknown as Record<string, unknown>;
  const corrupt: [string, string][] = [
    ["not JSON", "{ format: concord"],
    ["empty", ""],
    ["a JSON array", "[]"],
    ["another format", JSON.stringify({ ...good, format: "eth-keystore" })],
    ["another version", JSON.stringify({ ...good, version: 2 })],
    ["an unknown scheme", JSON.stringify({ ...good, scheme: "rsa" })],
    ["secretKey not hex", JSON.stringify({ ...good, secretKey: "zz" })],
    ["secretKey too short", JSON.stringify({ ...good, secretKey: (good.secretKey as string).slice(2) })],
    ["a public key that is not the secret key's", JSON.stringify({ ...good, publicKey: toHex(testKey("other").publicKey) })],
    ["a missing public key", JSON.stringify({ ...good, publicKey: undefined })],
    ["an unknown field", JSON.stringify({ ...good, password: "hunter2" })],
    ["a bad node id", JSON.stringify({ ...good, node: "node 01" })],
    ["a secp256k1 secret key of zero", JSON.stringify({ ...good, scheme: "secp256k1", secretKey: "00".repeat(32) })],
  ];
  for (const [name, text] of corrupt) {
    it(`a corrupt file: ${name}`, async () => {
      const path = join(dir, `corrupt-${name.replace(/\W+/g, "-")}.json`);
      await writeFile(path, text, { mode: 0o600 });
      const [code, message] = await codeAndMessage(readKeystore(path));
      expect(code).toBe("KEYSTORE");
      expect(message).toContain(path);
    });
  }
});

describe("generateKeystore", () => {
  it("draws fresh keys that sign and verify", async () => {
    const a = await generateKeystore(join(dir, "gen-a.json"), "ed25519", { node: "node-01" });
    const b = await generateKeystore(join(dir, "gen-b.json"), "secp256k1");
    expect(toHex(a.secretKey)).not.toBe(toHex(generateKeyPair("ed25519").secretKey));
    expect((await readKeystore(join(dir, "gen-a.json"))).keyPair).toEqual(a);
    expect((await readKeystore(join(dir, "gen-b.json"))).keyPair).toEqual(b);
    const root = taggedHash("root");
    expect(publicKey("ed25519", a.publicKey).verify(root, signRoot(a, root))).toBe(true);
    expect(publicKey("secp256k1", b.publicKey).verify(root, signRoot(b, root))).toBe(true);
    const [code] = await codeAndMessage(generateKeystore(join(dir, "gen-a.json"), "ed25519"));
    expect(code).toBe("KEYSTORE");
  });
});
