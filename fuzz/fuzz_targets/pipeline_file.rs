//! The pipeline file parser: any text as a pipeline file. Loading may refuse it; it must not
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pythumbio::catalog::{parse_file, OutputLimits};
use std::sync::Once;

fuzz_target!(|data: &[u8]| {
    static INIT: Once = Once::new();
    INIT.call_once(|| gstreamer::init().expect("GStreamer initialises"));
    if let Ok(text) = std::str::from_utf8(data) {
        let limits = OutputLimits {
            width: 3840,
            height: 2160,
        };
        let _ = parse_file("fuzz.toml", text, limits);
    }
});
