//! One frame as an image, without playing: pause the pipeline so a frame prerolls into appsink,
//! seek to the wanted time, and take the preroll sample. An origin that cannot seek (no Range
//! support) gets a second try that decodes forward from the start instead.

use super::cover::Cover;
use super::error::{Failure, PipelineError};
use super::guard::PipelineGuard;
use super::launch::{build, seconds, Launch, Moment};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::time::{Duration, Instant};

/// The frame as the appsink gave it, with its caps (encoded, or raw for what the service makes
/// of a raw frame itself). Blocks until it is ready (call it off the async workers). The
/// launch's `still` moment says which frame: the pipeline enters the source there before
/// anything is decoded.
pub fn capture_sample(
    launch: &Launch<'_>,
    timeout: Duration,
) -> Result<gst::Sample, PipelineError> {
    let deadline = Instant::now() + timeout;
    let moment = launch.still.unwrap_or(Moment {
        time: None,
        default: 0.0,
        accurate: true,
    });
    // Decoding forward from the start, dropping the frames before the time: for a source that
    // cannot seek, or whose seeks land nowhere (a live WebM without an index, a GIF).
    let forward = Launch {
        skip_before: Some(seconds(moment.time.unwrap_or(moment.default))),
        still: None,
        ..*launch
    };
    match capture_at(launch, deadline) {
        // A time after the last video frame but before the movie's end (its audio runs on):
        // the frame asked for is the last one, sought as "past the end".
        Err(e) if e.failure == Failure::NoFrame && moment.time.is_some() => {
            let end = Moment {
                time: Some(PAST_ANY_END),
                ..moment
            };
            let last = Launch {
                still: Some(end),
                ..*launch
            };
            match capture_at(&last, deadline) {
                Err(e) if e.failure == Failure::NoFrame => capture_at(&forward, deadline),
                other => other,
            }
        }
        // Not when the MP4 demuxer could not reach the index: decoding forward reads the same
        // bytes in the same order and fails the same way, after a second download.
        Err(e)
            if e.failure == Failure::NoFrame
                || e.failure == Failure::OriginCannotSeek
                    && e.factory.as_deref() != Some("qtdemux") =>
        {
            capture_at(&forward, deadline)
        }
        // Audio without video: its cover picture, as players show it.
        Err(e) if super::cover::wants_cover(&e) => match Cover::of(launch, deadline) {
            Some(cover) => capture_at(&cover.launch(launch), deadline),
            None => Err(e),
        },
        other => other,
    }
}

/// What a pipeline that ended without a frame reports.
const NO_FRAME: &str = "the source gave no frame";
/// Seconds past the end of any source (about 31 years).
const PAST_ANY_END: f64 = 1e9;

/// Prerolls (at the moment, when the launch has one) and takes the frame.
fn capture_at(launch: &Launch<'_>, deadline: Instant) -> Result<gst::Sample, PipelineError> {
    let paused = Prerolled::open(launch, deadline)?;
    let sample = paused.sample()?;
    if let Some(asked) = launch.still.and_then(|m| m.time) {
        if paused.landed_after(&sample, asked) {
            return Err(PipelineError::new(Failure::OriginCannotSeek, MISSED));
        }
    }
    Ok(sample)
}

/// What a seek that landed after its time reports (a WebM written live, without an index,
/// sought by matroskademux's scan): the frame is then decoded forward from the start.
const MISSED: &str = "the seek landed after the time asked";

/// How far after the time asked a frame may lie before its seek counts as missed: more than a
/// frame's rounding, less than any container's misplacement worth catching.
const LANDING: f64 = 0.25;

/// A pipeline paused with a frame prerolled into its appsink: seek it, and take the frame
/// that prerolled. Set to NULL when dropped.
pub(crate) struct Prerolled {
    guard: PipelineGuard,
    sink: gst_app::AppSink,
    deadline: Instant,
}

impl Prerolled {
    pub(crate) fn open(launch: &Launch<'_>, deadline: Instant) -> Result<Self, PipelineError> {
        Self::open_with(launch, deadline, |_| ())
    }

    /// [`Prerolled::open`], with `prepare` given the sink before anything flows (to watch what
    /// reaches it from the first frame on).
    pub(crate) fn open_with(
        launch: &Launch<'_>,
        deadline: Instant,
        prepare: impl FnOnce(&gst_app::AppSink),
    ) -> Result<Self, PipelineError> {
        // Origin reads, the first of which happens inside the state change, end at the deadline.
        let reads = crate::source::Deadline::at(deadline);
        let built = build(&Launch {
            deadline: Some(&reads),
            ..*launch
        })?;
        prepare(&built.sink);
        let guard = PipelineGuard::new(built.pipeline, &built.pipelines);
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

    pub(crate) fn pipeline(&self) -> &gst::Pipeline {
        self.guard.pipeline()
    }

    /// Whether `sample`, sought for `seconds`, lies clearly after them: the seek missed. Only
    /// asked of demuxers that seek exactly (the others are decoded forward to the time anyway,
    /// and their timestamps are a broadcast clock's).
    pub(crate) fn landed_after(&self, sample: &gst::Sample, seconds: f64) -> bool {
        if !super::entry::seeks_exactly(self.pipeline()) {
            return false;
        }
        let (Some(pts), Some(segment)) = (
            sample.buffer().and_then(|b| b.pts()),
            sample
                .segment()
                .and_then(|s| s.downcast_ref::<gst::ClockTime>().cloned()),
        ) else {
            return false;
        };
        let time = segment.to_stream_time(pts).unwrap_or(pts).seconds_f64();
        time > seconds + LANDING
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
            None if self.sink.is_eos() => Err(PipelineError::new(Failure::NoFrame, NO_FRAME)),
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
