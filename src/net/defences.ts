/**
 * Operators must see a defence fire: each firing is counted (`concord_net_defences_total` by
 * defence) and logged at warn, at most once per defence every `intervalMs` (an attacker must not
 * be able to flood the log), with how many firings the line stands for.
 */
import type { NetLogger } from "./logger.ts";
import type { NetMetrics } from "./metrics.ts";

/** The defences of spec/10's "Network attacks", as labelled in metrics and logs. */
export type Defence = "stale" | "colocation" | "unknown-topic" | "fetch-score" | "fetch-ip-budget";

const MESSAGES: Record<Defence, string> = {
  stale: "replayed messages long past their deadline rejected (sender penalized)",
  colocation: "identities from one IP over the colocation threshold penalized",
  "unknown-topic": "messages on topics this node does not use penalized",
  "fetch-score": "catch-up asks refused: the asker's score is below the gossip threshold",
  "fetch-ip-budget": "catch-up asks refused: over the asks one IP may make a minute",
};

/** Default: at most one warn line per defence every 10 s. */
export const DEFENCE_LOG_INTERVAL_MS = 10_000;

export class DefenceLog {
  readonly #logger: NetLogger;
  readonly #metrics: NetMetrics | undefined;
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #last = new Map<Defence, { at: number; suppressed: number }>();

  constructor(logger: NetLogger, metrics: NetMetrics | undefined, now: () => number, intervalMs = DEFENCE_LOG_INTERVAL_MS) {
    this.#logger = logger;
    this.#metrics = metrics;
    this.#now = now;
    this.#intervalMs = intervalMs;
  }

  /** Counts one firing; logs it unless this defence was logged less than the interval ago. */
  fired(defence: Defence, context: Record<string, unknown>): void {
    this.#metrics?.defences.inc({ defence });
    const now = this.#now();
    const last = this.#last.get(defence);
    if (last !== undefined && now - last.at < this.#intervalMs) {
      last.suppressed++;
      return;
    }
    this.#logger.warn({ defence, ...context, ...(last?.suppressed ? { alsoSince: last.suppressed } : {}) }, MESSAGES[defence]);
    this.#last.set(defence, { at: now, suppressed: 0 });
  }
}
