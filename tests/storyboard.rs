//! Storyboards: the sprite sheet's tiles are the frames at their times (checked by colour), and
//! the WebVTT and JSON layouts point back at that very sheet with fragments inside it.

mod support;

use image::ImageFormat;
use support::media::{palette_index, Media};
use support::{media_url, Image, Service};

async fn get(service: &Service, path: &str, params: &[(&str, &str)]) -> (String, Vec<u8>) {
    // 640x360, exactly 10 s (audio would pad the container a little), a keyframe every second.
    let url = media_url(Media {
        audio: None,
        ..Media::mp4()
    });
    let mut query = vec![("url", url.as_str())];
    query.extend_from_slice(params);
    let response = service.get(path, &query).await;
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let body = response.bytes().await.unwrap().to_vec();
    assert_eq!(
        status,
        200,
        "{path} {params:?}: {}",
        String::from_utf8_lossy(&body)
    );
    (content_type, body)
}

/// The palette colour at the centre of each tile, row by row.
fn tile_colours(sheet: &Image, tile: (u32, u32), count: u32, columns: u32) -> Vec<usize> {
    (0..count)
        .map(|i| {
            let (x, y) = (
                (i % columns) * tile.0 + tile.0 / 2,
                (i / columns) * tile.1 + tile.1 / 2,
            );
            palette_index(sheet.rgb.get_pixel(x, y).0)
        })
        .collect()
}

#[tokio::test]
async fn the_sheet_holds_the_frames_at_their_times() {
    let service = Service::start();
    let (content_type, body) = get(&service, "/storyboard.jpg", &[("interval", "2")]).await;
    assert_eq!(content_type, "image/jpeg");
    let sheet = Image::decode(&body, ImageFormat::Jpeg);
    assert_eq!(
        (sheet.width, sheet.height),
        (800, 90),
        "5 tiles of 160x90 in a row"
    );
    assert_eq!(tile_colours(&sheet, (160, 90), 5, 5), [0, 2, 4, 6, 8]);

    let (_, body) = get(
        &service,
        "/storyboard",
        &[("interval", "2"), ("columns", "2"), ("tile_width", "64")],
    )
    .await;
    let sheet = Image::decode(&body, ImageFormat::Jpeg);
    assert_eq!(
        (sheet.width, sheet.height),
        (128, 108),
        "rows of 2 tiles of 64x36"
    );
    assert_eq!(tile_colours(&sheet, (64, 36), 5, 2), [0, 2, 4, 6, 8]);

    // More tiles than allowed: spread evenly over the video instead.
    let (_, body) = get(
        &service,
        "/storyboard.webp",
        &[("interval", "1"), ("max_tiles", "4")],
    )
    .await;
    assert!(body.starts_with(b"RIFF"));
    let sheet = Image::decode(&body, ImageFormat::WebP);
    assert_eq!((sheet.width, sheet.height), (640, 90));
    assert_eq!(
        tile_colours(&sheet, (160, 90), 4, 4),
        [0, 2, 5, 7],
        "frames at 0, 2.5, 5, 7.5 s"
    );
}

#[tokio::test]
async fn vtt_and_json_point_into_the_sheet() {
    let service = Service::start();
    let (content_type, body) = get(&service, "/storyboard.vtt", &[("interval", "3")]).await;
    assert_eq!(content_type, "text/vtt");
    let vtt = String::from_utf8(body).unwrap();
    assert!(vtt.starts_with("WEBVTT\n\n"), "{vtt}");
    let cues: Vec<(&str, &str)> = vtt
        .split("\n\n")
        .skip(1)
        .map(|cue| cue.trim().split_once('\n').unwrap())
        .collect();
    let times: Vec<&str> = cues.iter().map(|c| c.0).collect();
    assert_eq!(
        times,
        [
            "00:00:00.000 --> 00:00:03.000",
            "00:00:03.000 --> 00:00:06.000",
            "00:00:06.000 --> 00:00:09.000",
            "00:00:09.000 --> 00:00:10.000"
        ]
    );
    // Every cue names the same sheet, absolute, with this request's parameters.
    let (sprite, _) = cues[0].1.split_once('#').unwrap();
    assert!(
        sprite.starts_with(&format!("http://{}/storyboard.jpg?url=", service.addr)),
        "{sprite}"
    );
    assert!(
        sprite.contains("interval=3") && !sprite.contains("format"),
        "{sprite}"
    );
    let sheet = reqwest::get(sprite).await.unwrap();
    assert_eq!(sheet.headers()["content-type"], "image/jpeg");
    let sheet = Image::decode(&sheet.bytes().await.unwrap(), ImageFormat::Jpeg);
    for (i, (_, target)) in cues.iter().enumerate() {
        let (url, fragment) = target.split_once("#xywh=").unwrap();
        assert_eq!(url, sprite);
        let xywh: Vec<u32> = fragment.split(',').map(|n| n.parse().unwrap()).collect();
        let [x, y, w, h] = xywh[..] else {
            panic!("{fragment}")
        };
        assert!(
            x + w <= sheet.width && y + h <= sheet.height,
            "cue {i} {fragment} outside {}x{}",
            sheet.width,
            sheet.height
        );
        assert_eq!(
            palette_index(sheet.rgb.get_pixel(x + w / 2, y + h / 2).0),
            3 * i,
            "cue {i}"
        );
    }

    let (content_type, body) = get(&service, "/storyboard.json", &[("interval", "3")]).await;
    assert_eq!(content_type, "application/json");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["url"], sprite);
    assert_eq!(
        (json["width"].as_u64(), json["height"].as_u64()),
        (Some(640), Some(90))
    );
    let tiles = json["tiles"].as_array().unwrap();
    assert_eq!(tiles.len(), 4);
    for (tile, (_, target)) in tiles.iter().zip(&cues) {
        let xywh = format!(
            "#xywh={},{},{},{}",
            tile["x"], tile["y"], tile["width"], tile["height"]
        );
        assert!(target.ends_with(&xywh), "{target} vs {xywh}");
    }
    assert_eq!(
        (tiles[3]["start"].as_f64(), tiles[3]["end"].as_f64()),
        (Some(9.0), Some(10.0))
    );
}

#[tokio::test]
async fn bad_values_name_the_parameter() {
    let service = Service::start();
    let url = media_url(Media::mp4());
    let cases = [
        ("interval", "0"),
        ("max_tiles", "0"),
        ("columns", "51"),
        ("tile_width", "8"),
        ("format", "gif"),
    ];
    service.expect_invalid("/storyboard", &url, &cases).await;
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn quality_sets_the_sheets_size() {
    let service = Service::start();
    let mut sizes = Vec::new();
    for quality in ["5", "100"] {
        let (_, body) = get(
            &service,
            "/storyboard.jpg",
            &[("interval", "2"), ("quality", quality)],
        )
        .await;
        sizes.push(body.len());
    }
    assert!(sizes[0] < sizes[1], "{sizes:?}");
}

#[tokio::test]
async fn sampling_seeks_instead_of_reading_the_whole_video() {
    let service = Service::start();
    // Incompressible frames, a keyframe every second: 60 s is a large file, and three tiles
    // are three seeks into it.
    let long = Media::noise_minute();
    let size = std::fs::metadata(long.path()).unwrap().len() as f64;
    let fetched = || service.metric("pythumbio_origin_bytes_total");
    let before = fetched().await;
    let response = service
        .get(
            "/storyboard.jpg",
            &[("url", &media_url(long)), ("interval", "20")],
        )
        .await;
    assert_eq!(response.status(), 200);
    let sheet = Image::decode(&response.bytes().await.unwrap(), ImageFormat::Jpeg);
    assert_eq!((sheet.width, sheet.height), (480, 90), "3 tiles");
    let read = fetched().await - before;
    assert!(
        read < 0.5 * size,
        "read {read} bytes of a {size}-byte file for 3 tiles"
    );
}

#[tokio::test]
async fn each_host_gets_a_vtt_that_points_back_at_it() {
    let service = Service::start();
    let url = media_url(Media {
        audio: None,
        ..Media::mp4()
    });
    let client = reqwest::Client::new();
    let mut tags = Vec::new();
    for host in ["thumbs.example.com", "cdn.example.org"] {
        let response = client
            .get(service.url("/storyboard.vtt", &[("url", &url)]))
            .header("host", host)
            .send()
            .await
            .unwrap();
        tags.push(response.headers()["etag"].clone());
        let vtt = response.text().await.unwrap();
        assert!(
            vtt.contains(&format!("http://{host}/storyboard.jpg?")),
            "{host}: {vtt}"
        );
    }
    assert_ne!(tags[0], tags[1], "different content, different tags");
}

/// A sheet is one picture in memory: one that would be too wide, too tall or too large is
/// refused before anything is sampled or allocated, naming the limit, for the layouts too.
#[tokio::test]
async fn sheets_beyond_the_limits_are_refused_naming_the_limit() {
    let service = Service::start();
    let url = media_url(Media {
        audio: None,
        ..Media::mp4()
    });
    // 100 tiles of 640x360, all on one sheet.
    let many = [
        ("interval", "0.1"),
        ("max_tiles", "400"),
        ("tile_width", "640"),
        ("rows", "100"),
    ];
    for (columns, limit) in [
        ("1", "PYTHUMBIO_MAX_SHEET_HEIGHT"),
        ("50", "PYTHUMBIO_MAX_SHEET_WIDTH"),
        ("20", "PYTHUMBIO_MAX_SHEET_MB"),
    ] {
        for path in [
            "/storyboard.jpg",
            "/storyboard.webp",
            "/storyboard.vtt",
            "/storyboard.json",
        ] {
            let mut query = vec![("url", url.as_str()), ("columns", columns)];
            query.extend_from_slice(&many);
            let json = service
                .expect_error(path, &query, 422, "output_too_large")
                .await;
            assert_eq!(json["limit"], limit, "{path} columns={columns}: {json}");
        }
    }
    // The same tiles fit once the limits allow them.
    let roomy = Service::with_env(&[("PYTHUMBIO_MAX_SHEET_MB", "80")]);
    let mut query = vec![("url", url.as_str()), ("columns", "20")];
    query.extend_from_slice(&many);
    let response = roomy.get("/storyboard.json", &query).await;
    assert_eq!(response.status(), 200);
    let layout: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        (layout["width"].as_u64(), layout["height"].as_u64()),
        (Some(12800), Some(1800))
    );
    service.assert_nothing_left().await;
}

/// A tile keeps the width asked for, but a source far taller than wide does not make it
/// thousands of pixels tall: its height is bounded, the picture letterboxed inside.
#[tokio::test]
async fn a_very_tall_source_gives_bounded_tiles() {
    let service = Service::start();
    let tall = support::ffmpeg::made(
        "ff-tall-16x1024.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=0x28c828:s=16x1024:r=10:d=2",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    let url = support::path_url(&tall);
    let response = service
        .get("/storyboard.json", &[("url", &url), ("tile_width", "640")])
        .await;
    assert_eq!(response.status(), 200);
    let layout: serde_json::Value = response.json().await.unwrap();
    assert_eq!(layout["tile_width"], 640, "{layout}");
    assert_eq!(layout["tile_height"], 2560, "{layout}");
    let (status, _, body) = service.fetch("/storyboard.jpg", &url).await;
    assert_eq!(status, 200);
    let sheet = Image::decode(&body, ImageFormat::Jpeg);
    assert_eq!(
        palette_index(sheet.centre()),
        1,
        "the green picture is in the tile"
    );
}

/// The layout is a document others read: a Host that is not a host[:port] is never copied into
/// it, and a configured public URL replaces the Host altogether.
#[tokio::test]
async fn the_sheet_url_is_never_an_unchecked_host() {
    let service = Service::start();
    let url = media_url(Media {
        audio: None,
        ..Media::mp4()
    });
    let client = reqwest::Client::new();
    for host in [
        "evil.example\"><script>",
        "a b",
        "user@thumbs.example.com",
        "thumbs.example.com/path",
    ] {
        let response = client
            .get(service.url("/storyboard.vtt", &[("url", &url)]))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{host}");
        let body = response.text().await.unwrap();
        assert!(body.contains("bad_host") && !body.contains(host), "{body}");
    }
    let public = Service::with_env(&[("PYTHUMBIO_PUBLIC_URL", "https://cdn.example.com/thumbs/")]);
    let response = client
        .get(public.url("/storyboard.json", &[("url", &url)]))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    let layout: serde_json::Value = response.json().await.unwrap();
    let sheet = layout["url"].as_str().unwrap();
    assert!(
        sheet.starts_with("https://cdn.example.com/thumbs/storyboard.jpg?"),
        "{sheet}"
    );
}

/// Half an hour of video, cheaply: 64x36 at 1 fps, a keyframe every 10 s, and each 10 s one
/// palette colour (`PALETTE[(t / 10) % 10]`).
fn half_an_hour() -> std::path::PathBuf {
    let mut graph = String::new();
    for (i, [r, g, b]) in support::media::PALETTE.iter().enumerate() {
        graph += &format!("color=c=0x{r:02x}{g:02x}{b:02x}:s=64x36:r=1:d=10[c{i}];");
    }
    graph += "[c0][c1][c2][c3][c4][c5][c6][c7][c8][c9]concat=n=10:v=1:a=0,loop=loop=17:size=100";
    support::ffmpeg::made(
        "ff-half-hour-1fps.mp4",
        &[
            "-f", "lavfi", "-i", &graph, "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p",
        ],
    )
}

#[tokio::test]
async fn a_long_video_keeps_its_interval_over_several_sheets() {
    let service = Service::with_env(&[("RUST_LOG", "info,pythumbio::engine::storyboard=debug")]);
    let url = support::path_url(&half_an_hour());
    // 1800 s at a tile every 10 s: 180 tiles, 100 a sheet (10 x 10), so two sheets.
    let query = [("url", url.as_str()), ("tile_width", "32")];
    let layout: serde_json::Value = service
        .get("/storyboard.json", &query)
        .await
        .json()
        .await
        .unwrap();
    let sheets = layout["sheets"].as_array().unwrap();
    assert_eq!(sheets.len(), 2, "{}", layout["sheets"]);
    assert_eq!(
        (sheets[0]["width"].as_u64(), sheets[0]["height"].as_u64()),
        (Some(320), Some(180))
    );
    assert_eq!(
        (sheets[1]["width"].as_u64(), sheets[1]["height"].as_u64()),
        (Some(320), Some(144))
    );
    assert_eq!(layout["tiles"].as_array().unwrap().len(), 180);

    let response = service.get("/storyboard.vtt", &query).await;
    let vtt = response.text().await.unwrap();
    let cues: Vec<(&str, &str)> = vtt
        .split("\n\n")
        .skip(1)
        .map(|cue| cue.trim().split_once('\n').unwrap())
        .collect();
    assert_eq!(cues.len(), 180);
    // Each sheet is fetched once, at the URL its cues name, and every cue's fragment shows the
    // colour of its time.
    let mut fetched: Vec<(String, Image)> = Vec::new();
    for (i, (times, target)) in cues.iter().enumerate() {
        let start = 10 * i;
        assert!(
            times.starts_with(&format!("00:{:02}:{:02}.000 -->", start / 60, start % 60)),
            "{times}"
        );
        let (sheet_url, fragment) = target.split_once("#xywh=").unwrap();
        assert_eq!(
            sheet_url.contains("sheet=1"),
            i >= 100,
            "cue {i}: {sheet_url}"
        );
        if !fetched.iter().any(|(u, _)| u == sheet_url) {
            let response = reqwest::get(sheet_url).await.unwrap();
            assert_eq!(response.status(), 200, "{sheet_url}");
            let image = Image::decode(&response.bytes().await.unwrap(), ImageFormat::Jpeg);
            fetched.push((sheet_url.to_string(), image));
        }
        let sheet = &fetched.iter().find(|(u, _)| u == sheet_url).unwrap().1;
        let xywh: Vec<u32> = fragment.split(',').map(|n| n.parse().unwrap()).collect();
        let [x, y, w, h] = xywh[..] else {
            panic!("{fragment}")
        };
        assert!(
            x + w <= sheet.width && y + h <= sheet.height,
            "cue {i} {fragment}"
        );
        assert_eq!(
            palette_index(sheet.rgb.get_pixel(x + w / 2, y + h / 2).0),
            i % 10,
            "cue {i}"
        );
    }
    assert_eq!(fetched.len(), 2);
    // Each sheet sampled its own tiles only: 100 and 80 of the 180.
    let log = service.log_text();
    let sampled: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("sampled the tiles of one sheet"))
        .collect();
    assert_eq!(sampled.len(), 2, "{sampled:?}");
    assert!(
        sampled
            .iter()
            .any(|l| l.contains("sheet=0 tiles=100 of=180")),
        "{sampled:?}"
    );
    assert!(
        sampled
            .iter()
            .any(|l| l.contains("sheet=1 tiles=80 of=180")),
        "{sampled:?}"
    );
    // Past the last sheet: 404, naming how many there are.
    let json = service
        .expect_error(
            "/storyboard.jpg",
            &[("url", url.as_str()), ("tile_width", "32"), ("sheet", "2")],
            404,
            "no_such_sheet",
        )
        .await;
    assert_eq!(json["sheets"], 2, "{json}");
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn dpr_2_doubles_the_tiles_on_the_same_grid() {
    let service = Service::start();
    let (_, one) = get(&service, "/storyboard.json", &[("interval", "2")]).await;
    let (_, two) = get(
        &service,
        "/storyboard.json",
        &[("interval", "2"), ("dpr", "2")],
    )
    .await;
    let (one, two): (serde_json::Value, serde_json::Value) = (
        serde_json::from_slice(&one).unwrap(),
        serde_json::from_slice(&two).unwrap(),
    );
    assert_eq!(
        (two["columns"].clone(), two["rows"].clone()),
        (one["columns"].clone(), one["rows"].clone())
    );
    for key in ["tile_width", "tile_height", "width", "height"] {
        assert_eq!(
            two[key].as_u64().unwrap(),
            2 * one[key].as_u64().unwrap(),
            "{key}"
        );
    }
    for (a, b) in one["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .zip(two["tiles"].as_array().unwrap())
    {
        assert_eq!(b["start"], a["start"]);
        assert_eq!(b["x"].as_u64().unwrap(), 2 * a["x"].as_u64().unwrap());
    }
    // The sheet is that size, and its tiles are the frames at their times.
    let (_, body) = get(
        &service,
        "/storyboard.jpg",
        &[("interval", "2"), ("dpr", "2")],
    )
    .await;
    let sheet = Image::decode(&body, ImageFormat::Jpeg);
    assert_eq!((sheet.width, sheet.height), (1600, 180));
    assert_eq!(tile_colours(&sheet, (320, 180), 5, 5), [0, 2, 4, 6, 8]);
}
