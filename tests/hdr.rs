//! HDR sources look right: a picture with known SDR colours, encoded by ffmpeg to 10-bit HEVC
//! in PQ and in HLG (BT.2020), comes back from every picture endpoint within a stated tolerance of
//! those colours, and visibly unlike the same pipelines without the tone mapper. SDR sources pass
//! through untouched, to the byte.

mod support;

use support::media::{nearest, PALETTE};
use support::{ffmpeg, path_url, Image, Service};

/// The largest channel difference from the SDR original that counts as "the same colour": the
/// roll-off leaves headroom for highlights, so SDR white comes back at about 94 %.
const TONE_MAPPED: u8 = 24;

/// Six seconds of the palette (second N shows `PALETTE[N]`), as SDR BT.709 encoded to HDR with
/// SDR white at HDR reference white (203 nits, BT.2408), in 10-bit HEVC.
fn hdr(name: &str, transfer: &str, x265: &str) -> std::path::PathBuf {
    let graph = ffmpeg::palette_graph(6, "320x180");
    let scale = format!(
        "format=gbrp,zscale=t={transfer}:p=bt2020:m=bt2020nc:tin=bt709:pin=bt709:npl=203:r=tv,format=yuv420p10le"
    );
    let params = format!("log-level=error:colorprim=bt2020:colormatrix=bt2020nc:transfer={x265}");
    ffmpeg::made(
        name,
        &[
            "-f",
            "lavfi",
            "-i",
            &graph,
            "-vf",
            &scale,
            "-c:v",
            "libx265",
            "-x265-params",
            &params,
            "-tag:v",
            "hvc1",
            "-color_primaries",
            "bt2020",
            "-color_trc",
            transfer,
            "-colorspace",
            "bt2020nc",
        ],
    )
}

fn pq() -> std::path::PathBuf {
    hdr("ff-hdr-pq.mp4", "smpte2084", "smpte2084")
}

fn hlg() -> std::path::PathBuf {
    hdr("ff-hdr-hlg.mp4", "arib-std-b67", "arib-std-b67")
}

/// The largest channel difference between two colours.
fn off(a: [u8; 3], b: [u8; 3]) -> u8 {
    (0..3).map(|c| a[c].abs_diff(b[c])).max().unwrap()
}

/// The thumbnail's centre at second `second`.
async fn centre(service: &Service, url: &str, second: usize) -> [u8; 3] {
    let time = format!("{second}.5");
    let response = service
        .get("/thumb.png", &[("url", url), ("time", &time)])
        .await;
    assert_eq!(response.status(), 200);
    Image::decode(&response.bytes().await.unwrap(), image::ImageFormat::Png).centre()
}

/// The built-in thumbnail file with the tone mapper taken out.
fn without_tone_mapping() -> (Service, tempfile::TempDir) {
    let thumb =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/pipelines/thumb.toml"))
            .unwrap();
    // The file's own parts, with `sdr` among them.
    let thumb = thumb.replacen("[parts]\n", "[parts]\nsdr = \"identity\"\n", 1);
    assert!(
        thumb.contains("sdr = \"identity\""),
        "thumb.toml has a [parts] table"
    );
    support::with_pipelines(&[("thumb.toml", &thumb)])
}

#[tokio::test]
async fn pq_and_hlg_sources_come_back_in_their_sdr_colours() {
    let service = Service::start();
    let (plain, _dir) = without_tone_mapping();
    for (what, path) in [("PQ", pq()), ("HLG", hlg())] {
        let url = path_url(&path);
        let mut washed_out = 0;
        for (second, want) in PALETTE.iter().enumerate().take(6) {
            let got = centre(&service, &url, second).await;
            assert!(
                off(got, *want) <= TONE_MAPPED,
                "{what} second {second}: {got:?}, the SDR original is {want:?}"
            );
            let untouched = centre(&plain, &url, second).await;
            if off(untouched, *want) > 40 {
                washed_out += 1;
            }
        }
        // Without the tone mapper the same pixels are far off (grey, washed out) in most seconds.
        assert!(
            washed_out >= 4,
            "{what}: only {washed_out} of 6 seconds differ untone-mapped"
        );
    }
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn every_picture_endpoint_maps_hdr() {
    let service = Service::start();
    let url = path_url(&pq());
    // A storyboard tile and an animated preview's frame: second 0's red.
    let response = service.get("/storyboard.jpg", &[("url", &url)]).await;
    assert_eq!(response.status(), 200);
    let sheet = Image::decode(&response.bytes().await.unwrap(), image::ImageFormat::Jpeg);
    let tile = sheet.rgb.get_pixel(80, 45).0;
    assert!(
        off(tile, PALETTE[0]) <= TONE_MAPPED,
        "storyboard tile {tile:?}"
    );
    let webm = service
        .get("/webm", &[("url", &url), ("start", "1"), ("duration", "1")])
        .await;
    assert_eq!(webm.status(), 200);
    let frame = support::first_frame(&webm.bytes().await.unwrap(), "webm");
    let rgb = frame.get_pixel(frame.width() / 2, frame.height() / 2).0;
    assert!(
        off(rgb, PALETTE[1]) <= TONE_MAPPED + 8,
        "/webm frame {rgb:?}"
    );
    let preview = service
        .get("/preview", &[("url", &url), ("interval", "2")])
        .await;
    assert_eq!(preview.status(), 200);
    let first = support::first_frame(&preview.bytes().await.unwrap(), "webm");
    let rgb = first.get_pixel(first.width() / 2, first.height() / 2).0;
    assert_eq!(nearest(rgb).0, 0, "/preview frame {rgb:?}");
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn sdr_passes_through_to_the_byte() {
    let service = Service::start();
    let (plain, _dir) = without_tone_mapping();
    let url = support::media_url(support::media::Media::mp4());
    for query in [vec![("time", "3")], vec![("time", "7"), ("width", "200")]] {
        let mut full = vec![("url", url.as_str())];
        full.extend(query.iter().copied());
        let a = service
            .get("/thumb.png", &full)
            .await
            .bytes()
            .await
            .unwrap();
        let b = plain.get("/thumb.png", &full).await.bytes().await.unwrap();
        assert!(a.starts_with(b"\x89PNG"));
        assert_eq!(a, b, "{query:?}");
    }
}

#[tokio::test]
async fn meta_names_the_colours_as_ffprobe_does() {
    let service = Service::start();
    for path in [pq(), hlg()] {
        let meta: serde_json::Value = service
            .get("/meta", &[("url", &path_url(&path))])
            .await
            .json()
            .await
            .unwrap();
        let probe = support::ffmpeg::probe(&path);
        for field in [
            "color_range",
            "color_space",
            "color_transfer",
            "color_primaries",
        ] {
            assert_eq!(
                meta["streams"][0][field],
                probe["streams"][0][field],
                "{field} of {}",
                path.display()
            );
            assert!(meta["streams"][0][field].is_string(), "{field}");
        }
    }
}
