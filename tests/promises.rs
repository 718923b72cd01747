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

/// An origin that honours the first Range and then answers later ones with the whole file
/// cannot serve a seek: 502 `origin_cannot_seek`, for a still and for a stream.
#[tokio::test]
async fn an_origin_that_stops_honouring_range_is_a_502() {
    let service = Service::with_env(&[("PYTHUMBIO_CACHE_MB", "0")]);
    let url = support::routed_url("first-range", Media::noise_minute());
    let json = service
        .expect_error(
            "/thumb",
            &[("url", &url), ("time", "40")],
            502,
            "origin_cannot_seek",
        )
        .await;
    assert!(json["error"].as_str().unwrap().contains("Range"), "{json}");
    service
        .expect_error(
            "/webm",
            &[("url", &url), ("start", "40"), ("duration", "2")],
            502,
            "origin_cannot_seek",
        )
        .await;
    service.assert_nothing_left().await;
}

/// An origin that accepts no connection in time is a 504 after
/// `PYTHUMBIO_ORIGIN_CONNECT_TIMEOUT`, well inside `PYTHUMBIO_TIMEOUT`. The origin is a
/// listener whose queue of connections is full and never accepted: the kernel drops further
/// handshakes, as a firewall dropping packets does.
#[tokio::test]
async fn an_origin_that_never_accepts_is_a_504_after_the_connect_timeout() {
    let listener = tokio::net::TcpSocket::new_v4().unwrap();
    listener.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    // Fill the accept queue: connections complete until it is full, then hang.
    let mut held = Vec::new();
    loop {
        let attempt = tokio::time::timeout(
            std::time::Duration::from_millis(300),
            tokio::net::TcpStream::connect(addr),
        )
        .await;
        match attempt {
            Ok(Ok(stream)) => held.push(stream),
            _ => break,
        }
        assert!(held.len() < 64, "the listener's queue never filled");
    }
    let service = Service::with_env(&[
        ("PYTHUMBIO_ORIGIN_CONNECT_TIMEOUT", "1"),
        ("PYTHUMBIO_TIMEOUT", "30"),
    ]);
    let url = format!("http://{addr}/video.mp4");
    for path in ["/thumb", "/meta"] {
        let started = std::time::Instant::now();
        let json = service
            .expect_error(path, &[("url", &url)], 504, "timeout")
            .await;
        let took = started.elapsed();
        assert!(
            took >= std::time::Duration::from_millis(900)
                && took < std::time::Duration::from_secs(10),
            "{path}: {json} after {took:?}"
        );
    }
    drop(listener);
    service.assert_nothing_left().await;
}

/// `/meta` says what ffprobe says of a file ffmpeg wrote with tags and anamorphic pixels:
/// `format_long_name`, `format.tags`, each stream's `tags`, the aspect ratios and the audio's
/// declared `bit_rate`, field by field.
#[tokio::test]
async fn meta_tags_aspect_and_bit_rates_are_ffprobes() {
    let path = support::ffmpeg::made(
        "ff-tagged-anamorphic.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=480x360:rate=25:duration=3",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=3",
            "-vf",
            "setsar=4/3",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "96k",
            "-metadata",
            "title=A tagged clip",
            "-metadata",
            "artist=Somebody",
            "-metadata",
            "comment=made for a test",
            "-metadata:s:v:0",
            "language=eng",
            "-metadata:s:a:0",
            "language=fra",
        ],
    );
    let service = Service::start();
    let (status, _, body) = service.fetch("/meta", &support::path_url(&path)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let meta: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let probe = support::ffmpeg::probe(&path);
    assert_eq!(
        meta["format"]["format_long_name"],
        probe["format"]["format_long_name"]
    );
    for tag in ["title", "artist", "comment"] {
        assert_eq!(
            meta["format"]["tags"][tag], probe["format"]["tags"][tag],
            "format.tags.{tag}: {meta}"
        );
    }
    for i in 0..2 {
        let (got, want) = (&meta["streams"][i], &probe["streams"][i]);
        assert_eq!(got["codec_type"], want["codec_type"], "stream {i}");
        assert_eq!(
            got["tags"]["language"], want["tags"]["language"],
            "stream {i}: {got}"
        );
    }
    let video = &meta["streams"][0];
    for field in ["sample_aspect_ratio", "display_aspect_ratio"] {
        assert_eq!(video[field], probe["streams"][0][field], "{field}");
    }
    assert_eq!(video["sample_aspect_ratio"], "4:3");
    // The declared bitrate of the AAC stream: within 5 % of what ffprobe reads.
    let rate = |v: &serde_json::Value| v["bit_rate"].as_str().unwrap().parse::<f64>().unwrap();
    let (got, want) = (rate(&meta["streams"][1]), rate(&probe["streams"][1]));
    assert!(
        (got - want).abs() <= want * 0.05,
        "audio bit_rate {got} (ffprobe: {want})"
    );
}

/// A thumbnail in the middle of a large file reads the index and the GOP it needs, not the
/// file: about 1 MB of a 15 MB minute.
#[tokio::test]
async fn a_thumbnail_reads_a_small_part_of_a_large_file() {
    let service = Service::with_env(&[
        ("PYTHUMBIO_CACHE_MB", "0"),
        ("PYTHUMBIO_ORIGIN_CACHE_MB", "0"),
    ]);
    let media = Media::noise_minute();
    let size = std::fs::metadata(media.path()).unwrap().len() as f64;
    let before = service.metric("pythumbio_origin_bytes_total").await;
    let response = service
        .get("/thumb", &[("url", &media_url(media)), ("time", "30")])
        .await;
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap();
    let read = service.metric("pythumbio_origin_bytes_total").await - before;
    assert!(
        read > 0.0 && read < 2_000_000.0 && read < size / 5.0,
        "read {read} bytes of {size}"
    );
}
