/** Signing and verifying whole messages: the signature covers the signing root of the body. */
import { bodyBytes } from "../wire/ids.ts";
import type { Bytes, Message } from "../wire/types.ts";
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

/** True iff the message's signature is valid under `key`. Never throws. */
export function verifyMessage(key: PublicKey, message: Signed): boolean {
  return key.verify(messageSigningRoot(key.scheme, message), message.sig);
}
