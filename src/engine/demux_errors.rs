//! A demuxer's errors reach the pipeline even while decodebin is still plugging it.
//!
//! decodebin (1.22) drops the errors of an element it is setting to PAUSED, so that a failed
//! trial can try the next factory. A demuxer pulling by Range starts its own task inside that
//! state change, and one whose index is cut or missing fails at once: the error is dropped, no
//! pad ever comes, and the request would end in a timeout instead of 422 `corrupt_media`. So
//! each demuxer posts through a bus of ours, which hands every message on to decodebin as
//! before and also puts each error on the pipeline's bus. An error that decodebin forwards
//! arrives twice; the first one fails the request either way.

use gstreamer as gst;
use gstreamer::prelude::*;

/// Passes the errors of every demuxer plugged inside `decoder` (a uridecodebin) straight to
/// its pipeline's bus as well.
pub fn pass_on(decoder: &gst::Element) {
    let Some(bin) = decoder.downcast_ref::<gst::Bin>() else {
        return;
    };
    bin.connect_deep_element_added(move |_, _, element| {
        let demuxes = element
            .factory()
            .and_then(|f| f.metadata(gst::ELEMENT_METADATA_KLASS).map(str::to_string))
            .is_some_and(|klass| klass.contains("Demux"));
        let Some(parent_bus) = element.bus().filter(|_| demuxes) else {
            return;
        };
        // Not kept alive by us: a bin's bus outliving its bin would hand a late message to a
        // freed bin.
        let parent_bus = parent_bus.downgrade();
        let ours = gst::Bus::new();
        ours.set_sync_handler(move |_, msg| {
            let Some(parent_bus) = parent_bus.upgrade() else {
                return gst::BusSyncReply::Drop;
            };
            let _ = parent_bus.post(msg.clone());
            if let (gst::MessageView::Error(_), Some(bus)) = (msg.view(), pipeline_bus(msg)) {
                let _ = bus.post(msg.copy());
            }
            gst::BusSyncReply::Drop
        });
        element.set_bus(Some(&ours));
    });
}

/// The bus of the pipeline the message's element is in, if it still is in one.
fn pipeline_bus(msg: &gst::Message) -> Option<gst::Bus> {
    let mut top = msg.src()?.clone();
    while let Some(parent) = top.parent() {
        top = parent;
    }
    top.downcast::<gst::Pipeline>().ok()?.bus()
}
