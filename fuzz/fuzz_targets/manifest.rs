//! HLS and DASH manifest texts with any URIs: whatever a manifest names (segments, variants,
//! base URLs, in any scheme), no element that reads from outside the process is ever created
//! except the service's own sources. The manifest is read from a file root; every http(s) host is
//! refused by the policy before any lookup, so nothing leaves the machine.
#![no_main]

use gstreamer as gst;
use gstreamer::prelude::*;
use libfuzzer_sys::fuzz_target;
use pythumbio::engine::launch::{build, Launch, Setting, SettingValue, UrlRole};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

fn root() -> &'static (tempfile::TempDir, std::sync::Arc<pythumbio::source::Origins>) {
    static ROOT: OnceLock<(tempfile::TempDir, std::sync::Arc<pythumbio::source::Origins>)> =
        OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let policy = pythumbio::source::Policy {
            // Matches nothing the policy would let through: every host is refused unresolved.
            allowed: vec![pythumbio::source::policy::Pattern::parse("0.0.0.0:1").unwrap()],
            file_root: Some(pythumbio::source::policy::file_root(dir.path()).unwrap()),
            ..Default::default()
        };
        let origins =
            pythumbio::source::origins(policy, pythumbio::source::DEFAULT_TIMEOUTS).unwrap();
        pythumbio::source::set_default(origins.clone()).unwrap();
        pythumbio::engine::init().unwrap();
        (dir, origins)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (dir, origins) = root();
    let root = dir.path();
    let (name, text) = if text.trim_start().starts_with('<') {
        ("m.mpd", text.to_string())
    } else if text.starts_with("#EXTM3U") {
        ("m.m3u8", text.to_string())
    } else {
        ("m.m3u8", format!("#EXTM3U\n{text}"))
    };
    let path = root.join(name);
    std::fs::write(&path, text).unwrap();
    let uri = url::Url::from_file_path(path.canonicalize().unwrap()).unwrap().to_string();
    let Ok(admitted) = origins.policy().admit(&uri) else {
        return;
    };
    let properties = [Setting {
        element: "src".into(),
        property: "uri".into(),
        value: SettingValue::Url(UrlRole::Source, admitted),
    }];
    let launch = Launch {
        origins: Some(origins),
        ..Launch::new("uridecodebin name=src src. ! appsink name=sink sync=false", &properties)
    };
    let Ok(built) = build(&launch) else {
        return;
    };
    let foreign = Arc::new(AtomicBool::new(false));
    let seen = foreign.clone();
    built.pipeline.connect_deep_element_added(move |_, _, element| {
        if pythumbio::source::is_foreign_reader(element) {
            seen.store(true, Ordering::SeqCst);
        }
    });
    let _ = built.pipeline.set_state(gst::State::Paused);
    if let Some(bus) = built.pipeline.bus() {
        let _ = bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(1),
            &[gst::MessageType::Error, gst::MessageType::AsyncDone],
        );
    }
    let _ = built.pipeline.set_state(gst::State::Null);
    assert!(!foreign.load(Ordering::SeqCst), "a foreign reader was plugged");
});
