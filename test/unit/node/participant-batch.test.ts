/**
 * A participant with a signing window (spec/06, "Batching"): what slashing protection allows
 * within the window goes out under one batch signature; a leaf it refuses is signed by nothing.
 * Real slashing-protection file, the fixed backend, messages fed straight to `receive`.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { verifyMessage } from "../../../src/crypto/sign.ts";
import { Participant } from "../../../src/node/participant.ts";
import { SlashingProtection } from "../../../src/node/slashing.ts";
import { createFixedBackend } from "../../../src/runner/fixed.ts";
import { taggedHash, toHex } from "../../../src/wire/hash.ts";
import { requestId } from "../../../src/wire/ids.ts";
import { parseSignature } from "../../../src/wire/signature.ts";
import type { Message, OutputCommitment } from "../../../src/wire/types.ts";
import { testNetwork, testRequest } from "../../helpers/fixtures.ts";
import { until } from "../../helpers/wait.ts";

const silent = { debug() {}, info() {}, warn() {}, error() {} };
let stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops) stop();
  stops = [];
});

function member(options: { windowMs: number; max?: number }) {
  const net = testNetwork(5);
  const nodeId = "node-00";
  const slashing = new SlashingProtection({ path: join(mkdtempSync(join(tmpdir(), "concord-batch-")), "slashing.sqlite") });
  slashing.open();
  const published: Message[] = [];
  const participant = new Participant({
    nodeId,
    key: net.keys.get(nodeId) as NonNullable<ReturnType<typeof net.keys.get>>,
    registry: net.registry,
    policies: net.policies,
    backend: createFixedBackend({ seed: "batch", delayMs: 0 }),
    slashing,
    clock: Date.now,
    publish: async (message) => {
      published.push(message);
    },
    logger: silent,
    signBatchWindowMs: options.windowMs,
    ...(options.max ? { signBatchMax: options.max } : {}),
  });
  stops.push(() => {
    participant.stop();
    slashing.close();
  });
  const requests = [0, 1, 2].map((i) => testRequest(net, { n: 5, k: 4, input: `batch ${i}`, deadline: Date.now() + 60_000 }));
  return { net, nodeId, slashing, published, participant, requests };
}

const commitments = (published: Message[]) => published.filter((m): m is OutputCommitment => m.t === "commitment");

describe("Participant with a signing window", () => {
  it("signs the commitments allowed within the window under one batch signature", async () => {
    const { net, nodeId, published, participant, requests } = member({ windowMs: 300 });
    for (const request of requests) participant.receive(request);
    await until(() => commitments(published).length === 3, 5_000, "three commitments");
    const sigs = commitments(published).map((c) => parseSignature(c.sig));
    expect(sigs.every((s) => s?.form === "batch" && s.count === 3)).toBe(true);
    expect(new Set(sigs.map((s) => toHex(s?.sig ?? new Uint8Array()))).size).toBe(1);
    const key = net.registry.byId.get(nodeId)?.key;
    for (const c of commitments(published)) expect(verifyMessage(key as NonNullable<typeof key>, c)).toBe(true);
  });

  it("signs as soon as the batch is full, without waiting for the window", async () => {
    const { published, participant, requests } = member({ windowMs: 60_000, max: 2 });
    for (const request of requests.slice(0, 2)) participant.receive(request);
    await until(() => commitments(published).length === 2, 5_000, "a full batch goes out at once");
    expect(commitments(published).every((c) => parseSignature(c.sig)?.form === "batch")).toBe(true);
  });

  it("a leaf slashing protection refuses is left out: nothing signs it, the others go out in one batch", async () => {
    const { nodeId, slashing, published, participant, requests } = member({ windowMs: 300 });
    const conflicting = requests[1] as (typeof requests)[number];
    // A different commitment signed for that request before (a restart with another output).
    slashing.checkAndInsert({ chain: conflicting.chain, request: requestId(conflicting), node: nodeId, kind: "commitment", signingRoot: taggedHash("earlier"), deadline: conflicting.deadline });
    for (const request of requests) participant.receive(request);
    await until(() => commitments(published).length === 2, 5_000, "two commitments");
    await new Promise((resolve) => setTimeout(resolve, 150));
    const signed = commitments(published);
    expect(signed.map((c) => toHex(c.request)).sort()).toEqual([requests[0], requests[2]].map((r) => toHex(requestId(r as (typeof requests)[number]))).sort());
    expect(signed.every((c) => parseSignature(c.sig)?.form === "batch" && (parseSignature(c.sig) as { count: number }).count === 2)).toBe(true);
  });

  it("a window of 0 (the default) signs each at once, plainly, as before", async () => {
    const { published, participant, requests } = member({ windowMs: 0 });
    for (const request of requests) participant.receive(request);
    await until(() => commitments(published).length === 3, 5_000, "three commitments");
    expect(commitments(published).every((c) => parseSignature(c.sig)?.form === "plain")).toBe(true);
  });
});
