/**
 * Envelopes with real libp2p nodes in one process (memory transport, noise, yamux, gossipsub;
 * test/helpers/inprocess-cluster.ts): five participants and a pool, all with signing windows,
 * a watcher peer whose gossip metrics count every verdict (it never graylists, so every payload
 * reaches its validator), and peers outside the registry that publish. It shows
 * (spec/06 and spec/10, "Envelopes"):
 *   a. what a peer publishes in one turn on one topic reaches its peers as one gossip message,
 *      and every message in it is delivered; a pool's batch of requests and the nodes' batches
 *      of commitments travel in envelopes too, and agree;
 *   b. an envelope with a forged item is rejected: the items before it were applied, the ones
 *      after it never read, the sender penalized, nothing relayed;
 *   c. an envelope repacking items the receiver has seen (in an envelope or alone) is ignored as
 *      DUPLICATE and delivers nothing twice;
 *   d. hundreds of seeded hostile list payloads get typed verdicts only, and agreement goes on.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import { createDefaultPolicyRegistry } from "../../src/agreement/registry.ts";
import { ConcordError } from "../../src/errors.ts";
import { concordTopic, createConcordNetwork, type ConcordNetwork } from "../../src/net/concord.ts";
import { SCORE_THRESHOLDS } from "../../src/net/constants.ts";
import { silentLogger } from "../../src/net/logger.ts";
import { RequestBook } from "../../src/quorum/book.ts";
import { mulberry32 } from "../../src/sim/prng.ts";
import { encodeEnvelope, envelopeItems, isEnvelope } from "../../src/wire/envelope.ts";
import { taggedHash, toHex } from "../../src/wire/hash.ts";
import { requestId, requestIdOf } from "../../src/wire/ids.ts";
import { decodeMessage, encodeMessage, MESSAGE_KINDS } from "../../src/wire/messages.ts";
import type { InferenceRequest, Message, MessageKind } from "../../src/wire/types.ts";
import { testNetwork, testRequest } from "../helpers/fixtures.ts";
import { startInProcessCluster, waitForCluster, type ClusterNode, type InProcessCluster } from "../helpers/inprocess-cluster.ts";
import { until } from "../helpers/wait.ts";
import { sampleMessages, sampleNetwork } from "../spec/samples.ts";

/** Generous: two shared cores, five nodes, a pool and the publishing peers in one process. */
const TEST_TIMEOUT_MS = 120_000;
const WAIT_MS = 30_000;

let cluster: InProcessCluster;
/** Sees what outside peers send it and counts every verdict; never graylists. */
let watcher: { network: ConcordNetwork; metrics: Registry; book: RequestBook };
const peers: ConcordNetwork[] = [];
const untaps: (() => void)[] = [];
/** The cluster's keys: testNetwork derives them from the same labels. */
const keys = testNetwork(5);
const run = String(process.pid);
const address = (label: string) => `/memory/concord-e2e-envelopes-${run}-${label}`;
const topic = (kind: MessageKind) => concordTopic(cluster.registry.chain, kind);

beforeAll(async () => {
  cluster = await startInProcessCluster({ nodes: 5, seed: "e2e-envelopes", pool: { n: 5, k: 4, signBatchWindowMs: 20 }, signBatch: { windowMs: 20 } });
  const metrics = new Registry();
  const network = await createConcordNetwork(
    {
      chain: cluster.registry.chain,
      listen: [address("watcher")],
      transports: ["memory"],
      privateKey: taggedHash("e2e-envelopes/peer", "watcher"),
      scoreThresholds: { gossipThreshold: -1e9, publishThreshold: -2e9, graylistThreshold: -3e9 },
    },
    { logger: silentLogger, metrics },
  );
  // Judged as a participant judges (its RequestBook), without running anything.
  const book = new RequestBook({ registry: cluster.registry, policies: createDefaultPolicyRegistry() });
  network.attach((message) => void book.handle(message, Date.now()));
  await network.start();
  watcher = { network, metrics, book };
  await waitForCluster(cluster, WAIT_MS);
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  for (const untap of untaps) untap();
  await Promise.all(peers.map((peer) => peer.stop()));
  await watcher?.network.stop();
  await cluster?.stop();
}, TEST_TIMEOUT_MS);

/**
 * A peer outside the registry, dialing `targets`, that publishes only: it ignores whatever it
 * receives, so it relays nothing, and the watcher sees exactly what such peers send it.
 */
async function startPeer(label: string, targets: ConcordNetwork[]): Promise<ConcordNetwork> {
  const network = await createConcordNetwork(
    {
      chain: cluster.registry.chain,
      listen: [address(label)],
      transports: ["memory"],
      bootstrap: targets.flatMap((target) => target.gossip.multiaddrs.slice(0, 1)),
      privateKey: taggedHash("e2e-envelopes/peer", label),
    },
    { logger: silentLogger },
  );
  network.attach(() => {
    throw new ConcordError("LATE", "a test peer that only publishes", { action: "ignore" });
  });
  peers.push(network);
  await network.start();
  await network.waitForPeers(targets.length, WAIT_MS);
  return network;
}

/** A request the sequencer signed, open for 30 s, for the five-node registry. */
function signedRequest(label: string): InferenceRequest {
  return testRequest(keys, { model: "m", input: `envelopes ${label}`, entropy: taggedHash("e2e-envelopes/entropy", label), n: 5, k: 4, deadline: Date.now() + 30_000 });
}

const idOf = (request: InferenceRequest) => toHex(requestId(request));
const itemsOf = (payload: Uint8Array) => (isEnvelope(payload) ? envelopeItems(payload) : [payload]);
/** Requests with this id handed to the node's receiver (accepted or not). */
const requestsAt = (node: ClusterNode, id: string) => (node.received.get(id) ?? []).filter((message) => message.t === "request").length;

/** The payloads gossip delivered to `network`'s handlers on `topicName` (validated ones only), from now on. */
function tap(network: ConcordNetwork, topicName: string): Uint8Array[] {
  const payloads: Uint8Array[] = [];
  untaps.push(network.gossip.subscribe(topicName, (payload) => void payloads.push(Uint8Array.from(payload))));
  return payloads;
}

/** The payloads among `payloads` that carry any of `messages`. */
function carrying(payloads: Uint8Array[], messages: Message[]): Uint8Array[] {
  const wanted = new Set(messages.map((message) => toHex(encodeMessage(message))));
  return payloads.filter((payload) => itemsOf(payload).some((item) => wanted.has(toHex(item))));
}

/** The watcher's verdicts on `topicName` so far, as "result code" → count. */
async function verdicts(topicName: string): Promise<Record<string, number>> {
  const metric = watcher.metrics.getSingleMetric("concord_gossip_validation_total");
  const counts: Record<string, number> = {};
  if (metric === undefined) return counts;
  for (const { labels, value } of (await metric.get()).values) {
    if (labels["topic"] !== topicName) continue;
    const key = `${labels["result"]} ${labels["code"]}`;
    counts[key] = (counts[key] ?? 0) + value;
  }
  return counts;
}

/** What changed between two verdict counts (zero entries left out). */
function since(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) if (value - (before[key] ?? 0) > 0) out[key] = value - (before[key] ?? 0);
  return out;
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0);
/** A raw publish that went out (not a duplicate, someone received it). */
const wentOut = (result: { recipients: number; duplicate: boolean }) => !result.duplicate && result.recipients > 0;

describe("a. publishing in one turn", () => {
  it("messages one peer publishes in one turn reach each peer as ONE gossip message, and every message is delivered", async () => {
    const node = cluster.nodes[0] as ClusterNode;
    const sender = await startPeer("one-turn", [node.network, watcher.network]);
    const requests = Array.from({ length: 8 }, (_, i) => signedRequest(`one turn ${i}`));
    const atNode = tap(node.network, topic("request"));
    const atWatcher = tap(watcher.network, topic("request"));
    const before = await verdicts(topic("request"));

    // No await between them: one turn of the event loop, one gossip message.
    const results = await Promise.all(requests.map((request) => sender.publish(request)));
    expect(new Set(results.map((result) => result.msgId)).size).toBe(1);
    expect(results[0]?.recipients).toBeGreaterThanOrEqual(2);

    const encoded = requests.map((request) => toHex(encodeMessage(request)));
    await until(() => requests.every((request) => requestsAt(node, idOf(request)) === 1 && watcher.book.get(idOf(request)) !== undefined), WAIT_MS, "every request at node-00 and at the watcher");
    await until(() => carrying(atNode, requests).length > 0 && carrying(atWatcher, requests).length > 0, WAIT_MS, "the handlers to see the gossip message");
    for (const payloads of [atNode, atWatcher]) {
      const ours = carrying(payloads, requests);
      expect(ours).toHaveLength(1);
      expect(isEnvelope(ours[0] as Uint8Array)).toBe(true);
      expect(envelopeItems(ours[0] as Uint8Array).map(toHex)).toEqual(encoded);
    }
    // One verdict for the eight messages.
    expect(since(before, await verdicts(topic("request")))).toEqual({ "accept OK": 1 });
    // node-00 relays the envelope as it came: every member gets every request.
    await until(() => cluster.nodes.every((member) => requests.every((request) => requestsAt(member, idOf(request)) >= 1)), WAIT_MS, "every request at every member");
  }, TEST_TIMEOUT_MS);

  it("a pool's batch of requests and the members' batches of commitments travel in envelopes, and agree", async () => {
    const node = cluster.nodes[0] as ClusterNode;
    const requestsAtNode = tap(node.network, topic("request"));
    const commitmentsAtPool = tap(cluster.poolNetwork, topic("commitment"));
    const ids = await Promise.all(
      Array.from({ length: 6 }, (_, i) => cluster.pool.submit({ model: "m", input: `pool batch ${i}`, entropy: taggedHash("e2e-envelopes/pool", String(i)) })),
    );
    await until(() => ids.every((id) => cluster.outcomes.has(id)), 60_000, "every request decided");
    for (const id of ids) expect(cluster.outcomes.get(id)?.kind, id).toBe("agreed");

    const ofOurs = (payloads: Uint8Array[]) => payloads.filter((payload) => itemsOf(payload).some((item) => ids.includes(toHex(requestIdOf(decodeMessage(item))))));
    // Six requests, signed under one signature and published in one turn: fewer gossip messages.
    const requestMessages = ofOurs(requestsAtNode);
    expect(requestMessages.length).toBeLessThan(ids.length);
    expect(requestMessages.some(isEnvelope)).toBe(true);
    expect(new Set(requestMessages.flatMap(itemsOf).map((item) => toHex(requestIdOf(decodeMessage(item)))))).toEqual(new Set(ids));
    // Each member's commitments for them: fewer gossip messages than commitments at the pool.
    const commitmentMessages = ofOurs(commitmentsAtPool);
    const commitments = new Set(commitmentMessages.flatMap(itemsOf).map(toHex));
    expect(commitments.size).toBeGreaterThanOrEqual(4 * ids.length);
    expect(commitmentMessages.length).toBeLessThan(commitments.size);
    expect(commitmentMessages.some(isEnvelope)).toBe(true);
  }, TEST_TIMEOUT_MS);
});

describe("b. an envelope with a forged item", () => {
  it("is rejected at the forged item: the items before it applied, the ones after never read, the sender penalized, nothing relayed", async () => {
    const node = cluster.nodes[0] as ClusterNode;
    const forger = await startPeer("forger", [node.network, watcher.network]);
    const [before, forgedFrom, after] = ["before", "forged", "after"].map((label) => signedRequest(`forged envelope ${label}`)) as [InferenceRequest, InferenceRequest, InferenceRequest];
    // One bit of the signature flipped: still a well-formed request, no longer the sequencer's.
    const sig = Uint8Array.from(forgedFrom.sig);
    sig[9] = (sig[9] as number) ^ 0x01;
    const forged: InferenceRequest = { ...forgedFrom, sig };
    const envelope = encodeEnvelope([before, forged, after].map((request) => encodeMessage(request)));
    const atNode = tap(node.network, topic("request"));
    const verdictsBefore = await verdicts(topic("request"));
    expect(node.network.gossip.getPeerScore(forger.gossip.peerId)).toBeGreaterThanOrEqual(0);

    const sent = await forger.gossip.publish(topic("request"), envelope);
    expect(sent.recipients).toBeGreaterThanOrEqual(2);
    // Gossipsub refreshes scores on its heartbeat (1 s).
    await until(() => node.network.gossip.getPeerScore(forger.gossip.peerId) < 0, WAIT_MS, "node-00 to penalize the forger");
    await until(async () => total(since(verdictsBefore, await verdicts(topic("request")))) >= 1, WAIT_MS, "the watcher's verdict");

    expect(since(verdictsBefore, await verdicts(topic("request")))).toEqual({ "reject SIG_INVALID": 1 });
    // Judged in order, each as if alone: the first applied, the forged one refused, the last never read.
    for (const book of [node.participant.book, watcher.book]) {
      expect(book.get(idOf(before))).toBeDefined();
      expect(book.get(idOf(forged))).toBeUndefined();
      expect(book.get(idOf(after))).toBeUndefined();
    }
    expect(requestsAt(node, idOf(after))).toBe(0);
    // Not delivered to node-00's handlers, hence not relayed: no member ever sees the last item.
    expect(carrying(atNode, [before, forged, after])).toEqual([]);
    for (const member of cluster.nodes) expect(requestsAt(member, idOf(after)), member.id).toBe(0);
    expect(cluster.pool.book.get(idOf(after))).toBeUndefined();
  }, TEST_TIMEOUT_MS);
});

describe("c. repacked items", () => {
  /**
   * Publishes `payloads` raw, one after another, then a fresh lone request as a marker; waits for
   * node-00 to receive the marker (to its receiver and its handlers) and for the watcher's
   * verdicts on all of them. Returns the watcher's verdicts but the marker's accept.
   */
  async function sendThenMark(sender: ConcordNetwork, payloads: Uint8Array[], atNode: Uint8Array[], label: string): Promise<Record<string, number>> {
    const node = cluster.nodes[0] as ClusterNode;
    const before = await verdicts(topic("request"));
    for (const payload of payloads) expect((await sender.gossip.publish(topic("request"), payload)).duplicate).toBe(false);
    const marker = signedRequest(`marker ${label}`);
    await sender.gossip.publish(topic("request"), encodeMessage(marker));
    // Validation is synchronous and in arrival order, and handlers run in queue order: once
    // node-00's handlers have the marker, it has judged, and delivered, what came before.
    await until(() => requestsAt(node, idOf(marker)) === 1 && carrying(atNode, [marker]).length === 1, WAIT_MS, `node-00 to receive the marker (${label})`);
    await until(async () => total(since(before, await verdicts(topic("request")))) >= payloads.length + 1, WAIT_MS, `the watcher's verdicts (${label})`);
    const changed = since(before, await verdicts(topic("request")));
    expect(changed["accept OK"]).toBe(1);
    delete changed["accept OK"];
    return changed;
  }

  it("seen in an envelope: the repacked envelope is ignored as DUPLICATE and delivers nothing twice", async () => {
    const node = cluster.nodes[0] as ClusterNode;
    const repacker = await startPeer("repacker", [node.network, watcher.network]);
    const requests = Array.from({ length: 3 }, (_, i) => signedRequest(`repacked ${i}`));
    const encoded = requests.map((request) => encodeMessage(request));
    const atNode = tap(node.network, topic("request"));
    await Promise.all(requests.map((request) => repacker.publish(request)));
    const first = toHex(encodeEnvelope(encoded));
    await until(() => carrying(atNode, requests).length === 1 && watcher.book.get(idOf(requests[2] as InferenceRequest)) !== undefined, WAIT_MS, "the first envelope");
    expect(carrying(atNode, requests).map(toHex)).toEqual([first]);

    // New gossip ids (another order, a subset), the same items.
    const repacked = [encodeEnvelope([encoded[2], encoded[0], encoded[1]] as Uint8Array[]), encodeEnvelope([encoded[0], encoded[2]] as Uint8Array[])];
    expect(await sendThenMark(repacker, repacked, atNode, "after envelopes")).toEqual({ "ignore DUPLICATE": 2 });
    for (const request of requests) expect(requestsAt(node, idOf(request)), "handed to node-00 once").toBe(1);
    // Ignored: not handed to node-00's handlers, so not relayed.
    expect(carrying(atNode, requests).map(toHex)).toEqual([first]);
    expect(node.network.gossip.getPeerScore(repacker.gossip.peerId)).toBeGreaterThanOrEqual(0);
  }, TEST_TIMEOUT_MS);

  it("seen alone: an envelope of messages that each came alone is ignored as DUPLICATE and delivers nothing twice", async () => {
    const node = cluster.nodes[0] as ClusterNode;
    const repacker = await startPeer("repacker-alone", [node.network, watcher.network]);
    const requests = Array.from({ length: 3 }, (_, i) => signedRequest(`alone then repacked ${i}`));
    const encoded = requests.map((request) => encodeMessage(request));
    const atNode = tap(node.network, topic("request"));
    for (const bytes of encoded) expect(wentOut(await repacker.gossip.publish(topic("request"), bytes))).toBe(true);
    await until(() => carrying(atNode, requests).length === 3 && requests.every((request) => watcher.book.get(idOf(request)) !== undefined), WAIT_MS, "the lone messages");

    expect(await sendThenMark(repacker, [encodeEnvelope(encoded)], atNode, "after lone messages")).toEqual({ "ignore DUPLICATE": 1 });
    for (const request of requests) expect(requestsAt(node, idOf(request)), "handed to node-00 once").toBe(1);
    expect(carrying(atNode, requests).map(toHex)).toEqual(encoded.map(toHex));
    expect(node.network.gossip.getPeerScore(repacker.gossip.peerId)).toBeGreaterThanOrEqual(0);
  }, TEST_TIMEOUT_MS);
});

describe("d. hostile list payloads", () => {
  it("hundreds of seeded payloads starting with a list head get only typed verdicts, and agreement goes on", async () => {
    const node = cluster.nodes[0] as ClusterNode;
    const kinds = [...MESSAGE_KINDS];
    const topics = [...new Set(kinds.map(topic))];
    // Real messages of every kind (deadlines long past, another registry): what the items are made of.
    const seeds = sampleMessages(sampleNetwork()).map(({ message }) => ({ kind: message.t, bytes: encodeMessage(message) }));
    const next = mulberry32(0xe17e10);
    const int = (n: number) => Math.floor(next() * n);
    const randomBytes = (length: number) => Uint8Array.from({ length }, () => int(256));
    /** A real message with one to three bytes changed (never to themselves), sometimes cut short. */
    const mutated = (bytes: Uint8Array) => {
      const out = Uint8Array.from(bytes);
      for (let flips = 1 + int(3); flips > 0; flips--) {
        const at = int(out.length);
        out[at] = (out[at] as number) ^ (1 + int(255));
      }
      return next() < 0.2 ? out.subarray(0, 1 + int(out.length)) : out;
    };
    const anySeed = () => (seeds[int(seeds.length)] as (typeof seeds)[number]).bytes;
    const list = (count: number, make: () => Uint8Array) => encodeEnvelope(Array.from({ length: count }, make));
    const payload = (kind: MessageKind): Uint8Array => {
      // Unchanged real messages only of other kinds (WIRE_KIND here): one of this kind could be valid.
      const otherKinds = seeds.filter((seed) => seed.kind !== kind);
      const otherKind = () => (otherKinds[int(otherKinds.length)] as (typeof seeds)[number]).bytes;
      switch (int(6)) {
        case 0:
          // A list head of any form, then noise.
          return Uint8Array.of(0x80 | int(32), ...randomBytes(8 + int(600)));
        case 1:
          // Well formed, items of noise.
          return list(2 + int(63), () => randomBytes(1 + int(64)));
        case 2:
          // Well formed, items mutated real messages.
          return list(2 + int(7), () => mutated(anySeed()));
        case 3:
          // Well formed, real messages of another kind, and noise.
          return list(2 + int(7), () => (next() < 0.7 ? otherKind() : randomBytes(1 + int(40))));
        case 4: {
          // A well-formed envelope broken once: truncated, a byte appended, its head changed.
          const bytes = Uint8Array.from(list(2 + int(7), () => mutated(anySeed())));
          const edit = int(3);
          if (edit === 0) return bytes.subarray(0, 1 + int(bytes.length - 1));
          if (edit === 1) return Uint8Array.of(...bytes, int(256));
          bytes[0] = 0x80 | int(32);
          return bytes;
        }
        default: {
          // Heads not in shortest form, of 8 bytes, indefinite.
          const heads = [[0x98, int(24)], [0x9b, 0, 0, 0, 0, 0, 0, 0, 2 + int(3)], [0x9f], [0x99, 0, 2 + int(60)]];
          return Uint8Array.of(...(heads[int(heads.length)] as number[]), ...randomBytes(8 + int(200)));
        }
      }
    };

    const before = await Promise.all(topics.map(verdicts));
    // Three identities, a hundred payloads each, to node-00, the pool and the watcher.
    let sent = 0;
    const fuzzers = [];
    for (let f = 0; f < 3; f++) {
      const fuzzer = await startPeer(`fuzzer-${f}`, [node.network, cluster.poolNetwork, watcher.network]);
      fuzzers.push(fuzzer);
      for (let i = 0; i < 100; i++) {
        const kind = kinds[int(kinds.length)] as MessageKind;
        const bytes = payload(kind);
        expect(isEnvelope(bytes)).toBe(true);
        const result = await fuzzer.gossip.publish(topic(kind), bytes);
        if (wentOut(result)) sent++;
      }
    }
    expect(sent).toBeGreaterThanOrEqual(290);
    const changed = async () => {
      const after = await Promise.all(topics.map(verdicts));
      const out: Record<string, number> = {};
      after.forEach((counts, i) => {
        for (const [key, n] of Object.entries(since(before[i] ?? {}, counts))) out[key] = (out[key] ?? 0) + n;
      });
      return out;
    };
    // The watcher judges every one of them: nothing accepted, and every refusal a rule's (no
    // UNEXPECTED: a validator that threw something untyped; no TIMEOUT, BACKPRESSURE).
    await until(async () => total(await changed()) >= sent, WAIT_MS, `the watcher's ${sent} verdicts`);
    const seen = await changed();
    expect(total(seen), JSON.stringify(seen)).toBe(sent);
    const adapterCodes = ["UNEXPECTED", "TIMEOUT", "BACKPRESSURE", "NO_VALIDATOR"];
    expect(Object.keys(seen).filter((key) => key.startsWith("accept ") || adapterCodes.some((code) => key.endsWith(` ${code}`))), JSON.stringify(seen)).toEqual([]);
    expect(seen["reject WIRE_DECODE"] ?? 0, JSON.stringify(seen)).toBeGreaterThan(50);

    // node-00 and the pool are up and have graylisted every fuzzer.
    for (const receiver of [node.network, cluster.poolNetwork]) {
      expect(receiver.gossip.isRunning).toBe(true);
      for (const fuzzer of fuzzers) {
        await until(() => receiver.gossip.getPeerScore(fuzzer.gossip.peerId) < SCORE_THRESHOLDS.graylistThreshold, WAIT_MS, "the fuzzer graylisted");
      }
    }
    const ids = await Promise.all(
      Array.from({ length: 3 }, (_, i) => cluster.pool.submit({ model: "m", input: `after the garbage ${i}`, entropy: taggedHash("e2e-envelopes/after", String(i)) })),
    );
    await until(() => ids.every((id) => cluster.outcomes.has(id)), 60_000, "agreement after the garbage");
    for (const id of ids) expect(cluster.outcomes.get(id)?.kind, id).toBe("agreed");
  }, TEST_TIMEOUT_MS);
});
