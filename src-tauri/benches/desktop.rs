//! The desktop app against its goals, in a real window (Xvfb + tauri-driver):
//!
//! - cold start to a usable window (the overview shows a cluster): < 2 s;
//! - idle memory of the whole app (the app and its WebKit processes): < 250 MB;
//! - first paint of a 10,000-span waterfall: < 300 ms;
//! - a 100,000-span trace opens without a crash.
//!
//! `cargo bench -p switchyard-desktop --bench desktop` (builds the app and needs
//! `switchyard-agent` built beside it: `cargo build --release -p switchyard-agent`).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message as _;
use rand::{Rng, SeedableRng as _};
use serde_json::json;
use support::{Desktop, Display, Driver, Session, procs};
use switchyard_testkit::{kv_int, kv_str, now_nanos, resource, scope};

const APP: &str = env!("CARGO_BIN_EXE_switchyard-desktop");
const COLD_STARTS: usize = 5;
const FIRST_PAINTS: usize = 5;
const IDLE: Duration = Duration::from_secs(10);
/// Under the receiver's 16 MiB request limit with room to spare.
const SPANS_PER_REQUEST: usize = 5_000;

fn main() {
    // `cargo bench ... -- start|memory|paint|large` runs only those (cargo adds `--bench`).
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let run = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let display = Display::start();
    let mut rows: Vec<[String; 3]> = Vec::new();

    // Cold starts: a fresh app (fresh store, fresh demo) each time.
    let mut starts = Vec::new();
    for _ in 0..if run("start") { COLD_STARTS } else { 0 } {
        let desktop = Desktop::new(Path::new(APP));
        let driver = Driver::start(&display, &desktop.launch);
        let started = Instant::now();
        let session = driver.session(&desktop.launch);
        session.wait_for("[data-cluster]", Duration::from_secs(60));
        starts.push(started.elapsed());
        session.delete();
    }
    if !starts.is_empty() {
        starts.sort();
        let median = starts[starts.len() / 2];
        let max = *starts.last().expect("runs");
        let all: Vec<u128> = starts.iter().map(|d| ms(*d)).collect();
        println!("cold starts (ms): {all:?}");
        rows.push([
            "cold start to a usable window".into(),
            format!(
                "median {} ms, max {} ms ({COLD_STARTS} runs)",
                ms(median),
                ms(max)
            ),
            verdict(max < Duration::from_secs(2), "< 2 s"),
        ]);
    }

    // Idle memory: one app at a time, so shared pages are not split with another.
    if run("memory") {
        for (label, software) in [
            ("idle memory (app + WebKit processes)", false),
            ("idle memory, SWITCHYARD_SOFTWARE_RENDERING=1", true),
        ] {
            let (total, agent, detail) = idle_memory(&display, software);
            println!(
                "{label} after {}s, per process (RSS/PSS KiB): {detail}",
                IDLE.as_secs()
            );
            rows.push([
                label.into(),
                format!(
                    "PSS {} MB, RSS {} MB (the demo agent apart: PSS {} MB)",
                    total.1 / 1024,
                    total.0 / 1024,
                    agent.1 / 1024
                ),
                verdict(total.1 / 1024 < 250, "< 250 MB, PSS"),
            ]);
        }
    }

    // One app for the rest.
    let desktop = Desktop::new(Path::new(APP));
    let driver = Driver::start(&display, &desktop.launch);
    let session = driver.session(&desktop.launch);
    session.wait_for("[data-cluster]", Duration::from_secs(60));
    let app = procs::find(driver.process.pid(), "switchyard-desktop").expect("the app's process");

    let mut rng = rand::rngs::StdRng::seed_from_u64(8);
    if run("paint") {
        let ten = big_trace(&mut rng, 10_000);
        send(&desktop, &ten);
        wait_stored(&session, &ten.id, ten.spans.len());
        let (fetch, parse, bytes) = fetch_breakdown(&session, &ten.id);
        println!(
            "10,000-span trace through the api command: {fetch:.0} ms to the reply ({:.1} MB body), \
         {parse:.0} ms to parse it",
            bytes / 1e6
        );
        let mut paints = Vec::new();
        for _ in 0..FIRST_PAINTS {
            match first_paint(&session, &ten.id) {
                Some(paint) => paints.push(paint),
                None => break,
            }
        }
        if paints.is_empty() {
            rows.push([
                "first paint, 10,000-span waterfall".into(),
                "n/a: no `waterfall-first-paint` measure (traces view not built?)".into(),
                "not measured".into(),
            ]);
        } else {
            paints.sort_by(f64::total_cmp);
            let median = paints[paints.len() / 2];
            let max = *paints.last().expect("runs");
            println!("first paints (ms): {paints:?}");
            rows.push([
                "first paint, 10,000-span waterfall".into(),
                format!(
                    "median {median:.0} ms, max {max:.0} ms ({} runs)",
                    paints.len()
                ),
                verdict(median < 300.0, "< 300 ms, median"),
            ]);
        }
    }

    if run("large") {
        let hundred = big_trace(&mut rng, 100_000);
        send(&desktop, &hundred);
        wait_stored(&session, &hundred.id, hundred.spans.len());
        session.route("#/");
        session.wait_for("main[data-view=overview]", Duration::from_secs(20));
        let opened = Instant::now();
        session.route(&format!("#/traces/{}", hundred.id));
        let painted = session.wait_script_for(
            "return document.body.dataset.waterfallPainted === '100000';",
            Duration::from_secs(120),
        );
        let took = opened.elapsed();
        let alive = procs::tree(app).iter().all(|pid| procs::alive(*pid)) && procs::alive(app);
        rows.push([
            "100,000-span trace opens".into(),
            if painted {
                format!("painted in {} ms, app alive: {alive}", ms(took))
            } else {
                format!("not painted within 120 s, app alive: {alive}")
            },
            verdict(painted && alive, "opens, no crash"),
        ]);
    }
    session.delete();

    print_table(&rows);
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

fn verdict(met: bool, goal: &str) -> String {
    format!("{} (goal {goal})", if met { "met" } else { "MISSED" })
}

fn print_table(rows: &[[String; 3]]) {
    println!();
    println!("| measure | figure | goal |");
    println!("|---|---|---|");
    for [what, figure, goal] in rows {
        println!("| {what} | {figure} | {goal} |");
    }
}

/// A fresh app's memory after it has shown the overview and idled for [`IDLE`].
fn idle_memory(display: &Display, software: bool) -> ((u64, u64), (u64, u64), String) {
    let mut desktop = Desktop::new(Path::new(APP));
    if software {
        let env = ("SWITCHYARD_SOFTWARE_RENDERING".to_owned(), "1".to_owned());
        desktop.launch.env.push(env);
    }
    let driver = Driver::start(display, &desktop.launch);
    let session = driver.session(&desktop.launch);
    session.wait_for("[data-cluster]", Duration::from_secs(60));
    std::thread::sleep(IDLE);
    let app = procs::find(driver.process.pid(), "switchyard-desktop").expect("the app's process");
    let measured = memory(app);
    session.delete();
    measured
}

/// The app's processes' memory, the demo agent's apart, and a per-process line.
fn memory(app: u32) -> ((u64, u64), (u64, u64), String) {
    let mut total = (0, 0);
    let mut agent = (0, 0);
    let mut detail = Vec::new();
    for pid in procs::tree(app) {
        let name = procs::name(pid);
        let (rss, pss) = procs::memory_kib(pid);
        detail.push(format!("{name}[{pid}] {rss}/{pss}"));
        if name == "switchyard-agent" {
            agent = (agent.0 + rss, agent.1 + pss);
        } else {
            total = (total.0 + rss, total.1 + pss);
        }
    }
    (total, agent, detail.join(", "))
}

/// Opens the trace afresh and reads the UI's `waterfall-first-paint` measure (ms).
fn first_paint(session: &Session, trace: &str) -> Option<f64> {
    session.route("#/");
    session.wait_for("main[data-view=overview]", Duration::from_secs(20));
    session.execute(
        "performance.clearMeasures('waterfall-first-paint'); performance.clearMarks('trace-open');",
        json!([]),
    );
    session.route(&format!("#/traces/{trace}"));
    let script = "const m = performance.getEntriesByName('waterfall-first-paint'); return m.length ? m[0].duration : null;";
    let found = session.wait_script_for(script, Duration::from_secs(30));
    found
        .then(|| session.execute(script, json!([])).as_f64())
        .flatten()
}

/// How long the UI's request for the trace takes through IPC (ms), parsing its body
/// (ms), and the body's size (bytes): the part of the first paint before the view.
fn fetch_breakdown(session: &Session, trace: &str) -> (f64, f64, f64) {
    let script = "const done = arguments[arguments.length - 1];
        const t0 = performance.now();
        window.__TAURI_INTERNALS__
          .invoke('api', {method: 'GET', path: '/api/traces/' + arguments[0], body: null, contentType: null})
          .then((reply) => {
            const t1 = performance.now();
            JSON.parse(reply.body);
            done([t1 - t0, performance.now() - t1, reply.body.length]);
          }, (e) => done(String(e)));";
    let mut best = (f64::MAX, f64::MAX, 0.0);
    for _ in 0..3 {
        let got = session.execute_async(script, json!([trace]));
        let n = |i: usize| got[i].as_f64().unwrap_or_else(|| panic!("{got}"));
        if n(0) < best.0 {
            best = (n(0), n(1), n(2));
        }
    }
    best
}

/// A synthetic trace: its id (hex) and spans with the service of each.
struct BigTrace {
    id: String,
    spans: Vec<(usize, Span)>,
}

const SERVICES: [&str; 24] = [
    "gateway",
    "web",
    "checkout",
    "cart",
    "catalog",
    "pricing",
    "inventory",
    "payments",
    "fraud",
    "ledger",
    "shipping",
    "tax",
    "users",
    "sessions",
    "search",
    "recommend",
    "reviews",
    "notify",
    "email",
    "sms",
    "warehouse",
    "returns",
    "loyalty",
    "audit",
];

/// A realistic tree of `count` spans: depth up to 10, fan-out from 1 to dozens, many
/// services, HTTP/DB attributes, events on some spans, errors on a few.
fn big_trace(rng: &mut impl Rng, count: usize) -> BigTrace {
    let trace_id: [u8; 16] = rng.random();
    let start = now_nanos() - 60_000_000_000;
    // (span id, depth, service, start, end)
    let mut nodes: Vec<([u8; 8], u32, usize, u64, u64)> = Vec::with_capacity(count);
    let mut spans = Vec::with_capacity(count);
    for i in 0..count {
        let span_id: [u8; 8] = rng.random();
        let (parent, depth, service, begin, end) = if i == 0 {
            (None, 0, 0, start, start + 30_000_000_000)
        } else {
            // Mostly a recent span (deep, local subtrees), sometimes any shallow one.
            let pick = if rng.random_bool(0.8) {
                i - 1 - rng.random_range(0..i.min(20))
            } else {
                rng.random_range(0..i)
            };
            let mut p = pick;
            while nodes[p].1 >= 9 {
                p = rng.random_range(0..i.min(50));
            }
            let (pid, pdepth, pservice, pstart, pend) = nodes[p];
            let room = (pend - pstart).max(2);
            let begin = pstart + rng.random_range(0..room / 2);
            let end = begin + rng.random_range(1..=(pend - begin).max(1));
            let service = if rng.random_bool(0.3) {
                rng.random_range(0..SERVICES.len())
            } else {
                pservice
            };
            (Some(pid), pdepth + 1, service, begin, end)
        };
        nodes.push((span_id, depth, service, begin, end));
        let error = rng.random_range(0..200) == 0;
        let db = rng.random_bool(0.3);
        let mut attributes = vec![
            kv_str(
                "http.request.method",
                if rng.random_bool(0.7) { "GET" } else { "POST" },
            ),
            kv_str("http.route", &format!("/api/{}/{{id}}", SERVICES[service])),
            kv_int("http.response.status_code", if error { 500 } else { 200 }),
            kv_str(
                "server.address",
                &format!("{}.svc.local", SERVICES[service]),
            ),
            kv_int("thread.id", rng.random_range(1..64)),
        ];
        if db {
            attributes.push(kv_str("db.system", "postgresql"));
            attributes.push(kv_str(
                "db.query.text",
                &format!("SELECT * FROM {} WHERE id = $1", SERVICES[service]),
            ));
        }
        let events = if rng.random_bool(0.1) || error {
            vec![Event {
                time_unix_nano: begin + (end - begin) / 2,
                name: if error {
                    "exception".into()
                } else {
                    "cache.miss".into()
                },
                attributes: vec![kv_str("detail", "synthetic")],
                dropped_attributes_count: 0,
            }]
        } else {
            Vec::new()
        };
        let span = Span {
            trace_id: trace_id.to_vec(),
            span_id: span_id.to_vec(),
            parent_span_id: parent.map(|p| p.to_vec()).unwrap_or_default(),
            name: if db {
                format!("SELECT {}", SERVICES[service])
            } else {
                format!("GET /api/{}/{{id}}", SERVICES[service])
            },
            kind: if db { 3 } else { 2 },
            start_time_unix_nano: begin,
            end_time_unix_nano: end,
            attributes,
            events,
            status: Some(Status {
                message: if error {
                    "upstream failed".into()
                } else {
                    String::new()
                },
                code: if error { 2 } else { 0 },
            }),
            ..Default::default()
        };
        spans.push((service, span));
    }
    BigTrace {
        id: const_hex::encode(trace_id),
        spans,
    }
}

/// Sends the trace to the app's OTLP/HTTP receiver, a few thousand spans per request.
fn send(desktop: &Desktop, trace: &BigTrace) {
    let http = reqwest::blocking::Client::new();
    for chunk in trace.spans.chunks(SPANS_PER_REQUEST) {
        let mut by_service: Vec<Vec<Span>> = vec![Vec::new(); SERVICES.len()];
        for (service, span) in chunk {
            by_service[*service].push(span.clone());
        }
        let request = ExportTraceServiceRequest {
            resource_spans: by_service
                .into_iter()
                .enumerate()
                .filter(|(_, spans)| !spans.is_empty())
                .map(|(service, spans)| ResourceSpans {
                    resource: Some(Resource {
                        ..resource(SERVICES[service])
                    }),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(scope()),
                        spans,
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                })
                .collect(),
        };
        let body = request.encode_to_vec();
        assert!(body.len() < 16 << 20, "a request of {} bytes", body.len());
        let sent = http
            .post(format!("http://127.0.0.1:{}/v1/traces", desktop.otlp_http))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .expect("the receiver answers");
        assert!(
            sent.status().is_success(),
            "the receiver refused: {}",
            sent.status()
        );
    }
}

/// Waits until the store holds every span of the trace (ingest commits in groups).
fn wait_stored(session: &Session, id: &str, spans: usize) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        // The search's summary counts the spans; reading the trace itself would be heavy.
        let reply = session.api("GET", "/api/traces?service=gateway&since=1h&limit=50", None);
        let body = reply["body"].as_str().unwrap_or_default();
        let stored = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|page| {
                page["traces"]
                    .as_array()?
                    .iter()
                    .find(|t| t["trace_id"] == id)
                    .and_then(|t| t["span_count"].as_u64())
            })
            .unwrap_or(0);
        if stored as usize >= spans {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the trace {id} was not stored in time ({stored} of {spans} spans)"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
