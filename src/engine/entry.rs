//! Where a pipeline enters its source: a still's moment, or the start of a stream's window,
//! sought once the decoder has exposed its pads and before anything passes them.

use gstreamer as gst;
use gstreamer::prelude::*;
use std::sync::{Arc, Mutex};

/// Where a pipeline enters its source.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Entry {
    /// A stream's window start, decoded exactly.
    At(gst::ClockTime),
    /// A still's moment, placed once the source's duration is known.
    Still(Moment),
}

/// Which frame a still takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Moment {
    /// Seconds asked for; past the end means the last frame.
    pub time: Option<f64>,
    /// Seconds when no time is asked for; a source no longer than this gives its first frame.
    pub default: f64,
    /// Decode up to the exact time (true), or take the keyframe at or before it (false).
    pub accurate: bool,
}

impl Moment {
    /// The position to seek to, once the duration is known; None for the first frame.
    pub fn position(&self, duration: Option<gst::ClockTime>) -> Option<gst::ClockTime> {
        let wanted = match (self.time, duration) {
            (None, Some(d)) if d > seconds(self.default) => seconds(self.default),
            (None, _) => return None,
            // Past the end: just before it, inside the last frame.
            (Some(t), Some(d)) if seconds(t) >= d => {
                d.saturating_sub(gst::ClockTime::from_mseconds(1))
            }
            (Some(t), _) => seconds(t),
        };
        (wanted > gst::ClockTime::ZERO).then_some(wanted)
    }

    fn flags(&self) -> gst::SeekFlags {
        match self.accurate {
            true => gst::SeekFlags::ACCURATE,
            false => gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE,
        }
    }
}

pub(crate) fn seconds(s: f64) -> gst::ClockTime {
    gst::ClockTime::from_nseconds((s * 1e9) as u64)
}

impl Entry {
    /// Where to seek, and how, once the source's duration is known; None: from the start.
    fn target(&self, duration: Option<gst::ClockTime>) -> Option<(gst::ClockTime, gst::SeekFlags)> {
        match *self {
            Entry::At(start) => Some((start, gst::SeekFlags::ACCURATE)),
            Entry::Still(moment) => moment.position(duration).map(|p| (p, moment.flags())),
        }
    }
}

/// Pads held by blocking probes until the seek has been sent.
type Held = Arc<Mutex<Vec<(gst::Pad, gst::PadProbeId)>>>;

/// Enters `src` (a uridecodebin) at `entry`: holds its pads until it has exposed them all, then
/// sends one flushing seek upstream from them (the demuxer seeks every stream) and lets go. A
/// muxer never sees data from before the seek: a seek after preroll would flush the header it
/// had already written.
///
/// The seek cannot go to the demuxer earlier, before the decoder's first frame: the decoder
/// exposes its pads only once every stream has data, and after a seek the demuxer sends up to
/// a GOP of video before the first audio, which fills the queue in front of the waiting video
/// decoder (measured: 3 to 10 of 16 concurrent thumbnails hung until their timeout).
pub fn enter(src: &gst::Element, entry: Entry) {
    let held = hold_pads(src);
    src.connect_no_more_pads(move |src| {
        let held = held.clone();
        src.call_async(move |src| {
            let pads = std::mem::take(&mut *held.lock().unwrap());
            let Some((first, _)) = pads.first() else {
                return;
            };
            let sought = entry
                .target(first.query_duration::<gst::ClockTime>())
                .is_none_or(|(position, flags)| {
                    seekable(first) && first.send_event(seek(position, flags))
                });
            if !sought {
                // The pads stay blocked: no frame from the wrong place may preroll before the
                // error is read.
                let msg = gst::message::Error::builder(
                    gst::ResourceError::Seek,
                    "the source cannot seek",
                )
                .src(src)
                .build();
                let _ = src.post_message(msg);
                return;
            }
            for (pad, id) in pads {
                pad.remove_probe(id);
            }
        });
    });
}

/// Blocks everything that goes downstream out of each pad `element` adds, and lists the pads.
fn hold_pads(element: &gst::Element) -> Held {
    let held: Held = Arc::default();
    let holding = held.clone();
    element.connect_pad_added(move |_, pad| {
        let id = pad.add_probe(gst::PadProbeType::BLOCK_DOWNSTREAM, |_, _| {
            gst::PadProbeReturn::Ok
        });
        if let Some(id) = id {
            holding.lock().unwrap().push((pad.clone(), id));
        }
    });
    held
}

/// Whether the source says it can seek. One that cannot (an origin without Range support) may
/// still accept the seek event and ignore it: ask first.
fn seekable(pad: &gst::Pad) -> bool {
    let mut seeking = gst::query::Seeking::new(gst::Format::Time);
    !pad.query(&mut seeking) || seeking.result().0
}

fn seek(position: gst::ClockTime, flags: gst::SeekFlags) -> gst::Event {
    gst::event::Seek::new(
        1.0,
        gst::SeekFlags::FLUSH | flags,
        gst::SeekType::Set,
        position,
        gst::SeekType::None,
        gst::ClockTime::NONE,
    )
}
