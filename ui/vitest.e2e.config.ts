import { defineConfig } from "vitest/config";

// The browser-mode end-to-end tests: real processes (`switchyard ui`, the demo agent)
// and Debian's Chromium through playwright-core, one file at a time.
export default defineConfig({
  test: {
    include: ["e2e/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
