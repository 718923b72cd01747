//! Request ids and log lines: one line per request with its id, never a url's credentials, as
//! text or JSON.

mod support;

use support::media::Media;
use support::{media_url, Service};

/// The JSON log lines whose request_id is `id`, waiting a little for the first to arrive (the
/// service writes it before its response, but the test reads its output through a pipe).
async fn wait_lines(service: &Service, id: &str) -> Vec<serde_json::Value> {
    let started = std::time::Instant::now();
    loop {
        let lines = lines_of(service, id);
        if !lines.is_empty() || started.elapsed().as_secs() >= 2 {
            return lines;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The JSON log lines whose request_id is `id`.
fn lines_of(service: &Service, id: &str) -> Vec<serde_json::Value> {
    service
        .log_text()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["request_id"] == id)
        .collect()
}

#[tokio::test]
async fn ids_are_kept_or_made_and_lines_are_json() {
    let service = Service::with_env(&[("PYTHUMBIO_LOG_FORMAT", "json")]);
    let client = reqwest::Client::new();
    // The url carries credentials: the log keeps only its host.
    let url = media_url(Media::mp4()).replace("http://", "http://user:secret@");
    let response = client
        .get(service.url("/thumb", &[("url", &url)]))
        .header("x-request-id", "req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "req-42");
    let line = &wait_lines(&service, "req-42").await[0];
    assert_eq!(
        (line["path"].as_str(), line["status"].as_u64()),
        (Some("/thumb"), Some(200))
    );
    assert_eq!(line["origin"], support::origin().to_string());
    assert!(
        line["ms"].is_u64() && line["bytes"].as_u64().unwrap() > 0,
        "{line}"
    );
    assert!(
        !service.log_text().contains("secret"),
        "credentials in the log"
    );

    let response = client
        .get(service.url("/version", &[]))
        .send()
        .await
        .unwrap();
    let made = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(made.len(), 16, "{made}");
    assert_eq!(wait_lines(&service, &made).await.len(), 1);

    // An id that would not make a sane log field is replaced, not kept.
    for odd in ["x".repeat(129), "two words".to_string()] {
        let response = client
            .get(service.url("/version", &[]))
            .header("x-request-id", &odd)
            .send()
            .await
            .unwrap();
        let id = response.headers()["x-request-id"].to_str().unwrap();
        assert!(id.len() == 16 && id != odd, "{odd:?} -> {id}");
    }
}

#[tokio::test]
async fn a_stream_logs_its_bytes_when_it_ends() {
    let service = Service::with_env(&[("PYTHUMBIO_LOG_FORMAT", "json")]);
    let response = reqwest::Client::new()
        .get(service.url("/webm", &[("url", &media_url(Media::mp4()))]))
        .header("x-request-id", "stream-1")
        .send()
        .await
        .unwrap();
    let body = response.bytes().await.unwrap();
    let started = std::time::Instant::now();
    loop {
        let lines = lines_of(&service, "stream-1");
        if let Some(end) = lines.iter().find(|l| l["message"] == "stream ended") {
            assert_eq!(end["bytes"].as_u64(), Some(body.len() as u64));
            assert_eq!(lines[0]["streamed"], true);
            assert!(lines[0]["bytes"].is_null());
            break;
        }
        assert!(started.elapsed().as_secs() < 5, "{lines:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn gstreamer_warnings_go_into_the_log_with_their_element() {
    let service = Service::with_env(&[("PYTHUMBIO_LOG_FORMAT", "json")]);
    let missing = support::origin_url("no-such-file.mp4");
    assert_eq!(
        service.get("/thumb", &[("url", &missing)]).await.status(),
        502
    );
    // The source element logs the 404 as a GStreamer warning of its own: it arrives as a line of
    // the service's log.
    let log = service
        .wait_for_log(&["\"target\":\"gstreamer\"", "pythumbiohttpsrc"])
        .await;
    let line = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["target"] == "gstreamer" && l["category"] == "pythumbiohttpsrc")
        .unwrap_or_else(|| panic!("no GStreamer line in {log}"));
    assert_eq!(line["level"], "WARN");
    assert!(
        line["element"].as_str().unwrap().contains("source"),
        "{line}"
    );
    assert!(
        line["message"].as_str().unwrap().contains("404")
            || line["message"].as_str().unwrap().contains("Not Found")
            || line["message"].as_str().unwrap().contains("not found"),
        "{line}"
    );
}

/// A failed request's detail (its code, the element, GStreamer's text) is logged once, on a line
/// that names the request; the body keeps none of it.
#[tokio::test]
async fn a_failure_is_logged_once_with_its_request() {
    let service = Service::with_env(&[("PYTHUMBIO_LOG_FORMAT", "json")]);
    let missing = support::origin_url("no-such-file.mp4");
    let response = reqwest::Client::new()
        .get(service.url("/thumb", &[("url", &missing)]))
        .header("x-request-id", "fail-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let body: serde_json::Value = response.json().await.unwrap();
    let lines = wait_lines(&service, "fail-1").await;
    let started = std::time::Instant::now();
    let mut lines = lines;
    while lines.len() < 2 && started.elapsed().as_secs() < 5 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        lines = lines_of(&service, "fail-1");
    }
    let failures: Vec<_> = lines.iter().filter(|l| l["code"] == body["code"]).collect();
    assert_eq!(failures.len(), 1, "{lines:?}");
    assert_eq!(failures[0]["level"], "WARN");
    assert_eq!(failures[0]["message"], body["error"]);
    assert!(
        failures[0]["element"].as_str().unwrap().contains("source"),
        "{lines:?}"
    );
    assert!(body["element"].is_null() && body["debug"].is_null());
}

/// Warnings GStreamer gives for every ordinary file are logged at debug, not as warnings:
/// qtdemux's "failed to find fragment defaults" on an MP4 without fragments and "unknown
/// QuickTime node type" on the sample groups ffmpeg writes, the scaler's "Can't keep DAR!" when
/// 640x360 is fit into 426x240 (426x239.6, stretched by a fraction), the resampler's and the
/// scalers' "can't find exact taps", and basesrc's "pad not activated yet" for a file source.
#[tokio::test]
async fn known_harmless_gstreamer_warnings_are_not_warnings() {
    let by_ffmpeg = support::ffmpeg::made(
        "logs-ffmpeg-aac.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=25:duration=2",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=2",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
        ],
    );
    let root = by_ffmpeg.parent().unwrap();
    let service = Service::with_env(&[
        ("PYTHUMBIO_LOG_FORMAT", "json"),
        ("RUST_LOG", "debug"),
        ("PYTHUMBIO_FILE_ROOT", root.to_str().unwrap()),
    ]);
    let response = service
        .get("/thumb", &[("url", &media_url(Media::mp4()))])
        .await;
    assert_eq!(response.status(), 200);
    let file = format!("file://{}", by_ffmpeg.display());
    let response = service.get("/thumb", &[("url", &file)]).await;
    assert_eq!(response.status(), 200);
    // A stream resamples the 44.1 kHz sine to Opus's 48 kHz and scales every frame.
    let response = service
        .get("/webm", &[("url", &file), ("duration", "1")])
        .await;
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap();
    for said in [
        "fragment defaults",
        "unknown QuickTime node type",
        "Can't keep DAR",
        "pad not activated yet",
        "can't find exact taps",
    ] {
        let log = service.wait_for_log(&[said]).await;
        let lines: Vec<serde_json::Value> = log
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|l: &serde_json::Value| l["message"].as_str().is_some_and(|m| m.contains(said)))
            .collect();
        assert!(!lines.is_empty(), "nothing said {said:?}: {log}");
        assert!(lines.iter().all(|l| l["level"] == "DEBUG"), "{lines:?}");
    }
}

/// Neither the query string nor the url's path comes into the log, in either format, whether
/// the request succeeds, is refused, or fails at the origin or in the pipeline.
#[tokio::test]
async fn the_log_never_holds_the_query_or_the_urls_path() {
    let good = media_url(Media::mp4());
    let file = good.rsplit('/').next().unwrap().to_string();
    let stem = file.trim_end_matches(".mp4").to_string();
    let absent = support::origin_url("hidden-dir-q7/absent-z9.mp4");
    let text = support::origin_url("not-a-video.mp4");
    let requests = [
        ("/thumb", vec![("url", good.as_str()), ("time", "3")], 200),
        (
            "/webm",
            vec![("url", good.as_str()), ("duration", "1")],
            200,
        ),
        ("/meta", vec![("url", good.as_str())], 200),
        (
            "/thumb",
            vec![("url", good.as_str()), ("width", "77777")],
            400,
        ),
        (
            "/thumb",
            vec![("url", good.as_str()), ("zqparam", "1")],
            400,
        ),
        ("/thumb", vec![("url", absent.as_str())], 502),
        ("/thumb", vec![("url", text.as_str())], 415),
    ];
    for format in ["text", "json"] {
        let service = Service::with_env(&[
            ("PYTHUMBIO_LOG_FORMAT", format),
            ("PYTHUMBIO_CACHE_MB", "0"),
        ]);
        for (path, params, status) in &requests {
            let response = service.get(path, params).await;
            assert_eq!(response.status(), *status, "{path} {params:?}");
            let _ = response.bytes().await;
        }
        service.wait_for_log(&["/meta"]).await;
        let log = service.log_text();
        let lines: Vec<&str> = log.lines().filter(|l| l.contains("/thumb")).collect();
        assert!(lines.len() >= 5, "{format}: a line per request: {log}");
        for line in &lines {
            let json = serde_json::from_str::<serde_json::Value>(line).is_ok();
            assert_eq!(json, format == "json", "{format}: {line}");
        }
        for secret in [
            stem.as_str(),
            "77777",
            "zqparam",
            "hidden-dir-q7",
            "absent-z9",
            "not-a-video",
            "url=",
        ] {
            assert!(
                !log.contains(secret),
                "{format}: {secret:?} is in the log:\n{log}"
            );
        }
    }
}
