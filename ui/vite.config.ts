import { defineConfig } from "vitest/config";

// No framework plugin: Preact's JSX is compiled by Vite's own transformer.
export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  // `npm run dev` talks to a running `switchyard ui` (its API on :7788).
  server: { proxy: { "/api": { target: "http://127.0.0.1:7788", changeOrigin: false } } },
  build: { target: "es2022", chunkSizeWarningLimit: 600 },
  test: { include: ["test/**/*.test.ts", "test/**/*.test.tsx"] },
});
