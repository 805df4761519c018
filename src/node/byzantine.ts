/**
 * Byzantine behaviours: a testing aid, for end-to-end tests and `concord demo --byzantine`.
 * Never run them on a real network: they sign what an honest node must never sign and get the
 * node slashed and graylisted, which is the point of them.
 *
 * The honest Participant stays untouched. A behaviour wraps what the daemon hands it: the
 * backend it runs, the publish function its messages go out through, and a view of every
 * message it accepted from the network. With no behaviour the daemon wires the honest path
 * directly.
 *
 * - wrong-model: runs another model (another seed; with llama, a random-weight copy of the model
 *   file): valid messages, outvoted.
 * - equivocator: for every commitment (or direct-mode output) it signs, signs a second, different
 *   one and publishes both. The second signature skips its own slashing protection, which is
 *   exactly what an honest node can never do; every peer turns the pair into evidence. (It does
 *   not see its own second message, so a direct-mode bundle it aggregates itself still counts its
 *   first output, validly signed: verifyBundle cannot know about evidence.)
 * - invalid-signature: publishes its commitments, outputs and reveals with corrupted signatures
 *   (the reveal early, right after the commitment, since no close ever lists a rejected one), and
 *   its own vote corrupted inside any bundle it aggregates.
 * - random-bytes: never sends a valid message; for every request it sees it publishes random
 *   bytes on every topic, and its own messages are replaced by random bytes.
 * - copycat: runs no model. Commit-reveal: copies the first commitment hash another member
 *   publishes, signs it as its own, and once that member reveals, "reveals" the copied output,
 *   which cannot open a commitment that binds the other node's id. Direct mode: re-signs the
 *   first output another member publishes as its own (and is counted: direct mode's weakness).
 */
import { basename, join } from "node:path";
import type { KeyPair } from "../crypto/schemes.ts";
import { messageSigningRoot, signMessage, type Unsigned } from "../crypto/sign.ts";
import { ConcordError } from "../errors.ts";
import { commitmentSalt } from "../quorum/attest.ts";
import type { RequestBook } from "../quorum/book.ts";
import type { InferenceBackend, InferenceJob, InferenceResult } from "../runner/backend.ts";
import { writeRandomWeightModel } from "../runner/gguf.ts";
import { taggedHash, toHex } from "../wire/hash.ts";
import { PROTOCOL_VERSION } from "../wire/limits.ts";
import type { Bytes, Message, OutputCommitment, OutputReveal, SignedOutput } from "../wire/types.ts";
import { BYZANTINE_MODES, type BackendConfig, type ByzantineMode } from "./config.ts";
import type { ParticipantLogger } from "./participant.ts";
import type { SigningRecord } from "./slashing.ts";

export { BYZANTINE_MODES, type ByzantineMode };

export interface ByzantineInit {
  mode: ByzantineMode;
  nodeId: string;
  key: KeyPair;
  /** The participant's book (set once the participant exists): requests, committees, closes. */
  book: () => RequestBook | undefined;
  /** The node's slashing protection (the copycat's copied commitment goes through it). */
  slashing: { checkAndInsert(record: SigningRecord): unknown };
  /** Publishes a message as it is. */
  send: (message: Message) => Promise<void>;
  /** Publishes raw bytes on a topic. */
  sendRaw: (topic: string, payload: Uint8Array) => Promise<void>;
  /** Every topic of the node's chain. */
  topics: readonly string[];
  /** The topic a message kind travels on. */
  topicOf: (kind: Message["t"]) => string;
  logger: ParticipantLogger;
}

export interface ByzantineBehaviour {
  readonly mode: ByzantineMode;
  /** Wraps the backend the participant runs. */
  backend(honest: InferenceBackend): InferenceBackend;
  /** Everything the participant publishes goes out through here. */
  publish(message: Message): Promise<void>;
  /** Sees every message the participant accepted from the network. */
  observe(message: Message): void;
  stop(): void;
}

/** The wrong model's seed: the same for every wrong-model node. */
const WRONG_MODEL_SEED = "byzantine-wrong-model";

/**
 * Wrong model: the same backend type running another model. Synthetic and fixed: another seed.
 * llama: a random-weight copy of the configured GGUF (same architecture, shapes and tokenizer;
 * seeded noise for every weight: src/runner/gguf.ts), written into the node's data folder. Every
 * wrong-model node gets the same wrong model, as with the seeds, so two of them agree with each
 * other. An OpenAI-compatible server has no model to swap from here: give that node another server.
 */
export function wrongModelBackend(config: BackendConfig, options: { dataDir: string }): BackendConfig {
  if (config.type === "openai") {
    throw new ConcordError("CONFIG", "byzantine wrong-model needs the synthetic, fixed or llama backend", {
      details: "an OpenAI-compatible server has no model seed to change: point this node at a server running another model",
    });
  }
  if (config.type === "llama") {
    const modelFile = join(options.dataDir, `wrong-model-${basename(config.modelFile)}`);
    writeRandomWeightModel(config.modelFile, modelFile, WRONG_MODEL_SEED);
    return { ...config, modelFile };
  }
  return { ...config, modelSeed: `${config.modelSeed}/${WRONG_MODEL_SEED}` };
}

/** A copy of a signature with one bit flipped: the same length, never valid. */
export function corruptSignature(sig: Bytes): Bytes {
  const copy = Uint8Array.from(sig);
  copy[0] = (copy[0] ?? 0) ^ 0x01;
  return copy;
}

/** Seeded byte stream: H(seed, counter) blocks. */
function byteStream(seed: Bytes): (length: number) => Uint8Array {
  let counter = 0;
  return (length) => {
    const out = new Uint8Array(length);
    for (let offset = 0; offset < length; offset += 32) {
      const block = taggedHash("concord/byzantine/random-bytes", seed, String(counter++));
      out.set(block.subarray(0, Math.min(32, length - offset)), offset);
    }
    return out;
  };
}

const isOwn = (nodeId: string, message: Message): message is OutputCommitment | SignedOutput | OutputReveal =>
  (message.t === "commitment" || message.t === "output" || message.t === "reveal") && message.node === nodeId;

const passThrough = (honest: InferenceBackend) => honest;

export function createByzantineBehaviour(init: ByzantineInit): ByzantineBehaviour {
  switch (init.mode) {
    case "wrong-model":
      // The daemon builds the backend with another seed (wrongModelBackend); nothing else differs.
      return { mode: init.mode, backend: passThrough, publish: init.send, observe() {}, stop() {} };
    case "equivocator":
      return equivocator(init);
    case "invalid-signature":
      return invalidSignature(init);
    case "random-bytes":
      return randomBytes(init);
    case "copycat":
      return copycat(init);
  }
}

function equivocator(init: ByzantineInit): ByzantineBehaviour {
  const { nodeId, key, send, logger } = init;
  return {
    mode: "equivocator",
    backend: passThrough,
    async publish(message) {
      const first = send(message);
      if (!isOwn(nodeId, message) || message.t === "reveal") return first;
      // No slashing guard on this signature: an honest node's protection would refuse it.
      const second =
        message.t === "commitment"
          ? signMessage<OutputCommitment>(key, { t: "commitment", v: PROTOCOL_VERSION, chain: message.chain, request: message.request, node: nodeId, commitment: taggedHash("concord/byzantine/equivocation", message.commitment) })
          : signMessage<SignedOutput>(key, {
              t: "output",
              v: PROTOCOL_VERSION,
              chain: message.chain,
              request: message.request,
              node: nodeId,
              output: `${message.output} (equivocated)`,
              ...(message.evidence ? { evidence: message.evidence } : {}),
            });
      logger.debug({ request: toHex(message.request), kind: message.t }, "byzantine: equivocating");
      await Promise.all([first, send(second)]);
    },
    observe() {},
    stop() {},
  };
}

function invalidSignature(init: ByzantineInit): ByzantineBehaviour {
  const { nodeId, key, send } = init;
  /** The outputs the backend produced, by request: the early reveal needs them. */
  const results = new Map<string, InferenceResult>();
  return {
    mode: "invalid-signature",
    backend(honest) {
      return {
        name: honest.name,
        async run(job, signal) {
          const result = await honest.run(job, signal);
          results.set(toHex(job.requestId), result);
          if (results.size > 10_000) results.delete(results.keys().next().value as string);
          return result;
        },
      };
    },
    async publish(message) {
      if (message.t === "bundle") {
        // A bundle it aggregates holds its own vote, validly signed (the participant applied it
        // locally before it went out corrupted): corrupt it there too.
        const corruptOwn = <M extends { node: string }>(vote: M, field: keyof M & ("sig" | "commitmentSig")) =>
          vote.node === nodeId ? { ...vote, [field]: corruptSignature(vote[field] as Bytes) } : vote;
        return send({ ...message, reveals: message.reveals.map((r) => corruptOwn(r, "commitmentSig")), outputs: message.outputs.map((o) => corruptOwn(o, "sig")) });
      }
      if (!isOwn(nodeId, message)) return send(message);
      if (message.t === "reveal") return send({ ...message, commitmentSig: corruptSignature(message.commitmentSig) });
      await send({ ...message, sig: corruptSignature(message.sig) });
      const result = results.get(toHex(message.request));
      results.delete(toHex(message.request));
      if (message.t !== "commitment" || !result) return;
      // No close will list a rejected commitment, so the reveal goes out at once, also corrupted.
      const reveal: OutputReveal = {
        t: "reveal",
        v: PROTOCOL_VERSION,
        chain: message.chain,
        request: message.request,
        node: nodeId,
        output: result.output,
        evidence: result.evidence,
        salt: commitmentSalt(key, message.request),
        commitmentSig: corruptSignature(message.sig),
      };
      await send(reveal);
    },
    observe() {},
    stop() {},
  };
}

function randomBytes(init: ByzantineInit): ByzantineBehaviour {
  const { nodeId, key, sendRaw, topics, topicOf } = init;
  const next = byteStream(taggedHash("concord/byzantine/seed", key.publicKey));
  const spray = (topic: string) => {
    const length = 1 + (next(2).reduce((a, b) => a * 256 + b, 0) % 1024);
    return sendRaw(topic, next(length));
  };
  return {
    mode: "random-bytes",
    backend: passThrough,
    async publish(message) {
      // Its own protocol messages become random bytes on their topic; what it relays (bundles,
      // evidence it detected) is not its own and is dropped.
      if (isOwn(nodeId, message)) await spray(topicOf(message.t));
    },
    observe(message) {
      if (message.t !== "request") return;
      void Promise.all(topics.map(spray)).catch(() => undefined);
    },
    stop() {},
  };
}

interface Copied {
  /** The member whose commitment was copied. */
  victim: string;
  commitment: OutputCommitment;
}

function copycat(init: ByzantineInit): ByzantineBehaviour {
  const { nodeId, key, book, slashing, send, logger } = init;
  /** Per request: the first commitment (or direct output) seen from another member. */
  const firstSeen = new Map<string, OutputCommitment | SignedOutput>();
  const waiters = new Map<string, (message: OutputCommitment | SignedOutput) => void>();
  const copied = new Map<string, Copied>();
  let stopped = false;

  const remember = <V>(map: Map<string, V>, id: string, value: V) => {
    map.set(id, value);
    if (map.size > 10_000) map.delete(map.keys().next().value as string);
  };

  /** Waits for another member's first commitment or output on a request, until the deadline. */
  const firstOther = (job: InferenceJob, signal: AbortSignal | undefined): Promise<OutputCommitment | SignedOutput> => {
    const id = toHex(job.requestId);
    const seen = firstSeen.get(id);
    if (seen) return Promise.resolve(seen);
    const deadline = book()?.get(id)?.context.request.deadline ?? Date.now();
    return new Promise((resolve, reject) => {
      const fail = () => {
        waiters.delete(id);
        clearTimeout(timer);
        reject(new ConcordError("BACKEND", "copycat: nothing to copy before the deadline"));
      };
      const timer = setTimeout(fail, Math.max(0, deadline - Date.now()));
      signal?.addEventListener("abort", fail, { once: true });
      waiters.set(id, (message) => {
        waiters.delete(id);
        clearTimeout(timer);
        signal?.removeEventListener("abort", fail);
        resolve(message);
      });
    });
  };

  return {
    mode: "copycat",
    backend(honest) {
      return {
        name: `copycat(${honest.name})`,
        async run(job, signal) {
          const other = await firstOther(job, signal);
          if (other.t === "output") {
            // Direct mode: the copied output goes back to the participant, which signs it as its own.
            logger.debug({ request: toHex(job.requestId), from: other.node }, "byzantine: copying an output");
            return { output: other.output, evidence: other.evidence ?? { tokens: [], margins: [] } };
          }
          const context = book()?.get(job.requestId)?.context;
          if (!context || stopped) throw new ConcordError("BACKEND", "copycat: request no longer followed");
          // A commitment of its own to another member's hash; slashing protection lets it through
          // (it is the first one for this request): only commit-reveal stops a copycat.
          const body: Unsigned<OutputCommitment> = { t: "commitment", v: PROTOCOL_VERSION, chain: other.chain, request: other.request, node: nodeId, commitment: other.commitment };
          const signingRoot = messageSigningRoot(key.scheme, body);
          await slashing.checkAndInsert({ chain: other.chain, request: other.request, node: nodeId, kind: "commitment", signingRoot, deadline: context.request.deadline });
          const commitment = signMessage<OutputCommitment>(key, body);
          remember(copied, context.idHex, { victim: other.node, commitment });
          logger.debug({ request: context.idHex, from: other.node }, "byzantine: copying a commitment");
          await send(commitment);
          // Nothing for the participant to commit: the copied commitment is out already.
          throw new ConcordError("BACKEND", "copycat: copied a commitment instead of running the model");
        },
      };
    },
    publish: send,
    observe(message) {
      if ((message.t === "commitment" || message.t === "output") && message.node !== nodeId) {
        const id = toHex(message.request);
        if (firstSeen.has(id)) return;
        remember(firstSeen, id, message);
        waiters.get(id)?.(message);
        return;
      }
      if (message.t !== "reveal") return;
      const id = toHex(message.request);
      const copy = copied.get(id);
      if (!copy || copy.victim !== message.node) return;
      copied.delete(id);
      // The copied output, opened against its own (copied) commitment: it cannot open it, since
      // the commitment hash binds the victim's node id.
      const reveal: OutputReveal = { ...message, node: nodeId, commitmentSig: copy.commitment.sig };
      logger.debug({ request: id, from: message.node }, "byzantine: revealing a copied output");
      void send(reveal).catch(() => undefined);
    },
    stop() {
      stopped = true;
      firstSeen.clear();
      copied.clear();
    },
  };
}
