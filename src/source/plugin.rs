//! The service's source elements as the GStreamer plugin `pythumbio`: registered in-process at
//! start, and loadable by GStreamer's own tools from the library the build writes
//! (`target/*/libpythumbio.so`), so `gst-inspect-1.0 pythumbiohttpsrc` describes the element and
//! `gst-launch-1.0` reads through it. Loaded that way it reads under the default source policy:
//! public http(s) addresses only, no file root.

use gstreamer as gst;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), gst::glib::BoolError> {
    super::http::register(Some(plugin))?;
    super::file::register(Some(plugin))?;
    super::memory::register(Some(plugin))
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
