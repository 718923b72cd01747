//! The plugin files the service can load: those of the pipeline set's elements, and those of
//! everything decodebin may plug to read a source. An image keeps these and drops the rest of
//! what the distribution's packages bring (OpenGL, Vulkan and hardware codecs, with Mesa, LLVM
//! and GTK behind them).

use gstreamer as gst;
use gstreamer::prelude::*;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// What decodebin and uridecodebin are made of, and plug between the elements they find.
const DECODEBIN_PARTS: &[&str] = &[
    "uridecodebin",
    "decodebin",
    "typefind",
    "multiqueue",
    "queue2",
    "capsfilter",
];

/// Plugins decodebin could plug that play music from notes (MIDI, tracker and chiptune
/// modules), not media with pictures or a recording: left out, with what they link (a MIDI
/// synthesiser and its sound fonts are 12 MB).
const SYNTHESISERS: &[&str] = &[
    "fluidsynthmidi",
    "wildmidi",
    "midi",
    "gme",
    "sid",
    "modplug",
    "openmpt",
];

/// The plugin files of `elements`, of decodebin, and of every typefinder, demuxer, parser and
/// software decoder decodebin may plug (a rank above none), but for synthesisers: canonical
/// paths, sorted.
pub fn needed(elements: &[String]) -> BTreeSet<PathBuf> {
    let registry = gst::Registry::get();
    let mut out = BTreeSet::new();
    let mut keep = |plugin: Option<gst::Plugin>| {
        let plugin = plugin.filter(|p| !SYNTHESISERS.contains(&p.plugin_name().as_str()));
        // As the file system names it (`/lib` is a link to `/usr/lib` on merged-/usr systems).
        if let Some(file) = plugin.and_then(|p| p.filename()) {
            out.insert(std::fs::canonicalize(&file).unwrap_or(file));
        }
    };
    let named = elements
        .iter()
        .map(String::as_str)
        .chain(DECODEBIN_PARTS.iter().copied());
    for name in named {
        keep(gst::ElementFactory::find(name).and_then(|f| f.plugin()));
    }
    for feature in registry.features(gst::ElementFactory::static_type()) {
        let Ok(factory) = feature.downcast::<gst::ElementFactory>() else {
            continue;
        };
        if autoplugged(&factory) {
            keep(factory.plugin());
        }
    }
    for feature in registry.features(gst::TypeFindFactory::static_type()) {
        keep(feature.plugin());
    }
    out
}

/// Whether decodebin may plug `factory` on its way from bytes to raw pictures and sound: a
/// demuxer, parser or decoder it ranks, and not one for hardware this service does not use.
fn autoplugged(factory: &gst::ElementFactory) -> bool {
    let klass = factory
        .metadata(gst::ELEMENT_METADATA_KLASS)
        .unwrap_or_default();
    let role = ["Demuxer", "Parser", "Decoder"]
        .iter()
        .any(|r| klass.contains(r));
    role && !klass.contains("Hardware") && factory.rank() > gst::Rank::NONE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_holds_what_reading_mp4_needs_and_no_hardware() {
        gst::init().unwrap();
        let files = needed(&["vp8enc".to_string()]);
        let names: Vec<String> = files
            .iter()
            .filter_map(|f| f.file_name()?.to_str().map(str::to_string))
            .collect();
        for wanted in [
            "libgstplayback.so",
            "libgstcoreelements.so",
            "libgsttypefindfunctions.so",
            "libgstisomp4.so",
            "libgstvpx.so",
        ] {
            assert!(names.iter().any(|n| n == wanted), "{wanted}: {names:?}");
        }
        for unwanted in ["libgstopengl.so", "libgstvulkan.so", "libgstgtk.so"] {
            assert!(!names.iter().any(|n| n == unwanted), "{unwanted}");
        }
    }
}
