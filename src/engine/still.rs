//! One frame as an image, without playing: pause the pipeline so a frame prerolls into appsink,
//! seek to the wanted time, and take the preroll sample. An origin that cannot seek (no Range
//! support) gets a second try that decodes forward from the start instead.

use super::error::{Failure, PipelineError};
use super::guard::PipelineGuard;
use super::launch::{build, Launch};
use bytes::Bytes;
use gstreamer as gst;
use gstreamer::prelude::*;
use std::time::{Duration, Instant};

/// Blocks until the image is ready (call it off the async workers). `start` is in seconds;
/// a source no longer than `start` gives its first frame.
pub fn capture(launch: &Launch<'_>, start: f64, timeout: Duration) -> Result<Bytes, PipelineError> {
    let deadline = Instant::now() + timeout;
    let position = gst::ClockTime::from_nseconds((start * 1e9) as u64);
    match capture_at(launch, position, deadline) {
        Err(e) if e.failure == Failure::OriginCannotSeek => {
            let forward = Launch {
                skip_before: Some(position),
                ..*launch
            };
            capture_at(&forward, gst::ClockTime::ZERO, deadline)
        }
        other => other,
    }
}

/// Prerolls, seeks to `position` when the source is longer than that, and takes the frame.
fn capture_at(
    launch: &Launch<'_>,
    position: gst::ClockTime,
    deadline: Instant,
) -> Result<Bytes, PipelineError> {
    let built = build(launch)?;
    let sink = built.sink;
    let guard = PipelineGuard::new(built.pipeline);
    let pipeline = guard.pipeline();
    pipeline
        .set_state(gst::State::Paused)
        .map_err(|_| PipelineError::new(Failure::Internal, "the pipeline refused to pause"))?;
    preroll(pipeline, deadline)?;

    let long_enough = pipeline
        .query_duration::<gst::ClockTime>()
        .is_some_and(|d| d > position);
    if position > gst::ClockTime::ZERO && long_enough {
        pipeline
            .seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE, position)
            .map_err(|_| PipelineError::new(Failure::OriginCannotSeek, "the source cannot seek"))?;
        preroll(pipeline, deadline)?;
    }
    let sample = sink
        .pull_preroll()
        .map_err(|_| PipelineError::new(Failure::NoUsableStream, "the source gave no frame"))?;
    let buffer = sample
        .buffer_owned()
        .ok_or_else(|| PipelineError::new(Failure::Internal, "the sample holds no buffer"))?;
    let mapped = buffer
        .into_mapped_buffer_readable()
        .map_err(|_| PipelineError::new(Failure::Internal, "the buffer cannot be read"))?;
    Ok(Bytes::from_owner(mapped))
}

/// Waits for the pipeline to finish a state change or seek, or fail, until `deadline`.
fn preroll(pipeline: &gst::Pipeline, deadline: Instant) -> Result<(), PipelineError> {
    let bus = pipeline.bus().expect("a pipeline has a bus");
    let left = deadline.saturating_duration_since(Instant::now());
    let wanted = [gst::MessageType::AsyncDone, gst::MessageType::Error];
    match bus.timed_pop_filtered(
        gst::ClockTime::from_nseconds(left.as_nanos() as u64),
        &wanted,
    ) {
        Some(msg) => match msg.view() {
            gst::MessageView::Error(err) => Err(PipelineError::from_message(err)),
            _ => Ok(()),
        },
        None => Err(PipelineError::new(
            Failure::Timeout,
            "the source gave no frame in time",
        )),
    }
}
