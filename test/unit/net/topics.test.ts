import { describe, expect, it } from "vitest";
import { TOPIC_KINDS, chainTopics, parseTopic, topicKindOf, topicName } from "../../../src/net/topics.ts";
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
