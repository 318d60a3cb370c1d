#!/usr/bin/env node
// Sends one big trace to a receiver as OTLP JSON, for checking the waterfall at scale:
//
//   node scripts/big-trace.mjs [--spans 10000] [--url http://127.0.0.1:4318] [--chain] [--out file.json]
//
// A tree about ten levels deep (each span has a few children, each child in its slice
// of the parent's time), five services, attributes on every span, an event on every
// tenth and an error on every 97th; `--chain` makes every span the child of the one
// before (as deep as it is long). Split into requests of 5,000 spans, POSTed to
// URL/v1/traces as application/json. `--out` also writes the requests, one per line
// (as the Collector's file exporter does: what `POST /api/import` reads). Prints the
// trace id.

import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const N = Number(arg("spans", "10000"));
const url = arg("url", "http://127.0.0.1:4318").replace(/\/$/, "");
const chain = args.includes("--chain");
const out = arg("out", null);
const PER_REQUEST = 5000;
const SERVICES = ["gateway", "orders", "inventory", "payments", "shipping"];
const OPS = ["GET /items", "POST /orders", "reserve", "charge", "db.query", "cache.get", "publish", "render"];

const hex = (bytes) => randomBytes(bytes).toString("hex");
const traceId = hex(16);
const ids = Array.from({ length: N }, () => hex(8));
// Branching so the tree is about ten levels deep.
const branching = Math.max(2, Math.ceil(N ** (1 / 10)));
const parentOf = (i) => (i === 0 ? -1 : chain ? i - 1 : Math.floor((i - 1) / branching));

const rootStart = BigInt(Date.now() - 60_000) * 1_000_000n;
const rootDuration = 10_000_000_000; // 10 s
const start = new Float64Array(N); // ns offsets from the root's start
const length = new Float64Array(N);
const depth = new Int32Array(N);
start[0] = 0;
length[0] = rootDuration;
for (let i = 1; i < N; i++) {
  const p = parentOf(i);
  depth[i] = depth[p] + 1;
  if (chain) {
    start[i] = start[p] + length[p] * 0.0001;
    length[i] = length[p] * 0.9999;
  } else {
    const k = (i - 1) % branching;
    const slice = length[p] / branching;
    start[i] = start[p] + k * slice + slice * 0.05;
    length[i] = slice * 0.85;
  }
}

const str = (key, value) => ({ key, value: { stringValue: value } });
const int = (key, value) => ({ key, value: { intValue: String(value) } });
const ns = (offset) => (rootStart + BigInt(Math.round(offset))).toString();

function span(i) {
  const service = SERVICES[i === 0 ? 0 : (depth[i] + i) % SERVICES.length];
  const error = i > 0 && i % 97 === 0;
  const s = {
    traceId,
    spanId: ids[i],
    parentSpanId: i === 0 ? "" : ids[parentOf(i)],
    name: i === 0 ? "big-trace root" : `${OPS[i % OPS.length]} #${i}`,
    kind: (i % 3) + 1,
    startTimeUnixNano: ns(start[i]),
    endTimeUnixNano: ns(start[i] + length[i]),
    attributes: [str("http.route", `/r/${i % 50}`), int("span.index", i), int("depth", depth[i]), str("peer.service", SERVICES[(i + 1) % SERVICES.length])],
    status: error ? { code: 2, message: `injected failure at span ${i}` } : { code: 0 },
  };
  if (i % 10 === 0)
    s.events = [{ timeUnixNano: ns(start[i] + length[i] / 2), name: "checkpoint", attributes: [int("at", i)] }];
  return { service, span: s };
}

const requests = [];
for (let from = 0; from < N; from += PER_REQUEST) {
  const byService = new Map();
  for (let i = from; i < Math.min(N, from + PER_REQUEST); i++) {
    const { service, span: s } = span(i);
    if (!byService.has(service)) byService.set(service, []);
    byService.get(service).push(s);
  }
  requests.push({
    resourceSpans: [...byService].map(([service, spans]) => ({
      resource: { attributes: [str("service.name", service), str("host.name", "bench")] },
      scopeSpans: [{ scope: { name: "big-trace", version: "1" }, spans }],
    })),
  });
}

if (out) writeFileSync(out, requests.map((r) => JSON.stringify(r)).join("\n") + "\n");
if (!args.includes("--no-send")) {
  let bytes = 0;
  for (const request of requests) {
    const body = JSON.stringify(request);
    bytes += body.length;
    const response = await fetch(`${url}/v1/traces`, { method: "POST", headers: { "content-type": "application/json" }, body });
    if (!response.ok) {
      console.error(`POST ${url}/v1/traces: ${response.status} ${await response.text()}`);
      process.exit(1);
    }
  }
  console.error(`sent ${N} spans in ${requests.length} requests (${(bytes / 1e6).toFixed(1)} MB)`);
}
console.log(traceId);
