/**
 * The slashing-interchange vectors (spec/slashing-interchange.md, test/fixtures/slashing/):
 * the committed files equal what the generator builds, valid documents round-trip through a
 * database byte for byte, and every invalid document is refused with CONFIG.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isConcordError } from "../../../src/errors.ts";
import { SlashingProtection, parseInterchange, serializeInterchange } from "../../../src/node/slashing.ts";
import { buildVectors } from "../../fixtures/slashing/generate.ts";
import type { InvalidCase } from "../../fixtures/slashing/generate.ts";

const FOLDER = fileURLToPath(new URL("../../fixtures/slashing/", import.meta.url));
const read = (name: string): string => readFileSync(join(FOLDER, name), "utf8");

/** Canonical JSON: keys sorted at every level, no whitespace. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

let dir: string;
let protection: SlashingProtection;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "concord-interchange-"));
  protection = new SlashingProtection({ path: join(dir, "slashing.sqlite") });
  protection.open();
});

afterEach(() => {
  protection.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("slashing interchange v1 vectors", () => {
  it("the committed files are exactly what the generator writes", () => {
    for (const [name, text] of Object.entries(buildVectors())) expect(read(name), name).toBe(text);
  });

  for (const name of ["interchange-v1.json", "interchange-v1-pruned.json"]) {
    it(`${name}: import then export round-trips byte for byte`, () => {
      const text = read(name);
      const report = protection.import(text);
      expect(report.conflicts).toEqual([]);
      const exported = protection.export(report.chain);
      expect(canonical(exported)).toBe(canonical(JSON.parse(text)));
      expect(serializeInterchange(exported)).toBe(text);
    });
  }

  it("serializeInterchange is canonical: record and key order in the input do not matter", () => {
    const parsed = parseInterchange(read("interchange-v1.json"));
    const shuffled = { ...parsed, records: [...parsed.records].reverse() };
    expect(serializeInterchange(shuffled)).toBe(read("interchange-v1.json"));
  });

  const invalid = JSON.parse(read("interchange-v1-invalid.json")) as InvalidCase[];
  for (const vector of invalid) {
    it(`refuses: ${vector.name} (${vector.reason})`, () => {
      let error: unknown;
      try {
        protection.import(vector.text);
      } catch (caught) {
        error = caught;
      }
      expect(isConcordError(error, vector.expected)).toBe(true);
      expect(protection.export("concord-devnet").records).toEqual([]);
    });
  }
});
