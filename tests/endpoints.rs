//! The five endpoints against real media on a real origin, checked by their bytes.

mod support;

use image::ImageFormat;
use support::media::{nearest, palette_index, Audio, Container, Media, Video, PALETTE};
use support::{inspect, media_url, routed_url, Image, Service};

const VIDEO_ONLY: Media = Media {
    audio: None,
    ..Media::mp4()
};
const AUDIO_ONLY: Media = Media {
    video: None,
    ..Media::mp4()
};
const VP9_OPUS: Media = Media {
    width: 320,
    height: 240,
    frames: 180,
    video: Some(Video::Vp9),
    audio: Some(Audio::Opus),
    container: Container::Webm,
    ..Media::mp4()
};

/// Asserts a still fits inside `max` with the source's aspect ratio (within rounding).
fn assert_fits(image: &Image, source: (u32, u32), max: (u32, u32)) {
    assert!(
        image.width <= max.0 && image.height <= max.1,
        "{}x{}",
        image.width,
        image.height
    );
    assert!(
        image.width == max.0 || image.height == max.1,
        "not scaled to the box: {}x{}",
        image.width,
        image.height
    );
    let want = source.0 as f64 / source.1 as f64;
    let got = image.width as f64 / image.height as f64;
    assert!((got - want).abs() < 0.02 * want, "aspect {got} vs {want}");
}

/// Asserts the still is the palette colour `index`, with full-range colours (not washed out).
fn assert_colour(rgb: [u8; 3], index: usize) {
    let (found, diff) = nearest(rgb);
    assert_eq!(
        found, index,
        "centre pixel {rgb:?} is colour {found}, wanted {index} {:?}",
        PALETTE[index]
    );
    assert!(
        diff <= 10,
        "centre pixel {rgb:?} is {diff} off {:?}",
        PALETTE[index]
    );
}

#[tokio::test]
async fn thumb_is_the_frame_at_two_seconds_fit_inside_426x240() {
    let service = Service::start();
    for faststart in [true, false] {
        let media = Media {
            container: Container::Mp4 { faststart },
            ..Media::mp4()
        };
        let (status, content_type, body) = service.fetch("/thumb", &media_url(media)).await;
        assert_eq!(
            (status, content_type.as_str()),
            (200, "image/jpeg"),
            "faststart={faststart}"
        );
        let image = Image::decode(&body, ImageFormat::Jpeg);
        assert_eq!((image.width, image.height), (426, 240));
        assert_colour(image.centre(), 2);
        // 640x360 is 426x239.6 at this width: the picture fills the last row too, with no
        // black line along an edge. Read from the PNG: the `image` crate's JPEG decoder gets
        // the last column of an odd-width 4:2:0 JPEG wrong (ffmpeg and Chromium do not).
        let (_, _, png) = service.fetch("/thumb.png", &media_url(media)).await;
        let png = Image::decode(&png, ImageFormat::Png);
        for (x, y) in [(213, 0), (213, 239), (0, 120), (425, 120)] {
            assert_colour(png.rgb.get_pixel(x, y).0, 2);
        }
    }
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn thumb_decodes_forward_when_the_origin_ignores_range() {
    let service = Service::start();
    let url = routed_url("norange", Media::mp4());
    let (status, _, body) = service.fetch("/thumb", &url).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_colour(Image::decode(&body, ImageFormat::Jpeg).centre(), 2);
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn thumb_keeps_the_aspect_of_odd_portrait_and_short_sources() {
    let service = Service::start();
    let cases = [
        // x264 refuses odd sizes in 4:2:0; VP9 takes them.
        (
            Media {
                width: 321,
                height: 241,
                ..VP9_OPUS
            },
            2,
        ),
        (
            Media {
                width: 360,
                height: 640,
                frames: 90,
                ..Media::mp4()
            },
            2,
        ),
        // Shorter than 2 s: the first frame.
        (
            Media {
                frames: 1,
                audio: None,
                ..Media::mp4()
            },
            0,
        ),
        (
            Media {
                frames: 45,
                ..Media::mp4()
            },
            0,
        ),
    ];
    for (media, colour) in cases {
        let (status, _, body) = service.fetch("/thumb", &media_url(media)).await;
        assert_eq!(status, 200, "{media:?}: {}", String::from_utf8_lossy(&body));
        let image = Image::decode(&body, ImageFormat::Jpeg);
        assert_fits(&image, (media.width, media.height), (426, 240));
        assert_colour(image.centre(), colour);
    }
}

#[tokio::test]
async fn video_is_the_originals_alias_for_thumb() {
    let service = Service::start();
    let (status, content_type, body) = service.fetch("/video", &media_url(VP9_OPUS)).await;
    assert_eq!((status, content_type.as_str()), (200, "image/jpeg"));
    let image = Image::decode(&body, ImageFormat::Jpeg);
    assert_fits(&image, (320, 240), (426, 240));
    assert_colour(image.centre(), 2);
}

#[tokio::test]
async fn webm_is_vp8_and_opus_fit_inside_426x240_with_the_whole_duration() {
    let service = Service::start();
    let media = Media::mp4();
    let (status, content_type, body) = service.fetch("/webm", &media_url(media)).await;
    assert_eq!((status, content_type.as_str()), (200, "video/webm"));
    assert_eq!(&body[..4], &[0x1a, 0x45, 0xdf, 0xa3], "EBML magic");
    let report = inspect(&body, "webm");
    assert_eq!(report.codecs, ["video/x-vp8", "audio/x-opus"], "{report:?}");
    assert_eq!((report.width, report.height), (426, 240));
    assert_eq!(report.frames.len(), 300);
    assert!(
        (report.video_seconds() - media.seconds()).abs() < 0.05,
        "{}",
        report.video_seconds()
    );
    // Frames keep their colours and their times: second 7 is colour 7.
    let at7 = report
        .frames
        .iter()
        .find(|(t, _)| t.mseconds() >= 7_100)
        .unwrap();
    assert_colour(at7.1, 7);
}

#[tokio::test]
async fn webm_ends_for_video_only_audio_only_and_webm_sources() {
    let service = Service::start();
    let cases: [(Media, &[&str]); 3] = [
        (VIDEO_ONLY, &["video/x-vp8"]),
        (AUDIO_ONLY, &["audio/x-opus"]),
        (VP9_OPUS, &["video/x-vp8", "audio/x-opus"]),
    ];
    for (media, codecs) in cases {
        let (status, _, body) = service.fetch("/webm", &media_url(media)).await;
        assert_eq!(status, 200, "{media:?}");
        let report = inspect(&body, "webm");
        assert_eq!(report.codecs, codecs, "{media:?}");
        if media.video.is_some() {
            assert!(
                (report.video_seconds() - media.seconds()).abs() < 0.05,
                "{media:?}"
            );
        }
    }
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn webm_streams_while_it_is_encoded() {
    let service = Service::start();
    let long = Media {
        frames: 1800,
        ..Media::mp4()
    };
    // From an origin that takes two seconds to send the file: the first bytes of the WebM come
    // while the origin is still sending, so the body is not a buffer of the whole transcode
    // (nor of the whole source).
    let mut response = service
        .get("/webm", &[("url", &routed_url("slow", long))])
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("transfer-encoding").unwrap(),
        "chunked"
    );
    let first = response.chunk().await.unwrap().expect("a first chunk");
    assert_eq!(&first[..4], &[0x1a, 0x45, 0xdf, 0xa3]);
    let done = reqwest::get(routed_url("slow-done", long))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        done, "no",
        "the first bytes came only after the whole source"
    );
    let mut body = first.to_vec();
    while let Some(chunk) = response.chunk().await.unwrap() {
        body.extend_from_slice(&chunk);
    }
    let report = inspect(&body, "webm");
    assert_eq!(report.frames.len(), 1800);
}

#[tokio::test]
async fn preview_is_one_frame_every_four_seconds_at_ten_fps() {
    let service = Service::start();
    let media = Media {
        frames: 600,
        ..Media::mp4()
    }; // 20 s
    let (status, content_type, body) = service.fetch("/preview", &media_url(media)).await;
    assert_eq!((status, content_type.as_str()), (200, "video/webm"));
    let report = inspect(&body, "webm");
    assert_eq!(report.codecs, ["video/x-vp8"], "no audio");
    assert_eq!((report.width, report.height), (426, 240));
    assert_eq!(report.framerate, (10, 1));
    let times: Vec<u64> = report.frames.iter().map(|(t, _)| t.mseconds()).collect();
    assert_eq!(
        times,
        [0, 100, 200, 300, 400],
        "20 s / 4 s = 5 frames, 0.1 s apart"
    );
    let colours: Vec<usize> = report
        .frames
        .iter()
        .map(|(_, c)| palette_index(*c))
        .collect();
    assert_eq!(
        colours,
        [0, 4, 8, 2, 6],
        "the frames of seconds 0, 4, 8, 12, 16"
    );
}

#[tokio::test]
async fn meta_matches_what_was_generated() {
    let service = Service::start();
    let media = Media::mp4();
    let path = media.path();
    let (status, content_type, body) = service.fetch("/meta", &media_url(media)).await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let meta: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let format = &meta["format"];
    assert_eq!(format["filename"], media_url(media));
    assert_eq!(format["format_name"], "mov,mp4,m4a,3gp,3g2,mj2");
    assert_eq!(format["nb_streams"], 2);
    assert_eq!(
        format["size"],
        std::fs::metadata(&path).unwrap().len().to_string()
    );
    let duration: f64 = format["duration"].as_str().unwrap().parse().unwrap();
    assert!((duration - 10.0).abs() <= 1.0 / 30.0 + 0.03, "{duration}");
    let bit_rate: f64 = format["bit_rate"].as_str().unwrap().parse().unwrap();
    let size: f64 = format["size"].as_str().unwrap().parse().unwrap();
    assert!((bit_rate - size * 8.0 / duration).abs() < 2.0);

    let video = &meta["streams"][0];
    assert_eq!(video["index"], 0);
    assert_eq!(video["codec_type"], "video");
    assert_eq!(video["codec_name"], "h264");
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(640), Some(360))
    );
    assert_eq!(video["r_frame_rate"], "30/1");
    assert_eq!(video["avg_frame_rate"], "30/1");
    assert_eq!(video["pix_fmt"], "yuv420p");
    assert!(video["profile"]
        .as_str()
        .is_some_and(|p| p.chars().next().unwrap().is_uppercase()));
    let audio = &meta["streams"][1];
    assert_eq!(audio["index"], 1);
    assert_eq!(audio["codec_type"], "audio");
    assert_eq!(audio["codec_name"], "aac");
    assert_eq!(audio["profile"], "LC");
    assert_eq!(audio["sample_rate"], "48000");
    assert_eq!(audio["channels"], 2);
}

#[tokio::test]
async fn meta_reads_webm_and_audio_only_sources() {
    let service = Service::start();
    let (status, _, body) = service.fetch("/meta", &media_url(VP9_OPUS)).await;
    assert_eq!(status, 200);
    let meta: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(meta["format"]["format_name"], "matroska,webm");
    let codecs: Vec<&str> = meta["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_name"].as_str().unwrap())
        .collect();
    assert_eq!(codecs, ["vp9", "opus"]);
    assert_eq!(meta["streams"][0]["width"], 320);

    let (status, _, body) = service.fetch("/meta", &media_url(AUDIO_ONLY)).await;
    assert_eq!(status, 200);
    let meta: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(meta["format"]["nb_streams"], 1);
    assert_eq!(meta["streams"][0]["codec_type"], "audio");
    assert_eq!(meta["streams"][0]["codec_name"], "aac");
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn version_names_gstreamer_and_every_element_in_use() {
    let service = Service::start();
    let response = service.get("/version", &[]).await;
    assert_eq!(response.status(), 200);
    let version: serde_json::Value = response.json().await.unwrap();
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        version["gstreamer"].as_str().unwrap().starts_with("1."),
        "{version}"
    );
    assert!(
        version["ver"].as_str().unwrap().contains("GStreamer"),
        "{version}"
    );
    for element in [
        "uridecodebin",
        "vp8enc",
        "webmmux",
        "jpegenc",
        "opusenc",
        "videorate",
        "appsink",
    ] {
        assert_eq!(
            version["elements"][element]["present"], true,
            "{element}: {version}"
        );
    }
    assert_eq!(version["elements"]["vp8enc"]["plugin"], "vpx");
    for route in ["/thumb", "/video", "/webm", "/preview", "/meta"] {
        assert!(version["endpoints"][route].is_string(), "{route}");
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let service = Service::start();
    let response = service.get("/healthz", &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );
    let response = service.get("/readyz", &[]).await;
    assert_eq!(response.status(), 200);
    let ready: serde_json::Value = response.json().await.unwrap();
    assert_eq!(ready["ready"], true, "{ready}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    assert_eq!(
        ready["endpoints"].as_u64().unwrap() as usize,
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "toml"))
            .count()
    );
}

/// HEAD answers as GET would, without a body: the same status, type and ETag for a whole
/// output, the same type for a stream, and nothing left running.
#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let service = Service::start();
    let url = media_url(VIDEO_ONLY);
    let client = reqwest::Client::new();
    let get = service.get("/thumb", &[("url", &url)]).await;
    assert_eq!(get.status(), 200);
    let etag = get.headers()["etag"].clone();
    for (path, content_type) in [("/thumb", "image/jpeg"), ("/webm", "video/webm")] {
        let head = client
            .head(service.url(path, &[("url", &url)]))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
        assert_eq!(head.headers()["content-type"], content_type, "HEAD {path}");
        if path == "/thumb" {
            assert_eq!(head.headers()["etag"], etag, "HEAD {path} has GET's ETag");
        }
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path} has no body"
        );
    }
    let missing = client
        .head(service.url("/thumb", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        missing.status(),
        400,
        "HEAD checks the arguments as GET does"
    );
    service.assert_nothing_left().await;
}
