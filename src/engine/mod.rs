//! The GStreamer plumbing every endpoint shares: parse a description, run it, and hand its output
//! over as bytes. This layer knows nothing of HTTP.

pub mod discover;
pub mod error;
pub mod ffprobe;
pub mod guard;
pub mod launch;
pub mod still;
pub mod stream;

pub use error::{Failure, PipelineError};
pub use guard::live_pipelines;

use gstreamer::prelude::*;

/// Initialises GStreamer once per process; the plugin registry is loaded here, not per request.
pub fn init() -> Result<(), glib::Error> {
    gstreamer::init()
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

pub fn element_info(factory: &str) -> Option<ElementInfo> {
    let factory = gstreamer::ElementFactory::find(factory)?;
    let plugin = factory.plugin()?;
    Some(ElementInfo {
        plugin: plugin.plugin_name().to_string(),
        package: plugin.package().to_string(),
        version: plugin.version().to_string(),
    })
}
