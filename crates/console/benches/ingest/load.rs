//! Load: senders export ExportTraceServiceRequests of 512 spans to a real
//! `switchyard serve` process over gRPC, retrying what it asks to retry.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::{Buf as _, BufMut as _};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};

use crate::Options;
use crate::templates::{Template, fast_rng, templates};

const SPANS_PER_REQUEST: usize = 512;
const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

#[derive(Debug)]
pub(crate) struct Report {
    seconds: f64,
    acked_requests: u64,
    pub(crate) stored_spans: usize,
    retries: u64,
    failures: u64,
    p50: Duration,
    p99: Duration,
    max: Duration,
    peak_rss_kib: u64,
}

impl Report {
    pub(crate) fn spans_per_second(&self) -> f64 {
        self.acked_requests as f64 * SPANS_PER_REQUEST as f64 / self.seconds
    }

    pub(crate) fn print(&self) {
        let acked_spans = self.acked_requests * SPANS_PER_REQUEST as u64;
        println!(
            "serve over OTLP/gRPC, {SPANS_PER_REQUEST} spans per request, {:.0} s",
            self.seconds
        );
        println!("  spans/s acknowledged   {:>12.0}", self.spans_per_second());
        println!("  export latency p50     {:>12.1?}", self.p50);
        println!("  export latency p99     {:>12.1?}", self.p99);
        println!("  export latency max     {:>12.1?}", self.max);
        println!("  retried (told to)      {:>12}", self.retries);
        println!("  failed                 {:>12}", self.failures);
        println!(
            "  server peak RSS        {:>9} MiB",
            self.peak_rss_kib / 1024
        );
        println!(
            "  acknowledged spans     {:>12}, stored {} ({})",
            acked_spans,
            self.stored_spans,
            if acked_spans == self.stored_spans as u64 {
                "nothing lost"
            } else {
                "MISMATCH"
            }
        );
    }
}

pub(crate) async fn run(options: &Options) -> Report {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("telemetry.db");
    let serve = switchyard_testkit::ServeProcess::spawn(
        // SWITCHYARD_BIN runs another build (or a wrapper) of the same binary.
        std::path::Path::new(
            &std::env::var("SWITCHYARD_BIN").unwrap_or(env!("CARGO_BIN_EXE_switchyard").into()),
        ),
        &db,
        &["--retention-age", "off", "--retention-size-mib", "0"],
    );
    let grpc = serve.grpc;

    let templates = Arc::new(templates(32, SPANS_PER_REQUEST));
    let mut channels = Vec::new();
    for _ in 0..options.connections {
        channels.push(
            tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
                .expect("a URL")
                .connect()
                .await
                .expect("connects"),
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let retries = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut senders = Vec::new();
    for i in 0..options.senders {
        let channel = channels[i % channels.len()].clone();
        let (templates, stop, acked, retries, failures) = (
            templates.clone(),
            stop.clone(),
            acked.clone(),
            retries.clone(),
            failures.clone(),
        );
        senders.push(tokio::spawn(async move {
            let mut client = tonic::client::Grpc::new(channel);
            let mut rng = fast_rng();
            let mut latencies = Vec::new();
            let mut n = i;
            while !stop.load(Relaxed) {
                let template: &Template = &templates[n % templates.len()];
                n += 1;
                let body = template.fresh(&mut rng);
                loop {
                    let sent = Instant::now();
                    client.ready().await.expect("the channel is ready");
                    let answer = client
                        .unary(
                            tonic::Request::new(body.clone()),
                            http::uri::PathAndQuery::from_static(EXPORT),
                            RawCodec,
                        )
                        .await;
                    match answer {
                        Ok(_) => {
                            latencies.push(sent.elapsed());
                            acked.fetch_add(1, Relaxed);
                            break;
                        }
                        Err(status) if retryable(&status) => {
                            retries.fetch_add(1, Relaxed);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(status) => {
                            eprintln!("export failed: {status}");
                            failures.fetch_add(1, Relaxed);
                            break;
                        }
                    }
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(options.seconds)).await;
    stop.store(true, Relaxed);
    let mut latencies = Vec::new();
    for sender in senders {
        latencies.extend(sender.await.expect("a sender"));
    }
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_kib = peak_rss_kib(serve.pid());

    // Stop serve cleanly and count what the file holds.
    serve.stop();
    let conn = rusqlite::Connection::open(&db).expect("the file opens");
    let stored_spans: i64 = conn
        .query_row("SELECT COUNT(*) FROM spans", [], |r| r.get(0))
        .expect("count");

    latencies.sort_unstable();
    Report {
        seconds,
        acked_requests: acked.load(Relaxed),
        stored_spans: stored_spans as usize,
        retries: retries.load(Relaxed),
        failures: failures.load(Relaxed),
        p50: crate::percentile(&latencies, 0.50),
        p99: crate::percentile(&latencies, 0.99),
        max: latencies.last().copied().unwrap_or_default(),
        peak_rss_kib,
    }
}

fn retryable(status: &Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::ResourceExhausted)
}

/// The process's peak resident set (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Sends pre-encoded request bytes as they are; ignores the response body.
#[derive(Debug, Clone, Copy)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = ();
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = ();
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, Status> {
        src.advance(src.remaining());
        Ok(Some(()))
    }
}
