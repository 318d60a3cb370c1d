//! A span processor with a bounded buffer that drops the OLDEST spans when full and
//! counts what it drops.
//!
//! The SDK's `BatchSpanProcessor` turns away the newest spans once its queue is full
//! and does not expose how many: during an outage of the endpoint the agent would
//! keep stale spans and lose the ones that explain what is happening now. Here ended
//! spans go into a ring; a worker thread exports batches of up to [`MAX_BATCH`] on an
//! interval, or sooner once the ring is half full, and puts a batch that failed back
//! at the front so that order is kept when the endpoint returns.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

/// The most spans sent in one export call.
pub const MAX_BATCH: usize = 512;

/// How the buffer behaves.
#[derive(Debug, Clone, Copy)]
pub struct BufferConfig {
    /// Spans kept at most; past it the oldest are dropped (at least 1).
    pub capacity: usize,
    /// How often the worker exports what is buffered.
    pub interval: Duration,
    /// How long `force_flush` waits for the buffer to empty.
    pub flush_timeout: Duration,
}

impl Default for BufferConfig {
    fn default() -> Self {
        BufferConfig {
            capacity: 2048,
            interval: Duration::from_secs(5),
            flush_timeout: Duration::from_secs(5),
        }
    }
}

/// The number of spans dropped so far; cheap to clone and read from anywhere (the
/// metric callback holds one after the processor moved into the tracer provider).
#[derive(Debug, Clone, Default)]
pub struct DroppedSpans(Arc<AtomicU64>);

impl DroppedSpans {
    /// Spans dropped so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn add(&self, n: usize) {
        self.0
            .fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

/// What the processor and the worker share.
#[derive(Debug)]
struct Ring {
    spans: Mutex<VecDeque<SpanData>>,
    capacity: usize,
    dropped: DroppedSpans,
    /// A wake-up is already on its way: `on_end` sends at most one at a time.
    wake_pending: AtomicBool,
}

impl Ring {
    fn lock(&self) -> MutexGuard<'_, VecDeque<SpanData>> {
        // A panic elsewhere while holding the lock leaves a usable queue.
        self.spans.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `span`, dropping the oldest if full; returns the new length.
    fn push(&self, span: SpanData) -> usize {
        let mut spans = self.lock();
        if spans.len() >= self.capacity {
            spans.pop_front();
            self.dropped.add(1);
        }
        spans.push_back(span);
        spans.len()
    }

    fn take_batch(&self) -> Vec<SpanData> {
        let mut spans = self.lock();
        let n = spans.len().min(MAX_BATCH);
        spans.drain(..n).collect()
    }

    /// Puts a batch that failed back in front of what arrived meanwhile; the bound
    /// still holds, so the oldest (the batch's own first spans) go first.
    fn requeue(&self, batch: Vec<SpanData>) {
        let mut spans = self.lock();
        for span in batch.into_iter().rev() {
            spans.push_front(span);
        }
        let excess = spans.len().saturating_sub(self.capacity);
        if excess > 0 {
            spans.drain(..excess);
            self.dropped.add(excess);
        }
    }

    /// Drops whatever is left (at shutdown, when it could not go out).
    fn discard(&self) {
        let mut spans = self.lock();
        self.dropped.add(spans.len());
        spans.clear();
    }
}

enum Message {
    /// The ring reached half its capacity.
    Wake,
    Flush(mpsc::SyncSender<OTelSdkResult>),
    Shutdown(Duration, mpsc::SyncSender<OTelSdkResult>),
    SetResource(Resource),
}

/// The processor: install it with `SdkTracerProvider::builder().with_span_processor`.
#[derive(Debug)]
pub struct BoundedSpanProcessor {
    ring: Arc<Ring>,
    messages: mpsc::Sender<Message>,
    worker: Mutex<Option<JoinHandle<()>>>,
    flush_timeout: Duration,
    is_shutdown: AtomicBool,
}

impl BoundedSpanProcessor {
    /// Starts the worker thread that owns `exporter`.
    ///
    /// With the tonic OTLP exporter, call it within a Tokio runtime (as for the SDK's
    /// batch processor): the exporter's channel runs on that runtime.
    pub fn new<E: SpanExporter + 'static>(
        exporter: E,
        config: BufferConfig,
    ) -> std::io::Result<Self> {
        let capacity = config.capacity.max(1);
        let ring = Arc::new(Ring {
            spans: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
            capacity,
            dropped: DroppedSpans::default(),
            wake_pending: AtomicBool::new(false),
        });
        let (messages, inbox) = mpsc::channel();
        let worker = Worker {
            exporter,
            ring: Arc::clone(&ring),
            failing: false,
        };
        let interval = config.interval;
        let handle = std::thread::Builder::new()
            .name("otel-span-buffer".to_owned())
            .spawn(move || worker.run(&inbox, interval))?;
        Ok(BoundedSpanProcessor {
            ring,
            messages,
            worker: Mutex::new(Some(handle)),
            flush_timeout: config.flush_timeout,
            is_shutdown: AtomicBool::new(false),
        })
    }

    /// Spans dropped so far, oldest first, because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.ring.dropped.get()
    }

    /// A handle on the dropped count that outlives moving the processor.
    pub fn dropped_spans(&self) -> DroppedSpans {
        self.ring.dropped.clone()
    }

    /// Spans waiting for export.
    pub fn buffered(&self) -> usize {
        self.ring.lock().len()
    }

    /// Sends `message` built around a reply channel and waits up to `timeout`.
    fn ask(
        &self,
        timeout: Duration,
        message: impl FnOnce(mpsc::SyncSender<OTelSdkResult>) -> Message,
    ) -> OTelSdkResult {
        let (reply, answer) = mpsc::sync_channel(1);
        self.messages
            .send(message(reply))
            .map_err(|_| OTelSdkError::AlreadyShutdown)?;
        match answer.recv_timeout(timeout) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => Err(OTelSdkError::Timeout(timeout)),
            Err(RecvTimeoutError::Disconnected) => Err(OTelSdkError::InternalFailure(
                "span buffer worker stopped".to_owned(),
            )),
        }
    }
}

impl SpanProcessor for BoundedSpanProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() || self.is_shutdown.load(Ordering::Relaxed) {
            return;
        }
        let len = self.ring.push(span);
        // Never blocks: the channel is unbounded and carries one wake-up at a time.
        if len >= self.ring.capacity.div_ceil(2)
            && !self.ring.wake_pending.swap(true, Ordering::AcqRel)
        {
            let _ = self.messages.send(Message::Wake);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        if self.is_shutdown.load(Ordering::Relaxed) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        self.ask(self.flush_timeout, Message::Flush)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        if self.is_shutdown.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let result = self.ask(timeout, |reply| Message::Shutdown(timeout, reply));
        let handle = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // Join only if it answered: a worker stuck in an export must not hang us.
        if result.is_ok()
            && let Some(handle) = handle
        {
            let _ = handle.join();
        }
        result
    }

    fn set_resource(&mut self, resource: &Resource) {
        // Queued before any span, so the worker sets it before the first export.
        let _ = self.messages.send(Message::SetResource(resource.clone()));
    }
}

/// Owns the exporter on its own thread (exports are async; the thread blocks on them,
/// never a serving thread).
struct Worker<E> {
    exporter: E,
    ring: Arc<Ring>,
    /// The last export failed: log the outage once, and its end.
    failing: bool,
}

impl<E: SpanExporter> Worker<E> {
    fn run(mut self, inbox: &mpsc::Receiver<Message>, interval: Duration) {
        let mut next_tick = Instant::now() + interval;
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            match inbox.recv_timeout(wait) {
                Ok(Message::Wake) => {
                    self.ring.wake_pending.store(false, Ordering::Release);
                    let _ = self.export_pending(None);
                }
                Ok(Message::Flush(reply)) => {
                    let _ = reply.send(self.export_pending(None));
                }
                Ok(Message::Shutdown(timeout, reply)) => {
                    let deadline = Instant::now() + timeout;
                    let result = self.export_pending(Some(deadline));
                    // What could not go out now never will.
                    self.ring.discard();
                    let left = deadline.saturating_duration_since(Instant::now());
                    let result = result.and(self.exporter.shutdown_with_timeout(left));
                    let _ = reply.send(result);
                    return;
                }
                Ok(Message::SetResource(resource)) => self.exporter.set_resource(&resource),
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.export_pending(None);
                    next_tick = Instant::now() + interval;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Exports batch after batch until the ring is empty, an export fails (its batch
    /// goes back to the front) or `deadline` passes. At most what was buffered when
    /// it started, so that steady traffic cannot keep it here.
    fn export_pending(&mut self, deadline: Option<Instant>) -> OTelSdkResult {
        let mut budget = self.ring.lock().len();
        while budget > 0 {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(OTelSdkError::Timeout(Duration::ZERO));
            }
            let batch = self.ring.take_batch();
            if batch.is_empty() {
                break;
            }
            budget = budget.saturating_sub(batch.len());
            // The exporter consumes the batch; keep a copy to put back on failure.
            let result = futures::executor::block_on(self.exporter.export(batch.clone()));
            if let Err(error) = result {
                if !self.failing {
                    tracing::warn!(%error, "span export failed; buffering, oldest dropped first");
                    self.failing = true;
                }
                self.ring.requeue(batch);
                return Err(error);
            }
            if self.failing {
                tracing::info!(dropped = self.ring.dropped.get(), "span export recovered");
                self.failing = false;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

    /// The SDK's in-memory exporter behind a switch: down, it refuses every batch
    /// as an unreachable endpoint would.
    #[derive(Debug, Clone)]
    struct Switched {
        inner: InMemorySpanExporter,
        up: Arc<AtomicBool>,
    }

    impl SpanExporter for Switched {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            if self.up.load(Ordering::SeqCst) {
                self.inner.export(batch).await
            } else {
                Err(OTelSdkError::InternalFailure("endpoint down".to_owned()))
            }
        }
    }

    fn names(spans: &[SpanData]) -> Vec<String> {
        spans.iter().map(|s| s.name.to_string()).collect()
    }

    fn provider(processor: BoundedSpanProcessor) -> SdkTracerProvider {
        SdkTracerProvider::builder()
            .with_span_processor(processor)
            .build()
    }

    #[test]
    fn when_full_the_oldest_are_dropped_and_counted_then_the_rest_go_out_in_order() {
        const N: usize = 8;
        const K: usize = 5;
        let exporter = Switched {
            inner: InMemorySpanExporter::default(),
            up: Arc::new(AtomicBool::new(false)),
        };
        let processor = BoundedSpanProcessor::new(
            exporter.clone(),
            BufferConfig {
                capacity: N,
                interval: Duration::from_secs(3600),
                flush_timeout: Duration::from_secs(5),
            },
        )
        .expect("worker thread");
        let dropped = processor.dropped_spans();
        let provider = provider(processor);
        let tracer = provider.tracer("test");
        for i in 0..N + K {
            tracer.in_span(format!("span-{i}"), |_| {});
        }

        // Down: the flush fails, and (the worker being idle after it) exactly the k
        // oldest are gone.
        assert!(provider.force_flush().is_err());
        assert_eq!(dropped.get(), K as u64);
        assert!(
            exporter
                .inner
                .get_finished_spans()
                .expect("spans")
                .is_empty()
        );

        exporter.up.store(true, Ordering::SeqCst);
        provider
            .force_flush()
            .expect("flush once the endpoint is back");
        let sent = exporter.inner.get_finished_spans().expect("spans");
        let expected: Vec<String> = (K..N + K).map(|i| format!("span-{i}")).collect();
        assert_eq!(names(&sent), expected);
        assert_eq!(dropped.get(), K as u64);
        provider.shutdown().expect("shutdown");
    }

    #[test]
    fn exports_on_its_own_and_in_batches() {
        let exporter = Switched {
            inner: InMemorySpanExporter::default(),
            up: Arc::new(AtomicBool::new(true)),
        };
        let processor = BoundedSpanProcessor::new(
            exporter.clone(),
            BufferConfig {
                capacity: 4 * MAX_BATCH,
                interval: Duration::from_millis(20),
                flush_timeout: Duration::from_secs(5),
            },
        )
        .expect("worker thread");
        let provider = provider(processor);
        let tracer = provider.tracer("test");
        let total = MAX_BATCH + 10;
        for i in 0..total {
            tracer.in_span(format!("span-{i}"), |_| {});
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let sent = loop {
            let sent = exporter.inner.get_finished_spans().expect("spans");
            if sent.len() == total || Instant::now() > deadline {
                break sent;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let expected: Vec<String> = (0..total).map(|i| format!("span-{i}")).collect();
        assert_eq!(names(&sent), expected, "exported without a flush, in order");
        provider.shutdown().expect("shutdown");
    }

    #[test]
    fn shutdown_counts_what_could_not_go_out() {
        let exporter = Switched {
            inner: InMemorySpanExporter::default(),
            up: Arc::new(AtomicBool::new(false)),
        };
        let processor =
            BoundedSpanProcessor::new(exporter, BufferConfig::default()).expect("worker thread");
        let dropped = processor.dropped_spans();
        let provider = provider(processor);
        let tracer = provider.tracer("test");
        for i in 0..3 {
            tracer.in_span(format!("span-{i}"), |_| {});
        }
        assert!(provider.shutdown().is_err(), "the endpoint is down");
        assert_eq!(dropped.get(), 3);
    }

    /// A real OTLP/gRPC exporter to a port nobody listens on: spans still end at
    /// once, and the buffer keeps its bound.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_real_exporter_to_a_closed_port() {
        use opentelemetry_otlp::WithExportConfig as _;
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(format!("http://127.0.0.1:{port}"))
            .with_timeout(Duration::from_secs(1))
            .build()
            .expect("exporter");
        let processor = BoundedSpanProcessor::new(
            exporter,
            BufferConfig {
                capacity: 4,
                interval: Duration::from_secs(3600),
                flush_timeout: Duration::from_secs(5),
            },
        )
        .expect("worker thread");
        let dropped = processor.dropped_spans();
        let provider = provider(processor);
        let tracer = provider.tracer("test");
        for i in 0..10 {
            tracer.in_span(format!("span-{i}"), |_| {});
        }
        let flushed = tokio::task::spawn_blocking({
            let provider = provider.clone();
            move || provider.force_flush()
        })
        .await
        .expect("join");
        assert!(flushed.is_err(), "nobody listens");
        assert_eq!(dropped.get(), 6);
        let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    }
}
