//! Origin bytes kept across requests: thumbnails of one video at several times read its index
//! once; a changed file (new ETag) is read again; clients with different forwarded credentials
//! never see each other's bytes. The origin here is the test's own, so it can count every byte
//! it sends and change the file's ETag.

mod support;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use support::media::{palette_index, Media};
use support::{media_url, Image, Service};

/// One file served with Range and a strong ETag, and what was asked of it.
#[derive(Default)]
struct File {
    bytes: Vec<u8>,
    etag: String,
    /// (range asked, Authorization, status, body bytes sent), in order.
    log: Vec<(Option<String>, Option<String>, u16, usize)>,
}

type Shared = Arc<Mutex<File>>;

async fn answer(
    axum::extract::State(file): axum::extract::State<Shared>,
    headers: HeaderMap,
) -> Response {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let (range, auth) = (text(header::RANGE), text(header::AUTHORIZATION));
    let mut file = file.lock().unwrap();
    let etag = file.etag.clone();
    if text(header::IF_NONE_MATCH).as_deref() == Some(etag.as_str()) {
        file.log.push((range, auth, 304, 0));
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let size = file.bytes.len();
    let span = range.as_deref().and_then(|r| {
        let (a, b) = r.strip_prefix("bytes=")?.split_once('-')?;
        let a: usize = a.parse().ok()?;
        let b = b.parse::<usize>().map_or(size - 1, |b| b.min(size - 1));
        (a <= b).then_some((a, b))
    });
    let Some((a, b)) = span else {
        let body = file.bytes.clone();
        file.log.push((range, auth, 200, body.len()));
        return (StatusCode::OK, [(header::ETAG, etag)], body).into_response();
    };
    let body = file.bytes[a..=b].to_vec();
    file.log.push((range, auth, 206, body.len()));
    (
        StatusCode::PARTIAL_CONTENT,
        [
            (header::ETAG, etag),
            (header::CONTENT_RANGE, format!("bytes {a}-{b}/{size}")),
            (header::ACCEPT_RANGES, "bytes".to_string()),
        ],
        body,
    )
        .into_response()
}

/// Starts the origin on 127.0.0.1 with `bytes` under ETag "v1".
fn origin(bytes: Vec<u8>) -> (SocketAddr, Shared) {
    let file: Shared = Arc::new(Mutex::new(File {
        bytes,
        etag: "\"v1\"".into(),
        log: Vec::new(),
    }));
    let app = axum::Router::new()
        .fallback(answer)
        .with_state(file.clone());
    (support::serve(app), file)
}

/// A 60 s video whose index (moov, first) is large: 30 fps, a keyframe every 2 s.
fn video() -> Vec<u8> {
    file_of(Media {
        frames: 1800,
        keyint: 60,
        width: 320,
        height: 180,
        audio: None,
        ..Media::mp4()
    })
}

/// A minute of incompressible video (a keyframe a second, megabytes): its GOPs lie far from
/// its index.
fn noise() -> Vec<u8> {
    file_of(Media::noise_minute())
}

fn file_of(media: Media) -> Vec<u8> {
    let url = media_url(media);
    let name = url.rsplit('/').next().unwrap();
    std::fs::read(support::media::media_dir().join(name)).unwrap()
}

/// The thumbnail at `time`, of the palette video: checked by colour (second s shows palette
/// colour s mod 10).
async fn thumb(service: &Service, url: &str, time: u32, auth: Option<&str>) -> u16 {
    thumb_at(
        service,
        url,
        &time.to_string(),
        auth,
        Some(time as usize % 10),
    )
    .await
}

/// The thumbnail at `time`, with `auth` forwarded, of the `colour` given.
async fn thumb_at(
    service: &Service,
    url: &str,
    time: &str,
    auth: Option<&str>,
    colour: Option<usize>,
) -> u16 {
    let mut request =
        reqwest::Client::new().get(service.url("/thumb", &[("url", url), ("time", time)]));
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    if let (200, Some(colour)) = (status, colour) {
        let image = Image::decode(&body, image::ImageFormat::Jpeg);
        assert_eq!(palette_index(image.centre()), colour, "time {time}");
    }
    status
}

/// Bytes the origin sent since `from` (an index into its log), and how many of the requests
/// covered the file's first bytes (where the index is).
fn sent_since(file: &Shared, from: usize) -> (usize, usize) {
    let file = file.lock().unwrap();
    let log = &file.log[from..];
    let bytes = log.iter().map(|(_, _, _, n)| n).sum();
    let heads = log
        .iter()
        .filter(|(range, _, status, _)| {
            *status != 304 && range.as_deref().is_some_and(|r| r.starts_with("bytes=0-"))
        })
        .count();
    (bytes, heads)
}

#[tokio::test]
async fn a_second_thumbnail_reads_no_index_bytes_again() {
    let service = Service::with_env(&[("PYTHUMBIO_CACHE_MB", "0")]);
    let (addr, file) = origin(noise());
    let url = format!("http://{addr}/v.mp4");
    let at = |time| thumb_at(&service, &url, time, None, None);
    assert_eq!(at("13.2").await, 200);
    let first = sent_since(&file, 0);
    assert!(first.1 >= 1, "the first thumbnail reads the file's start");
    let mark = file.lock().unwrap().log.len();
    // An earlier time in the same GOP (what it needs, the first one read): the origin is asked
    // whether the file changed (304), and sends nothing.
    assert_eq!(at("13.1").await, 200);
    let (bytes, heads) = sent_since(&file, mark);
    assert_eq!(
        (bytes, heads),
        (0, 0),
        "{:?}",
        &file.lock().unwrap().log[mark..]
    );
    // Another GOP: its bytes only, not the index again.
    let mark = file.lock().unwrap().log.len();
    assert_eq!(at("41.5").await, 200);
    let (bytes, heads) = sent_since(&file, mark);
    assert_eq!(heads, 0, "{:?}", &file.lock().unwrap().log[mark..]);
    assert!(
        bytes > 0 && bytes < first.0,
        "{bytes} bytes, the first thumbnail read {}",
        first.0
    );
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn a_changed_file_is_read_again() {
    let service = Service::with_env(&[("PYTHUMBIO_CACHE_MB", "0")]);
    let (addr, file) = origin(video());
    let url = format!("http://{addr}/v.mp4");
    assert_eq!(thumb(&service, &url, 13, None).await, 200);
    // The same bytes under a new ETag (a re-upload): read anew, the thumbnail still right.
    file.lock().unwrap().etag = "\"v2\"".into();
    let mark = file.lock().unwrap().log.len();
    assert_eq!(thumb(&service, &url, 12, None).await, 200);
    let (bytes, heads) = sent_since(&file, mark);
    assert!(heads >= 1 && bytes > 0, "the changed file is read anew");
    // Different bytes under it: the thumbnail is the new file's.
    let other = file_of(Media {
        frames: 1800,
        keyint: 60,
        width: 320,
        height: 180,
        audio: None,
        stripes: true,
        ..Media::mp4()
    });
    {
        let mut f = file.lock().unwrap();
        (f.bytes, f.etag) = (other, "\"v3\"".into());
    }
    let response = reqwest::Client::new()
        .get(service.url("/thumb.png", &[("url", &url), ("time", "12")]))
        .send()
        .await
        .unwrap();
    let image = Image::decode(&response.bytes().await.unwrap(), image::ImageFormat::Png);
    // With stripes, the left third is the colour three further on.
    let left = image.rgb.get_pixel(image.width / 6, image.height / 2).0;
    assert_eq!(palette_index(left), 5, "the new file's frame");
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn clients_with_other_credentials_never_share_bytes() {
    let service = Service::with_env(&[
        ("PYTHUMBIO_CACHE_MB", "0"),
        ("PYTHUMBIO_FORWARD_HEADERS", "authorization"),
    ]);
    let (addr, file) = origin(video());
    let url = format!("http://{addr}/v.mp4");
    assert_eq!(thumb(&service, &url, 13, Some("Bearer alice")).await, 200);
    let mark = file.lock().unwrap().log.len();
    // Bob's first thumbnail reads from the origin, with Bob's credentials, all of it.
    assert_eq!(thumb(&service, &url, 13, Some("Bearer bob")).await, 200);
    let file = file.lock().unwrap();
    let bob = &file.log[mark..];
    assert!(bob.iter().any(|(range, _, status, _)| *status == 206
        && range.as_deref().is_some_and(|r| r.starts_with("bytes=0-"))));
    assert!(
        bob.iter()
            .all(|(_, auth, _, _)| auth.as_deref() == Some("Bearer bob")),
        "{bob:?}"
    );
    // And no request ever went without the credentials of the client it served.
    assert!(file.log.iter().all(|(_, auth, _, _)| auth.is_some()));
}

#[tokio::test]
async fn the_cache_can_be_turned_off() {
    let service = Service::with_env(&[
        ("PYTHUMBIO_CACHE_MB", "0"),
        ("PYTHUMBIO_ORIGIN_CACHE_MB", "0"),
    ]);
    let (addr, file) = origin(video());
    let url = format!("http://{addr}/v.mp4");
    assert_eq!(thumb(&service, &url, 13, None).await, 200);
    let mark = file.lock().unwrap().log.len();
    assert_eq!(thumb(&service, &url, 12, None).await, 200);
    let (bytes, heads) = sent_since(&file, mark);
    assert!(
        heads >= 1 && bytes > 0,
        "without the cache every thumbnail reads the index"
    );
}
