//! Query latency over a file of a million spans written through the store's
//! own ingest path: a trace by id, and a search for error traces.

use std::time::{Duration, Instant};

use prost::Message as _;
use rand::seq::IndexedRandom as _;
use switchyard_store::{Batch, Store, StoreConfig, TraceQuery};

use crate::percentile;
use crate::templates::{fast_rng, templates};

#[derive(Debug)]
pub(crate) struct Report {
    spans: usize,
    by_id: Vec<Duration>,
    errors: Vec<Duration>,
    errors_page2: Vec<Duration>,
    by_service_attr: Vec<Duration>,
}

impl Report {
    pub(crate) fn print(&self) {
        println!("queries over {} spans", self.spans);
        let line = |name: &str, d: &Vec<Duration>| {
            println!(
                "  {name:<34} p50 {:>9.2?}  p99 {:>9.2?}  ({} runs)",
                percentile(d, 0.5),
                percentile(d, 0.99),
                d.len()
            );
        };
        line("trace by id", &self.by_id);
        line("error traces, first page of 20", &self.errors);
        line("error traces, second page", &self.errors_page2);
        line("service + attribute, page of 20", &self.by_service_attr);
    }
}

pub(crate) async fn run(spans: usize) -> Report {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = StoreConfig::new(dir.path().join("telemetry.db"));
    config.retention.max_age = None;
    config.retention.max_bytes = None;
    let store = Store::open(config).await.expect("store opens");
    let ingest = store.ingest();
    let templates = templates(32, 512);
    let mut rng = fast_rng();
    let mut trace_ids = Vec::new();
    let mut written = 0;
    let mut pending = Vec::new();
    while written < spans {
        let template = &templates[(written / 512) % templates.len()];
        let request =
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(
                &template.fresh(&mut rng)[..],
            )
            .expect("decodes");
        trace_ids.push(
            request.resource_spans[0].scope_spans[0].spans[0]
                .trace_id
                .clone(),
        );
        let batch = Batch::from_traces(request).expect("valid");
        written += batch.span_count();
        let ingest = ingest.clone();
        pending.push(tokio::spawn(async move { ingest.submit(batch).await }));
        if pending.len() >= 64 {
            for p in pending.drain(..) {
                p.await.expect("task").expect("stored");
            }
        }
    }
    for p in pending {
        p.await.expect("task").expect("stored");
    }
    store.close().await.expect("closes");

    let reader = switchyard_store::Reader::open(dir.path().join("telemetry.db"))
        .await
        .expect("opens");
    let mut report = Report {
        spans: written,
        by_id: Vec::new(),
        errors: Vec::new(),
        errors_page2: Vec::new(),
        by_service_attr: Vec::new(),
    };
    let mut rng = rand::rng();
    for _ in 0..1000 {
        let id = trace_ids.choose(&mut rng).expect("ids");
        let t = Instant::now();
        let trace = reader.trace(id).await.expect("query").expect("stored");
        report.by_id.push(t.elapsed());
        assert!(!trace.spans.is_empty());
    }
    let errors = TraceQuery {
        errors_only: true,
        limit: 20,
        ..Default::default()
    };
    for _ in 0..100 {
        let t = Instant::now();
        let page = reader.search_traces(&errors).await.expect("query");
        report.errors.push(t.elapsed());
        assert_eq!(page.traces.len(), 20);
        let next = TraceQuery {
            cursor: page.next_cursor,
            ..errors.clone()
        };
        let t = Instant::now();
        let page2 = reader.search_traces(&next).await.expect("query");
        report.errors_page2.push(t.elapsed());
        assert_eq!(page2.traces.len(), 20);
    }
    let filtered = TraceQuery {
        service: Some("payments".into()),
        attributes: vec!["http.response.status_code=500".parse().expect("a filter")],
        limit: 20,
        ..Default::default()
    };
    for _ in 0..20 {
        let t = Instant::now();
        reader.search_traces(&filtered).await.expect("query");
        report.by_service_attr.push(t.elapsed());
    }
    for d in [
        &mut report.by_id,
        &mut report.errors,
        &mut report.errors_page2,
        &mut report.by_service_attr,
    ] {
        d.sort_unstable();
    }
    report
}
