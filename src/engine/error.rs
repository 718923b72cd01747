//! A pipeline failure with what clients and operators need: which kind of failure (it picks the
//! HTTP status), the element that failed, GStreamer's message and its debug string.

use gstreamer as gst;
use gstreamer::prelude::*;
use std::fmt;

/// The structure name the service puts on its own "no usable stream" error message.
pub(crate) const NO_USABLE_STREAM: &str = "pythumbio-no-usable-stream";
/// The structure name on the service's "source too large" error message.
pub(crate) const TOO_LARGE: &str = "pythumbio-source-too-large";

/// What went wrong, in terms a client can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The origin answered with an error status, or could not be reached.
    Origin { status: Option<u16> },
    /// The origin ignores Range requests, and this needed one.
    OriginCannotSeek,
    /// The source policy refuses the source (or a redirect from it); `rule` names the rule.
    Refused { rule: &'static str },
    /// The bytes are not a media format this install can read.
    Unsupported,
    /// The media has no stream of the kind the endpoint needs (e.g. no video for a thumbnail).
    NoUsableStream,
    /// The pipeline ended without a frame (a time after the last video frame, a seek that
    /// landed nowhere): the service may try another way in.
    NoFrame,
    /// The source's pictures are larger than the configured limits.
    TooLarge,
    /// The media is recognised but broken.
    Corrupt,
    /// A storyboard sheet past the last one was asked for.
    NoSuchSheet { sheets: u32 },
    /// The output asked for would be larger than the limit this names.
    OutputTooLarge { limit: &'static str },
    /// The service lacks the memory for this request now; it may succeed later.
    Busy,
    /// Nothing arrived in time.
    Timeout,
    /// A fault in the service or its pipeline description.
    Internal,
}

impl Failure {
    /// What a failed origin read means for the client.
    pub fn of_fetch(error: &crate::source::FetchError) -> Self {
        use crate::source::FetchError as F;
        match error {
            F::Refused(refusal) => Self::Refused {
                rule: refusal.0.name(),
            },
            F::Status(status) => Self::Origin {
                status: Some(*status),
            },
            F::Timeout => Self::Timeout,
            F::NoRange => Self::OriginCannotSeek,
            F::RedirectLoop | F::TooManyRedirects | F::Network(_) | F::Cancelled => {
                Self::Origin { status: None }
            }
        }
    }

    /// What a stream error of a demuxer, parser or decoder means: a format this service does
    /// not read, or media that is damaged or cut short.
    fn of_stream_error(code: gst::StreamError) -> Self {
        match code {
            gst::StreamError::TypeNotFound
            | gst::StreamError::CodecNotFound
            | gst::StreamError::WrongType => Self::Unsupported,
            _ => Self::Corrupt,
        }
    }

    /// What a client is told of a failure that GStreamer reported: its own text names elements,
    /// source files and paths of the pipeline, which stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            Self::Origin {
                status: Some(status),
            } => format!("the origin answered {status}"),
            Self::Origin { status: None } => "the origin could not be read".into(),
            Self::OriginCannotSeek => {
                "the origin does not honour Range requests, and this source needs them".into()
            }
            Self::Refused { rule } => match crate::source::policy::Rule::from_name(rule) {
                Some(rule) => crate::source::Refusal(rule).to_string(),
                None => "the source is refused".into(),
            },
            Self::Unsupported => "the source is not in a media format this service reads".into(),
            Self::NoUsableStream => "the source has no stream this endpoint uses".into(),
            Self::NoFrame => "the source gave no frame".into(),
            Self::TooLarge => "the source's pictures are larger than this service decodes".into(),
            Self::Corrupt => "the source's media is damaged or cut short".into(),
            Self::OutputTooLarge { limit } => format!("the output would be beyond {limit}"),
            Self::NoSuchSheet { sheets } => {
                format!("this storyboard has {sheets} sheet(s), numbered from 0")
            }
            Self::Busy => "the service cannot take this request now".into(),
            Self::Timeout => "the source was not read in time".into(),
            Self::Internal => "the pipeline failed inside the service".into(),
        }
    }
}

/// A failed pipeline. `message` is what the client is told: the service's own words only (a
/// GStreamer error's text is kept in `debug`, for the log).
#[derive(Debug, Clone)]
pub struct PipelineError {
    pub failure: Failure,
    /// Path of the element that reported the error, when one did.
    pub element: Option<String>,
    /// The factory of that element (`qtdemux`): a bounded label, unlike the path.
    pub factory: Option<String>,
    pub message: String,
    pub debug: Option<String>,
}

impl PipelineError {
    pub fn new(failure: Failure, message: impl Into<String>) -> Self {
        Self {
            failure,
            element: None,
            factory: None,
            message: message.into(),
            debug: None,
        }
    }

    /// Classifies an error message from the bus.
    pub fn from_message(msg: &gst::message::Error) -> Self {
        let error = msg.error();
        let debug = msg.debug().map(|d| d.to_string());
        let details = msg.details();
        let fetch = msg
            .src()
            .and_then(|s| s.downcast_ref::<crate::source::HttpSrc>())
            .and_then(|s| s.failure());
        let refused = crate::source::refusal::rule_of(&error);
        let failure = if let Some(rule) = refused {
            Failure::Refused { rule: rule.name() }
        } else if is_panic(&error) {
            Failure::Internal
        } else if let Some(fetch) = &fetch {
            Failure::of_fetch(fetch)
        } else if details.is_some_and(|d| d.name() == NO_USABLE_STREAM) {
            Failure::NoUsableStream
        } else if details.is_some_and(|d| d.name() == TOO_LARGE) {
            Failure::TooLarge
        } else if error.kind::<gst::ResourceError>() == Some(gst::ResourceError::Seek) {
            Failure::OriginCannotSeek
        } else if posted_by_source(msg)
            || error.is::<gst::ResourceError>()
                && msg.src().is_some_and(|s| !is_element_of_media(s))
        {
            let status = details
                .and_then(|d| d.get::<u32>("http-status-code").ok())
                .and_then(|s| u16::try_from(s).ok());
            Failure::Origin { status }
        } else if error.is::<gst::ResourceError>() {
            Failure::Corrupt
        } else if error.kind::<gst::StreamError>() == Some(gst::StreamError::Failed)
            && needed_a_seek(msg)
        {
            Failure::OriginCannotSeek
        } else if let Some(code) = error.kind::<gst::StreamError>() {
            Failure::of_stream_error(code)
        } else if error.kind::<gst::CoreError>() == Some(gst::CoreError::MissingPlugin) {
            Failure::Unsupported
        } else {
            Failure::Internal
        };
        // The service's own elements and checks post texts written for clients.
        let own = refused.is_some()
            || fetch.is_some() && failure != Failure::Internal
            || details.is_some_and(|d| [NO_USABLE_STREAM, TOO_LARGE].contains(&d.name().as_str()));
        // A source that is not media at all says what it is instead (an HTML page, JSON).
        let text_kind = match failure {
            Failure::Unsupported => msg.src().and_then(not_media_kind),
            _ => None,
        };
        let own = own || text_kind.is_some();
        let error_text = match text_kind {
            Some(kind) => not_media(kind),
            None => error.to_string(),
        };
        let (message, debug) = match (own, fetch) {
            (true, Some(fetch)) => (crate::source::public_text(&fetch), debug),
            (true, None) => (
                error_text,
                Some(match debug {
                    Some(debug) => format!("{error} ({debug})"),
                    None => error.to_string(),
                }),
            ),
            (false, _) => (
                failure.public_message(),
                Some(match debug {
                    Some(debug) => format!("{error} ({debug})"),
                    None => error.to_string(),
                }),
            ),
        };
        Self {
            failure,
            element: msg.src().map(|s| s.path_string().to_string()),
            factory: msg
                .src()
                .and_then(|s| s.downcast_ref::<gst::Element>())
                .and_then(|e| e.factory())
                .map(|f| f.name().to_string()),
            message,
            debug,
        }
    }

    /// Classifies an error that came back as a plain `glib::Error` (the Discoverer's), knowing
    /// whether the origin sent any bytes at all.
    pub fn from_glib(error: &glib::Error, origin_sent_bytes: bool) -> Self {
        let refused = crate::source::refusal::rule_of(error);
        let failure = if let Some(rule) = refused {
            Failure::Refused { rule: rule.name() }
        } else if error.is::<gst::ResourceError>() || !origin_sent_bytes {
            // The service's source reports an origin's status itself (`HttpSrc::failure`).
            Failure::Origin { status: None }
        } else if let Some(code) = error.kind::<gst::StreamError>() {
            Failure::of_stream_error(code)
        } else if error.is::<gst::CoreError>() {
            Failure::Unsupported
        } else {
            Failure::Internal
        };
        let message = match refused {
            Some(_) => error.to_string(),
            None => failure.public_message(),
        };
        Self {
            debug: Some(error.to_string()),
            ..Self::new(failure, message)
        }
    }
}

/// What the source of the decoder that `element` is part of is, if it is text rather than
/// media: read from the first bytes its source element fetched.
fn not_media_kind(element: &gst::Object) -> Option<&'static str> {
    let mut at = Some(element.clone());
    while let Some(object) = at {
        if let Some(bin) = object.downcast_ref::<gst::Element>() {
            if bin.find_property("source").is_some() {
                let source = bin.property::<Option<gst::Element>>("source")?;
                let head = crate::source::head_of(&source)?;
                return super::sniff::text_kind(&head);
            }
        }
        at = object.parent();
    }
    None
}

/// What a source that is not media says to clients: what it is.
pub(crate) fn not_media(kind: &str) -> String {
    format!("not a media file: {kind}")
}

/// A panic inside one of the service's own elements, as the bindings report it: a bug of the
/// service, whatever element it happened in.
fn is_panic(error: &glib::Error) -> bool {
    error.kind::<gst::LibraryError>() == Some(gst::LibraryError::Failed)
        && error.message().starts_with("Panicked")
}

/// A failure of the element that fetches (souphttpsrc reports a refused connection only as
/// basesrc's generic "internal data stream error") is the origin's.
fn posted_by_source(msg: &gst::message::Error) -> bool {
    let base_src = glib::Type::from_name("GstBaseSrc");
    msg.src()
        .zip(base_src)
        .is_some_and(|(src, base_src)| src.type_().is_a(base_src))
}

/// Whether the MP4 demuxer gave up (`STREAM FAILED`, what it says when no index came within the
/// 10 MB it keeps; damaged data is `STREAM DEMUX` or `DECODE`) on a source it could not seek
/// in: an MP4 whose index comes after more media than that, from an origin that ignores Range.
/// The file is not damaged; the origin is what keeps it from being read.
fn needed_a_seek(msg: &gst::message::Error) -> bool {
    let Some(demuxer) = msg.src().and_then(|s| s.downcast_ref::<gst::Element>()) else {
        return false;
    };
    if demuxer.factory().is_none_or(|f| f.name() != "qtdemux") {
        return false;
    }
    // Answered by the source, through whatever lies between (typefind, a queue).
    let mut seeking = gst::query::Seeking::new(gst::Format::Bytes);
    demuxer
        .sink_pads()
        .first()
        .is_some_and(|pad| pad.peer_query(&mut seeking) && !seeking.result().0)
}

/// Whether an element works on the media (a demuxer, parser, decoder, converter): its resource
/// errors ("failed to configure the buffer pool" for a picture too large to allocate) say the
/// media is unusable, not that the origin failed.
fn is_element_of_media(object: &gst::Object) -> bool {
    object
        .downcast_ref::<gst::Element>()
        .and_then(|e| e.factory())
        .and_then(|f| f.metadata(gst::ELEMENT_METADATA_KLASS).map(str::to_string))
        .is_some_and(|klass| {
            ["Decoder", "Demuxer", "Parser", "Converter", "Filter"]
                .iter()
                .any(|k| klass.contains(k))
        })
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.element {
            Some(element) => write!(f, "{element}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for PipelineError {}

#[cfg(test)]
mod tests {
    use super::{Failure, PipelineError};
    use gstreamer as gst;

    #[test]
    fn a_panic_in_an_element_is_an_internal_failure_with_a_generic_message() {
        gst::init().unwrap();
        let element = glib::Object::new::<crate::source::HttpSrc>();
        let message = gst::message::Error::builder(
            gst::LibraryError::Failed,
            "Panicked: assertion failed: maxsize >= offset",
        )
        .src(&element)
        .build();
        let gst::MessageView::Error(error) = message.view() else {
            unreachable!("an error message")
        };
        let classified = PipelineError::from_message(error);
        assert_eq!(classified.failure, Failure::Internal);
        assert_eq!(classified.message, Failure::Internal.public_message());
        assert!(classified.debug.unwrap().contains("maxsize"));
    }
}
