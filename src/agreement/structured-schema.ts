/**
 * structured@2: the request carries an output schema (a small JSON Schema subset) as its policy
 * parameters; backends decode under it, a vote that breaks it supports nothing, and only the
 * decision fields are compared and certified. Commentary fields (a rationale, say) are checked
 * for their type and left out of the canonical output: they are one node's unverified text.
 *
 * Parameters (spec/09-policies.md, "structured@2"), the schema object itself:
 *   type?: "object"
 *   description?: string                 (for the model; ignored by the decision)
 *   properties: { <name>: property }     (1..64)
 *   required?: [names]                   (default: none; absent fields must be absent in all
 *                                         supporters, as in structured@1)
 *   additionalProperties?: bool          (default true: undeclared keys are ignored, never
 *                                         certified; false: a vote with one supports nothing)
 * property, each with an optional `description`:
 *   { enum: [strings] }                                   a label: exact, one of the listed
 *   { type: "boolean" }
 *   { type: "integer", absTol?: int, relTolPpm?: int }    integral JSON numbers only
 *   { type: "number", decimals?: 0..18 (default 6), absTol?: int, relTolPpm?: int }
 *                                                         absTol in units of 10^-decimals
 *   { type: "string", maxLength? }                        exact (code units, as written)
 *   { type: "string", commentary: true, maxLength? }      free text: never compared or certified
 *   (maxLength: 1..65,536 code points; a longer value breaks the schema)
 *
 * The decision is structured@1's (structured.ts: group by the exact fields, trim numbers around
 * the lower median) over the decision fields. The canonical output is the canonical JSON of the
 * decision fields only.
 *
 * @example
 * const params = { properties: { verdict: { enum: ["approve", "reject"] }, amount: { type: "number", decimals: 2 },
 *   rationale: { type: "string", commentary: true } }, required: ["verdict", "amount"] };
 * outputJsonSchema(structuredSchemaPolicy.parseParams(params)) // what a backend decodes under
 */
import { ConcordError } from "../errors.ts";
import type { PolicyParamValue, PolicyParams } from "../wire/types.ts";
import { checkKeys, isParamMap, paramsError, readBool, readInt, readOptionalInt } from "./params.ts";
import type { AgreementPolicy } from "./policy.ts";
import { decideStructured, structuredReader } from "./structured.ts";
import type { StructuredField, StructuredParams } from "./structured.ts";
import { DEFAULT_JSON_LIMITS, readJsonObject } from "./strict-json.ts";

const POLICY = "structured@2";
const MAX_FIELDS = 64;
const MAX_FIELD_NAME = 128;
const MAX_ENUM = 64;

export interface StructuredSchemaParams extends StructuredParams {
  /** The schema as the request gave it, for backends (outputJsonSchema). */
  declared: PolicyParams;
  required: ReadonlySet<string>;
}

function readDescription(spec: PolicyParams, path: string): void {
  if (spec["description"] !== undefined && typeof spec["description"] !== "string") {
    throw paramsError(POLICY, `${path}.description`, "not a string");
  }
}

function parseProperty(name: string, spec: PolicyParamValue | undefined, required: boolean): StructuredField {
  const path = `properties.${name}`;
  if (!isParamMap(spec)) throw paramsError(POLICY, path, "not a map");
  readDescription(spec, path);
  const optional = !required;
  if (spec["enum"] !== undefined) {
    checkKeys(POLICY, path, spec, ["enum", "type", "description"]);
    if (spec["type"] !== undefined && spec["type"] !== "string") throw paramsError(POLICY, `${path}.type`, "an enum lists strings");
    const values = spec["enum"];
    if (!Array.isArray(values) || values.length === 0 || values.length > MAX_ENUM) {
      throw paramsError(POLICY, `${path}.enum`, `must list 1..${MAX_ENUM} strings`);
    }
    const set = new Set<string>();
    for (const value of values) {
      if (typeof value !== "string") throw paramsError(POLICY, `${path}.enum`, "must list strings");
      if (set.has(value)) throw paramsError(POLICY, `${path}.enum`, `lists ${JSON.stringify(value)} twice`);
      set.add(value);
    }
    return { name, type: "label", optional, values: set };
  }
  switch (spec["type"]) {
    case "boolean":
      checkKeys(POLICY, path, spec, ["type", "description"]);
      return { name, type: "bool", optional };
    case "string": {
      checkKeys(POLICY, path, spec, ["type", "description", "commentary", "maxLength"]);
      const type = readBool(POLICY, spec, "commentary", false, path) ? "commentary" : "string";
      const maxLength = readOptionalInt(POLICY, spec, "maxLength", { min: 1, max: 65_536 }, path);
      return maxLength === undefined ? { name, type, optional } : { name, type, optional, maxLength };
    }
    case "integer":
    case "number": {
      const integer = spec["type"] === "integer";
      checkKeys(POLICY, path, spec, integer ? ["type", "description", "absTol", "relTolPpm"] : ["type", "description", "decimals", "absTol", "relTolPpm"]);
      const decimals = integer ? 0 : readInt(POLICY, spec, "decimals", { min: 0, max: 18, fallback: 6 }, path);
      const absTol = readInt(POLICY, spec, "absTol", { min: 0, max: Number.MAX_SAFE_INTEGER, fallback: 0 }, path);
      const relTolPpm = readInt(POLICY, spec, "relTolPpm", { min: 0, max: 1_000_000, fallback: 0 }, path);
      return { name, type: "number", optional, decimals, absTol, relTolPpm, integer };
    }
    default:
      throw paramsError(POLICY, `${path}.type`, "must be boolean, integer, number or string (or give an enum)");
  }
}

export function parseStructuredSchemaParams(params: PolicyParams): StructuredSchemaParams {
  checkKeys(POLICY, "", params, ["type", "description", "properties", "required", "additionalProperties"]);
  if (params["type"] !== undefined && params["type"] !== "object") throw paramsError(POLICY, "type", "must be object");
  readDescription(params, "");
  const properties = params["properties"];
  if (!isParamMap(properties)) throw paramsError(POLICY, "properties", "missing or not a map");
  const names = Object.keys(properties).sort();
  if (names.length === 0 || names.length > MAX_FIELDS) throw paramsError(POLICY, "properties", `must declare 1..${MAX_FIELDS} fields`);
  const requiredList = params["required"] ?? [];
  if (!Array.isArray(requiredList)) throw paramsError(POLICY, "required", "not a list");
  const required = new Set<string>();
  for (const name of requiredList) {
    if (typeof name !== "string" || !names.includes(name)) throw paramsError(POLICY, "required", `names an undeclared field: ${String(name)}`);
    if (required.has(name)) throw paramsError(POLICY, "required", `names ${name} twice`);
    required.add(name);
  }
  const fields = names.map((name) => {
    if (name.length === 0 || name.length > MAX_FIELD_NAME) throw paramsError(POLICY, "properties", "bad field name length");
    return parseProperty(name, properties[name], required.has(name));
  });
  if (fields.every((field) => field.type === "commentary")) throw paramsError(POLICY, "properties", "no decision field: every field is commentary");
  const additional = readBool(POLICY, params, "additionalProperties", true);
  return { fields, extra: additional ? "ignore" : "reject", ...structuredReader(fields), declared: params, required };
}

/** Sets an own, enumerable `key`: field names are the request's, and `__proto__` is one too. */
function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, configurable: true, enumerable: true, writable: true });
}

/**
 * The standard JSON Schema a backend decodes under (OpenAI-compatible `response_format`,
 * llama.cpp's JSON-schema grammar): Concord's own keywords removed, every declared field listed,
 * no undeclared keys (a constrained decoder has no reason to add any).
 */
export function outputJsonSchema(params: StructuredSchemaParams): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const field of params.fields) {
    const declared = (params.declared["properties"] as PolicyParams)[field.name] as PolicyParams;
    const property: Record<string, unknown> = {};
    if (typeof declared["description"] === "string") property.description = declared["description"];
    switch (field.type) {
      case "label":
        property.type = "string";
        property.enum = [...(field.values ?? [])];
        break;
      case "bool":
        property.type = "boolean";
        break;
      case "number":
        property.type = field.integer ? "integer" : "number";
        break;
      case "string":
      case "commentary":
        property.type = "string";
        // A bound a constrained decoder can enforce: without it a weak model may never close the string.
        if (field.maxLength !== undefined) property.maxLength = field.maxLength;
        break;
    }
    setOwn(properties, field.name, property);
  }
  const schema: Record<string, unknown> = { type: "object", properties, required: params.fields.filter((f) => params.required.has(f.name)).map((f) => f.name) };
  if (typeof params.declared["description"] === "string") schema.description = params.declared["description"];
  schema.additionalProperties = false;
  return schema;
}

/** What an agreed structured@2 outcome certifies, and what it does not. */
export interface StructuredOutcome {
  /**
   * The decision fields the committee agreed on (the canonical output, read): labels and strings
   * as text, booleans as booleans, numbers as their exact decimal text (never through a float).
   */
  certified: Record<string, string | boolean>;
  /** Their names, sorted. */
  certifiedFields: string[];
  /**
   * Commentary from one supporter (the first by node id whose output has any): one node's text,
   * not agreed by anybody. Undefined when no supporter wrote commentary.
   */
  commentary?: { node: string; fields: Record<string, string> };
}

/**
 * Splits an agreed structured@2 outcome into what the committee certified and what one node
 * merely said. `outputs` are the supporters' raw outputs by node (a bundle's reveals or outputs).
 */
export function structuredOutcome(
  params: StructuredSchemaParams,
  canonicalOutput: string,
  outputs: readonly { node: string; output: string }[],
): StructuredOutcome {
  const decisionFields = params.fields.filter((field) => field.type !== "commentary");
  const read = readJsonObject(canonicalOutput, structuredReader(decisionFields.map((f) => ({ ...f, type: "string" as const }))).schema);
  if (!read) throw new ConcordError("POLICY_PARAMS", "not a structured@2 canonical output", { details: canonicalOutput.slice(0, 200) });
  const certified: Record<string, string | boolean> = {};
  decisionFields.forEach((field, index) => {
    const value = read.values[index];
    if (typeof value === "string" || typeof value === "boolean") setOwn(certified, field.name, value);
    else if (typeof value === "object" && value !== null && "number" in value) setOwn(certified, field.name, value.number);
  });
  const commentaryFields = params.fields.filter((field) => field.type === "commentary");
  const result: StructuredOutcome = { certified, certifiedFields: Object.keys(certified).sort() };
  if (commentaryFields.length === 0) return result;
  const reader = structuredReader(commentaryFields);
  for (const { node, output } of [...outputs].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))) {
    const read = readJsonObject(output, reader.schema, DEFAULT_JSON_LIMITS);
    if (!read) continue;
    const fields: Record<string, string> = {};
    commentaryFields.forEach((field, index) => {
      const value = read.values[index];
      if (typeof value === "string") setOwn(fields, field.name, value);
    });
    if (Object.keys(fields).length > 0) return { ...result, commentary: { node, fields } };
  }
  return result;
}

export const structuredSchemaPolicy: AgreementPolicy<StructuredSchemaParams> = {
  id: "structured",
  version: 2,
  description: "an output schema (JSON Schema subset): decision fields agreed (enums exact, numbers within tolerance of the median), commentary never certified",
  parseParams: parseStructuredSchemaParams,
  outputSchema: outputJsonSchema,
  decide: (votes, params, { k }) => decideStructured(votes, params, k),
};
