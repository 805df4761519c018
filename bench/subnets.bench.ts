/**
 * Subnets (issue 15, spec/06 "Subnets"): per-node cost as the network grows at a fixed request
 * rate, with committees of 7 (k = 5), against one subnet (the behaviour before subnets).
 *
 * Networks of 25, 50 and 100 nodes run in this process, each node a real libp2p host over the
 * memory transport (noise, yamux, gossipsub) with a Participant, the fixed backend (no model:
 * 10 ms a job), and a real slashing-protection file; the sequencer's pool runs beside them
 * (test/helpers/inprocess-cluster.ts). Each size runs twice: S = 1, and S = nodes / 25 (subnets
 * of 25), and a third time with subnets of 25 and every node routing its votes to the sequencer
 * (spec/06 "Vote routing"; `routed`, which is S = 1 at 25 nodes). Each node dials the pool and 6
 * others of its subnet.
 *
 * Per configuration, after the mesh forms and a warm-up: steady load at RATE requests/s
 * (commit-reveal), measured over REPS back-to-back windows of PHASE_S seconds; with subnets, the
 * same again at RATE × S ("scaled": the
 * same requests per subnet, as a network that grows to serve more requests would see; one subnet
 * at that rate is what 100 nodes cannot carry on two cores). Figures, median over the windows
 * (and min, max), named n{nodes}_{s1|subnets|routed}[_scaled]_…:
 * - cpu_ms_per_node_s: process CPU (user + system) / nodes / seconds. The nodes share one
 *   process, so this is their average, the pool's share included (the pool handles every
 *   request whatever S is).
 * - deliveries_per_node_s: messages gossip handed to a node's participant (decoded and checked),
 *   per node per second; deliveries_per_node_request: the same per request of the window (a
 *   request is ~16 messages: request, 7 commitments, close, 5-7 reveals, a bundle or two).
 * - cpu_ms_per_node_request: the same CPU, less the idle floor, per request submitted in the
 *   window: the figure that does not depend on the offered rate being met (a loaded machine
 *   submits fewer); achieved_rate_per_s says what was met.
 * - agreed_share: the window's requests agreed once the load stops and they settle (10 s at most).
 * - idle_cpu_ms_per_node_s: the same CPU figure over IDLE_S seconds without requests
 *   (heartbeats, timers): the floor under every figure above.
 *
 * Run alone: `npm run bench subnets`. Sizes: CONCORD_SUBNETS_SIZES=25,50 (default 25,50,100).
 */
import { startInProcessCluster, waitForCluster, type InProcessCluster } from "../test/helpers/inprocess-cluster.ts";
import type { VoteRoute } from "../src/net/topics.ts";
import { taggedHash } from "../src/wire/hash.ts";

const SUBNET_SIZE = 25;
const RATE = 2;
const PHASE_S = 8;
const REPS = 3;
const IDLE_S = 4;
const WARMUP_REQUESTS = 10;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const cpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};
const round2 = (value: number) => Math.round(value * 100) / 100;
const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

interface Phase {
  /** Requests submitted per second in the window: below the target when the process cannot keep up. */
  achievedRate: number;
  cpuMsPerNodeS: number;
  /** CPU per node per request of the window, the idle floor taken off. */
  cpuMsPerNodeRequest: number;
  deliveriesPerNodeS: number;
  /** Deliveries per node per request submitted in the window: how much of each request a node handles. */
  deliveriesPerNodeRequest: number;
  agreedShare: number;
}

const deliveries = (cluster: InProcessCluster) => cluster.nodes.reduce((sum, node) => sum + node.deliveries, 0);

/** Submits at `rate` from now until `stop()`; `ids` grows as it goes. */
function pacer(cluster: InProcessCluster, label: string, rate: number): { ids: string[]; stop: () => Promise<void> } {
  const ids: string[] = [];
  let stopped = false;
  const started = performance.now();
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      const wait = started + (i * 1000) / rate - performance.now();
      if (wait > 0) await sleep(wait);
      if (stopped) break;
      ids.push(await cluster.pool.submit({ model: "m", input: `${label} ${i}`, entropy: taggedHash("bench/subnets", label, String(i)), mode: "commit-reveal" }));
    }
  })();
  return {
    ids,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

async function settle(cluster: InProcessCluster, ids: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ids.every((id) => cluster.outcomes.has(id)) && Date.now() < deadline) await sleep(50);
}

/**
 * One cluster; per rate, steady load with REPS back-to-back windows of PHASE_S seconds (after a
 * 2 s lead-in at that rate), each window's CPU and deliveries over exactly its own seconds.
 */
async function measure(nodes: number, subnets: number, rates: readonly number[], votes: VoteRoute): Promise<{ phases: Phase[][]; idle: number }> {
  const cluster = await startInProcessCluster({ nodes, subnets, votes, seed: `bench-subnets-${nodes}-${subnets}`, delayMs: 10, pool: { n: 7, k: 5, deadlineMs: 20_000, closeGraceMs: 50 } });
  try {
    await waitForCluster(cluster, 120_000, { settleMs: 8_000 });
    // Warm-up: JIT, streams, mesh settling.
    const warm = pacer(cluster, "warm-up", RATE);
    await sleep((WARMUP_REQUESTS / RATE) * 1000);
    await warm.stop();
    await settle(cluster, warm.ids, 20_000);
    await sleep(1_000);

    const idleCpu = cpuMs();
    const idleStart = performance.now();
    await sleep(IDLE_S * 1000);
    const idle = (cpuMs() - idleCpu) / nodes / ((performance.now() - idleStart) / 1000);

    const phases: Phase[][] = [];
    for (const rate of rates) {
      const load = pacer(cluster, `rate-${rate}`, rate);
      await sleep(2_000);
      const windows: { cpu: number; delivered: number; seconds: number; ids: string[] }[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        const cpu = cpuMs();
        const delivered = deliveries(cluster);
        const firstId = load.ids.length;
        const start = performance.now();
        await sleep(PHASE_S * 1000);
        windows.push({ cpu: cpuMs() - cpu, delivered: deliveries(cluster) - delivered, seconds: (performance.now() - start) / 1000, ids: load.ids.slice(firstId) });
      }
      await load.stop();
      await settle(cluster, load.ids, 10_000);
      const atRate = windows.map((window) => ({
        achievedRate: window.ids.length / window.seconds,
        cpuMsPerNodeS: window.cpu / nodes / window.seconds,
        cpuMsPerNodeRequest: Math.max(0, window.cpu / nodes - idle * window.seconds) / Math.max(1, window.ids.length),
        deliveriesPerNodeS: window.delivered / nodes / window.seconds,
        deliveriesPerNodeRequest: window.delivered / nodes / Math.max(1, window.ids.length),
        agreedShare: window.ids.filter((id) => cluster.outcomes.get(id)?.kind === "agreed").length / Math.max(1, window.ids.length),
      }));
      for (const [rep, phase] of atRate.entries()) console.log(`  nodes ${nodes} S=${subnets} rate ${rate}/s window ${rep}: ${JSON.stringify(phase)}`);
      phases.push(atRate);
      await sleep(1_000);
    }
    return { phases, idle };
  } finally {
    await cluster.stop();
  }
}

export async function run(): Promise<Record<string, number>> {
  const sizes = (process.env.CONCORD_SUBNETS_SIZES ?? "25,50,100").split(",").map(Number);
  const figures: Record<string, number> = { rate_per_s: RATE, committee_n: 7, committee_k: 5, subnet_size: SUBNET_SIZE, phase_s: PHASE_S, reps: REPS };
  for (const nodes of sizes) {
    const split = Math.max(1, Math.round(nodes / SUBNET_SIZE));
    // 25 nodes make one subnet of 25: the same run stands for both gossip rows.
    const configs: { subnets: number; votes: VoteRoute; labels: string[] }[] =
      split === 1
        ? [{ subnets: 1, votes: "gossip", labels: ["s1", "subnets"] }]
        : [
            { subnets: 1, votes: "gossip", labels: ["s1"] },
            { subnets: split, votes: "gossip", labels: ["subnets"] },
          ];
    configs.push({ subnets: split, votes: "sequencer", labels: ["routed"] });
    for (const { subnets, votes, labels } of configs) {
      const rates = subnets === 1 && votes === "gossip" ? [RATE] : [RATE, RATE * subnets];
      const { phases, idle } = await measure(nodes, subnets, [...new Set(rates)], votes);
      for (const label of labels) {
        for (const [r, atRate] of phases.entries()) {
          const prefix = `n${nodes}_${label}${r === 0 ? "" : "_scaled"}`;
          for (const [name, pick] of [
            ["achieved_rate_per_s", (p: Phase) => p.achievedRate],
            ["cpu_ms_per_node_s", (p: Phase) => p.cpuMsPerNodeS],
            ["cpu_ms_per_node_request", (p: Phase) => p.cpuMsPerNodeRequest],
            ["deliveries_per_node_s", (p: Phase) => p.deliveriesPerNodeS],
            ["deliveries_per_node_request", (p: Phase) => p.deliveriesPerNodeRequest],
            ["agreed_share", (p: Phase) => p.agreedShare],
          ] as const) {
            const values = atRate.map(pick);
            figures[`${prefix}_${name}`] = round2(median(values));
            figures[`${prefix}_${name}_min`] = round2(Math.min(...values));
            figures[`${prefix}_${name}_max`] = round2(Math.max(...values));
          }
          figures[`${prefix}_rate_per_s`] = rates[r] as number;
        }
        figures[`n${nodes}_${label}_idle_cpu_ms_per_node_s`] = round2(idle);
        figures[`n${nodes}_${label}_subnets`] = subnets;
      }
    }
  }
  return figures;
}

if (import.meta.main) console.log(await run());
