/**
 * Gossip topic names. One topic per message kind per chain, versioned by the topic protocol:
 *
 *   /concord/{version}/{chain}/{kind}            e.g. /concord/1/rollup-7/commitments
 *   /concord/{version}/{chain}/s{subnet}/{kind}  with subnets (registry S > 1), per-request kinds
 *   /concord/{version}/{chain}/{kind}/{model}    optional per-model split, model URI-encoded
 *
 * A registry of one subnet (the default) uses the first form only, so its topics are the ones
 * nodes from before subnets mesh on. With S > 1 a request's messages travel on its subnet's
 * topics (spec/06, "Subnets"); evidence and no-agreement stay chain-wide.
 *
 * Splitting by kind lets each topic carry its own validator and its own score parameters, and a
 * node can leave topics it has no use for. The version segment changes only when a topic's
 * payload stops being readable by the previous release, so old and new nodes never share a mesh
 * on incompatible bytes.
 */

import type { MessageKind } from "../wire/types.ts";
import { PROTOCOL_VERSION } from "../wire/limits.ts";
import { assert } from "../errors.ts";
import { MAX_SUBNETS } from "../quorum/registry.ts";

/** Version of the topic layout and payloads carried on it: the wire protocol version. */
export const TOPIC_VERSION = PROTOCOL_VERSION;

export const TOPIC_PREFIX = "concord";

/** Every topic kind, in the order the protocol runs. */
export const TOPIC_KINDS = [
  "requests",
  "commitments",
  "closes",
  "reveals",
  "outputs",
  "bundles",
  "evidence",
  "no-agreement",
] as const;

export type TopicKind = (typeof TOPIC_KINDS)[number];

/**
 * How a member's votes travel (spec/06, "Vote routing"). `gossip`: every peer joins every kind's
 * topic, so each member receives, checks and relays every other member's votes, and members
 * aggregate bundles by rank. `sequencer`: a member joins only the kinds the sequencer sends
 * (requests, closes) and the chain-wide ones, and publishes its votes straight to the peers
 * subscribed to the vote kinds, the sequencer's pool, which alone aggregates. A member's cost
 * per request is then constant instead of growing with the committee.
 */
export const VOTE_ROUTES = ["gossip", "sequencer"] as const;
export type VoteRoute = (typeof VOTE_ROUTES)[number];

/** The kinds a member sends to the sequencer in `sequencer` routing (and does not join). */
export const VOTE_TOPIC_KINDS = ["commitments", "reveals", "outputs", "bundles"] as const satisfies readonly TopicKind[];

/** Kinds that travel within a request's subnet when the registry has subnets; the others are chain-wide. */
export const SUBNET_TOPIC_KINDS = ["requests", "commitments", "closes", "reveals", "outputs", "bundles"] as const satisfies readonly TopicKind[];

export interface TopicOptions {
  /** Topic layout version; defaults to TOPIC_VERSION. */
  version?: number;
  /** The subnet's topic (only for SUBNET_TOPIC_KINDS, and only when the registry has S > 1). */
  subnet?: number;
  /** Split the topic per model (model names may contain `/`: they are URI-encoded). */
  model?: string;
}

export interface ParsedTopic {
  version: number;
  chain: string;
  subnet?: number;
  kind: TopicKind;
  model?: string;
}

/** A subnet segment: `s` and the index without leading zeros (indices below MAX_SUBNETS). */
const SUBNET_SEGMENT = /^s(0|[1-9][0-9]?)$/;

/** Chain ids are a single path segment: letters, digits, `.`, `_`, `-`, `:`. */
const CHAIN_ID = /^[A-Za-z0-9._:-]{1,64}$/;

const KIND_OF_MESSAGE: Record<MessageKind, TopicKind> = {
  request: "requests",
  commitment: "commitments",
  close: "closes",
  reveal: "reveals",
  output: "outputs",
  bundle: "bundles",
  equivocation: "evidence",
  "no-agreement": "no-agreement",
};

/**
 * The topic a message kind travels on.
 * @example topicKindOf("commitment") // "commitments"
 */
export function topicKindOf(kind: MessageKind): TopicKind {
  return KIND_OF_MESSAGE[kind];
}

/**
 * The topic name for one kind on one chain.
 * @example topicName("rollup-7", "commitments") // "/concord/1/rollup-7/commitments"
 */
export function topicName(chain: string, kind: TopicKind, options: TopicOptions = {}): string {
  assert(CHAIN_ID.test(chain), `chain id ${JSON.stringify(chain)} is not a topic segment`);
  assert((TOPIC_KINDS as readonly string[]).includes(kind), `unknown topic kind ${kind}`);
  const version = options.version ?? TOPIC_VERSION;
  assert(Number.isSafeInteger(version) && version > 0, `bad topic version ${version}`);
  let base = `/${TOPIC_PREFIX}/${version}/${chain}/${kind}`;
  if (options.subnet !== undefined) {
    assert(isSubnetKind(kind), `${kind} is chain-wide, not per subnet`);
    assert(Number.isInteger(options.subnet) && options.subnet >= 0 && options.subnet < MAX_SUBNETS, `bad subnet ${options.subnet}`);
    base = `/${TOPIC_PREFIX}/${version}/${chain}/s${options.subnet}/${kind}`;
  }
  if (options.model === undefined) return base;
  assert(options.model.length > 0, "model name is empty");
  return `${base}/${encodeURIComponent(options.model)}`;
}

/**
 * All topics of one chain (and optionally one model), in TOPIC_KINDS order.
 * @example chainTopics("rollup-7").length // 8
 */
export function chainTopics(chain: string, options: TopicOptions = {}): string[] {
  return TOPIC_KINDS.map((kind) => topicName(chain, kind, options));
}

/**
 * The topics of `kinds` a node uses: every kind on the chain-wide form when `subnets` is absent
 * (S = 1), else the per-request kinds on each listed subnet and the chain-wide kinds once.
 * @example subscribedTopics("rollup-7", [2]) // 6 topics of /concord/1/rollup-7/s2/…, then evidence, no-agreement
 */
export function subscribedTopics(chain: string, subnets?: readonly number[], kinds: readonly TopicKind[] = TOPIC_KINDS): string[] {
  if (subnets === undefined) return kinds.map((kind) => topicName(chain, kind));
  const perSubnet = subnets.flatMap((subnet) => SUBNET_TOPIC_KINDS.filter((kind) => kinds.includes(kind)).map((kind) => topicName(chain, kind, { subnet })));
  return [...perSubnet, ...kinds.filter((kind) => !isSubnetKind(kind)).map((kind) => topicName(chain, kind))];
}

/** Reads a topic name back; undefined for anything that is not a Concord topic. */
export function parseTopic(topic: string): ParsedTopic | undefined {
  const parts = topic.split("/");
  // ["", "concord", version, chain, s{subnet}?, kind, model?]
  let subnet: number | undefined;
  const subnetMatch = parts[4] === undefined ? null : SUBNET_SEGMENT.exec(parts[4]);
  if (subnetMatch) {
    subnet = Number(subnetMatch[1]);
    if (subnet >= MAX_SUBNETS) return undefined;
    parts.splice(4, 1);
  }
  if (parts.length !== 5 && parts.length !== 6) return undefined;
  const [empty, prefix, versionText, chain, kind, model] = parts;
  if (empty !== "" || prefix !== TOPIC_PREFIX) return undefined;
  if (versionText === undefined || !/^[1-9][0-9]{0,8}$/.test(versionText)) return undefined;
  if (chain === undefined || !CHAIN_ID.test(chain)) return undefined;
  if (kind === undefined || !isTopicKind(kind)) return undefined;
  if (subnet !== undefined && !isSubnetKind(kind)) return undefined;
  const parsed: ParsedTopic = { version: Number(versionText), chain, ...(subnet !== undefined ? { subnet } : {}), kind };
  if (model !== undefined) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(model);
    } catch {
      return undefined;
    }
    if (decoded.length === 0 || encodeURIComponent(decoded) !== model) return undefined;
    parsed.model = decoded;
  }
  return parsed;
}

export function isTopicKind(value: string): value is TopicKind {
  return (TOPIC_KINDS as readonly string[]).includes(value);
}

/** Whether a kind travels within a request's subnet (when the registry has subnets). */
export function isSubnetKind(kind: TopicKind): boolean {
  return (SUBNET_TOPIC_KINDS as readonly string[]).includes(kind);
}
