/**
 * Prometheus metrics of the gossip layer. Several nodes may share one registry (tests, the
 * simulator), so each metric is taken from the registry when it is already there.
 */

import { Counter } from "prom-client";
import type { Registry } from "prom-client";

export type ValidationLabel = "topic" | "result" | "code";

export interface NetMetrics {
  /** Validator outcomes: result accept|ignore|reject, code the error code (or OK). */
  validation: Counter<ValidationLabel>;
  /** Messages handed to a topic's handler queue. */
  delivered: Counter<"topic">;
  /** Messages dropped because a topic's handler queue was full. */
  handlerDropped: Counter<"topic">;
  /** Handlers that threw. */
  handlerErrors: Counter<"topic">;
  /** Publishes by outcome: sent, duplicate, no-peers. */
  published: Counter<"topic" | "outcome">;
  /** Catch-up asks this node answered, by outcome: answered, refused (over the rate), failed. */
  fetchAnswered: Counter<"outcome">;
  /** Messages this node fetched, by result: accepted, or ignored (duplicate, invalid, not asked for). */
  fetched: Counter<"result">;
  /** Defences against network attacks that fired (src/net/defences.ts). */
  defences: Counter<"defence">;
}

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Counter) return existing as Counter<L>;
  return new Counter<L>({ name, help, labelNames, registers: [registry] });
}

export function createNetMetrics(registry: Registry): NetMetrics {
  return {
    validation: counter(registry, "concord_gossip_validation_total", "Gossip validation results by topic, result and code", [
      "topic",
      "result",
      "code",
    ]),
    delivered: counter(registry, "concord_gossip_delivered_total", "Validated gossip messages queued for handlers", ["topic"]),
    handlerDropped: counter(
      registry,
      "concord_gossip_handler_dropped_total",
      "Validated gossip messages dropped because the topic's handler queue was full",
      ["topic"],
    ),
    handlerErrors: counter(registry, "concord_gossip_handler_errors_total", "Gossip handlers that threw", ["topic"]),
    published: counter(registry, "concord_gossip_published_total", "Local publishes by outcome", ["topic", "outcome"]),
    fetchAnswered: counter(registry, "concord_fetch_answered_total", "Catch-up fetch asks from peers by outcome", ["outcome"]),
    fetched: counter(registry, "concord_fetch_messages_total", "Messages received in answer to this node's catch-up fetches, by result", ["result"]),
    defences: counter(registry, "concord_net_defences_total", "Defences against network attacks that fired, by defence", ["defence"]),
  };
}
