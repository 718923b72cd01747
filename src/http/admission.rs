//! At most WORKERS x CONCURRENCY_PER_WORKER pipelines run at once. Further requests wait in a
//! bounded queue for a bounded time; past either bound they get 503 with Retry-After, so load
//! never piles up as unbounded memory.

use super::error::ApiError;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct Admission {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue_length: usize,
    queue_timeout: Duration,
}

/// Leaves the queue when dropped, whichever way the wait ended.
struct InQueue<'a>(&'a AtomicUsize);

impl Drop for InQueue<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Admission {
    pub fn new(slots: usize, queue_length: usize, queue_timeout: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            waiting: AtomicUsize::new(0),
            queue_length,
            queue_timeout,
        }
    }

    /// A slot, held by the response for as long as its pipeline runs.
    pub async fn admit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let before = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _in_queue = InQueue(&self.waiting);
        let busy = ApiError::Busy {
            retry_after_secs: 1 + self.queue_timeout.as_secs() / 4,
        };
        if before >= self.queue_length {
            return Err(busy);
        }
        match tokio::time::timeout(self.queue_timeout, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(busy),
        }
    }

    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    pub fn free_slots(&self) -> usize {
        self.slots.available_permits()
    }
}
