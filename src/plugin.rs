//! The service's elements as the GStreamer plugin `pythumbio`: its source elements and its own
//! video elements (the GIF encoder). Registered in-process at start, and loadable by GStreamer's
//! own tools from the library the build writes (`target/*/libpythumbio.so`), so
//! `gst-inspect-1.0 pythumbiohttpsrc` describes the element and `gst-launch-1.0` reads through
//! it. Loaded that way the sources read under the default source policy: public http(s)
//! addresses only, no file root.

use gstreamer as gst;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), gst::glib::BoolError> {
    crate::source::register_elements(plugin)?;
    crate::elements::register(plugin)
}

gst::plugin_define!(
    pythumbio,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    env!("CARGO_PKG_VERSION"),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    "pythumbio"
);
