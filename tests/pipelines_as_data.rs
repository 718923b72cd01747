//! Pipeline files are data: a new file is a new endpoint, an edited file is a changed endpoint,
//! a broken set stops the start. No Rust changes, no rebuild.

mod support;

use image::ImageFormat;
use support::media::{palette_index, Media};
use support::{
    binary_output, inspect, media_url, path_url, run_binary, with_pipelines, Image, Service,
};

const PNG_AT_FOUR: &str = r#"
routes = ["/frame.png"]
kind = "still"
content_type = "image/png"
start = 4.0
description = """
uridecodebin name=src
src. ! video/x-raw ! videoscale ! video/x-raw,width={size},height={size} ! videoconvert ! video/x-raw,format=RGB ! pngenc ! appsink name=sink
"""
[params.url]
type = "url"
required = true
role = "source"
to = "src.uri"
[params.size]
type = "int"
default = 64
min = 8
max = 512
to = "text"
"#;

#[tokio::test]
async fn a_new_file_is_a_new_endpoint() {
    let (service, _dir) = with_pipelines(&[("frame.toml", PNG_AT_FOUR)]);
    let response = service
        .get(
            "/frame.png",
            &[("url", &media_url(Media::mp4())), ("size", "100")],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    let image = Image::decode(&response.bytes().await.unwrap(), ImageFormat::Png);
    assert_eq!((image.width, image.height), (100, 100));
    assert_eq!(palette_index(image.centre()), 4, "the frame at 4 s");
    // The directory replaces the built-in set.
    assert_eq!(
        service
            .get("/thumb", &[("url", &media_url(Media::mp4()))])
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn vp8enc_to_vp9enc_is_an_edit() {
    // webm.toml's encoder is the VP8 part plus its rate control: one line to edit.
    let webm = include_str!("../pipelines/webm.toml");
    let vp8 = "encoder = \"{vp8} token-partitions=1";
    assert!(webm.contains(vp8));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("webm.toml"),
        webm.replace(vp8, "encoder = \"vp9enc deadline=1 cpu-used=8 row-mt=true"),
    )
    .unwrap();
    let service = Service::with_env(&[("PYTHUMBIO_PIPELINES", dir.path().to_str().unwrap())]);
    let short = Media {
        frames: 60,
        ..Media::mp4()
    }
    .path();
    let url = path_url(&short);
    let (status, _, body) = service.fetch("/webm", &url).await;
    assert_eq!(status, 200);
    let report = inspect(&body, "webm");
    assert_eq!(report.codecs, ["video/x-vp9", "audio/x-opus"]);
}

#[test]
fn a_broken_set_stops_the_start_and_says_where() {
    let cases = [
        (
            "missing-element.toml",
            PNG_AT_FOUR.replace("pngenc", "nosuchenc"),
            "line 8: element nosuchenc is not installed",
        ),
        (
            "missing-in-an-enum.toml",
            PNG_AT_FOUR.replace("pngenc", "{encoder}")
                + "[params.encoder]\ntype = \"enum\"\ndefault = \"png\"\nto = \"text\"\n"
                + "[params.encoder.values]\npng = \"pngenc\"\nother = \"nosuchenc\"\n",
            "element nosuchenc is not installed",
        ),
        (
            "undeclared.toml",
            PNG_AT_FOUR.replace("{size},height", "{side},height"),
            "line 8: {side} is neither a part nor a parameter",
        ),
        (
            "unused.toml",
            PNG_AT_FOUR
                .replace("height={size}", "height=64")
                .replace("width={size}", "width=64"),
            "line 15: parameter size",
        ),
        (
            "bad-toml.toml",
            PNG_AT_FOUR.replace("kind = \"still\"", "kind = still"),
            "kind",
        ),
        (
            "url-in-text.toml",
            PNG_AT_FOUR.replace("to = \"src.uri\"", "to = \"text\""),
            "line 10: param url",
        ),
        (
            "no-such-property.toml",
            PNG_AT_FOUR.replace("to = \"src.uri\"", "to = \"src.location\""),
            "location",
        ),
        (
            "taken-route.toml",
            PNG_AT_FOUR.replace("/frame.png", "/version"),
            "/version",
        ),
    ];
    for (file, text, needle) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(file), text).unwrap();
        let pipelines = dir.path().to_str().unwrap();
        let output = run_binary(
            &[],
            &[("PYTHUMBIO_PIPELINES", pipelines), ("PYTHUMBIO_PORT", "0")],
        );
        assert_eq!(output.status.code(), Some(2), "{file} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(file) && stderr.contains(needle),
            "{file}: {stderr}"
        );
    }
}

#[test]
fn check_reports_the_set_and_names_the_package_of_a_missing_element() {
    let stdout = binary_output(&["check"], &[]);
    for route in ["/thumb /video", "/webm", "/preview", "/meta"] {
        assert!(stdout.contains(route), "{route}: {stdout}");
    }

    let dir = tempfile::tempdir().unwrap();
    // An element surely missing, from a package whose elements the check knows.
    std::fs::write(
        dir.path().join("frame.toml"),
        PNG_AT_FOUR.replace("pngenc", "avenc_nosuch"),
    )
    .unwrap();
    let output = run_binary(&["check", "--pipelines", dir.path().to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("frame.toml: line 8: element avenc_nosuch is not installed (Debian package gstreamer1.0-libav)"), "{stderr}");
}

/// An endpoint made of the built-in parts, with names of its own: the source is `src`, the
/// time `at`, a storyboard's interval `every`. The code reads roles and targets, not names.
const SQUARE: &str = r#"
routes = ["/square"]
kind = "still"
content_type = "image/png"
use = ["picture", "fit"]
description = """
uridecodebin name=src
src. ! video/x-raw ! {upright} ! {fit} ! {rgb} ! pngenc ! appsink name=sink
"""
[params.src]
type = "url"
required = true
role = "source"
to = "src.uri"
[params.at]
type = "seconds"
to = "seek.start"
[params.width]
default = 48
"#;

const STRIP: &str = r#"
routes = ["/strip"]
kind = "storyboard"
content_type = { from = "as", png = "image/png", vtt = "text/vtt" }
layout = { from = "as", vtt = "vtt" }
suffix = "as"
use = ["source", "picture"]
description = """
uridecodebin name=src
src. ! video/x-raw ! {upright} ! videoscale ! video/x-raw,width=40,height=[1,2560],pixel-aspect-ratio=1/1 ! {rgb} ! appsink name=sink
"""
sheet = "appsrc name=tiles ! videoconvert ! {as} ! appsink name=sink"
[params.every]
type = "seconds"
default = 3
min = 0.5
max = 60
to = "storyboard.interval"
[params.most]
type = "int"
default = 10
min = 1
max = 10
to = "storyboard.max_tiles"
[params.across]
type = "int"
default = 10
min = 1
max = 10
to = "storyboard.columns"
[params.as]
type = "enum"
default = "png"
to = "text"
[params.as.values]
png = "pngenc"
vtt = "identity"
"#;

#[tokio::test]
async fn a_file_of_shared_parts_and_names_of_its_own_is_an_endpoint() {
    let (service, _dir) = with_pipelines(&[("square.toml", SQUARE), ("strip.toml", STRIP)]);
    let url = media_url(Media::mp4());
    let response = service
        .get("/square", &[("src", &url), ("at", "5.5")])
        .await;
    assert_eq!(response.status(), 200);
    let image = Image::decode(&response.bytes().await.unwrap(), ImageFormat::Png);
    // The built-in fit part with this file's default width: 640x360 inside 48x240.
    assert_eq!((image.width, image.height), (48, 27));
    assert_eq!(palette_index(image.centre()), 5, "the frame at 5.5 s");
    // The built-in name is not this endpoint's.
    let json = service
        .expect_error("/square", &[("url", &url)], 400, "unknown_parameter")
        .await;
    assert_eq!(json["parameter"], "url");

    // Without audio: exactly 10 s, its keyframes on the second (as in tests/storyboard.rs).
    let url = media_url(Media {
        audio: None,
        ..Media::mp4()
    });
    let response = service
        .get("/strip", &[("url", &url), ("every", "3")])
        .await;
    assert_eq!(response.status(), 200);
    let sheet = Image::decode(&response.bytes().await.unwrap(), ImageFormat::Png);
    // 10 s at one tile every 3 s: tiles at 0, 3, 6, 9 s, 40 px wide.
    assert_eq!(sheet.width, 4 * 40);
    let tile_height = sheet.height;
    let colours: Vec<usize> = (0..4)
        .map(|i| palette_index(sheet.rgb.get_pixel(i * 40 + 20, tile_height / 2).0))
        .collect();
    assert_eq!(colours, [0, 3, 6, 9]);
    let response = service.get("/strip", &[("url", &url), ("as", "vtt")]).await;
    assert_eq!(response.headers()["content-type"], "text/vtt");
    let vtt = response.text().await.unwrap();
    assert_eq!(vtt.matches("#xywh=").count(), 4, "{vtt}");
    assert!(vtt.contains("/strip.png?"), "{vtt}");
}

#[test]
fn check_names_the_line_of_a_broken_target_or_role() {
    let cases = [
        (
            STRIP.replace(
                "to = \"storyboard.interval\"",
                "to = \"storyboard.intervl\"",
            ),
            "param every: to = \"storyboard.intervl\" is none of",
        ),
        (
            STRIP.replace("to = \"storyboard.columns\"", "to = \"text\""),
            "a storyboard declares to = \"storyboard.columns\"",
        ),
        (
            SQUARE.replace("role = \"source\"", "role = \"sauce\""),
            "line 10: param src: role = \"sauce\" is none of",
        ),
        (
            SQUARE.replace(
                "use = [\"picture\", \"fit\"]",
                "use = [\"picture\", \"fits\"]",
            ),
            "line 5: use = \"fits\": no such part",
        ),
        (
            SQUARE.replace("{rgb}", "{rbg}"),
            "line 8: {rbg} is neither a part nor a parameter",
        ),
        (
            // A product of parameters takes numbers only: `fit` is an enum.
            SQUARE.replace("{rgb}", "{rgb} ! identity name=x{fit*fit}"),
            "{fit*fit} is neither a part nor a parameter",
        ),
        (
            format!("{SQUARE}[params.when]\ntype = \"seconds\"\nto = \"seek.start\"\n"),
            "more than one parameter goes to \"seek.start\"",
        ),
        (
            SQUARE.replace(
                "uridecodebin name=src\n",
                "uridecodebin name=src\nsouphttpsrc location=http://127.0.0.1/x ! fakesink\n",
            ),
            "souphttpsrc reads from outside the service's source policy",
        ),
    ];
    for (text, needle) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("broken.toml"), text).unwrap();
        let output = run_binary(&["check", "--pipelines", dir.path().to_str().unwrap()], &[]);
        assert_eq!(output.status.code(), Some(2), "{needle}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("broken.toml: ") && stderr.contains(needle),
            "{needle}: {stderr}"
        );
    }
}

/// `check --render` prints the line a request runs, with the url and every value in place,
/// and gst-launch-1.0 runs it as printed.
#[test]
fn check_renders_the_line_gst_launch_runs() {
    let short = Media {
        frames: 30,
        ..Media::mp4()
    };
    let url = media_url(short);
    let source = format!("url={url}");
    let line = binary_output(
        &[
            "check",
            "--render",
            "/thumb.png",
            &source,
            "width=100",
            "rotate=90",
        ],
        &[],
    );
    let pipeline = line.trim();
    assert!(pipeline.starts_with("gst-launch-1.0 "), "{pipeline}");
    let decoder = format!("uridecodebin name=src uri={url} ");
    for part in [
        decoder.as_str(),
        "videoflip video-direction=90r",
        "'video/x-raw,width=[1,100],height=[1,2160],pixel-aspect-ratio=1/1'",
        "pngenc",
    ] {
        assert!(pipeline.contains(part), "{part}: {pipeline}");
    }
    assert!(!pipeline.contains('{'), "{pipeline}");
    // The line as printed, pasted into a shell (sync=false: a second of video takes no second).
    // The service pulls from the appsink; alone, it must not wait for a reader at the end.
    let pasted = pipeline.replace(
        "appsink name=sink",
        "appsink name=sink sync=false wait-on-eos=false",
    );
    // With the service's plugin (its tone mapper is in the line) where gst-launch-1.0 finds it;
    // its http source, which reads public addresses only when loaded outside the service,
    // ranked out so that this loopback origin is read.
    let (_plugin, plugin_env) = support::plugin_env();
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("timeout 60 {pasted} -q")])
        .envs(plugin_env)
        .env("GST_PLUGIN_FEATURE_RANK", "pythumbiohttpsrc:NONE")
        .status()
        .unwrap();
    assert!(status.success(), "gst-launch-1.0 {pipeline}");

    let output = run_binary(
        &[
            "check",
            "--render",
            "/thumb",
            "url=http://h/v.mp4",
            "width=1",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("width=\"1\" is not valid"));
}
