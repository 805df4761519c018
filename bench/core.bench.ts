/**
 * Core hot paths, one core, medians of repeated timed rounds:
 *   - verifyBundle on commit-reveal bundles, n = 7, k = 5, ed25519 (a close and 5 reveals: six
 *     signatures, plus the committee draw and the policy rerun), through node:crypto and through
 *     the pure noble path. Target: >= 1,500 bundles/s on the node:crypto path.
 *   - canonical encode + strict decode of a 4 KiB reveal (English text, and mixed-script text,
 *     whose UTF-16 -> UTF-8 conversion costs ~10x more per character). Target: >= 50,000/s.
 *   - collector throughput: decided requests/s (exact, n = 7, k = 5) with a Collector without
 *     keys (signatures are the caller's), every message signed beforehand. Target: >= 20,000/s.
 *     Reported with the request context opened beforehand, and with openRequest (committee draw)
 *     counted too.
 * Run alone: `npx node bench/core.bench.ts`; with the others: `npm run bench`.
 */
import { messageSigningRoot } from "../src/crypto/sign.ts";
import { commitOutput, signClose } from "../src/quorum/attest.ts";
import { Collector } from "../src/quorum/collector.ts";
import { createRegistry } from "../src/quorum/registry.ts";
import { openRequest, type RequestContext } from "../src/quorum/rules.ts";
import { verifyBundle } from "../src/quorum/verify.ts";
import { decodeMessage, encodeMessage } from "../src/wire/messages.ts";
import type { AgreedBundle, CommitClose, InferenceRequest, OutputCommitment, OutputReveal } from "../src/wire/types.ts";
import { runRequest, salt, testNetwork, testRequest, type TestNetwork } from "../test/helpers/fixtures.ts";

const ROUNDS = 7;
const ROUND_MS = 400;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/**
 * Operations per second of `op` (called with an index): a warm-up, then ROUNDS rounds of about
 * ROUND_MS each; the median round.
 */
function opsPerSecond(op: (i: number) => void, batch = 16): number {
  const warmUntil = performance.now() + 150;
  let i = 0;
  while (performance.now() < warmUntil) for (let j = 0; j < batch; j++) op(i++);
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let count = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < ROUND_MS) {
      for (let j = 0; j < batch; j++) op(i++);
      count += batch;
      elapsed = performance.now() - start;
    }
    rates.push((count * 1000) / elapsed);
  }
  return Math.round(median(rates));
}

/** Distinct valid bundles (different requests), so no cache or branch predictor sees one input. */
function bundles(net: TestNetwork, count: number): AgreedBundle[] {
  return Array.from({ length: count }, (_, i) => {
    const request = testRequest(net, { input: `bench question ${i}` });
    const bundle = runRequest(net, request, () => ({ output: "Paris" })).collector.bundle;
    if (!bundle) throw new Error("bench: no bundle");
    return bundle;
  });
}

interface PreparedRequest {
  request: InferenceRequest;
  context: RequestContext;
  commitments: OutputCommitment[];
  close: CommitClose;
  reveals: OutputReveal[];
}

function prepareRequests(net: TestNetwork, count: number): PreparedRequest[] {
  return Array.from({ length: count }, (_, i) => {
    const request = testRequest(net, { input: `collector question ${i}` });
    const context = openRequest(request, net.registry, net.policies);
    const pairs = context.committee.map((node) => {
      const key = net.keys.get(node);
      if (!key) throw new Error("bench: no key");
      return commitOutput(key, { chain: request.chain, request: context.id, node, output: "The capital of France is Paris." }, salt(`${node}/${i}`));
    });
    const commitments = pairs.map((p) => p.commitment);
    return { request, context, commitments, close: signClose(net.sequencer, request.chain, context.id, commitments), reveals: pairs.map((p) => p.reveal) };
  });
}

function decide(prepared: PreparedRequest, context: RequestContext): void {
  const collector = new Collector(context);
  for (const commitment of prepared.commitments) collector.addCommitment(commitment, 1);
  collector.addClose(prepared.close, 2);
  for (const reveal of prepared.reveals) {
    collector.addReveal(reveal, 3);
    if (collector.decided) break;
  }
  if (collector.status !== "agreed") throw new Error("bench: the collector did not agree");
}

export async function run(): Promise<Record<string, number>> {
  const net = testNetwork(9);
  const nobleRegistry = createRegistry(net.config, { ed25519Path: "noble" });
  const sample = bundles(net, 32);
  // The floor under verifyBundle: one bare node:crypto ed25519 verify (a bundle needs six).
  const close = sample[0]?.close as CommitClose;
  const closeRoot = messageSigningRoot("ed25519", close);
  const sequencerKey = net.registry.sequencer;
  const rawVerify = opsPerSecond(() => {
    if (!sequencerKey.verify(closeRoot, close.sig)) throw new Error("bench: close signature invalid");
  }, 32);
  const verifyNode = opsPerSecond((i) => {
    verifyBundle(sample[i % sample.length] as AgreedBundle, net.registry, net.policies);
  }, 8);
  const verifyNoble = opsPerSecond((i) => {
    verifyBundle(sample[i % sample.length] as AgreedBundle, nobleRegistry, net.policies);
  }, 2);

  // 4 KiB reveals: as long an output as fits in 4,096 bytes, English (ASCII) and mixed-script
  // text. Read back from their bytes, as a node holds them (flat strings, not slices of a repeat).
  const base = runRequest(net, testRequest(net), () => ({ output: "x" })).reveals[0] as OutputReveal;
  const reveal4k = (phrase: string): OutputReveal => {
    const text = phrase.repeat(200);
    let length = 0;
    while (encodeMessage({ ...base, output: text.slice(0, length + 1) }).length <= 4_096) length++;
    return decodeMessage(encodeMessage({ ...base, output: text.slice(0, length) }), "reveal");
  };
  const codecFigures: Record<string, number> = {};
  for (const [name, phrase] of [
    ["ascii", "The committee agreed: the capital of France is Paris. "],
    ["mixed", "The committee agreed: Concord décide — 共识. "],
  ] as const) {
    const reveal = reveal4k(phrase);
    const encoded = encodeMessage(reveal);
    codecFigures[`core.codec.reveal_4kb_${name}.encode_decode_per_s`] = opsPerSecond(() => {
      decodeMessage(encodeMessage(reveal), "reveal");
    }, 64);
    codecFigures[`core.codec.reveal_4kb_${name}.decode_per_s`] = opsPerSecond(() => {
      decodeMessage(encoded, "reveal");
    }, 64);
    codecFigures[`core.codec.reveal_4kb_${name}.bytes`] = encoded.length;
  }

  const prepared = prepareRequests(net, 64);
  const collector = opsPerSecond((i) => {
    const p = prepared[i % prepared.length] as PreparedRequest;
    decide(p, p.context);
  }, 16);
  const collectorWithOpen = opsPerSecond((i) => {
    const p = prepared[i % prepared.length] as PreparedRequest;
    decide(p, openRequest(p.request, net.registry, net.policies, { checkSignature: false }));
  }, 16);

  return {
    "core.ed25519.node_verify_per_s": rawVerify,
    "core.verify_bundle.n7_k5.ed25519_node.bundles_per_s": verifyNode,
    "core.verify_bundle.n7_k5.ed25519_noble.bundles_per_s": verifyNoble,
    ...codecFigures,
    "core.collector.exact_n7_k5.decided_per_s": collector,
    "core.collector.exact_n7_k5.with_open_request.decided_per_s": collectorWithOpen,
  };
}

if (import.meta.main) console.log(JSON.stringify(await run(), null, 2));
