//! The ceiling: the same span rows, same schema, indexes and pragmas as the
//! store's writer, inserted by a minimal rusqlite loop (one prepared
//! statement, one transaction per batch), with a checkpointing thread like
//! the store's.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use prost::Message as _;
use rand::RngCore as _;
use rusqlite::params;
use switchyard_store::{Batch, SCHEMA_SQL};

use crate::templates::{fast_rng, templates};

#[derive(Debug)]
pub(crate) struct Report {
    rows: usize,
    per_transaction: usize,
    seconds: f64,
}

impl Report {
    pub(crate) fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.seconds
    }

    pub(crate) fn print(&self) {
        println!(
            "raw rusqlite loop, {} rows, {} per transaction: {:>10.0} rows/s",
            self.rows,
            self.per_transaction,
            self.rows_per_second()
        );
    }
}

/// The store writer's pragmas (see crates/store/src/open.rs).
const PRAGMAS: &str = "PRAGMA page_size = 16384; PRAGMA auto_vacuum = INCREMENTAL;
    PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA temp_store = memory;
    PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -65536;";

pub(crate) fn run(rows: usize, per_transaction: usize) -> Report {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("raw.db");
    let conn = rusqlite::Connection::open(&path).expect("opens");
    conn.execute_batch(PRAGMAS).expect("pragmas");
    conn.execute_batch(SCHEMA_SQL).expect("schema");
    conn.execute(
        "INSERT INTO resources (key, service_name, dropped_attributes_count, first_seen, last_seen)
         VALUES ('bench', 'bench', 0, 0, 0)",
        [],
    )
    .expect("a resource");
    conn.execute(
        "INSERT INTO scopes (key, name, dropped_attributes_count) VALUES ('bench', 'bench', 0)",
        [],
    )
    .expect("a scope");

    // The background checkpointer, as in the store.
    let stop = Arc::new(AtomicBool::new(false));
    let checkpointer = {
        let (stop, path) = (stop.clone(), path.clone());
        std::thread::spawn(move || {
            let conn = rusqlite::Connection::open(&path).expect("opens");
            while !stop.load(Relaxed) {
                std::thread::sleep(Duration::from_millis(500));
                let _ = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)");
            }
        })
    };

    // The rows the store would write for the benchmark's requests.
    let templates = templates(32, 512);
    let created = templates[0].created as i64;
    let batches: Vec<Batch> = templates
        .iter()
        .map(|t| {
            let request = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(&t.bytes[..])
                .expect("a template decodes");
            Batch::from_traces(request).expect("valid")
        })
        .collect();
    let mut rng = fast_rng();
    let started = Instant::now();
    let mut id: i64 = 0;
    let mut trace_id = [0u8; 16];
    'outer: loop {
        let tx = conn.unchecked_transaction().expect("begin");
        // Move the rows' times to now, as the load client does.
        let shift = switchyard_testkit::now_nanos() as i64 - created;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO spans (id, segment, trace_id, span_id, parent_span_id, trace_state,
                        flags, name, kind, start_time, end_time, status_code, status_message,
                        resource_id, scope_id, attributes, events, links, dropped_attributes_count,
                        dropped_events_count, dropped_links_count)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .expect("prepare");
            let mut in_transaction = 0;
            for batch in batches.iter().cycle() {
                for (i, row) in batch.spans().iter().enumerate() {
                    if i % 8 == 0 {
                        rng.fill_bytes(&mut trace_id);
                    }
                    id += 1;
                    insert
                        .execute(params![
                            id,
                            id >> 16,
                            &trace_id[..],
                            &row.span_id[..],
                            row.parent_span_id.as_deref(),
                            row.trace_state.as_deref(),
                            row.flags,
                            &row.name,
                            row.kind,
                            row.start_time + shift,
                            row.end_time + shift,
                            row.status_code,
                            row.status_message.as_deref(),
                            1,
                            1,
                            row.attributes.as_deref(),
                            row.events.as_deref(),
                            row.links.as_deref(),
                            row.dropped_attributes_count,
                            row.dropped_events_count,
                            row.dropped_links_count,
                        ])
                        .expect("insert");
                    in_transaction += 1;
                    if id as usize >= rows {
                        break;
                    }
                }
                if id as usize >= rows || in_transaction >= per_transaction {
                    break;
                }
            }
        }
        tx.commit().expect("commit");
        if id as usize >= rows {
            break 'outer;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Relaxed);
    checkpointer.join().expect("checkpointer");
    Report {
        rows,
        per_transaction,
        seconds,
    }
}
