/**
 * The one adapter between Concord's validation errors and gossipsub's verdicts.
 *
 * Validators are plain functions `(payload, fromPeer) => void | Promise<void>`: returning means
 * accept, throwing a ConcordError means its `action` (reject: the sender is penalized; ignore:
 * dropped without penalty), throwing anything else is a bug or an unforeseen input and means
 * ignore, so a fault of ours never costs an honest peer its score.
 */

import { TopicValidatorResult } from "@libp2p/gossipsub";
import type { Message, TopicValidatorFn } from "@libp2p/gossipsub";
import type { PeerId } from "@libp2p/interface";
import { isConcordError } from "../errors.ts";
import type { DefenceLog } from "./defences.ts";
import type { NetLogger } from "./logger.ts";
import type { NetMetrics } from "./metrics.ts";

/** Accepts by returning; refuses by throwing (a ConcordError carries reject or ignore). */
export type GossipValidator = (payload: Uint8Array, fromPeer: string) => void | Promise<void>;

/** Codes the adapter itself assigns, next to ConcordError codes. */
export type AdapterCode = "OK" | "UNEXPECTED" | "TIMEOUT" | "BACKPRESSURE" | "NO_VALIDATOR";

export interface ValidationOutcome {
  result: TopicValidatorResult;
  /** ConcordError code, or one of AdapterCode. */
  code: string;
}

/**
 * Maps what a validator threw to a gossipsub verdict.
 * @example toValidationResult(new ConcordError("SIG_INVALID", "bad signature")) // { result: "reject", code: "SIG_INVALID" }
 * @example toValidationResult(new TypeError("x is undefined")) // { result: "ignore", code: "UNEXPECTED" }
 */
export function toValidationResult(error: unknown): ValidationOutcome {
  if (isConcordError(error)) {
    return {
      result: error.action === "reject" ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore,
      code: error.code,
    };
  }
  return { result: TopicValidatorResult.Ignore, code: "UNEXPECTED" };
}

export interface TopicValidatorInit {
  topic: string;
  /** An async validator that has not settled after this long is ignored. */
  timeoutMs: number;
  /** Payloads above this are rejected before the validator runs. */
  maxBytes: number;
  /** Shared counter of validations in flight, bounded by `maxPending`. */
  pending: { count: number };
  maxPending: number;
}

export interface TopicValidatorComponents {
  logger: NetLogger;
  metrics?: NetMetrics | undefined;
  /** Where a replay rejected as STALE is reported (logged and counted as a defence). */
  defences?: DefenceLog | undefined;
}

class ValidatorTimeoutError extends Error {
  override readonly name = "ValidatorTimeoutError";
}

/** Wraps a Concord validator as a gossipsub topic validator: bounded in time, counted, logged. */
export function createTopicValidator(
  validator: GossipValidator,
  init: TopicValidatorInit,
  components: TopicValidatorComponents,
): TopicValidatorFn {
  const { topic, timeoutMs, maxBytes, pending, maxPending } = init;
  const { logger, metrics, defences } = components;

  const record = (outcome: ValidationOutcome, from: string, error?: unknown): TopicValidatorResult => {
    metrics?.validation.inc({ topic, result: outcome.result, code: outcome.code });
    if (outcome.result !== TopicValidatorResult.Accept) {
      // Never the payload: it is attacker-controlled and may be large.
      const context: Record<string, unknown> = { topic, from, result: outcome.result, code: outcome.code };
      if (error instanceof Error) context["error"] = error.message;
      logger.debug(context, outcome.result === TopicValidatorResult.Reject ? "gossip rejected" : "gossip ignored");
      if (outcome.code === "STALE") defences?.fired("stale", { topic, from });
    }
    return outcome.result;
  };
  const accept: ValidationOutcome = { result: TopicValidatorResult.Accept, code: "OK" };

  return (peer: PeerId, message: Message): TopicValidatorResult | Promise<TopicValidatorResult> => {
    const from = peer.toString();
    // [REJECT] The payload is at most the wire limit (honest nodes never publish larger ones).
    if (message.data.length > maxBytes) {
      return record({ result: TopicValidatorResult.Reject, code: "WIRE_OVERSIZED" }, from);
    }
    // [IGNORE] We are not already validating more than maxPending messages.
    if (pending.count >= maxPending) {
      return record({ result: TopicValidatorResult.Ignore, code: "BACKPRESSURE" }, from);
    }
    let returned: void | Promise<void>;
    try {
      returned = validator(message.data, from);
    } catch (error) {
      return record(toValidationResult(error), from, error);
    }
    if (!(returned instanceof Promise)) return record(accept, from);

    pending.count++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ValidatorTimeoutError(`validator exceeded ${timeoutMs} ms`)), timeoutMs);
    });
    // The validator's promise may settle after the timeout: swallow that late rejection.
    returned.catch(() => undefined);
    return Promise.race([returned, timeout]).then(
      () => record(accept, from),
      (error: unknown) =>
        record(
          error instanceof ValidatorTimeoutError
            ? { result: TopicValidatorResult.Ignore, code: "TIMEOUT" }
            : toValidationResult(error),
          from,
          error,
        ),
    ).finally(() => {
      clearTimeout(timer);
      pending.count--;
    });
  };
}

/** Fail closed: a subscribed topic nobody registered a validator for forwards nothing. */
export function createMissingValidator(topic: string, components: TopicValidatorComponents): TopicValidatorFn {
  return (peer: PeerId): TopicValidatorResult => {
    components.metrics?.validation.inc({ topic, result: TopicValidatorResult.Ignore, code: "NO_VALIDATOR" });
    components.logger.debug({ topic, from: peer.toString(), code: "NO_VALIDATOR" }, "gossip ignored");
    return TopicValidatorResult.Ignore;
  };
}
