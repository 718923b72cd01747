//! The pipeline set can change while the service runs: SIGHUP, or a change in the
//! `PYTHUMBIO_PIPELINES` directory, loads it again. A set that does not load whole is rejected
//! and the one in use stays. Requests already running keep the endpoint they started with.

use crate::catalog::{Catalog, Source};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How often the directory is looked at for changes.
const POLL: Duration = Duration::from_secs(1);

/// The pipeline set in use, swapped whole on reload.
pub struct Catalogs {
    current: RwLock<Arc<Catalog>>,
    source: Source,
    /// Reloads that swapped a set in, and those that kept the one in use.
    reloaded: AtomicU64,
    rejected: AtomicU64,
}

impl Catalogs {
    pub fn new(catalog: Catalog, source: Source) -> Self {
        Self {
            current: RwLock::new(Arc::new(catalog)),
            source,
            reloaded: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        }
    }

    pub fn current(&self) -> Arc<Catalog> {
        self.current.read().unwrap().clone()
    }

    /// Reloads so far: how many swapped a set in, how many were rejected or failed.
    pub fn reloads(&self) -> (u64, u64) {
        (
            self.reloaded.load(Ordering::Relaxed),
            self.rejected.load(Ordering::Relaxed),
        )
    }

    /// Loads the set again (its trial parses block, so off the async workers) and swaps it in,
    /// or logs why not and keeps the one in use.
    pub async fn reload(&self, why: &str) {
        let source = self.source.clone();
        match tokio::task::spawn_blocking(move || source.load()).await {
            Ok(Ok(catalog)) => {
                let routes = catalog.endpoints.len();
                *self.current.write().unwrap() = Arc::new(catalog);
                self.reloaded.fetch_add(1, Ordering::Relaxed);
                tracing::info!(why, endpoints = routes, "pipeline set reloaded");
            }
            Ok(Err(e)) => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::error!(why, "pipeline set rejected, keeping the one in use: {e}")
            }
            Err(e) => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::error!(why, "pipeline set reload failed: {e}")
            }
        }
    }

    /// Reloads on every SIGHUP and, for a directory, on every change in it; runs until dropped.
    pub async fn watch(self: Arc<Self>, mut hangup: tokio::signal::unix::Signal) {
        let mut seen = self.source.fingerprint();
        let mut poll = tokio::time::interval(POLL);
        loop {
            tokio::select! {
                _ = hangup.recv() => self.reload("SIGHUP").await,
                _ = poll.tick(), if seen.is_some() => {
                    let now = self.source.fingerprint();
                    if now != seen {
                        seen = now;
                        self.reload("the pipeline directory changed").await;
                    }
                }
            }
        }
    }
}
