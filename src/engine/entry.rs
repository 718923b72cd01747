//! Where a pipeline enters its source: a still's moment, or the start of a stream's window,
//! sought once the decoder has exposed its pads and before anything passes them.

use gstreamer as gst;
use gstreamer::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// Where a still's frame is, once the source's duration is known.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Place {
    /// At (or, not accurate, the keyframe before) this position.
    At(gst::ClockTime),
    /// The last frame of a source this long.
    End(gst::ClockTime),
}

impl Moment {
    /// Where the frame is, once the duration is known; None for the first frame.
    fn place(&self, duration: Option<gst::ClockTime>) -> Option<Place> {
        let wanted = match (self.time, duration) {
            (None, Some(d)) if d > seconds(self.default) => seconds(self.default),
            (None, _) => return None,
            (Some(t), Some(d)) if seconds(t) >= d => return Some(Place::End(d)),
            (Some(t), _) => seconds(t),
        };
        (wanted > gst::ClockTime::ZERO).then_some(Place::At(wanted))
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
    /// The seek that enters the source, once its duration is known; None: from the start.
    ///
    /// The last frame is sought backwards, from the end: the movie's duration is its longest
    /// track's, and a file's audio often outlasts its video by a few milliseconds (AAC
    /// padding), so a position just before the end can lie after the last video frame. Played
    /// backwards from the end, the first frame to come out is the last one there is.
    ///
    /// `position` turns a time of the media's own (0 at its first frame) into the position a
    /// seek names.
    fn seek(
        &self,
        duration: Option<gst::ClockTime>,
        position: impl Fn(gst::ClockTime) -> gst::ClockTime,
    ) -> Option<gst::Event> {
        let forward = |at, flags| seek(1.0, flags, position(at), gst::ClockTime::NONE);
        match *self {
            Entry::At(start) => Some(forward(start, gst::SeekFlags::ACCURATE)),
            Entry::Still(moment) => match moment.place(duration)? {
                Place::At(position) => Some(forward(position, moment.flags())),
                Place::End(end) => Some(seek(
                    -1.0,
                    gst::SeekFlags::ACCURATE,
                    position(gst::ClockTime::ZERO),
                    Some(position(end)),
                )),
            },
        }
    }
}

/// Pads held by blocking probes until the seek has been sent.
type Held = Arc<Mutex<Vec<(gst::Pad, gst::PadProbeId)>>>;

/// Demuxers whose timestamps are a broadcast clock's, not the media's time: an MPEG-TS (or PS)
/// starts wherever its encoder's clock was (ffmpeg's at 1.4 s; tsdemux's first segment then says
/// 0.78 s). MP4 and Matroska timestamps are the media's own, edit lists included.
const CLOCK_TIMESTAMPED: [&str; 2] = ["tsdemux", "mpegpsdemux"];

/// The stream time of the media's first data, which players and ffmpeg count as 0: for a
/// clock-timestamped container, the earliest first timestamp of its streams (an MPEG-TS written
/// by ffmpeg starts its audio at 1.46 s and its video at 1.48 s, where tsdemux's segment says
/// 0.78 s), else 0.
#[derive(Clone, Default)]
pub struct MediaStart {
    start: Arc<std::sync::OnceLock<gst::ClockTime>>,
    clocked: Arc<AtomicBool>,
    /// The stream time of each pad's first buffer, as they come.
    firsts: Arc<Mutex<Vec<gst::ClockTime>>>,
    /// How far into its playlist segment a stream's window starts, once sought there.
    into_segment: Arc<Mutex<Option<gst::ClockTime>>>,
}

impl MediaStart {
    /// Watches `src` (a uridecodebin) for the demuxer that decides how its times count, and
    /// notes the first timestamp on each of its pads. Call it before anything else probes the
    /// pads' buffers.
    pub fn watch(&self, src: &gst::Element) {
        let Some(bin) = src.downcast_ref::<gst::Bin>() else {
            return;
        };
        let clocked = self.clocked.clone();
        bin.connect_deep_element_added(move |_, _, element| {
            let name = element.factory().map(|f| f.name());
            if name.is_some_and(|n| CLOCK_TIMESTAMPED.contains(&n.as_str())) {
                clocked.store(true, Ordering::SeqCst);
            }
        });
        let firsts = self.firsts.clone();
        src.connect_pad_added(move |_, pad| {
            let firsts = firsts.clone();
            pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
                let Some(pts) = info.buffer().and_then(|b| b.pts()) else {
                    return gst::PadProbeReturn::Ok;
                };
                let time = segment_of(pad)
                    .and_then(|s| s.to_stream_time(pts))
                    .unwrap_or(pts);
                firsts.lock().unwrap().push(time);
                gst::PadProbeReturn::Remove
            });
        });
    }

    /// The start, fixed at the first call: the earliest first timestamp seen by then, else
    /// `pad`'s segment time (a seek is sent before any buffer has come).
    fn note(&self, pad: &gst::Pad) -> gst::ClockTime {
        if !self.clocked.load(Ordering::SeqCst) {
            return gst::ClockTime::ZERO;
        }
        *self.start.get_or_init(|| {
            let first = self.firsts.lock().unwrap().iter().min().copied();
            first.unwrap_or_else(|| {
                segment_of(pad)
                    .and_then(|s| s.time())
                    .unwrap_or(gst::ClockTime::ZERO)
            })
        })
    }

    fn set_into_segment(&self, into: gst::ClockTime) {
        *self.into_segment.lock().unwrap() = Some(into);
    }

    /// How far into its playlist segment a window starts, if it was sought by segment: its
    /// streams' timestamps then have their own zero, and the window's end counts from where
    /// each stream's data starts.
    pub fn distance_into_segment(&self) -> Option<gst::ClockTime> {
        *self.into_segment.lock().unwrap()
    }

    /// A buffer timestamp of `pad` as the media's own time: its stream time (an MP4 edit list
    /// that skips a B-frame delay makes the first frame's timestamp 80 ms, its stream time 0),
    /// counted from the first data for a clock-timestamped container.
    pub fn media_time(&self, pad: &gst::Pad, pts: gst::ClockTime) -> gst::ClockTime {
        let stream_time = segment_of(pad)
            .and_then(|s| s.to_stream_time(pts))
            .unwrap_or(pts);
        stream_time.saturating_sub(self.note(pad))
    }

    /// The position a seek from `pad` names for a time of the media's own.
    fn position(&self, pad: &gst::Pad, time: gst::ClockTime) -> gst::ClockTime {
        if !self.clocked.load(Ordering::SeqCst) {
            return time;
        }
        let at = time + self.note(pad);
        segment_of(pad)
            .and_then(|s| s.position_from_stream_time(at))
            .unwrap_or(at)
    }
}

/// The time segment `pad`'s data comes with: the one it holds, or (a ghost pad blocked before
/// its first event) the one held by the pad it stands for.
fn segment_of(pad: &gst::Pad) -> Option<gst::FormattedSegment<gst::ClockTime>> {
    let mut pad = pad.clone();
    loop {
        if let Some(event) = pad.sticky_event::<gst::event::Segment>(0) {
            return event.segment().downcast_ref::<gst::ClockTime>().cloned();
        }
        pad = pad.downcast::<gst::GhostPad>().ok()?.target()?;
    }
}

/// Enters `src` (a uridecodebin) at `entry`: holds its pads until it has exposed them all, then
/// sends one flushing seek upstream from them (the demuxer seeks every stream) and lets go. A
/// muxer never sees data from before the seek: a seek after preroll would flush the header it
/// had already written.
///
/// With `at_demuxer` (a pipeline that decodes no audio, an MP4 of H.264), the seek goes to the demuxer instead,
/// as soon as it has found its streams and before any frame reaches a decoder: the frames at
/// the start of the file are never decoded (a keyframe, and with frame threads a few more: 8 ms
/// of a 38 ms thumbnail). A pipeline that decodes audio keeps the first way: its audio decoder
/// needs audio data before the decoder exposes its pads, and after a seek the demuxer sends up
/// to a GOP of video before the first audio, which fills the queue in front of the waiting
/// video decoder (measured: 3 to 10 of 16 concurrent thumbnails hung until their timeout). A
/// source without a demuxer (an image, an elementary stream) is sought the first way too.
pub fn enter(src: &gst::Element, entry: Entry, at_demuxer: bool, start: MediaStart) {
    let sought = Arc::new(AtomicBool::new(false));
    let seeking = Arc::new(std::sync::atomic::AtomicU8::new(Seeking::Exactly as u8));
    if let Some(bin) = src.downcast_ref::<gst::Bin>() {
        let (sought, seeking, start) = (sought.clone(), seeking.clone(), start.clone());
        let claimed = AtomicBool::new(false);
        // The first demuxer plugged decides how the source is entered.
        bin.connect_deep_element_added(move |src, _, element| {
            let Some(factory) = element.factory() else {
                return;
            };
            let demuxes = factory
                .metadata(gst::ELEMENT_METADATA_KLASS)
                .is_some_and(|klass| klass.contains("Demux"));
            if !demuxes || claimed.swap(true, Ordering::SeqCst) {
                return;
            }
            let name = factory.name();
            if SEEKS_INEXACTLY.contains(&name.as_str()) || unindexed(src.upcast_ref(), &name) {
                seeking.store(Seeking::Not as u8, Ordering::SeqCst);
            } else if SEEKS_ROUGHLY.contains(&name.as_str()) {
                seeking.store(Seeking::Roughly as u8, Ordering::SeqCst);
            } else if name == "hlsdemux" {
                seeking.store(Seeking::BySegment as u8, Ordering::SeqCst);
            } else if at_demuxer && ANNOUNCE_STREAMS_FIRST.contains(&name.as_str()) {
                seek_at_demuxer(
                    src.upcast_ref(),
                    element,
                    entry,
                    sought.clone(),
                    start.clone(),
                );
            }
        });
    }
    let held = hold_pads(src, gst::PadProbeType::BLOCK_DOWNSTREAM);
    src.connect_no_more_pads(move |src| {
        let (held, sought, seeking) = (held.clone(), sought.clone(), seeking.clone());
        let start = start.clone();
        src.call_async(move |src| {
            let pads = std::mem::take(&mut *held.lock().unwrap());
            let how = Seeking::from(seeking.load(Ordering::SeqCst));
            if sought.load(Ordering::SeqCst) || seek_from(src, &pads, entry, how, &start) {
                release(pads);
            }
        });
    });
}

/// How a source's demuxer seeks.
#[derive(Clone, Copy, PartialEq)]
enum Seeking {
    /// To the keyframe before the time, decoding up to it: MP4, Matroska, most others.
    Exactly = 0,
    /// Only near the time, maybe after its keyframe ([`SEEKS_ROUGHLY`]).
    Roughly = 1,
    /// Not where asked at all ([`SEEKS_INEXACTLY`]).
    Not = 2,
    /// To the start of the playlist segment that holds the time, on timestamps whose zero is
    /// not the playlist's (hlsdemux, 1.22): sought there, and decoded forward to the time.
    BySegment = 3,
}

impl From<u8> for Seeking {
    fn from(value: u8) -> Self {
        match value {
            1 => Self::Roughly,
            2 => Self::Not,
            3 => Self::BySegment,
            _ => Self::Exactly,
        }
    }
}

/// Whether `pipeline` reads its source with a demuxer that seeks exactly: not one of
/// [`SEEKS_ROUGHLY`] or [`SEEKS_INEXACTLY`], unless an adaptive demuxer (HLS, DASH) above it
/// seeks by whole segments, each of which starts with a keyframe.
pub(crate) fn seeks_exactly(pipeline: &gst::Pipeline) -> bool {
    let names: Vec<String> = pipeline
        .iterate_recurse()
        .into_iter()
        .flatten()
        .filter_map(|e| e.factory().map(|f| f.name().to_string()))
        .collect();
    let has = |list: &[&str]| names.iter().any(|n| list.contains(&n.as_str()));
    let unindexed = pipeline
        .by_name("src")
        .is_some_and(|src| names.iter().any(|n| unindexed(&src, n)));
    has(&ADAPTIVE) || !(has(&SEEKS_ROUGHLY) || has(&SEEKS_INEXACTLY) || unindexed)
}

/// Whether `demuxer` (a factory name) reads a Matroska/WebM source (that of `decoder`, a
/// uridecodebin) whose header declares no index: written live, by a browser's MediaRecorder or
/// `ffmpeg -live 1`. matroskademux's scan for a seek lands anywhere in such a file.
fn unindexed(decoder: &gst::Element, demuxer: &str) -> bool {
    if demuxer != "matroskademux" || decoder.find_property("source").is_none() {
        return false;
    }
    let source = decoder.property::<Option<gst::Element>>("source");
    let head = source.as_ref().and_then(crate::source::head_of);
    head.and_then(|h| super::sniff::matroska(&h))
        .is_some_and(|declared| !declared.index)
}

/// Demuxers of playlists, which seek by segment.
const ADAPTIVE: [&str; 3] = ["hlsdemux", "dashdemux", "mssdemux"];

/// Demuxers of streams without an index (MPEG-TS, MPEG-PS): a seek lands near the time asked,
/// on whatever packet is there, and a frame decoded from there without its references is grey.
/// They are sought [`ROUGH_MARGIN`] early, and decoded forward to the time.
const SEEKS_ROUGHLY: [&str; 2] = ["tsdemux", "mpegpsdemux"];

/// How much earlier than the time a rough seek goes: longer than a GOP of broadcast and HLS
/// video (0.5 to 4 s), so that a keyframe comes before the time.
const ROUGH_MARGIN: gst::ClockTime = gst::ClockTime::from_seconds(5);

/// Demuxers whose seeks do not land where asked: the source is treated as one that cannot
/// seek, and a still is decoded forward from the start. flvdemux (1.22), sought into an FLV
/// without an index, reports the pipeline paused with no frame ever reaching the sink; gst-libav's
/// GIF demuxer stamps every frame 0.
const SEEKS_INEXACTLY: [&str; 2] = ["flvdemux", "avdemux_gif"];

/// Demuxers that add every stream's pad, and say so, from the file's header, before they send
/// any data: MP4/MOV. Others add a stream's pad when its first data comes (flvdemux): held, the
/// first pad's data would keep the others from ever being found. matroskademux announces its
/// streams first too, but sought there, a WebM written by ffmpeg (VP9 + Opus) sought into some
/// of its GOPs never gets its video decoder's pad exposed: Matroska is entered the other way.
const ANNOUNCE_STREAMS_FIRST: [&str; 1] = ["qtdemux"];

/// Holds `demuxer`'s pads, and seeks from them once it has added them all; `sought` turns true
/// before the first buffer is let through. Errors are posted by `src`.
fn seek_at_demuxer(
    src: &gst::Element,
    demuxer: &gst::Element,
    entry: Entry,
    sought: Arc<AtomicBool>,
    start: MediaStart,
) {
    // Data only: events pass, so that the one `wake_undecoded` sends takes the stream's
    // stream-start and caps along.
    let what =
        gst::PadProbeType::BLOCK | gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST;
    let held = hold_pads(demuxer, what);
    let src = src.downgrade();
    demuxer.connect_no_more_pads(move |demuxer| {
        let (held, src, sought) = (held.clone(), src.clone(), sought.clone());
        let start = start.clone();
        demuxer.call_async(move |_| {
            let pads = std::mem::take(&mut *held.lock().unwrap());
            let Some(src) = src.upgrade() else {
                return;
            };
            // Only H.264 is sought here: an HEVC decoder that gets a keyframe of the middle as
            // its very first picture gives a grey frame now and then (2 in 30 thumbnails of a
            // 10-bit x265 file); it is sought after decoding, the other way.
            if !pads.iter().all(|(pad, _)| h264_or_not_video(pad)) {
                release(pads);
                return;
            }
            if seek_from(&src, &pads, entry, Seeking::Exactly, &start) {
                sought.store(true, Ordering::SeqCst);
                wake_undecoded(&pads);
                release(pads);
            }
        });
    });
}

/// Whether `pad` carries H.264, or anything but video.
fn h264_or_not_video(pad: &gst::Pad) -> bool {
    let caps = pad.current_caps();
    let name = caps
        .as_ref()
        .and_then(|c| c.structure(0))
        .map(|s| s.name().to_string())
        .unwrap_or_default();
    name == "video/x-h264" || !name.starts_with("video/")
}

/// Seeks from the first of `pads` to where `entry` says; false (with an error posted by `src`)
/// when the source cannot seek. A stream's window in a source that cannot seek (an origin
/// without Range, a GIF) starts where decoding forward from the start reaches it, and one that
/// seeks only roughly is sought early and decoded forward to the time. Otherwise the pads stay
/// blocked: no frame from the wrong place may preroll before the error is read.
fn seek_from(
    src: &gst::Element,
    pads: &[(gst::Pad, gst::PadProbeId)],
    entry: Entry,
    how: Seeking,
    start: &MediaStart,
) -> bool {
    let Some((first, _)) = pads.first() else {
        return true;
    };
    let position = |t: gst::ClockTime| start.position(first, t);
    let duration = first.query_duration::<gst::ClockTime>();
    let can_seek = how != Seeking::Not && seekable(first);
    // Where decoding forward has to reach, for a window or a still's time.
    let target = match entry {
        Entry::At(at) => Some(at),
        Entry::Still(moment) => match moment.place(duration) {
            Some(Place::At(at)) => Some(at),
            _ => None,
        },
    };
    let window = matches!(entry, Entry::At(_));
    // A playlist: sought to the start of the segment holding the time (a keyframe), then each
    // stream is decoded forward from its first frame by the time's distance into the segment.
    if let (Seeking::BySegment, true, Some(at)) = (how, can_seek, target) {
        let segment = playlist_segments(src).and_then(|starts| segment_start(&starts, at));
        if let Some(from) = segment {
            let flags = gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE;
            let into = at - from;
            start.set_into_segment(into);
            if first.send_event(seek(1.0, flags, position(at), gst::ClockTime::NONE)) {
                for (pad, _) in pads {
                    drop_into_segment(pad, into);
                }
                return true;
            }
        }
    }
    if let (Seeking::Roughly, true, Some(at)) = (how, can_seek, target) {
        let from = at.saturating_sub(ROUGH_MARGIN);
        // From the start, nothing is sought, and the start is known from the first data.
        let early = || {
            seek(
                1.0,
                gst::SeekFlags::ACCURATE,
                position(from),
                gst::ClockTime::NONE,
            )
        };
        if from.is_zero() || first.send_event(early()) {
            for (pad, _) in pads {
                drop_before(pad, at, start.clone(), window.then_some(at - from));
            }
            return true;
        }
    }
    let sought = entry
        .seek(duration, position)
        .is_none_or(|seek| how == Seeking::Exactly && can_seek && first.send_event(seek));
    if let (false, true, Some(at)) = (sought, window, target) {
        for (pad, _) in pads {
            drop_before(pad, at, start.clone(), Some(at));
        }
        return true;
    }
    if !sought {
        let msg = gst::message::Error::builder(gst::ResourceError::Seek, "the source cannot seek")
            .src(src)
            .build();
        let _ = src.post_message(msg);
    }
    sought
}

/// The start times of the segments of the HLS media playlist `src` (a uridecodebin) reads, from
/// its first bytes; None for a master playlist or one cut short of its end there.
fn playlist_segments(src: &gst::Element) -> Option<Vec<gst::ClockTime>> {
    let source = src.property::<Option<gst::Element>>("source")?;
    let head = crate::source::head_of(&source)?;
    let text = std::str::from_utf8(&head).ok()?;
    if text.contains("#EXT-X-STREAM-INF") || !text.contains("#EXT-X-ENDLIST") {
        return None;
    }
    let mut starts = Vec::new();
    let mut at = 0.0f64;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#EXTINF:") {
            let seconds: f64 = rest.split(',').next()?.trim().parse().ok()?;
            starts.push(gst::ClockTime::from_nseconds((at * 1e9) as u64));
            at += seconds;
        }
    }
    (!starts.is_empty()).then_some(starts)
}

/// The start of the segment that holds `at`.
fn segment_start(starts: &[gst::ClockTime], at: gst::ClockTime) -> Option<gst::ClockTime> {
    starts.iter().copied().filter(|s| *s <= at).max()
}

/// Drops `pad`'s buffers until `into` after its first one (the first frame of the segment
/// sought to).
fn drop_into_segment(pad: &gst::Pad, into: gst::ClockTime) {
    let first = Mutex::new(None::<gst::ClockTime>);
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        let Some(pts) = info.buffer().and_then(|b| b.pts()) else {
            return gst::PadProbeReturn::Ok;
        };
        let first = *first.lock().unwrap().get_or_insert(pts);
        match pts < first + into {
            true => super::discard(info),
            false => gst::PadProbeReturn::Remove,
        }
    });
}

/// Drops `pad`'s buffers before the media time `at`; with `shift` (a window decoded from that
/// much before its start), shifts the rest back by it, so that the window still starts at 0
/// for the muxer.
fn drop_before(
    pad: &gst::Pad,
    at: gst::ClockTime,
    start: MediaStart,
    shift: Option<gst::ClockTime>,
) {
    if let Some(shift) = shift {
        pad.set_offset(-(shift.nseconds() as i64));
    }
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let early = info
            .buffer()
            .and_then(|b| b.pts())
            .is_some_and(|pts| start.media_time(pad, pts) < at);
        match early {
            true => super::discard(info),
            false => gst::PadProbeReturn::Ok,
        }
    });
}

/// Sends one event down every held stream that is not video (the audio left undecoded, say),
/// and with it the events that set the stream up: the decoder exposes its pads only once each
/// stream has shown its caps, and after the seek such a stream's first data may come a GOP of
/// video later, behind a video queue that is full by then (measured: a thumbnail at 188.77 s
/// hung every time). The caps alone would not do: a pad does not send on the caps it has sent.
fn wake_undecoded(pads: &[(gst::Pad, gst::PadProbeId)]) {
    for (pad, _) in pads {
        let video = pad
            .current_caps()
            .and_then(|caps| caps.structure(0).map(|s| s.name().starts_with("video/")))
            .unwrap_or(true);
        if !video {
            let wake = gst::Structure::new_empty("pythumbio-wake");
            pad.push_event(gst::event::CustomDownstream::new(wake));
        }
    }
}

fn release(pads: Vec<(gst::Pad, gst::PadProbeId)>) {
    for (pad, id) in pads {
        pad.remove_probe(id);
    }
}

/// Blocks `what` (a blocking probe type) on each pad `element` adds, and lists the pads.
fn hold_pads(element: &gst::Element, what: gst::PadProbeType) -> Held {
    let held: Held = Arc::default();
    let holding = held.clone();
    element.connect_pad_added(move |_, pad| {
        let id = pad.add_probe(what, |_, _| gst::PadProbeReturn::Ok);
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

/// A flushing seek over [start, stop) at `rate` (negative: backwards from `stop`).
fn seek(
    rate: f64,
    flags: gst::SeekFlags,
    start: gst::ClockTime,
    stop: impl Into<Option<gst::ClockTime>>,
) -> gst::Event {
    let stop = stop.into();
    gst::event::Seek::new(
        rate,
        gst::SeekFlags::FLUSH | flags,
        gst::SeekType::Set,
        start,
        if stop.is_some() {
            gst::SeekType::Set
        } else {
            gst::SeekType::None
        },
        stop,
    )
}
