//! `pythumbiorefusedsrc`: the source element for every URI scheme the service does not read.
//! GStreamer makes a source for a URI (uridecodebin for the request's URL, hlsdemux and dashdemux
//! for each segment, variant and base URL of a manifest) by asking the registry for the
//! highest-ranked element that takes the scheme. This element claims, above all others, every
//! scheme that some installed element takes (`file`, `rtmp`, `udp`, `srt`, `icy`, ...) apart
//! from the service's own http(s) and file sources, and refuses to start: no element that reads
//! from outside can come into a pipeline behind the source policy's back.

use super::policy::{Refusal, Rule};
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer::subclass::prelude::*;
use gstreamer_base as gst_base;
use gstreamer_base::subclass::prelude::*;
use std::sync::{Mutex, OnceLock};

/// The schemes claimed: set once, before the element is registered.
static SCHEMES: OnceLock<Vec<&'static str>> = OnceLock::new();

glib::wrapper! {
    pub struct RefusedSrc(ObjectSubclass<imp::RefusedSrc>)
        @extends gst_base::BaseSrc, gst::Element, gst::Object,
        @implements gst::URIHandler;
}

/// Network and file-sharing schemes claimed even when no installed element takes them, so that
/// a manifest naming one is refused at once rather than after the demuxer's download retries.
const WELL_KNOWN: [&str; 27] = [
    "afp", "blob", "dav", "davs", "dict", "ftp", "ftps", "gopher", "gs", "ipfs", "jar", "ldap",
    "mms", "mmsh", "mmst", "nfs", "rtsp", "s3", "scp", "sftp", "smb", "ssh", "tcp", "telnet",
    "tftp", "ws", "wss",
];

/// Registers the element for every scheme some other installed source takes, and the
/// well-known network schemes, except `own`.
pub fn register(own: &[&str]) -> Result<(), glib::BoolError> {
    let installed: Vec<String> = gst::Registry::get()
        .features(gst::ElementFactory::static_type())
        .into_iter()
        .filter_map(|f| f.downcast::<gst::ElementFactory>().ok())
        .filter(|f| f.uri_type() == gst::URIType::Src)
        .flat_map(|f| {
            f.uri_protocols()
                .into_iter()
                .map(|p| p.to_ascii_lowercase())
        })
        .collect();
    let mut schemes: Vec<String> = installed
        .into_iter()
        .chain(WELL_KNOWN.iter().map(|s| s.to_string()))
        .filter(|p| !own.contains(&p.as_str()))
        .collect();
    schemes.sort();
    schemes.dedup();
    let leaked = schemes
        .into_iter()
        .map(|s| &*Box::leak(s.into_boxed_str()))
        .collect();
    if SCHEMES.set(leaked).is_err() {
        return Ok(());
    }
    gst::Element::register(
        None,
        "pythumbiorefusedsrc",
        gst::Rank::PRIMARY + 100,
        RefusedSrc::static_type(),
    )
}

/// The schemes the element claims (empty before it is registered).
pub fn schemes() -> &'static [&'static str] {
    SCHEMES.get().map(Vec::as_slice).unwrap_or_default()
}

mod imp {
    use super::*;

    #[derive(Default)]
    pub struct RefusedSrc {
        uri: Mutex<Option<String>>,
    }

    super::super::source_element_subclass!(RefusedSrc, super::RefusedSrc, "PythumbioRefusedSrc");

    impl ObjectImpl for RefusedSrc {}

    super::super::source_element_impl!(
        RefusedSrc,
        "pythumbio refused source",
        "Source",
        "Takes every URI scheme pythumbio does not read, and refuses to start",
        super::schemes()
    );

    impl RefusedSrc {
        fn current_uri(&self) -> Option<String> {
            self.uri.lock().unwrap().clone()
        }

        // Every URI is taken: were it refused here, GStreamer would try the next element for
        // the scheme, the one this element exists to keep out.
        fn take_uri(&self, uri: &str) -> Result<(), glib::Error> {
            *self.uri.lock().unwrap() = Some(uri.to_string());
            Ok(())
        }
    }

    impl BaseSrcImpl for RefusedSrc {
        fn start(&self) -> Result<(), gst::ErrorMessage> {
            let refusal = Refusal(Rule::Scheme);
            super::super::refusal::report(self.obj().upcast_ref(), refusal);
            Err(super::super::refusal::error_message(refusal))
        }
    }
}
