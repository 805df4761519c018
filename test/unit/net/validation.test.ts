import { describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import { TopicValidatorResult } from "@libp2p/gossipsub";
import type { Message } from "@libp2p/gossipsub";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { ConcordError } from "../../../src/errors.ts";
import { silentLogger } from "../../../src/net/logger.ts";
import type { NetLogger } from "../../../src/net/logger.ts";
import { createNetMetrics } from "../../../src/net/metrics.ts";
import { createMissingValidator, createTopicValidator, toValidationResult } from "../../../src/net/validation.ts";
import type { GossipValidator } from "../../../src/net/validation.ts";

const topic = "/concord/1/c/commitments";
const peer = peerIdFromPrivateKey(await generateKeyPair("Ed25519"));
const message = (data: Uint8Array): Message => ({ type: "unsigned", topic, data });

function setup(validator: GossipValidator, overrides: { timeoutMs?: number; maxPending?: number; maxBytes?: number } = {}) {
  const registry = new Registry();
  const metrics = createNetMetrics(registry);
  const debug: Record<string, unknown>[] = [];
  const logger: NetLogger = { ...silentLogger, debug: (context) => void debug.push(context) };
  const pending = { count: 0 };
  const fn = createTopicValidator(
    validator,
    { topic, timeoutMs: overrides.timeoutMs ?? 1_000, maxBytes: overrides.maxBytes ?? 1024, pending, maxPending: overrides.maxPending ?? 8 },
    { logger, metrics },
  );
  const count = async (result: string, code: string): Promise<number> => {
    const values = (await metrics.validation.get()).values;
    return values.find((v) => v.labels.result === result && v.labels.code === code)?.value ?? 0;
  };
  return { fn, pending, debug, count };
}

describe("toValidationResult", () => {
  it("maps ConcordError reject to Reject and ignore to Ignore, keeping the code", () => {
    expect(toValidationResult(new ConcordError("SIG_INVALID", "bad signature"))).toEqual({ result: TopicValidatorResult.Reject, code: "SIG_INVALID" });
    expect(toValidationResult(new ConcordError("LATE", "too late", { action: "ignore" }))).toEqual({ result: TopicValidatorResult.Ignore, code: "LATE" });
  });

  it("maps anything else to Ignore", () => {
    expect(toValidationResult(new TypeError("x"))).toEqual({ result: TopicValidatorResult.Ignore, code: "UNEXPECTED" });
    expect(toValidationResult("a string")).toEqual({ result: TopicValidatorResult.Ignore, code: "UNEXPECTED" });
    expect(toValidationResult(undefined)).toEqual({ result: TopicValidatorResult.Ignore, code: "UNEXPECTED" });
  });
});

describe("createTopicValidator", () => {
  it("accepts when the validator returns, synchronously", async () => {
    const { fn, count } = setup(() => undefined);
    expect(fn(peer, message(new Uint8Array([1])))).toBe(TopicValidatorResult.Accept);
    expect(await count("accept", "OK")).toBe(1);
  });

  it("rejects and ignores by the error's action, logging the code at debug, never the payload", async () => {
    const { fn, debug, count } = setup((payload) => {
      if (payload[0] === 1) throw new ConcordError("SIG_INVALID", "bad signature");
      if (payload[0] === 2) throw new ConcordError("DUPLICATE", "seen", { action: "ignore" });
      throw new RangeError("bug");
    });
    expect(fn(peer, message(new Uint8Array([1])))).toBe(TopicValidatorResult.Reject);
    expect(fn(peer, message(new Uint8Array([2])))).toBe(TopicValidatorResult.Ignore);
    expect(fn(peer, message(new Uint8Array([3])))).toBe(TopicValidatorResult.Ignore);
    expect(await count("reject", "SIG_INVALID")).toBe(1);
    expect(await count("ignore", "DUPLICATE")).toBe(1);
    expect(await count("ignore", "UNEXPECTED")).toBe(1);
    expect(debug.map((d) => d["code"])).toEqual(["SIG_INVALID", "DUPLICATE", "UNEXPECTED"]);
    expect(debug[0]).toMatchObject({ topic, from: peer.toString(), result: "reject" });
    for (const entry of debug) expect(Object.keys(entry)).not.toContain("payload");
  });

  it("awaits async validators", async () => {
    const { fn, pending } = setup(async (payload) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (payload[0] === 1) throw new ConcordError("NOT_IN_COMMITTEE", "outsider");
    });
    const accepted = fn(peer, message(new Uint8Array([0])));
    expect(pending.count).toBe(1);
    expect(await accepted).toBe(TopicValidatorResult.Accept);
    expect(await fn(peer, message(new Uint8Array([1])))).toBe(TopicValidatorResult.Reject);
    expect(pending.count).toBe(0);
  });

  it("ignores a validator that does not settle in time", async () => {
    const { fn, pending, count } = setup(() => new Promise<void>(() => undefined), { timeoutMs: 20 });
    expect(await fn(peer, message(new Uint8Array([0])))).toBe(TopicValidatorResult.Ignore);
    expect(await count("ignore", "TIMEOUT")).toBe(1);
    expect(pending.count).toBe(0);
  });

  it("ignores new messages while too many validations are in flight", async () => {
    const gate = Promise.withResolvers<void>();
    const { fn, count } = setup(() => gate.promise, { maxPending: 2 });
    const first = fn(peer, message(new Uint8Array([0])));
    const second = fn(peer, message(new Uint8Array([1])));
    expect(fn(peer, message(new Uint8Array([2])))).toBe(TopicValidatorResult.Ignore);
    expect(await count("ignore", "BACKPRESSURE")).toBe(1);
    gate.resolve();
    expect(await first).toBe(TopicValidatorResult.Accept);
    expect(await second).toBe(TopicValidatorResult.Accept);
  });

  it("rejects oversized payloads without running the validator", async () => {
    let calls = 0;
    const { fn, count } = setup(() => void calls++, { maxBytes: 4 });
    expect(fn(peer, message(new Uint8Array(5)))).toBe(TopicValidatorResult.Reject);
    expect(fn(peer, message(new Uint8Array(4)))).toBe(TopicValidatorResult.Accept);
    expect(calls).toBe(1);
    expect(await count("reject", "WIRE_OVERSIZED")).toBe(1);
  });
});

describe("createMissingValidator", () => {
  it("ignores everything (fail closed)", () => {
    const fn = createMissingValidator(topic, { logger: silentLogger });
    expect(fn(peer, message(new Uint8Array([1])))).toBe(TopicValidatorResult.Ignore);
  });
});

describe("createNetMetrics", () => {
  it("reuses metrics already in a registry (several nodes, one registry)", () => {
    const registry = new Registry();
    expect(createNetMetrics(registry).validation).toBe(createNetMetrics(registry).validation);
  });
});
