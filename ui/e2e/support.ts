// The processes behind a browser-mode test: `switchyard ui` on free ports with a fresh
// store and clusters file, the demo cluster exporting to it, and Debian's Chromium.
// The programs come from SWITCHYARD_BIN_DIR (`cargo xtask test` sets it), else the
// workspace's target/debug.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const workspace = resolve(here, "../..");

function binDir(): string {
  const dir = process.env.SWITCHYARD_BIN_DIR ?? join(process.env.CARGO_TARGET_DIR ?? join(workspace, "target"), "debug");
  for (const program of ["switchyard", "switchyard-agent"]) {
    if (!existsSync(join(dir, program))) {
      throw new Error(`${join(dir, program)} is missing: build the workspace first (cargo xtask test does), or set SWITCHYARD_BIN_DIR`);
    }
  }
  return dir;
}

/** Starts `program` and resolves with its first stdout line's `key=value` fields. */
function startReadingReadyLine(program: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; fields: Record<string, string> }> {
  const child = spawn(program, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  return new Promise((ok, fail) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", (line) => {
      const fields: Record<string, string> = {};
      for (const word of line.split(/\s+/)) {
        const at = word.indexOf("=");
        if (at > 0) fields[word.slice(0, at)] = word.slice(at + 1);
      }
      ok({ child, fields });
    });
    child.once("exit", (code) => fail(new Error(`${program} exited (${code}) before it was ready:\n${stderr}`)));
  });
}

export interface Console {
  url: string;
  otlpHttp: string;
  stop(): Promise<void>;
}

/** `switchyard ui` serving the built UI (ui/dist), then the demo cluster registered through the API. */
export async function startConsole(): Promise<Console> {
  const bin = binDir();
  const dist = join(workspace, "ui", "dist");
  if (!existsSync(join(dist, "index.html"))) throw new Error("ui/dist is not built: npm run build");
  const dir = mkdtempSync(join(tmpdir(), "switchyard-e2e-"));
  const env = { SWITCHYARD_CLUSTERS: join(dir, "clusters.toml"), SWITCHYARD_SETTINGS: join(dir, "settings.toml") };
  const ui = await startReadingReadyLine(
    join(bin, "switchyard"),
    ["ui", "--listen", "127.0.0.1:0", "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0", "--db", join(dir, "t.db"), "--ui-dir", dist],
    env,
  );
  const demo = await startReadingReadyLine(
    join(bin, "switchyard-agent"),
    ["demo", "--rate", "20", "--control", "127.0.0.1:0", "--otlp", `http://${ui.fields["otlp-grpc"]}`],
    env,
  );
  const url = ui.fields["ui"];
  const added = await fetch(`${url}/api/clusters`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "demo", view_only: false, agents: [{ endpoint: `http://${demo.fields["control"]}`, token: demo.fields["token"] }] }),
  });
  if (added.status !== 201) throw new Error(`adding the demo cluster: ${added.status} ${await added.text()}`);
  return {
    url,
    otlpHttp: `http://${ui.fields["otlp-http"]}`,
    async stop() {
      demo.child.kill("SIGKILL");
      const exited = new Promise((ok) => ui.child.once("exit", ok));
      ui.child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
  if (!existsSync(executablePath)) throw new Error(`${executablePath} is missing: apt-get install chromium (cargo xtask test does)`);
  return chromium.launch({
    executablePath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

/** Where a test's screenshots go: target/screenshots/browser. */
export function screenshotDir(): string {
  const dir = join(process.env.CARGO_TARGET_DIR ?? join(workspace, "target"), "screenshots", "browser");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Page errors fail the test: the UI must not throw. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  return errors;
}
