import { defineConfig } from "vitest/config";

// No framework plugin: Preact's JSX is compiled by Vite's own transformer.
export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  // `npm run dev` talks to a running `switchyard ui` (its API on :7788 unless SWITCHYARD_API says).
  server: { proxy: { "/api": { target: process.env.SWITCHYARD_API ?? "http://127.0.0.1:7788", changeOrigin: true } } },
  build: { target: "es2022", chunkSizeWarningLimit: 600 },
  test: { include: ["test/**/*.test.ts", "test/**/*.test.tsx"] },
});
