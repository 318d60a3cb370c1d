//! The batch writer: the one task that owns the write connection.
//!
//! It takes the batches queued by [`crate::Ingest`], groups whatever is
//! waiting into one transaction (many requests per commit keep the cost of
//! the random trace-id index down), commits, and only then answers each
//! request. Retention runs here too, between commits, in bounded steps.

mod ids;
pub(crate) mod insert;
mod retention;

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{Connection, SqliteConnection};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tokio::time::Instant;

use crate::batch::Batch;
use crate::config::StoreConfig;
use crate::error::IngestError;
use ids::{IdCache, Pending};
use insert::{InsertStatements, LOG_COLUMNS, POINT_COLUMNS, SPAN_COLUMNS, chunks};
pub(crate) use retention::Retainer;

/// Spans per trace-index segment, as a shift: see the `spans` table's comment.
pub(crate) const SEGMENT_SHIFT: u32 = 16;

/// One queued batch and the way to answer its sender.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) batch: Batch,
    pub(crate) done: oneshot::Sender<Result<(), IngestError>>,
    /// Its share of the bounded queue, given back when the job is answered.
    pub(crate) permit: OwnedSemaphorePermit,
}

/// The writer's thread, and how to wait for it to finish.
#[derive(Debug)]
pub(crate) struct Running {
    _thread: std::thread::JoinHandle<()>,
    done: oneshot::Receiver<()>,
}

impl Running {
    /// Waits until the writer has committed what was queued and stopped.
    pub(crate) async fn wait(&mut self) {
        if (&mut self.done).await.is_err() {
            tracing::error!("the store's writer stopped without finishing (it panicked)");
        }
    }
}

#[derive(Debug)]
pub(crate) struct Writer {
    conn: SqliteConnection,
    ids: IdCache,
    spans_sql: InsertStatements,
    points_sql: InsertStatements,
    logs_sql: InsertStatements,
    retainer: Retainer,
    last_checkpoint: Instant,
    config: StoreConfig,
}

impl Writer {
    pub(crate) fn new(conn: SqliteConnection, config: StoreConfig) -> Self {
        Self {
            conn,
            ids: IdCache::default(),
            spans_sql: InsertStatements::new("spans", SPAN_COLUMNS),
            points_sql: InsertStatements::new("metric_points", POINT_COLUMNS),
            logs_sql: InsertStatements::new("logs", LOG_COLUMNS),
            retainer: Retainer::new(config.retention.clone()),
            last_checkpoint: Instant::now(),
            config,
        }
    }

    /// Runs the writer on a thread of its own, with its own single-threaded
    /// runtime. On the shared runtime its turns came late behind the
    /// receivers' decoding, and every statement waits for a turn: the
    /// connection's worker thread sat idle between statements.
    pub(crate) fn spawn(
        self,
        jobs: mpsc::Receiver<Job>,
        shutdown: oneshot::Receiver<()>,
    ) -> Running {
        let (done_tx, done) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("switchyard-writer".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the writer's runtime starts");
                runtime.block_on(self.run(jobs, shutdown));
                let _ = done_tx.send(());
            })
            .expect("the writer thread starts");
        Running {
            _thread: thread,
            done,
        }
    }

    /// Runs until `shutdown` fires, then commits everything already queued
    /// and returns. Submits after shutdown are answered [`IngestError::Closed`].
    async fn run(mut self, mut jobs: mpsc::Receiver<Job>, shutdown: oneshot::Receiver<()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut closing = false;
        let mut next_retention = Instant::now();
        loop {
            let first = tokio::select! {
                biased;
                _ = &mut shutdown, if !closing => {
                    // Refuse new work, keep receiving what is already queued.
                    jobs.close();
                    closing = true;
                    continue;
                }
                _ = tokio::time::sleep_until(next_retention), if !closing => {
                    next_retention = Instant::now() + self.retention_step().await;
                    continue;
                }
                job = jobs.recv() => match job {
                    Some(job) => job,
                    None => break,
                },
            };
            let group = self.gather(first, &mut jobs).await;
            self.commit_and_answer(group).await;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut self.conn)
            .await
        {
            tracing::warn!("final checkpoint failed: {e}");
        }
        if let Err(e) = self.conn.close().await {
            tracing::warn!("closing the write connection failed: {e}");
        }
    }

    /// Takes whatever else is queued, up to the transaction limit; when that
    /// is little, lingers briefly for more.
    async fn gather(&mut self, first: Job, jobs: &mut mpsc::Receiver<Job>) -> Vec<Job> {
        let max = self.config.max_transaction_items;
        let mut items = first.batch.item_count();
        let mut group = vec![first];
        let linger_until = Instant::now() + self.config.linger;
        while items < max {
            let job = match jobs.try_recv() {
                Ok(job) => job,
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    // Under load the queue refills while we commit; lingering
                    // only helps when a transaction would be small.
                    if items >= max / 8 {
                        break;
                    }
                    match tokio::time::timeout_at(linger_until, jobs.recv()).await {
                        Ok(Some(job)) => job,
                        Ok(None) | Err(_) => break,
                    }
                }
            };
            items += job.batch.item_count();
            group.push(job);
        }
        group
    }

    async fn commit_and_answer(&mut self, group: Vec<Job>) {
        // The rows move into the statements' arguments: sqlx hands arguments
        // to its connection thread as owned values, so borrowed ones would be
        // copied first.
        let mut batches = Vec::with_capacity(group.len());
        let mut answers = Vec::with_capacity(group.len());
        for job in group {
            batches.push(job.batch);
            answers.push((job.done, job.permit));
        }
        let items: usize = batches.iter().map(Batch::item_count).sum();
        let started = Instant::now();
        let result = self.commit(&mut batches).await;
        tracing::debug!(
            items,
            requests = answers.len(),
            millis = started.elapsed().as_millis() as u64,
            "committed"
        );
        if let Err(e) = &result {
            tracing::error!("commit of {} batches failed: {e}", answers.len());
        }
        for (done, _permit) in answers {
            // The sender may have gone (client disconnected); the data is
            // committed either way.
            let _ = done.send(
                result
                    .clone()
                    .map_err(|e| IngestError::Commit(e.to_string())),
            );
        }
        self.bound_wal().await;
    }

    /// Keeps the WAL from growing without bound. The background checkpointer
    /// copies most of it, but under back-to-back commits it never catches the
    /// WAL fully copied at the start of a write, which is when SQLite starts
    /// the WAL over. So once a second the writer checkpoints too, between
    /// commits: the little the background left is quick to copy, and the next
    /// commit starts the WAL over. Far past a limit it waits for a full one.
    async fn bound_wal(&mut self) {
        const EVERY: Duration = Duration::from_secs(1);
        const HARD_LIMIT_PAGES: i64 = 1 << 16; // 1 GiB of 16 KiB pages
        if self.last_checkpoint.elapsed() < EVERY {
            return;
        }
        self.last_checkpoint = Instant::now();
        let frames: sqlx::Result<(i64, i64, i64)> =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&mut self.conn)
                .await;
        match frames {
            Ok((_, log, _)) if log > HARD_LIMIT_PAGES => {
                tracing::info!(log, "WAL over its limit; waiting for a full checkpoint");
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(&mut self.conn)
                    .await
                {
                    tracing::warn!("WAL checkpoint from the writer failed: {e}");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("WAL checkpoint from the writer failed: {e}"),
        }
    }

    /// Writes the batches in one transaction.
    pub(crate) async fn commit(
        &mut self,
        batches: &mut [Batch],
    ) -> Result<(), std::sync::Arc<sqlx::Error>> {
        let mut pending = Pending::default();
        match write_all(
            &mut self.conn,
            &self.ids,
            &mut pending,
            [&self.spans_sql, &self.points_sql, &self.logs_sql],
            batches,
        )
        .await
        {
            Ok(()) => {
                self.ids.publish(pending);
                Ok(())
            }
            Err(e) => Err(std::sync::Arc::new(e)),
        }
    }

    /// One bounded step of retention; returns how long until the next one.
    async fn retention_step(&mut self) -> Duration {
        match self.retainer.step(&mut self.conn).await {
            Ok(true) => Duration::from_millis(20),
            Ok(false) => self.config.retention.check_every,
            Err(e) => {
                tracing::warn!("retention step failed: {e}");
                self.config.retention.check_every
            }
        }
    }
}

async fn write_all(
    conn: &mut SqliteConnection,
    ids: &IdCache,
    pending: &mut Pending,
    [spans_sql, points_sql, logs_sql]: [&InsertStatements; 3],
    batches: &mut [Batch],
) -> sqlx::Result<()> {
    // IMMEDIATE: take the write lock now, so the span ids read below cannot
    // be taken by another writer (an `import` beside `serve`) before we insert.
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let now = unix_nanos_now();

    // Resolve every batch's resources and scopes to database ids.
    let mut resource_ids = Vec::with_capacity(batches.len());
    let mut scope_ids = Vec::with_capacity(batches.len());
    let mut seen_resources = HashSet::new();
    for batch in batches.iter() {
        let mut r = Vec::with_capacity(batch.resources.len());
        for row in &batch.resources {
            let id = ids.resource(pending, &mut tx, row, now).await?;
            seen_resources.insert(id);
            r.push(id);
        }
        let mut s = Vec::with_capacity(batch.scopes.len());
        for row in &batch.scopes {
            s.push(ids.scope(pending, &mut tx, row).await?);
        }
        resource_ids.push(r);
        scope_ids.push(s);
    }
    let ids_list = serde_json::to_string(&seen_resources.into_iter().collect::<Vec<_>>())
        .expect("integers serialize");
    sqlx::query("UPDATE resources SET last_seen = ? WHERE id IN (SELECT value FROM json_each(?))")
        .bind(now)
        .bind(ids_list)
        .execute(&mut *tx)
        .await?;

    // Row ids continue past the highest ever used, even if retention deleted it.
    let (first_span, first_point, first_log) = next_ids(&mut tx).await?;

    let span_count: usize = batches.iter().map(|b| b.spans.len()).sum();
    // Where each batch's spans start among the row ids, for the derived rows.
    let mut span_bases = Vec::with_capacity(batches.len());
    let mut next = first_span;
    for batch in batches.iter() {
        span_bases.push(next);
        next += batch.spans.len() as i64;
    }
    let spans = take_rows(batches, |b| &mut b.spans);
    insert_rows(
        &mut tx,
        spans_sql,
        span_count,
        first_span,
        spans,
        |q, id, b, row| {
            q.bind(id)
                .bind(id >> SEGMENT_SHIFT)
                .bind(row.trace_id)
                .bind(row.span_id)
                .bind(row.parent_span_id)
                .bind(row.trace_state)
                .bind(row.flags)
                .bind(row.name)
                .bind(row.kind)
                .bind(row.start_time)
                .bind(row.end_time)
                .bind(row.status_code)
                .bind(row.status_message)
                .bind(resource_ids[b][row.resource as usize])
                .bind(scope_ids[b][row.scope as usize])
                .bind(row.attributes)
                .bind(row.events)
                .bind(row.links)
                .bind(row.dropped_attributes_count)
                .bind(row.dropped_events_count)
                .bind(row.dropped_links_count)
        },
    )
    .await?;

    // Metric descriptors, then their points.
    let mut metric_ids = Vec::with_capacity(batches.len());
    for (b, batch) in batches.iter().enumerate() {
        let mut m = Vec::with_capacity(batch.metrics.len());
        for row in &batch.metrics {
            let resource_id = resource_ids[b][row.resource as usize];
            let scope_id = scope_ids[b][row.scope as usize];
            m.push(
                ids.metric(pending, &mut tx, row, resource_id, scope_id)
                    .await?,
            );
        }
        metric_ids.push(m);
    }
    let point_count: usize = batches.iter().map(|b| b.points.len()).sum();
    let points = take_rows(batches, |b| &mut b.points);
    insert_rows(
        &mut tx,
        points_sql,
        point_count,
        first_point,
        points,
        |q, id, b, row| {
            q.bind(id)
                .bind(metric_ids[b][row.metric as usize])
                .bind(row.time)
                .bind(row.start_time)
                .bind(row.attributes)
                .bind(row.flags)
                .bind(row.int_value)
                .bind(row.double_value)
                .bind(row.count)
                .bind(row.sum)
                .bind(row.min)
                .bind(row.max)
                .bind(row.buckets)
                .bind(row.exemplars)
        },
    )
    .await?;

    let log_count: usize = batches.iter().map(|b| b.logs.len()).sum();
    let logs = take_rows(batches, |b| &mut b.logs);
    insert_rows(
        &mut tx,
        logs_sql,
        log_count,
        first_log,
        logs,
        |q, id, b, row| {
            q.bind(id)
                .bind(resource_ids[b][row.resource as usize])
                .bind(scope_ids[b][row.scope as usize])
                .bind(row.time)
                .bind(row.time_unix_nano)
                .bind(row.observed_time_unix_nano)
                .bind(row.severity_number)
                .bind(row.severity_text)
                .bind(row.body)
                .bind(row.attributes)
                .bind(row.dropped_attributes_count)
                .bind(row.flags)
                .bind(row.trace_id)
                .bind(row.span_id)
                .bind(row.event_name)
        },
    )
    .await?;

    // Saga instances and breaker transitions, in the same transaction as
    // the telemetry they come from.
    let mut derived = crate::derived::Derived::default();
    for (batch, base) in batches.iter_mut().zip(span_bases) {
        for row in &mut batch.derived.saga_spans {
            row.span_row += base;
        }
        for row in &mut batch.derived.transitions {
            row.arrived = now;
        }
        derived.append(&mut batch.derived);
    }
    crate::derived::write::write(&mut tx, derived).await?;

    let last = |first: i64, count: usize| first + count as i64 - 1;
    let upto = [
        last(first_span, span_count),
        last(first_point, point_count),
        last(first_log, log_count),
    ];
    retention::mark_arrival(&mut tx, now, upto).await?;
    tx.commit().await
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// Moves one kind of row out of every batch, each with its batch's index.
fn take_rows<'a, R: 'a>(
    batches: &'a mut [Batch],
    rows: impl Fn(&mut Batch) -> &mut Vec<R> + 'a,
) -> impl Iterator<Item = (usize, R)> + 'a {
    batches
        .iter_mut()
        .enumerate()
        .flat_map(move |(b, batch)| std::mem::take(rows(batch)).into_iter().map(move |r| (b, r)))
}

/// Inserts `count` rows, numbered from `first_id`, in multi-row statements.
/// The next statement's values are bound while SQLite runs the current one
/// on the connection's thread, so the two threads overlap instead of taking
/// turns.
async fn insert_rows<'q, R>(
    conn: &mut SqliteConnection,
    statements: &'q InsertStatements,
    count: usize,
    first_id: i64,
    mut rows: impl Iterator<Item = (usize, R)>,
    bind: impl Fn(SqliteQuery<'q>, i64, usize, R) -> SqliteQuery<'q>,
) -> sqlx::Result<()> {
    let mut id = first_id;
    let mut build = |len: usize| {
        let mut query = sqlx::query(statements.for_rows(len));
        for (b, row) in rows.by_ref().take(len) {
            query = bind(query, id, b, row);
            id += 1;
        }
        query
    };
    let mut ranges = chunks(count);
    let Some(first) = ranges.next() else {
        return Ok(());
    };
    let mut current = build(first.len());
    for range in ranges {
        let (done, next) = tokio::join!(current.execute(&mut *conn), async { build(range.len()) });
        done?;
        current = next;
    }
    current.execute(conn).await?;
    Ok(())
}

/// The next free id of spans, metric points and log records: past both the
/// highest row and the highest id the ingest_log remembers (its newest row,
/// since ids only grow).
async fn next_ids(conn: &mut SqliteConnection) -> sqlx::Result<(i64, i64, i64)> {
    let (spans, points, logs): (i64, i64, i64) = sqlx::query_as(
        "SELECT MAX(COALESCE((SELECT MAX(id) FROM spans), 0),
                    COALESCE((SELECT spans_upto FROM ingest_log ORDER BY id DESC LIMIT 1), 0)),
                MAX(COALESCE((SELECT MAX(id) FROM metric_points), 0),
                    COALESCE((SELECT points_upto FROM ingest_log ORDER BY id DESC LIMIT 1), 0)),
                MAX(COALESCE((SELECT MAX(id) FROM logs), 0),
                    COALESCE((SELECT logs_upto FROM ingest_log ORDER BY id DESC LIMIT 1), 0))",
    )
    .fetch_one(conn)
    .await?;
    Ok((spans + 1, points + 1, logs + 1))
}

pub(crate) fn unix_nanos_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}
