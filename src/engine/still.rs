//! One frame as an image, without playing: pause the pipeline so a frame prerolls into appsink,
//! seek to the wanted time, and take the preroll sample. An origin that cannot seek (no Range
//! support) gets a second try that decodes forward from the start instead.

use super::error::{Failure, PipelineError};
use super::guard::PipelineGuard;
use super::launch::{build, seconds, Launch, Moment};
use bytes::Bytes;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::time::{Duration, Instant};

/// Blocks until the image is ready (call it off the async workers). The launch's `still`
/// moment says which frame: the pipeline enters the source there before anything is decoded.
pub fn capture(launch: &Launch<'_>, timeout: Duration) -> Result<Bytes, PipelineError> {
    let deadline = Instant::now() + timeout;
    match capture_at(launch, deadline) {
        // A time after the last video frame but before the movie's end (its audio runs on):
        // the frame asked for is the last one, sought as "past the end".
        Err(e) if e.message == NO_FRAME && launch.still.is_some_and(|m| m.time.is_some()) => {
            let end = Moment {
                time: Some(PAST_ANY_END),
                ..launch.still.unwrap()
            };
            let last = Launch {
                still: Some(end),
                ..*launch
            };
            capture_at(&last, deadline)
        }
        Err(e) if e.failure == Failure::OriginCannotSeek => {
            let moment = launch.still.unwrap_or(Moment {
                time: None,
                default: 0.0,
                accurate: true,
            });
            let forward = Launch {
                skip_before: Some(seconds(moment.time.unwrap_or(moment.default))),
                still: None,
                ..*launch
            };
            capture_at(&forward, deadline)
        }
        other => other,
    }
}

/// What a pipeline that ended without a frame reports.
const NO_FRAME: &str = "the source gave no frame";
/// Seconds past the end of any source (about 31 years).
const PAST_ANY_END: f64 = 1e9;

/// Prerolls (at the moment, when the launch has one) and takes the frame.
fn capture_at(launch: &Launch<'_>, deadline: Instant) -> Result<Bytes, PipelineError> {
    let paused = Prerolled::open(launch, deadline)?;
    super::sample_bytes(paused.sample()?)
}

/// A pipeline paused with a frame prerolled into its appsink: seek it, and take the frame
/// that prerolled. Set to NULL when dropped.
pub(crate) struct Prerolled {
    guard: PipelineGuard,
    sink: gst_app::AppSink,
    deadline: Instant,
}

impl Prerolled {
    pub(crate) fn open(launch: &Launch<'_>, deadline: Instant) -> Result<Self, PipelineError> {
        // Origin reads, the first of which happens inside the state change, end at the deadline.
        let reads = crate::source::Deadline::at(deadline);
        let built = build(&Launch {
            deadline: Some(&reads),
            ..*launch
        })?;
        let guard = PipelineGuard::new(built.pipeline);
        guard.change_state(gst::State::Paused)?;
        let paused = Self {
            guard,
            sink: built.sink,
            deadline,
        };
        paused.settle()?;
        Ok(paused)
    }

    /// Seeks (flushing) and waits for the new frame to preroll.
    pub(crate) fn seek(
        &self,
        position: gst::ClockTime,
        flags: gst::SeekFlags,
    ) -> Result<(), PipelineError> {
        self.guard
            .pipeline()
            .seek_simple(gst::SeekFlags::FLUSH | flags, position)
            .map_err(|_| PipelineError::new(Failure::OriginCannotSeek, "the source cannot seek"))?;
        self.settle()
    }

    /// The source's duration, asked of the decoder `src`: the whole pipeline may hold endless
    /// branches (a watermark frozen into a still) whose duration is unknown.
    pub(crate) fn duration(&self) -> Option<gst::ClockTime> {
        let pipeline = self.guard.pipeline();
        match pipeline.by_name("src") {
            Some(src) => src.query_duration::<gst::ClockTime>(),
            None => pipeline.query_duration::<gst::ClockTime>(),
        }
    }

    /// The frame that prerolled. Waits no longer than the deadline: a pipeline can report
    /// itself paused with nothing in its sink (an FLV source sought past its first frames does).
    pub(crate) fn sample(&self) -> Result<gst::Sample, PipelineError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let left = gst::ClockTime::from_nseconds(left.as_nanos().try_into().unwrap_or(u64::MAX));
        match self.sink.try_pull_preroll(left) {
            Some(sample) => Ok(sample),
            None if self.sink.is_eos() => {
                Err(PipelineError::new(Failure::NoUsableStream, NO_FRAME))
            }
            None => Err(PipelineError::new(
                Failure::Timeout,
                "the source gave no frame in time",
            )),
        }
    }

    /// Waits for a state change or seek to finish, or the pipeline to fail, until the deadline.
    fn settle(&self) -> Result<(), PipelineError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        self.guard.wait_for(
            gst::MessageType::AsyncDone,
            left,
            "the source gave no frame in time",
        )
    }
}
