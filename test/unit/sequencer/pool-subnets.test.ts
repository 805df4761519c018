/**
 * A pool and its network agree on the registry's subnets: a network made for another S would
 * publish requests on topics no member joined (spec/06, "Subnets").
 */
import { describe, expect, it } from "vitest";
import { createConcordNetwork } from "../../../src/net/concord.ts";
import { silentLogger } from "../../../src/net/logger.ts";
import { createRegistry } from "../../../src/quorum/registry.ts";
import { createPool } from "../../../src/sequencer/pool.ts";
import { SqliteOutcomeStore } from "../../../src/sequencer/store.ts";
import { testNetwork } from "../../helpers/fixtures.ts";

describe("pool on subnets", () => {
  it("refuses a network made for another number of subnets than the registry's", async () => {
    const net = testNetwork(8);
    const split = createRegistry({ ...net.config, subnets: 2 });
    const store = new SqliteOutcomeStore({ path: ":memory:" });
    const network = (subnets?: number) =>
      createConcordNetwork({ chain: split.chain, listen: ["/memory/pool-subnets"], transports: ["memory"], ...(subnets ? { subnets } : {}) }, { logger: silentLogger });
    const onOne = await network();
    expect(onOne.subnets).toBe(1);
    expect(() => createPool({ registry: split, sequencerKey: net.sequencer, network: onOne, store })).toThrow(/the network has 1 subnets, the registry 2/);
    const onTwo = await network(2);
    expect(onTwo.topics).toHaveLength(2 * 6 + 2);
    expect(() => createPool({ registry: split, sequencerKey: net.sequencer, network: onTwo, store })).not.toThrow();
  });
});
