//! Frames that all carry the same timestamp get times of their own. gst-libav's GIF demuxer
//! (1.22) stamps every frame of an animated GIF 0 with its delay as the duration: unfixed, a
//! thumbnail at any time is the last frame and a stream is one frame long.

use gstreamer as gst;
use gstreamer::prelude::*;
use std::sync::Mutex;

#[derive(Default)]
struct Last {
    /// The previous frame's timestamp as it came.
    given: Option<gst::ClockTime>,
    /// The previous frame's timestamp as it went on, and its duration.
    stamped: Option<(gst::ClockTime, gst::ClockTime)>,
    /// Whether the stream plays forward (a reverse seek's frames run backwards on purpose).
    backwards: bool,
}

/// Restamps, on every pad `src` (a uridecodebin) adds, a frame whose timestamp repeats the
/// previous frame's: it follows the previous frame, by that frame's duration.
pub(crate) fn repeated_timestamps(src: &gst::Element) {
    src.connect_pad_added(|_, pad| {
        let last = Mutex::new(Last::default());
        let what = gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM;
        pad.add_probe(what, move |_, info| {
            let mut last = last.lock().unwrap();
            match &mut info.data {
                Some(gst::PadProbeData::Event(event)) => {
                    if let gst::EventView::Segment(segment) = event.view() {
                        *last = Last {
                            backwards: segment.segment().rate() < 0.0,
                            ..Last::default()
                        };
                    }
                }
                Some(gst::PadProbeData::Buffer(buffer)) if !last.backwards => {
                    let given = buffer.pts();
                    let stamped = match (given, last.given, last.stamped) {
                        (Some(pts), Some(before), Some((at, duration))) if pts == before => {
                            let pts = at + duration;
                            buffer.make_mut().set_pts(pts);
                            Some(pts)
                        }
                        _ => given,
                    };
                    last.given = given;
                    last.stamped = stamped.zip(buffer.duration());
                }
                _ => {}
            }
            gst::PadProbeReturn::Ok
        });
    });
}
