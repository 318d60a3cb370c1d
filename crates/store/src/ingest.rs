//! The receivers' side of the writer's queue.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::batch::Batch;
use crate::config::StoreConfig;
use crate::error::IngestError;
use crate::writer::Job;

/// Hands batches to the writer and waits for their commit. Cheap to clone.
///
/// The queue is bounded by bytes: a submit waits up to the configured
/// admission time for room and then answers [`IngestError::Busy`], so memory
/// stays bounded however far the writer falls behind.
#[derive(Debug, Clone)]
pub struct Ingest {
    jobs: mpsc::Sender<Job>,
    room: Arc<Semaphore>,
    /// Queue capacity in KiB, the semaphore's unit.
    capacity_kib: u32,
    config: Arc<StoreConfig>,
}

impl Ingest {
    pub(crate) fn new(jobs: mpsc::Sender<Job>, config: Arc<StoreConfig>) -> Self {
        let capacity_kib = u32::try_from(config.queue_bytes / 1024)
            .unwrap_or(u32::MAX)
            .max(1);
        Self {
            jobs,
            room: Arc::new(Semaphore::new(capacity_kib as usize)),
            capacity_kib,
            config,
        }
    }

    /// Queues `batch` and returns once it is committed. On any error nothing
    /// of the batch is stored, and the caller should ask its client to retry
    /// (except for [`IngestError::TooLarge`]).
    pub async fn submit(&self, batch: Batch) -> Result<(), IngestError> {
        if batch.item_count() == 0 {
            return Ok(());
        }
        let needed_kib = u32::try_from(batch.approx_bytes().div_ceil(1024))
            .unwrap_or(u32::MAX)
            .max(1);
        if needed_kib > self.capacity_kib {
            return Err(IngestError::TooLarge {
                needed: batch.approx_bytes(),
                capacity: self.config.queue_bytes,
            });
        }
        let permit = match tokio::time::timeout(
            self.config.admission_wait,
            self.room.clone().acquire_many_owned(needed_kib),
        )
        .await
        {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(IngestError::Closed),
            Err(_) => {
                return Err(IngestError::Busy {
                    retry_after: self.config.retry_after,
                });
            }
        };
        let (done, answer) = oneshot::channel();
        let job = Job {
            batch,
            done,
            permit,
        };
        self.jobs.send(job).await.map_err(|_| IngestError::Closed)?;
        answer.await.map_err(|_| IngestError::Closed)?
    }

    /// Bytes (roughly) currently queued or being committed.
    pub fn queued_bytes(&self) -> usize {
        (self.capacity_kib as usize - self.room.available_permits()) * 1024
    }
}
