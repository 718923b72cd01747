//! Sources as other tools write them: a thumbnail's `time` counts from the media's start, as
//! ffmpeg and every player count, whatever timestamp the container's first frame carries (an
//! MPEG-TS written by ffmpeg starts at about 1.4 s); interlaced video comes out deinterlaced;
//! untagged colour is read as browsers read it. (`tests/conformance.rs` runs the whole corpus.)

mod support;

use support::media::palette_index;
use support::{ffmpeg, path_url, Image, Service};

#[tokio::test]
async fn a_thumbnail_of_a_transport_stream_counts_from_its_start() {
    let service = Service::start();
    let ts = ffmpeg::offset_ts();
    let url = path_url(&ts);
    for second in [0usize, 2, 4] {
        let time = format!("{second}.5");
        let by_ffmpeg = ffmpeg::frame_at(&ts, second as f64 + 0.5);
        let centre = by_ffmpeg
            .get_pixel(by_ffmpeg.width() / 2, by_ffmpeg.height() / 2)
            .0;
        assert_eq!(palette_index(centre), second, "ffmpeg's frame at {time}");
        for accurate in ["true", "false"] {
            let query = [
                ("url", url.as_str()),
                ("time", &time),
                ("accurate", accurate),
            ];
            let response = service.get("/thumb.png", &query).await;
            assert_eq!(response.status(), 200);
            let image = Image::decode(&response.bytes().await.unwrap(), image::ImageFormat::Png);
            assert_eq!(
                palette_index(image.centre()),
                second,
                "/thumb time={time} accurate={accurate}"
            );
        }
    }
    service.assert_nothing_left().await;
}

/// How combed a picture is: the mean, over the picture, of how far each pixel's luma lies from
/// the mean of the rows above and below it. Interlaced motion shown without deinterlacing
/// alternates rows from two moments, which this measures.
fn combing(image: &image::RgbImage) -> f64 {
    let luma = |x: u32, y: u32| {
        let [r, g, b] = image.get_pixel(x, y).0;
        0.299 * r as f64 + 0.587 * g as f64 + 0.114 * b as f64
    };
    let mut sum = 0.0;
    let mut n = 0.0;
    for y in 1..image.height() - 1 {
        for x in 0..image.width() {
            sum += (2.0 * luma(x, y) - luma(x, y - 1) - luma(x, y + 1)).abs();
            n += 1.0;
        }
    }
    sum / n
}

#[tokio::test]
async fn interlaced_video_is_deinterlaced_on_every_picture_endpoint() {
    let service = Service::start();
    // 50 fields a second of moving test pattern, woven into 25 interlaced frames.
    let path = ffmpeg::made(
        "ff-interlaced-motion.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=320x240:r=50:d=4",
            "-vf",
            "tinterlace=mode=interleave_top,setfield=tff",
            "-c:v",
            "libx264",
            "-flags",
            "+ildct+ilme",
            "-x264opts",
            "tff=1",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    let url = path_url(&path);
    let woven = combing(&ffmpeg::frame_at(&path, 2.0));
    let thumb = service
        .get("/thumb.png", &[("url", &url), ("time", "2")])
        .await;
    assert_eq!(thumb.status(), 200);
    let thumb = Image::decode(&thumb.bytes().await.unwrap(), image::ImageFormat::Png);
    assert_eq!((thumb.width, thumb.height), (320, 240));
    let webm = service
        .get("/webm", &[("url", &url), ("start", "2"), ("duration", "1")])
        .await;
    assert_eq!(webm.status(), 200);
    let first = support::first_frame(&webm.bytes().await.unwrap(), "webm");
    for (what, combed) in [("/thumb", combing(&thumb.rgb)), ("/webm", combing(&first))] {
        assert!(
            combed < woven * 0.6,
            "{what}: combing {combed:.1}, the woven frame's {woven:.1}"
        );
    }
    service.assert_nothing_left().await;
}

/// Untagged H.264 has no colour matrix: GStreamer, like browsers, takes BT.709 for HD and
/// BT.601 for SD, where ffmpeg (swscale) takes BT.601 always. Every endpoint follows the first
/// rule, so a picture looks as a page shows the video (measured in Chromium: untagged 720p pure
/// green made by ffmpeg shows as 0,216,2; tagged BT.709, 0,255,10; untagged 640x360, 0,255,2).
#[tokio::test]
async fn untagged_colour_is_read_as_browsers_read_it() {
    let service = Service::start();
    let green = "color=c=0x00ff00:d=1";
    let make = |name: &str, size: &str, tags: &[&str]| {
        let graph = format!("{green}:s={size}");
        let mut args = vec![
            "-f", "lavfi", "-i", &graph, "-c:v", "libx264", "-pix_fmt", "yuv420p",
        ];
        args.extend(tags);
        ffmpeg::made(name, &args)
    };
    let bt709 = [
        "-vf",
        "scale=out_color_matrix=bt709",
        "-colorspace",
        "bt709",
        "-color_primaries",
        "bt709",
        "-color_trc",
        "bt709",
    ];
    let cases = [
        (make("ff-green-hd-untagged.mp4", "1280x720", &[]), 216),
        (make("ff-green-hd-bt709.mp4", "1280x720", &bt709), 255),
        (make("ff-green-sd-untagged.mp4", "640x360", &[]), 255),
    ];
    for (path, want) in cases {
        let url = path_url(&path);
        let thumb = service
            .get("/thumb.png", &[("url", &url), ("time", "0")])
            .await;
        assert_eq!(thumb.status(), 200);
        let thumb = Image::decode(&thumb.bytes().await.unwrap(), image::ImageFormat::Png);
        let webm = service.get("/webm", &[("url", &url)]).await;
        assert_eq!(webm.status(), 200);
        let frame = support::first_frame(&webm.bytes().await.unwrap(), "webm");
        let streamed = frame.get_pixel(frame.width() / 2, frame.height() / 2).0;
        for (what, [r, g, b]) in [("/thumb", thumb.centre()), ("/webm", streamed)] {
            assert!(
                g.abs_diff(want) <= 12 && r <= 24 && b <= 24,
                "{what} of {}: {:?}, a browser shows green at {want}",
                path.display(),
                [r, g, b]
            );
        }
    }
    service.assert_nothing_left().await;
}
