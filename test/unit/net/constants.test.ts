import { describe, expect, it } from "vitest";
import { createPeerScoreParams, validatePeerScoreParams, validatePeerScoreThresholds } from "@libp2p/gossipsub/score";
import { MESH_PARAMS, PEER_SCORE_PARAMS, SCORE_THRESHOLDS, TOPIC_SCORE_PARAMS } from "../../../src/net/constants.ts";

describe("gossip score settings", () => {
  it("pass gossipsub's own parameter checks", () => {
    expect(() => validatePeerScoreParams(createPeerScoreParams({ ...PEER_SCORE_PARAMS, topics: { t: TOPIC_SCORE_PARAMS } }))).not.toThrow();
    expect(() => validatePeerScoreThresholds(SCORE_THRESHOLDS)).not.toThrow();
  });

  it("graylist a peer after five rejected messages even at the highest positive score", () => {
    const p4 = (rejects: number) => rejects * rejects * TOPIC_SCORE_PARAMS.invalidMessageDeliveriesWeight * TOPIC_SCORE_PARAMS.topicWeight;
    expect(p4(5) + PEER_SCORE_PARAMS.topicScoreCap).toBeLessThan(SCORE_THRESHOLDS.graylistThreshold);
    // ...and not after four from a fresh peer.
    expect(p4(4)).toBeGreaterThan(SCORE_THRESHOLDS.graylistThreshold);
    // Two rejects put a fresh peer below the gossip threshold (no IHAVE/IWANT with it).
    expect(p4(2)).toBeLessThan(SCORE_THRESHOLDS.gossipThreshold);
  });

  it("keep eager forwarding low for committees, a mesh that survives a lost peer, and lazy pull for the rest", () => {
    expect(MESH_PARAMS.Dlo).toBeGreaterThanOrEqual(2);
    expect(MESH_PARAMS.Dlo).toBeLessThanOrEqual(MESH_PARAMS.D);
    expect(MESH_PARAMS.D).toBeLessThanOrEqual(4);
    expect(MESH_PARAMS.Dhi).toBeGreaterThanOrEqual(MESH_PARAMS.D);
    expect(MESH_PARAMS.Dout).toBeLessThanOrEqual(MESH_PARAMS.D / 2);
    expect(MESH_PARAMS.Dlazy).toBeGreaterThanOrEqual(MESH_PARAMS.D);
  });
});
