//! SIGKILL `serve` in the middle of a stream of exports: after a restart,
//! every span it acknowledged is in the file.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use rand::SeedableRng as _;
use support::db_in;
use switchyard_store::Reader;
use switchyard_testkit as kit;

/// Senders exporting at once.
const SENDERS: usize = 4;
/// Spans per request (traces of 8).
const SPANS: usize = 128;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_span_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    for round in 0..3 {
        let serve = support::serve(&db);
        let url = serve.grpc_url();
        let acked: Arc<Mutex<HashSet<Vec<u8>>>> = Arc::default();
        let mut senders = Vec::new();
        for _ in 0..SENDERS {
            let acked = acked.clone();
            let url = url.clone();
            senders.push(tokio::spawn(async move {
                let mut client = TraceServiceClient::connect(url).await.expect("connects");
                let mut rng = rand::rngs::StdRng::from_os_rng();
                loop {
                    let request = kit::load_request(&mut rng, SPANS, kit::now_nanos());
                    let traces: HashSet<Vec<u8>> = request.resource_spans[0].scope_spans[0]
                        .spans
                        .iter()
                        .map(|s| s.trace_id.clone())
                        .collect();
                    match client.export(request).await {
                        Ok(_) => acked.lock().unwrap().extend(traces),
                        // The process is gone: whatever was not answered is not owed.
                        Err(_) => return,
                    }
                }
            }));
        }
        // Let the stream run, then kill at a different moment each round.
        tokio::time::sleep(Duration::from_millis(300 + 170 * round)).await;
        serve.kill();
        for sender in senders {
            sender.await.unwrap();
        }
        let acked = std::mem::take(&mut *acked.lock().unwrap());
        assert!(
            !acked.is_empty(),
            "round {round}: nothing was acknowledged before the kill"
        );

        // Restart on the same file: it opens, and holds every acknowledged trace whole.
        let serve = support::serve(&db);
        let reader = Reader::open(&db).await.unwrap();
        for trace_id in &acked {
            let trace = reader.trace(trace_id).await.unwrap();
            let spans = trace.map_or(0, |t| t.spans.len());
            assert_eq!(
                spans,
                8,
                "round {round}: trace {} lost spans",
                kit_hex(trace_id)
            );
        }
        serve.stop();
    }
}

fn kit_hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}
