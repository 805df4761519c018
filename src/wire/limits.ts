/** Protocol constants and size limits (spec/02-constants.md). A decoder rejects anything larger. */

export const PROTOCOL_VERSION = 1;

/**
 * Largest encoded message of any kind; gossip's max message size follows it. 4 MiB less 64 KiB:
 * gossipsub cannot frame more than 4 MiB, RPC framing included.
 */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024 - 64 * 1024;

/**
 * Most messages in one envelope (encoding.ts "Envelopes"): a receiver decodes each, so the cap
 * bounds what one gossip message can make it do. A signer's default batch fills one envelope.
 */
export const MAX_ENVELOPE_ITEMS = 64;

/** Largest encoded message per kind. */
export const MAX_KIND_BYTES = {
  request: 160 * 1024,
  commitment: 1024,
  close: 16 * 1024,
  reveal: 200 * 1024,
  output: 200 * 1024,
  bundle: MAX_MESSAGE_BYTES,
  "no-agreement": 64 * 1024,
  equivocation: 404 * 1024,
} as const;

export const MAX_CHAIN_ID_BYTES = 64;
export const MAX_NODE_ID_BYTES = 64;
export const MAX_MODEL_ID_BYTES = 128;
export const MAX_INPUT_BYTES = 128 * 1024;
export const MAX_OUTPUT_BYTES = 64 * 1024;
/** Most generated tokens a request may ask for (and evidence may carry). */
export const MAX_TOKENS = 8192;
/** Largest committee. */
export const MAX_COMMITTEE = 64;
export const MAX_POLICY_ID_BYTES = 32;
/** Policy parameters: nesting depth, entries per map or list, bytes per string. */
export const MAX_PARAM_DEPTH = 4;
export const MAX_PARAM_ENTRIES = 64;
export const MAX_PARAM_TEXT_BYTES = 1024;
export const MAX_VOTES_PER_BUNDLE = MAX_COMMITTEE;

/**
 * A request or bundle whose request's deadline is this far behind the receiver's clock is STALE
 * (reject, spec/07): an honest peer relays only what it accepted before the deadline, so a copy
 * this late is a replay. The margin covers honest clock skew and delays in gossip (queues, event
 * loop lag, IWANT from the message cache), with room to spare.
 */
export const STALE_AFTER_MS = 30_000;

export const HASH_BYTES = 32;
export const SALT_BYTES = 32;
/** ed25519 signatures are 64 bytes, secp256k1 recoverable ones 65 (r || s || v). */
export const MIN_SIGNATURE_BYTES = 64;
export const MAX_SIGNATURE_BYTES = 65;
