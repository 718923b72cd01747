//! Sources as other tools write them: a thumbnail's `time` counts from the media's start, as
//! ffmpeg and every player count, whatever timestamp the container's first frame carries (an
//! MPEG-TS written by ffmpeg starts at about 1.4 s).

mod support;

use support::media::nearest;
use support::{ffmpeg, origin_url, Image, Service};

#[tokio::test]
async fn a_thumbnail_of_a_transport_stream_counts_from_its_start() {
    let service = Service::start();
    let ts = ffmpeg::offset_ts();
    let url = origin_url(ts.file_name().unwrap().to_str().unwrap());
    for second in [0usize, 2, 4] {
        let time = format!("{second}.5");
        let by_ffmpeg = ffmpeg::frame_at(&ts, second as f64 + 0.5);
        let centre = by_ffmpeg
            .get_pixel(by_ffmpeg.width() / 2, by_ffmpeg.height() / 2)
            .0;
        assert_eq!(nearest(centre).0, second, "ffmpeg's frame at {time}");
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
                nearest(image.centre()).0,
                second,
                "/thumb time={time} accurate={accurate}"
            );
        }
    }
    service.assert_nothing_left().await;
}
