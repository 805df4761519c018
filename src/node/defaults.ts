/**
 * The fixed ports and data folder a node uses when neither a flag, a CONCORD_* variable nor the
 * config file names one (README "For node runners", docs/metrics.md). Fixed, so that firewall
 * rules, Prometheus scrape targets and `concord status` work without looking anything up.
 */
import { homedir } from "node:os";
import { join } from "node:path";

/** libp2p TCP port (gossip and catch-up fetches); open it to the other nodes. */
export const DEFAULT_P2P_PORT = 9780;
/** HTTP port of /metrics, /health and /ready; bound to 127.0.0.1 unless metrics.host says otherwise. */
export const DEFAULT_METRICS_PORT = 9781;
/** Address the metrics endpoint binds by default: this machine only. */
export const DEFAULT_METRICS_HOST = "127.0.0.1";

/** Where `concord status` looks without --metrics-url. */
export const DEFAULT_METRICS_URL = `http://${DEFAULT_METRICS_HOST}:${DEFAULT_METRICS_PORT}`;

/**
 * The default data folder: `~/.concord/<node id>`, one per node id, so two nodes of one user
 * never share a slashing-protection history by accident.
 *
 * @example
 * defaultDataDir("node-07", "/home/ada") // "/home/ada/.concord/node-07"
 */
export function defaultDataDir(node: string, home: string = homedir()): string {
  return join(home, ".concord", node);
}
