//! /webm, its codec variants and /preview with their parameters, checked by reading the WebM
//! back: codecs, size, frame count, frame times and the colours of the frames.

mod support;

use support::media::{palette_index, Media};
use support::{inspect, media_url, Report, Service};

async fn webm(
    service: &Service,
    path: &str,
    media: Media,
    params: &[(&str, &str)],
) -> (usize, Report) {
    let url = media_url(media);
    let mut query = vec![("url", url.as_str())];
    query.extend_from_slice(params);
    let response = service.get(path, &query).await;
    let status = response.status();
    let body = response.bytes().await.unwrap();
    assert_eq!(
        status,
        200,
        "{path} {params:?}: {}",
        String::from_utf8_lossy(&body)
    );
    assert!(body.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]), "WebM");
    (body.len(), inspect(&body, "webm"))
}

/// 20 s of the palette video without audio: a preview's frames, every few seconds.
const TWENTY_SECONDS: Media = Media {
    frames: 600,
    audio: None,
    ..Media::mp4()
};

fn colours(report: &Report) -> Vec<usize> {
    report
        .frames
        .iter()
        .map(|(_, rgb)| palette_index(*rgb))
        .collect()
}

#[tokio::test]
async fn start_and_duration_cut_the_source() {
    let service = Service::start();
    let (_, report) = webm(
        &service,
        "/webm",
        Media::mp4(),
        &[("start", "3"), ("duration", "4")],
    )
    .await;
    assert_eq!(report.codecs, ["video/x-vp8", "audio/x-opus"]);
    let frames = report.frames.len();
    let times: Vec<u64> = report.frames.iter().map(|(t, _)| t.mseconds()).collect();
    assert_eq!(frames, 120, "4 s at 30 fps: {times:?}");
    assert_eq!(report.frames[0].0.mseconds(), 0, "the output starts at 0");
    let seen = colours(&report);
    assert_eq!(
        (seen[0], seen[frames - 1]),
        (3, 6),
        "seconds 3 to 6 of the source"
    );
    // Start alone runs to the end; duration alone starts at 0.
    let (_, report) = webm(&service, "/webm", Media::mp4(), &[("start", "0:08")]).await;
    assert_eq!((report.frames.len(), colours(&report)[0]), (60, 8));
    let (_, report) = webm(&service, "/webm", Media::mp4(), &[("duration", "1.5")]).await;
    assert_eq!((report.frames.len(), colours(&report)[0]), (45, 0));
}

#[tokio::test]
async fn start_and_duration_as_shares_of_the_duration() {
    let service = Service::start();
    // 10 s of video alone (AAC would pad the duration): from 30% for 40% is seconds 3 to 6, as
    // start=3&duration=4.
    let silent = Media {
        audio: None,
        ..Media::mp4()
    };
    let shares = [("start", "30%"), ("duration", "40%")];
    let (_, report) = webm(&service, "/webm", silent, &shares).await;
    let seen = colours(&report);
    assert_eq!(report.frames.len(), 120, "4 s at 30 fps");
    assert_eq!((seen[0], seen[119]), (3, 6), "seconds 3 to 6 of the source");
    // A preview of the second half of 20 s: the frames of seconds 10, 14 and 18.
    let media = TWENTY_SECONDS;
    let (_, report) = webm(&service, "/preview", media, &[("start", "50%")]).await;
    assert_eq!(colours(&report), [0, 4, 8]);
    let url = media_url(media);
    let bad = [("duration", "0%"), ("start", "100.1%"), ("interval", "10%")];
    service.expect_invalid("/preview", &url, &bad).await;
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn size_fit_fps_and_audio() {
    let service = Service::start();
    let media = Media::mp4(); // 640x360, 30 fps, 10 s, with audio
    let (_, report) = webm(&service, "/webm", media, &[("width", "200")]).await;
    assert_eq!((report.width, report.height), (200, 113));
    let (_, report) = webm(
        &service,
        "/webm",
        media,
        &[("width", "200"), ("height", "200"), ("fit", "pad")],
    )
    .await;
    assert_eq!((report.width, report.height), (200, 200));
    let (_, report) = webm(&service, "/webm", media, &[("fps", "10")]).await;
    assert_eq!(report.frames.len(), 100, "10 s at 10 fps");
    let (_, report) = webm(&service, "/webm", media, &[("fps", "60")]).await;
    assert_eq!(
        report.frames.len(),
        300,
        "never more frames than the source"
    );
    let (_, report) = webm(&service, "/webm", media, &[("audio", "false")]).await;
    assert_eq!(report.codecs, ["video/x-vp8"]);
}

#[tokio::test]
async fn bitrates_set_the_size() {
    let service = Service::start();
    let noise = Media {
        noise: true,
        audio: None,
        frames: 150,
        ..Media::mp4()
    };
    let (low, _) = webm(&service, "/webm", noise, &[("bitrate", "100")]).await;
    let (high, _) = webm(&service, "/webm", noise, &[("bitrate", "800")]).await;
    assert!(
        high > 3 * low,
        "video: {low} bytes at 100 kbit/s, {high} at 800"
    );
    // Solid frames cost next to nothing: the size is the audio's.
    let (low, _) = webm(&service, "/webm", Media::mp4(), &[("audio_bitrate", "16")]).await;
    let (high, _) = webm(&service, "/webm", Media::mp4(), &[("audio_bitrate", "128")]).await;
    assert!(
        high > 3 * low,
        "audio: {low} bytes at 16 kbit/s, {high} at 128"
    );
}

#[tokio::test]
async fn vp9_and_av1_variants_are_pipeline_files() {
    let service = Service::start();
    let short = Media {
        frames: 60,
        ..Media::mp4()
    };
    let (_, report) = webm(&service, "/webm/vp9", short, &[]).await;
    assert_eq!(report.codecs, ["video/x-vp9", "audio/x-opus"]);
    assert_eq!(
        (report.width, report.height, report.frames.len()),
        (426, 240, 60)
    );
    let (_, report) = webm(&service, "/webm/av1", short, &[("width", "160")]).await;
    assert_eq!(report.codecs, ["video/x-av1", "audio/x-opus"]);
    assert_eq!(
        (report.width, report.height, report.frames.len()),
        (160, 90, 60)
    );
    assert_eq!(colours(&report)[45], 1, "second 1");
}

#[tokio::test]
async fn preview_interval_fps_start_and_duration() {
    let service = Service::start();
    let media = TWENTY_SECONDS; // 20 s
    let (_, report) = webm(
        &service,
        "/preview",
        media,
        &[("interval", "2"), ("fps", "5")],
    )
    .await;
    assert_eq!(report.framerate, (5, 1));
    let times: Vec<u64> = report.frames.iter().map(|(t, _)| t.mseconds()).collect();
    assert_eq!(
        times,
        (0..10).map(|i| i * 200).collect::<Vec<_>>(),
        "20 s / 2 s = 10 frames, 1/5 s apart"
    );
    assert_eq!(colours(&report), [0, 2, 4, 6, 8, 0, 2, 4, 6, 8]);

    let (_, report) = webm(
        &service,
        "/preview",
        media,
        &[("start", "8"), ("duration", "8")],
    )
    .await;
    assert_eq!(colours(&report), [8, 2], "the frames of seconds 8 and 12");
    let (_, report) = webm(&service, "/preview", media, &[("width", "100")]).await;
    assert_eq!((report.width, report.height), (100, 56));

    // More frames a second than the 30 fps source has: the sped-up source has them.
    let (_, report) = webm(
        &service,
        "/preview",
        media,
        &[("interval", "0.1"), ("fps", "60"), ("duration", "1")],
    )
    .await;
    assert_eq!(report.framerate, (60, 1));
    assert_eq!(report.frames.len(), 10, "1 s / 0.1 s = 10 frames");
    assert_eq!(colours(&report), [0; 10], "all from second 0");
}

#[tokio::test]
async fn bad_values_name_the_parameter() {
    let service = Service::start();
    let url = media_url(Media::mp4());
    let webm = [
        ("start", "-1"),
        ("duration", "0"),
        ("bitrate", "5"),
        ("audio", "maybe"),
        ("fps", "0"),
    ];
    service.expect_invalid("/webm", &url, &webm).await;
    service
        .expect_invalid("/webm/vp9", &url, &[("audio_bitrate", "1000")])
        .await;
    let preview = [
        ("interval", "0"),
        ("fps", "61"),
        ("start", "1:99"),
        ("format", "avi"),
    ];
    service.expect_invalid("/preview", &url, &preview).await;
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn preview_as_animated_gif() {
    let service = Service::start();
    let url = media_url(TWENTY_SECONDS);
    for (path, params, delay) in [
        ("/preview", vec![("format", "gif")], 0.1),
        ("/preview.gif", vec![("fps", "4"), ("width", "200")], 0.25),
    ] {
        let mut query = vec![("url", url.as_str())];
        query.extend(params.iter().copied());
        let response = service.get(path, &query).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "image/gif");
        assert!(
            response.headers().get("content-length").is_none(),
            "{path}: streamed while it is encoded"
        );
        let body = response.bytes().await.unwrap();
        assert!(
            body.starts_with(b"GIF89a") && body.ends_with(b";"),
            "{path}"
        );
        // Loops forever: the NETSCAPE2.0 extension with a loop count of 0.
        let looping = b"NETSCAPE2.0\x03\x01\x00\x00";
        assert!(body.windows(looping.len()).any(|w| w == looping), "{path}");
        let file = tempfile::Builder::new().suffix(".gif").tempfile().unwrap();
        std::fs::write(file.path(), &body).unwrap();
        let frames = support::ffmpeg::probe_frames(file.path());
        let (width, height) = (frames[0].1, frames[0].2);
        assert_eq!(
            (width, height),
            if path == "/preview" {
                (426, 240)
            } else {
                (200, 113)
            }
        );
        assert_eq!(frames.len(), 5, "{path}: 20 s / 4 s");
        for (duration, ..) in &frames {
            assert!((duration - delay).abs() < 0.005, "{path}: {frames:?}");
        }
        let colours: Vec<usize> = support::ffmpeg::decoded_frames(file.path(), width, height)
            .iter()
            .map(|f| palette_index(f.get_pixel(width / 2, height / 2).0))
            .collect();
        assert_eq!(colours, [0, 4, 8, 2, 6], "{path}: seconds 0, 4, 8, 12, 16");
    }
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn preview_as_animated_webp() {
    use image::AnimationDecoder;
    let service = Service::start();
    let url = media_url(TWENTY_SECONDS);
    for (path, params) in [
        ("/preview", vec![("format", "webp")]),
        ("/preview.webp", vec![("fps", "5")]),
    ] {
        let mut query = vec![("url", url.as_str())];
        query.extend(params.iter().copied());
        let response = service.get(path, &query).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "image/webp");
        let body = response.bytes().await.unwrap();
        assert!(body.starts_with(b"RIFF") && &body[8..12] == b"WEBP");
        let decoder =
            image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(body.to_vec())).unwrap();
        assert!(decoder.has_animation());
        let frames = decoder.into_frames().collect_frames().unwrap();
        let colours: Vec<usize> = frames
            .iter()
            .map(|f| palette_index(rgb(f.buffer().get_pixel(213, 120).0)))
            .collect();
        assert_eq!(
            colours,
            [0, 4, 8, 2, 6],
            "{path}: the frames of seconds 0, 4, 8, 12, 16"
        );
        assert_eq!(frames[0].buffer().dimensions(), (426, 240));
        let want_ms = if path == "/preview" { 100 } else { 200 };
        for frame in &frames {
            assert_eq!(
                std::time::Duration::from(frame.delay()).as_millis(),
                want_ms,
                "{path}"
            );
        }
    }
    // More frames a second than the source has, sampled densely: 10 frames of a second.
    let query = [
        ("url", url.as_str()),
        ("interval", "0.1"),
        ("fps", "60"),
        ("duration", "1"),
    ];
    let response = service.get("/preview.webp", &query).await;
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.unwrap();
    let decoder =
        image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(body.to_vec())).unwrap();
    let frames = decoder.into_frames().collect_frames().unwrap();
    assert_eq!(frames.len(), 10);
    for frame in &frames {
        // 1/60 s, as WebP stores it: in whole milliseconds.
        let ms = std::time::Duration::from(frame.delay()).as_millis();
        assert!((16..=17).contains(&ms), "{ms} ms");
        assert_eq!(palette_index(rgb(frame.buffer().get_pixel(213, 120).0)), 0);
    }
}

fn rgb(rgba: [u8; 4]) -> [u8; 3] {
    [rgba[0], rgba[1], rgba[2]]
}

#[tokio::test]
async fn height_alone_and_fit_on_streams() {
    let service = Service::start();
    let media = Media {
        frames: 90,
        ..Media::mp4()
    };
    let (_, report) = webm(&service, "/webm", media, &[("height", "90")]).await;
    assert_eq!((report.width, report.height), (160, 90));
    for (fit, size) in [
        ("cover", (100, 100)),
        ("stretch", (100, 100)),
        ("contain", (100, 56)),
    ] {
        let (_, report) = webm(
            &service,
            "/webm/vp9",
            media,
            &[("width", "100"), ("height", "100"), ("fit", fit)],
        )
        .await;
        assert_eq!((report.width, report.height), size, "{fit}");
    }
    let (_, report) = webm(
        &service,
        "/preview",
        media,
        &[("height", "60"), ("format", "webm")],
    )
    .await;
    assert_eq!((report.width, report.height), (107, 60));
    let (_, report) = webm(
        &service,
        "/preview",
        media,
        &[("width", "64"), ("height", "64"), ("fit", "pad")],
    )
    .await;
    assert_eq!((report.width, report.height), (64, 64));
}
