/**
 * What an agreed bundle lets a contract rely on. For structured@2 that is the decision fields
 * only: the commentary (a rationale) is one supporter's text, which nobody agreed on. For every
 * other policy it is the canonical output as a whole.
 *
 * @example
 * const answer = certifiedAnswer(outcome.bundle);
 * if (answer.structured) act(answer.structured.certified); // never answer.structured.commentary
 */
import { parseStructuredSchemaParams, structuredOutcome } from "../agreement/structured-schema.ts";
import type { StructuredOutcome } from "../agreement/structured-schema.ts";
import type { AgreedBundle } from "../wire/types.ts";

export interface CertifiedAnswer {
  /** The canonical output the committee agreed on (for structured@2: the decision fields' JSON). */
  output: string;
  /** structured@2 only: the certified fields, and the commentary marked as one node's text. */
  structured?: StructuredOutcome;
}

/** Splits a verified bundle's outcome into what is certified and what is not. */
export function certifiedAnswer(bundle: AgreedBundle): CertifiedAnswer {
  const { policy } = bundle.request;
  if (policy.id !== "structured" || policy.version !== 2) return { output: bundle.outcome.output };
  const supporters = new Set(bundle.outcome.supporters);
  const outputs = [...bundle.reveals, ...bundle.outputs].filter((vote) => supporters.has(vote.node));
  return {
    output: bundle.outcome.output,
    structured: structuredOutcome(parseStructuredSchemaParams(policy.params), bundle.outcome.output, outputs),
  };
}
