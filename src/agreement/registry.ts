import { exactPolicy } from "./exact.ts";
import { PolicyRegistry } from "./policy.ts";

/** Every policy Concord ships, registered by id@version. */
export function createDefaultPolicyRegistry(): PolicyRegistry {
  return new PolicyRegistry().register(exactPolicy);
}
