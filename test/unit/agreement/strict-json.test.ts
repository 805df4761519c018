import { describe, expect, it } from "vitest";
import {
  JSON_ARRAY,
  JSON_OBJECT,
  NUMBER_OUT_OF_RANGE,
  jsonObjectSchema,
  keyOrderHint,
  readJsonObject,
} from "../../../src/agreement/strict-json.ts";

const schema = jsonObjectSchema(["a", "b", "c"], [-1, 2, -1]);
const read = (text: string, limits?: { maxChars: number; maxDepth: number }) => readJsonObject(text, schema, limits);

describe("readJsonObject (RFC 8259, strictly)", () => {
  it("reads members at their schema slots, numbers at a declared scale, and counts other keys", () => {
    expect(read('{"a": "x", "b": 1.25, "z": [1, {"q": null}], "c": true}')).toEqual({ values: ["x", 125, true], extraKeys: 1 });
    expect(read('{"a": 1.5e3, "c": null}')).toEqual({ values: [{ number: "1.5e3" }, undefined, null], extraKeys: 0 });
    expect(read('{"a": [], "c": {}}')?.values).toEqual([JSON_ARRAY, undefined, JSON_OBJECT]);
    expect(read('{"b": 1e40}')?.values[1]).toBe(NUMBER_OUT_OF_RANGE);
    expect(read(" \n\t{ } \r\n")).toEqual({ values: [undefined, undefined, undefined], extraKeys: 0 });
  });

  it("decodes escapes, including surrogate pairs, and matches keys written with escapes", () => {
    expect(read('{"a": "\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"}')?.values[0]).toBe('"\\/\b\f\n\r\té\u{1f600}');
    expect(read('{"\\u0061": "escaped key"}')?.values[0]).toBe("escaped key");
  });

  it.each([
    ["not an object", "[1]"],
    ["a bare string", '"a"'],
    ["trailing comma", '{"a": 1,}'],
    ["trailing comma in an array", '{"z": [1,]}'],
    ["duplicate key", '{"a": 1, "a": 1}'],
    ["duplicate key spelled with an escape", '{"a": 1, "\\u0061": 1}'],
    ["duplicate undeclared key", '{"z": 1, "z": 2}'],
    ["duplicate key in a nested object", '{"z": {"q": 1, "q": 1}}'],
    ["single quotes", "{'a': 1}"],
    ["leading zero", '{"a": 01}'],
    ["bare decimal point", '{"a": 1.}'],
    ["leading decimal point", '{"a": .5}'],
    ["plus sign", '{"a": +1}'],
    ["empty exponent", '{"a": 1e}'],
    ["NaN", '{"a": NaN}'],
    ["comment", '{"a": 1 /* no */}'],
    ["text after the value", '{"a": 1} x'],
    ["two values", "{} {}"],
    ["unescaped control character", '{"a": "x\ny"}'],
    ["lone high surrogate escape", '{"a": "\\ud800"}'],
    ["lone low surrogate escape", '{"a": "\\udc00"}'],
    ["raw lone surrogate", '{"a": "\ud800"}'],
    ["bad escape", '{"a": "\\x41"}'],
    ["short unicode escape", '{"a": "\\u41"}'],
    ["non-JSON whitespace", '{"a":\u00a01}'],
    ["unterminated string", '{"a": "x}'],
    ["unterminated object", '{"a": 1'],
    ["empty text", ""],
    ["truncated literal", '{"a": tru}'],
  ])("rejects %s", (_, text) => {
    expect(read(text)).toBeUndefined();
  });

  it("caps depth and size", () => {
    const nested = (depth: number) => `${'{"z":'.repeat(depth - 1)}{}${"}".repeat(depth - 1)}`;
    expect(read(nested(16))).toBeDefined();
    expect(read(nested(17))).toBeUndefined();
    expect(read(`{"z":${"[".repeat(15)}${"]".repeat(15)}}`)).toBeDefined();
    expect(read(`{"z":${"[".repeat(16)}${"]".repeat(16)}}`)).toBeUndefined();
    const long = `{"a": "${"x".repeat(100)}"}`;
    expect(read(long, { maxChars: long.length, maxDepth: 4 })).toBeDefined();
    expect(read(long, { maxChars: long.length - 1, maxDepth: 4 })).toBeUndefined();
  });

  it("gives the same answer with or without a key-order hint, whatever the hint holds", () => {
    const order = keyOrderHint(schema);
    const texts = ['{"c": 1, "b": 2, "a": 3}', '{"a": 1, "b": 2, "c": 3}', '{"a": 1, "a": 2}', '{"ab": 1, "a": 2}', '{"b": 1, "c": 2, "b": 3}'];
    for (let round = 0; round < 3; round++) {
      for (const text of texts) expect(readJsonObject(text, schema, undefined, order)).toEqual(read(text));
    }
  });
});
