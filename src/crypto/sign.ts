/** Signing and verifying whole messages: the signature covers the signing root of the body. */
import { bodyBytes } from "../wire/ids.ts";
import type { Bytes, Message } from "../wire/types.ts";
import { signBatch, verifySignature } from "./batch.ts";
import { signRoot, signingRoot, type KeyPair, type PublicKey } from "./schemes.ts";

type Signed = Extract<Message, { sig: Bytes }>;
export type Unsigned<M extends Signed> = Omit<M, "sig">;

/** The root `key` signs for this message. */
export function messageSigningRoot(scheme: KeyPair["scheme"], message: Unsigned<Signed> | Signed): Bytes {
  return signingRoot(scheme, message.t, message.chain, bodyBytes(message as Signed));
}

/**
 * Called with the signing root just before a signature is made; throwing refuses the signature.
 * Nodes pass their slashing-protection check here, so no signature escapes it.
 */
export type SignGuard = (root: Bytes) => void;

/** Returns the message with its signature. */
export function signMessage<M extends Signed>(key: KeyPair, body: Unsigned<M>, guard?: SignGuard): M {
  const root = messageSigningRoot(key.scheme, body);
  guard?.(root);
  return { ...body, sig: signRoot(key, root) } as M;
}

/**
 * Signs messages of one chain with one batch signature (spec/04, "Batch signatures"); one body
 * gets a plain signature. `guard` sees every signing root before the one signature is made.
 */
export function signMessages<M extends Signed>(key: KeyPair, bodies: readonly Unsigned<M>[], guard?: SignGuard): M[] {
  const roots = bodies.map((body) => messageSigningRoot(key.scheme, body));
  if (guard) roots.forEach(guard);
  return signWithRoots(key, bodies, roots);
}

/**
 * signMessages for a caller that holds the bodies' signing roots already (messageSigningRoot, as
 * a node computes them for slashing protection before it signs): `roots[i]` must be `bodies[i]`'s.
 */
export function signWithRoots<M extends Signed>(key: KeyPair, bodies: readonly Unsigned<M>[], roots: readonly Bytes[]): M[] {
  const chain = bodies[0]?.chain;
  if (bodies.some((body) => body.chain !== chain)) throw new Error("signMessages: one batch, one chain");
  const sigs = signBatch(key, chain as string, roots);
  return bodies.map((body, i) => ({ ...body, sig: sigs[i] }) as M);
}

/** True iff the message's signature, plain or batch, is valid under `key`. Never throws. */
export function verifyMessage(key: PublicKey, message: Signed): boolean {
  return verifySignature(key, message.chain, messageSigningRoot(key.scheme, message), message.sig);
}
