//! Builds a pipeline from a description: parse it, set request values as properties of named
//! elements, and attach the behaviour every endpoint shares to the decoder named `src`:
//! branches the source never feeds get EOS, and a rate other than 1 speeds
//! the source up.

pub(crate) use super::entry::seconds;
pub use super::entry::{Entry, Moment};
use super::error::{Failure, PipelineError, NO_USABLE_STREAM, TOO_LARGE};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A value set on a named element after the description is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub element: String,
    pub property: String,
    pub value: SettingValue,
}

/// What a setting sets: text for the property to parse, or a url the source policy admitted
/// (nothing else reaches a source element).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingValue {
    Text(String),
    Url(UrlRole, crate::source::Admitted),
}

impl Setting {
    pub fn text(element: &str, property: &str, value: impl Into<String>) -> Self {
        Self {
            element: element.into(),
            property: property.into(),
            value: SettingValue::Text(value.into()),
        }
    }

    /// The url of the source the output is made of, if this sets it.
    pub fn source(&self) -> Option<&crate::source::Admitted> {
        match &self.value {
            SettingValue::Url(UrlRole::Source, url) => Some(url),
            _ => None,
        }
    }

    /// The text the property is set from.
    pub fn property_text(&self) -> String {
        match &self.value {
            SettingValue::Text(text) => text.clone(),
            SettingValue::Url(_, url) => url.decoder_uri(),
        }
    }
}

/// What a url is to the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UrlRole {
    /// The media the output is made of.
    Source,
    /// A picture laid over the output.
    Watermark,
}

/// What a request asks of a description.
#[derive(Clone, Copy)]
pub struct Launch<'a> {
    /// The description with its placeholders already filled with validated numbers.
    pub description: &'a str,
    /// Values set on named elements after parsing.
    pub properties: &'a [Setting],
    /// How many times faster than real time the source plays (1.0 for normal speed).
    pub rate: f64,
    /// Decoded frames before this time are dropped (reaching a time without seeking).
    pub skip_before: Option<gst::ClockTime>,
    /// The part of the source a stream covers, entered by a seek before anything flows.
    pub window: Option<Window>,
    /// Where the compositor named `overlay` puts its second input (a watermark).
    pub overlay: Option<Overlay>,
    /// The frame a still takes, entered by a seek before anything is decoded.
    pub still: Option<Moment>,
    /// The largest source pictures the service takes on.
    pub limits: SourceLimits,
    /// Headers (name, value) the source `src` sends to its origin.
    pub forward: &'a [(String, String)],
    /// When origin reads must have ended (a timeout), even those that run inside a state
    /// change: a whole output's deadline, or a stream's first byte's.
    pub deadline: Option<&'a crate::source::Deadline>,
    /// The origins (policy, client) every source element of the pipeline reads through; None:
    /// the process default.
    pub origins: Option<&'a std::sync::Arc<crate::source::Origins>>,
    /// The service's pipelines, which count, and at shutdown stop, this one; None: a tally of
    /// its own (a pipeline the service does not serve, such as a check at load).
    pub pipelines: Option<&'a std::sync::Arc<super::guard::Pipelines>>,
}

/// The largest source pictures the service decodes: a larger one fails the request (422) as
/// soon as the decoder says its size, before any frame is processed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SourceLimits {
    pub width: u32,
    pub height: u32,
    pub pixels: u64,
}

impl Default for SourceLimits {
    fn default() -> Self {
        Self {
            width: crate::limits::MAX_SOURCE_SIDE,
            height: crate::limits::MAX_SOURCE_SIDE,
            pixels: crate::limits::MAX_SOURCE_PIXELS,
        }
    }
}

impl<'a> Launch<'a> {
    /// The description as it is: normal speed, the whole source, no overlay.
    pub fn new(description: &'a str, properties: &'a [Setting]) -> Self {
        Self {
            description,
            properties,
            rate: 1.0,
            skip_before: None,
            window: None,
            overlay: None,
            still: None,
            limits: SourceLimits::default(),
            forward: &[],
            deadline: None,
            origins: None,
            pipelines: None,
        }
    }

    /// The pipelines this launch is counted among.
    pub fn pipelines(&self) -> std::sync::Arc<super::guard::Pipelines> {
        self.pipelines.cloned().unwrap_or_default()
    }
}

/// A watermark's place, from the size of the frame it goes on: its width is `scale` times the
/// frame's shorter side (its height follows its aspect ratio), and it sits `offset` times that
/// side from the bottom-right corner.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Overlay {
    pub scale: f64,
    pub offset: f64,
}

/// Where a stream enters the source and where it ends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub start: gst::ClockTime,
    pub stop: Option<gst::ClockTime>,
}

/// A parsed pipeline and its output element.
pub struct Built {
    pub pipeline: gst::Pipeline,
    pub sink: gst_app::AppSink,
    /// What the pipeline is counted among once guarded.
    pub pipelines: std::sync::Arc<super::guard::Pipelines>,
}

/// Parses and sets properties without starting anything: the check a pipeline file gets at load.
/// `decoder` says whether the description must have the decoder named `src`.
pub fn check(
    description: &str,
    properties: &[Setting],
    decoder: bool,
) -> Result<(), PipelineError> {
    let built = build(&Launch::new(description, properties))?;
    let has_decoder = built.pipeline.by_name("src").is_some();
    let _ = built.pipeline.set_state(gst::State::Null);
    if decoder && !has_decoder {
        return Err(PipelineError::new(
            Failure::Internal,
            "the description needs a decoder named \"src\"",
        ));
    }
    Ok(())
}

pub fn build(launch: &Launch<'_>) -> Result<Built, PipelineError> {
    let internal = |msg: String| PipelineError::new(Failure::Internal, msg);
    let element = gst::parse::launch_full(launch.description, None, gst::ParseFlags::FATAL_ERRORS)
        .map_err(|e| internal(format!("pipeline description does not parse: {e}")))?;
    let pipeline = match element.downcast::<gst::Pipeline>() {
        Ok(pipeline) => pipeline,
        Err(element) => {
            let pipeline = gst::Pipeline::new();
            pipeline
                .add(&element)
                .map_err(|e| internal(e.to_string()))?;
            pipeline
        }
    };
    // What the description names itself is there already; what decoders add later is
    // watched. Either way a source element of the service gets the service's origins (without
    // any, the process default when it starts), and one that would read from outside is refused.
    for element in pipeline.iterate_recurse().into_iter().flatten() {
        // appsrc is fed by the service itself (a storyboard's tiles).
        let fed = element.factory().is_some_and(|f| f.name() == "appsrc");
        if crate::source::is_foreign_reader(&element) && !fed {
            let name = element.factory().map(|f| f.name().to_string());
            return Err(internal(format!(
                "{} reads from outside the service's source policy",
                name.unwrap_or_default()
            )));
        }
        if let Some(origins) = launch.origins {
            crate::source::hand_origins(&element, origins);
        }
    }
    crate::source::guard(pipeline.upcast_ref(), launch.origins);
    for setting in launch.properties {
        let Setting {
            element, property, ..
        } = setting;
        let target = pipeline.by_name(element).ok_or_else(|| {
            internal(format!(
                "no element named {element:?} for property {property}"
            ))
        })?;
        if target.find_property(property).is_none() {
            return Err(internal(format!(
                "element {element:?} has no property {property:?}"
            )));
        }
        target.set_property_from_str(property, &setting.property_text());
    }
    // Every decoder of the description (the source's, a watermark's) is under the limits.
    for decoder in uri_decoders(&pipeline) {
        refuse_large_sources(&decoder, launch.limits);
        super::demux_errors::pass_on(&decoder);
    }
    let sink = pipeline
        .by_name("sink")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .ok_or_else(|| internal("the description needs an appsink named \"sink\"".into()))?;
    // Without a decoder (an encoder fed by appsrc) none of the source handling applies.
    let Some(src) = pipeline.by_name("src") else {
        return Ok(Built {
            pipeline,
            sink,
            pipelines: launch.pipelines(),
        });
    };
    end_unfed_branches(&pipeline, &src);
    // First of the probes on the decoder's pads: the others read the timestamps it fixes.
    super::restamp::repeated_timestamps(&src);
    let pipelines = launch.pipelines();
    watch_decoders(
        &src,
        launch.limits,
        launch.window.is_some(),
        launch.still.is_some(),
        pipelines.clone(),
    );
    let forward = crate::source::Forward::from_pairs(launch.forward);
    let deadline = launch.deadline.cloned();
    let origins = launch
        .origins
        .cloned()
        .unwrap_or_else(crate::source::default_origins);
    src.connect("source-setup", false, move |args| {
        if let Ok(source) = args[1].get::<gst::Element>() {
            super::count_origin_bytes(&source, &origins);
            if let Some(http) = source.downcast_ref::<crate::source::HttpSrc>() {
                http.set_forward(forward.clone());
                http.set_deadline(deadline.clone());
            }
        }
        None
    });
    let audio = uses_audio(&pipeline);
    if !audio {
        leave_audio_undecoded(&src);
    }
    // Times count from the media's first data, whatever stream time it carries.
    let start = super::entry::MediaStart::default();
    start.watch(&src);
    if let Some(moment) = launch.still {
        super::entry::enter(&src, Entry::Still(moment), !audio, start.clone());
        small_queues(&src);
    }
    if let Some(window) = launch.window {
        if window.start > gst::ClockTime::ZERO {
            super::entry::enter(&src, Entry::At(window.start), false, start.clone());
        }
        if let Some(stop) = window.stop {
            end_at(&src, window, stop, start.clone());
        }
    }
    if let Some(skip) = launch.skip_before {
        skip_before(&src, skip, start.clone());
    }
    if launch.rate != 1.0 {
        speed_up(&src, launch.rate);
    }
    if let (Some(overlay), Some(compositor)) = (launch.overlay, pipeline.by_name("overlay")) {
        place_overlay(&compositor, overlay);
    }
    Ok(Built {
        pipeline,
        sink,
        pipelines,
    })
}

/// The description's uridecodebins.
fn uri_decoders(pipeline: &gst::Pipeline) -> Vec<gst::Element> {
    pipeline
        .iterate_recurse()
        .into_iter()
        .flatten()
        .filter(|e| e.factory().is_some_and(|f| f.name() == "uridecodebin"))
        .collect()
}

/// What is wrong with pictures of this caps structure's size, if they are beyond `limits`.
fn beyond(limits: SourceLimits, s: &gst::StructureRef) -> Option<String> {
    let (w, h) = (
        s.get::<i32>("width").unwrap_or(0).max(0) as u32,
        s.get::<i32>("height").unwrap_or(0).max(0) as u32,
    );
    (w > limits.width || h > limits.height || w as u64 * h as u64 > limits.pixels).then(|| {
        format!(
            "the source's pictures are {w}x{h}; this service takes at most {}x{} and {} pixels",
            limits.width, limits.height, limits.pixels
        )
    })
}

/// Refuses a source as soon as its demuxer or parser states a picture size beyond `limits`,
/// before any of its data reaches a decoder: a decoder handed such a picture (a PNG that
/// inflates to 30 GB) may work on it for many seconds, and holds its stream lock through the
/// pipeline's way to NULL. The stream is exposed as it is, undecoded, and none of its data
/// passes the pad: pushed on into a pipeline that cannot link it, it came back not-linked into
/// decodebin's multiqueue, which then tore itself down from its own thread now and then
/// (deadlock, crash). The request fails on the error posted. The returned slot holds why, once
/// the source was refused.
pub(crate) fn refuse_large_sources(
    decoder: &gst::Element,
    limits: SourceLimits,
) -> Arc<Mutex<Option<String>>> {
    let refused: Arc<Mutex<Option<String>>> = Arc::default();
    if decoder.find_property("expose-all-streams").is_none() {
        return refused;
    }
    let flag = refused.clone();
    decoder.connect("autoplug-continue", false, move |args| {
        let text = args
            .get(2)
            .and_then(|caps| caps.get::<gst::Caps>().ok())
            .and_then(|caps| caps.iter().find_map(|s| beyond(limits, s)));
        let Some(text) = text else {
            return Some(true.to_value());
        };
        if let Ok(pad) = args[1].get::<gst::Pad>() {
            pad.add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
                |_, info| super::discard(info),
            );
        }
        let first = flag.lock().unwrap().replace(text.clone()).is_none();
        if let (true, Ok(decoder)) = (first, args[0].get::<gst::Element>()) {
            post_error(decoder, &text, TOO_LARGE);
        }
        Some(false.to_value())
    });
    refused
}

/// Posts the service's own error (a stream error whose details are named `details`) from `src`,
/// from a streaming thread. `src` is let go before the message is posted: the request may set
/// the pipeline to NULL and drop it as soon as the message arrives, and its last reference must
/// not be released in a streaming thread (disposing joins the very thread it runs in).
fn post_error(src: gst::Element, text: &str, details: &str) {
    let msg = gst::message::Error::builder(gst::StreamError::Format, text)
        .src(&src)
        .details(gst::Structure::new_empty(details))
        .build();
    let bus = src.bus();
    drop(src);
    if let Some(bus) = bus {
        let _ = bus.post(msg);
    }
}

/// Whether any element of the description handles audio (by its class: converters, encoders,
/// muxers fed audio are all named "Audio" there). A description without one (a still, a
/// preview) never needs the source's audio decoded.
fn uses_audio(pipeline: &gst::Pipeline) -> bool {
    pipeline
        .iterate_recurse()
        .into_iter()
        .flatten()
        .any(|element| {
            element
                .factory()
                .and_then(|f| f.metadata(gst::ELEMENT_METADATA_KLASS).map(str::to_string))
                .is_some_and(|klass| klass.contains("Audio"))
        })
}

/// The decoder stops at compressed audio (exposed, left unlinked) instead of plugging a parser
/// and a decoder for it: no audio is decoded for a picture, and the decoder exposes its pads as
/// soon as the video has decoded its first frame.
fn leave_audio_undecoded(src: &gst::Element) {
    if src.find_property("expose-all-streams").is_none() {
        return;
    }
    src.connect("autoplug-continue", false, |args| {
        let audio = args
            .get(2)
            .and_then(|caps| caps.get::<gst::Caps>().ok())
            .and_then(|caps| caps.structure(0).map(|s| s.name().starts_with("audio/")))
            .unwrap_or(false);
        Some((!audio).to_value())
    });
}

/// A still needs a frame or two in flight, not decodebin's default 2 MB of compressed data per
/// stream: with smaller queues the demuxer stops reading (and the source stops fetching) soon
/// after the frames it needs, before the seek and after it.
fn small_queues(src: &gst::Element) {
    let Some(bin) = src.downcast_ref::<gst::Bin>() else {
        return;
    };
    // uridecodebin adds its decodebin as a direct child.
    bin.connect_element_added(|_, element| {
        let is_decodebin = element.factory().is_some_and(|f| f.name() == "decodebin");
        if is_decodebin {
            element.set_property("max-size-buffers", 4u32);
            element.set_property("max-size-bytes", 512u32 * 1024);
        }
    });
}

/// When the decoder has exposed all its pads, a branch it never linked (the audio branch of a
/// video-only source, say) would keep a muxer waiting forever: send it EOS. When it linked no
/// branch at all, the source has nothing this endpoint can use: post an error saying so.
fn end_unfed_branches(pipeline: &gst::Pipeline, src: &gst::Element) {
    let weak = pipeline.downgrade();
    src.connect_no_more_pads(move |src| {
        let Some(pipeline) = weak.upgrade() else {
            return;
        };
        let unfed: Vec<gst::Pad> = pipeline
            .children()
            .iter()
            .filter(|e| *e != src)
            .flat_map(|e| e.sink_pads())
            .filter(|p| !p.is_linked())
            .collect();
        // The pipeline is not held past this point: the request may set it to NULL and drop it
        // as soon as the message below arrives, and its last reference must not be let go in
        // this streaming thread (disposing a pipeline joins the very thread it runs in).
        drop(pipeline);
        if unfed.is_empty() {
            return;
        }
        if !src.src_pads().iter().any(|p| p.is_linked()) {
            let found: Vec<String> = src
                .src_pads()
                .iter()
                .filter_map(caps_behind)
                .filter_map(|c| {
                    c.structure(0)
                        .map(|s| s.name().split('/').next().unwrap_or("").to_string())
                })
                .collect();
            let found = if found.is_empty() {
                "none".to_string()
            } else {
                found.join(", ")
            };
            let text =
                format!("the source has no stream this endpoint uses (its streams: {found})");
            let msg = gst::message::Error::builder(gst::StreamError::WrongType, &text)
                .src(src)
                .details(gst::Structure::new_empty(NO_USABLE_STREAM))
                .build();
            let _ = src.post_message(msg);
            return;
        }
        for pad in unfed {
            pad.send_event(gst::event::Eos::new());
        }
    });
}

/// `pad`'s caps, or (a ghost pad held before its first event) those of the pad it stands for,
/// however deep: uridecodebin's pads stand for decodebin's, which stand for its queues'. No
/// query: this runs inside decodebin's no-more-pads, under its locks.
fn caps_behind(pad: &gst::Pad) -> Option<gst::Caps> {
    let mut at = pad.clone();
    loop {
        if let Some(caps) = at.current_caps() {
            return Some(caps);
        }
        at = at.downcast::<gst::GhostPad>().ok()?.target()?;
    }
}

/// Fails the pipeline when the decoder announces pictures beyond `limits`, or (`moving`: a
/// stream) a still image. Video decoders also get their threads (fewer unless a `still` runs
/// alone) and skip the frames they would decode only to clip.
fn watch_decoders(
    src: &gst::Element,
    limits: SourceLimits,
    moving: bool,
    still: bool,
    pipelines: std::sync::Arc<super::guard::Pipelines>,
) {
    // On each video decoder's output, before the decoder allocates for the pictures it
    // announces (a PNG header may announce 60000x60000), and on the decoder bin's own pads.
    if let Some(bin) = src.downcast_ref::<gst::Bin>() {
        let weak = src.downgrade();
        bin.connect_deep_element_added(move |_, _, element| {
            let klass = element
                .factory()
                .and_then(|f| f.metadata(gst::ELEMENT_METADATA_KLASS).map(str::to_string))
                .unwrap_or_default();
            let decodes_pictures =
                klass.contains("Decoder") && (klass.contains("Video") || klass.contains("Image"));
            if decodes_pictures {
                super::threads::decoder_threads(element, still, pipelines.active());
                super::skip::unseen_frames(element);
            }
            if let (true, Some(pad)) = (decodes_pictures, element.static_pad("src")) {
                // Only told here: a decoder whose caps event is dropped crashes.
                check_pictures(&pad, weak.clone(), limits, moving, false);
            }
        });
    }
    src.connect_pad_added(move |src, pad| {
        check_pictures(pad, src.downgrade(), limits, moving, true)
    });
}

/// Refuses, on `pad`'s caps, pictures beyond the limits and (for streams) still images; the
/// error is posted by `src`, and with `stop` the caps go no further.
fn check_pictures(
    pad: &gst::Pad,
    src: glib::WeakRef<gst::Element>,
    limits: SourceLimits,
    moving: bool,
    stop: bool,
) {
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        let Some(gst::PadProbeData::Event(event)) = &info.data else {
            return gst::PadProbeReturn::Ok;
        };
        let gst::EventView::Caps(caps) = event.view() else {
            return gst::PadProbeReturn::Ok;
        };
        let Some(s) = caps
            .caps()
            .structure(0)
            .filter(|s| s.name().starts_with("video/"))
        else {
            return gst::PadProbeReturn::Ok;
        };
        // A still image (an image file: frame rate 0/1) cannot be a stream: videorate aborts the
        // process on its frame without a duration.
        let still = s
            .get::<gst::Fraction>("framerate")
            .is_ok_and(|f| f.numer() == 0);
        let (text, details) = if let Some(text) = beyond(limits, s) {
            (text, TOO_LARGE)
        } else if moving && still {
            (
                "the source is a still image; this endpoint needs a video".to_string(),
                NO_USABLE_STREAM,
            )
        } else {
            return gst::PadProbeReturn::Ok;
        };
        if let Some(src) = src.upgrade() {
            post_error(src, &text, details);
        }
        if stop {
            super::discard(info)
        } else {
            gst::PadProbeReturn::Ok
        }
    });
}

/// Ends every branch at the window's end: the first buffer at or past it is dropped, EOS goes
/// downstream in its place, and the decoder is told EOS so the demuxer stops reading. (A seek's
/// own stop position is honoured by demuxers only roughly: qtdemux in push mode ends
/// interleaved streams a few frames early.)
///
/// The end is the window's length after where the branch's data starts, when that is later
/// than the window's start: an HLS playlist sought to a time carries on its segments'
/// transport-stream timestamps, whose zero is not the playlist's.
fn end_at(
    src: &gst::Element,
    window: Window,
    stop: gst::ClockTime,
    start: super::entry::MediaStart,
) {
    let length = stop.saturating_sub(window.start);
    // Branches that have had data, and those of them that have ended: the demuxer is told EOS
    // once every branch has ended. Told at the first branch's end, a demuxer that feeds all its
    // streams from one thread (tsdemux under hlsdemux) may stop before the others reach theirs.
    let counts = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
    src.connect_pad_added(move |_, pad| {
        let (start, counts) = (start.clone(), counts.clone());
        let end = Mutex::new(None::<gst::ClockTime>);
        let ended = Arc::new(AtomicBool::new(false));
        // After the branch's end, events the decoder sends on (the next playlist segment's
        // tags) are dropped before they reach this pad: refused there, they would fail the
        // decoder's next push with an error instead of the end.
        let inner = pad.downcast_ref::<gst::GhostPad>().and_then(|g| g.target());
        if let Some(inner) = inner {
            let ended = ended.clone();
            inner.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
                let later = info.event().is_some_and(|e| {
                    !matches!(
                        e.type_(),
                        gst::EventType::FlushStart
                            | gst::EventType::FlushStop
                            | gst::EventType::Eos
                    )
                });
                match later && ended.load(Ordering::SeqCst) {
                    true => super::discard(info),
                    false => gst::PadProbeReturn::Ok,
                }
            });
        }
        let what = gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_FLUSH;
        pad.add_probe(what, move |pad, info| {
            let Some(pts) = info.buffer().and_then(|b| b.pts()) else {
                // A flush (the window's seek): the data starts anew.
                *end.lock().unwrap() = None;
                return gst::PadProbeReturn::Ok;
            };
            let (fed, done) = (&counts.0, &counts.1);
            let time = start.media_time(pad, pts);
            let end = *end.lock().unwrap().get_or_insert_with(|| {
                fed.fetch_add(1, Ordering::SeqCst);
                match start.distance_into_segment() {
                    // The first data is the segment's start: the window starts `into` later.
                    Some(into) => time + into + length,
                    None => time.max(window.start) + length,
                }
            });
            if time < end && !ended.load(Ordering::SeqCst) {
                return gst::PadProbeReturn::Ok;
            }
            if !ended.swap(true, Ordering::SeqCst) {
                pad.push_event(gst::event::Eos::new());
                done.fetch_add(1, Ordering::SeqCst);
            }
            if done.load(Ordering::SeqCst) >= fed.load(Ordering::SeqCst) {
                info.flow_res = Err(gst::FlowError::Eos);
                return gst::PadProbeReturn::Handled;
            }
            super::discard(info)
        });
    });
}

/// Sizes and places the compositor's second input (`sink_1`, the watermark) once the sizes of
/// both inputs are known, before the compositor picks its output size from them.
fn place_overlay(compositor: &gst::Element, overlay: Overlay) {
    let (Some(frame), Some(mark)) = (
        compositor.static_pad("sink_0"),
        compositor.static_pad("sink_1"),
    ) else {
        return;
    };
    type Sizes = (Option<(i32, i32)>, Option<(i32, i32)>);
    let sizes: Arc<Mutex<Sizes>> = Arc::default();
    for (index, pad) in [frame, mark.clone()].into_iter().enumerate() {
        let (sizes, mark) = (sizes.clone(), mark.clone());
        pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
            let Some(gst::PadProbeData::Event(event)) = &info.data else {
                return gst::PadProbeReturn::Ok;
            };
            let gst::EventView::Caps(caps) = event.view() else {
                return gst::PadProbeReturn::Ok;
            };
            let size = caps
                .caps()
                .structure(0)
                .and_then(|s| Some((s.get::<i32>("width").ok()?, s.get::<i32>("height").ok()?)));
            let mut known = sizes.lock().unwrap();
            match index {
                0 => known.0 = size,
                _ => known.1 = size,
            }
            if let (Some((fw, fh)), Some((mw, mh))) = *known {
                let short = fw.min(fh) as f64;
                let width = (overlay.scale * short).round().max(1.0);
                let height = (width * mh as f64 / mw.max(1) as f64).round().max(1.0);
                let offset = (overlay.offset * short).round();
                mark.set_property("width", width as i32);
                mark.set_property("height", height as i32);
                mark.set_property("xpos", (fw as f64 - width - offset).max(0.0) as i32);
                mark.set_property("ypos", (fh as f64 - height - offset).max(0.0) as i32);
            }
            gst::PadProbeReturn::Ok
        });
    }
}

/// Drops what the decoder outputs before `start`: the first frame through is the one at `start`.
/// A source that ends before `start` gives its last frame, as a seek past the end does: the
/// latest frame dropped is let through when the stream ends.
fn skip_before(src: &gst::Element, skip: gst::ClockTime, start: super::entry::MediaStart) {
    src.connect_pad_added(move |_, pad| {
        let start = start.clone();
        let latest = Mutex::new(None::<gst::Buffer>);
        let what = gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM;
        pad.add_probe(what, move |pad, info| {
            match &info.data {
                Some(gst::PadProbeData::Buffer(buffer)) => {
                    let early = buffer
                        .pts()
                        .is_some_and(|pts| start.media_time(pad, pts) < skip);
                    if early {
                        *latest.lock().unwrap() = Some(buffer.clone());
                        return super::discard(info);
                    }
                    *latest.lock().unwrap() = None;
                }
                Some(gst::PadProbeData::Event(event)) => match event.type_() {
                    gst::EventType::Eos => {
                        let last = latest.lock().unwrap().take();
                        if let (Some(last), Some(peer)) = (last, pad.peer()) {
                            let _ = peer.chain(last);
                        }
                    }
                    gst::EventType::FlushStop => *latest.lock().unwrap() = None,
                    _ => {}
                },
                _ => {}
            }
            gst::PadProbeReturn::Ok
        });
    });
}

/// Plays the source `rate` times faster, as ffmpeg's `setpts=PTS/rate` does: buffers and
/// segments leaving the decoder get their times divided by `rate`, so everything downstream
/// (videorate, encoder rate control, muxer) sees an ordinary stream that runs faster.
fn speed_up(src: &gst::Element, rate: f64) {
    let scale =
        move |t: gst::ClockTime| gst::ClockTime::from_nseconds((t.nseconds() as f64 / rate) as u64);
    src.connect_pad_added(move |_, pad| {
        let probes = gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM;
        // Whether data has passed since the last flush (a seek).
        let flowing = AtomicBool::new(false);
        pad.add_probe(probes, move |_, info| {
            match &mut info.data {
                Some(gst::PadProbeData::Buffer(buffer)) => {
                    flowing.store(true, Ordering::SeqCst);
                    let buffer = buffer.make_mut();
                    buffer.set_pts(buffer.pts().map(scale));
                    buffer.set_dts(buffer.dts().map(scale));
                    buffer.set_duration(buffer.duration().map(scale));
                }
                Some(gst::PadProbeData::Event(event)) => {
                    if event.type_() == gst::EventType::FlushStop {
                        flowing.store(false, Ordering::SeqCst);
                    }
                    // The frame rate is `rate` times the source's too: videorate (drop-only)
                    // cannot offer more frames a second than its input says it has.
                    if let gst::EventView::Caps(caps) = event.view() {
                        let mut faster = caps.caps().to_owned();
                        for s in faster.make_mut().iter_mut() {
                            for field in ["framerate", "max-framerate"] {
                                let Ok(f) = s.get::<gst::Fraction>(field) else {
                                    continue;
                                };
                                if f.numer() > 0 && f.denom() > 0 {
                                    let fps = f.numer() as f64 * rate / f.denom() as f64;
                                    if let Some(scaled) = gst::Fraction::approximate_f64(fps) {
                                        s.set(field, scaled);
                                    }
                                }
                            }
                        }
                        *event = gst::event::Caps::builder(&faster)
                            .seqnum(event.seqnum())
                            .build();
                    }
                    if let gst::EventView::Segment(seg) = event.view() {
                        if let Some(time) = seg.segment().downcast_ref::<gst::ClockTime>() {
                            let mut scaled = time.clone();
                            scaled.set_start(time.start().map(scale));
                            scaled.set_stop(time.stop().map(scale));
                            scaled.set_time(time.time().map(scale));
                            scaled.set_position(time.position().map(scale));
                            scaled.set_duration(time.duration().map(scale));
                            scaled.set_base(time.base().map(scale));
                            // matroskademux sends a stream's segment again after its first
                            // frame (its start moved from the first cluster's 3 ms to 0), with
                            // no seek between; videorate (drop-only, 1.22) starts over on it and
                            // lets a second first frame through. Only a seek's segment counts.
                            if flowing.load(Ordering::SeqCst) {
                                return super::discard(info);
                            }
                            *event = gst::event::Segment::builder(&scaled)
                                .seqnum(event.seqnum())
                                .build();
                        }
                    }
                }
                _ => {}
            }
            gst::PadProbeReturn::Ok
        });
    });
}
