// The console's views in headless Chromium on `switchyard ui` (browser mode) with the
// real demo cluster: the same flows as the desktop app's window test, and a screenshot
// of every view in target/screenshots/browser.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type Console, launchChromium, screenshotDir, startConsole, watchErrors } from "./support";

let console_: Console;
let browser: Browser;
let page: Page;
let errors: string[];
const shots = screenshotDir();

beforeAll(async () => {
  console_ = await startConsole();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  errors = watchErrors(page);
});

afterAll(async () => {
  await browser?.close();
  await console_?.stop();
});

async function open(hash: string) {
  await page.goto(`${console_.url}/${hash}`);
}

async function shot(name: string) {
  await page.screenshot({ path: join(shots, `${name}.png`) });
}

interface SagaRow {
  saga_id: string;
  failed_step: string | null;
}

async function api<T>(path: string): Promise<T> {
  const response = await fetch(`${console_.url}/api${path}`);
  expect(response.status, path).toBe(200);
  return (await response.json()) as T;
}

/** Polls `check` until it holds (the demo produces traffic at its own pace). */
async function eventually<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 500));
  }
}

test("the overview shows the demo cluster connected", async () => {
  await open("#/");
  await page.locator("[data-cluster=demo] [data-testid=agent-health]").filter({ hasText: "connected" }).waitFor({ timeout: 30_000 });
  await shot("overview");
});

test("a failed saga opens on its failing step", async () => {
  const failed = await eventually("a failed saga", async () => {
    const rows = await api<SagaRow[]>("/sagas?failed&limit=20");
    return rows.find((r) => r.failed_step);
  });
  await open("#/sagas?failed");
  const row = page.locator(`tr[data-saga-id="${failed.saga_id}"]`);
  await row.waitFor({ timeout: 30_000 });
  expect(await row.getAttribute("data-failed")).toBe("true");
  await shot("sagas");
  await row.click();
  await page.locator("[data-testid=saga-flow]").waitFor();
  await expect.poll(() => page.locator("[data-testid=failing-step]").textContent()).toBe(failed.failed_step);
  expect(await page.locator(`[data-testid=saga-flow] [data-step="${failed.failed_step}"][data-step-status=failed]`).count()).toBeGreaterThan(0);
  await shot("saga");

  // The saga exports as OTLP JSON: every line an export request with its spans.
  const text = await downloaded("[data-testid=export-saga]");
  const lines = text.trim().split("\n").map((line) => JSON.parse(line));
  expect(lines.length).toBeGreaterThan(0);
  expect(JSON.stringify(lines)).toContain(failed.saga_id);
});

/** Clicks `selector` and reads the file it downloads. */
async function downloaded(selector: string): Promise<string> {
  const [download] = await Promise.all([page.waitForEvent("download"), page.locator(selector).click()]);
  const path = await download.path();
  return readFileSync(path!, "utf8");
}

async function command(breaker: string, action: string) {
  const row = page.locator(`[data-breaker="${breaker}"]`);
  await row.locator(`button[data-action=${action}]`).click();
  await page.locator("[data-testid=confirm]").click();
  const answer = page.locator("[data-testid=answer]");
  await answer.waitFor();
  expect(await answer.textContent()).toContain(action);
  await page.locator("[data-testid=close]").click();
}

test("a breaker tripped from the board opens, and a reset closes it", async () => {
  await open("#/breakers");
  const first = page.locator("[data-breaker][data-state=closed]").first();
  await first.waitFor({ timeout: 30_000 });
  const breaker = (await first.getAttribute("data-breaker"))!;
  await shot("breakers");
  await command(breaker, "trip");
  await page.locator(`[data-breaker="${breaker}"][data-state=open]`).waitFor({ timeout: 30_000 });
  await shot("breakers-tripped");
  await command(breaker, "reset");
  await page.locator(`[data-breaker="${breaker}"][data-state=closed]`).waitFor({ timeout: 30_000 });

  await open("#/history");
  await page.locator("tr[data-command-id]").first().waitFor();
  expect(await page.locator("tr[data-command-id]").count()).toBeGreaterThanOrEqual(2);
  await shot("history");
});

test("traces search and a trace's waterfall", async () => {
  const page1 = await eventually("a stored trace", async () => {
    const found = await api<{ traces: { trace_id: string; span_count: number }[] }>("/traces?limit=5");
    return found.traces.length ? found : null;
  });
  await open("#/traces");
  const row = page.locator("tr[data-trace-id]").first();
  await row.waitFor({ timeout: 30_000 });
  await shot("traces");
  const id = page1.traces[0].trace_id;
  await open(`#/traces/${id}`);
  await page.locator("[data-testid=waterfall] [data-span-id]").first().waitFor();
  expect(await page.evaluate(() => document.body.dataset.waterfallPainted)).toBe(String(page1.traces[0].span_count));
  await shot("trace");

  // Exported, then imported again through the file picker (as a dropped file is).
  const text = await downloaded("[data-testid=export-trace]");
  expect(JSON.parse(text).resourceSpans.length).toBeGreaterThan(0);
  const file = join(mkdtempSync(join(tmpdir(), "switchyard-export-")), `trace-${id}.json`);
  writeFileSync(file, text);
  await open("#/traces");
  await page.locator("[data-testid=import-file]").setInputFiles(file);
  const toast = page.locator("[data-testid=import-toast][data-state=ok]");
  await toast.waitFor({ timeout: 30_000 });
  const spans = page1.traces[0].span_count;
  expect(await toast.textContent()).toContain(`imported ${spans} span${spans === 1 ? "" : "s"}`);
});

test("routes, findings and settings render, in both themes", async () => {
  await open("#/routes");
  await page.locator("[data-route=catalog]").waitFor({ timeout: 30_000 });
  await shot("routes");
  await open("#/findings");
  await page.locator("main h1").waitFor();
  await shot("findings");
  await open("#/settings");
  await page.locator("form[data-testid=cluster-form]").waitFor();
  await shot("settings");
  await page.locator("[data-testid=theme]").click();
  await open("#/");
  await page.locator("[data-cluster=demo]").waitFor();
  await shot("overview-other-theme");
});

test("the UI threw no errors", () => {
  expect(errors).toEqual([]);
});
