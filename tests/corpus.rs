//! The bad-input corpus: broken, hostile and odd sources and queries, each answered with its
//! status and JSON error, and each leaving nothing behind (no live pipeline, the process's open
//! file descriptors back to where they were).

mod support;

use std::time::{Duration, Instant};
use support::media::{media_dir, Media};
use support::{origin_url, Service};

/// Writes a corpus file into the origin's directory; returns its origin url.
fn corpus_file(name: &str, bytes: &[u8]) -> String {
    std::fs::write(media_dir().join(name), bytes).unwrap();
    origin_url(name)
}

/// Offsets of an MP4's top-level boxes: (type, start, size).
fn boxes(bytes: &[u8]) -> Vec<(String, usize, usize)> {
    let mut out = vec![];
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind = String::from_utf8_lossy(&bytes[at + 4..at + 8]).to_string();
        if size < 8 {
            break;
        }
        out.push((kind, at, size));
        at += size;
    }
    out
}

fn file_name(media: Media) -> String {
    media
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

/// A PNG header declaring a 60000x60000 picture, and not much else.
fn absurd_png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&60000u32.to_be_bytes());
    ihdr.extend_from_slice(&60000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    let idat = b"IDAT\x78\x9c\x03\x00\x00\x00\x00\x01";
    png.extend_from_slice(&((idat.len() - 4) as u32).to_be_bytes());
    png.extend_from_slice(idat);
    png.extend_from_slice(&crc32(idat).to_be_bytes());
    png.extend_from_slice(&0u32.to_be_bytes());
    png.extend_from_slice(b"IEND");
    png.extend_from_slice(&crc32(b"IEND").to_be_bytes());
    png
}

/// A real 8-bit grey PNG of `side` x `side` black pixels: a few MB that inflate to `side`²
/// bytes, in one deflate block of the longest back-references (fixed Huffman codes).
fn zero_png(side: u32) -> Vec<u8> {
    let raw = (side as u64 + 1) * side as u64; // a filter byte before each row
    let mut bits = BitWriter::default();
    bits.put(0b1, 1); // the last block
    bits.put(0b01, 2); // fixed Huffman codes
    bits.code(0b0011_0000, 8); // literal 0
    let mut left = raw - 1;
    while left >= 258 {
        bits.code(0b1100_0101, 8); // length 258 (code 285)
        bits.put(0, 5); // distance 1 (code 0)
        left -= 258;
    }
    for _ in 0..left {
        bits.code(0b0011_0000, 8);
    }
    bits.code(0, 7); // end of block (256)
    let mut zlib = vec![0x78, 0x01];
    zlib.extend_from_slice(&bits.finish());
    let adler = ((raw % 65521) as u32) << 16 | 1;
    zlib.extend_from_slice(&adler.to_be_bytes());
    let chunk = |png: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = side.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib);
    chunk(&mut png, b"IEND", &[]);
    png
}

/// Bits for a deflate stream: values least significant bit first, Huffman codes most
/// significant bit first.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    used: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, count: u32) {
        for i in 0..count {
            if self.used.is_multiple_of(8) {
                self.bytes.push(0);
            }
            let bit = (value >> i) & 1;
            *self.bytes.last_mut().unwrap() |= (bit as u8) << (self.used % 8);
            self.used += 1;
        }
    }

    fn code(&mut self, code: u32, count: u32) {
        for i in (0..count).rev() {
            self.put((code >> i) & 1, 1);
        }
    }

    fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

/// A picture whose decoder would work for many seconds (20000x20000 black pixels, 400 MB
/// inflated) is refused from its header, and its pipeline ends with its response.
#[tokio::test]
async fn a_decompression_bomb_is_refused_and_leaves_at_once() {
    let service = Service::start();
    let bomb = corpus_file("corpus-bomb-20000.png", &zero_png(20000));
    for path in ["/thumb", "/meta", "/storyboard.json"] {
        let started = std::time::Instant::now();
        let json = service
            .expect_error(path, &[("url", &bomb)], 422, "source_too_large")
            .await;
        assert!(json["error"].as_str().unwrap().contains("20000"), "{json}");
        assert!(
            service
                .wait_idle(std::time::Duration::from_secs(2))
                .await
                .is_some(),
            "{path}: a pipeline is still live {:?} after the request began",
            started.elapsed()
        );
    }
    // A watermark is decoded under the same limits.
    let json = service
        .expect_error(
            "/thumb",
            &[
                ("url", &origin_url(&file_name(Media::mp4()))),
                ("watermark", &bomb),
            ],
            422,
            "source_too_large",
        )
        .await;
    assert!(json["error"].as_str().unwrap().contains("20000"), "{json}");
    service.assert_nothing_left().await;
}

/// An MP4 whose video track says 65535x65535 (track header and sample entry) and whose samples
/// are an ordinary small video's: refused from what the demuxer states, not left to a decoder
/// that turns it down as "missing a plug-in".
#[tokio::test]
async fn an_mp4_that_claims_a_huge_picture_is_too_large() {
    let service = Service::start();
    let mut bytes = std::fs::read(
        Media {
            audio: None,
            ..Media::mp4()
        }
        .path(),
    )
    .unwrap();
    let find = |bytes: &[u8], fourcc: &[u8]| bytes.windows(4).position(|w| w == fourcc).unwrap();
    let entry = find(&bytes, b"avc1");
    for at in [entry + 28, entry + 30] {
        bytes[at..at + 2].copy_from_slice(&65535u16.to_be_bytes());
    }
    let tkhd = find(&bytes, b"tkhd");
    let end = tkhd - 4 + u32::from_be_bytes(bytes[tkhd - 4..tkhd].try_into().unwrap()) as usize;
    for at in [end - 8, end - 4] {
        bytes[at..at + 4].copy_from_slice(&(65535u32 << 16).to_be_bytes());
    }
    let url = corpus_file("corpus-claims-65535.mp4", &bytes);
    for path in ["/thumb", "/meta", "/webm"] {
        let json = service
            .expect_error(path, &[("url", &url)], 422, "source_too_large")
            .await;
        assert!(
            json["error"].as_str().unwrap().contains("65535"),
            "{path}: {json}"
        );
    }
    service.assert_nothing_left().await;
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// (case, endpoint, query, status, code)
type Case = (
    &'static str,
    &'static str,
    Vec<(&'static str, String)>,
    u16,
    &'static str,
);

/// Waits for the pipelines to be gone and the descriptors to come back to `baseline`.
/// The service's descriptor count once it has stopped changing (the same over 200 ms).
async fn settled_fds(service: &Service) -> usize {
    let started = Instant::now();
    let mut counts = vec![service.open_fds()];
    while counts.len() < 5
        || counts[counts.len() - 5..]
            .iter()
            .any(|c| *c != counts[counts.len() - 1])
    {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "descriptors never settle: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        counts.push(service.open_fds());
    }
    counts[counts.len() - 1]
}

async fn assert_nothing_left(service: &Service, baseline: usize, case: &str) {
    assert!(
        service.wait_idle(Duration::from_secs(3)).await.is_some(),
        "{case}: a pipeline is left"
    );
    let started = Instant::now();
    while service.open_fds() > baseline {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{case}: {} descriptors open, {baseline} before",
            service.open_fds()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn every_bad_input_gets_its_error_and_leaves_nothing() {
    let service = Service::with_env(&[
        // No idle connection is kept to the origin, so descriptors can be counted exactly.
        ("PYTHUMBIO_ORIGIN_KEEPALIVE", "0"),
        ("PYTHUMBIO_ORIGIN_READ_TIMEOUT", "1"),
        ("PYTHUMBIO_TIMEOUT", "5"),
        ("PYTHUMBIO_CACHE_MB", "0"),
    ]);
    let good_file = file_name(Media::mp4());
    let good = origin_url(&good_file);
    let whole = std::fs::read(media_dir().join(&good_file)).unwrap();
    let moov = boxes(&whole)
        .into_iter()
        .find(|(k, _, _)| k == "moov")
        .unwrap();
    let moov_end_file = file_name(Media {
        container: support::media::Container::Mp4 { faststart: false },
        ..Media::mp4()
    });
    let moov_end = std::fs::read(media_dir().join(&moov_end_file)).unwrap();
    let last = boxes(&moov_end);
    let (_, moov_at, _) = last.iter().find(|(k, _, _)| k == "moov").unwrap();
    let audio_only = origin_url(&file_name(Media {
        video: None,
        ..Media::mp4()
    }));
    let random: Vec<u8> = (0..65536u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();

    let empty = corpus_file("corpus-empty.mp4", b"");
    corpus_file("corpus-cut-moov.mp4", &whole[..moov.1 + moov.2 / 2]);
    corpus_file("corpus-no-moov.mp4", &moov_end[..*moov_at]);
    // From the origin that honours Range, so qtdemux pulls them, and fails while decodebin is
    // still plugging it.
    let no_moov = origin_url("corpus-no-moov.mp4");
    let cut_moov = origin_url("corpus-cut-moov.mp4");
    let html = corpus_file(
        "corpus-page.mp4",
        b"<!doctype html><html><head><title>Not here</title></head><body>404</body></html>",
    );
    let noise = corpus_file("corpus-random.mp4", &random);
    let mut png = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_pixel(100, 50, image::Rgb([200, 30, 30]))
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    let picture = corpus_file("corpus-picture.png", png.get_ref());
    let absurd = corpus_file("corpus-absurd.png", &absurd_png());
    let long_url = format!("http://example.com/{}", "a".repeat(10 * 1024));
    let redirect_loop = format!("{}?loop=1", origin_url("redirect"));
    let to_metadata = format!(
        "{}?to=http%3A%2F%2F169.254.169.254%2Flatest%2F",
        origin_url("redirect")
    );

    let mut cases: Vec<Case> = vec![
        (
            "empty file",
            "/thumb",
            vec![("url", empty.clone())],
            415,
            "unsupported_media",
        ),
        (
            "empty file, meta",
            "/meta",
            vec![("url", empty)],
            415,
            "unsupported_media",
        ),
        (
            "moov cut in half",
            "/thumb",
            vec![("url", cut_moov.clone())],
            422,
            "corrupt_media",
        ),
        (
            "moov cut, meta",
            "/meta",
            vec![("url", cut_moov.clone())],
            422,
            "corrupt_media",
        ),
        (
            "moov cut, webm",
            "/webm",
            vec![("url", cut_moov)],
            422,
            "corrupt_media",
        ),
        (
            "no moov at all",
            "/thumb",
            vec![("url", no_moov.clone())],
            422,
            "corrupt_media",
        ),
        (
            "no moov, webm",
            "/webm",
            vec![("url", no_moov.clone())],
            422,
            "corrupt_media",
        ),
        (
            "no moov, meta",
            "/meta",
            vec![("url", no_moov)],
            422,
            "corrupt_media",
        ),
        (
            "an HTML page as video/mp4",
            "/thumb",
            vec![("url", html.clone())],
            415,
            "unsupported_media",
        ),
        (
            "HTML, webm",
            "/webm",
            vec![("url", html)],
            415,
            "unsupported_media",
        ),
        (
            "random bytes",
            "/thumb",
            vec![("url", noise.clone())],
            415,
            "unsupported_media",
        ),
        (
            "random bytes, meta",
            "/meta",
            vec![("url", noise)],
            415,
            "unsupported_media",
        ),
        (
            "a PNG to webm",
            "/webm",
            vec![("url", picture.clone())],
            422,
            "no_usable_stream",
        ),
        (
            "a PNG to preview",
            "/preview",
            vec![("url", picture.clone())],
            422,
            "no_usable_stream",
        ),
        (
            "audio only to thumb",
            "/thumb",
            vec![("url", audio_only)],
            422,
            "no_usable_stream",
        ),
        // The parser states the size: refused before a decoder is made.
        (
            "absurd dimensions",
            "/thumb",
            vec![("url", absurd.clone())],
            422,
            "source_too_large",
        ),
        (
            "absurd dimensions, webm",
            "/webm",
            vec![("url", absurd.clone())],
            422,
            "source_too_large",
        ),
        (
            "absurd dimensions, meta",
            "/meta",
            vec![("url", absurd)],
            422,
            "source_too_large",
        ),
        (
            "origin 404",
            "/thumb",
            vec![("url", origin_url("status/404"))],
            502,
            "origin_error",
        ),
        (
            "origin 403",
            "/meta",
            vec![("url", origin_url("status/403"))],
            502,
            "origin_error",
        ),
        (
            "origin 500",
            "/webm",
            vec![("url", origin_url("status/500"))],
            502,
            "origin_error",
        ),
        (
            "origin closes mid-body",
            "/thumb",
            vec![
                ("url", origin_url(&format!("truncated/{good_file}"))),
                ("time", "9".into()),
            ],
            502,
            "origin_error",
        ),
        (
            "origin stalls",
            "/thumb",
            vec![("url", origin_url("stall/body"))],
            504,
            "timeout",
        ),
        (
            "Content-Length beyond the body",
            "/thumb",
            vec![
                ("url", origin_url(&format!("overlong/{good_file}"))),
                ("time", "9.9".into()),
            ],
            502,
            "origin_error",
        ),
        (
            "endless body, thumb",
            "/thumb",
            vec![("url", origin_url("endless"))],
            415,
            "unsupported_media",
        ),
        (
            "endless body, meta",
            "/meta",
            vec![("url", origin_url("endless"))],
            415,
            "unsupported_media",
        ),
        (
            "endless body, webm",
            "/webm",
            vec![("url", origin_url("endless"))],
            415,
            "unsupported_media",
        ),
        (
            "redirect loop",
            "/thumb",
            vec![("url", redirect_loop)],
            502,
            "origin_error",
        ),
        (
            "redirect to cloud metadata",
            "/meta",
            vec![("url", to_metadata)],
            403,
            "source_refused",
        ),
        (
            "url without scheme",
            "/thumb",
            vec![("url", "example.com/v.mp4".into())],
            400,
            "invalid_parameter",
        ),
        (
            "url with spaces",
            "/thumb",
            vec![("url", "http://example.com/a b.mp4".into())],
            400,
            "invalid_parameter",
        ),
        (
            "url of 10 KB",
            "/thumb",
            vec![("url", long_url)],
            400,
            "invalid_parameter",
        ),
        (
            "time NaN",
            "/thumb",
            vec![("url", good.clone()), ("time", "NaN".into())],
            400,
            "invalid_parameter",
        ),
        (
            "time negative",
            "/thumb",
            vec![("url", good.clone()), ("time", "-1".into())],
            400,
            "invalid_parameter",
        ),
        (
            "time infinite",
            "/thumb",
            vec![("url", good.clone()), ("time", "inf".into())],
            400,
            "invalid_parameter",
        ),
        (
            "width overflowing",
            "/thumb",
            vec![
                ("url", good.clone()),
                ("width", "99999999999999999999999".into()),
            ],
            400,
            "invalid_parameter",
        ),
        (
            "width zero",
            "/thumb",
            vec![("url", good.clone()), ("width", "0".into())],
            400,
            "invalid_parameter",
        ),
        (
            "width twice",
            "/thumb",
            vec![
                ("url", good.clone()),
                ("width", "100".into()),
                ("width", "200".into()),
            ],
            400,
            "repeated_parameter",
        ),
        (
            "url twice",
            "/meta",
            vec![("url", good.clone()), ("url", good.clone())],
            400,
            "repeated_parameter",
        ),
        (
            "bitrate out of range",
            "/webm",
            vec![("url", good.clone()), ("bitrate", "1000000".into())],
            400,
            "invalid_parameter",
        ),
        (
            "duration negative",
            "/webm",
            vec![("url", good.clone()), ("duration", "-5".into())],
            400,
            "invalid_parameter",
        ),
    ];

    // A cut or missing index fails while decodebin is still plugging the demuxer, which lost the
    // error now and then: those are asked a few more times.
    let cut: Vec<Case> = cases
        .iter()
        .filter(|c| c.0.contains("moov"))
        .cloned()
        .collect();
    for _ in 0..4 {
        cases.extend(cut.iter().cloned());
    }

    // Warm up: the first requests load plugins and start pools.
    assert_eq!(service.get("/thumb", &[("url", &good)]).await.status(), 200);
    assert_eq!(service.get("/meta", &[("url", &good)]).await.status(), 200);
    assert!(
        service.wait_idle(Duration::from_secs(2)).await.is_some(),
        "the warm-up left a pipeline"
    );
    let baseline = settled_fds(&service).await;

    let mut wrong = vec![];
    for (case, path, query, status, code) in &cases {
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let response = service.get(path, &query).await;
        let got = response.status().as_u16();
        let json: serde_json::Value = response.json().await.unwrap_or_default();
        let message = json["error"].as_str().unwrap_or("");
        if got != *status
            || json["code"] != *code
            || json["status"] != *status
            || message.is_empty()
        {
            wrong.push(format!(
                "{case}: {path} answered {got} {json}, not {status} {code}"
            ));
        }
        assert_nothing_left(&service, baseline, case).await;
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // An MP4 with its index at the end, from an origin without Range: qtdemux keeps what comes
    // before the index and decodes from it. A picture, not an error.
    let norange = origin_url(&format!("norange/{moov_end_file}"));
    let (status, _, body) = service.fetch("/thumb", &norange).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let colour = support::media::palette_index(
        support::Image::decode(&body, image::ImageFormat::Jpeg).centre(),
    );
    assert_eq!(colour, 2, "the frame at 2 s");
    assert_nothing_left(&service, baseline, "moov at the end without Range").await;

    // The same past the 10 MB qtdemux keeps before an index: the file is sound, the origin is
    // what cannot serve it, and the answer says so.
    let big_moov_end = file_name(Media {
        container: support::media::Container::Mp4 { faststart: false },
        ..Media::noise_minute()
    });
    let norange = origin_url(&format!("norange/{big_moov_end}"));
    let (status, _, body) = service.fetch("/thumb", &norange).await;
    assert_eq!(status, 502, "{}", String::from_utf8_lossy(&body));
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["code"], "origin_cannot_seek", "{json}");
    assert_nothing_left(
        &service,
        baseline,
        "a large MP4 indexed at its end without Range",
    )
    .await;

    // A query with bytes that are not UTF-8 once decoded.
    let raw = reqwest::get(format!(
        "http://{}/thumb?url=http%3A%2F%2Fh%2F%ff%fe",
        service.addr
    ))
    .await
    .unwrap();
    assert_eq!(raw.status(), 400);
    let json: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(json["status"], 400, "{json}");
    assert_nothing_left(&service, baseline, "non-UTF-8 escapes").await;
}
