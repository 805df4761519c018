/**
 * The policies every Concord process knows. Which one a request uses is the calling contract's
 * choice (its `PolicyRef`); there is no default policy, and first-wins is registered only so that
 * comparisons and benchmarks can name the baseline.
 */
import { exactPolicy } from "./exact.ts";
import { firstWinsPolicy } from "./first-wins.ts";
import { PolicyRegistry } from "./policy.ts";
import { seededPolicy } from "./seeded.ts";
import { semanticPolicy } from "./semantic.ts";
import { semanticGuardedPolicy } from "./semantic-guarded.ts";
import { structuredPolicy } from "./structured.ts";
import { structuredSchemaPolicy } from "./structured-schema.ts";

/** A registry holding exact@1, seeded@1, semantic@1, semantic@2, structured@1, structured@2 and first-wins@1. */
export function createDefaultPolicyRegistry(): PolicyRegistry {
  return new PolicyRegistry()
    .register(exactPolicy)
    .register(seededPolicy)
    .register(semanticPolicy)
    .register(semanticGuardedPolicy)
    .register(structuredPolicy)
    .register(structuredSchemaPolicy)
    .register(firstWinsPolicy);
}
