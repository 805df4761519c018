/** RequestBook's bundle rules beyond verifyBundle: what a participant that saw more knows. */
import { describe, expect, it } from "vitest";
import { signOutput } from "../../../src/quorum/attest.ts";
import { RequestBook } from "../../../src/quorum/book.ts";
import { isConcordError } from "../../../src/errors.ts";
import type { AgreedBundle, InferenceRequest } from "../../../src/wire/types.ts";
import { testNetwork, testRequest } from "../../helpers/fixtures.ts";

const net = testNetwork(5);

/** A book that follows `request` and has received these members' signed outputs; returns its bundle, if it agreed. */
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
});
