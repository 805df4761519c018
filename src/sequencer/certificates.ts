/**
 * Certificates for the bundles a sequencer includes (spec/11-certificate.md): what it posts on
 * chain so that a contract can check, against one stored registry root, that k drawn committee
 * members signed the output. The pool's bundles are verified already; these functions derive and
 * encode, nothing more.
 *
 * @example
 * for (const { bundle, certificate } of await readyWithCertificates(pool, registry, { max: 64 })) {
 *   if (certificate) settleOnChain(certificate); // ABI bytes: the call's argument
 * }
 */
import { encodeCertificate } from "../cert/abi.ts";
import { certificateOf } from "../cert/derive.ts";
import { isConcordError } from "../errors.ts";
import type { Registry } from "../quorum/registry.ts";
import type { AgreedBundle, Bytes } from "../wire/types.ts";
import type { Pool } from "./pool.ts";

/**
 * The ABI-encoded certificate of a verified bundle. Throws CERT_UNSUPPORTED when fewer than k
 * supporters on secp256k1 keys signed exactly the canonical output (spec/11, "Derivation").
 */
export function bundleCertificate(bundle: AgreedBundle, registry: Registry): Bytes {
  return encodeCertificate(certificateOf(bundle, registry));
}

export interface ReadyWithCertificatesParameters {
  /** Most bundles, as `ready`. Default: `ready`'s (1,000). */
  max?: number;
}

export interface CertifiedBundle {
  bundle: AgreedBundle;
  /** The ABI-encoded certificate, or undefined when the bundle has none (`unsupported` says why). */
  certificate: Bytes | undefined;
  unsupported?: string;
}

export type ReadyWithCertificatesReturnType = CertifiedBundle[];

/**
 * `pool.ready()` with each bundle's certificate. A bundle without one (ed25519 supporters, or
 * supporters whose texts differ) is still handed out, with the reason: it is agreed all the same,
 * only not checkable on chain.
 */
export async function readyWithCertificates(
  pool: Pick<Pool, "ready">,
  registry: Registry,
  parameters: ReadyWithCertificatesParameters = {},
): Promise<ReadyWithCertificatesReturnType> {
  const bundles = await pool.ready(parameters.max === undefined ? {} : { max: parameters.max });
  return bundles.map((bundle) => {
    try {
      return { bundle, certificate: bundleCertificate(bundle, registry) };
    } catch (error) {
      if (!isConcordError(error, "CERT_UNSUPPORTED")) throw error;
      return { bundle, certificate: undefined, unsupported: error.message };
    }
  });
}
