//! The source policy, end to end: what the service refuses to fetch (and says why), redirects
//! checked hop by hop, the allowlist, file sources under a root, forwarded headers that never
//! leave their origin, and origin time limits.

mod support;

use support::media::{palette_index, Media};
use support::{origin, origin_url, Image, Service};

/// The service as it runs by default: loopback sources refused.
fn strict(extra: &[(&str, &str)]) -> Service {
    let mut env = vec![("PYTHUMBIO_ALLOW_LOOPBACK", "false")];
    env.extend_from_slice(extra);
    Service::with_env(&env)
}

fn mp4_name() -> String {
    let path = Media::mp4().path();
    path.file_name().unwrap().to_str().unwrap().to_string()
}

#[tokio::test]
async fn loopback_in_every_spelling_is_refused_by_default() {
    let service = strict(&[]);
    let port = origin().port();
    let file = mp4_name();
    for host in [
        "127.0.0.1".to_string(),
        "2130706433".into(),
        "0x7f.1".into(),
        "0x7f000001".into(),
        "127.1".into(),
        "017700000001".into(),
        "[::1]".into(),
        "[::ffff:127.0.0.1]".into(),
        "localhost".into(),
    ] {
        let url = format!("http://{host}:{port}/{file}");
        for path in ["/thumb", "/meta", "/webm"] {
            let json = service
                .expect_error(path, &[("url", &url)], 403, "source_refused")
                .await;
            assert_eq!(json["rule"], "loopback-address", "{path} {url}: {json}");
            // The address a name resolved to is not echoed back.
            assert!(!json.to_string().contains("127.0.0.1") || host == "127.0.0.1");
        }
    }
    let metadata = "http://169.254.169.254/latest/meta-data/";
    let json = service
        .expect_error("/thumb", &[("url", metadata)], 403, "source_refused")
        .await;
    assert_eq!(json["rule"], "link-local-address");
    for (url, rule) in [
        ("file:///etc/passwd", "scheme"),
        ("ftp://example.com/v.mp4", "scheme"),
        ("http://10.0.0.1/v.mp4", "private-address"),
        ("http://[fd00::1]/v.mp4", "private-address"),
        ("http://0.0.0.0/v.mp4", "unspecified-address"),
    ] {
        let json = service
            .expect_error("/thumb", &[("url", url)], 403, "source_refused")
            .await;
        assert_eq!(json["rule"], rule, "{url}");
    }
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn every_redirect_hop_is_checked() {
    let service = Service::start();
    let target = origin_url(&mp4_name());
    // A redirect within the policy is followed.
    let via = format!(
        "{}?hops=2&to={}",
        origin_url("redirect"),
        target.replace(':', "%3A").replace('/', "%2F")
    );
    let (status, _, body) = service.fetch("/thumb", &via).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    Image::decode(&body, image::ImageFormat::Jpeg);
    // To cloud metadata, a private address, another scheme: refused at that hop.
    for (to, rule) in [
        (
            "http://169.254.169.254/latest/meta-data/",
            "link-local-address",
        ),
        ("http://192.168.0.1/admin", "private-address"),
        ("http://[::ffff:10.1.1.1]/", "private-address"),
    ] {
        let url = format!("{}?to={}", origin_url("redirect"), to);
        for path in ["/thumb", "/meta", "/webm"] {
            let json = service
                .expect_error(path, &[("url", &url)], 403, "source_refused")
                .await;
            assert_eq!(json["rule"], rule, "{path} {to}");
        }
    }
    let json = service
        .expect_error(
            "/thumb",
            &[("url", &format!("{}?loop=1", origin_url("redirect")))],
            502,
            "origin_error",
        )
        .await;
    assert!(json["error"].as_str().unwrap().contains("loop"), "{json}");
    let too_many = format!(
        "{}?hops=5&to={}",
        origin_url("redirect"),
        target.replace(':', "%3A").replace('/', "%2F")
    );
    let json = service
        .expect_error("/meta", &[("url", &too_many)], 502, "origin_error")
        .await;
    assert!(
        json["error"].as_str().unwrap().contains("more than 5"),
        "{json}"
    );
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn the_allowlist_names_hosts() {
    let port = origin().port();
    let allowed = format!("127.0.0.1:{port},*.example.com");
    let service = Service::with_env(&[("PYTHUMBIO_ALLOWED_SOURCES", &allowed)]);
    let file = mp4_name();
    let (status, _, _) = service
        .fetch("/thumb", &format!("http://127.0.0.1:{port}/{file}"))
        .await;
    assert_eq!(status, 200);
    for url in [
        format!("http://localhost:{port}/{file}"),
        format!("http://127.0.0.1:{}/{file}", port + 1),
        "http://example.com/v.mp4".to_string(),
    ] {
        let json = service
            .expect_error("/thumb", &[("url", &url)], 403, "source_refused")
            .await;
        assert_eq!(json["rule"], "allowed-sources", "{url}");
    }
    // A redirect off the list is refused at its hop.
    let url =
        format!("http://127.0.0.1:{port}/redirect?to=http%3A%2F%2Flocalhost%3A{port}%2F{file}");
    let json = service
        .expect_error("/thumb", &[("url", &url)], 403, "source_refused")
        .await;
    assert_eq!(json["rule"], "allowed-sources");
    // A bad entry stops the start, naming the variable.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pythumbio"))
        .env("PYTHUMBIO_ALLOWED_SOURCES", "http://x/y")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("PYTHUMBIO_ALLOWED_SOURCES"));
}

#[tokio::test]
async fn file_sources_only_inside_the_root() {
    let root = support::media::media_dir();
    let file = mp4_name();
    let service = Service::with_env(&[("PYTHUMBIO_FILE_ROOT", root.to_str().unwrap())]);
    let inside = format!("file://{}/{file}", root.display());
    let (status, ct, body) = service.fetch("/thumb", &inside).await;
    assert_eq!((status, ct.as_str()), (200, "image/jpeg"));
    let colour = palette_index(Image::decode(&body, image::ImageFormat::Jpeg).centre());
    assert_eq!(colour, 2, "the frame at 2 s");
    let meta: serde_json::Value = service
        .get("/meta", &[("url", &inside)])
        .await
        .json()
        .await
        .unwrap();
    assert!(meta["format"]["duration"].as_str().is_some(), "{meta}");
    for (url, rule) in [
        ("file:///etc/passwd".to_string(), "file-root"),
        (
            format!("file://{}/../../../etc/passwd", root.display()),
            "file-root",
        ),
    ] {
        let json = service
            .expect_error("/thumb", &[("url", &url)], 403, "source_refused")
            .await;
        assert_eq!(json["rule"], rule, "{url}");
    }
    let link = root.join("escape-link.mp4");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
    let json = service
        .expect_error(
            "/thumb",
            &[("url", &format!("file://{}", link.display()))],
            403,
            "source_refused",
        )
        .await;
    assert_eq!(json["rule"], "file-root");
    let missing = format!("file://{}/no-such.mp4", root.display());
    service
        .expect_error("/thumb", &[("url", &missing)], 502, "origin_error")
        .await;
    // Without a root, file:// is another refused scheme.
    let plain = Service::start();
    let json = plain
        .expect_error("/thumb", &[("url", &inside)], 403, "source_refused")
        .await;
    assert_eq!(json["rule"], "scheme");
}

#[tokio::test]
async fn forwarded_headers_reach_their_origin_only() {
    let service = Service::with_env(&[("PYTHUMBIO_FORWARD_HEADERS", "Authorization,Cookie")]);
    let file = mp4_name();
    let private = origin_url(&format!("private/{file}"));
    let client = reqwest::Client::new();
    let get = |url: String, auth: Option<&'static str>| {
        let mut request = client
            .get(format!("http://{}/thumb", service.addr))
            .query(&[("url", url.as_str())]);
        if let Some(auth) = auth {
            request = request
                .header("authorization", auth)
                .header("cookie", "k=v");
        }
        request.send()
    };
    let response = get(private.clone(), Some("Bearer let-me-in"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Made with credentials: never for shared caches, never served to a client without them.
    assert_eq!(
        response.headers()["cache-control"].to_str().unwrap(),
        "private, max-age=86400"
    );
    Image::decode(&response.bytes().await.unwrap(), image::ImageFormat::Jpeg);
    let response = get(private.clone(), None).await.unwrap();
    assert_eq!(response.status(), 502);
    let json: serde_json::Value = response.json().await.unwrap();
    assert_eq!(json["origin_status"], 401);
    // Redirected to another host (the same origin under another name): not forwarded there.
    let port = origin().port();
    let elsewhere = format!(
        "{}?to=http%3A%2F%2Flocalhost%3A{port}%2Fprivate%2F{file}",
        origin_url("redirect")
    );
    let response = get(elsewhere.clone(), Some("Bearer let-me-in"))
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let seen: Vec<(String, String)> = reqwest::get(origin_url("seen-headers"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !seen
            .iter()
            .any(|(n, _)| n == "authorization" || n == "cookie"),
        "forwarded across hosts: {seen:?}"
    );
    // Never logged.
    let log = service.log_text();
    assert!(!log.contains("let-me-in") && !log.contains("k=v"), "{log}");
    // Headers that are not configured are not forwarded.
    let plain = Service::start();
    let response = plain.get("/thumb", &[("url", &private)]).await;
    assert_eq!(response.status(), 502);
}

#[tokio::test]
async fn a_stalled_origin_is_a_timeout() {
    let service = Service::with_env(&[("PYTHUMBIO_ORIGIN_READ_TIMEOUT", "1")]);
    for stall in ["stall/headers", "stall/body"] {
        for path in ["/thumb", "/webm", "/meta"] {
            let started = std::time::Instant::now();
            let json = service
                .expect_error(path, &[("url", &origin_url(stall))], 504, "timeout")
                .await;
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "{path} {stall}: {json}"
            );
        }
    }
    let port = support::closed_port();
    service
        .expect_error(
            "/thumb",
            &[("url", &format!("http://127.0.0.1:{port}/v.mp4"))],
            502,
            "origin_error",
        )
        .await;
    service.assert_nothing_left().await;
}

/// A source that is this service (by its own address), or a request from a pythumbio (its
/// `Via` mark), is refused at once: nested requests would hold a pipeline slot at every level.
#[tokio::test]
async fn the_service_never_reads_itself() {
    let service = Service::start();
    let inner = service.url("/thumb", &[("url", &origin_url(&mp4_name()))]);
    let localhost = inner.replace("127.0.0.1", "localhost");
    for url in [&inner, &localhost] {
        let json = service
            .expect_error("/thumb", &[("url", url)], 403, "source_refused")
            .await;
        assert_eq!(json["rule"], "self", "{url}: {json}");
    }
    let marked = reqwest::Client::new()
        .get(service.url("/meta", &[("url", &origin_url(&mp4_name()))]))
        .header("via", "1.0 cdn, 1.1 pythumbio")
        .send()
        .await
        .unwrap();
    assert_eq!(marked.status(), 403);
    let json: serde_json::Value = marked.json().await.unwrap();
    assert_eq!(json["rule"], "self", "{json}");
    // Another pythumbio asked for this one's output: this one refuses it without a pipeline.
    let other = Service::start();
    let json = other
        .expect_error("/thumb", &[("url", &inner)], 502, "origin_error")
        .await;
    assert_eq!(json["origin_status"], 403, "{json}");
    assert_eq!(
        service.metric("pythumbio_pipelines_started_total").await,
        0.0
    );
}

/// `PYTHUMBIO_TIMEOUT` is the request's deadline (a stream's, to its first byte): an origin
/// read longer than it ends there, even when the origin's own read timeout is longer.
#[tokio::test]
async fn the_request_timeout_bounds_origin_reads() {
    let service = Service::with_env(&[
        ("PYTHUMBIO_TIMEOUT", "2"),
        ("PYTHUMBIO_ORIGIN_READ_TIMEOUT", "40"),
    ]);
    for stall in ["stall/headers", "stall/body"] {
        for path in [
            "/thumb",
            "/meta",
            "/storyboard.json",
            "/webm",
            "/preview",
            "/preview.webp",
        ] {
            let started = std::time::Instant::now();
            service
                .expect_error(path, &[("url", &origin_url(stall))], 504, "timeout")
                .await;
            assert!(
                started.elapsed() < std::time::Duration::from_secs(6),
                "{path} {stall}: {:?}",
                started.elapsed()
            );
        }
    }
    service.assert_nothing_left().await;
}
