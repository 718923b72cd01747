//! How many threads a video decoder gets. Frame threads shorten the wait for one still when
//! nothing else runs, but they cost more CPU per frame, decode frames past the one wanted, and
//! hold a picture per thread. Measured on 2 cores with 720p H.264: one thread per decoder gave
//! 1.3x the thumbnails per second with 16 clients, 1.15x the frames per second of a /webm
//! transcode (the encoder has the other core) and 8 MB less per stream; frame threads gave a
//! lone thumbnail 0.8x the latency. Sources larger than 1080p keep frame threads: one thread
//! alone cannot keep up with the encoder there.

use gstreamer as gst;
use gstreamer::prelude::*;

/// Pictures above this many pixels are decoded with frame threads.
const LARGE: u64 = 1920 * 1088;

/// Whether a decoder may take every core: a still's, with `active` pipelines held. Decoders
/// are plugged once the pipeline runs, under its own guard: one means alone.
fn alone(still: bool, active: usize) -> bool {
    still && active <= 1
}

/// Sets `decoder`'s threads (libav decoders: `max-threads`, 0 for as many as cores) for a still
/// (`still`) or a stream, among `active` pipelines of the service, before it opens its codec on
/// its first caps.
pub(crate) fn decoder_threads(decoder: &gst::Element, still: bool, active: usize) {
    if decoder.find_property("max-threads").is_none() {
        return;
    }
    if alone(still, active) {
        return;
    }
    decoder.set_property("max-threads", 1i32);
    let Some(pad) = decoder.static_pad("sink") else {
        return;
    };
    let weak = decoder.downgrade();
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        let Some(gst::PadProbeData::Event(event)) = &info.data else {
            return gst::PadProbeReturn::Ok;
        };
        let gst::EventView::Caps(caps) = event.view() else {
            return gst::PadProbeReturn::Ok;
        };
        let pixels = caps.caps().structure(0).map(|s| {
            let side = |name| s.get::<i32>(name).unwrap_or(0).max(0) as u64;
            side("width") * side("height")
        });
        if let (Some(decoder), true) = (weak.upgrade(), pixels.unwrap_or(0) > LARGE) {
            decoder.set_property("max-threads", 0i32);
        }
        gst::PadProbeReturn::Remove
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_still_running_alone_takes_every_core() {
        assert!(alone(true, 1));
        assert!(!alone(true, 2), "a still among other pipelines");
        assert!(!alone(false, 1), "a stream");
    }

    #[test]
    fn a_stream_decodes_on_one_thread() {
        gst::init().unwrap();
        let decoder = gst::ElementFactory::make("avdec_h264")
            .build()
            .expect("avdec_h264 (gstreamer1.0-libav) is installed");
        assert_eq!(decoder.property::<i32>("max-threads"), 0);
        decoder_threads(&decoder, false, 1);
        assert_eq!(decoder.property::<i32>("max-threads"), 1);
    }
}
