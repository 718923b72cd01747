//! Metadata through GStreamer's Discoverer, which runs its own pipeline per source.

use super::error::{Failure, PipelineError};
use super::guard::LiveToken;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_pbutils as pbutils;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the Discoverer found, plus the source's size in bytes when the source knew it.
pub struct Discovered {
    pub info: pbutils::DiscovererInfo,
    pub size: Option<u64>,
    /// The first bytes of the source, where the container's header declares what it has.
    pub head: Option<bytes::Bytes>,
}

/// Blocks until the source is discovered (call it off the async workers).
pub fn discover(
    uri: &crate::source::Admitted,
    timeout: Duration,
    forward: &crate::source::Forward,
    limits: super::launch::SourceLimits,
    origins: &Arc<crate::source::Origins>,
    pipelines: &Arc<super::Pipelines>,
) -> Result<Discovered, PipelineError> {
    let origins = origins.clone();
    let _live = LiveToken::new(pipelines);
    let deadline = std::time::Instant::now() + timeout;
    let timeout = gst::ClockTime::from_nseconds(timeout.as_nanos() as u64);
    let discoverer = pbutils::Discoverer::new(timeout)
        .map_err(|e| PipelineError::new(Failure::Internal, e.to_string()))?;
    // The source element answers a byte-duration query with the origin's size; the bytes it
    // delivers tell an origin failure from a media failure.
    let source: Arc<Mutex<Option<gst::Element>>> = Arc::default();
    let fetched = Arc::new(AtomicU64::new(0));
    let (slot, counter) = (source.clone(), fetched.clone());
    let forward = forward.clone();
    // Set when the demuxer states a picture size beyond the limits (nothing is decoded then).
    type Refused = Arc<Mutex<Option<String>>>;
    let too_large: Arc<Mutex<Option<Refused>>> = Arc::default();
    let refused = too_large.clone();
    discoverer.connect_source_setup(move |_, src| {
        *slot.lock().unwrap() = Some(src.clone());
        // Added before this runs: the guard below sees only what the decoder adds later.
        crate::source::hand_origins(src, &origins);
        if let Some(decoder) = src.parent().and_then(|p| p.downcast::<gst::Bin>().ok()) {
            crate::source::guard(&decoder, Some(&origins));
            super::demux_errors::pass_on(decoder.upcast_ref());
            *refused.lock().unwrap() = Some(super::launch::refuse_large_sources(
                decoder.upcast_ref(),
                limits,
            ));
        }
        if let Some(http) = src.downcast_ref::<crate::source::HttpSrc>() {
            http.set_forward(forward.clone());
            http.set_deadline(Some(crate::source::Deadline::at(deadline)));
        }
        super::count_origin_bytes(src, &origins);
        let counter = counter.clone();
        if let Some(pad) = src.static_pad("src") {
            pad.add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::PUSH | gst::PadProbeType::PULL,
                move |_, info| {
                    if let Some(buffer) = info.buffer() {
                        counter.fetch_add(buffer.size() as u64, Ordering::Relaxed);
                    }
                    gst::PadProbeReturn::Ok
                },
            );
        }
    });
    let result = discoverer.discover_uri(&uri.decoder_uri());
    let src = source.lock().unwrap().take();
    let refused = too_large.lock().unwrap().take();
    if let Some(text) = refused.and_then(|r| r.lock().unwrap().take()) {
        return Err(PipelineError::new(Failure::TooLarge, text));
    }
    let fetch_failure = src
        .as_ref()
        .and_then(|s| s.downcast_ref::<crate::source::HttpSrc>())
        .and_then(|s| s.failure());
    if let Some(failure) = fetch_failure {
        return Err(PipelineError {
            debug: Some(failure.to_string()),
            ..PipelineError::new(
                Failure::of_fetch(&failure),
                crate::source::public_text(&failure),
            )
        });
    }
    let size = src
        .as_ref()
        .and_then(|s| s.query_duration::<gst::format::Bytes>())
        .map(|b| *b);
    // The service's own source reports its origin's failures itself: without one, the origin
    // answered, and what failed is the media.
    let origin_answered = fetched.load(Ordering::Relaxed) > 0
        || src
            .as_ref()
            .is_some_and(|s| s.is::<crate::source::HttpSrc>());
    // A source that is not media at all says what it is (an HTML page, JSON).
    let not_media = || {
        let head = src.as_ref().and_then(crate::source::head_of)?;
        super::sniff::text_kind(&head).map(super::error::not_media)
    };
    let info = result.map_err(|e| {
        let error = PipelineError::from_glib(&e, origin_answered);
        match (error.failure == Failure::Unsupported, not_media()) {
            (true, Some(message)) => PipelineError { message, ..error },
            _ => error,
        }
    })?;
    match info.result() {
        pbutils::DiscovererResult::Ok => {}
        pbutils::DiscovererResult::Timeout => {
            return Err(PipelineError::new(
                Failure::Timeout,
                "the source was not read in time",
            ))
        }
        pbutils::DiscovererResult::MissingPlugins => {
            let message = not_media().unwrap_or_else(|| "no decoder for this media".into());
            return Err(PipelineError::new(Failure::Unsupported, message));
        }
        other => {
            return Err(PipelineError {
                debug: Some(format!("discoverer result {other:?}")),
                ..PipelineError::new(Failure::Unsupported, Failure::Unsupported.public_message())
            })
        }
    }
    let head = src.as_ref().and_then(crate::source::head_of);
    Ok(Discovered { info, size, head })
}
