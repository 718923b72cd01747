//! `pythumbiohttpsrc`: the GStreamer source element for http(s) URIs, ranked above souphttpsrc so
//! that uridecodebin and the Discoverer pick it. It reads through [`Origins`] (the source policy,
//! checked redirects, pooled connections) in bounded Range blocks, so a demuxer in pull mode
//! fetches what it reads (the moov box, the samples it needs) and not the rest of the file.
//! Origins without Range support are read in order, once.

//!
//! Built as gst-plugins-rs builds its elements (reqwesthttpsrc is the model): the wrapper type
//! and its registration here, the implementation in `imp`. Properties: `location` (the URI) and
//! `extra-headers` (a structure of headers sent to the source's own origin only).

mod imp;

use super::fetch::{FetchError, Forward};
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer::subclass::prelude::*;
use gstreamer_base as gst_base;
use std::sync::LazyLock;

/// The first request asks for this much: enough for most files' header boxes.
const FIRST_BLOCK: u64 = 64 * 1024;
/// A read away from the cached blocks starts a block this large; a read that continues past the
/// end of a block fetches one twice that block's size, up to MAX_BLOCK.
const MIN_BLOCK: u64 = 32 * 1024;
const MAX_BLOCK: u64 = 1024 * 1024;
/// Blocks kept, for reads that alternate between places of the file.
const CACHED_BLOCKS: usize = 4;
/// Buffer size asked for in push mode.
const PUSH_BLOCK: u32 = 64 * 1024;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "pythumbiohttpsrc",
        gst::DebugColorFlags::empty(),
        Some("pythumbio HTTP source"),
    )
});

/// The structure name on the element's error messages; fields `kind` (a [`FetchError`] kind) and,
/// for refusals, `rule`; for error statuses, `http-status-code`.
pub const ERROR_DETAILS: &str = "pythumbio-origin";

glib::wrapper! {
    pub struct HttpSrc(ObjectSubclass<imp::HttpSrc>)
        @extends gst_base::BaseSrc, gst::Element, gst::Object,
        @implements gst::URIHandler;
}

impl HttpSrc {
    /// Headers to send with this source's requests (to its own origin only).
    pub fn set_forward(&self, forward: Forward) {
        self.imp().settings.lock().unwrap().forward = forward;
    }

    /// The origins (policy, client) this source reads through; without them, the default set.
    pub fn set_origins(&self, origins: std::sync::Arc<super::Origins>) {
        self.imp().settings.lock().unwrap().origins = Some(origins);
    }

    /// When every origin read of this source must have ended (a timeout after it).
    pub fn set_deadline(&self, deadline: Option<super::Deadline>) {
        self.imp().settings.lock().unwrap().deadline = deadline;
    }

    /// The failure that stopped the last read, if one did.
    pub fn failure(&self) -> Option<FetchError> {
        self.imp().seen.lock().unwrap().failure.clone()
    }

    /// The first bytes of the source, as first read (a container's header).
    pub fn head(&self) -> Option<bytes::Bytes> {
        self.imp().seen.lock().unwrap().head.clone()
    }
}

/// Registers the element before souphttpsrc.
pub fn register(plugin: Option<&gst::Plugin>) -> Result<(), glib::BoolError> {
    super::register_source(plugin, "pythumbiohttpsrc", HttpSrc::static_type())
}

/// The error message fields that describe a fetch failure.
fn details(error: &FetchError) -> gst::Structure {
    let mut s = gst::Structure::builder(ERROR_DETAILS).field("kind", kind(error));
    match error {
        FetchError::Refused(refusal) => s = s.field("rule", refusal.0.name()),
        FetchError::Status(status) => s = s.field("http-status-code", u32::from(*status)),
        _ => {}
    }
    s.build()
}

/// A short name for each kind of fetch failure.
pub fn kind(error: &FetchError) -> &'static str {
    match error {
        FetchError::Refused(_) => "refused",
        FetchError::Status(_) => "status",
        FetchError::Timeout => "timeout",
        FetchError::RedirectLoop => "redirect-loop",
        FetchError::TooManyRedirects => "too-many-redirects",
        FetchError::NoRange => "no-range",
        FetchError::Network(_) => "network",
        FetchError::Cancelled => "cancelled",
    }
}

fn resource_error(error: &FetchError) -> gst::ResourceError {
    match error {
        FetchError::Refused(_) | FetchError::Status(401 | 403) => gst::ResourceError::NotAuthorized,
        FetchError::Status(404 | 410) => gst::ResourceError::NotFound,
        FetchError::NoRange => gst::ResourceError::Seek,
        FetchError::Status(_) | FetchError::RedirectLoop | FetchError::TooManyRedirects => {
            gst::ResourceError::OpenRead
        }
        _ => gst::ResourceError::Read,
    }
}

/// What `start` returns for a failure: a refusal keeps its own error domain (the rule).
fn start_error(error: &FetchError) -> gst::ErrorMessage {
    match error {
        FetchError::Refused(refusal) => super::refusal::error_message(*refusal),
        _ => gst::error_msg!(resource_error(error), ["{}", error]),
    }
}
