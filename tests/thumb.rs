//! /thumb's parameters, each checked by the image that comes back: its format, size, and the
//! colours at known places (every second of a test video is one colour of the palette).

mod support;

use image::ImageFormat;
use support::media::{nearest, Container, Media, PALETTE};
use support::{media_url, Image, Service};

/// GETs /thumb (or a suffixed path) and decodes the image.
async fn thumb(
    service: &Service,
    path: &str,
    media: Media,
    params: &[(&str, &str)],
    format: ImageFormat,
) -> Image {
    let url = media_url(media);
    let mut query = vec![("url", url.as_str())];
    query.extend_from_slice(params);
    let response = service.get(path, &query).await;
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let body = response.bytes().await.unwrap();
    assert_eq!(
        status,
        200,
        "{params:?}: {}",
        String::from_utf8_lossy(&body)
    );
    let want = match format {
        ImageFormat::Png => "image/png",
        ImageFormat::WebP => "image/webp",
        _ => "image/jpeg",
    };
    assert_eq!(content_type, want);
    let magic: &[u8] = match format {
        ImageFormat::Png => b"\x89PNG",
        ImageFormat::WebP => b"RIFF",
        _ => b"\xff\xd8\xff",
    };
    assert!(body.starts_with(magic), "{params:?}: not {format:?}");
    Image::decode(&body, format)
}

fn colour_of(rgb: [u8; 3]) -> usize {
    let (index, diff) = nearest(rgb);
    assert!(
        diff <= 12,
        "{rgb:?} is {diff} off palette colour {index} {:?}",
        PALETTE[index]
    );
    index
}

const JPG: ImageFormat = ImageFormat::Jpeg;

#[tokio::test]
async fn time_picks_the_frame_exactly_or_at_the_keyframe() {
    let service = Service::start();
    // Keyframes every 5 s, so the keyframe before 7.5 s is the frame at 5 s.
    let media = Media {
        keyint: 150,
        audio: None,
        ..Media::mp4()
    };
    for (params, colour) in [
        (vec![("time", "7")], 7),
        (vec![("time", "7.5")], 7),
        (vec![("time", "0:03.2")], 3),
        (vec![("time", "00:00:04")], 4),
        (vec![("time", "0")], 0),
        (vec![("time", "7.5"), ("accurate", "false")], 5),
        (vec![("time", "4.9"), ("accurate", "false")], 0),
        // Past the end: the last frame (second 9 of 10).
        (vec![("time", "999")], 9),
        (vec![("time", "10")], 9),
    ] {
        let image = thumb(&service, "/thumb", media, &params, JPG).await;
        assert_eq!(colour_of(image.centre()), colour, "{params:?}");
    }
}

#[tokio::test]
async fn time_as_a_share_of_the_duration() {
    let service = Service::start();
    // 12 s, a keyframe every second: second s shows palette colour s mod 10.
    let media = Media {
        frames: 360,
        keyint: 30,
        audio: None,
        ..Media::mp4()
    };
    for (time, colour) in [("50%", 6), ("25%", 3), ("0%", 0), ("12.5%", 1), ("100%", 1)] {
        let image = thumb(&service, "/thumb", media, &[("time", time)], JPG).await;
        assert_eq!(colour_of(image.centre()), colour, "time={time}");
    }
    // Not accurate: the keyframe before 6.6 s, the frame of second 6.
    let image = thumb(
        &service,
        "/thumb",
        media,
        &[("time", "55%"), ("accurate", "false")],
        JPG,
    )
    .await;
    assert_eq!(colour_of(image.centre()), 6);
    let url = media_url(media);
    let bad = ["101%", "-5%", "%", "50%%", "1e1%", "nan%"].map(|v| ("time", v));
    service.expect_invalid("/thumb", &url, &bad).await;
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn a_share_of_a_live_source_is_refused_with_the_reason() {
    let service = Service::start();
    // A live HLS playlist (no end yet) has no duration to take a share of.
    let segment = support::ffmpeg::ts_segment();
    let name = segment.file_name().unwrap().to_str().unwrap();
    let playlist = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n\
         #EXTINF:2.0,\n{name}\n"
    );
    std::fs::write(support::media::media_dir().join("live.m3u8"), playlist).unwrap();
    let url = support::origin_url("live.m3u8");
    let json = service
        .expect_error(
            "/thumb",
            &[("url", &url), ("time", "50%")],
            422,
            "unknown_duration",
        )
        .await;
    assert!(
        json["error"].as_str().unwrap().contains("seconds"),
        "{json}"
    );
    // In seconds it is a frame.
    let response = service.get("/thumb", &[("url", &url), ("time", "1")]).await;
    assert_eq!(response.status(), 200);
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn time_auto_takes_a_detailed_frame_not_a_black_or_faded_one() {
    let service = Service::start();
    // 5 s of black, a 3 s fade in, then 12 s of detail; a keyframe every second.
    let graph = "color=c=black:s=320x180:r=25:d=5[black];\
                 testsrc2=s=320x180:r=25:d=15,fade=t=in:st=0:d=3[detail];\
                 [black][detail]concat=n=2:v=1:a=0";
    let path = support::ffmpeg::made(
        "ff-black-fade-detail.mp4",
        &[
            "-f", "lavfi", "-i", graph, "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p",
        ],
    );
    let url = support::path_url(&path);
    let get_at = |time: String, width: &'static str| {
        let service = &service;
        let url = url.clone();
        async move {
            let query = [
                ("url", url.as_str()),
                ("time", time.as_str()),
                ("accurate", "false"),
                ("width", width),
            ];
            let response = service.get("/thumb", &query).await;
            assert_eq!(response.status(), 200, "time={time}");
            let etag = response.headers()["etag"].to_str().unwrap().to_string();
            (etag, response.bytes().await.unwrap())
        }
    };
    let get = |time: String| get_at(time, "426");
    let (etag, auto) = get("auto".into()).await;
    // The frame is one of the keyframes of the detailed part, to the byte.
    let mut matches = Vec::new();
    for second in 0..20 {
        if get(second.to_string()).await.1 == auto {
            matches.push(second);
        }
    }
    assert!(
        !matches.is_empty() && matches.iter().all(|s| *s >= 8),
        "the auto frame is the keyframe of seconds {matches:?}"
    );
    // The same request, the same frame and ETag.
    assert_eq!(get("auto".into()).await, (etag, auto));
    // Frames are scored on a grid of the same size at any output size: a page's 2x image is the
    // same keyframe as its 1x.
    let (_, wide) = get_at("auto".into(), "852").await;
    let mut wide_matches = Vec::new();
    for &second in &matches {
        if get_at(second.to_string(), "852").await.1 == wide {
            wide_matches.push(second);
        }
    }
    assert_eq!(
        wide_matches, matches,
        "the 2x auto frame is another keyframe"
    );

    // One colour throughout: still a frame, no error.
    let plain = media_url(Media {
        audio: None,
        ..Media::mp4()
    });
    let response = service
        .get("/thumb", &[("url", plain.as_str()), ("time", "auto")])
        .await;
    assert_eq!(response.status(), 200);
    let image = Image::decode(&response.bytes().await.unwrap(), JPG);
    assert!(colour_of(image.centre()) < 10);
    // `auto` is the still's: a stream refuses it.
    service
        .expect_invalid("/webm", &plain, &[("start", "auto")])
        .await;
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn past_the_end_of_a_source_whose_audio_outlasts_its_video() {
    // AAC pads its last frame: the test media's audio runs 21 ms past its 10 s of video, and the
    // movie's duration is the audio's. Past the movie's end, and between the video's end and the
    // movie's, the frame is the video's last.
    let service = Service::start();
    let media = Media::mp4();
    for time in ["999", "10.01", "10"] {
        let image = thumb(&service, "/thumb", media, &[("time", time)], JPG).await;
        assert_eq!(colour_of(image.centre()), 9, "time {time}");
    }
    // Not past the end: the frame at the time, as before.
    let image = thumb(&service, "/thumb", media, &[("time", "9.99")], JPG).await;
    assert_eq!(colour_of(image.centre()), 9);
}

#[tokio::test]
async fn frames_before_the_time_that_nothing_refers_to_are_skipped_without_harm() {
    // Two B-frames (references of nothing) between P-frames: the decoder skips those that end
    // before the time, and the frame at the time is still the one decoded from the keyframe on.
    let service = Service::start();
    let media = Media {
        keyint: 150,
        bframes: 2,
        audio: None,
        ..Media::mp4()
    };
    for (time, colour) in [("4.98", 4), ("7.5", 7), ("9.9", 9), ("3.0", 3), ("8.04", 8)] {
        let image = thumb(&service, "/thumb", media, &[("time", time)], JPG).await;
        assert_eq!(colour_of(image.centre()), colour, "time {time}");
        // A frame decoded without its references comes out grey or smeared, not a palette colour.
        assert!(
            image.is_uniform(),
            "time {time}: the frame is not one clean colour"
        );
    }
}

#[tokio::test]
async fn hevc_frames_nothing_refers_to_are_skipped_too() {
    // x265's defaults (as ffmpeg runs it): a 10 s GOP, B-frame pyramids whose top B-frames are
    // TRAIL_N, referred to by nothing. Mid-GOP they are dropped before the decoder; the frame is
    // still right.
    let service = Service::with_env(&[("RUST_LOG", "info,pythumbio::engine::skip=debug")]);
    let graph = support::ffmpeg::palette_graph(10, "320x180");
    let path = support::ffmpeg::made(
        "ff-hevc-bframes.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            &graph,
            "-c:v",
            "libx265",
            "-x265-params",
            "log-level=error",
            "-tag:v",
            "hvc1",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    let url = support::path_url(&path);
    for (time, colour) in [("7.5", 7), ("4.98", 4), ("9.9", 9)] {
        let response = service
            .get("/thumb.png", &[("url", &url), ("time", time)])
            .await;
        assert_eq!(response.status(), 200);
        let image = Image::decode(&response.bytes().await.unwrap(), ImageFormat::Png);
        assert_eq!(colour_of(image.centre()), colour, "time {time}");
        assert!(
            image.is_uniform(),
            "time {time}: the frame is not one clean colour"
        );
    }
    let log = service
        .wait_for_log(&["skipped an unreferenced frame before the start"])
        .await;
    assert!(log.contains("H265"), "{log}");
}

#[tokio::test]
async fn a_time_late_in_a_long_gop_of_a_source_with_audio() {
    // The still seeks at the demuxer, before any frame is decoded, and never decodes the audio.
    // After the seek the demuxer sends the GOP's video from its keyframe on, and the audio only
    // from the time asked for: seconds of video first, more than the decoder's queues hold
    // (noise keeps every frame at the encoder's bitrate). The decoder still has to learn of the
    // audio stream in time to expose its pads, or the request hangs until its timeout.
    let service = Service::with_env(&[("PYTHUMBIO_TIMEOUT", "5")]);
    let media = Media {
        keyint: 150,
        noise: true,
        ..Media::mp4()
    };
    for time in ["4.9", "9.8", "3.7", "0.5"] {
        let image = thumb(&service, "/thumb", media, &[("time", time)], JPG).await;
        assert_eq!((image.width, image.height), (426, 240), "time {time}");
    }
}

#[tokio::test]
async fn an_flv_is_decoded_forward_to_the_time() {
    // flvdemux's seeks into an FLV without an index never preroll a frame: the still decodes
    // forward from the start instead, and still gets the exact frame, within the timeout.
    let service = Service::with_env(&[("PYTHUMBIO_TIMEOUT", "10")]);
    let media = Media {
        container: Container::Flv,
        ..Media::mp4()
    };
    for (time, colour) in [("5.5", 5), ("9.9", 9), ("1", 1)] {
        let image = thumb(&service, "/thumb", media, &[("time", time)], JPG).await;
        assert_eq!(colour_of(image.centre()), colour, "time {time}");
    }
}

#[tokio::test]
async fn width_and_height_alone_or_together() {
    let service = Service::start();
    let media = Media::mp4(); // 640x360
    for (params, size) in [
        (vec![("width", "200")], (200, 113)),
        (vec![("height", "90")], (160, 90)),
        (vec![("width", "300"), ("height", "300")], (300, 169)),
        (vec![("width", "1000")], (640, 360)), // never scaled up
    ] {
        let image = thumb(&service, "/thumb", media, &params, JPG).await;
        assert_eq!((image.width, image.height), size, "{params:?}");
        assert_eq!(colour_of(image.centre()), 2);
    }
}

#[tokio::test]
async fn fit_cover_pad_and_stretch() {
    let service = Service::start();
    let media = Media::mp4(); // 640x360, 16:9
    let square = [("width", "200"), ("height", "200")];
    for fit in ["cover", "pad", "stretch"] {
        let mut params = square.to_vec();
        params.push(("fit", fit));
        let image = thumb(&service, "/thumb", media, &params, JPG).await;
        assert_eq!((image.width, image.height), (200, 200), "{fit}");
        assert_eq!(colour_of(image.centre()), 2, "{fit}");
        let top = image.rgb.get_pixel(100, 4).0;
        match fit {
            // Padded: 200x113 of picture, black bars above and below.
            "pad" => assert!(
                top.iter().all(|&c| c < 24),
                "{fit}: top {top:?} is not black"
            ),
            // Cropped or stretched: picture to the edge.
            _ => assert_eq!(colour_of(top), 2, "{fit}: top"),
        }
    }
    // The default box is complete, so fit=cover alone works; one side alone is not enough.
    let image = thumb(&service, "/thumb", media, &[("fit", "cover")], JPG).await;
    assert_eq!((image.width, image.height), (426, 240));
    let url = media_url(media);
    let json = service
        .expect_error(
            "/thumb",
            &[("url", &url), ("width", "200"), ("fit", "cover")],
            400,
            "incomplete_parameters",
        )
        .await;
    assert_eq!(
        (json["parameter"].as_str(), json["needs"].as_str()),
        (Some("fit"), Some("height"))
    );
}

#[tokio::test]
async fn cover_crops_the_middle_and_stretch_keeps_everything() {
    let service = Service::start();
    // 640x360 in three stripes: colours 5 | 2 | 8 at 2 s (left 0-213, middle 213-427, right 427-640).
    let striped = Media {
        stripes: true,
        ..Media::mp4()
    };
    let square = [("width", "180"), ("height", "180")];
    let column = |image: &Image, x: u32| colour_of(image.rgb.get_pixel(x, 90).0);

    // Cover keeps the middle 360 columns (140-500): 40 px of left stripe, 100 of middle, 40 of right.
    let cover = thumb(
        &service,
        "/thumb",
        striped,
        &[square[0], square[1], ("fit", "cover")],
        JPG,
    )
    .await;
    assert_eq!(
        [
            column(&cover, 10),
            column(&cover, 60),
            column(&cover, 90),
            column(&cover, 120),
            column(&cover, 170)
        ],
        [5, 2, 2, 2, 8]
    );
    // Stretch squeezes all 640 columns: a third of each.
    let stretch = thumb(
        &service,
        "/thumb",
        striped,
        &[square[0], square[1], ("fit", "stretch")],
        JPG,
    )
    .await;
    assert_eq!(
        [
            column(&stretch, 10),
            column(&stretch, 50),
            column(&stretch, 90),
            column(&stretch, 130),
            column(&stretch, 170)
        ],
        [5, 5, 2, 8, 8]
    );
    // Pad keeps all columns in a 180x101 picture between black bars.
    let pad = thumb(
        &service,
        "/thumb",
        striped,
        &[square[0], square[1], ("fit", "pad")],
        JPG,
    )
    .await;
    assert_eq!(
        [column(&pad, 10), column(&pad, 90), column(&pad, 170)],
        [5, 2, 8]
    );
    assert!(
        pad.rgb.get_pixel(90, 10).0.iter().all(|&c| c < 24),
        "black bar above"
    );
}

#[tokio::test]
async fn formats_by_parameter_and_by_suffix() {
    let service = Service::start();
    let media = Media::mp4();
    for (path, params, format) in [
        ("/thumb", vec![("format", "png")], ImageFormat::Png),
        ("/thumb", vec![("format", "webp")], ImageFormat::WebP),
        ("/thumb.png", vec![], ImageFormat::Png),
        ("/thumb.webp", vec![], ImageFormat::WebP),
        ("/thumb.jpg", vec![], JPG),
        ("/video.png", vec![], ImageFormat::Png),
    ] {
        let image = thumb(&service, path, media, &params, format).await;
        assert_eq!((image.width, image.height), (426, 240), "{path}");
        assert_eq!(colour_of(image.centre()), 2, "{path} {params:?}");
    }
    let url = media_url(media);
    service
        .expect_error(
            "/thumb.png",
            &[("url", &url), ("format", "png")],
            400,
            "repeated_parameter",
        )
        .await;
    service
        .expect_error("/thumb.gif", &[("url", &url)], 404, "not_found")
        .await;
    let json = service
        .expect_error(
            "/thumb",
            &[("url", &url), ("format", "gif")],
            400,
            "invalid_parameter",
        )
        .await;
    assert_eq!(json["allowed"], "one of blurhash, jpg, png, webp");
}

/// The mean colour of an RGB(A) picture with `channels` bytes a pixel.
fn mean_colour(pixels: &[u8], channels: usize) -> [f64; 3] {
    let mut sum = [0.0; 3];
    for px in pixels.chunks_exact(channels) {
        for c in 0..3 {
            sum[c] += px[c] as f64;
        }
    }
    let n = (pixels.len() / channels) as f64;
    sum.map(|s| s / n)
}

#[tokio::test]
async fn a_blurhash_placeholder_paints_the_frame() {
    let service = Service::start();
    // Three stripes of three colours: the mean is none of them.
    let media = Media {
        stripes: true,
        audio: None,
        ..Media::mp4()
    };
    let url = media_url(media);
    let query = [("url", url.as_str()), ("time", "4"), ("format", "blurhash")];
    let response = service.get("/thumb", &query).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let etag = response.headers()["etag"].clone();
    let json: serde_json::Value = response.json().await.unwrap();
    let image = thumb(
        &service,
        "/thumb.png",
        media,
        &[("time", "4")],
        ImageFormat::Png,
    )
    .await;
    assert_eq!(
        (json["width"].as_u64(), json["height"].as_u64()),
        (Some(image.width as u64), Some(image.height as u64)),
        "{json}"
    );
    assert_eq!(json["components"], serde_json::json!([4, 3]));
    // Decoded by the same crate, the hash paints the frame's mean colour.
    let hash = json["blurhash"].as_str().unwrap();
    let painted = blurhash::decode(hash, 32, 18, 1.0).unwrap();
    let (want, got) = (mean_colour(image.rgb.as_raw(), 3), mean_colour(&painted, 4));
    for c in 0..3 {
        assert!(
            (want[c] - got[c]).abs() <= 12.0,
            "mean {got:?} against the frame's {want:?}"
        );
    }
    // The dominant colour is one of the stripes' (a third each; the first in the grid wins).
    let hex = json["dominant_color"].as_str().unwrap();
    let rgb = [1, 3, 5].map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap());
    let stripes = [4, 7, 0].map(|i| PALETTE[i]);
    assert!(
        stripes
            .iter()
            .any(|s| (0..3).all(|c| s[c].abs_diff(rgb[c]) <= 12)),
        "{hex} is none of {stripes:?}"
    );
    // The same request gives the same placeholder: the ETag holds.
    let again = service.get("/thumb", &query).await;
    assert_eq!(again.headers()["etag"], etag);
    // A one-colour frame: that colour.
    let plain = media_url(Media {
        audio: None,
        ..Media::mp4()
    });
    let query = [
        ("url", plain.as_str()),
        ("time", "6"),
        ("format", "blurhash"),
    ];
    let json: serde_json::Value = service.get("/thumb", &query).await.json().await.unwrap();
    let hex = json["dominant_color"].as_str().unwrap();
    let rgb = [1, 3, 5].map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap());
    assert_eq!(colour_of(rgb), 6, "{hex}");
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn quality_changes_the_size() {
    let service = Service::start();
    let url = media_url(Media::mp4());
    let mut sizes = Vec::new();
    for quality in ["5", "100"] {
        let response = service
            .get(
                "/thumb",
                &[("url", &url), ("quality", quality), ("width", "640")],
            )
            .await;
        sizes.push(response.bytes().await.unwrap().len());
    }
    assert!(sizes[0] < sizes[1], "{sizes:?}");
    service
        .expect_error(
            "/thumb",
            &[("url", &url), ("quality", "0")],
            400,
            "invalid_parameter",
        )
        .await;
    service
        .expect_error(
            "/thumb",
            &[("url", &url), ("quality", "101")],
            400,
            "invalid_parameter",
        )
        .await;
}

#[tokio::test]
async fn rotation_tags_are_applied_and_rotate_adds_to_them() {
    let service = Service::start();
    // Encoded landscape, tagged as turned 90 degrees: upright it is portrait.
    let phone = Media {
        rotation: 90,
        audio: None,
        ..Media::mp4()
    };
    let image = thumb(&service, "/thumb", phone, &[], JPG).await;
    assert_eq!(
        (image.width, image.height),
        (135, 240),
        "the tag is applied"
    );
    let image = thumb(&service, "/thumb", phone, &[("rotate", "90")], JPG).await;
    assert_eq!(
        (image.width, image.height),
        (426, 240),
        "90 more: landscape again"
    );
    let plain = Media::mp4();
    for (rotate, size) in [
        ("90", (135, 240)),
        ("180", (426, 240)),
        ("270", (135, 240)),
        ("0", (426, 240)),
    ] {
        let image = thumb(&service, "/thumb", plain, &[("rotate", rotate)], JPG).await;
        assert_eq!((image.width, image.height), size, "rotate={rotate}");
    }
    let url = media_url(plain);
    service
        .expect_error(
            "/thumb",
            &[("url", &url), ("rotate", "45")],
            400,
            "invalid_parameter",
        )
        .await;
}

#[tokio::test]
async fn bad_values_name_the_parameter() {
    let service = Service::start();
    let url = media_url(Media::mp4());
    let cases = [
        ("time", "-1"),
        ("time", "NaN"),
        ("time", "1:75"),
        ("time", "1e3"),
        ("accurate", "maybe"),
        ("width", "0"),
        ("width", "99999"),
        ("height", "abc"),
        ("fit", "fill"),
    ];
    service.expect_invalid("/thumb", &url, &cases).await;
}

/// A white 100x50 PNG, opaque, in the origin's directory.
fn watermark_url() -> String {
    let path = support::media::media_dir().join("mark-100x50.png");
    if !path.exists() {
        let mark = image::RgbaImage::from_pixel(100, 50, image::Rgba([255, 255, 255, 255]));
        let partial = path.with_extension(format!("partial-{}", std::process::id()));
        mark.save_with_format(&partial, ImageFormat::Png).unwrap();
        std::fs::rename(partial, &path).unwrap();
    }
    support::origin_url("mark-100x50.png")
}

#[tokio::test]
async fn watermark_sits_bottom_right_with_its_opacity() {
    let service = Service::start();
    let mark = watermark_url();
    let media = Media::mp4(); // 426x240 thumbnails of colour 2, (40, 40, 200)
                              // Shorter side 240: the mark is 48x24 (20 %), 24 px (10 %) from the bottom-right corner,
                              // so it covers x 354-402, y 192-216.
    let image = thumb(&service, "/thumb", media, &[("watermark", &mark)], JPG).await;
    assert_eq!((image.width, image.height), (426, 240));
    let inside = image.rgb.get_pixel(378, 204).0;
    for (channel, want) in inside.iter().zip([147, 147, 227]) {
        assert!(
            channel.abs_diff(want) <= 10,
            "half white over colour 2: {inside:?}"
        );
    }
    for (x, y) in [(340, 204), (378, 185), (378, 225), (412, 204), (213, 120)] {
        assert_eq!(
            colour_of(image.rgb.get_pixel(x, y).0),
            2,
            "({x},{y}) is outside the mark"
        );
    }
    let image = thumb(
        &service,
        "/thumb",
        media,
        &[
            ("watermark", &mark),
            ("alpha", "1"),
            ("scale", "0.5"),
            ("offset", "0"),
        ],
        JPG,
    )
    .await;
    // 120x60 in the very corner: x 306-426, y 180-240.
    for (x, y) in [(310, 184), (422, 236), (366, 210)] {
        assert!(
            image.rgb.get_pixel(x, y).0.iter().all(|&c| c > 235),
            "({x},{y}) is opaque white"
        );
    }
    assert_eq!(colour_of(image.rgb.get_pixel(300, 210).0), 2);

    let url = media_url(media);
    service
        .expect_error(
            "/thumb",
            &[("url", &url), ("watermark", "file:///etc/passwd")],
            403,
            "source_refused",
        )
        .await;
    service
        .expect_error(
            "/thumb",
            &[("url", &url), ("watermark", &mark), ("alpha", "2")],
            400,
            "invalid_parameter",
        )
        .await;
    let missing = support::origin_url("no-such-mark.png");
    service
        .expect_error(
            "/thumb",
            &[("url", &url), ("watermark", &missing)],
            502,
            "origin_error",
        )
        .await;
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn the_configured_limit_caps_every_size() {
    let service = Service::with_env(&[
        ("PYTHUMBIO_MAX_WIDTH", "300"),
        ("PYTHUMBIO_MAX_HEIGHT", "200"),
    ]);
    // The default box (426x240) is capped too.
    let image = thumb(&service, "/thumb", Media::mp4(), &[], JPG).await;
    assert_eq!((image.width, image.height), (300, 169));
    let url = media_url(Media::mp4());
    let json = service
        .expect_error(
            "/thumb",
            &[("url", &url), ("width", "301")],
            400,
            "invalid_parameter",
        )
        .await;
    assert_eq!(json["allowed"], "an integer from 16 to 300");
    let json = service
        .expect_error(
            "/webm",
            &[("url", &url), ("height", "201")],
            400,
            "invalid_parameter",
        )
        .await;
    assert_eq!(json["allowed"], "an integer from 16 to 200");
}

/// The mean of each channel over a picture.
fn channel_means(rgb: &image::RgbImage) -> [f64; 3] {
    let mut sums = [0.0; 3];
    for pixel in rgb.pixels() {
        for (sum, value) in sums.iter_mut().zip(pixel.0) {
            *sum += f64::from(value);
        }
    }
    sums.map(|sum| sum / f64::from(rgb.width() * rgb.height()))
}

/// The full-range RGB that limited-range BT.601 codes (Y, Cb, Cr) stand for, exactly.
fn bt601_rgb([y, cb, cr]: [f64; 3]) -> [f64; 3] {
    let (y, cb, cr) = (
        (y - 16.0) / 219.0,
        (cb - 128.0) / 224.0,
        (cr - 128.0) / 224.0,
    );
    let (r, b) = (y + 1.402 * cr, y + 1.772 * cb);
    let g = (y - 0.299 * r - 0.114 * b) / 0.587;
    [r, g, b].map(|c| c * 255.0)
}

#[tokio::test]
async fn a_still_shows_the_colours_the_file_stores() {
    // Flat colours (nothing for a scaler to change), near-lossless H.264 as ffmpeg writes it,
    // untagged SD (BT.601 for every reader). An RGB conversion in 8-bit steps made stills up to
    // 4.5 levels off (5.6 as JPEG), 3.6 too dark in green on average; a still at the source's
    // size must show the colours the file's codes stand for, channel by channel.
    let service = Service::start();
    let graph = support::ffmpeg::palette_graph(10, "640x360");
    let path = support::ffmpeg::made(
        "ff-palette-near-lossless.mp4",
        &[
            "-f", "lavfi", "-i", &graph, "-c:v", "libx264", "-crf", "1", "-pix_fmt", "yuv420p",
        ],
    );
    let url = support::path_url(&path);
    for second in 0..10 {
        let time = format!("{second}.5");
        let codes = support::ffmpeg::planes_at(&path, second as f64 + 0.5);
        let want = bt601_rgb(codes);
        for (path, format, within) in [("/thumb.png", ImageFormat::Png, 2.25), ("/thumb", JPG, 3.0)]
        {
            let query = [
                ("url", url.as_str()),
                ("time", &time),
                ("width", "640"),
                ("height", "360"),
            ];
            let response = service.get(path, &query).await;
            assert_eq!(response.status(), 200);
            let image = Image::decode(&response.bytes().await.unwrap(), format);
            let got = channel_means(&image.rgb);
            for (channel, (got, want)) in ["R", "G", "B"].iter().zip(got.iter().zip(want)) {
                assert!(
                    (got - want).abs() <= within,
                    "{path} second {second}, {channel}: {got:.2} where the codes {codes:?} say {want:.2}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_gif_preview_shows_the_colours_the_file_stores() {
    // GIF frames are RGB too: the same 8-bit conversion put them up to 4.5 levels off.
    let service = Service::start();
    let graph = support::ffmpeg::palette_graph(10, "640x360");
    let path = support::ffmpeg::made(
        "ff-palette-near-lossless.mp4",
        &[
            "-f", "lavfi", "-i", &graph, "-c:v", "libx264", "-crf", "1", "-pix_fmt", "yuv420p",
        ],
    );
    let url = support::path_url(&path);
    let response = service.get("/preview.gif", &[("url", &url)]).await;
    assert_eq!(response.status(), 200);
    // The first frame (the source at 0 s), read back by ffmpeg: a GIF's colours are exact RGB.
    let gif = tempfile::Builder::new().suffix(".gif").tempfile().unwrap();
    std::fs::write(gif.path(), response.bytes().await.unwrap()).unwrap();
    let frame = support::ffmpeg::frame_at(gif.path(), 0.0);
    let codes = support::ffmpeg::planes_at(&path, 0.0);
    let (got, want) = (channel_means(&frame), bt601_rgb(codes));
    for (channel, (got, want)) in ["R", "G", "B"].iter().zip(got.iter().zip(want)) {
        assert!(
            (got - want).abs() <= 2.25,
            "{channel}: {got:.2} where the codes {codes:?} say {want:.2}"
        );
    }
}

#[tokio::test]
async fn a_4k_checkerboard_comes_out_grey() {
    // One-pixel checkers of black and white at 3840x2160 (lossless H.264 as ffmpeg writes it),
    // which the service halves before its scaler (pythumbioshrink): any pixel of the 426x240
    // still is the mean of many black and white ones. A halving that dropped pixels instead of
    // averaging them would give black or white; one that shifted the picture, stripes.
    let service = Service::start();
    let path = support::ffmpeg::made(
        "ff-checkers-2160p.mp4",
        &[
            "-f", "lavfi", "-i",
            "color=c=black:s=3840x2160:r=5:d=1,format=yuv420p,geq=lum='16+219*mod(X+Y\\,2)':cb=128:cr=128",
            "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p",
        ],
    );
    let [y, _, _] = support::ffmpeg::planes_at(&path, 0.5);
    assert!(
        (y - 125.5).abs() < 0.5,
        "the file holds the checkers: mean luma {y}"
    );
    let want = (125.5 - 16.0) * 255.0 / 219.0;
    let url = support::path_url(&path);
    let response = service
        .get("/thumb.png", &[("url", url.as_str()), ("time", "0.5")])
        .await;
    assert_eq!(response.status(), 200);
    let image = Image::decode(&response.bytes().await.unwrap(), ImageFormat::Png);
    assert_eq!((image.width, image.height), (426, 240));
    for (x, y, pixel) in image.rgb.enumerate_pixels() {
        for value in pixel.0 {
            assert!(
                (f64::from(value) - want).abs() <= 3.0,
                "pixel ({x}, {y}) is {:?} where the checkers' mean is {want:.1}",
                pixel.0
            );
        }
    }
}
