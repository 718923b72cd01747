//! Ownership of running pipelines. A `PipelineGuard` lives as long as the response that needs
//! its pipeline; dropping it (client gone, error, shutdown) sets the pipeline to NULL at once, so
//! no transcode outlives its client. Every guard is counted in the live-pipelines gauge.

use gstreamer as gst;
use gstreamer::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

static LIVE: AtomicUsize = AtomicUsize::new(0);
/// Guards held: pipelines that requests still use (a pipeline being stopped is live, not active).
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// Every guarded pipeline, weakly: what `stop_all` ends at shutdown.
static GUARDED: std::sync::Mutex<Vec<glib::WeakRef<gst::Pipeline>>> =
    std::sync::Mutex::new(Vec::new());

/// Turns true when the service stops: streaming threads waiting for a slow reader give up.
static STOPPING: std::sync::LazyLock<tokio::sync::watch::Sender<bool>> =
    std::sync::LazyLock::new(|| tokio::sync::watch::channel(false).0);

/// A receiver that sees the service stop.
pub(crate) fn stopping() -> tokio::sync::watch::Receiver<bool> {
    STOPPING.subscribe()
}

/// Sets every pipeline still running to NULL and waits (up to `within`) for the guards to let
/// go: at shutdown, before the runtime that would drop them goes away. A pipeline dropped while
/// playing takes the process down.
pub fn stop_all(within: std::time::Duration) {
    STOPPING.send_replace(true);
    let pipelines: Vec<gst::Pipeline> = {
        let mut guarded = GUARDED.lock().unwrap();
        guarded.retain(|w| w.upgrade().is_some());
        guarded.iter().filter_map(|w| w.upgrade()).collect()
    };
    for pipeline in pipelines {
        to_null(&pipeline);
    }
    let started = std::time::Instant::now();
    while live_pipelines() > 0 && started.elapsed() < within {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
static STARTED: AtomicUsize = AtomicUsize::new(0);

/// Pipelines (and Discoverer runs) started since the process began.
pub fn pipelines_started() -> usize {
    STARTED.load(Ordering::SeqCst)
}

/// Pipelines that requests still hold (not counting those being stopped, nor Discoverer runs).
pub(crate) fn active_pipelines() -> usize {
    ACTIVE.load(Ordering::SeqCst)
}

/// Pipelines (and Discoverer runs) started and not yet back to NULL.
pub fn live_pipelines() -> usize {
    LIVE.load(Ordering::SeqCst)
}

/// Counts one live pipeline for as long as it is held.
#[derive(Debug)]
pub struct LiveToken(());

impl LiveToken {
    pub fn new() -> Self {
        LIVE.fetch_add(1, Ordering::SeqCst);
        STARTED.fetch_add(1, Ordering::SeqCst);
        Self(())
    }
}

impl Default for LiveToken {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for LiveToken {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

std::thread_local! {
    /// True on a thread that runs pipeline work for a request (see [`blocking_section`]).
    static BLOCKING_SECTION: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `job`, in which guards dropped set their pipeline to NULL right there, before `job`
/// returns: so a request's answer (and its pipeline slot) is let go only once its pipeline no
/// longer holds threads or decoder memory. Call it off the async workers.
pub fn blocking_section<T>(job: impl FnOnce() -> T) -> T {
    struct Leave(bool);
    impl Drop for Leave {
        fn drop(&mut self) {
            BLOCKING_SECTION.set(self.0);
        }
    }
    let _leave = Leave(BLOCKING_SECTION.replace(true));
    job()
}

/// Owns a pipeline; its `Drop` sets it to NULL and only then stops counting it as live, and
/// only then lets go of what it holds for the request (its pipeline slot).
pub struct PipelineGuard {
    pipeline: Option<gst::Pipeline>,
    token: Option<LiveToken>,
    held: Vec<Box<dyn Send>>,
}

impl std::fmt::Debug for PipelineGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineGuard")
            .field("pipeline", &self.pipeline)
            .finish_non_exhaustive()
    }
}

impl PipelineGuard {
    pub fn new(pipeline: gst::Pipeline) -> Self {
        ACTIVE.fetch_add(1, Ordering::SeqCst);
        Self {
            pipeline: Some(pipeline),
            token: Some(LiveToken::new()),
            held: Vec::new(),
        }
        .registered()
    }

    /// Keeps `value` until the pipeline is in NULL (a pipeline slot, say).
    pub fn hold(&mut self, value: impl Send + 'static) {
        self.held.push(Box::new(value));
    }

    fn registered(self) -> Self {
        if let Some(pipeline) = &self.pipeline {
            let mut guarded = GUARDED.lock().unwrap();
            guarded.retain(|w| w.upgrade().is_some());
            guarded.push(pipeline.downgrade());
        }
        self
    }

    /// Sets the pipeline's state. A refusal carries the error an element posted while refusing
    /// (a source that fails as it starts: the origin answered 404, say), when one did.
    pub fn change_state(&self, state: gst::State) -> Result<(), super::PipelineError> {
        let pipeline = self.pipeline();
        if pipeline.set_state(state).is_ok() {
            return Ok(());
        }
        let posted = pipeline
            .bus()
            .and_then(|bus| bus.pop_filtered(&[gst::MessageType::Error]));
        Err(match posted.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Error(err)) => super::PipelineError::from_message(err),
            _ => super::PipelineError::new(
                super::Failure::Internal,
                format!("the pipeline refused to change to {state:?}"),
            ),
        })
    }

    pub fn pipeline(&self) -> &gst::Pipeline {
        self.pipeline.as_ref().expect("present until drop")
    }

    /// Waits up to `within` for the pipeline to post `done` (Ok) or an error; else a timeout
    /// that says `late`.
    pub(crate) fn wait_for(
        &self,
        done: gst::MessageType,
        within: std::time::Duration,
        late: &str,
    ) -> Result<(), super::PipelineError> {
        let bus = self.pipeline().bus().expect("a pipeline has a bus");
        let wait = gst::ClockTime::from_nseconds(within.as_nanos() as u64);
        match bus.timed_pop_filtered(wait, &[done, gst::MessageType::Error]) {
            Some(msg) => match msg.view() {
                gst::MessageView::Error(err) => Err(super::PipelineError::from_message(err)),
                _ => Ok(()),
            },
            None => Err(super::PipelineError::new(super::Failure::Timeout, late)),
        }
    }
}

impl Drop for PipelineGuard {
    fn drop(&mut self) {
        let (Some(pipeline), token) = (self.pipeline.take(), self.token.take()) else {
            return;
        };
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
        let held = std::mem::take(&mut self.held);
        let stop = move || {
            // Setting NULL joins the streaming threads: keep that off the async workers.
            to_null(&pipeline);
            drop(pipeline);
            drop(token);
            drop(held);
            give_back_memory();
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) if !BLOCKING_SECTION.get() => {
                runtime.spawn_blocking(stop);
            }
            _ => stop(),
        }
    }
}

/// Sets `pipeline` to NULL, trying again while the change fails. It fails when a streaming
/// thread is still tearing a part of it down (uridecodebin removing its decoder after an error
/// of that very moment), and a pipeline let go of before NULL is disposed with its elements
/// still holding their resources.
fn to_null(pipeline: &gst::Pipeline) {
    for _ in 0..100 {
        if pipeline.set_state(gst::State::Null).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    tracing::error!(pipeline = %pipeline.name(), "the pipeline does not go to NULL");
}

/// Hands the memory finished pipelines freed back to the system once the service is quiet: no
/// pipeline live and none started for `QUIET`. Decoders free large frames from many threads;
/// glibc keeps them in per-thread arenas otherwise, and RSS stays at its high-water mark long
/// after the load is gone. Under load the memory is kept for the next requests: trimming after
/// each one cost hundreds of `madvise` calls per request, each a TLB shootdown, and then a page
/// fault for every page the next decoder touched (about 6 ms of CPU per thumbnail).
fn give_back_memory() {
    const QUIET: std::time::Duration = std::time::Duration::from_millis(500);
    static TRIMMER: std::sync::OnceLock<std::thread::Thread> = std::sync::OnceLock::new();
    let trimmer = TRIMMER.get_or_init(|| {
        std::thread::Builder::new()
            .name("pythumbio-trim".into())
            .spawn(|| loop {
                std::thread::park();
                loop {
                    let started = pipelines_started();
                    std::thread::sleep(QUIET);
                    if live_pipelines() == 0 && pipelines_started() == started {
                        break;
                    }
                }
                trim();
            })
            .expect("a thread starts")
            .thread()
            .clone()
    });
    trimmer.unpark();
}

fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim only releases free memory; it takes no pointers.
        unsafe {
            malloc_trim(0);
        }
    }
}
