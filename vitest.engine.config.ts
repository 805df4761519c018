import { defineConfig } from "vitest/config";

// `npm run test:engine`: the e2e tests against a real llama-server (test/e2e/engine-*.test.ts),
// after scripts/engine/build-llama.sh has built it (cached). One file at a time: each starts
// its own servers on a 2-core machine.
export default defineConfig({
  test: {
    include: ["test/e2e/engine-*.test.ts"],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 900_000,
  },
});
