import { configDefaults, defineConfig } from "vitest/config";

// The engine e2e tests need llama-server built from source: they run in `npm run test:engine`
// (vitest.engine.config.ts), which CI runs after `npm test`.
export default defineConfig({
  test: {
    exclude: [...configDefaults.exclude, "test/e2e/engine-*.test.ts"],
  },
});
