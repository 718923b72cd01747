//! Hostile HLS and DASH manifests: a playlist on an allowed origin may name its segments, its
//! variants or its base URL with any scheme and any host. None of them may be read except
//! through the source policy: every one is refused (403 `source_refused`, with the rule), at once,
//! with no connection made and no descriptor or pipeline left behind.

mod support;

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::media::media_dir;
use support::{ffmpeg, origin, origin_url, Image, Service};

/// A listener on 127.0.0.1 that counts what reaches it, over TCP and UDP on one port number: a
/// segment pointing here must never make the service connect or send.
struct Decoy {
    port: u16,
    seen: Arc<AtomicUsize>,
}

impl Decoy {
    fn start() -> Self {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        let udp = UdpSocket::bind(("127.0.0.1", port)).unwrap();
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        std::thread::spawn(move || {
            for stream in tcp.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                let _ = (&stream).read(&mut [0; 64]);
            }
        });
        let counter = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0; 2048];
            while udp.recv(&mut buf).is_ok() {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        Self { port, seen }
    }

    fn seen(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }
}

/// Writes a manifest into the origin's directory and returns its URL there.
fn manifest(name: &str, text: &str) -> String {
    std::fs::write(media_dir().join(name), text).unwrap();
    origin_url(name)
}

fn media_playlist(segment: &str) -> String {
    format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n\
         #EXTINF:2.0,\n{segment}\n#EXT-X-ENDLIST\n"
    )
}

fn master_playlist(variant: &str) -> String {
    format!("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=200000,RESOLUTION=320x180\n{variant}\n")
}

fn dash(base: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT2S"
     minBufferTime="PT1S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
  <BaseURL>{base}</BaseURL>
  <Period>
    <AdaptationSet mimeType="video/mp2t" contentType="video">
      <Representation id="v" bandwidth="200000" width="320" height="180" codecs="avc1.64000d">
        <BaseURL>secret.ts</BaseURL>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
"#
    )
}

#[tokio::test]
async fn manifests_read_nothing_outside_the_source_policy() {
    let service = Service::start();
    let segment = ffmpeg::ts_segment();
    // A private file outside any file root (and PYTHUMBIO_FILE_ROOT is unset).
    let private = tempfile::tempdir().unwrap();
    let secret = private.path().join("secret.ts");
    std::fs::copy(&segment, &secret).unwrap();
    let secret_url = format!("file://{}", secret.display());
    let private_dir = format!("file://{}/", private.path().display());
    let decoy = Decoy::start();
    let port = decoy.port;

    // The same playlist with an ordinary segment is read: HLS itself works.
    let segment_name = segment.file_name().unwrap().to_str().unwrap();
    for (name, seg) in [
        ("hls-relative.m3u8", segment_name.to_string()),
        ("hls-absolute.m3u8", origin_url(segment_name)),
    ] {
        let url = manifest(name, &media_playlist(&seg));
        let (status, _, body) = service.fetch("/thumb", &url).await;
        assert_eq!(status, 200, "{name}: {}", String::from_utf8_lossy(&body));
        Image::decode(&body, image::ImageFormat::Jpeg);
    }
    let fds = service.open_fds();

    let cases = [
        ("hls-file.m3u8", media_playlist(&secret_url), "scheme"),
        (
            "hls-rtmp.m3u8",
            media_playlist(&format!("rtmp://127.0.0.1:{port}/app/x")),
            "scheme",
        ),
        (
            "hls-udp.m3u8",
            media_playlist(&format!("udp://127.0.0.1:{port}")),
            "scheme",
        ),
        (
            "hls-srt.m3u8",
            media_playlist(&format!("srt://127.0.0.1:{port}")),
            "scheme",
        ),
        (
            "hls-tcp.m3u8",
            media_playlist(&format!("tcp://127.0.0.1:{port}/x.ts")),
            "scheme",
        ),
        (
            "hls-ftp.m3u8",
            media_playlist(&format!("ftp://127.0.0.1:{port}/x.ts")),
            "scheme",
        ),
        (
            "hls-icy.m3u8",
            media_playlist(&format!("icy://127.0.0.1:{port}/x.ts")),
            "scheme",
        ),
        (
            "hls-variant-file.m3u8",
            master_playlist(&secret_url),
            "scheme",
        ),
        ("dash-file.mpd", dash(&private_dir), "scheme"),
    ];
    for (name, text, rule) in &cases {
        let url = manifest(name, text);
        for path in ["/thumb", "/meta", "/webm"] {
            let started = Instant::now();
            let json = service
                .expect_error(path, &[("url", &url)], 403, "source_refused")
                .await;
            assert_eq!(json["rule"], *rule, "{path} {name}: {json}");
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{path} {name} took {:?}",
                started.elapsed()
            );
            let text = json.to_string();
            assert!(!text.contains("Gst") && !text.contains(".rs"), "{text}");
        }
    }
    // A watermark is read as a source is.
    let thumb = origin_url(segment_name);
    let watermark = manifest("hls-watermark.m3u8", &media_playlist(&secret_url));
    let json = service
        .expect_error(
            "/thumb",
            &[("url", &thumb), ("watermark", &watermark)],
            403,
            "source_refused",
        )
        .await;
    assert_eq!(json["rule"], "scheme", "{json}");

    assert_eq!(decoy.seen(), 0, "the service connected to the decoy");
    service.assert_nothing_left().await;
    // A few pooled connections to the origin may stay open; a leak of one descriptor per request
    // would add dozens.
    let started = Instant::now();
    while service.open_fds() > fds + 6 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        service.open_fds() <= fds + 6,
        "descriptors: {fds} before, {} after",
        service.open_fds()
    );
}

/// An http(s) segment is put to the policy as the manifest was: here, the allowlist.
#[tokio::test]
async fn http_segments_are_put_to_the_policy() {
    let allowed = format!("127.0.0.1:{}", origin().port());
    let service = Service::with_env(&[("PYTHUMBIO_ALLOWED_SOURCES", &allowed)]);
    let decoy = Decoy::start();
    let url = manifest(
        "hls-elsewhere.m3u8",
        &media_playlist(&format!("http://127.0.0.1:{}/x.ts", decoy.port)),
    );
    for path in ["/thumb", "/meta", "/webm"] {
        let json = service
            .expect_error(path, &[("url", &url)], 403, "source_refused")
            .await;
        assert_eq!(json["rule"], "allowed-sources", "{path}: {json}");
    }
    assert_eq!(decoy.seen(), 0, "the service connected to the decoy");
    service.assert_nothing_left().await;
}
