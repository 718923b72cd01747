//! Pipeline files are data: a new file is a new endpoint, an edited file is a changed endpoint,
//! a broken set stops the start. No Rust changes, no rebuild.

mod support;

use image::ImageFormat;
use support::media::{nearest, Media};
use support::{inspect, media_url, origin_url, Image, Service};

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
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("frame.toml"), PNG_AT_FOUR).unwrap();
    let service = Service::with_env(&[("PYTHUMBIO_PIPELINES", dir.path().to_str().unwrap())]);
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
    assert_eq!(nearest(image.centre()).0, 4, "the frame at 4 s");
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
    let webm = include_str!("../pipelines/webm.toml");
    assert!(webm.contains("vp8enc"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("webm.toml"),
        webm.replace("vp8enc", "vp9enc"),
    )
    .unwrap();
    let service = Service::with_env(&[("PYTHUMBIO_PIPELINES", dir.path().to_str().unwrap())]);
    let short = Media {
        frames: 60,
        ..Media::mp4()
    }
    .path();
    let url = origin_url(short.file_name().unwrap().to_str().unwrap());
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
            "undeclared.toml",
            PNG_AT_FOUR.replace("{size},height", "{side},height"),
            "line 8: {side} in the description",
        ),
        (
            "unused.toml",
            PNG_AT_FOUR
                .replace("height={size}", "height=64")
                .replace("width={size}", "width=64"),
            "line 14: parameter size",
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
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_pythumbio"))
            .env("PYTHUMBIO_PIPELINES", dir.path())
            .env("PYTHUMBIO_PORT", "0")
            .output()
            .unwrap();
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
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pythumbio"))
        .arg("check")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
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
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pythumbio"))
        .args(["check", "--pipelines"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("frame.toml: line 8: element avenc_nosuch is not installed (Debian package gstreamer1.0-libav)"), "{stderr}");
}

/// The README's parameter tables (made by scripts/param-tables.py) name every parameter of every
/// built-in endpoint under that endpoint's heading.
#[test]
fn readme_documents_every_parameter() {
    let readme = include_str!("../README.md");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let route = text
            .lines()
            .find_map(|l| l.strip_prefix("routes = [\"")?.split('"').next())
            .expect("a routes line");
        let heading = format!("#### `{route}`");
        let start = readme
            .find(&format!("{heading}\n"))
            .or_else(|| readme.find(&format!("{heading} ")));
        let section = &readme[start.unwrap_or_else(|| panic!("no section {heading}"))..];
        let section = &section[..section[5..].find("\n#").map_or(section.len(), |e| e + 5)];
        for name in text
            .lines()
            .filter_map(|l| l.strip_prefix("[params.")?.strip_suffix(']'))
        {
            if !name.contains('.') {
                assert!(
                    section.contains(&format!("| `{name}` |")),
                    "README: {heading} lacks `{name}`"
                );
            }
        }
    }
}
