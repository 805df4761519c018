/**
 * What `/health` and `/ready` on the node's metrics port answer (docs/metrics.md). Health says
 * the process is up; readiness says the node can take part in a request now: started, subscribed
 * to every Concord topic, and each topic has a peer that is subscribed to it and in this node's
 * mesh, so what it publishes reaches someone and what the committee gossips reaches it.
 */

/** The node's network as readiness sees it, sampled when asked. */
export interface ReadinessInput {
  /** "starting" until start() finished, "stopping" from the first stop signal. */
  phase: "starting" | "started" | "stopping";
  /** Peers with an open libp2p connection. */
  connectedPeers: number;
  /**
   * Per Concord topic: whether this node subscribed, peers subscribed to it, peers in the mesh.
   * `publishOnly`: a topic it sends its votes on without joining (vote routing `sequencer`):
   * it needs a subscriber there (the pool), not a subscription or a mesh.
   */
  topics: readonly { topic: string; publishOnly?: boolean; subscribed: boolean; subscribers: number; mesh: number }[];
}

export interface Readiness {
  ready: boolean;
  /** Why not ready, one short line each; empty when ready. */
  reasons: string[];
  connectedPeers: number;
  /** The smallest mesh over the Concord topics (0 when there are none). */
  minMeshPeers: number;
}

/**
 * Decides readiness from a sample.
 *
 * @example
 * nodeReadiness({ phase: "started", connectedPeers: 0, topics: [] }).reasons // ["no connected peers"]
 */
export function nodeReadiness(input: ReadinessInput): Readiness {
  const reasons: string[] = [];
  const joined = input.topics.filter((topic) => topic.publishOnly !== true);
  if (input.phase !== "started") reasons.push(input.phase === "starting" ? "node is starting" : "node is stopping");
  if (input.phase === "started") {
    if (input.connectedPeers === 0) reasons.push("no connected peers");
    const notJoined = joined.filter((topic) => !topic.subscribed).map((topic) => topic.topic);
    if (notJoined.length > 0) reasons.push(`not subscribed to ${notJoined.join(", ")}`);
    const noSubscriber = input.topics.filter((topic) => topic.subscribers === 0).map((topic) => topic.topic);
    if (noSubscriber.length > 0) reasons.push(`no peer subscribed to ${noSubscriber.join(", ")}`);
    const noMesh = joined.filter((topic) => topic.subscribers > 0 && topic.mesh === 0).map((topic) => topic.topic);
    if (noMesh.length > 0) reasons.push(`no mesh peer on ${noMesh.join(", ")}`);
  }
  return {
    ready: reasons.length === 0,
    reasons,
    connectedPeers: input.connectedPeers,
    minMeshPeers: joined.length === 0 ? 0 : Math.min(...joined.map((topic) => topic.mesh)),
  };
}
