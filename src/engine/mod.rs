//! The GStreamer plumbing every endpoint shares: parse a description, run it, and hand its output
//! over as bytes. This layer knows nothing of HTTP.

mod cover;
mod demux_errors;
pub mod discover;
mod entry;
pub mod error;
pub mod ffprobe;
mod frame;
pub mod guard;
pub mod launch;
pub mod picture;
pub mod placeholder;
pub mod plugins;
mod restamp;
pub mod scout;
mod skip;
pub mod sniff;
pub mod still;
pub mod storyboard;
pub mod stream;
mod threads;
pub mod webp;

pub use error::{Failure, PipelineError};
pub use guard::Pipelines;

use gstreamer::prelude::*;

/// Counts, into `origins`, what a source element other than the service's own hands on; the
/// service's HTTP source counts the bytes it receives itself.
pub(crate) fn count_origin_bytes(
    source: &gstreamer::Element,
    origins: &std::sync::Arc<crate::source::Origins>,
) {
    use gstreamer::prelude::*;
    if source.is::<crate::source::HttpSrc>() {
        return;
    }
    if let Some(pad) = source.static_pad("src") {
        // Pull mode (a demuxer reading a file by offset) is counted as well as push mode.
        let types = gstreamer::PadProbeType::BUFFER
            | gstreamer::PadProbeType::PUSH
            | gstreamer::PadProbeType::PULL;
        let origins = origins.clone();
        pad.add_probe(types, move |_, info| {
            if let Some(buffer) = info.buffer() {
                origins.count(buffer.size() as u64);
            }
            gstreamer::PadProbeReturn::Ok
        });
    }
}

/// A buffer's bytes, mapped rather than copied: the `Bytes` keeps the buffer alive.
pub(crate) fn buffer_bytes(buffer: gstreamer::Buffer) -> Result<bytes::Bytes, PipelineError> {
    let mapped = buffer
        .into_mapped_buffer_readable()
        .map_err(|_| PipelineError::new(Failure::Internal, "a buffer cannot be read"))?;
    Ok(bytes::Bytes::from_owner(mapped))
}

/// A sample's buffer as bytes.
pub(crate) fn sample_bytes(sample: gstreamer::Sample) -> Result<bytes::Bytes, PipelineError> {
    let buffer = sample
        .buffer_owned()
        .ok_or_else(|| PipelineError::new(Failure::Internal, "the sample holds no buffer"))?;
    buffer_bytes(buffer)
}

/// Ends a buffer or an event in a pad probe: the probe takes it and reports it handled. A bare
/// `Drop` would leave GStreamer 1.22 to unref the item the bindings already took, with a
/// critical warning each time.
pub(crate) fn discard(info: &mut gstreamer::PadProbeInfo) -> gstreamer::PadProbeReturn {
    drop(info.take_buffer());
    drop(info.take_buffer_list());
    drop(info.take_event());
    gstreamer::PadProbeReturn::Handled
}

/// Initialises GStreamer and registers the service's elements, once per process: the element
/// registry is the process's, so two services in one process (or two tests) share what the
/// first call made, and a call while another runs waits for it.
pub fn init() -> Result<(), glib::Error> {
    static DONE: std::sync::OnceLock<Result<(), glib::Error>> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        gstreamer::init()?;
        route_gstreamer_log();
        crate::plugin::plugin_register_static()
            .and_then(|()| crate::source::register())
            .map_err(|e| glib::Error::new(gstreamer::CoreError::Failed, &e.to_string()))
    })
    .clone()
}

/// GStreamer warnings every ordinary request meets, by category and the start of their text:
/// logged at debug. qtdemux says the first for every stream of an MP4 without fragments (`trex`
/// defaults are for fragmented files only), and the second for the sample-group boxes ffmpeg's
/// muxer writes (`sgpd`/`sbgp`, AAC's pre-roll) and other boxes it skips; the scaler says the
/// third whenever a fitted size rounds off the source's aspect (640x360 into 426x240 is
/// 426x239.6), which `fit` accepts; the scalers and the resampler say the fourth for sizes and
/// rates their filter tables do not hold exactly (they take the nearest); basesrc says the last
/// for every file source, as for GStreamer's own `filesrc`, when decodebin's typefinder
/// activates the source after starting it.
pub const HARMLESS_WARNINGS: &[(&str, &str)] = &[
    ("qtdemux", "failed to find fragment defaults"),
    ("qtdemux", "unknown QuickTime node type"),
    ("videoconvertscale", "Can't keep DAR!"),
    ("video-scaler", "can't find exact taps"),
    ("audio-resampler", "can't find exact taps"),
    ("basesrc", "pad not activated yet"),
];

fn harmless(category: &str, text: &str) -> bool {
    HARMLESS_WARNINGS
        .iter()
        .any(|(c, start)| *c == category && text.trim_start().starts_with(start))
}

/// GStreamer's own warnings and errors go into the service's log, with the element that wrote
/// them, instead of to stderr in GStreamer's format; `GST_DEBUG` set by hand keeps GStreamer's.
fn route_gstreamer_log() {
    use gstreamer::{log, DebugLevel};
    if std::env::var_os("GST_DEBUG").is_some() {
        return;
    }
    log::remove_default_log_function();
    log::set_default_threshold(DebugLevel::Warning);
    log::add_log_function(
        |category, level, _file, _function, _line, object, message| {
            let Some(text) = message.get() else { return };
            let element = object.map(|o| o.to_string()).unwrap_or_default();
            let category = category.name();
            match level {
                DebugLevel::Error => {
                    tracing::error!(target: "gstreamer", category, element, "{text}")
                }
                DebugLevel::Warning if harmless(category, text.as_str()) => {
                    tracing::debug!(target: "gstreamer", category, element, "{text}")
                }
                DebugLevel::Warning => {
                    tracing::warn!(target: "gstreamer", category, element, "{text}")
                }
                _ => {}
            }
        },
    );
}

/// The GStreamer version the process runs on, e.g. "1.22.0".
pub fn gstreamer_version() -> String {
    let (major, minor, micro, nano) = gstreamer::version();
    match nano {
        0 => format!("{major}.{minor}.{micro}"),
        _ => format!("{major}.{minor}.{micro}.{nano}"),
    }
}

/// Where an element comes from, or None when this install lacks it.
pub struct ElementInfo {
    pub plugin: String,
    pub package: String,
    pub version: String,
}

pub fn element_exists(factory: &str) -> bool {
    gstreamer::ElementFactory::find(factory).is_some()
}

/// The Debian package that provides a GStreamer element, for the usual ones: a missing element
/// cannot be asked where it comes from.
pub fn debian_package(factory: &str) -> Option<&'static str> {
    if factory.starts_with("avdec_")
        || factory.starts_with("avenc_")
        || factory.starts_with("avmux_")
    {
        return Some("gstreamer1.0-libav");
    }
    Some(match factory {
        "queue" | "queue2" | "multiqueue" | "capsfilter" | "identity" | "tee" | "fakesink"
        | "filesrc" | "filesink" | "typefind" => "libgstreamer1.0-0",
        "uridecodebin" | "uridecodebin3" | "decodebin" | "decodebin3" | "parsebin" | "appsink"
        | "appsrc" | "videoconvert" | "videoscale" | "videorate" | "audioconvert"
        | "audioresample" | "opusenc" | "opusdec" | "vorbisenc" | "theoraenc" | "oggmux"
        | "compositor" | "videotestsrc" | "audiotestsrc" => "gstreamer1.0-plugins-base",
        "vp8enc" | "vp9enc" | "vp8dec" | "vp9dec" | "webmmux" | "matroskamux" | "matroskademux"
        | "jpegenc" | "pngenc" | "souphttpsrc" | "qtdemux" | "mp4mux" | "qtmux" | "videocrop"
        | "videobox" | "videoflip" | "gdkpixbufoverlay" | "alpha" => "gstreamer1.0-plugins-good",
        "webpenc" | "av1enc" | "av1dec" | "av1parse" | "voaacenc" | "transcodebin"
        | "h264parse" | "vp9parse" => "gstreamer1.0-plugins-bad",
        "x264enc" => "gstreamer1.0-plugins-ugly",
        _ => return None,
    })
}

pub fn element_info(factory: &str) -> Option<ElementInfo> {
    let factory = gstreamer::ElementFactory::find(factory)?;
    let plugin = factory.plugin()?;
    Some(ElementInfo {
        plugin: plugin.plugin_name().to_string(),
        package: plugin.package().to_string(),
        version: plugin.version().to_string(),
    })
}
