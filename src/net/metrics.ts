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
  };
}
