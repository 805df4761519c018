/**
 * The network attacks of issue #15 against five `concord node` processes and a pool on
 * loopback, each from peers built only from stock libp2p packages (libp2p, @libp2p/tcp, noise,
 * yamux, identify, gossipsub: the versions the project depends on). Every peer here, honest or
 * not, has the IP 127.0.0.1: exactly the colocation case. Each test shows agreement going on
 * during the attack and right after it, and the defence firing (spec/10, "Network attacks").
 *
 * The cluster runs with no peer whitelist (a devnet whitelists loopback), so the defaults a
 * node ships with are the ones under attack.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLibp2p, type Libp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@libp2p/noise";
import { yamux } from "@libp2p/yamux";
import { identify, type Identify } from "@libp2p/identify";
import { gossipsub, StrictNoSign, type GossipSub } from "@libp2p/gossipsub";
import { RPC } from "@libp2p/gossipsub/message";
import { generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import { lpStream } from "@libp2p/utils";
import { multiaddr } from "@multiformats/multiaddr";
import { SCORE_THRESHOLDS } from "../../src/net/constants.ts";
import { concordTopic } from "../../src/net/concord.ts";
import { askFetch, fetchProtocol, MAX_ASKS_PER_IP_MINUTE, MAX_ASKS_PER_PEER_MINUTE } from "../../src/net/fetch.ts";
import { envelopeItems, isEnvelope } from "../../src/wire/envelope.ts";
import { fromHex, taggedHash } from "../../src/wire/hash.ts";
import { STALE_AFTER_MS } from "../../src/wire/limits.ts";
import { MESSAGE_KINDS } from "../../src/wire/messages.ts";
import { clusterForSuite, type StartedNode } from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

type StockPeer = Libp2p<{ identify: Identify; pubsub: GossipSub }>;

const suite = clusterForSuite(
  {
    nodes: 5,
    seed: "net-attacks",
    backend: () => ({ type: "fixed", modelSeed: "net-attacks", delayMs: 0 }),
    pool: { closeGraceMs: 50, deadlineMs: 20_000 },
    peerWhitelist: [],
  },
  60_000,
);

const peers: StockPeer[] = [];
afterAll(async () => {
  await Promise.all(peers.map((peer) => peer.stop()));
});

/** A libp2p peer made of stock parts only, its identity from `label`; gossipsub as any app would set it up for Concord's payloads. */
async function stockPeer(label: string): Promise<StockPeer> {
  const peer = await createLibp2p({
    privateKey: await generateKeyPairFromSeed("Ed25519", taggedHash("net-attacks/peer", label)),
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      pubsub: gossipsub({
        globalSignaturePolicy: StrictNoSign,
        msgIdFn: (message) => createHash("sha256").update(message.topic).update(message.data).digest(),
        allowPublishToZeroTopicPeers: true,
      }),
    },
  });
  await peer.start();
  peers.push(peer);
  return peer;
}

const chainTopics = () => [...new Set(MESSAGE_KINDS.map((kind) => concordTopic(suite.cluster.devnet.chain, kind)))];
const poolAddress = () => suite.cluster.network.gossip.multiaddrs[0] as string;
const nodeAddress = (node: StartedNode) => node.multiaddrs[0] as string;
const poolScore = (peer: StockPeer) => suite.cluster.network.gossip.getPeerScore(peer.peerId.toString());

/** A node's counter, summed over the series whose labels match, from its /metrics. */
async function nodeCounter(node: StartedNode, name: string, labels: Record<string, string>): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${node.metricsPort}/metrics`).then((response) => response.text());
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

/** Dials until it connects (an over-eager dial is reset by the target's inbound rate limit). */
async function dialPatiently(peer: StockPeer, address: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await peer.dial(multiaddr(address));
      return;
    } catch (error) {
      if (attempt >= 10) throw error;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
}

let submitted = 0;
/** Submits `count` requests and expects every one agreed. */
async function agree(count: number, label: string, options: { deadlineMs?: number } = {}): Promise<string[]> {
  const ids = await Promise.all(
    Array.from({ length: count }, () => {
      const i = submitted++;
      return suite.cluster.pool.submit({ model: "chat", input: `${label} ${i}`, entropy: taggedHash("net-attacks/entropy", String(i)), ...options });
    }),
  );
  for (const id of ids) expect((await suite.cluster.outcome(id, 25_000)).kind, `${label}: ${id}`).toBe("agreed");
  return ids;
}

/** Captured by a peer that subscribed to every Concord topic: real signed messages, for the replay test. */
const captured: { topic: string; data: Uint8Array }[] = [];
let capturedDeadline = 0;
const CAPTURED_DEADLINE_MS = 3_000;

beforeAll(async () => {
  // Early, so the replay test at the end need not wait long for these deadlines to be far past.
  const listener = await stockPeer("listener");
  listener.services.pubsub.addEventListener("gossipsub:message", (event) => {
    const { topic, data } = event.detail.msg;
    // Messages published together travel in one envelope: kept one by one, as an attacker would replay them.
    for (const message of isEnvelope(data) ? envelopeItems(data) : [data]) captured.push({ topic, data: message });
  });
  for (const topic of chainTopics()) listener.services.pubsub.subscribe(topic);
  for (const node of suite.cluster.nodes) await listener.dial(multiaddr(nodeAddress(node)));
  await listener.dial(multiaddr(poolAddress()));
  await until(() => chainTopics().every((topic) => listener.services.pubsub.getSubscribers(topic).length >= 6), 15_000, "the listener to see every subscription");
  const before = Date.now();
  await agree(4, "captured", { deadlineMs: CAPTURED_DEADLINE_MS });
  capturedDeadline = before + CAPTURED_DEADLINE_MS;
  await until(() => captured.filter((message) => message.topic.endsWith("/bundles")).length >= 4, 10_000, "the bundles");
  await listener.stop();
}, 60_000);

describe("a peer publishing on topics Concord does not use", () => {
  it("is penalized as for invalid messages, and agreement goes on", async () => {
    const sender = await stockPeer("foreign-topics");
    const node = suite.cluster.nodes[0] as StartedNode;
    const frames = [];
    for (const address of [poolAddress(), nodeAddress(node)]) {
      // Raw gossipsub RPCs (gossipsub's own codec): a stock router sends only to a topic's subscribers.
      const stream = await sender.dialProtocol(multiaddr(address), "/meshsub/1.1.0");
      frames.push(lpStream(stream));
    }
    const rpc = (i: number) => RPC.encode({ subscriptions: [], messages: [{ topic: i % 2 === 0 ? "/concord/1/another-chain/commitments" : `/spam/${i}`, data: new Uint8Array([i]) }] });
    const during = agree(2, "foreign topics");
    for (let i = 0; i < 8; i++) for (const frame of frames) await frame.write(rpc(i));
    await until(() => poolScore(sender) < SCORE_THRESHOLDS.graylistThreshold, 5_000, "the pool to graylist the sender");
    await during;
    expect(await nodeCounter(node, "concord_net_defences_total", { defence: "unknown-topic" })).toBeGreaterThanOrEqual(5);
    await sender.stop();
    await agree(2, "after foreign topics");
  }, 60_000);
});

describe("identities draining catch-up from one IP", () => {
  it("share one budget of asks a minute, and agreement goes on", async () => {
    const ids = await agree(2, "before draining");
    const node = suite.cluster.nodes[1] as StartedNode;
    const drainers = await Promise.all(Array.from({ length: 6 }, (_, i) => stockPeer(`drainer-${i}`)));
    let answered = 0;
    let bytes = 0;
    const drain = async (peer: StockPeer) => {
      // More than one identity may ask a minute: only the IP's budget stops them.
      for (let ask = 0; ask < MAX_ASKS_PER_PEER_MINUTE; ask++) {
        try {
          const stream = await peer.dialProtocol(multiaddr(nodeAddress(node)), fetchProtocol(suite.cluster.devnet.chain));
          const payloads = await askFetch(stream, ids.map(fromHex));
          answered++;
          bytes += payloads.reduce((sum, payload) => sum + payload.length, 0);
        } catch {
          // Refused (the stream is aborted): ask again, as an attacker would.
        }
      }
    };
    const during = agree(2, "while draining");
    await Promise.all(drainers.map(drain));
    await during;
    expect(bytes).toBeGreaterThan(0);
    expect(answered).toBeLessThanOrEqual(MAX_ASKS_PER_IP_MINUTE);
    expect(await nodeCounter(node, "concord_net_defences_total", { defence: "fetch-ip-budget" })).toBeGreaterThan(0);
    await Promise.all(drainers.map((peer) => peer.stop()));
    await agree(2, "after draining");
  }, 90_000);
});

describe("Sybils: many identities on the honest nodes' IP", () => {
  it("cannot graylist the honest nodes, during or right after the attack", async () => {
    const SYBILS = 14;
    const sybils = await Promise.all(Array.from({ length: SYBILS }, (_, i) => stockPeer(`sybil-${i}`)));
    // One identity after another, a quarter second apart: libp2p accepts only a few inbound
    // connections a second from one host (an attacker paces itself the same way).
    for (const sybil of sybils) {
      for (const topic of chainTopics()) sybil.services.pubsub.subscribe(topic);
      await Promise.all([poolAddress(), ...suite.cluster.nodes.map(nodeAddress)].map((address) => dialPatiently(sybil, address)));
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const pool = suite.cluster.network.gossip;
    // Nineteen identities from 127.0.0.1 at the pool: the newcomers past ten pay, the honest nodes that came first do not.
    await until(() => sybils.filter((sybil) => poolScore(sybil) < SCORE_THRESHOLDS.graylistThreshold).length >= SYBILS - 5, 10_000, "the pool to penalize the Sybils past the threshold");
    for (const node of suite.cluster.nodes) expect(pool.getPeerScore(node.peerId), node.label).toBeGreaterThanOrEqual(0);
    await agree(3, "during the Sybils");
    expect(await nodeCounter(suite.cluster.nodes[4] as StartedNode, "concord_net_defences_total", { defence: "colocation" })).toBeGreaterThan(0);
    await Promise.all(sybils.map((sybil) => sybil.stop()));
    await agree(3, "right after the Sybils");
    for (const node of suite.cluster.nodes) expect(pool.getPeerScore(node.peerId), node.label).toBeGreaterThanOrEqual(0);
  }, 90_000);
});

describe("replays of real signed messages long after their deadline", () => {
  it("are rejected before any signature check and cost the sender its score; agreement goes on", async () => {
    expect(captured.filter((message) => message.topic.endsWith("/requests")).length).toBeGreaterThanOrEqual(4);
    // A node that restarted has forgotten every message id: the replays reach its validators.
    const victim = await suite.cluster.startNode(2);
    await suite.cluster.waitForPeers(5, 20_000);
    const wait = capturedDeadline + STALE_AFTER_MS + 1_000 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const replayer = await stockPeer("replayer");
    await replayer.dial(multiaddr(nodeAddress(victim)));
    await until(() => chainTopics().every((topic) => replayer.services.pubsub.getSubscribers(topic).length >= 1), 10_000, "the victim's subscriptions");
    const during = agree(2, "during replays");
    // Requests and bundles carry their deadline: the ones a node can judge without any state.
    const order = (topic: string) => (topic.endsWith("/requests") || topic.endsWith("/bundles") ? 0 : 1);
    for (const message of [...captured].sort((a, b) => order(a.topic) - order(b.topic))) {
      await replayer.services.pubsub.publish(message.topic, message.data).catch(() => undefined);
    }
    // 30 s: a restarted node on a machine the rest of the suite loads can take long over its first validations.
    await until(async () => (await nodeCounter(victim, "concord_net_defences_total", { defence: "stale" })) >= 5, 30_000, "the victim to reject five replays as STALE");
    expect(await nodeCounter(victim, "concord_gossip_validation_total", { result: "reject", code: "STALE" })).toBeGreaterThanOrEqual(5);
    await during;
    await replayer.stop();
    await agree(2, "after replays");
  }, 90_000);
});
