/**
 * The agreement-policy interface (spec/09-policies.md). A policy is a pure, deterministic
 * function over verified votes: same votes (in any order) and parameters, same decision, on
 * every verifier. Policies never read the clock or randomness and never compare floats.
 */
import { ConcordError } from "../errors.ts";
import type { Bytes, Cluster, Evidence, PolicyParams, PolicyRef } from "../wire/types.ts";

/** One committee member's verified output (from a reveal or a direct signed output). */
export interface Vote {
  node: string;
  output: string;
  /** outputHash(output) from src/wire/hash.ts, precomputed once per vote. */
  outputHash: Bytes;
  evidence?: Evidence;
}

export interface DecideContext {
  /** Committee size and threshold of the request. */
  n: number;
  k: number;
  requestId: Bytes;
}

export type PolicyDecision =
  | {
      agreed: true;
      /** The canonical output: one of the votes' outputs, or one built from them (structured). */
      output: string;
      outputHash: Bytes;
      /** Nodes counted as support, sorted; at least k of them. */
      supporters: string[];
    }
  | {
      agreed: false;
      /** How the votes group, largest first, so a caller can retry, escalate or fail. */
      clusters: Cluster[];
    };

export interface AgreementPolicy<P = unknown> {
  readonly id: string;
  readonly version: number;
  /** One line for docs and `--help`. */
  readonly description: string;
  /** A baseline for comparisons (first-wins): requests may not name it. */
  readonly baselineOnly?: boolean;
  /**
   * Retired: kept so that bundles already made can be verified offline, never run on live
   * requests (its decisions have no cost bound, or it was found unsafe). Requests naming it are
   * POLICY_RETIRED.
   */
  readonly retired?: boolean;
  /**
   * True when `decide` reads votes' evidence (tokens and margins). Members attach evidence to
   * their outputs only for such policies: it is most of a reveal's bytes, and nobody else reads it.
   */
  readonly usesEvidence?: boolean;
  /** Validates and normalizes the request's parameters; throws POLICY_PARAMS. */
  parseParams(params: PolicyParams): P;
  /**
   * The JSON Schema outputs must satisfy under these parameters (structured@2), which nodes hand
   * their backend for constrained decoding. Absent: outputs are free.
   */
  outputSchema?(params: P): Record<string, unknown>;
  decide(votes: readonly Vote[], params: P, context: DecideContext): PolicyDecision;
}

/** A policy with its parameters already parsed: what the collector and verifyBundle call. */
export interface BoundPolicy {
  readonly ref: PolicyRef;
  readonly usesEvidence: boolean;
  /** AgreementPolicy.outputSchema for the request's parameters, when the policy has one. */
  readonly outputSchema?: Record<string, unknown>;
  decide(votes: readonly Vote[], context: DecideContext): PolicyDecision;
}

export function policyKey(id: string, version: number): string {
  return `${id}@${version}`;
}

/** Policies known to this process, by id@version. Unknown ids are rejected with POLICY_UNKNOWN. */
export class PolicyRegistry {
  readonly #policies = new Map<string, AgreementPolicy>();

  register<P>(policy: AgreementPolicy<P>): this {
    const key = policyKey(policy.id, policy.version);
    if (this.#policies.has(key)) throw new Error(`policy ${key} registered twice`);
    this.#policies.set(key, policy as AgreementPolicy);
    return this;
  }

  list(): AgreementPolicy[] {
    return [...this.#policies.values()];
  }

  get(id: string, version: number): AgreementPolicy {
    const policy = this.#policies.get(policyKey(id, version));
    if (!policy) {
      throw new ConcordError("POLICY_UNKNOWN", "unknown agreement policy", { details: policyKey(id, version) });
    }
    return policy;
  }

  /** Resolves a request's policy and parses its parameters once. Baselines and retired policies only when asked. */
  bind(ref: PolicyRef, options: { allowBaseline?: boolean; allowRetired?: boolean } = {}): BoundPolicy {
    const policy = this.get(ref.id, ref.version);
    if (policy.baselineOnly && !options.allowBaseline) {
      throw new ConcordError("POLICY_PARAMS", "a baseline policy cannot be requested", { details: policyKey(ref.id, ref.version) });
    }
    if (policy.retired && !options.allowRetired) {
      throw new ConcordError("POLICY_RETIRED", "a retired policy cannot be requested (verify-only)", { details: policyKey(ref.id, ref.version) });
    }
    const params = policy.parseParams(ref.params);
    const outputSchema = policy.outputSchema?.(params);
    return {
      ref,
      usesEvidence: policy.usesEvidence === true,
      ...(outputSchema ? { outputSchema } : {}),
      decide: (votes, context) => policy.decide(votes, params, context),
    };
  }
}
