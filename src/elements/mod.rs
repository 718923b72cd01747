//! The service's own video elements, for what GStreamer 1.22 as Debian ships it has no element
//! for: `pythumbiogifenc` (animated GIF), `pythumbiotonemap` (HDR to SDR) and
//! `pythumbioshrink` (halvings before the scaler, for pictures many times the output's size). Pipeline files use
//! them like any other element; the plugin (`crate::plugin`) registers them.

pub mod gifenc;
pub mod shrink;
pub mod tonemap;

use gstreamer as gst;

/// Registers every element of this module in `plugin`.
pub fn register(plugin: &gst::Plugin) -> Result<(), gst::glib::BoolError> {
    gifenc::register(Some(plugin))?;
    shrink::register(Some(plugin))?;
    tonemap::register(Some(plugin))
}
