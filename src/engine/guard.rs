//! Ownership of running pipelines. A `PipelineGuard` lives as long as the response that needs
//! its pipeline; dropping it (client gone, error, shutdown) sets the pipeline to NULL at once, so
//! no transcode outlives its client. Every guard is counted in the live-pipelines gauge.

use gstreamer as gst;
use gstreamer::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// The pipelines of one service: what its gauges count, what its shutdown stops, and when its
/// idle memory goes back to the system. The service owns it and hands it to every launch, so
/// two services in one process count and stop only their own.
#[derive(Debug)]
pub struct Pipelines {
    /// Pipelines (and Discoverer runs) started and not yet back to NULL.
    live: AtomicUsize,
    /// Guards held: pipelines that requests still use (a pipeline being stopped is live, not
    /// active).
    active: AtomicUsize,
    /// Pipelines (and Discoverer runs) started so far.
    started: AtomicUsize,
    /// Every guarded pipeline, weakly: what `stop_all` ends at shutdown.
    guarded: Mutex<Vec<glib::WeakRef<gst::Pipeline>>>,
    /// Turns true when the service stops: streaming threads waiting for a slow reader give up.
    stopping: tokio::sync::watch::Sender<bool>,
    /// Wakes the thread that trims freed memory once these pipelines are quiet (made on first
    /// use; it ends with this value).
    trimmer: Mutex<Option<std::sync::mpsc::SyncSender<()>>>,
}

impl Default for Pipelines {
    fn default() -> Self {
        Self {
            live: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            started: AtomicUsize::new(0),
            guarded: Mutex::default(),
            stopping: tokio::sync::watch::channel(false).0,
            trimmer: Mutex::default(),
        }
    }
}

impl Pipelines {
    /// A receiver that sees the service stop.
    pub(crate) fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// Sets every pipeline still running to NULL and waits (up to `within`) for the guards to
    /// let go: at shutdown, before the runtime that would drop them goes away. A pipeline
    /// dropped while playing takes the process down.
    pub fn stop_all(&self, within: std::time::Duration) {
        self.stopping.send_replace(true);
        let pipelines: Vec<gst::Pipeline> = {
            let mut guarded = self.guarded.lock().unwrap();
            guarded.retain(|w| w.upgrade().is_some());
            guarded.iter().filter_map(|w| w.upgrade()).collect()
        };
        for pipeline in pipelines {
            to_null(&pipeline);
        }
        let started = std::time::Instant::now();
        while self.live() > 0 && started.elapsed() < within {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Pipelines (and Discoverer runs) started so far.
    pub fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    /// Pipelines that requests still hold (not counting those being stopped, nor Discoverer
    /// runs).
    pub(crate) fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Pipelines (and Discoverer runs) started and not yet back to NULL.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    fn register(&self, pipeline: &gst::Pipeline) {
        let mut guarded = self.guarded.lock().unwrap();
        guarded.retain(|w| w.upgrade().is_some());
        guarded.push(pipeline.downgrade());
    }
}

/// Counts one live pipeline for as long as it is held.
#[derive(Debug)]
pub struct LiveToken(Arc<Pipelines>);

impl LiveToken {
    pub fn new(pipelines: &Arc<Pipelines>) -> Self {
        pipelines.live.fetch_add(1, Ordering::SeqCst);
        pipelines.started.fetch_add(1, Ordering::SeqCst);
        Self(pipelines.clone())
    }
}

impl Drop for LiveToken {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
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
    pipelines: Arc<Pipelines>,
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
    /// Guards `pipeline`, counted among (and stopped with) `pipelines`.
    pub fn new(pipeline: gst::Pipeline, pipelines: &Arc<Pipelines>) -> Self {
        pipelines.active.fetch_add(1, Ordering::SeqCst);
        pipelines.register(&pipeline);
        Self {
            pipeline: Some(pipeline),
            token: Some(LiveToken::new(pipelines)),
            pipelines: pipelines.clone(),
            held: Vec::new(),
        }
    }

    /// Keeps `value` until the pipeline is in NULL (a pipeline slot, say).
    pub fn hold(&mut self, value: impl Send + 'static) {
        self.held.push(Box::new(value));
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
        self.pipelines.active.fetch_sub(1, Ordering::SeqCst);
        let held = std::mem::take(&mut self.held);
        let pipelines = self.pipelines.clone();
        let stop = move || {
            // Setting NULL joins the streaming threads: keep that off the async workers.
            to_null(&pipeline);
            drop(pipeline);
            drop(token);
            drop(held);
            give_back_memory(&pipelines);
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
/// pipeline of its `Pipelines` live and none started for `QUIET`. `malloc_trim` works on the
/// whole process, so with two services in one process a quiet one may trim while the other is
/// busy (a cost in page faults, not a fault); the binary runs one. Decoders free large frames from many threads;
/// glibc keeps them in per-thread arenas otherwise, and RSS stays at its high-water mark long
/// after the load is gone. Under load the memory is kept for the next requests: trimming after
/// each one cost hundreds of `madvise` calls per request, each a TLB shootdown, and then a page
/// fault for every page the next decoder touched (about 6 ms of CPU per thumbnail).
fn give_back_memory(pipelines: &Arc<Pipelines>) {
    let mut trimmer = pipelines.trimmer.lock().unwrap();
    let wake = trimmer.get_or_insert_with(|| start_trimmer(Arc::downgrade(pipelines)));
    // Full: the trimmer is awake already and sees this pipeline's end.
    let _ = wake.try_send(());
}

/// The thread that trims once `pipelines` are quiet: no pipeline live and none started for
/// `QUIET`. It ends when `pipelines` is dropped.
fn start_trimmer(pipelines: Weak<Pipelines>) -> std::sync::mpsc::SyncSender<()> {
    const QUIET: std::time::Duration = std::time::Duration::from_millis(500);
    let (wake, woken) = std::sync::mpsc::sync_channel(1);
    let quiet = move || loop {
        let Some(started) = pipelines.upgrade().map(|p| p.started()) else {
            return false;
        };
        std::thread::sleep(QUIET);
        match pipelines.upgrade() {
            Some(p) if p.live() == 0 && p.started() == started => return true,
            Some(_) => {}
            None => return false,
        }
    };
    std::thread::Builder::new()
        .name("pythumbio-trim".into())
        .spawn(move || {
            while woken.recv().is_ok() {
                if quiet() {
                    trim();
                }
            }
        })
        .expect("a thread starts");
    wake
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
