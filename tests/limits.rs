//! Limits on what a request may cost: source pictures beyond the configured size are refused
//! before any frame is processed, and a stream never covers more than the configured duration.

mod support;

use support::media::{Audio, Container, Media, Video};
use support::{inspect, media_url, Service};

#[tokio::test]
async fn oversized_sources_are_refused() {
    let service = Service::with_env(&[("PYTHUMBIO_MAX_SOURCE_PIXELS", "100000")]);
    let large = media_url(Media::mp4()); // 640x360 = 230400 pixels
    for path in ["/thumb", "/webm", "/preview", "/storyboard.jpg"] {
        let json = service
            .expect_error(path, &[("url", &large)], 422, "source_too_large")
            .await;
        assert!(
            json["error"].as_str().unwrap().contains("640x360"),
            "{path}: {json}"
        );
    }
    let small = Media {
        width: 320,
        height: 240,
        frames: 60,
        video: Some(Video::Vp9),
        audio: Some(Audio::Opus),
        container: Container::Webm,
        ..Media::mp4()
    };
    assert_eq!(
        service
            .get("/thumb", &[("url", &media_url(small))])
            .await
            .status(),
        200,
        "76800 pixels pass"
    );
    service.assert_nothing_left().await;

    let service = Service::with_env(&[("PYTHUMBIO_MAX_SOURCE_WIDTH", "600")]);
    service
        .expect_error("/thumb", &[("url", &large)], 422, "source_too_large")
        .await;
}

#[tokio::test]
async fn streams_end_at_the_longest_duration() {
    let service = Service::with_env(&[("PYTHUMBIO_MAX_STREAM_DURATION", "2")]);
    let url = media_url(Media::mp4()); // 10 s at 30 fps
    for params in [
        vec![("url", url.as_str())],
        vec![("url", url.as_str()), ("duration", "5")],
    ] {
        let response = service.get("/webm", &params).await;
        assert_eq!(response.status(), 200);
        let report = inspect(&response.bytes().await.unwrap(), "webm");
        assert_eq!(report.frames.len(), 60, "{params:?}: 2 s at 30 fps");
    }
}
