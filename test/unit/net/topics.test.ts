import { describe, expect, it } from "vitest";
import { concordTopicsFor } from "../../../src/net/concord.ts";
import { SUBNET_TOPIC_KINDS, TOPIC_KINDS, chainTopics, parseTopic, subscribedTopics, topicKindOf, topicName } from "../../../src/net/topics.ts";
import type { MessageKind } from "../../../src/wire/types.ts";

describe("topic names", () => {
  it("are /concord/{version}/{chain}/{kind}", () => {
    expect(topicName("rollup-7", "commitments")).toBe("/concord/1/rollup-7/commitments");
    expect(topicName("rollup-7", "no-agreement", { version: 2 })).toBe("/concord/2/rollup-7/no-agreement");
  });

  it("split per model with the model URI-encoded", () => {
    const topic = topicName("c", "reveals", { model: "meta-llama/Llama-3 8B" });
    expect(topic).toBe("/concord/1/c/reveals/meta-llama%2FLlama-3%208B");
    expect(parseTopic(topic)).toEqual({ version: 1, chain: "c", kind: "reveals", model: "meta-llama/Llama-3 8B" });
  });

  it("cover every kind once per chain", () => {
    const topics = chainTopics("c");
    expect(topics).toHaveLength(TOPIC_KINDS.length);
    expect(new Set(topics).size).toBe(TOPIC_KINDS.length);
    for (const topic of topics) expect(parseTopic(topic)?.chain).toBe("c");
  });

  it("per subnet are /concord/{version}/{chain}/s{subnet}/{kind}, for per-request kinds only", () => {
    expect(topicName("rollup-7", "commitments", { subnet: 3 })).toBe("/concord/1/rollup-7/s3/commitments");
    expect(parseTopic("/concord/1/rollup-7/s3/commitments")).toEqual({ version: 1, chain: "rollup-7", subnet: 3, kind: "commitments" });
    const withModel = topicName("c", "reveals", { subnet: 0, model: "m/1" });
    expect(withModel).toBe("/concord/1/c/s0/reveals/m%2F1");
    expect(parseTopic(withModel)).toEqual({ version: 1, chain: "c", subnet: 0, kind: "reveals", model: "m/1" });
    expect(() => topicName("c", "evidence", { subnet: 1 })).toThrow(/chain-wide/);
    expect(() => topicName("c", "requests", { subnet: 64 })).toThrow(/bad subnet/);
    for (const bad of ["/concord/1/c/s1/evidence", "/concord/1/c/s01/requests", "/concord/1/c/s64/requests", "/concord/1/c/s/requests", "/concord/1/c/s1", "/concord/1/c/s1/s2/requests"]) {
      expect(parseTopic(bad), bad).toBeUndefined();
    }
  });

  it("a node joins its subnets' per-request topics and the chain-wide ones; without subnets, the topics of before", () => {
    expect(subscribedTopics("c")).toEqual(chainTopics("c"));
    expect(chainTopics("c")).toEqual(TOPIC_KINDS.map((kind) => `/concord/1/c/${kind}`));
    const home = subscribedTopics("c", [2]);
    expect(home).toEqual([...SUBNET_TOPIC_KINDS.map((kind) => `/concord/1/c/s2/${kind}`), "/concord/1/c/evidence", "/concord/1/c/no-agreement"]);
    expect(subscribedTopics("c", [0, 1])).toHaveLength(2 * SUBNET_TOPIC_KINDS.length + 2);
  });

  it("a member routing votes to the sequencer joins what the sequencer sends and publishes its votes only; a pool joins all", () => {
    expect(concordTopicsFor("c", { votes: "sequencer" })).toEqual({
      joined: ["/concord/1/c/requests", "/concord/1/c/closes", "/concord/1/c/evidence", "/concord/1/c/no-agreement"],
      publishOnly: ["/concord/1/c/commitments", "/concord/1/c/reveals", "/concord/1/c/outputs", "/concord/1/c/bundles"],
    });
    expect(concordTopicsFor("c", { subnets: 4, homeSubnets: [3], votes: "sequencer" })).toEqual({
      joined: ["/concord/1/c/s3/requests", "/concord/1/c/s3/closes", "/concord/1/c/evidence", "/concord/1/c/no-agreement"],
      publishOnly: ["/concord/1/c/s3/commitments", "/concord/1/c/s3/reveals", "/concord/1/c/s3/outputs", "/concord/1/c/s3/bundles"],
    });
    expect(concordTopicsFor("c", { votes: "gossip" })).toEqual({ joined: chainTopics("c"), publishOnly: [] });
    expect(concordTopicsFor("c", { votes: "sequencer", pool: true })).toEqual({ joined: chainTopics("c"), publishOnly: [] });
  });

  it("refuse chain ids that are not one path segment", () => {
    expect(() => topicName("a/b", "requests")).toThrow(/chain id/);
    expect(() => topicName("", "requests")).toThrow(/chain id/);
  });

  it("parse back only what topicName writes", () => {
    for (const bad of [
      "",
      "/concord/1/c",
      "/concord/0/c/requests",
      "/concord/01/c/requests",
      "/other/1/c/requests",
      "/concord/1/c/nonsense",
      "/concord/1/c/requests/",
      "/concord/1/c/requests/%E0%A4%A",
      "/concord/1/c/requests/a%2fb",
      "concord/1/c/requests",
    ]) {
      expect(parseTopic(bad), bad).toBeUndefined();
    }
  });

  it("map every message kind to a topic kind", () => {
    const kinds: MessageKind[] = ["request", "commitment", "close", "reveal", "output", "bundle", "no-agreement", "equivocation"];
    expect(kinds.map(topicKindOf)).toEqual(["requests", "commitments", "closes", "reveals", "outputs", "bundles", "no-agreement", "evidence"]);
  });
});
