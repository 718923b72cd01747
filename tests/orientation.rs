//! Orientation by pixels: striped media (a different colour in the left, middle and right
//! thirds) tagged as turned 90, 180 or 270 degrees, as phones write it. Every endpoint that makes
//! pictures shows them the way `ffmpeg -ss` and players do, and `rotate` turns the picture
//! clockwise on top of that: where the left stripe ends up says which way it went.

mod support;

use support::media::{palette_index, stripe_colour, Media};
use support::{ffmpeg, first_frame, media_url, Image, Service};

/// Which edge of the picture the source's left stripe is on.
fn left_stripe_at(image: &image::RgbImage, second: usize) -> &'static str {
    let left = stripe_colour(true, second, 0, 3).map(i32::from);
    let (w, h) = (image.width(), image.height());
    let edges = [
        ("left", (w / 10, h / 2)),
        ("right", (w - 1 - w / 10, h / 2)),
        ("top", (w / 2, h / 10)),
        ("bottom", (w / 2, h - 1 - h / 10)),
    ];
    let distance = |(x, y): (u32, u32)| {
        let p = image.get_pixel(x, y).0.map(i32::from);
        (0..3).map(|i| (p[i] - left[i]).abs()).sum::<i32>()
    };
    let (edge, at) = edges
        .into_iter()
        .min_by_key(|(_, at)| distance(*at))
        .unwrap();
    assert!(
        distance(at) < 90,
        "the left stripe's colour is nowhere on an edge"
    );
    edge
}

fn turned(edge: &'static str, clockwise: u32) -> &'static str {
    let order = ["left", "top", "right", "bottom"];
    let at = order.iter().position(|e| *e == edge).unwrap();
    order[(at + clockwise as usize / 90) % 4]
}

#[tokio::test]
async fn every_endpoint_shows_the_picture_as_players_do() {
    let service = Service::start();
    for tag in [0, 90, 180, 270] {
        let media = Media {
            stripes: true,
            rotation: tag,
            audio: None,
            ..Media::mp4()
        };
        let url = media_url(media);
        // What players show, by ffmpeg: the tag turns the picture clockwise.
        let upright = left_stripe_at(&ffmpeg::frame_at(&media.path(), 0.5), 0);
        assert_eq!(upright, turned("left", tag), "ffmpeg reads the {tag} tag");
        let thumb = |extra: &'static [(&'static str, &'static str)]| {
            let (service, url) = (&service, &url);
            async move {
                let mut query = vec![("url", url.as_str()), ("time", "0.5")];
                query.extend_from_slice(extra);
                let response = service.get("/thumb.png", &query).await;
                assert_eq!(response.status(), 200);
                Image::decode(&response.bytes().await.unwrap(), image::ImageFormat::Png).rgb
            }
        };
        assert_eq!(
            left_stripe_at(&thumb(&[]).await, 0),
            upright,
            "/thumb, tag {tag}"
        );
        let turns: [(&'static [(&str, &str)], u32); 3] = [
            (&[("rotate", "90")], 90),
            (&[("rotate", "180")], 180),
            (&[("rotate", "270")], 270),
        ];
        for (rotate, clockwise) in turns {
            assert_eq!(
                left_stripe_at(&thumb(rotate).await, 0),
                turned(upright, clockwise),
                "/thumb, tag {tag}, rotate {clockwise}"
            );
        }
        let (status, _, body) = service.fetch("/storyboard.jpg", &url).await;
        assert_eq!(status, 200);
        let sheet = Image::decode(&body, image::ImageFormat::Jpeg);
        assert_eq!(
            left_stripe_at(&sheet.rgb, 0),
            upright,
            "/storyboard, tag {tag}"
        );
        for (path, ext) in [
            ("/webm", "webm"),
            ("/webm/vp9", "webm"),
            ("/webm/av1", "webm"),
            ("/preview", "webm"),
            ("/preview.webp", "webp"),
        ] {
            let response = service.get(path, &[("url", &url), ("duration", "2")]).await;
            assert_eq!(response.status(), 200, "{path}");
            let body = response.bytes().await.unwrap();
            let frame = match ext {
                // GStreamer reads no animated WebP: the image crate does.
                "webp" => {
                    use image::AnimationDecoder;
                    let decoder =
                        image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(body.to_vec()))
                            .unwrap();
                    let first = decoder.into_frames().next().unwrap().unwrap();
                    image::DynamicImage::ImageRgba8(first.into_buffer()).to_rgb8()
                }
                _ => first_frame(&body, ext),
            };
            assert_eq!(left_stripe_at(&frame, 0), upright, "{path}, tag {tag}");
            // Portrait when the tag says so.
            let portrait = tag % 180 == 90;
            assert_eq!(
                frame.height() > frame.width(),
                portrait,
                "{path}, tag {tag}"
            );
        }
        // The middle stripe is in the middle, whatever the turn.
        let centre = thumb(&[]).await;
        let middle = centre.get_pixel(centre.width() / 2, centre.height() / 2).0;
        assert_eq!(palette_index(middle), 0, "tag {tag}");
    }
}
