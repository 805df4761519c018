/**
 * Gossip latency and throughput: five nodes in one process on TCP loopback (noise, yamux,
 * gossipsub 17, StrictNoSign, the production score parameters), every node dialing every other,
 * 1 KiB payloads, a validator that only checks the length (so this measures the transport, not
 * Concord's signature checks).
 *
 * - one_hop: publish() call to a receiver's handler, every receiver of every message.
 * - full_delivery: publish() call to the last of the four receivers' handlers.
 *   Both with one message in flight at a time.
 * - throughput: one publisher sends back to back; messages delivered to all four receivers per
 *   second. "all_publish" has the five nodes publishing at once.
 * Run alone: `npx node bench/gossip.bench.ts`.
 */
import { MESH_PARAMS } from "../src/net/constants.ts";
import { createGossipNode } from "../src/net/gossip.ts";
import type { GossipNode } from "../src/net/gossip.ts";
import { silentLogger } from "../src/net/logger.ts";
import { topicName } from "../src/net/topics.ts";
import { mulberry32 } from "../src/sim/prng.ts";

const NODES = 5;
const PAYLOAD_BYTES = 1024;
const LATENCY_MESSAGES = 500;
const THROUGHPUT_MESSAGES = 5_000;
const TOPIC = topicName("bench", "commitments");

const filler = (() => {
  const random = mulberry32(0x90551b);
  const bytes = new Uint8Array(PAYLOAD_BYTES);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
})();

/** A 1 KiB payload whose first 8 bytes are a unique sequence number. */
function payload(sequence: number): Uint8Array {
  const bytes = filler.slice();
  new DataView(bytes.buffer).setFloat64(0, sequence);
  return bytes;
}

function sequenceOf(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat64(0);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] as number;
}

const round3 = (value: number) => Math.round(value * 1000) / 1000;

interface Receiver {
  /** sequence -> receive times, one per receiving node */
  arrivals: Map<number, number[]>;
  waiters: Map<number, () => void>;
}

async function startNetwork(receiver: Receiver): Promise<GossipNode[]> {
  const nodes: GossipNode[] = [];
  for (let i = 0; i < NODES; i++) {
    const node = await createGossipNode(
      { topics: [TOPIC], bootstrap: nodes.flatMap((earlier) => earlier.multiaddrs), handlerQueueLength: 100_000 },
      { logger: silentLogger },
    );
    node.registerValidator(TOPIC, (bytes) => {
      if (bytes.length !== PAYLOAD_BYTES) throw new RangeError("bench payload size");
    });
    node.subscribe(TOPIC, (bytes) => {
      const now = performance.now();
      const sequence = sequenceOf(bytes);
      const times = receiver.arrivals.get(sequence) ?? [];
      times.push(now);
      receiver.arrivals.set(sequence, times);
      if (times.length === NODES - 1) receiver.waiters.get(sequence)?.();
    });
    await node.start();
    nodes.push(node);
  }
  // Every node sees the four others subscribed (publishers flood to all of them) and has at
  // least Dlo of them in its mesh.
  const deadline = Date.now() + 15_000;
  while (!nodes.every((node) => node.subscribers(TOPIC).length >= NODES - 1)) {
    if (Date.now() > deadline) throw new Error("peers did not subscribe in 15 s");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await Promise.all(nodes.map((node) => node.waitForMeshPeers(TOPIC, MESH_PARAMS.Dlo, 15_000)));
  return nodes;
}

function delivered(receiver: Receiver, sequence: number): Promise<void> {
  if ((receiver.arrivals.get(sequence)?.length ?? 0) >= NODES - 1) return Promise.resolve();
  const { promise, resolve } = Promise.withResolvers<void>();
  receiver.waiters.set(sequence, resolve);
  return promise;
}

export async function run(): Promise<Record<string, number>> {
  const receiver: Receiver = { arrivals: new Map(), waiters: new Map() };
  const nodes = await startNetwork(receiver);
  const publisher = nodes[0];
  if (publisher === undefined) throw new Error("no nodes");
  let sequence = 0;
  try {
    // Warm-up: JIT, stream buffers.
    for (let i = 0; i < 100; i++) {
      const s = sequence++;
      const done = delivered(receiver, s);
      await publisher.publish(TOPIC, payload(s));
      await done;
    }

    const oneHop: number[] = [];
    const full: number[] = [];
    for (let i = 0; i < LATENCY_MESSAGES; i++) {
      const s = sequence++;
      const done = delivered(receiver, s);
      const sentAt = performance.now();
      await publisher.publish(TOPIC, payload(s));
      await done;
      const times = receiver.arrivals.get(s) ?? [];
      for (const time of times) oneHop.push(time - sentAt);
      full.push(Math.max(...times) - sentAt);
    }

    // One publisher, back to back.
    const first = sequence;
    const last = first + THROUGHPUT_MESSAGES - 1;
    const allDone = delivered(receiver, last);
    const started = performance.now();
    for (let s = first; s <= last; s++) await publisher.publish(TOPIC, payload(s));
    sequence = last + 1;
    await allDone;
    // Messages are delivered in order per sender, but wait for every one to be counted.
    while ([...Array(THROUGHPUT_MESSAGES).keys()].some((k) => (receiver.arrivals.get(first + k)?.length ?? 0) < NODES - 1)) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const oneSenderSeconds = (performance.now() - started) / 1000;

    // Every node publishing at once; each message goes to the other four.
    const perNode = Math.floor(THROUGHPUT_MESSAGES / NODES);
    const base = sequence;
    sequence += perNode * NODES;
    const waits: Promise<void>[] = [];
    for (let s = base; s < sequence; s++) waits.push(delivered(receiver, s));
    const allStarted = performance.now();
    await Promise.all(
      nodes.map(async (node, index) => {
        for (let k = 0; k < perNode; k++) await node.publish(TOPIC, payload(base + index * perNode + k));
      }),
    );
    await Promise.all(waits);
    const allSeconds = (performance.now() - allStarted) / 1000;

    return {
      "gossip.nodes": NODES,
      "gossip.payload_bytes": PAYLOAD_BYTES,
      "gossip.one_hop.p50_ms": round3(percentile(oneHop, 50)),
      "gossip.one_hop.p99_ms": round3(percentile(oneHop, 99)),
      "gossip.full_delivery.p50_ms": round3(percentile(full, 50)),
      "gossip.full_delivery.p99_ms": round3(percentile(full, 99)),
      "gossip.one_publisher.msgs_per_s": Math.round(THROUGHPUT_MESSAGES / oneSenderSeconds),
      "gossip.all_publish.msgs_per_s": Math.round((perNode * NODES) / allSeconds),
    };
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
  }
}

if (import.meta.main) console.log(JSON.stringify(await run(), null, 2));
