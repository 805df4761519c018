import { isConcordError } from "../errors.ts";
import { verifyBundle } from "../quorum/verify.ts";
import { defaultPolicies, readMessageFile, readRegistryFile } from "./io.ts";

export interface VerifyResult {
  valid: boolean;
  lines: string[];
}

/** Verifies a bundle file against a registry; says why it is valid or which check failed. */
export function verifyCommand(file: string, options: { registry: string }): VerifyResult {
  const registry = readRegistryFile(options.registry);
  const message = readMessageFile(file);
  if (message.t !== "bundle") return { valid: false, lines: [`not a bundle: the file holds a ${message.t} message`] };
  try {
    const { context, outcome } = verifyBundle(message, registry, defaultPolicies(), { allowRetired: true });
    const { request } = message;
    return {
      valid: true,
      lines: [
        `valid bundle for request ${context.idHex}`,
        `  chain ${registry.chain}, policy ${request.policy.id}@${request.policy.version}, ${request.mode}, n=${request.n}, k=${request.k}`,
        `  committee (redrawn from the registry): ${context.committee.join(", ")}`,
        `  signatures: ${request.mode === "direct" ? "request and every output" : "close and every reveal's commitment"} check out`,
        `  supporters (${outcome.supporters.length}): ${outcome.supporters.join(", ")}`,
        `  output: ${JSON.stringify(outcome.output.length > 200 ? `${outcome.output.slice(0, 200)}…` : outcome.output)}`,
      ],
    };
  } catch (error) {
    if (!isConcordError(error)) throw error;
    return { valid: false, lines: [`invalid bundle: ${error.code}: ${error.message}`] };
  }
}
