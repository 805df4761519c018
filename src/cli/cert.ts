import { encodeCertificate } from "../cert/abi.ts";
import { certificateOf } from "../cert/derive.ts";
import { certificateToJson } from "../cert/json.ts";
import { registryRoot } from "../cert/registry-root.ts";
import { verifyCertificate } from "../cert/verify.ts";
import { isConcordError } from "../errors.ts";
import { verifyBundle } from "../quorum/verify.ts";
import { toHex } from "../wire/hash.ts";
import { defaultPolicies, readMessageFile, readRegistryFile } from "./io.ts";

export interface CertResult {
  ok: boolean;
  text: string;
}

/**
 * The certificate of a bundle file (spec/11-certificate.md): the bundle is verified first
 * (verifyBundle), its certificate derived, checked with verifyCertificate against the registry
 * root, and printed as ABI hex and as JSON (`json`: the JSON alone, hex included).
 */
export function certCommand(file: string, options: { registry: string; json?: boolean }): CertResult {
  const registry = readRegistryFile(options.registry);
  const message = readMessageFile(file);
  if (message.t !== "bundle") return { ok: false, text: `not a bundle: the file holds a ${message.t} message` };
  try {
    verifyBundle(message, registry, defaultPolicies(), { allowRetired: true });
  } catch (error) {
    if (!isConcordError(error)) throw error;
    return { ok: false, text: `invalid bundle: ${error.code}: ${error.message}` };
  }
  try {
    const certificate = certificateOf(message, registry);
    const bytes = encodeCertificate(certificate);
    const root = registryRoot(registry);
    const verified = verifyCertificate(bytes, root);
    const hex = `0x${toHex(bytes)}`;
    const json = { registryRoot: `0x${toHex(root)}`, outputHash: `0x${toHex(verified.outputHash)}`, hex, certificate: certificateToJson(certificate) };
    if (options.json) return { ok: true, text: JSON.stringify(json, null, 2) };
    const { request } = message;
    return {
      ok: true,
      text: [
        `certificate for request ${toHex(verified.requestId)} (${bytes.length} bytes, ABI-encoded)`,
        `  ${request.mode}, n=${request.n}, k=${request.k}, policy ${request.policy.id}@${request.policy.version}; votes: ${verified.signers.join(", ")}`,
        `  registry root 0x${toHex(root)} (what a contract stores)`,
        `  output hash 0x${toHex(verified.outputHash)}`,
        `hex: ${hex}`,
        `json: ${JSON.stringify(json.certificate, null, 2)}`,
      ].join("\n"),
    };
  } catch (error) {
    if (!isConcordError(error)) throw error;
    return { ok: false, text: `no certificate: ${error.code}: ${error.message}` };
  }
}
