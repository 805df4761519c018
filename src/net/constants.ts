/**
 * Defaults for the gossip node. Everything here can be overridden through GossipNodeInit; the
 * score parameters are tuned for committees of a handful to a few dozen nodes.
 */

import type { PeerScoreThresholds, TopicScoreParams, PeerScoreParams } from "@libp2p/gossipsub/score";
import { MAX_MESSAGE_BYTES } from "../wire/limits.ts";

/** Loopback only by default: a node is reachable from outside only when its operator says so. */
export const DEFAULT_LISTEN: readonly string[] = ["/ip4/127.0.0.1/tcp/0"];

/**
 * Largest gossipsub RPC frame that can be sent at all: gossipsub 17 length-prefixes frames with
 * it-length-prefixed's default limit (4 MiB) and offers no option to raise it; a larger frame is
 * silently not sent.
 */
export const GOSSIPSUB_MAX_FRAME_BYTES = 4 * 1024 * 1024;

/**
 * Slack on top of the payload for the gossipsub RPC frame around it (topic, protobuf tags,
 * piggybacked control messages). Frames above max message + this are dropped undecoded.
 */
export const RPC_FRAME_MARGIN_BYTES = 64 * 1024;

/**
 * Largest payload a node publishes or accepts: the wire limit of one encoded message, as far as
 * a gossipsub frame can carry it (4 MiB - 64 KiB when the wire limit is 4 MiB).
 */
export const DEFAULT_MAX_MESSAGE_BYTES = Math.min(MAX_MESSAGE_BYTES, GOSSIPSUB_MAX_FRAME_BYTES - RPC_FRAME_MARGIN_BYTES);

/** Messages waiting for a topic's handlers; beyond this, new ones are dropped and counted. */
export const DEFAULT_HANDLER_QUEUE_LENGTH = 1024;

/** A validator that has not answered after this long is treated as Ignore. */
export const DEFAULT_VALIDATOR_TIMEOUT_MS = 2_000;

/** Validations in flight per node; beyond this new messages are ignored (not penalized). */
export const DEFAULT_MAX_PENDING_VALIDATIONS = 1024;

/**
 * Bytes queued towards one slow peer before its gossip stream is aborted (the connection is then
 * closed and re-dialed by the maintenance tick). Room for eight messages of the largest size.
 */
export const DEFAULT_MAX_OUTBOUND_BUFFER_BYTES = 32 * 1024 * 1024;

/**
 * Maintenance tick: bootstrap peers that dropped off are dialed again, and connections that lost
 * their gossip session for two ticks are closed so a fresh one can form.
 */
export const DEFAULT_REDIAL_INTERVAL_MS = 5_000;

/** Dial timeout for bootstrap and mDNS peers. */
export const DEFAULT_DIAL_TIMEOUT_MS = 5_000;

/** mDNS service tag: nodes of one network find each other, not every libp2p app on the LAN. */
export const DEFAULT_MDNS_SERVICE_TAG = "concord.local";

/** How often mDNS queries the LAN. */
export const DEFAULT_MDNS_INTERVAL_MS = 10_000;

/**
 * How long message ids are remembered to drop duplicates (gossipsub's default). The seen caches
 * grow with message rate x TTL, so this also bounds their memory; a copy that comes back after
 * this is a duplicate the core must drop itself (its collectors are idempotent anyway).
 */
export const DEFAULT_SEEN_TTL_MS = 2 * 60_000;

/**
 * Mesh degree, sized for committees (a handful to a few dozen nodes), far below gossipsub's
 * defaults (D = 6, Dlo = 4, Dhi = 12). A publisher floods its own messages to every peer it knows
 * (floodPublish), so in a small, well-connected network the first hop already reaches nearly
 * everyone and each eager forward through the mesh is a duplicate that costs a send, a decrypt, a
 * decode and a hash on both sides. Peers graft each other on subscribe, so a mesh fills towards
 * Dhi and Dhi, more than D, sets how many forwards a message gets. Dlo = D = 2 keeps two
 * forwarding paths per peer, for peers the publisher is not connected to, and Dhi = 3 leaves the
 * mesh room to form (with Dhi = D a five-node mesh did not settle in 10 s); lazy gossip (IHAVE to
 * Dlazy peers outside the mesh each heartbeat) lets a peer pull what it missed. Measured with
 * IDONTWANT_MIN_BYTES below, on five node processes and a pool on one 2-core machine (the
 * saturation phase of bench/network.bench.ts, two runs each): against D = 3, Dhi = 6 and
 * gossipsub's IDONTWANT threshold, RPCs received per node -37%, CPU per agreed request -27%.
 */
export const MESH_PARAMS = {
  D: 2,
  Dlo: 2,
  Dhi: 3,
  Dscore: 1,
  Dout: 1,
  Dlazy: 6,
  heartbeatInterval: 1_000,
} as const;

/**
 * Payloads at least this large make a receiver send IDONTWANT to its mesh peers (gossipsub 1.2).
 * Publishers flood, so every peer gets a message at about the same time and the IDONTWANT nearly
 * always arrives after the peer has forwarded: for small payloads it is one more RPC per mesh
 * peer that saves nothing (gossipsub's default, 512 bytes, made it a quarter of the RPCs a node
 * received). From 16 KiB up a 40-byte control message is worth the chance of saving a copy.
 */
export const IDONTWANT_MIN_BYTES = 16 * 1024;

/**
 * Per-topic score parameters.
 * - P4, invalid messages (validator said Reject), is the one that matters: weight -4 on a squared
 *   counter, so five rejects (-100) sink a peer below the graylist threshold even with the
 *   largest positive score (+10 cap). The counter decays by 1% a second (half-life ~70 s), so a
 *   graylisted peer comes back after ~10 s and goes straight back on its next reject.
 * - P3 / P3b (mesh delivery rate) are off: committee traffic comes in bursts per request, and a
 *   quiet honest peer must not be pruned for having nothing to forward.
 * - P1 and P2 give honest peers a small positive margin (at most ~+8 per topic, capped at +10).
 */
export const TOPIC_SCORE_PARAMS: TopicScoreParams = {
  topicWeight: 1,
  timeInMeshWeight: 0.01,
  timeInMeshQuantum: 1_000,
  timeInMeshCap: 300,
  firstMessageDeliveriesWeight: 0.5,
  firstMessageDeliveriesDecay: 0.9,
  firstMessageDeliveriesCap: 10,
  meshMessageDeliveriesWeight: 0,
  meshMessageDeliveriesDecay: 0.5,
  meshMessageDeliveriesCap: 10,
  meshMessageDeliveriesThreshold: 1,
  meshMessageDeliveriesWindow: 10,
  meshMessageDeliveriesActivation: 5_000,
  meshFailurePenaltyWeight: 0,
  meshFailurePenaltyDecay: 0.5,
  invalidMessageDeliveriesWeight: -4,
  invalidMessageDeliveriesDecay: 0.99,
};

/**
 * IP colocation, Concord's own (src/net/peer-penalties.ts; gossipsub's P6 is off below): from one
 * IP, the first ten identities that are neither bootstrap peers nor whitelisted are free, and each
 * later one scores -5 × surplus², surplus being how many the IP holds beyond ten while they stay
 * connected. Five beyond sink the newcomers below the graylist (-125 < -80); the ones that came first,
 * honest nodes up before an attack, keep their score, and the penalty ends when the newcomers go.
 */
export const COLOCATION_THRESHOLD = 10;
export const COLOCATION_WEIGHT = -5;

/**
 * A message on a topic this node does not use costs its sender as an invalid message does (P4
 * below): a counter decaying 1% a second, weighted -4 by its square. No honest peer sends one.
 */
export const UNKNOWN_TOPIC_WEIGHT = -4;
export const UNKNOWN_TOPIC_DECAY = 0.99;

/** Router-wide score parameters (the topics map is filled from the node's topic list). */
export const PEER_SCORE_PARAMS: Omit<PeerScoreParams, "topics" | "appSpecificScore"> = {
  topicScoreCap: 10,
  // P5: Concord's own penalties (colocation, unknown topics), at full weight.
  appSpecificWeight: 1,
  // P6 off: it charges the honest peers behind an IP with the Sybils, and counts identities that
  // left for as long as their scores are retained. Concord's colocation penalty replaces it (P5).
  IPColocationFactorWeight: 0,
  IPColocationFactorThreshold: COLOCATION_THRESHOLD,
  IPColocationFactorWhitelist: new Set<string>(),
  // P7: protocol misbehaviour (re-graft during backoff, broken IWANT promises); tolerate a few.
  behaviourPenaltyWeight: -1,
  behaviourPenaltyThreshold: 6,
  behaviourPenaltyDecay: 0.99,
  decayInterval: 1_000,
  decayToZero: 0.01,
  // A negative score is kept five minutes after its peer disconnects (gossipsub keeps no positive
  // one): longer than twenty rejects take to decay off the graylist (~150 s), so reconnecting does
  // not wash a penalty, and short enough that identities an attacker churns through do not pile
  // up for an hour. Peer ids are free, so a longer memory buys nothing against Sybils.
  retainScore: 300_000,
};

/** Below gossip: no IHAVE/IWANT with it; below publish: not published to; below graylist: every RPC dropped. */
export const SCORE_THRESHOLDS: PeerScoreThresholds = {
  gossipThreshold: -10,
  publishThreshold: -50,
  graylistThreshold: -80,
  acceptPXThreshold: 100,
  opportunisticGraftThreshold: 3,
};
