import { mkdtempSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveNodeConfig } from "../../../src/node/config.ts";
import { DEFAULT_METRICS_PORT, DEFAULT_METRICS_URL, DEFAULT_P2P_PORT, defaultDataDir } from "../../../src/node/defaults.ts";

const required = { node: "node-07", keystore: "/keys/node-07.key.json", registry: "/etc/concord/registry.json" };

describe("node defaults: fixed ports and a data folder under the home directory", () => {
  it("listens on the fixed p2p port, serves metrics on the fixed metrics port (this machine only), keeps data in ~/.concord/<node>", () => {
    const config = resolveNodeConfig(required);
    expect(config.listen).toEqual([`/ip4/0.0.0.0/tcp/${DEFAULT_P2P_PORT}`]);
    expect(config.metrics).toEqual({ host: "127.0.0.1", port: DEFAULT_METRICS_PORT });
    expect(config.dataDir).toBe(join(homedir(), ".concord", "node-07"));
    expect(defaultDataDir("node-07", "/home/ada")).toBe("/home/ada/.concord/node-07");
    expect(DEFAULT_METRICS_URL).toBe(`http://127.0.0.1:${DEFAULT_METRICS_PORT}`);
  });

  it("keeps what flags, the environment or the config file say", () => {
    const flags = resolveNodeConfig({ ...required, dataDir: "/data", listen: ["/ip4/127.0.0.1/tcp/0"], metricsPort: 0 });
    expect(flags).toMatchObject({ dataDir: "/data", listen: ["/ip4/127.0.0.1/tcp/0"], metrics: { host: "127.0.0.1", port: 0 } });
    const env = resolveNodeConfig(required, { CONCORD_DATA_DIR: "/env-data", CONCORD_METRICS_PORT: "9100" });
    expect(env).toMatchObject({ dataDir: "/env-data", metrics: { port: 9100 } });
    const dir = mkdtempSync(join(tmpdir(), "concord-defaults-"));
    const file = join(dir, "node.json");
    writeFileSync(file, JSON.stringify({ ...required, dataDir: "./here", listen: ["/ip4/10.0.0.7/tcp/9000"], metrics: null }));
    expect(resolveNodeConfig({ config: file })).toMatchObject({ dataDir: join(dir, "here"), listen: ["/ip4/10.0.0.7/tcp/9000"], metrics: null });
  });
});
