/**
 * The public face of src/crypto: every name listed explicitly, so a reader sees where each lives.
 */
export { SCHEMES, schemeHash, signingPreimage, signingRoot, keyPairFromSeed, signRoot, publicKey } from "./schemes.ts";
export type { KeyPair, PublicKey, PublicKeyOptions } from "./schemes.ts";
export { messageSigningRoot, signMessage, signMessages, signWithRoots, verifyMessage } from "./sign.ts";
export { batchLeaf, batchNode, batchLevels, batchPath, batchRootFromPath, batchSigningPreimage, batchSigningRoot, signBatch, verifySignature } from "./batch.ts";
export type { Unsigned, SignGuard } from "./sign.ts";
export { KEYSTORE_FORMAT, KEYSTORE_VERSION, KEYSTORE_MODE, generateKeyPair, keystoreToJson, keystoreFromJson, writeKeystore, generateKeystore, readKeystore } from "./keystore.ts";
export type { KeystoreJson, Keystore, WriteKeystoreOptions } from "./keystore.ts";
