//! The ingest benchmark: spans per second through `switchyard serve` over
//! OTLP/gRPC, beside the ceiling of a raw SQLite loop writing the same rows,
//! and query latencies over a file of a million spans.
//!
//! ```text
//! cargo bench -p switchyard-console --bench ingest -- [--seconds 60] [--senders 64]
//! ```
//!
//! A bench binary (not criterion): the parts are separate processes and
//! minute-long runs, and what matters is their ratio within one run.

mod load;
mod queries;
mod raw;
mod templates;

use std::time::Duration;

#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// How long the load runs.
    pub(crate) seconds: u64,
    /// Requests in flight at once.
    pub(crate) senders: usize,
    /// gRPC connections they share.
    pub(crate) connections: usize,
    /// Spans in the file the queries run against.
    pub(crate) query_spans: usize,
    /// Run only these parts (load, raw, queries); all when empty.
    pub(crate) only: Vec<String>,
}

fn parse_options() -> Options {
    let mut options = Options {
        seconds: 60,
        senders: 64,
        connections: 4,
        query_spans: 1_000_000,
        only: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match arg.as_str() {
            "--seconds" => options.seconds = value().parse().expect("seconds"),
            "--senders" => options.senders = value().parse().expect("senders"),
            "--connections" => options.connections = value().parse().expect("connections"),
            "--query-spans" => options.query_spans = value().parse().expect("spans"),
            "--only" => options.only.push(value()),
            // cargo bench passes --bench; criterion-style filters are ignored.
            _ => {}
        }
    }
    options
}

fn main() {
    let options = parse_options();
    let runs = |part: &str| options.only.is_empty() || options.only.iter().any(|o| o == part);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");

    let mut ingest_rate = None;
    let mut rows = 2_000_000;
    if runs("load") {
        let report = runtime.block_on(load::run(&options));
        report.print();
        ingest_rate = Some(report.spans_per_second());
        rows = report.stored_spans.max(100_000);
    }
    if runs("raw") {
        println!();
        for per_transaction in [512, 65_536] {
            let report = raw::run(rows, per_transaction);
            report.print();
            if let (Some(ours), 65_536) = (ingest_rate, per_transaction) {
                println!(
                    "ratio: serve over gRPC reaches {:.2} of the raw loop's {:.0} rows/s",
                    ours / report.rows_per_second(),
                    report.rows_per_second()
                );
            }
        }
    }
    if runs("queries") {
        println!();
        runtime.block_on(queries::run(options.query_spans)).print();
    }
}

/// Percentile of a sorted list of durations.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}
