//! Deterministic outputs carry a strong ETag and Cache-Control; If-None-Match gets 304 without
//! starting a pipeline. Streams from encoders that vary run to run carry neither.

mod support;

use support::media::Media;
use support::{media_url, Service};

async fn started(service: &Service) -> u64 {
    service.metric("pythumbio_pipelines_started_total").await as u64
}

#[tokio::test]
async fn etags_and_304_without_a_pipeline() {
    let service = Service::start();
    let client = reqwest::Client::new();
    let url = media_url(Media::mp4());
    for (path, params) in [
        ("/thumb", vec![("url", url.as_str()), ("width", "100")]),
        ("/meta", vec![("url", url.as_str())]),
        ("/storyboard.vtt", vec![("url", url.as_str())]),
        ("/preview", vec![("url", url.as_str()), ("duration", "4")]),
    ] {
        let first = service.get(path, &params).await;
        assert_eq!(first.status(), 200, "{path}");
        let tag = first.headers()["etag"].to_str().unwrap().to_string();
        assert!(
            tag.starts_with('"') && tag.len() == 34,
            "{path}: a strong tag, {tag}"
        );
        assert_eq!(first.headers()["cache-control"], "public, max-age=86400");
        let before = started(&service).await;
        let again = client
            .get(service.url(path, &params))
            .header("if-none-match", &tag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"], tag.as_str());
        assert!(again.bytes().await.unwrap().is_empty());
        assert_eq!(
            started(&service).await,
            before,
            "{path}: no pipeline for a 304"
        );
        // The same request gets the same tag; another parameter, another tag.
        assert_eq!(
            service.get(path, &params).await.headers()["etag"],
            tag.as_str()
        );
    }
    let a = service
        .get("/thumb", &[("url", &url), ("width", "100")])
        .await
        .headers()["etag"]
        .clone();
    let b = service
        .get("/thumb", &[("url", &url), ("width", "101")])
        .await
        .headers()["etag"]
        .clone();
    assert_ne!(a, b);

    let webm = service
        .get("/webm", &[("url", &url), ("duration", "1")])
        .await;
    let (status, headers) = (webm.status(), webm.headers().clone());
    assert_eq!(status, 200, "{:?}", webm.text().await);
    assert!(headers.get("etag").is_none() && headers.get("cache-control").is_none());
}

#[tokio::test]
async fn max_age_is_configured() {
    let service = Service::with_env(&[("PYTHUMBIO_CACHE_MAX_AGE", "60")]);
    let response = service
        .get("/thumb", &[("url", &media_url(Media::mp4()))])
        .await;
    assert_eq!(response.headers()["cache-control"], "public, max-age=60");
}

async fn counter(service: &Service, name: &str) -> u64 {
    service.metric(name).await as u64
}

#[tokio::test]
async fn identical_requests_share_one_pipeline_and_repeats_come_from_memory() {
    let service = Service::start();
    let url = media_url(Media::mp4());
    let params = [("url", url.as_str()), ("width", "123"), ("time", "3")];
    let before = started(&service).await;
    let requests = (0..20).map(|_| service.get("/thumb", &params));
    let mut bodies = Vec::new();
    for response in futures_util::future::join_all(requests).await {
        assert_eq!(response.status(), 200);
        bodies.push(response.bytes().await.unwrap());
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "the same bytes for all"
    );
    assert_eq!(
        started(&service).await - before,
        1,
        "20 identical requests, one pipeline"
    );
    let hits = counter(&service, "pythumbio_cache_hits_total").await;
    assert_eq!(
        service.get("/thumb", &params).await.bytes().await.unwrap(),
        bodies[0]
    );
    assert_eq!(
        started(&service).await - before,
        1,
        "a repeat comes from memory"
    );
    assert_eq!(
        counter(&service, "pythumbio_cache_hits_total").await,
        hits + 1
    );

    // Failures are not kept.
    let missing = support::origin_url("no-such-file.mp4");
    let before = started(&service).await;
    for _ in 0..2 {
        assert_eq!(
            service.get("/thumb", &[("url", &missing)]).await.status(),
            502
        );
    }
    assert_eq!(started(&service).await - before, 2);
}

/// `PYTHUMBIO_CACHE_MB=0` keeps nothing and shares nothing: requests one after another, and
/// the same request three times at once, each run a pipeline of their own.
#[tokio::test]
async fn a_zero_sized_cache_keeps_nothing() {
    let service = Service::with_env(&[("PYTHUMBIO_CACHE_MB", "0")]);
    let url = media_url(Media::mp4());
    let before = started(&service).await;
    for _ in 0..2 {
        assert_eq!(service.get("/thumb", &[("url", &url)]).await.status(), 200);
    }
    assert_eq!(started(&service).await - before, 2);
    let params = [("url", url.as_str()), ("time", "4.5")];
    let at_once = (0..3).map(|_| service.get("/thumb", &params));
    for response in futures_util::future::join_all(at_once).await {
        assert_eq!(response.status(), 200);
    }
    assert_eq!(started(&service).await - before, 5, "nothing shared");
}

/// Whole outputs answer byte ranges (Safari asks for them before it plays a video-like
/// response): the bytes asked for of the very output a plain GET gives, 416 past its end, and
/// the whole again when `If-Range` names another version.
#[tokio::test]
async fn whole_outputs_answer_byte_ranges() {
    let service = Service::start();
    let client = reqwest::Client::new();
    let url = media_url(Media::mp4());
    for path in ["/thumb.png", "/preview.webp", "/storyboard.jpg"] {
        let target = service.url(path, &[("url", &url)]);
        let whole = client.get(&target).send().await.unwrap();
        assert_eq!(whole.status(), 200, "{path}");
        assert_eq!(whole.headers()["accept-ranges"], "bytes", "{path}");
        let tag = whole.headers()["etag"].clone();
        let whole = whole.bytes().await.unwrap();
        let len = whole.len();

        let part = client
            .get(&target)
            .header("range", "bytes=10-109")
            .send()
            .await
            .unwrap();
        assert_eq!(part.status(), 206, "{path}");
        assert_eq!(
            part.headers()["content-range"],
            format!("bytes 10-109/{len}").as_str(),
            "{path}"
        );
        assert_eq!(part.bytes().await.unwrap(), whole.slice(10..110), "{path}");

        let past = client
            .get(&target)
            .header("range", format!("bytes={len}-"))
            .send()
            .await
            .unwrap();
        assert_eq!(past.status(), 416, "{path}");

        let stale = client
            .get(&target)
            .header("range", "bytes=0-9")
            .header("if-range", "\"another\"")
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), 200, "{path}");
        let current = client
            .get(&target)
            .header("range", "bytes=0-9")
            .header("if-range", tag)
            .send()
            .await
            .unwrap();
        assert_eq!(current.status(), 206, "{path}");
    }
}
