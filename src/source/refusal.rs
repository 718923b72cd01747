//! How a refused source reaches the request that caused it. The refusal is a GLib error in a
//! domain of its own whose code is the rule, so it keeps its meaning when an element passes it
//! on: hlsdemux and dashdemux catch the errors of the sources they make for segments and
//! playlists and re-post them as their own, keeping the domain and code. And it skips every bin
//! in between: posted straight onto the bus of the outermost pipeline, it ends the request at
//! once instead of after the demuxer's download retries.

use super::policy::{Refusal, Rule};
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;

impl glib::error::ErrorDomain for Rule {
    fn domain() -> glib::Quark {
        glib::Quark::from_str("pythumbio-source-refused")
    }

    fn code(self) -> i32 {
        Rule::ALL.iter().position(|r| *r == self).unwrap_or(0) as i32
    }

    fn from(code: i32) -> Option<Self> {
        usize::try_from(code)
            .ok()
            .and_then(|i| Rule::ALL.get(i).copied())
    }
}

impl gst::MessageErrorDomain for Rule {}

/// The outermost element `element` is inside (itself when it has no parent).
pub fn outermost(element: &gst::Element) -> gst::Element {
    let mut top = element.clone();
    while let Some(parent) = top.parent().and_then(|p| p.downcast::<gst::Element>().ok()) {
        top = parent;
    }
    top
}

/// The rule that refused a source, when `error` is such a refusal.
pub fn rule_of(error: &glib::Error) -> Option<Rule> {
    error.kind::<Rule>()
}

/// The error a source element returns from `start` for `refusal`.
pub fn error_message(refusal: Refusal) -> gst::ErrorMessage {
    gst::error_msg!(refusal.0, ["{}", refusal])
}

/// Posts `refusal` as an error from `element` straight onto its outermost pipeline's bus.
pub fn report(element: &gst::Element, refusal: Refusal) {
    let message = gst::message::Error::builder(refusal.0, &refusal.to_string())
        .src(element)
        .build();
    // The pipeline is let go before the message is posted: the request may drop it as soon as
    // the message arrives, and its last reference must not be released in a streaming thread.
    let bus = outermost(element).bus();
    match bus {
        Some(bus) => {
            let _ = bus.post(message);
        }
        None => {
            let _ = element.post_message(message);
        }
    }
}
