/**
 * Properties of the core, checked with fast-check (fixed seeds):
 *   1. encode/decode round-trips arbitrary valid messages of every kind;
 *   2. the collector's decision does not depend on the order commitments, the close and reveals
 *      (or direct outputs) arrive in;
 *   3. safety: with k > n/2, no two observers ever agree on different outputs for one request.
 *      - commit-reveal, honest sequencer (one close): for ANY number of byzantine nodes, since the
 *        close fixes one commitment, hence one output, per node;
 *      - direct mode: for b <= 2k - n - 1 equivocating nodes (b <= n - k whenever 3k >= 2n + 1,
 *        e.g. n = 7, k = 5), each showing different observers different signed outputs. The
 *        bound is tight: with b = 2k - n a split exists, and the test builds one;
 *   4. adding an honest reveal never turns Agreed into NoAgreement, nor changes the output.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { exactPolicy } from "../../src/agreement/exact.ts";
import type { Vote } from "../../src/agreement/policy.ts";
import type { KeyPair } from "../../src/crypto/schemes.ts";
import { isConcordError } from "../../src/errors.ts";
import { commitOutput, signClose, signOutput } from "../../src/quorum/attest.ts";
import { Collector, type CollectorEvent } from "../../src/quorum/collector.ts";
import { openRequest, type RequestContext } from "../../src/quorum/rules.ts";
import { verifyBundle } from "../../src/quorum/verify.ts";
import { outputHash, taggedHash, toHex } from "../../src/wire/hash.ts";
import { MAX_COMMITTEE, MAX_OUTPUT_BYTES, PROTOCOL_VERSION } from "../../src/wire/limits.ts";
import { encodeCanonical } from "../../src/wire/cbor.ts";
import { bodyBytes, commitmentOfReveal, requestId } from "../../src/wire/ids.ts";
import { decodedBody, decodeMessage, encodeMessage, toWire } from "../../src/wire/messages.ts";
import type {
  AgreedBundle,
  BundledRequest,
  CommitClose,
  Evidence,
  InferenceRequest,
  Message,
  OutputCommitment,
  OutputReveal,
  PolicyParamValue,
  SignedOutput,
} from "../../src/wire/types.ts";
import { salt, testNetwork, testRequest, type TestNetwork } from "../helpers/fixtures.ts";
import { mulberry32 } from "../../src/sim/prng.ts";

const SEED = 0x0c0c0ad;
/** Generous: these run hundreds of signed scenarios, and CI machines are shared. */
const TIMEOUT = 60_000;

// ---------------------------------------------------------------------------------------------
// 1. Round trip.

const identifier = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/);
const hash = fc.uint8Array({ minLength: 32, maxLength: 32 });
const sig = fc.oneof(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.uint8Array({ minLength: 65, maxLength: 65 }));
const text = (maxLength: number) => fc.string({ unit: "binary", maxLength });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const evidence: fc.Arbitrary<Evidence> = fc
  .array(fc.tuple(u32, u32), { maxLength: 40 })
  .map((steps) => ({ tokens: steps.map(([t]) => t), margins: steps.map(([, m]) => m) }));
const sortedUnique = (items: string[]) => [...new Set(items)].sort();
const nodes = fc.array(identifier, { maxLength: 12 }).map(sortedUnique);
const paramValue: fc.Arbitrary<PolicyParamValue> = fc.letrec<{ value: PolicyParamValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
    text(20),
    fc.boolean(),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== "__proto__"), tie("value"), { maxKeys: 3 }),
  ),
})).value;
const params = fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== "__proto__"), paramValue, { maxKeys: 4 });

/** Parameter trees deeper than the wire allows are not valid messages: prune them. */
function depthOf(value: PolicyParamValue): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf));
  if (typeof value === "object" && value !== null) return 1 + Math.max(0, ...Object.values(value).map(depthOf));
  return 0;
}

const header = fc.record({ v: fc.constant(PROTOCOL_VERSION), chain: identifier });
const withOptional = <T extends object, K extends string, V>(base: fc.Arbitrary<T>, key: K, value: fc.Arbitrary<V>) =>
  fc.tuple(base, fc.option(value, { nil: undefined })).map(([b, v]) => (v === undefined ? b : { ...b, [key]: v }) as T & { [P in K]?: V });

const requestArb: fc.Arbitrary<InferenceRequest> = withOptional(
  fc.record({
    t: fc.constant("request" as const),
    v: fc.constant(PROTOCOL_VERSION),
    chain: identifier,
    entropy: hash,
    model: text(40).filter((m) => Buffer.byteLength(m) <= 128),
    input: text(200),
    sampling: fc.record({
      temperatureMilli: fc.integer({ min: 0, max: 100_000 }),
      topK: fc.integer({ min: 0, max: 1 << 24 }),
      topPPpm: fc.integer({ min: 1, max: 1_000_000 }),
      maxTokens: fc.integer({ min: 1, max: 8192 }),
    }),
    policy: fc.record({ id: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,31}$/), version: fc.integer({ min: 0, max: 0xffff }), params }),
    mode: fc.constantFrom("commit-reveal" as const, "direct" as const),
    n: fc.integer({ min: 0, max: MAX_COMMITTEE }),
    k: fc.integer({ min: 0, max: MAX_COMMITTEE }),
    deadline: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    sig,
  }),
  "weights",
  hash,
).filter((r) => Object.values(r.policy.params).every((v) => depthOf(v) <= 3));

const commitmentArb: fc.Arbitrary<OutputCommitment> = fc
  .tuple(header, fc.record({ request: hash, node: identifier, commitment: hash, sig }))
  .map(([h, rest]) => ({ t: "commitment", ...h, ...rest }));
const closeArb: fc.Arbitrary<CommitClose> = fc
  .tuple(header, hash, fc.uniqueArray(fc.record({ node: identifier, commitment: hash }), { selector: (r) => r.node, maxLength: 10 }), sig)
  .map(([h, request, refs, s]) => ({ t: "close", ...h, request, commitments: [...refs].sort((a, b) => (a.node < b.node ? -1 : 1)), sig: s }));
const revealArb: fc.Arbitrary<OutputReveal> = withOptional(
  fc.tuple(header, fc.record({ request: hash, node: identifier, output: text(300), salt: hash, commitmentSig: sig })).map(([h, rest]) => ({ t: "reveal" as const, ...h, ...rest })),
  "evidence",
  evidence,
);
const outputArb: fc.Arbitrary<SignedOutput> = withOptional(
  fc.tuple(header, fc.record({ request: hash, node: identifier, output: text(300), sig })).map(([h, rest]) => ({ t: "output" as const, ...h, ...rest })),
  "evidence",
  evidence,
);
const bundleArb: fc.Arbitrary<AgreedBundle> = withOptional(
  fc.record({
    t: fc.constant("bundle" as const),
    v: fc.constant(PROTOCOL_VERSION),
    chain: identifier,
    request: requestArb,
    reveals: fc.uniqueArray(revealArb, { selector: (r) => r.node, maxLength: 4 }).map((rs) => [...rs].sort((a, b) => (a.node < b.node ? -1 : 1))),
    outputs: fc.uniqueArray(outputArb, { selector: (o) => o.node, maxLength: 4 }).map((os) => [...os].sort((a, b) => (a.node < b.node ? -1 : 1))),
    outcome: fc.record({ output: text(100), outputHash: hash, supporters: nodes }),
  }),
  "close",
  closeArb,
);
const noAgreementArb = fc
  .tuple(header, hash, fc.constantFrom("deadline" as const, "exhausted" as const), fc.array(fc.record({ outputHash: hash, members: nodes }), { maxLength: 5 }), sig)
  .map(([h, request, reason, clusters, s]) => ({ t: "no-agreement" as const, ...h, request, reason, clusters, sig: s }));
const equivocationArb = fc
  .tuple(header, fc.oneof(commitmentArb, outputArb), fc.oneof(commitmentArb, outputArb))
  .map(([h, first, second]) => ({ t: "equivocation" as const, ...h, first, second }));

const messageArb: fc.Arbitrary<Message> = fc.oneof(requestArb, commitmentArb, closeArb, revealArb, outputArb, bundleArb, noAgreementArb, equivocationArb);

describe("property: canonical encoding", () => {
  it("decode(encode(m)) = m and encode(decode(b)) = b for arbitrary valid messages of every kind", () => {
    const kinds = new Set<string>();
    fc.assert(
      fc.property(messageArb, (message) => {
        kinds.add(message.t);
        const bytes = encodeMessage(message);
        const decoded = decodeMessage(bytes, message.t);
        expect(decoded).toEqual(message);
        expect(toHex(encodeMessage(decoded))).toBe(toHex(bytes));
        expect(decodeMessage(bytes)).toEqual(message);
      }),
      { seed: SEED, numRuns: 400 },
    );
    expect(kinds.size).toBe(8);
  }, TIMEOUT);

  it("a decoded message's body bytes, request id and opened commitment, cut from its bytes, are those of encoding it again", () => {
    // The encoded form of the same values, from fresh objects (nothing decoded in them).
    const encodedBody = (message: Message | BundledRequest) => {
      const { sig: _sig, ...body } = toWire(message as Message) as { sig?: unknown };
      return toHex(encodeCanonical(body));
    };
    fc.assert(
      fc.property(messageArb, (message) => {
        const decoded = decodeMessage(encodeMessage(message), message.t);
        expect(toHex(bodyBytes(decoded))).toBe(encodedBody(message));
        if (decoded.t === "request") expect(toHex(requestId(decoded))).toBe(toHex(requestId(structuredClone(message) as InferenceRequest)));
        const opened = (reveal: OutputReveal) => toHex(commitmentOfReveal(reveal).commitment);
        if (decoded.t === "reveal") expect(opened(decoded)).toBe(opened(structuredClone(message) as OutputReveal));
        if (decoded.t === "bundle" && message.t === "bundle") {
          expect(decodedBody(decoded.request)).toBeDefined();
          expect(toHex(bodyBytes(decoded.request as InferenceRequest))).toBe(encodedBody(message.request));
          expect(toHex(requestId(decoded.request))).toBe(toHex(requestId(structuredClone(message.request))));
          if (decoded.close && message.close) expect(toHex(bodyBytes(decoded.close))).toBe(encodedBody(message.close));
          decoded.outputs.forEach((output, i) => expect(toHex(bodyBytes(output))).toBe(encodedBody(message.outputs[i] as SignedOutput)));
          decoded.reveals.forEach((reveal, i) => expect(opened(reveal)).toBe(opened(structuredClone(message.reveals[i] as OutputReveal))));
        }
      }),
      { seed: SEED, numRuns: 400 },
    );
  }, TIMEOUT);

  it("texts up to the output limit, with any Unicode scalar values, round-trip", () => {
    fc.assert(
      fc.property(revealArb, fc.string({ unit: "binary", minLength: 1000, maxLength: 4000 }), (reveal, output) => {
        const message = { ...reveal, output: output.slice(0, MAX_OUTPUT_BYTES / 4) };
        expect(decodeMessage(encodeMessage(message), "reveal")).toEqual(message);
      }),
      { seed: SEED, numRuns: 30 },
    );
  }, TIMEOUT);
});

// ---------------------------------------------------------------------------------------------
// Pre-signed messages: every committee member's commitment, reveal and signed output for each
// output of a small alphabet, so that properties only reorder and select, never sign.

const OUTPUTS = ["Paris", "Lyon", "Rome"] as const;
type Answer = (typeof OUTPUTS)[number];

interface Signed {
  net: TestNetwork;
  request: InferenceRequest;
  context: RequestContext;
  commit: Map<string, Map<Answer, { commitment: OutputCommitment; reveal: OutputReveal }>>;
  direct: Map<string, Map<Answer, SignedOutput>>;
  directContext: RequestContext;
}

const net9 = testNetwork(9);
const cache = new Map<string, Signed>();

function signedFor(n: number, k: number): Signed {
  const key = `${n}/${k}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const request = testRequest(net9, { n, k, input: `property ${key}` });
  const directRequest = testRequest(net9, { n, k, input: `property ${key}`, mode: "direct" });
  const context = openRequest(request, net9.registry, net9.policies);
  const directContext = openRequest(directRequest, net9.registry, net9.policies);
  const keyOf = (node: string) => net9.keys.get(node) as KeyPair;
  const commit = new Map<string, Map<Answer, { commitment: OutputCommitment; reveal: OutputReveal }>>();
  for (const node of context.committee) {
    commit.set(node, new Map(OUTPUTS.map((output) => [output, commitOutput(keyOf(node), { chain: request.chain, request: context.id, node, output }, salt(`${node}/${output}`))])));
  }
  const direct = new Map<string, Map<Answer, SignedOutput>>();
  for (const node of directContext.committee) {
    direct.set(node, new Map(OUTPUTS.map((output) => [output, signOutput(keyOf(node), { chain: request.chain, request: directContext.id, node, output })])));
  }
  const signed = { net: net9, request, context, commit, direct, directContext };
  cache.set(key, signed);
  return signed;
}

const THRESHOLDS: [number, number][] = [];
for (let n = 1; n <= 9; n++) for (let k = Math.floor(n / 2) + 1; k <= n; k++) THRESHOLDS.push([n, k]);

/** Runs `add`, keeping events; rule violations an observer would ignore are swallowed, others returned. */
function deliver(add: () => CollectorEvent[], events: CollectorEvent[], rejects: string[]): void {
  try {
    events.push(...add());
  } catch (error) {
    if (!isConcordError(error)) throw error;
    if (error.action === "reject") rejects.push(error.code);
  }
}

interface Decision {
  status: string;
  output?: string;
  supporters?: string[];
  clusters?: string;
}

function decisionOf(collector: Collector): Decision {
  if (collector.bundle) return { status: collector.status, output: collector.bundle.outcome.output, supporters: collector.bundle.outcome.supporters };
  if (collector.noAgreement) return { status: collector.status, clusters: JSON.stringify(collector.noAgreement.clusters.map((c) => [toHex(c.outputHash), c.members])) };
  return { status: collector.status };
}

// ---------------------------------------------------------------------------------------------
// 2. Arrival order.

/** A committee's answers: each member answers one of the alphabet, or stays silent (null). */
const scenario = fc.constantFrom(...THRESHOLDS).chain(([n, k]) =>
  fc.record({
    n: fc.constant(n),
    k: fc.constant(k),
    answers: fc.array(fc.option(fc.constantFrom(...OUTPUTS), { nil: null, freq: 6 }), { minLength: n, maxLength: n }),
    seed: fc.integer(),
  }),
);

describe("property: the collector's decision does not depend on arrival order", () => {
  it("commit-reveal: any interleaving of commitments, the close and reveals gives the same decision", () => {
    fc.assert(
      fc.property(scenario, fc.array(fc.nat(), { minLength: 3, maxLength: 3 }), ({ n, k, answers }, orderSeeds) => {
        const signed = signedFor(n, k);
        const committed = signed.context.committee.flatMap((node, i) => {
          const answer = answers[i];
          return answer ? [{ node, ...(signed.commit.get(node)?.get(answer) as { commitment: OutputCommitment; reveal: OutputReveal }) }] : [];
        });
        fc.pre(committed.length >= k);
        const close = signClose(signed.net.sequencer, signed.request.chain, signed.context.id, committed.map((c) => c.commitment));
        type Event = { type: "commitment"; message: OutputCommitment } | { type: "close"; message: CommitClose } | { type: "reveal"; message: OutputReveal };
        const events: Event[] = [
          ...committed.map((c): Event => ({ type: "commitment", message: c.commitment })),
          { type: "close", message: close },
          ...committed.map((c): Event => ({ type: "reveal", message: c.reveal })),
        ];
        const decisions = orderSeeds.map((orderSeed) => {
          const order = shuffle(events, orderSeed);
          const collector = new Collector(signed.context, { keys: signed.net.registry });
          const emitted: CollectorEvent[] = [];
          const rejects: string[] = [];
          for (const event of order) {
            if (event.type === "commitment") deliver(() => collector.addCommitment(event.message, 1), emitted, rejects);
            else if (event.type === "close") deliver(() => collector.addClose(event.message, 2), emitted, rejects);
            else deliver(() => collector.addReveal(event.message, 3), emitted, rejects);
          }
          // Honest traffic is never rejected, only ignored (late, duplicate).
          expect(rejects).toEqual([]);
          return collector;
        });
        const [first, ...rest] = decisions.map(decisionOf);
        for (const other of rest) {
          expect(other.status).toBe(first?.status);
          expect(other.output).toBe(first?.output);
          expect(other.clusters).toBe(first?.clusters);
        }
        // The status is the one the whole vote set calls for.
        const counts = new Map<string, number>();
        for (const c of committed) counts.set(c.reveal.output, (counts.get(c.reveal.output) ?? 0) + 1);
        const winner = [...counts].find(([, count]) => count >= k)?.[0];
        expect(first?.status).toBe(winner ? "agreed" : "no-agreement");
        if (winner) {
          expect(first?.output).toBe(winner);
          for (const collector of decisions) {
            // Early decisions may pick different k supporters, but always k that said the output.
            expect(collector.bundle?.outcome.supporters.length).toBe(k);
            for (const node of collector.bundle?.outcome.supporters ?? []) expect(committed.find((c) => c.node === node)?.reveal.output).toBe(winner);
            expect(() => verifyBundle(collector.bundle as AgreedBundle, signed.net.registry, signed.net.policies)).not.toThrow();
          }
        }
      }),
      { seed: SEED, numRuns: 150 },
    );
  }, TIMEOUT);

  it("direct: any order of signed outputs gives the same decision", () => {
    fc.assert(
      fc.property(scenario, fc.array(fc.nat(), { minLength: 3, maxLength: 3 }), ({ n, k, answers }, orderSeeds) => {
        const signed = signedFor(n, k);
        const outputs = signed.directContext.committee.flatMap((node, i) => {
          const answer = answers[i];
          return answer ? [signed.direct.get(node)?.get(answer) as SignedOutput] : [];
        });
        const decisions = orderSeeds.map((orderSeed) => {
          const collector = new Collector(signed.directContext, { keys: signed.net.registry });
          const emitted: CollectorEvent[] = [];
          const rejects: string[] = [];
          for (const output of shuffle(outputs, orderSeed)) deliver(() => collector.addOutput(output, 1), emitted, rejects);
          collector.tick(signed.request.deadline);
          expect(rejects).toEqual([]);
          return decisionOf(collector);
        });
        const [first, ...rest] = decisions;
        for (const other of rest) expect({ ...other, supporters: undefined }).toEqual({ ...first, supporters: undefined });
      }),
      { seed: SEED + 1, numRuns: 150 },
    );
  }, TIMEOUT);
});

// ---------------------------------------------------------------------------------------------
// 3. Safety.

/** Deterministic Fisher-Yates from a seed. */
function shuffle<T>(items: readonly T[], seed: number): T[] {
  const random = mulberry32(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * What each observer receives: honest members send their one message (or are missed), byzantine
 * members send each observer any set of signed messages (equivocating at will).
 */
const adversary = (n: number, byzantine: number) =>
  fc.record({
    // Honest nodes may differ (nondeterminism), mostly between two outputs an adversary can tip.
    honest: fc.array(fc.option(fc.constantFrom<Answer>("Paris", "Paris", "Lyon", "Lyon", "Rome"), { nil: null, freq: 8 }), { minLength: n, maxLength: n }),
    byzantineSlots: fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: byzantine, maxLength: byzantine }),
    observers: fc.array(
      fc.record({
        // Per byzantine member: the outputs it shows this observer (any subset, any order).
        shown: fc.array(fc.subarray([...OUTPUTS]), { minLength: byzantine, maxLength: byzantine }),
        missed: fc.array(fc.constantFrom(false, false, false, true), { minLength: n, maxLength: n }),
        orderSeed: fc.nat(),
      }),
      { minLength: 2, maxLength: 4 },
    ),
  });

const safetyScenario = (maxByzantine: (n: number, k: number) => number) =>
  fc.constantFrom(...THRESHOLDS).chain(([n, k]) =>
    fc.integer({ min: 0, max: Math.max(0, maxByzantine(n, k)) }).chain((b) => adversary(n, b).map((adv) => ({ n, k, b, ...adv }))),
  );

describe("property: safety with k > n/2 (exact)", () => {
  it("direct mode: with b <= 2k - n - 1 equivocating nodes no two observers agree on different outputs", () => {
    let agreedRuns = 0;
    fc.assert(
      fc.property(safetyScenario((n, k) => 2 * k - n - 1), ({ n, k, honest, byzantineSlots, observers }) => {
        const signed = signedFor(n, k);
        const committee = signed.directContext.committee;
        const agreed = new Set<string>();
        for (const observer of observers) {
          const messages: SignedOutput[] = [];
          committee.forEach((node, i) => {
            const slot = byzantineSlots.indexOf(i);
            const outputs = slot >= 0 ? (observer.shown[slot] ?? []) : honest[i] && !observer.missed[i] ? [honest[i]] : [];
            for (const output of outputs) messages.push(signed.direct.get(node)?.get(output) as SignedOutput);
          });
          const collector = new Collector(signed.directContext, { keys: signed.net.registry });
          for (const message of shuffle(messages, observer.orderSeed)) deliver(() => collector.addOutput(message, 1), [], []);
          if (collector.bundle) {
            verifyBundle(collector.bundle, signed.net.registry, signed.net.policies);
            agreed.add(collector.bundle.outcome.output);
          }
        }
        if (agreed.size > 0) agreedRuns++;
        expect(agreed.size).toBeLessThanOrEqual(1);
      }),
      { seed: SEED + 2, numRuns: 300 },
    );
    expect(agreedRuns).toBeGreaterThan(30);
  }, TIMEOUT);

  it("direct mode: the bound is tight: b = 2k - n equivocators can split two observers (n=7, k=5, b=3)", () => {
    const signed = signedFor(7, 5);
    const committee = signed.directContext.committee;
    const byzantine = committee.slice(0, 3);
    const honestParis = committee.slice(3, 5);
    const honestLyon = committee.slice(5, 7);
    const observe = (nodes: string[], output: Answer) => {
      const collector = new Collector(signed.directContext, { keys: signed.net.registry });
      for (const node of nodes) collector.addOutput(signed.direct.get(node)?.get(output) as SignedOutput, 1);
      return collector.bundle?.outcome.output;
    };
    expect(observe([...byzantine, ...honestParis], "Paris")).toBe("Paris");
    expect(observe([...byzantine, ...honestLyon], "Lyon")).toBe("Lyon");
  }, TIMEOUT);

  it("commit-reveal, one close from an honest sequencer: no two observers agree on different outputs, whatever the number of byzantine nodes", () => {
    let agreedRuns = 0;
    fc.assert(
      fc.property(
        safetyScenario((n) => n),
        fc.array(fc.constantFrom(...OUTPUTS), { minLength: 9, maxLength: 9 }),
        ({ n, k, honest, byzantineSlots, observers }, listedChoice) => {
          const signed = signedFor(n, k);
          const committee = signed.context.committee;
          // Byzantine members signed a commitment for every output; the close lists one of each
          // member's commitments (the first the sequencer saw): that is all a member can open.
          const listed = committee.flatMap((node, i) => {
            const answer = byzantineSlots.includes(i) ? (listedChoice[i] as Answer) : honest[i];
            return answer ? [signed.commit.get(node)?.get(answer) as { commitment: OutputCommitment; reveal: OutputReveal }] : [];
          });
          fc.pre(listed.length >= k);
          const close = signClose(signed.net.sequencer, signed.request.chain, signed.context.id, listed.map((l) => l.commitment));
          const agreed = new Set<string>();
          for (const observer of observers) {
            const collector = new Collector(signed.context, { keys: signed.net.registry });
            deliver(() => collector.addClose(close, 2), [], []);
            const reveals: OutputReveal[] = [];
            committee.forEach((node, i) => {
              const slot = byzantineSlots.indexOf(i);
              const outputs = slot >= 0 ? (observer.shown[slot] ?? []) : honest[i] && !observer.missed[i] ? [honest[i]] : [];
              for (const output of outputs) reveals.push(signed.commit.get(node)?.get(output)?.reveal as OutputReveal);
            });
            for (const reveal of shuffle(reveals, observer.orderSeed)) deliver(() => collector.addReveal(reveal, 3), [], []);
            if (collector.bundle) {
              verifyBundle(collector.bundle, signed.net.registry, signed.net.policies);
              agreed.add(collector.bundle.outcome.output);
            }
          }
          if (agreed.size > 0) agreedRuns++;
          expect(agreed.size).toBeLessThanOrEqual(1);
        },
      ),
      { seed: SEED + 3, numRuns: 300 },
    );
    expect(agreedRuns).toBeGreaterThan(30);
  }, TIMEOUT);

  it("the exact policy alone: two vote sets of one committee with one output per node never agree on two outputs", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...THRESHOLDS),
        fc.array(fc.constantFrom(...OUTPUTS), { minLength: 9, maxLength: 9 }),
        fc.array(fc.boolean(), { minLength: 9, maxLength: 9 }),
        fc.array(fc.boolean(), { minLength: 9, maxLength: 9 }),
        ([n, k], answers, inA, inB) => {
          const vote = (i: number): Vote => ({ node: `node-${i}`, output: answers[i] as string, outputHash: outputHash(answers[i] as string) });
          const context = { n, k, requestId: taggedHash("r") };
          const a = exactPolicy.decide(Array.from({ length: n }, (_, i) => i).filter((i) => inA[i]).map(vote), {}, context);
          const b = exactPolicy.decide(Array.from({ length: n }, (_, i) => i).filter((i) => inB[i]).map(vote), {}, context);
          if (a.agreed && b.agreed) expect(a.output).toBe(b.output);
        },
      ),
      { seed: SEED + 4, numRuns: 500 },
    );
  }, TIMEOUT);
});

// ---------------------------------------------------------------------------------------------
// 4. Monotonicity.

describe("property: an honest reveal never turns Agreed into NoAgreement", () => {
  it("policy: agreed on some votes stays agreed on the same output with one more vote", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...THRESHOLDS).filter(([n]) => n >= 2),
        fc.array(fc.constantFrom(...OUTPUTS), { minLength: 9, maxLength: 9 }),
        fc.nat(),
        ([n, k], answers, cut) => {
          const votes = Array.from({ length: n }, (_, i): Vote => ({ node: `node-${i}`, output: answers[i] as string, outputHash: outputHash(answers[i] as string) }));
          const context = { n, k, requestId: taggedHash("r") };
          const size = k + (cut % (n - k + 1));
          for (let m = size; m < n; m++) {
            const before = exactPolicy.decide(votes.slice(0, m), {}, context);
            const after = exactPolicy.decide(votes.slice(0, m + 1), {}, context);
            if (before.agreed) {
              expect(after.agreed).toBe(true);
              if (after.agreed) expect(after.output).toBe(before.output);
            }
          }
        },
      ),
      { seed: SEED + 5, numRuns: 500 },
    );
  }, TIMEOUT);

  it("collector: once agreed, further honest reveals leave the status and the bundle unchanged", () => {
    fc.assert(
      fc.property(scenario, ({ n, k, answers, seed }) => {
        const signed = signedFor(n, k);
        const committed = signed.context.committee.flatMap((node, i) => {
          const answer = answers[i];
          return answer ? [signed.commit.get(node)?.get(answer) as { commitment: OutputCommitment; reveal: OutputReveal }] : [];
        });
        fc.pre(committed.length >= k);
        const collector = new Collector(signed.context, { keys: signed.net.registry });
        for (const c of committed) collector.addCommitment(c.commitment, 1);
        collector.addClose(signClose(signed.net.sequencer, signed.request.chain, signed.context.id, committed.map((c) => c.commitment)), 2);
        let agreedBundle: AgreedBundle | undefined;
        for (const c of shuffle(committed, seed)) {
          deliver(() => collector.addReveal(c.reveal, 3), [], []);
          if (agreedBundle) {
            expect(collector.status).toBe("agreed");
            expect(collector.bundle).toBe(agreedBundle);
          } else if (collector.status === "agreed") agreedBundle = collector.bundle;
        }
        collector.tick(signed.request.deadline);
        if (agreedBundle) expect(collector.status).toBe("agreed");
      }),
      { seed: SEED + 6, numRuns: 150 },
    );
  }, TIMEOUT);

  it("verifyBundle: a valid bundle plus any other honest listed reveal is still valid, with the same output", () => {
    fc.assert(
      fc.property(scenario, ({ n, k, answers }) => {
        const signed = signedFor(n, k);
        const committed = signed.context.committee.flatMap((node, i) => {
          const answer = answers[i];
          return answer ? [signed.commit.get(node)?.get(answer) as { commitment: OutputCommitment; reveal: OutputReveal }] : [];
        });
        fc.pre(committed.length >= k);
        const close = signClose(signed.net.sequencer, signed.request.chain, signed.context.id, committed.map((c) => c.commitment));
        const collector = new Collector(signed.context, { keys: signed.net.registry });
        collector.addClose(close, 2);
        for (const c of committed) deliver(() => collector.addReveal(c.reveal, 3), [], []);
        const bundle = collector.bundle;
        fc.pre(bundle !== undefined);
        if (!bundle) return;
        const included = new Set(bundle.reveals.map((r) => r.node));
        for (const extra of committed.filter((c) => !included.has(c.reveal.node))) {
          const reveals = [...bundle.reveals, extra.reveal].sort((a, b) => (a.node < b.node ? -1 : 1));
          const agrees = extra.reveal.output === bundle.outcome.output;
          const supporters = agrees ? [...bundle.outcome.supporters, extra.reveal.node].sort() : bundle.outcome.supporters;
          const bigger: AgreedBundle = { ...bundle, reveals, outcome: { ...bundle.outcome, supporters } };
          expect(verifyBundle(bigger, signed.net.registry, signed.net.policies).outcome.output).toBe(bundle.outcome.output);
        }
      }),
      { seed: SEED + 7, numRuns: 100 },
    );
  }, TIMEOUT);
});
