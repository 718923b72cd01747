//! The service's elements are a GStreamer plugin that GStreamer's own tools load:
//! gst-inspect-1.0 describes `pythumbiohttpsrc` with its properties, and gst-launch-1.0 reads
//! through it, under the default source policy (a loopback origin is refused).

mod support;

use std::process::Command;

#[test]
fn gst_inspect_describes_the_element_and_its_properties() {
    let (_dir, env) = support::plugin_env();
    let output = Command::new("gst-inspect-1.0")
        .arg("pythumbiohttpsrc")
        .envs(env)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "Name                     pythumbio",
        "Reads http(s) sources under pythumbio's source policy",
        "location            : The http(s) URL to read",
        "extra-headers       : Headers sent to the source's own origin only",
        "Supported URI protocols:",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
}

#[test]
fn gst_launch_reads_through_it_under_the_default_policy() {
    let (_dir, env) = support::plugin_env();
    let url = support::origin_url("anything.mp4");
    let output = Command::new("timeout")
        .args(["30", "gst-launch-1.0", "pythumbiohttpsrc"])
        .arg(format!("location={url}"))
        .args(["!", "fakesink"])
        .envs(env)
        .output()
        .unwrap();
    // gst-launch-1.0 exits non-zero on an error message; it names the refusal.
    assert_ne!(output.status.code(), Some(0));
    assert_ne!(
        output.status.code(),
        Some(124),
        "gst-launch-1.0 did not end"
    );
    let text = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("loopback"), "{text}");
}

/// The GIF encoder is an element of the plugin like the sources: gst-inspect-1.0 describes it, and
/// gst-launch-1.0 writes a GIF file with it that ffprobe reads back frame by frame.
#[test]
fn gst_launch_writes_a_gif_with_the_encoder() {
    let (dir, env) = support::plugin_env();
    let inspect = Command::new("gst-inspect-1.0")
        .arg("pythumbiogifenc")
        .envs(env.clone())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(
        inspect.status.success() && text.contains("dither"),
        "{text}"
    );
    let out = dir.path().join("out.gif");
    let status = Command::new("timeout")
        .args([
            "60",
            "gst-launch-1.0",
            "-q",
            "videotestsrc",
            "num-buffers=7",
            "!",
        ])
        .args([
            "video/x-raw,width=64,height=48,framerate=5/1",
            "!",
            "videoconvert",
            "!",
        ])
        .args(["pythumbiogifenc", "dither=false", "!", "filesink"])
        .arg(format!("location={}", out.display()))
        .envs(env)
        .status()
        .unwrap();
    assert!(status.success());
    let frames = support::ffmpeg::probe_frames(&out);
    assert_eq!(frames.len(), 7, "{frames:?}");
    assert!(frames
        .iter()
        .all(|f| (f.0 - 0.2).abs() < 0.005 && (f.1, f.2) == (64, 48)));
}
