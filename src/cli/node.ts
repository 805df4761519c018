import type { Command } from "commander";
import { BYZANTINE_MODES, NODE_ENV_VARS, parsePort, resolveNodeConfig, type NodeOverrides } from "../node/config.ts";
import { NodeDaemon } from "../node/daemon.ts";
import { DEFAULT_METRICS_HOST, DEFAULT_METRICS_PORT, DEFAULT_P2P_PORT } from "../node/defaults.ts";
import { HISTORY_LOST_FLAG } from "../node/history.ts";
import { probeOpenAIServer } from "../runner/openai.ts";

const collect = (value: string, previous: string[] = []) => [...previous, ...value.split(",").filter(Boolean)];

/** A signal repeated within this long of the first is the first passed on again, not a second. */
const REPEATED_SIGNAL_MS = 1_000;

export function addNodeCommand(program: Command): void {
  program
    .command("node")
    .description("run a Concord node: join the gossip network, serve requests for committees it is drawn into")
    .option("-c, --config <file>", "JSON config file (settings below; flags override it)")
    .option("--node <id>", "this node's id in the registry")
    .option("--keystore <file>", "key file written by `concord keys new`")
    .option("--registry <file>", "registry JSON: chain, sequencer key, nodes")
    .option("--data-dir <dir>", "folder for the slashing-protection database and the node's lock (default ~/.concord/<node id>)")
    .option("--listen <multiaddr>", `libp2p listen address, repeatable (default /ip4/0.0.0.0/tcp/${DEFAULT_P2P_PORT})`, collect)
    .option("--bootstrap <multiaddr>", "peer to dial at start, repeatable", collect)
    .option("--mdns", "discover peers on the local network with mDNS")
    .option("--peer-whitelist <entry>", "known peer, repeatable: a peer id, IP address or CIDR range exempt from the IP-colocation penalty and catch-up's per-IP budget (bootstrap peers are known already)", collect)
    .option("--backend <type>", "inference backend: synthetic (default), openai, llama (llama.cpp in-process, a GGUF model file), or fixed (not a model: hash-derived text after a fixed delay, for benchmarks and tests)")
    .option("--hardware <profile>", "synthetic backend: floating-point profile emulating this node's GPU; llama backend: the engine settings that profile names (batch size, attention kernel)")
    .option("--model-seed <seed>", "synthetic and fixed backends: weights seed (another seed = another model)")
    .option("--delay-ms <ms>", "synthetic and fixed backends: fixed extra latency per request", Number)
    .option("--openai-url <url>", "openai backend: server base URL (vLLM, SGLang, llama.cpp, Ollama)")
    .option("--openai-model <name>", "openai backend: model name to ask the server for")
    .option("--model-file <path>", "llama backend: the GGUF model file")
    .option("--threads <n>", "llama backend: CPU threads llama.cpp computes with (default 1)", Number)
    .option("--batch-size <n>", "llama backend: tokens per forward pass (default: the hardware profile's)", Number)
    .option("--context-size <n>", "llama backend: tokens per sequence, prompt plus maxTokens (default: the model's training context)", Number)
    .option("--context-sequences <n>", "llama backend: jobs served at once, one sequence each, batched together (default 1: batch-invariant)", Number)
    .option("--metrics-port <port>", `port of /metrics, /health and /ready (default ${DEFAULT_METRICS_PORT}; 0 = any free port)`, (value) => parsePort(value, "--metrics-port"))
    .option("--metrics-host <host>", `address the metrics endpoint binds (default ${DEFAULT_METRICS_HOST})`)
    .option("--no-metrics", "do not serve metrics")
    .option("--log-level <level>", "debug, info (default), warn or error")
    .option("--max-concurrent-jobs <n>", "inference jobs at once (default 2)", Number)
    .option("--max-requests <n>", "requests followed at once, each until 60 s past its deadline; past it new ones are ignored (default 10000: size it to your subnet's request rate × (deadline + 60 s))", Number)
    .option("--sign-batch-window-ms <ms>", "batch signatures: how long a commitment waits to share one signature with others (default 0: off)", Number)
    .option("--sign-batch-max <n>", "batch signatures: most messages under one signature (default 64)", Number)
    .option("--votes <route>", "gossip (default): votes travel through the subnet's gossip; sequencer: this node sends its votes straight to the sequencer's pool (it must be connected to it) and handles no other member's")
    .option("--byzantine <mode>", `TESTING AID, never on a real network: misbehave on purpose (${BYZANTINE_MODES.join(", ")}; wrong-model runs another model seed, or with llama a random-weight copy of --model-file written to the data dir)`)
    .option("--trace-file <file>", "benchmarks: append a timestamped JSON line for every protocol message this node publishes or accepts")
    .option(HISTORY_LOST_FLAG, "start although this node has signed before and its slashing-protection history is gone (import it instead when you can: concord slashing import)")
    .addHelpText(
      "after",
      [
        "",
        "Environment variables (flags win over them, they win over the config file):",
        ...Object.entries(NODE_ENV_VARS).map(([name, key]) => `  ${name.padEnd(22)} ${key}`),
        "",
        "Exit codes: 0 after a clean shutdown (SIGINT/SIGTERM), 2 on any configuration error",
        "(missing key, unreadable registry, key not registered, port in use, data directory in use,",
        "slashing-protection history lost, an openai backend with no server answering at its URL).",
      ].join("\n"),
    )
    .action(async (flags: Record<string, unknown>) => {
      const overrides: NodeOverrides = {
        ...(flags as NodeOverrides),
        ...(flags.metrics === false ? { noMetrics: true } : {}),
      };
      delete (overrides as Record<string, unknown>).metrics;
      delete (overrides as Record<string, unknown>).iKnowSlashingHistoryIsLost;
      const config = resolveNodeConfig(overrides, process.env);
      if (flags.iKnowSlashingHistoryIsLost === true) config.acceptLostSlashingHistory = true;
      // A node whose server is not there would log "node started" and then fail every request:
      // refuse to start instead (exit 2), so a supervisor restarts it until the server is up.
      if (config.backend.type === "openai") {
        const apiKey = config.backend.apiKeyEnv ? process.env[config.backend.apiKeyEnv] : undefined;
        const probe = await probeOpenAIServer({ baseUrl: config.backend.baseUrl, ...(apiKey ? { apiKey } : {}) });
        const model = config.backend.model;
        if (model !== undefined && probe.models !== undefined && !probe.models.some((id) => id === model || id.startsWith(`${model}:`))) {
          process.stderr.write(`concord: warning: the openai backend at ${config.backend.baseUrl} lists no model "${model}" (it lists: ${probe.models.join(", ") || "none"})\n`);
        }
      }
      const daemon = await NodeDaemon.load(config);
      // Signals that arrive while starting are honoured once the node is up (or has failed).
      let stopping: string | undefined;
      let stoppingSince = 0;
      let stopRequested: (signal: string) => void = (signal) => {
        stopping = signal;
      };
      const onSignal = (signal: NodeJS.Signals) => {
        if (stopping !== undefined) {
          // The same signal again at once is one Ctrl-C twice: the terminal's, and npm passing
          // it on (`npm run concord -- node`). Not a request to hurry.
          if (signal === stopping && Date.now() - stoppingSince < REPEATED_SIGNAL_MS) return;
          // A second signal while stopping: give up on a clean stop.
          process.stderr.write(`concord: ${signal} again, exiting now\n`);
          process.exit(1);
        }
        stoppingSince = Date.now();
        stopRequested(signal);
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      try {
        await daemon.start();
        await new Promise<void>((resolve) => {
          stopRequested = (signal) => {
            stopping = signal;
            daemon.lifecycle.info({ signal }, "shutting down");
            daemon.stop().then(resolve, resolve);
          };
          if (stopping !== undefined) stopRequested(stopping);
        });
        daemon.lifecycle.info({}, "node stopped");
        // Whatever a dependency leaves scheduled must not keep a stopped node alive.
        setTimeout(() => process.exit(process.exitCode ?? 0), 2_000).unref();
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
}
