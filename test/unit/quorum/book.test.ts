/** RequestBook's bundle rules beyond verifyBundle: what a participant that saw more knows. */
import { describe, expect, it } from "vitest";
import { commitOutput, signClose, signOutput } from "../../../src/quorum/attest.ts";
import { RequestBook } from "../../../src/quorum/book.ts";
import { Collector } from "../../../src/quorum/collector.ts";
import { equivocationOf } from "../../../src/quorum/equivocation.ts";
import { taggedHash } from "../../../src/wire/hash.ts";
import { openRequest } from "../../../src/quorum/rules.ts";
import { isConcordError } from "../../../src/errors.ts";
import type { AgreedBundle, InferenceRequest } from "../../../src/wire/types.ts";
import { STALE_AFTER_MS } from "../../../src/wire/limits.ts";
import { codeOf } from "../../helpers/errors.ts";
import { salt, testKey, testNetwork, testRequest } from "../../helpers/fixtures.ts";

const net = testNetwork(5);

/** A book that follows `request` and has received these members' signed outputs; returns its bundle, if it agreed. */
/** The one request a book follows. */
function testRequestId(book: RequestBook): string {
  const [entry] = [...book.entries()];
  return entry?.context.idHex ?? "";
}

function bookWith(request: InferenceRequest, outputs: [node: string, output: string][]): { book: RequestBook; bundle?: AgreedBundle } {
  const book = new RequestBook({ registry: net.registry, policies: net.policies });
  const { context } = book.addRequest(request, 0);
  let bundle: AgreedBundle | undefined;
  for (const [node, output] of outputs) {
    try {
      for (const event of book.handle(signOutput(net.keys.get(node)!, { chain: request.chain, request: context.id, node, output }), 1)) {
        if (event.type === "agreed") bundle = event.bundle;
      }
    } catch (error) {
      if (!isConcordError(error)) throw error;
    }
  }
  return { book, ...(bundle ? { bundle } : {}) };
}

describe("RequestBook bundles", () => {
  it("rejects a bundle far past its request's deadline (STALE) before anything else, and ignores one just past it", () => {
    const request = testRequest(net, { mode: "direct", n: 5, k: 4, deadline: 1_000 });
    const committee = new RequestBook({ registry: net.registry, policies: net.policies }).addRequest(request, 0).context.committee;
    const { bundle } = bookWith(request, committee.map((node): [string, string] => [node, "Paris"]));
    expect(bundle).toBeDefined();
    const fresh = () => new RequestBook({ registry: net.registry, policies: net.policies });
    expect(codeOf(() => fresh().handle(bundle as AgreedBundle, 1_000))).toBe("EXPIRED");
    expect(codeOf(() => fresh().handle(bundle as AgreedBundle, 1_000 + STALE_AFTER_MS - 1))).toBe("EXPIRED");
    expect(codeOf(() => fresh().handle(bundle as AgreedBundle, 1_000 + STALE_AFTER_MS))).toBe("STALE");
    // Even where the request already has its bundle (a replay of it): penalized, not a free DUPLICATE.
    const { book } = bookWith(request, committee.map((node): [string, string] => [node, "Paris"]));
    expect(codeOf(() => book.handle(bundle as AgreedBundle, 1_000 + STALE_AFTER_MS))).toBe("STALE");
    // A forged bundle that old is rejected unverified: the same code, whatever it carries.
    const forged = { ...(bundle as AgreedBundle), outputs: (bundle as AgreedBundle).outputs.map((output) => ({ ...output, sig: new Uint8Array(64) })) };
    expect(codeOf(() => fresh().handle(forged, 1_000 + STALE_AFTER_MS))).toBe("STALE");
  });

  it("ignores a bundle that counts a node it holds equivocation evidence against, and takes one without it", () => {
    const request = testRequest(net, { mode: "direct", n: 5, k: 4 });
    const committee = new RequestBook({ registry: net.registry, policies: net.policies }).addRequest(request, 0).context.committee;
    const [equivocator, ...honest] = committee as [string, ...string[]];
    // An aggregator that saw only the equivocator's first output counts it.
    const { bundle: withEquivocator } = bookWith(request, [[equivocator, "Paris"], ...honest.slice(0, 3).map((node): [string, string] => [node, "Paris"])]);
    expect(withEquivocator?.outcome.supporters).toContain(equivocator);
    // Another aggregator decided on the honest four.
    const { bundle: honestOnly } = bookWith(request, honest.map((node): [string, string] => [node, "Paris"]));
    expect(honestOnly?.outcome.supporters).not.toContain(equivocator);
    // A participant that saw both of the equivocator's outputs (and no decision yet).
    const { book } = bookWith(request, [[equivocator, "Paris"], [equivocator, "Lyon"]]);
    let error: unknown;
    try {
      book.handle(withEquivocator as AgreedBundle, 2);
    } catch (caught) {
      error = caught;
    }
    expect(isConcordError(error, "EQUIVOCATION")).toBe(true);
    expect((error as { action: string }).action).toBe("ignore");
    expect(book.handle(honestOnly as AgreedBundle, 2).map((event) => event.type)).toEqual(["bundle"]);
  });

  it("ignores a bundle that counts an equivocator's vote even outside the supporters", () => {
    const request = testRequest(net, { mode: "direct", n: 5, k: 4 });
    const committee = new RequestBook({ registry: net.registry, policies: net.policies }).addRequest(request, 0).context.committee;
    const [equivocator, ...honest] = committee as [string, ...string[]];
    // The equivocator's first output, a minority one, is counted before the four honest votes decide.
    const { bundle } = bookWith(request, [[equivocator, "Lyon"], ...honest.map((node): [string, string] => [node, "Paris"])]);
    expect(bundle?.outputs.map((output) => output.node)).toContain(equivocator);
    expect(bundle?.outcome.supporters).not.toContain(equivocator);
    const { book } = bookWith(request, [[equivocator, "Lyon"], [equivocator, "Rome"]]);
    expect(codeOf(() => book.handle(bundle as AgreedBundle, 2))).toBe("EQUIVOCATION");
  });

  it("records an equivocation that comes after its decision, publishes it, and still takes a bundle counting that vote", () => {
    const request = testRequest(net, { mode: "direct", n: 5, k: 4 });
    const committee = new RequestBook({ registry: net.registry, policies: net.policies }).addRequest(request, 0).context.committee;
    const [equivocator, ...honest] = committee as [string, ...string[]];
    const decided = [[equivocator, "Paris"], ...honest.slice(0, 3).map((node): [string, string] => [node, "Paris"])] as [string, string][];
    const { book, bundle } = bookWith(request, decided);
    expect(bundle?.outcome.supporters).toContain(equivocator);
    const { context } = book.get(testRequestId(book))!;
    const second = signOutput(net.keys.get(equivocator)!, { chain: request.chain, request: context.id, node: equivocator, output: "Lyon" });
    expect(book.handle(second, 2).map((event) => event.type)).toEqual(["equivocation"]);
    // Another member's bundle, counting the same votes, is not ignored here: the decision stands.
    const { bundle: peers } = bookWith(request, decided);
    expect(book.handle(peers as AgreedBundle, 3).map((event) => event.type)).toEqual(["bundle"]);
  });

  it("rejects a forged bundle that reuses real signatures on other content, even where they are known", () => {
    const request = testRequest(net, { n: 5, k: 3 });
    const book = new RequestBook({ registry: net.registry, policies: net.policies });
    const { context } = book.addRequest(request, 0);
    // The real round: every member committed to "Paris", the sequencer closed.
    const real = context.committee.map((node) => commitOutput(net.keys.get(node)!, { chain: request.chain, request: context.id, node, output: "Paris" }, salt(node)).commitment);
    for (const commitment of real) book.handle(commitment, 1);
    const close = signClose(net.sequencer, request.chain, context.id, real);
    book.handle(close, 2);
    // A forger builds a "Lyon" bundle under its own key, then pastes in the real close's and
    // commitments' signatures: each is a real signature, over other content.
    const fake = new Collector(openRequest(request, net.registry, net.policies));
    const forgedPairs = context.committee.map((node) => commitOutput(testKey("forger"), { chain: request.chain, request: context.id, node, output: "Lyon" }, salt(`forged ${node}`)));
    for (const { commitment } of forgedPairs) fake.addCommitment(commitment, 1);
    fake.addClose(signClose(testKey("forger"), request.chain, context.id, forgedPairs.map((p) => p.commitment)), 2);
    for (const { reveal } of forgedPairs) if (!fake.decided) fake.addReveal(reveal, 3);
    const built = fake.bundle as AgreedBundle;
    const realSig = new Map(real.map((c) => [c.node, c.sig]));
    const forged: AgreedBundle = {
      ...built,
      close: { ...(built.close as NonNullable<AgreedBundle["close"]>), sig: close.sig },
      reveals: built.reveals.map((reveal) => ({ ...reveal, commitmentSig: realSig.get(reveal.node) as Uint8Array })),
    };
    expect(forged.outcome.output).toBe("Lyon");
    expect(codeOf(() => book.handle(forged, 4))).toBe("SIG_INVALID");
    // The real close with the forged reveals: the reveals do not open the listed commitments.
    expect(codeOf(() => book.handle({ ...forged, close }, 4))).toBe("COMMITMENT_MISMATCH");
    expect(book.get(context.id)?.bundle).toBeUndefined();
  });

  it("knows no signature without keys: a collector that checked none vouches for none", () => {
    const request = testRequest(net, { n: 5, k: 3 });
    const context = openRequest(request, net.registry, net.policies);
    const keyless = new Collector(context);
    const pairs = context.committee.map((node) => commitOutput(net.keys.get(node)!, { chain: request.chain, request: context.id, node, output: "Paris" }, salt(node)));
    for (const { commitment } of pairs) keyless.addCommitment(commitment, 1);
    const close = signClose(net.sequencer, request.chain, context.id, pairs.map((p) => p.commitment));
    keyless.addClose(close, 2);
    expect(keyless.knowsSignature(close)).toBe(false);
    expect(keyless.knowsSignature(pairs[0]!.reveal)).toBe(false);
  });
});

describe("RequestBook evidence", () => {
  it("remembers a bounded number of evidence keys (4 × maxRequests), the oldest forgotten first", () => {
    // Before: one key for every piece of evidence ever handled, never forgotten (valid evidence
    // can name any request, so the book's pruning never reached it).
    const book = new RequestBook({ registry: net.registry, policies: net.policies, maxRequests: 1 });
    const [node] = [...net.keys.keys()] as [string];
    const key = net.keys.get(node)!;
    const evidence = (i: number) => {
      const request = taggedHash("book-evidence", String(i));
      const sign = (output: string) => signOutput(key, { chain: net.registry.chain, request, node, output });
      return equivocationOf(sign("Paris"), sign("Lyon"))!;
    };
    expect(book.handle(evidence(0), 0)).toHaveLength(1);
    expect(codeOf(() => book.handle(evidence(0), 0))).toBe("DUPLICATE");
    for (let i = 1; i <= 4; i++) book.handle(evidence(i), 0);
    // Five keys for a book of one request: the first is forgotten, so it is handled again.
    expect(codeOf(() => book.handle(evidence(4), 0))).toBe("DUPLICATE");
    expect(book.handle(evidence(0), 0)).toMatchObject([{ type: "evidence", node }]);
  });
});

describe("RequestBook deadlines", () => {
  /** Requests with these deadlines, added out of order; the book and their ids by deadline. */
  function bookOf(deadlines: number[]): { book: RequestBook; ids: Map<number, string> } {
    const book = new RequestBook({ registry: net.registry, policies: net.policies });
    const ids = new Map<number, string>();
    for (const deadline of deadlines) ids.set(deadline, book.addRequest(testRequest(net, { deadline, n: 5, k: 4, input: `at ${deadline}` }), 0).context.idHex);
    return { book, ids };
  }
  const resolved = (events: ReturnType<RequestBook["tick"]>) => events.filter((event) => event.type === "no-agreement").map((event) => ("context" in event ? event.context.idHex : "")).sort();

  it("tick resolves each undecided request once, at its deadline, whatever the order they came in", () => {
    const { book, ids } = bookOf([3_000, 1_000, 2_000]);
    expect(resolved(book.tick(999))).toEqual([]);
    expect(resolved(book.tick(1_000))).toEqual([ids.get(1_000)]);
    expect(resolved(book.tick(2_500))).toEqual([ids.get(2_000)]);
    expect(resolved(book.tick(2_600))).toEqual([]);
    expect(resolved(book.tick(10_000))).toEqual([ids.get(3_000)]);
    expect(resolved(book.tick(20_000))).toEqual([]);
  });

  it("tick leaves what `include` declines for a later tick, and skips a request removed meanwhile", () => {
    const { book, ids } = bookOf([1_000, 2_000]);
    const held = ids.get(1_000) as string;
    expect(resolved(book.tick(5_000, (entry) => entry.context.idHex !== held))).toEqual([ids.get(2_000)]);
    expect(resolved(book.tick(5_001))).toEqual([held]);
    const again = bookOf([1_000]);
    again.book.remove(again.ids.get(1_000) as string);
    expect(resolved(again.book.tick(5_000))).toEqual([]);
  });

  it("prune forgets (and returns) a request once its deadline is more than retainMs past, keeps what `keep` holds until it lets go", () => {
    const { book, ids } = bookOf([1_000, 2_000, 3_000]);
    expect(book.prune(1_500, 500)).toEqual([]);
    expect(book.prune(1_501, 500).map((entry) => entry.context.idHex)).toEqual([ids.get(1_000)]);
    expect(book.get(ids.get(1_000) as string)).toBeUndefined();
    const kept = ids.get(2_000) as string;
    expect(book.prune(10_000, 500, (entry) => entry.context.idHex === kept).map((entry) => entry.context.idHex)).toEqual([ids.get(3_000)]);
    expect(book.get(kept)).toBeDefined();
    expect(book.prune(10_001, 500).map((entry) => entry.context.idHex)).toEqual([kept]);
    expect(book.size).toBe(0);
  });
});
