//! A running pipeline as a `Stream` of bytes. appsink's streaming thread hands each buffer to a
//! small bounded channel and blocks while it is full, so a slow reader slows the pipeline down
//! instead of growing memory. Buffers are mapped, not copied, unless small ones are joined up
//! to the chunk size. Dropping the stream closes the channel first, then sets the pipeline to
//! NULL through its guard.

use super::error::{Failure, PipelineError};
use super::guard::PipelineGuard;
use super::launch::{build, Launch};
use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// How many buffers may wait between appsink and the HTTP body.
const CHANNEL_DEPTH: usize = 8;

enum Event {
    Data(Bytes),
    End,
}

/// The output of a running pipeline. Yields `Err` once and then ends if the pipeline fails.
pub struct PipelineStream {
    data: mpsc::Receiver<Event>,
    failures: mpsc::UnboundedReceiver<PipelineError>,
    /// Part of a buffer left over after a full chunk was sent.
    carry: Option<Bytes>,
    chunk_size: usize,
    ended: bool,
    /// Declared last: the channel closes (unblocking appsink) before the pipeline goes to NULL.
    _guard: PipelineGuard,
}

/// Builds the pipeline and sets it playing. Output and errors arrive through the stream.
pub fn start(launch: &Launch<'_>, chunk_size: usize) -> Result<PipelineStream, PipelineError> {
    let built = build(launch)?;
    let (data_tx, data) = mpsc::channel(CHANNEL_DEPTH);
    let (failure_tx, mut failures) = mpsc::unbounded_channel();

    let eos_tx = data_tx.clone();
    let (pipelines, eos_pipelines) = (built.pipelines.clone(), built.pipelines.clone());
    built.sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let buffer = sample.buffer_owned().ok_or(gst::FlowError::Error)?;
                let mapped = buffer
                    .into_mapped_buffer_readable()
                    .map_err(|_| gst::FlowError::Error)?;
                // Blocks while the reader is behind; fails once the reader is gone or the
                // service stops.
                let event = Event::Data(Bytes::from_owner(mapped));
                let mut stopping = pipelines.stopping();
                let sent = block_on(async {
                    tokio::select! {
                        sent = data_tx.send(event) => sent.is_ok(),
                        _ = stopping.wait_for(|stop| *stop) => false,
                    }
                });
                if !sent {
                    return Err(gst::FlowError::Flushing);
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .eos(move |_| {
                let mut stopping = eos_pipelines.stopping();
                block_on(async {
                    tokio::select! {
                        _ = eos_tx.send(Event::End) => {}
                        _ = stopping.wait_for(|stop| *stop) => {}
                    }
                });
            })
            .build(),
    );

    let bus = built.pipeline.bus().expect("a pipeline has a bus");
    bus.set_sync_handler(move |_, msg| {
        match msg.view() {
            gst::MessageView::Error(err) => {
                let _ = failure_tx.send(PipelineError::from_message(err));
            }
            gst::MessageView::Warning(w) => {
                let element = msg.src().map(|s| s.path_string().to_string());
                let element = element.unwrap_or_default();
                // A branch the source has no stream for: expected, and ended by launch.
                if w.error().kind::<gst::ParseError>() == Some(gst::ParseError::DelayedLink) {
                    tracing::debug!(element, "{}", w.error());
                } else {
                    let details = w.debug().map(|d| d.to_string()).unwrap_or_default();
                    tracing::warn!(element, debug = details, "{}", w.error());
                }
            }
            _ => {}
        }
        gst::BusSyncReply::Drop
    });

    // A source that fails as it starts fails the state change: its error says why.
    let guard =
        play(built.pipeline, &built.pipelines).map_err(|e| failures.try_recv().unwrap_or(e))?;
    Ok(PipelineStream::new(data, failures, guard, chunk_size))
}

/// Runs a future to completion on this (streaming) thread, parking between wake-ups.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::sync::Arc::new(Unpark(std::thread::current())).into();
    let mut context = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

/// Guards the pipeline and sets it playing.
fn play(
    pipeline: gst::Pipeline,
    pipelines: &std::sync::Arc<super::guard::Pipelines>,
) -> Result<PipelineGuard, PipelineError> {
    let guard = PipelineGuard::new(pipeline, pipelines);
    guard.change_state(gst::State::Playing)?;
    Ok(guard)
}

/// Most bytes `collect` holds before it gives up: an assembled output is kept whole in memory.
const COLLECT_LIMIT: usize = 64 << 20;

/// Runs a description that writes its output itself (to a file) to its end, with `properties`
/// set first (call it off the async workers).
pub fn run_to_end(launch: &Launch<'_>, timeout: std::time::Duration) -> Result<(), PipelineError> {
    let internal = |e: String| PipelineError::new(Failure::Internal, e);
    let pipeline = gst::parse::launch(launch.description)
        .map_err(|e| internal(e.to_string()))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| internal("not a pipeline".into()))?;
    for setting in launch.properties {
        let element = pipeline
            .by_name(&setting.element)
            .ok_or_else(|| internal(format!("no element named {}", setting.element)))?;
        element.set_property_from_str(&setting.property, &setting.property_text());
    }
    let guard = play(pipeline, &launch.pipelines())?;
    guard.wait_for(
        gst::MessageType::Eos,
        timeout,
        "the pipeline did not finish in time",
    )
}

/// Runs the pipeline to its end and returns every buffer with its duration (call it off the
/// async workers): for outputs that are assembled whole rather than streamed.
pub fn collect(
    launch: &Launch<'_>,
    timeout: std::time::Duration,
) -> Result<Vec<(Bytes, std::time::Duration)>, PipelineError> {
    let deadline = std::time::Instant::now() + timeout;
    let reads = crate::source::Deadline::at(deadline);
    let built = build(&Launch {
        deadline: Some(&reads),
        ..*launch
    })?;
    let sink = built.sink;
    let guard = play(built.pipeline, &built.pipelines)?;
    let bus = guard.pipeline().bus().expect("a pipeline has a bus");
    let mut buffers = Vec::new();
    let mut held = 0;
    loop {
        if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            if let gst::MessageView::Error(err) = msg.view() {
                return Err(PipelineError::from_message(err));
            }
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(PipelineError::new(
                Failure::Timeout,
                "the pipeline did not finish in time",
            ));
        }
        let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(100)) else {
            if sink.is_eos() {
                break;
            }
            continue;
        };
        let Some(buffer) = sample.buffer_owned() else {
            continue;
        };
        let duration = buffer
            .duration()
            .map_or(std::time::Duration::ZERO, |d| d.into());
        let bytes = super::buffer_bytes(buffer)?;
        held += bytes.len();
        if held > COLLECT_LIMIT {
            return Err(PipelineError::new(
                Failure::Internal,
                "the output is too large to assemble",
            ));
        }
        buffers.push((bytes, duration));
    }
    Ok(buffers)
}

impl PipelineStream {
    /// Keeps `value` (the request's pipeline slot) until the pipeline is in NULL.
    pub fn hold(&mut self, value: impl Send + 'static) {
        self._guard.hold(value);
    }

    fn new(
        data: mpsc::Receiver<Event>,
        failures: mpsc::UnboundedReceiver<PipelineError>,
        guard: PipelineGuard,
        chunk_size: usize,
    ) -> Self {
        Self {
            data,
            failures,
            carry: None,
            chunk_size,
            ended: false,
            _guard: guard,
        }
    }

    /// Joins whatever else is already waiting onto `first`, up to the chunk size; never waits.
    fn fill(&mut self, first: Bytes) -> Bytes {
        if first.len() >= self.chunk_size {
            let mut first = first;
            let rest = first.split_off(self.chunk_size);
            self.carry = (!rest.is_empty()).then_some(rest);
            return first;
        }
        let mut joined: Option<BytesMut> = None;
        let mut len = first.len();
        while len < self.chunk_size {
            match self.data.try_recv() {
                Ok(Event::Data(mut next)) => {
                    if len + next.len() > self.chunk_size {
                        let rest = next.split_off(self.chunk_size - len);
                        self.carry = Some(rest);
                    }
                    len += next.len();
                    joined
                        .get_or_insert_with(|| BytesMut::from(&first[..]))
                        .extend_from_slice(&next);
                }
                Ok(Event::End) => {
                    self.ended = true;
                    break;
                }
                Err(_) => break,
            }
        }
        joined.map(BytesMut::freeze).unwrap_or(first)
    }
}

impl Stream for PipelineStream {
    type Item = Result<Bytes, PipelineError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Poll::Ready(Some(err)) = this.failures.poll_recv(cx) {
            this.ended = true;
            this.carry = None;
            this.data.close();
            return Poll::Ready(Some(Err(err)));
        }
        if let Some(carry) = this.carry.take() {
            return Poll::Ready(Some(Ok(this.fill(carry))));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        match this.data.poll_recv(cx) {
            Poll::Ready(Some(Event::Data(first))) => Poll::Ready(Some(Ok(this.fill(first)))),
            Poll::Ready(Some(Event::End)) => {
                this.ended = true;
                Poll::Ready(None)
            }
            Poll::Ready(None) => {
                this.ended = true;
                let err =
                    PipelineError::new(Failure::Internal, "the pipeline stopped without ending");
                Poll::Ready(Some(Err(err)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for PipelineStream {
    fn drop(&mut self) {
        // Unblock appsink's thread before the guard sets the pipeline to NULL.
        self.data.close();
        while self.data.try_recv().is_ok() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn stream(
        chunk_size: usize,
    ) -> (
        mpsc::Sender<Event>,
        mpsc::UnboundedSender<PipelineError>,
        PipelineStream,
    ) {
        gst::init().unwrap();
        let (data_tx, data) = mpsc::channel(CHANNEL_DEPTH);
        let (failure_tx, failures) = mpsc::unbounded_channel();
        let guard = PipelineGuard::new(gst::Pipeline::new(), &Default::default());
        (
            data_tx,
            failure_tx,
            PipelineStream::new(data, failures, guard, chunk_size),
        )
    }

    #[tokio::test]
    async fn joins_what_is_ready_and_cuts_at_the_chunk_size() {
        let (tx, _failures, mut output) = stream(1024);
        for size in [100, 200, 5000] {
            tx.send(Event::Data(Bytes::from(vec![size as u8; size])))
                .await
                .unwrap();
        }
        tx.send(Event::End).await.unwrap();
        let mut sizes = Vec::new();
        let mut body = Vec::new();
        while let Some(chunk) = output.next().await {
            let chunk = chunk.unwrap();
            sizes.push(chunk.len());
            body.extend_from_slice(&chunk);
        }
        assert_eq!(sizes, [1024, 1024, 1024, 1024, 1024, 180]);
        let mut want = vec![100u8; 100];
        want.extend(vec![200u8; 200]);
        want.extend(vec![(5000 % 256) as u8; 5000]);
        assert_eq!(body, want);
    }

    #[tokio::test]
    async fn a_failure_ends_the_stream_with_an_error() {
        let (tx, failures, mut output) = stream(1024);
        tx.send(Event::Data(Bytes::from_static(b"head")))
            .await
            .unwrap();
        assert_eq!(&output.next().await.unwrap().unwrap()[..], b"head");
        failures
            .send(PipelineError::new(Failure::Corrupt, "broken"))
            .unwrap();
        assert_eq!(
            output.next().await.unwrap().unwrap_err().failure,
            Failure::Corrupt
        );
        assert!(output.next().await.is_none());
        // The reader is gone: a blocked appsink thread would be released.
        assert!(tx.send(Event::Data(Bytes::new())).await.is_err());
    }
}
