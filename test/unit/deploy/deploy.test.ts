/**
 * deploy/: the compose file, the Dockerfile and the systemd unit, checked without a container
 * engine (none is needed to run the tests): the YAML parses, the services and ports are the ones
 * README documents, and every CONCORD_* variable they set is one the node reads.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { NODE_ENV_VARS } from "../../../src/node/config.ts";

const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), "utf8");

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  depends_on?: string[] | Record<string, { condition: string }>;
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  entrypoint?: string[];
}

/** Variables the example sequencer reads besides the node's (examples/sequencer.ts). */
const SEQUENCER_ONLY = new Set(["CONCORD_BLOCKS"]);

describe("deploy/compose.yaml", () => {
  const compose = parse(read("deploy/compose.yaml"), { merge: true }) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };
  const nodes = Object.keys(compose.services).filter((name) => name.startsWith("node-"));

  it("starts a key and registry step, five nodes and the example sequencer", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["keys", "node-01", "node-02", "node-03", "node-04", "node-05", "sequencer"]);
    for (const name of nodes) {
      const service = compose.services[name] as ComposeService;
      expect(service.build).toEqual({ context: "..", dockerfile: "deploy/Dockerfile" });
      expect(service.depends_on).toEqual({ keys: { condition: "service_completed_successfully" } });
      expect(service.environment).toMatchObject({ CONCORD_NODE: name, CONCORD_KEYSTORE: `/keys/${name}.key.json`, CONCORD_REGISTRY: "/keys/registry.json" });
      expect(service.volumes).toContain(`${name}:/data`);
      expect(compose.volumes).toHaveProperty(name);
    }
    expect(compose.services.sequencer?.depends_on).toEqual(nodes);
    expect(compose.services.sequencer?.entrypoint).toEqual(["node", "examples/sequencer.ts"]);
    expect(read("deploy/compose.yaml")).toContain("registry check registry.json");
  });

  it("publishes each node's metrics port on 127.0.0.1 only, one host port per node", () => {
    const ports = nodes.map((name) => compose.services[name]?.ports ?? []).flat();
    expect(ports).toEqual(["127.0.0.1:9781:9781", "127.0.0.1:9782:9781", "127.0.0.1:9783:9781", "127.0.0.1:9784:9781", "127.0.0.1:9785:9781"]);
  });

  it("sets only CONCORD_* variables the node reads, and a distinct hardware profile per node", () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const variable of Object.keys(service.environment ?? {})) {
        if (name === "sequencer" && SEQUENCER_ONLY.has(variable)) continue;
        expect(NODE_ENV_VARS, `${name}: ${variable}`).toHaveProperty(variable);
      }
    }
    expect(new Set(nodes.map((name) => compose.services[name]?.environment?.CONCORD_HARDWARE)).size).toBe(5);
  });
});

describe("deploy/Dockerfile and deploy/concord-node.service", () => {
  it("builds on node:24-slim with npm ci and runs concord node", () => {
    const dockerfile = read("deploy/Dockerfile");
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-slim$/m);
    expect(dockerfile).toMatch(/^FROM \$\{NODE_IMAGE\}$/m);
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev/m);
    expect(dockerfile).toContain('ENTRYPOINT ["node", "bin/concord.js"]');
    expect(dockerfile).toContain('CMD ["node"]');
    expect(dockerfile).toMatch(/^USER node$/m);
    for (const variable of dockerfile.match(/CONCORD_[A-Z_]+(?==)/g) ?? []) expect(NODE_ENV_VARS).toHaveProperty(variable);
  });

  it("the systemd unit runs concord node, restarts on failure, stops with SIGTERM", () => {
    const unit = read("deploy/concord-node.service");
    expect(unit).toMatch(/^ExecStart=.*concord node --config \/etc\/concord\/node\.json$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    for (const variable of unit.match(/CONCORD_[A-Z_]+(?==)/g) ?? []) expect(NODE_ENV_VARS).toHaveProperty(variable);
    for (const section of ["[Unit]", "[Service]", "[Install]"]) expect(unit).toContain(section);
  });
});

describe("README: the node-runner section lists every CONCORD_* variable", () => {
  it("names each one", () => {
    const readme = read("README.md");
    for (const variable of Object.keys(NODE_ENV_VARS)) expect(readme, variable).toContain(`\`${variable}\``);
  });
});
