/**
 * Concord's message types (spec/01-types.md). Every field is an integer, text, bytes, a list or
 * a map: no floats anywhere on the wire, so every implementation encodes and compares alike.
 * Fractions are fixed point: `*Milli` is 1/1,000, `*Ppm` is 1/1,000,000.
 */

export type Bytes = Uint8Array;

/** Signing schemes a registry entry or the sequencer may use. */
export type SchemeName = "ed25519" | "secp256k1";

/** How a request's committee attests: commit-then-reveal (default) or signed outputs outright. */
export type AttestationMode = "commit-reveal" | "direct";

/** Sampling parameters, fixed point. temperatureMilli 0 means greedy decoding. */
export interface SamplingParams {
  /** Temperature in 1/1000 (700 = 0.7). 0 = greedy. */
  temperatureMilli: number;
  /** Keep the k most likely tokens; 0 = no top-k filter. */
  topK: number;
  /** Nucleus mass in 1/1,000,000 (1_000_000 = no top-p filter). */
  topPPpm: number;
  /** Most tokens to generate. */
  maxTokens: number;
}

/** Policy parameters: a small tree of integers, text, booleans, lists and maps (no floats). */
export type PolicyParamValue = number | string | boolean | PolicyParamValue[] | { [key: string]: PolicyParamValue };
export type PolicyParams = { [key: string]: PolicyParamValue };

export interface PolicyRef {
  id: string;
  version: number;
  params: PolicyParams;
}

/**
 * Evidence a reveal carries for its policy. For decoders: `tokens` are the generated token ids
 * and `margins` the per-step decision margins in millionths (of a nat for greedy decoding, of
 * probability mass for sampled decoding) (see spec/09-policies.md).
 */
export interface Evidence {
  tokens: number[];
  margins: number[];
}

export interface InferenceRequestBody {
  t: "request";
  v: number;
  chain: string;
  /** Randomness from the chain (e.g. a block hash): binds the request id, hence the committee. */
  entropy: Bytes;
  model: string;
  /** Optional digest of the model weights the caller requires. */
  weights?: Bytes;
  input: string;
  sampling: SamplingParams;
  policy: PolicyRef;
  mode: AttestationMode;
  n: number;
  k: number;
  /** Unix time in ms after which an undecided request resolves to NoAgreement. */
  deadline: number;
}
export interface InferenceRequest extends InferenceRequestBody {
  sig: Bytes;
}

export interface OutputCommitmentBody {
  t: "commitment";
  v: number;
  chain: string;
  request: Bytes;
  node: string;
  /** H(domain, request, node, payload hash, salt): see spec/03-encoding.md. */
  commitment: Bytes;
}
export interface OutputCommitment extends OutputCommitmentBody {
  sig: Bytes;
}

/** A commitment as the close lists it: the node and its commitment hash. */
export interface CommitmentRef {
  node: string;
  commitment: Bytes;
}

export interface CommitCloseBody {
  t: "close";
  v: number;
  chain: string;
  request: Bytes;
  /** The commitments that count, sorted by node id, one per node. */
  commitments: CommitmentRef[];
}
export interface CommitClose extends CommitCloseBody {
  sig: Bytes;
}

/**
 * Opens a commitment. It is valid only if it opens a commitment listed in the close. It also
 * carries the node's signature over that commitment, so a reveal alone proves what its node
 * committed to: bundles and equivocation evidence need nothing else.
 */
export interface OutputReveal {
  t: "reveal";
  v: number;
  chain: string;
  request: Bytes;
  node: string;
  output: string;
  evidence?: Evidence;
  salt: Bytes;
  /** The node's signature over its OutputCommitment (rebuilt from this reveal). */
  commitmentSig: Bytes;
}

/** Direct mode: a node signs its output outright (no commit phase). */
export interface SignedOutputBody {
  t: "output";
  v: number;
  chain: string;
  request: Bytes;
  node: string;
  output: string;
  evidence?: Evidence;
}
export interface SignedOutput extends SignedOutputBody {
  sig: Bytes;
}

/** What agreed: the canonical output, its hash, and the nodes that support it (sorted). */
export interface Outcome {
  output: string;
  outputHash: Bytes;
  supporters: string[];
}

/**
 * A request as a bundle carries it. Commit-reveal bundles carry the body only: the close signs
 * the request id, which is the hash of the body, so a request signature would be redundant and,
 * unchecked, malleable. Direct-mode bundles carry the signed request.
 */
export type BundledRequest = InferenceRequestBody & { sig?: Bytes };

export interface AgreedBundle {
  t: "bundle";
  v: number;
  chain: string;
  request: BundledRequest;
  /** Commit-reveal mode: the sequencer's close (its signature also vouches for the request id). */
  close?: CommitClose;
  /** Commit-reveal mode: the reveals the decision used, sorted by node id. */
  reveals: OutputReveal[];
  /** Direct mode: the signed outputs the decision used, sorted by node id. */
  outputs: SignedOutput[];
  outcome: Outcome;
}

export interface Cluster {
  /** Hash of the cluster's representative output. */
  outputHash: Bytes;
  /** Nodes whose output falls in this cluster, sorted. */
  members: string[];
}

export interface NoAgreementBody {
  t: "no-agreement";
  v: number;
  chain: string;
  request: Bytes;
  reason: "deadline" | "exhausted";
  clusters: Cluster[];
}
export interface NoAgreement extends NoAgreementBody {
  sig: Bytes;
}

/** Two signed messages from one node for one request that differ: slashable. */
export interface EquivocationEvidence {
  t: "equivocation";
  v: number;
  chain: string;
  first: OutputCommitment | SignedOutput;
  second: OutputCommitment | SignedOutput;
}

export type Message =
  | InferenceRequest
  | OutputCommitment
  | CommitClose
  | OutputReveal
  | SignedOutput
  | AgreedBundle
  | NoAgreement
  | EquivocationEvidence;

export type MessageKind = Message["t"];
