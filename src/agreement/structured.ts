/**
 * structured@1: JSON outputs compared field by field against a schema declared in the parameters.
 *
 * Parameters:
 *   fields: { <name>: { type: "label" | "string" | "bool" | "number", optional?: bool,
 *                       decimals?: 0..18 (number; default 6),
 *                       absTol?: int >= 0 (number; in units of 10^-decimals; default 0),
 *                       relTolPpm?: 0..1,000,000 (number; default 0) } }   (1..64 fields)
 *   extra: "reject" (default) | "ignore"   — what an undeclared key does to a vote
 *
 * Reading a vote: the output must be one strictly valid JSON object (strict-json.ts: no duplicate
 * keys, depth <= 16, <= 65,536 UTF-16 units). Every required field present, every present field
 * of its declared type (no null), undeclared keys per `extra`. Numbers are read exactly from their
 * decimal text as integers scaled by 10^decimals, rounded half to even beyond `decimals` digits,
 * at most 38 digits. A vote that fails any of this supports nothing (it never throws).
 *
 * Agreement, for two values of a number field with reference (canonical) value c:
 *   |v - c| <= absTol  OR  |v - c| * 1,000,000 <= relTolPpm * |c|      (integers only)
 * labels, strings and bools must be equal, and an optional field must be present in both or absent
 * in both.
 *
 * Decision (cluster, then trim around the median):
 *   1. Group the valid votes by their exact part (every non-number field, and which optional
 *      number fields are present).
 *   2. In each group, trim to a fixed point: S := the group; repeat { c := per-field lower median
 *      of S (element floor((|S|-1)/2) of the sorted values, as price oracles do); S' := votes of S
 *      within tolerance of c in every number field } until S' = S. The group's canonical output is
 *      its exact part plus c, and its support is S.
 *   3. The winning group has the largest support; ties: the larger group, then the lowest canonical
 *      output hash. Agreed when its support reaches k.
 * So every supporter is within tolerance of the canonical output in every number field and equal to
 * it everywhere else, and the canonical numbers are exactly the lower medians of the supporters'
 * values. The trim is deterministic and order-free, but it is not a search for the largest
 * consistent subset (that is combinatorial); with an honest majority inside the group whose values
 * lie within the tolerance of each other, the median stays among honest values and no honest vote
 * is trimmed. Adding a reveal equal to the canonical output keeps the canonical output and every
 * supporter when k > n/2 (property-tested); with a minority quorum over scattered values the trim
 * may settle on another set with other medians (the winning support never shrank in testing).
 *
 * Canonical output text: the JSON object of the declared fields present (undeclared keys dropped),
 * keys sorted by UTF-16 code units, no whitespace, strings as ECMAScript JSON.stringify writes them
 * (as in RFC 8785), booleans as true/false, numbers as exact decimals without exponent or trailing
 * fractional zeros (decimal.ts `formatScaled`).
 */
import { outputHash, compareBytes } from "../wire/hash.ts";
import type { Bytes, Cluster, PolicyParams } from "../wire/types.ts";
import { clustersByHash, compareClusters } from "./clusters.ts";
import { checkKeys, isParamMap, paramsError, readBool, readEnum, readInt, readMap } from "./params.ts";
import type { AgreementPolicy, PolicyDecision, Vote } from "./policy.ts";
import { compareScaled, formatScaled, isIntegralJsonNumber, scaleDecimal, withinTolerance } from "./decimal.ts";
import type { Scaled } from "./decimal.ts";
import { DEFAULT_JSON_LIMITS, jsonObjectSchema, readJsonObject } from "./strict-json.ts";
import type { JsonObjectSchema } from "./strict-json.ts";

export type StructuredFieldType = "label" | "string" | "bool" | "number" | "commentary";

export type StructuredField =
  | {
      name: string;
      type: "string" | "bool" | "commentary";
      optional: boolean;
      /** structured@2 `maxLength` (strings and commentary): most code points; a longer value breaks the schema. */
      maxLength?: number;
    }
  | {
      name: string;
      type: "label";
      optional: boolean;
      /** structured@2 `enum`: the values a vote may give (any string when absent). */
      values?: ReadonlySet<string>;
    }
  | {
      name: string;
      type: "number";
      optional: boolean;
      decimals: number;
      absTol: number;
      relTolPpm: number;
      /** structured@2 `integer`: the JSON number must be integral (read as text, then scaled). */
      integer?: boolean;
    };

export interface StructuredParams {
  /** Declared fields, sorted by name (UTF-16 code units). */
  fields: StructuredField[];
  extra: "reject" | "ignore";
  /** The reader's schema: fields by index, numbers read at their decimals (derived). */
  schema: JsonObjectSchema;
  /** `"name":` per field, as the canonical text writes it (derived). */
  keyPrefixes: readonly string[];
  /**
   * The key order the last votes used (strict-json.ts `keyOrderHint`), learned across decisions:
   * a speed hint only, which never changes a result.
   */
  keyOrder: number[];
}

const POLICY = "structured@1";
const MAX_FIELDS = 64;
const MAX_FIELD_NAME = 128;

function parseField(name: string, spec: PolicyParams): StructuredField {
  const path = `fields.${name}`;
  const type = readEnum(POLICY, spec, "type", ["label", "string", "bool", "number"] as const, "label", path);
  if (spec["type"] === undefined) throw paramsError(POLICY, `${path}.type`, "missing");
  const optional = readBool(POLICY, spec, "optional", false, path);
  if (type !== "number") {
    checkKeys(POLICY, path, spec, ["type", "optional"]);
    return { name, type, optional };
  }
  checkKeys(POLICY, path, spec, ["type", "optional", "decimals", "absTol", "relTolPpm"]);
  const decimals = readInt(POLICY, spec, "decimals", { min: 0, max: 18, fallback: 6 }, path);
  const absTol = readInt(POLICY, spec, "absTol", { min: 0, max: Number.MAX_SAFE_INTEGER, fallback: 0 }, path);
  const relTolPpm = readInt(POLICY, spec, "relTolPpm", { min: 0, max: 1_000_000, fallback: 0 }, path);
  return { name, type, optional, decimals, absTol, relTolPpm };
}

export function parseStructuredParams(params: PolicyParams): StructuredParams {
  checkKeys(POLICY, "", params, ["fields", "extra"]);
  if (!isParamMap(params["fields"])) throw paramsError(POLICY, "fields", "missing or not a map");
  const specs = readMap(POLICY, params, "fields");
  const names = Object.keys(specs).sort();
  if (names.length === 0 || names.length > MAX_FIELDS) throw paramsError(POLICY, "fields", `must declare 1..${MAX_FIELDS} fields`);
  const fields = names.map((name) => {
    if (name.length === 0 || name.length > MAX_FIELD_NAME) throw paramsError(POLICY, "fields", "bad field name length");
    const spec = specs[name];
    if (!isParamMap(spec)) throw paramsError(POLICY, `fields.${name}`, "not a map");
    return parseField(name, spec);
  });
  return {
    fields,
    extra: readEnum(POLICY, params, "extra", ["reject", "ignore"] as const, "reject"),
    ...structuredReader(fields),
  };
}

/** The derived parts of StructuredParams for `fields` (sorted by name). */
export function structuredReader(fields: readonly StructuredField[]): Pick<StructuredParams, "schema" | "keyPrefixes" | "keyOrder"> {
  return {
    schema: jsonObjectSchema(
      fields.map((field) => field.name),
      // Integers are read as text and checked to be integral before scaling.
      fields.map((field) => (field.type === "number" && !field.integer ? field.decimals : -1)),
    ),
    keyPrefixes: fields.map((field) => `${JSON.stringify(field.name)}:`),
    keyOrder: new Array<number>(fields.length + 1).fill(-1),
  };
}

/** A field's value in one vote: text for label/string, boolean for bool, scaled integer for number. */
type FieldValue = string | boolean | Scaled | undefined;

interface ReadVote {
  vote: Vote;
  /** Values in `fields` order; undefined = absent (optional). */
  values: FieldValue[];
}

/** Same exact part: equal non-number values, and the same number fields present. */
function sameExactPart(a: ReadVote, b: ReadVote, fields: readonly StructuredField[]): boolean {
  for (let f = 0; f < fields.length; f++) {
    const x = a.values[f];
    const y = b.values[f];
    if ((fields[f] as StructuredField).type === "number" ? (x === undefined) !== (y === undefined) : x !== y) return false;
  }
  return true;
}

/** Reads one vote against the schema, or undefined when it supports nothing. */
function readVote(vote: Vote, params: StructuredParams): ReadVote | undefined {
  const read = readJsonObject(vote.output, params.schema, DEFAULT_JSON_LIMITS, params.keyOrder);
  if (!read) return undefined;
  if (params.extra === "reject" && read.extraKeys > 0) return undefined;
  const values = read.values;
  for (let f = 0; f < params.fields.length; f++) {
    const field = params.fields[f] as StructuredField;
    const member = values[f];
    if (member === undefined) {
      if (!field.optional) return undefined;
      continue;
    }
    switch (field.type) {
      case "label":
        if (typeof member !== "string") return undefined;
        if (field.values && !field.values.has(member)) return undefined;
        break;
      case "string":
        if (typeof member !== "string" || tooLong(member, field.maxLength)) return undefined;
        break;
      case "commentary":
        // Checked for its type, then dropped: commentary is never compared or certified.
        if (typeof member !== "string" || tooLong(member, field.maxLength)) return undefined;
        values[f] = undefined;
        break;
      case "bool":
        if (typeof member !== "boolean") return undefined;
        break;
      case "number":
        if (field.integer) {
          // Read as text (decimals -1): integral, then exact.
          if (typeof member !== "object" || member === null || !("number" in member)) return undefined;
          if (!isIntegralJsonNumber(member.number)) return undefined;
          const scaled = scaleDecimal(member.number, 0);
          if (scaled === undefined) return undefined;
          values[f] = scaled;
          break;
        }
        // Read at the field's decimals by the reader; out of range or another type: unusable.
        if (typeof member !== "number" && typeof member !== "bigint") return undefined;
        break;
    }
  }
  // Every member now has its field's type (or is absent).
  return { vote, values: values as FieldValue[] };
}

/** Whether `text` has more than `max` code points (no limit when `max` is undefined). */
function tooLong(text: string, max: number | undefined): boolean {
  if (max === undefined || text.length <= max) return false;
  let points = 0;
  for (const _ of text) if (++points > max) return true;
  return false;
}

/** Lower median of the number fields over `members`; the shared value for the other fields. */
function medians(members: readonly ReadVote[], fields: readonly StructuredField[]): FieldValue[] {
  const out: FieldValue[] = [];
  const column: Scaled[] = [];
  for (let f = 0; f < fields.length; f++) {
    const first = members[0]?.values[f];
    if ((fields[f] as StructuredField).type !== "number" || first === undefined) {
      out.push(first);
      continue;
    }
    column.length = 0;
    for (let i = 0; i < members.length; i++) {
      // Insertion sort: committees are small.
      const value = (members[i] as ReadVote).values[f] as Scaled;
      let at = column.length;
      while (at > 0 && compareScaled(column[at - 1] as Scaled, value) > 0) {
        column[at] = column[at - 1] as Scaled;
        at--;
      }
      column[at] = value;
    }
    out.push(column[(members.length - 1) >> 1]);
  }
  return out;
}

function withinAll(member: ReadVote, centre: readonly FieldValue[], fields: readonly StructuredField[]): boolean {
  for (let f = 0; f < fields.length; f++) {
    const field = fields[f] as StructuredField;
    if (field.type !== "number") continue;
    const value = member.values[f];
    const c = centre[f];
    // A number field holds a Scaled in every member of a group, or is absent in all of them.
    if (value === undefined || c === undefined) continue;
    if (!withinTolerance(value as Scaled, c as Scaled, field.absTol, field.relTolPpm)) return false;
  }
  return true;
}

interface GroupResult {
  group: ReadVote[];
  supporters: ReadVote[];
  canonical: FieldValue[];
}

/** Step 2: trim a group around its per-field lower medians until nothing more leaves. */
function trimGroup(group: ReadVote[], fields: readonly StructuredField[]): GroupResult {
  let members = group;
  let canonical = medians(members, fields);
  for (;;) {
    const kept = members.filter((member) => withinAll(member, canonical, fields));
    if (kept.length === members.length || kept.length === 0) {
      members = kept;
      break;
    }
    members = kept;
    canonical = medians(members, fields);
  }
  return { group, supporters: members, canonical };
}

/** The canonical JSON text of one group's output (see the module comment). */
export function canonicalJson(values: readonly FieldValue[], params: StructuredParams): string {
  let out = "{";
  for (let f = 0; f < params.fields.length; f++) {
    const field = params.fields[f] as StructuredField;
    const value = values[f];
    if (value === undefined) continue;
    if (out.length > 1) out += ",";
    out += params.keyPrefixes[f] as string;
    if (field.type === "number") out += formatScaled(value as Scaled, field.decimals);
    else if (field.type === "bool") out += value ? "true" : "false";
    else out += JSON.stringify(value);
  }
  return `${out}}`;
}

export const structuredPolicy: AgreementPolicy<StructuredParams> = {
  id: "structured",
  version: 1,
  description: "JSON field by field per a declared schema: labels exact, numbers within tolerance of the supporters' median",
  parseParams: parseStructuredParams,
  decide: (votes, params, { k }) => decideStructured(votes, params, k),
};

/** The decision of structured@1 and structured@2 (see the module comment). */
export function decideStructured(votes: readonly Vote[], params: StructuredParams, k: number): PolicyDecision {
  const unread: Vote[] = [];
  const groups: ReadVote[][] = [];
  // No sort needed: grouping, medians and trimming are order-free, ties between groups are
  // broken by support, size and canonical hash (distinct groups have distinct canonical texts),
  // and every list that leaves this function is sorted.
  for (const vote of votes) {
    const read = readVote(vote, params);
    if (!read) {
      unread.push(vote);
      continue;
    }
    const group = groups.find((g) => sameExactPart(g[0] as ReadVote, read, params.fields));
    if (group) group.push(read);
    else groups.push([read]);
  }

  const results = groups.map((group) => trimGroup(group, params.fields));
  const hashes = new Map<GroupResult, { output: string; outputHash: Bytes }>();
  const named = (result: GroupResult): { output: string; outputHash: Bytes } => {
    let entry = hashes.get(result);
    if (!entry) {
      const output = canonicalJson(result.canonical, params);
      entry = { output, outputHash: outputHash(output) };
      hashes.set(result, entry);
    }
    return entry;
  };

  let winner: GroupResult | undefined;
  for (const result of results) {
    if (!winner) {
      winner = result;
      continue;
    }
    const bySupport = result.supporters.length - winner.supporters.length;
    const bySize = result.group.length - winner.group.length;
    if (
      bySupport > 0 ||
      (bySupport === 0 &&
        (bySize > 0 || (bySize === 0 && compareBytes(named(result).outputHash, named(winner).outputHash) < 0)))
    ) {
      winner = result;
    }
  }

  if (winner && winner.supporters.length >= k && winner.supporters.length > 0) {
    const { output, outputHash: hash } = named(winner);
    return { agreed: true, output, outputHash: hash, supporters: winner.supporters.map((r) => r.vote.node).sort() };
  }

  // No agreement: each group's trimmed support under its canonical output; trimmed-out and
  // unreadable votes grouped by their own output hash.
  const clusters: Cluster[] = [];
  const leftOver: Vote[] = [...unread];
  for (const result of results) {
    if (result.supporters.length > 0) {
      clusters.push({ outputHash: named(result).outputHash, members: result.supporters.map((r) => r.vote.node).sort() });
    }
    const kept = new Set(result.supporters);
    for (const member of result.group) if (!kept.has(member)) leftOver.push(member.vote);
  }
  clusters.push(...clustersByHash(leftOver));
  return { agreed: false, clusters: clusters.sort(compareClusters) };

}
