//! Bad requests and bad sources: the right status, one JSON shape, and no pipeline left behind.

mod support;

use support::media::Media;
use support::{closed_port, error_json, media_url, origin_url, path_url, Service};

#[tokio::test]
async fn missing_or_empty_url_is_400() {
    let service = Service::start();
    for path in ["/thumb", "/video", "/webm", "/preview", "/meta"] {
        for params in [vec![], vec![("url", "")]] {
            let json = service
                .expect_error(path, &params, 400, "missing_parameter")
                .await;
            assert_eq!(json["error"], "url parameter is required", "{path}");
            assert_eq!(json["parameter"], "url");
        }
    }
}

#[tokio::test]
async fn unknown_route_and_method_are_json_too() {
    let service = Service::start();
    let json = service
        .expect_error("/nope", &[("url", "http://x/")], 404, "not_found")
        .await;
    assert_eq!(json["path"], "/nope");

    let client = reqwest::Client::new();
    for path in ["/thumb", "/version"] {
        let response = client.post(service.url(path, &[])).send().await.unwrap();
        let ct = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        error_json(
            response.status().as_u16(),
            &ct,
            &response.bytes().await.unwrap(),
            405,
            "method_not_allowed",
        );
    }
}

#[tokio::test]
async fn bad_parameters_are_named() {
    let service = Service::start();
    let url = media_url(Media::mp4());
    let json = service
        .expect_error(
            "/thumb",
            &[("url", &url), ("widht", "100")],
            400,
            "unknown_parameter",
        )
        .await;
    assert_eq!(json["parameter"], "widht");
    assert_eq!(
        json["known"],
        serde_json::json!(declared_params(include_str!("../pipelines/thumb.toml")))
    );
    assert!(json.get("unencoded").is_none(), "{json}");

    // A url with a query of its own, not percent-encoded: its `&b=2` arrives as a parameter of
    // ours, and the answer says what to do.
    let raw = format!("/thumb?url={url}?a=1&b=2");
    let response = reqwest::get(format!("http://{}{raw}", service.addr))
        .await
        .unwrap();
    let status = response.status().as_u16();
    let json: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        (status, json["code"].as_str()),
        (400, Some("unknown_parameter")),
        "{json}"
    );
    assert_eq!(
        (json["parameter"].as_str(), json["unencoded"].as_str()),
        (Some("b"), Some("url"))
    );
    assert!(
        json["error"].as_str().unwrap().contains("percent-encode"),
        "{json}"
    );

    let json = service
        .expect_error(
            "/thumb",
            &[("url", &url), ("width", "99999")],
            400,
            "invalid_parameter",
        )
        .await;
    assert_eq!(
        (json["parameter"].as_str(), json["value"].as_str()),
        (Some("width"), Some("99999"))
    );
    assert_eq!(json["allowed"], "an integer from 16 to 3840");

    service
        .expect_error(
            "/thumb",
            &[("url", &url), ("url", &url)],
            400,
            "repeated_parameter",
        )
        .await;

    for bad in ["no-scheme.mp4", "http:///nohost.mp4", "http://h/a b.mp4"] {
        service
            .expect_error("/thumb", &[("url", bad)], 400, "invalid_parameter")
            .await;
    }
    for refused in ["file:///etc/passwd", "rtsp://127.0.0.1/stream", "fd://0"] {
        let json = service
            .expect_error("/meta", &[("url", refused)], 403, "source_refused")
            .await;
        assert_eq!(json["rule"], "scheme", "{refused}");
    }
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn origin_failures_are_502_with_the_origins_status() {
    let service = Service::start();
    let missing = origin_url("no-such-file.mp4");
    let unreachable = format!("http://127.0.0.1:{}/v.mp4", closed_port());
    for path in ["/thumb", "/webm", "/preview", "/meta"] {
        let json = service
            .expect_error(path, &[("url", &missing)], 502, "origin_error")
            .await;
        if path != "/meta" {
            assert_eq!(json["origin_status"], 404, "{path}: {json}");
        }
        service
            .expect_error(path, &[("url", &unreachable)], 502, "origin_error")
            .await;
    }
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn not_media_is_415_and_no_video_is_422() {
    let service = Service::start();
    let text = origin_url("not-a-video.mp4");
    let page = support::media::media_dir().join("error-page.mp4");
    std::fs::write(
        &page,
        "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>".to_string()
            + &"<p>Please sign in to see this video.</p>".repeat(40)
            + "</body></html>\n",
    )
    .unwrap();
    let page = origin_url("error-page.mp4");
    // The answer says what the source is: the commonest wrong URL is a page, not a video.
    for (url, kind) in [(&text, "text/plain"), (&page, "text/html")] {
        for path in ["/thumb", "/webm", "/preview", "/meta", "/storyboard"] {
            let json = service
                .expect_error(path, &[("url", url)], 415, "unsupported_media")
                .await;
            assert_eq!(json["error"], format!("not a media file: {kind}"), "{path}");
        }
    }
    let audio_only = Media {
        video: None,
        ..Media::mp4()
    }
    .path();
    let audio_only = path_url(&audio_only);
    for path in ["/thumb", "/preview"] {
        let json = service
            .expect_error(path, &[("url", &audio_only)], 422, "no_usable_stream")
            .await;
        assert!(json["error"].as_str().unwrap().contains("audio"), "{json}");
    }
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn a_url_cannot_rewrite_the_pipeline() {
    let service = Service::start();
    let mp4 = media_url(Media::mp4());
    // Set as a property, the whole string is one URI: the origin sees one odd path and says 404.
    let hostile = format!(
        "{}%20!%20filesrc%20location=/etc/passwd%20!%20appsink%20name=sink",
        origin_url("x.mp4")
    );
    let json = service
        .expect_error("/thumb", &[("url", &hostile)], 502, "origin_error")
        .await;
    assert_eq!(json["origin_status"], 404);
    // Pipeline syntax in a query string is just part of the URI.
    let (status, ct, _) = service
        .fetch(
            "/thumb",
            &format!("{mp4}?a=!%20filesrc%20location=/etc/passwd"),
        )
        .await;
    assert_eq!((status, ct.as_str()), (200, "image/jpeg"));
}

#[tokio::test]
async fn a_failure_after_the_first_byte_aborts_the_body() {
    let service = Service::start();
    let url = support::routed_url("truncated", Media::mp4());
    let mut response = service.get("/webm", &[("url", &url)]).await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let mut received = 0;
    let end = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received += chunk.len(),
            Ok(None) => break "a clean end",
            Err(_) => break "a broken transfer",
        }
    };
    assert_eq!(end, "a broken transfer", "after {received} bytes");
    assert!(received > 0);
    service.assert_nothing_left().await;
    let log = service.wait_for_log(&["stream aborted", "element"]).await;
    assert!(
        log.contains("stream aborted") && log.contains("element"),
        "{log}"
    );
}

/// The parameter names a pipeline file declares (`[params.NAME]`), its own and those of the
/// parts it uses (`use = [...]`), sorted.
fn declared_params(file: &str) -> Vec<String> {
    let table: toml::Table = file.parse().unwrap();
    let parts = table.get("use").and_then(|u| u.as_array()).cloned();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/parts");
    let mut texts = vec![file.to_string()];
    for part in parts.unwrap_or_default() {
        let path = dir.join(format!("{}.toml", part.as_str().unwrap()));
        texts.push(std::fs::read_to_string(path).unwrap());
    }
    let mut names: Vec<String> = texts
        .iter()
        .flat_map(|t| t.lines().map(str::to_string).collect::<Vec<_>>())
        .filter_map(|l| Some(l.strip_prefix("[params.")?.strip_suffix(']')?.to_string()))
        .filter(|n| !n.contains('.'))
        .collect();
    names.sort();
    names
}

/// Error bodies say what went wrong in the service's own words: GStreamer's texts (element
/// paths, C and Rust source locations, type names) and the network stack's (OS error numbers)
/// go to the log only.
#[tokio::test]
async fn error_bodies_carry_no_internals() {
    let service = Service::start();
    let port = closed_port();
    let cut = media_url(Media::mp4()).replace(&origin_url(""), &origin_url("truncated/"));
    let sources = [
        origin_url("not-a-video.mp4"),
        origin_url("status/404"),
        format!("http://127.0.0.1:{port}/v.mp4"),
        cut,
        origin_url("seen-headers"),
    ];
    for url in &sources {
        for path in ["/thumb", "/meta", "/webm", "/preview", "/storyboard.json"] {
            let response = service.get(path, &[("url", url)]).await;
            let status = response.status().as_u16();
            // A stream cut after its first byte is a broken transfer, not an error body.
            let Ok(body) = response.text().await else {
                continue;
            };
            if status == 200 {
                continue;
            }
            for leak in [
                "Gst",
                ".rs(",
                ".c(",
                "os error",
                "::",
                "/GstPipeline",
                "Some(",
                "panick",
            ] {
                assert!(!body.contains(leak), "{path} {url}: {status} {body}");
            }
        }
    }
    let log = service.log_text();
    assert!(log.contains("GstPipeline"), "the detail is in the log");
}
