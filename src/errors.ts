/**
 * One error base for the whole project. Every rule violation carries a stable string `code`
 * (what scripts and metrics key on), and validation errors carry the gossip `action`
 * (accept/ignore/reject) so one adapter can map them onto the transport.
 */

/** What a gossip validator does with a message that raised this error. */
export type GossipAction = "ignore" | "reject";

export type ErrorCode =
  // wire
  | "WIRE_DECODE"
  | "WIRE_NON_CANONICAL"
  | "WIRE_OVERSIZED"
  | "WIRE_SCHEMA"
  | "WIRE_VERSION"
  | "WIRE_KIND"
  // crypto
  | "SIG_INVALID"
  | "KEY_INVALID"
  | "KEYSTORE"
  // agreement
  | "POLICY_UNKNOWN"
  | "POLICY_PARAMS"
  | "POLICY_RETIRED"
  | "EVIDENCE_INVALID"
  | "SAMPLER_INPUT"
  // quorum
  | "CHAIN_MISMATCH"
  | "REQUEST_INVALID"
  | "REQUEST_MISMATCH"
  | "SUBNET_MISMATCH"
  | "NOT_IN_COMMITTEE"
  | "NOT_IN_CLOSE"
  | "COMMITMENT_MISMATCH"
  | "DUPLICATE"
  | "EQUIVOCATION"
  | "LATE"
  | "EXPIRED"
  | "STALE"
  | "MODE_MISMATCH"
  | "BUNDLE_INVALID"
  | "POLICY_MISMATCH"
  // cert
  | "CERT_INVALID"
  | "CERT_UNSUPPORTED"
  | "REGISTRY_MISMATCH"
  // node, sequencer, runner, sim, cli
  | "CONFIG"
  | "SLASHING_CONFLICT"
  | "BACKEND"
  | "BACKPRESSURE"
  | "FETCH_FAILED"
  | "STORE"
  | "SCENARIO"
  | "NODE_UNREACHABLE";

export interface ConcordErrorParams {
  details?: string;
  action?: GossipAction;
  cause?: unknown;
}

export class ConcordError extends Error {
  override readonly name: string = "ConcordError";
  readonly code: ErrorCode;
  readonly details: string | undefined;
  /** For validation errors: what a gossip validator should answer. Defaults to reject. */
  readonly action: GossipAction;

  constructor(code: ErrorCode, shortMessage: string, params: ConcordErrorParams = {}) {
    super(params.details ? `${shortMessage}: ${params.details}` : shortMessage, { cause: params.cause });
    this.code = code;
    this.details = params.details;
    this.action = params.action ?? "reject";
  }
}

/** True when `error` is a ConcordError, optionally with the given code. */
export function isConcordError(error: unknown, code?: ErrorCode): error is ConcordError {
  return error instanceof ConcordError && (code === undefined || error.code === code);
}

/** Caller mistakes (not network input): fail loudly. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
