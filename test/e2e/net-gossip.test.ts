/**
 * Real gossip nodes in one process: the full libp2p stack (memory transport or TCP loopback,
 * noise, yamux, identify, gossipsub 17). No mocks.
 */

import { afterEach, describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import { createLibp2p } from "libp2p";
import { memory } from "@libp2p/memory";
import { noise } from "@libp2p/noise";
import { yamux } from "@libp2p/yamux";
import { multiaddr } from "@multiformats/multiaddr";
import { ConcordError } from "../../src/errors.ts";
import { MESH_PARAMS, SCORE_THRESHOLDS } from "../../src/net/constants.ts";
import { createGossipNode, peerIdFromSeed } from "../../src/net/gossip.ts";
import type { GossipNode, GossipNodeInit } from "../../src/net/gossip.ts";
import { silentLogger } from "../../src/net/logger.ts";
import { chainTopics, topicName } from "../../src/net/topics.ts";
import type { GossipValidator } from "../../src/net/validation.ts";
import { until } from "../helpers/wait.ts";
import { mulberry32 } from "../../src/sim/prng.ts";

const TOPICS = chainTopics("e2e");
const COMMITMENTS = topicName("e2e", "commitments");


function randomBytes(next: () => number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(next() * 256);
  return bytes;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const accept: GossipValidator = () => undefined;

/** Payloads an honest node accepts: "CNCD" magic. Anything else is a provable protocol violation. */
const MAGIC = [0x43, 0x4e, 0x43, 0x44];
const strict: GossipValidator = (payload) => {
  if (payload.length < 4 || MAGIC.some((byte, i) => payload[i] !== byte)) {
    throw new ConcordError("WIRE_DECODE", "not a Concord message");
  }
  // An honest node's own bug on odd input must not penalize the sender: thrown as a plain Error.
  if (payload[4] === 0xee) throw new TypeError("validator bug");
};
const valid = (text: string) => new Uint8Array([...MAGIC, ...new TextEncoder().encode(text)]);

let nodes: GossipNode[] = [];
let stoppers: (() => Promise<void>)[] = [];
let memoryCounter = 0;

afterEach(async () => {
  await Promise.all(nodes.map((node) => node.stop()));
  await Promise.all(stoppers.map((stop) => stop()));
  nodes = [];
  stoppers = [];
});

interface NodeOptions {
  validator?: GossipValidator;
  transport?: "memory" | "tcp";
  init?: Partial<GossipNodeInit>;
  metrics?: Registry;
}

async function startNode(bootstrap: string[], options: NodeOptions = {}): Promise<GossipNode> {
  const transport = options.transport ?? "memory";
  const listen = transport === "memory" ? [`/memory/concord-e2e-${process.pid}-${memoryCounter++}`] : ["/ip4/127.0.0.1/tcp/0"];
  const components = options.metrics !== undefined ? { logger: silentLogger, metrics: options.metrics } : { logger: silentLogger };
  const node = await createGossipNode({ topics: TOPICS, listen, transports: [transport], bootstrap, ...options.init }, components);
  nodes.push(node);
  for (const topic of TOPICS) node.registerValidator(topic, options.validator ?? strict);
  await node.start();
  return node;
}

/** n nodes, each dialing every earlier one: a complete connection graph. */
async function startNetwork(n: number, options: NodeOptions = {}): Promise<GossipNode[]> {
  const network: GossipNode[] = [];
  for (let i = 0; i < n; i++) {
    network.push(await startNode(network.flatMap((node) => node.multiaddrs), options));
  }
  return network;
}

function collect(node: GossipNode, topic: string): { payload: string; from: string }[] {
  const received: { payload: string; from: string }[] = [];
  node.subscribe(topic, (payload, from) => void received.push({ payload: Buffer.from(payload).toString("hex"), from }));
  return received;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("gossip mesh", () => {
  it("five nodes over the memory transport form a mesh and deliver to all", async () => {
    const network = await startNetwork(5);
    const inboxes = network.map((node) => collect(node, COMMITMENTS));
    // Five nodes, four peers each: every mesh grafts at least Dlo of them.
    await Promise.all(network.map((node) => node.waitForMeshPeers(COMMITMENTS, MESH_PARAMS.Dlo, 10_000)));
    for (const node of network) expect(node.peers()).toHaveLength(4);

    for (const [index, node] of network.entries()) {
      const result = await node.publish(COMMITMENTS, valid(`from ${index}`));
      expect(result.duplicate).toBe(false);
      expect(result.recipients).toBe(4);
    }
    await until(() => inboxes.every((inbox) => inbox.length === 4), 5_000, "every message at every node");
    for (const [index, inbox] of inboxes.entries()) {
      const expected = network.map((_, i) => hex(valid(`from ${i}`))).filter((_, i) => i !== index);
      expect(inbox.map((m) => m.payload).sort()).toEqual(expected.sort());
    }
  }, 20_000);

  it("two nodes over TCP loopback find each other through the bootstrap list", async () => {
    const [first, second] = await startNetwork(2, { transport: "tcp" });
    if (first === undefined || second === undefined) throw new Error("unreachable");
    expect(first.multiaddrs[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//);
    const inbox = collect(second, COMMITMENTS);
    await first.waitForMeshPeers(COMMITMENTS, 1, 10_000);
    await first.publish(COMMITMENTS, valid("over tcp"));
    await until(() => inbox.length === 1, 5_000, "tcp delivery");
    expect(inbox[0]).toEqual({ payload: hex(valid("over tcp")), from: first.peerId });
  }, 20_000);

  // Needs multicast on the host; set CONCORD_NO_MDNS=1 where the network has none.
  it.skipIf(process.env["CONCORD_NO_MDNS"] === "1")("finds and dials peers found by mDNS (TCP loopback)", async () => {
    const tag = `concord-e2e-${process.pid}.local`;
    const init = { mdns: true, mdnsServiceTag: tag, mdnsIntervalMs: 500 };
    const first = await startNode([], { transport: "tcp", init });
    const second = await startNode([], { transport: "tcp", init });
    const inbox = collect(second, COMMITMENTS);
    await first.waitForMeshPeers(COMMITMENTS, 1, 10_000);
    await first.publish(COMMITMENTS, valid("found by mdns"));
    await until(() => inbox.length === 1, 5_000, "delivery to the mdns peer");
  }, 20_000);

  it("drops duplicates: the same payload is delivered once, whoever publishes it", async () => {
    const network = await startNetwork(5);
    const inboxes = network.map((node) => collect(node, COMMITMENTS));
    await Promise.all(network.map((node) => node.waitForMeshPeers(COMMITMENTS, MESH_PARAMS.Dlo, 10_000)));
    const [a, b] = network;
    if (a === undefined || b === undefined) throw new Error("unreachable");

    const payload = valid("the same bytes");
    // Two publishers at once, then the first one again.
    const [fromA, fromB] = await Promise.all([a.publish(COMMITMENTS, payload), b.publish(COMMITMENTS, payload)]);
    expect(fromA.msgId).toBe(fromB.msgId);
    const again = await a.publish(COMMITMENTS, payload);
    expect(again).toEqual({ recipients: 0, duplicate: true, msgId: fromA.msgId });

    await until(() => inboxes.slice(2).every((inbox) => inbox.length === 1), 5_000, "delivery");
    await sleep(300);
    for (const inbox of inboxes.slice(2)) expect(inbox).toHaveLength(1);
    // A publisher gets the other's copy only if it had not seen the bytes yet: at most once.
    for (const inbox of inboxes.slice(0, 2)) expect(inbox.length).toBeLessThanOrEqual(1);
  }, 20_000);

  it("relays only what it validated: a line A-B-C carries valid messages and stops garbage at B", async () => {
    const a = await startNode([], { validator: accept });
    const b = await startNode(a.multiaddrs);
    const c = await startNode(b.multiaddrs);
    const inbox = collect(c, COMMITMENTS);
    await b.waitForMeshPeers(COMMITMENTS, 2, 10_000);
    expect(c.peers()).not.toContain(a.peerId);

    await a.publish(COMMITMENTS, new TextEncoder().encode("garbage"));
    await a.publish(COMMITMENTS, valid("two hops"));
    await until(() => inbox.length === 1, 5_000, "two-hop delivery");
    await sleep(200);
    expect(inbox).toEqual([{ payload: hex(valid("two hops")), from: b.peerId }]);
  }, 20_000);

  it("a sparse topology carries every message to every node through the mesh, before any heartbeat gossip", async () => {
    // 20 nodes, each dialing two earlier ones (seeded): 2 to 7 peers each, most messages need
    // several hops. With the thin mesh (D = 2, Dhi = 3) the mesh must still join them all: a node
    // left outside it would get a message only from IHAVE gossip at a heartbeat (1 s), so a full
    // delivery in under 900 ms shows the eager path reached everyone (measured: tens of ms).
    const next = mulberry32(0x5ba55e);
    const network: GossipNode[] = [];
    for (let i = 0; i < 20; i++) {
      const dial = new Set(i === 0 ? [] : [i - 1]);
      while (i > 1 && dial.size < 2) dial.add(Math.floor(next() * i));
      network.push(await startNode([...dial].flatMap((j) => network[j]?.multiaddrs ?? []), { validator: accept }));
    }
    const inboxes = network.map((node) => collect(node, COMMITMENTS));
    await until(() => network.every((node) => node.meshPeers(COMMITMENTS).length >= 1 && node.subscribers(COMMITMENTS).length === node.peers().length), 10_000, "every node meshed with its subscribed peers");
    // Sparse: no node is connected to more than a third of the others.
    expect(Math.max(...network.map((node) => node.peers().length))).toBeLessThanOrEqual(7);

    for (let k = 0; k < 10; k++) {
      const from = Math.floor(next() * network.length);
      const payload = hex(valid(`sparse ${k}`));
      const publishedAt = performance.now();
      await network[from]?.publish(COMMITMENTS, valid(`sparse ${k}`));
      const delivered = () => inboxes.every((inbox, i) => i === from || inbox.some((m) => m.payload === payload));
      await until(delivered, 5_000, `message ${k} at every node`);
      expect(performance.now() - publishedAt, `message ${k} from node ${from}`).toBeLessThan(900);
    }
  }, 60_000);

  it("keeps its peer id across restarts when created from the same seed", async () => {
    const seed = new Uint8Array(32).fill(7);
    const first = await createGossipNode({ topics: TOPICS, privateKey: seed }, { logger: silentLogger });
    const second = await createGossipNode({ topics: TOPICS, privateKey: seed }, { logger: silentLogger });
    expect(first.peerId).toBe(second.peerId);
    expect(first.peerId).toBe(await peerIdFromSeed(seed));
    await expect(createGossipNode({ topics: TOPICS, privateKey: new Uint8Array(31) }, { logger: silentLogger })).rejects.toThrow(/32 bytes/);
  });

  it("refuses bad settings with CONFIG errors", async () => {
    const create = (init: Partial<GossipNodeInit>) => createGossipNode({ topics: TOPICS, ...init }, { logger: silentLogger });
    await expect(create({ topics: [] })).rejects.toMatchObject({ code: "CONFIG" });
    await expect(create({ bootstrap: ["not a multiaddr"] })).rejects.toMatchObject({ code: "CONFIG" });
    await expect(create({ handlerQueueLength: 0 })).rejects.toMatchObject({ code: "CONFIG" });
    await expect(create({ scoreThresholds: { graylistThreshold: 5 } })).rejects.toMatchObject({ code: "CONFIG" });
    await expect(create({ topicScoreParams: { invalidMessageDeliveriesWeight: 1 } })).rejects.toMatchObject({ code: "CONFIG" });
  });

  it("clamps maxMessageBytes to what a gossipsub frame can carry (4 MiB - 64 KiB), with a warning", async () => {
    const warnings: Record<string, unknown>[] = [];
    const logger = { ...silentLogger, warn: (context: Record<string, unknown>) => void warnings.push(context) };
    const node = await createGossipNode({ topics: TOPICS, transports: ["memory"], listen: [`/memory/concord-e2e-${process.pid}-${memoryCounter++}`], maxMessageBytes: 4 * 1024 * 1024 }, { logger });
    nodes.push(node);
    expect(warnings).toEqual([{ requested: 4 * 1024 * 1024, clampedTo: 4 * 1024 * 1024 - 64 * 1024 }]);
    await node.start();
    await expect(node.publish(COMMITMENTS, new Uint8Array(4 * 1024 * 1024 - 64 * 1024 + 1))).rejects.toMatchObject({ code: "WIRE_OVERSIZED" });
  });

  it("reports a failed start (address in use) and cannot be restarted once stopped", async () => {
    const [node] = await startNetwork(1);
    if (node === undefined) throw new Error("unreachable");
    const address = node.multiaddrs[0]?.replace(/\/p2p\/.*$/, "");
    if (address === undefined) throw new Error("unreachable");
    const clash = await createGossipNode({ topics: TOPICS, listen: [address], transports: ["memory"] }, { logger: silentLogger });
    await expect(clash.start()).rejects.toThrow();
    expect(clash.isRunning).toBe(false);
    await node.stop();
    await expect(node.start()).rejects.toThrow(/cannot be restarted/);
  });

  it("refuses to publish oversized payloads and topics outside its list", async () => {
    const [node] = await startNetwork(1, { init: { maxMessageBytes: 1024 } });
    if (node === undefined) throw new Error("unreachable");
    await expect(node.publish(COMMITMENTS, new Uint8Array(1025))).rejects.toMatchObject({ code: "WIRE_OVERSIZED" });
    await expect(node.publish("/concord/1/other/commitments", new Uint8Array(1))).rejects.toThrow(/not in this node's topic list/);
    // No peers: nothing sent, nothing remembered, so a later retry still goes out.
    expect(await node.publish(COMMITMENTS, valid("alone"))).toMatchObject({ recipients: 0, duplicate: false });
    expect(await node.publish(COMMITMENTS, valid("alone"))).toMatchObject({ recipients: 0, duplicate: false });
  });
});

describe("peer scoring", () => {
  it("graylists a peer whose messages are rejected, then drops everything it sends", async () => {
    const registry = new Registry();
    const honest = await startNode([], { metrics: registry });
    // The attacker runs a permissive validator: it relays whatever it is given.
    const attacker = await startNode(honest.multiaddrs, { validator: accept });
    const inbox = collect(honest, COMMITMENTS);
    await honest.waitForMeshPeers(COMMITMENTS, 1, 10_000);
    await attacker.waitForMeshPeers(COMMITMENTS, 1, 10_000);

    await attacker.publish(COMMITMENTS, valid("before"));
    await until(() => inbox.length === 1, 5_000, "the honest-looking first message");
    expect(honest.getPeerScore(attacker.peerId)).toBeGreaterThanOrEqual(0);

    const validations = async (result: string): Promise<number> => {
      const metric = registry.getSingleMetric("concord_gossip_validation_total");
      if (metric === undefined) return 0;
      const { values } = await metric.get();
      return values.filter((v) => v.labels["result"] === result && v.labels["topic"] === COMMITMENTS).reduce((sum, v) => sum + v.value, 0);
    };

    for (let i = 0; i < 10; i++) {
      const sent = await attacker.publish(COMMITMENTS, new TextEncoder().encode(`garbage ${i}`));
      expect(sent.recipients).toBe(1);
    }
    await until(() => honest.getPeerScore(attacker.peerId) < SCORE_THRESHOLDS.graylistThreshold, 5_000, "graylisting");
    const rejected = await validations("reject");
    expect(rejected).toBeGreaterThanOrEqual(5);

    // Gossipsub keeps accepting from a peer whose score was >= 0 for up to 1 s (its accept
    // whitelist); past that, the graylist holds and RPCs are dropped before validation.
    await sleep(1_100);
    const acceptedBefore = await validations("accept");
    for (let i = 0; i < 3; i++) await attacker.publish(COMMITMENTS, valid(`after ${i}`));
    await sleep(500);
    expect(inbox).toHaveLength(1);
    expect(await validations("accept")).toBe(acceptedBefore);
    expect(honest.getPeerScore(attacker.peerId)).toBeLessThan(SCORE_THRESHOLDS.graylistThreshold);
    // Still connected: graylisting mutes a peer, it does not cut it off.
    expect(honest.peers()).toContain(attacker.peerId);
  }, 20_000);

  it("does not penalize ignored messages", async () => {
    const honest = await startNode([], {
      validator: () => {
        throw new ConcordError("LATE", "too late", { action: "ignore" });
      },
    });
    const peer = await startNode(honest.multiaddrs, { validator: accept });
    await peer.waitForMeshPeers(COMMITMENTS, 1, 10_000);
    for (let i = 0; i < 20; i++) await peer.publish(COMMITMENTS, valid(`late ${i}`));
    await sleep(1_200);
    expect(honest.getPeerScore(peer.peerId)).toBeGreaterThanOrEqual(0);
  }, 20_000);
});

describe("bounded queues", () => {
  it("a flood of valid messages fills a slow topic handler's queue up to its bound, the rest is dropped and counted", async () => {
    const registry = new Registry();
    const slow = await startNode([], { metrics: registry, init: { handlerQueueLength: 8 } });
    const flooder = await startNode(slow.multiaddrs, { validator: accept });
    const gate = Promise.withResolvers<void>();
    let handled = 0;
    slow.subscribe(COMMITMENTS, async () => {
      await gate.promise;
      handled++;
    });
    await flooder.waitForMeshPeers(COMMITMENTS, 1, 10_000);

    const metric = async (name: string): Promise<number> => {
      const found = registry.getSingleMetric(name);
      return found === undefined ? 0 : (await found.get()).values.reduce((sum, v) => sum + v.value, 0);
    };
    for (let i = 0; i < 100; i++) await flooder.publish(COMMITMENTS, valid(`flood ${i}`));
    await until(() => slow.queuedMessages(COMMITMENTS) === 8, 5_000, "queue filled");
    expect(handled).toBe(0);
    // One message is with the handler, eight wait, the rest were dropped.
    let dropped = 0;
    const deadline = Date.now() + 5_000;
    while ((dropped = await metric("concord_gossip_handler_dropped_total")) < 91 && Date.now() < deadline) await sleep(20);
    expect(dropped).toBe(91);
    expect(slow.queuedMessages(COMMITMENTS)).toBe(8);
    gate.resolve();
    await until(() => handled === 9, 5_000, "the queued messages handled");
    expect(await metric("concord_gossip_delivered_total")).toBe(9);
  }, 20_000);
});

describe("outbound buffer bound", () => {
  it("a burst beyond the outbound buffer drops that peer's stream, and the node heals the connection", async () => {
    const init = { maxOutboundBufferBytes: 1024 * 1024, redialIntervalMs: 200 };
    const receiver = await startNode([], { init });
    const sender = await startNode(receiver.multiaddrs, { init, validator: accept });
    const inbox = collect(receiver, COMMITMENTS);
    await sender.waitForMeshPeers(COMMITMENTS, 1, 10_000);

    // 8 x 512 KiB published at once: more than 1 MiB waits in the write buffer, so the stream
    // is aborted instead of buffering without bound.
    for (let i = 0; i < 8; i++) {
      const big = new Uint8Array(512 * 1024).fill(i);
      big.set(MAGIC);
      await sender.publish(COMMITMENTS, big);
    }
    // The receiver saw the stream reset and dropped the gossip session; the sender's side still
    // looks fine to gossipsub. Nothing in gossipsub brings the session back on this connection.
    await until(() => receiver.peers().length === 0, 5_000, "the broken session");
    // Maintenance closes the half-dead connection, the bootstrap redial opens a fresh one.
    const marker = hex(valid("after the burst"));
    let attempt = 0;
    await until(() => {
      void sender.publish(COMMITMENTS, valid(`after the burst ${attempt++}`));
      return inbox.some((m) => m.payload.startsWith(marker));
    }, 10_000, "delivery after healing");
    expect(receiver.peers()).toEqual([sender.peerId]);
  }, 20_000);
});

describe("hostile input", () => {
  it("survives random payloads on every topic and random frames on the gossipsub stream", async () => {
    const next = mulberry32(0xc0c0a);
    const [honestA, honestB] = await startNetwork(2);
    if (honestA === undefined || honestB === undefined) throw new Error("unreachable");
    const inbox = collect(honestB, COMMITMENTS);
    const fuzzer = await startNode([...honestA.multiaddrs, ...honestB.multiaddrs], { validator: accept });
    await fuzzer.waitForMeshPeers(COMMITMENTS, 2, 10_000);

    // Random payloads (sizes 0..4 KiB) on every topic, including ones that trip a validator bug.
    for (let round = 0; round < 20; round++) {
      for (const topic of TOPICS) {
        const payload = randomBytes(next, Math.floor(next() * 4096));
        if (round % 5 === 0 && payload.length > 5) payload.set([...MAGIC, 0xee]);
        await fuzzer.publish(topic, payload);
      }
    }

    // Below gossipsub: a raw libp2p peer writes random bytes on the gossipsub protocol stream,
    // both as length-prefixed frames (random protobuf) and as one huge frame.
    const raw = await createLibp2p({ transports: [memory()], connectionEncrypters: [noise()], streamMuxers: [yamux()] });
    stoppers.push(async () => {
      await raw.stop();
    });
    const target = honestB.multiaddrs[0];
    if (target === undefined) throw new Error("unreachable");
    for (let i = 0; i < 20; i++) {
      const stream = await raw.dialProtocol(multiaddr(target), "/meshsub/1.1.0");
      const body = randomBytes(next, 1 + Math.floor(next() * 512));
      stream.send(new Uint8Array([body.length & 0x7f, ...body]));
      stream.send(randomBytes(next, 64));
      await stream.close().catch(() => undefined);
    }
    const huge = await raw.dialProtocol(multiaddr(target), "/meshsub/1.1.0");
    // varint 4 MiB length prefix, then some of it: over the inbound frame limit.
    huge.send(new Uint8Array([0x80, 0x80, 0x80, 0x02]));
    huge.send(randomBytes(next, 4096));
    await huge.close().catch(() => undefined);

    // Everyone is still up and honest traffic still flows.
    await honestA.waitForMeshPeers(COMMITMENTS, 1, 10_000);
    await honestA.publish(COMMITMENTS, valid("still alive"));
    await until(() => inbox.some((m) => m.payload === hex(valid("still alive"))), 5_000, "honest delivery after fuzzing");
    expect(inbox.filter((m) => m.from === fuzzer.peerId).every((m) => m.payload.startsWith(hex(new Uint8Array(MAGIC))))).toBe(true);
    expect(honestB.isRunning && honestA.isRunning).toBe(true);
    // Gossipsub caches scores for a heartbeat: the penalty shows within a second or so.
    await until(() => honestB.getPeerScore(fuzzer.peerId) < SCORE_THRESHOLDS.graylistThreshold, 5_000, "fuzzer graylisted");
  }, 20_000);
});
