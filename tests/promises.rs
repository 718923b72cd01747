//! Promises the docs make that no other test holds them to: each checked by what comes back.

mod support;

use support::media::Media;
use support::{media_url, Service};

/// A storyboard layout asked through an https proxy (`X-Forwarded-Proto: https`) points at its
/// sheet with an https URL; without the header, http.
#[tokio::test]
async fn layouts_behind_an_https_proxy_point_at_https_sheets() {
    let service = Service::start();
    let url = media_url(Media::mp4());
    let layout = |proto: Option<&'static str>| {
        let request = reqwest::Client::new().get(service.url("/storyboard.json", &[("url", &url)]));
        let request = match proto {
            Some(proto) => request.header("x-forwarded-proto", proto),
            None => request,
        };
        async move {
            request
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let https = layout(Some("https")).await;
    let sheet = https["url"].as_str().unwrap();
    assert!(
        sheet.starts_with(&format!("https://{}/storyboard.jpg?", service.addr)),
        "{sheet}"
    );
    let plain = layout(None).await;
    assert!(
        plain["url"].as_str().unwrap().starts_with("http://"),
        "{plain}"
    );
    // Anything but https is taken as http.
    let odd = layout(Some("gopher")).await;
    assert!(odd["url"].as_str().unwrap().starts_with("http://"), "{odd}");
}

/// PYTHUMBIO_MAX_SOURCE_HEIGHT refuses a taller source (422 `source_too_large`), as the width
/// and pixel limits do.
#[tokio::test]
async fn a_source_taller_than_the_height_limit_is_refused() {
    let service = Service::with_env(&[("PYTHUMBIO_MAX_SOURCE_HEIGHT", "300")]);
    let url = media_url(Media::mp4()); // 640x360
    for path in ["/thumb", "/meta"] {
        service
            .expect_error(path, &[("url", &url)], 422, "source_too_large")
            .await;
    }
    let small = media_url(Media {
        width: 320,
        height: 180,
        ..Media::mp4()
    });
    assert_eq!(
        service.get("/thumb", &[("url", &small)]).await.status(),
        200
    );
    service.assert_nothing_left().await;
}

/// PYTHUMBIO_MAX_STREAM_DURATION bounds how much source a preview covers, as it bounds /webm.
#[tokio::test]
async fn previews_end_at_the_longest_duration() {
    let service = Service::with_env(&[("PYTHUMBIO_MAX_STREAM_DURATION", "4")]);
    let url = media_url(Media::mp4()); // 10 s
    let response = service
        .get("/preview", &[("url", &url), ("interval", "1")])
        .await;
    assert_eq!(response.status(), 200);
    let report = support::inspect(&response.bytes().await.unwrap(), "webm");
    assert_eq!(report.frames.len(), 4, "4 s of source, a frame a second");
}

/// WebP `quality` changes the image, as JPEG's does.
#[tokio::test]
async fn webp_quality_changes_the_size() {
    let service = Service::start();
    let url = media_url(Media {
        noise: true,
        audio: None,
        ..Media::mp4()
    });
    let mut sizes = Vec::new();
    for quality in ["5", "100"] {
        let response = service
            .get("/thumb.webp", &[("url", &url), ("quality", quality)])
            .await;
        assert_eq!(response.status(), 200);
        let body = response.bytes().await.unwrap();
        support::Image::decode(&body, image::ImageFormat::WebP);
        sizes.push(body.len());
    }
    assert!(sizes[1] > 2 * sizes[0], "quality 5 and 100: {sizes:?}");
}

/// `/version` names every element the pipelines use with its plugin and version.
#[tokio::test]
async fn version_names_each_elements_plugin_and_version() {
    let service = Service::start();
    let json: serde_json::Value = service.get("/version", &[]).await.json().await.unwrap();
    let elements = json["elements"].as_object().unwrap();
    for name in [
        "jpegenc",
        "vp8enc",
        "uridecodebin",
        "pythumbiogifenc",
        "pythumbiotonemap",
    ] {
        let element = &elements[name];
        assert_eq!(element["present"], true, "{name}: {element}");
        assert!(
            element["plugin"].as_str().is_some_and(|p| !p.is_empty()),
            "{name}: {element}"
        );
        assert!(
            element["version"].as_str().is_some_and(|v| v.contains('.')),
            "{name}: {element}"
        );
    }
    assert_eq!(elements["pythumbiotonemap"]["plugin"], "pythumbio");
}

/// The cache and queue metrics the docs list are there and move: a miss counts, the queue is
/// empty and every slot free when idle.
#[tokio::test]
async fn cache_and_queue_metrics_move() {
    let service = Service::start();
    let before = service.metric("pythumbio_cache_misses_total").await;
    let url = media_url(Media::mp4());
    assert_eq!(
        service
            .get("/thumb", &[("url", &url), ("time", "3.3")])
            .await
            .status(),
        200
    );
    assert_eq!(
        service.metric("pythumbio_cache_misses_total").await,
        before + 1.0
    );
    assert_eq!(service.metric("pythumbio_queue_waiting").await, 0.0);
    let free = service.metric("pythumbio_slots_free").await;
    assert!(free >= 1.0, "{free} slots free when idle");
}

/// SIGINT stops the service as SIGTERM does: not ready, then gone, exit status 0.
#[tokio::test]
async fn sigint_stops_the_service() {
    let mut service = Service::with_env(&[
        ("PYTHUMBIO_SHUTDOWN_DELAY", "0"),
        ("PYTHUMBIO_SHUTDOWN_GRACE", "2"),
    ]);
    assert_eq!(service.get("/readyz", &[]).await.status(), 200);
    service.signal("INT");
    let status = service.wait_exit(std::time::Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}
