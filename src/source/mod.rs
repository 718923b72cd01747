//! Reading sources safely: the source policy (schemes, hosts, addresses), the HTTP client that
//! enforces it on every resolved address and redirect hop, and the GStreamer element through
//! which every pipeline and the Discoverer read http(s) URIs.

pub mod element;
pub mod fetch;
pub mod policy;

pub use element::HttpSrc;
pub use fetch::{FetchError, Forward, Origins, Timeouts};
pub use policy::{Policy, Refusal, Rule};

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::watch;

static ORIGINS: OnceLock<Origins> = OnceLock::new();
static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
static FETCHED: AtomicU64 = AtomicU64::new(0);

/// The default origin time limits.
pub const DEFAULT_TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(5),
    read: Duration::from_secs(15),
    pool_idle: Duration::from_secs(30),
};

/// Sets the policy and time limits every source reads under; the first call wins. Without a
/// call, sources read under the strictest policy.
pub fn configure(policy: Policy, timeouts: Timeouts) -> Result<(), String> {
    let origins = Origins::new(policy, timeouts)?;
    ORIGINS
        .set(origins)
        .map_err(|_| "the source policy is already set".to_string())
}

/// The policy in force.
pub fn policy() -> &'static Policy {
    origins().policy()
}

fn origins() -> &'static Origins {
    ORIGINS.get_or_init(|| {
        Origins::new(Policy::default(), DEFAULT_TIMEOUTS).expect("the HTTP client builds")
    })
}

/// Bytes received from origins over HTTP since the process began.
pub fn fetched_bytes() -> u64 {
    FETCHED.load(Ordering::Relaxed)
}

fn count(bytes: u64) {
    FETCHED.fetch_add(bytes, Ordering::Relaxed);
}

/// Runs origin I/O on the sources' own small runtime and waits for it on this thread (a
/// GStreamer streaming thread, or whichever thread changes a pipeline's state), giving up at
/// once when `cancel` turns true.
fn run<T: Send + 'static>(
    work: impl Future<Output = Result<T, FetchError>> + Send + 'static,
    mut cancel: watch::Receiver<bool>,
) -> Result<T, FetchError> {
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("pythumbio-origin")
            .enable_all()
            .build()
            .expect("the origin runtime starts")
    });
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let result = tokio::select! {
            result = work => result,
            _ = cancel.wait_for(|stop| *stop) => Err(FetchError::Cancelled),
        };
        let _ = tx.send(result);
    });
    rx.recv().unwrap_or(Err(FetchError::Cancelled))
}

/// The scheme prefix under which the element also takes http(s) URIs. uridecodebin (1.22) treats
/// every `http://` URI as a network stream and reads it through a 2 MB push-mode buffer; under
/// this scheme it links the source straight to the demuxer, which then pulls just the ranges it
/// needs (the index, the samples asked for).
pub const PULL_PREFIX: &str = "pythumbio+";

/// The URI to give uridecodebin for `uri`: http(s) under [`PULL_PREFIX`], others as they are.
pub fn pull_uri(uri: &str) -> String {
    let lower = uri.get(..8).unwrap_or(uri).to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        format!("{PULL_PREFIX}{uri}")
    } else {
        uri.to_string()
    }
}

/// Registers the element; call after GStreamer is initialised.
pub fn register() -> Result<(), gstreamer::glib::BoolError> {
    element::register()
}
