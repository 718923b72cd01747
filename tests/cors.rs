//! CORS for players on other sites: with PYTHUMBIO_ALLOW_ORIGIN, a page of an allowed origin may
//! read a storyboard's layout (a preflight is answered); another origin gets no CORS headers;
//! without the variable, none at all.

mod support;

use support::media::Media;
use support::{media_url, Service};

async fn ask(service: &Service, origin: &str) -> (reqwest::Response, reqwest::Response) {
    let client = reqwest::Client::new();
    let url = service.url("/storyboard.vtt", &[("url", &media_url(Media::mp4()))]);
    let preflight = client
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "range")
        .send()
        .await
        .unwrap();
    let get = client
        .get(&url)
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    (preflight, get)
}

#[tokio::test]
async fn allowed_origins_may_read_and_others_may_not() {
    let service = Service::with_env(&[(
        "PYTHUMBIO_ALLOW_ORIGIN",
        "https://player.example.com,http://127.0.0.1:9",
    )]);
    let (preflight, get) = ask(&service, "https://player.example.com").await;
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let allowed = |r: &reqwest::Response| {
        r.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(
        allowed(&preflight).as_deref(),
        Some("https://player.example.com")
    );
    let methods = preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap();
    assert!(methods.contains("GET"), "{methods}");
    let headers = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(headers.contains("range"), "{headers}");
    assert_eq!(get.status(), 200);
    assert_eq!(allowed(&get).as_deref(), Some("https://player.example.com"));
    let exposed = get.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(exposed.contains("etag"), "{exposed}");
    assert!(get.text().await.unwrap().starts_with("WEBVTT"));

    let (_, get) = ask(&service, "https://elsewhere.example.com").await;
    assert_eq!(get.status(), 200, "the answer itself does not change");
    assert!(allowed(&get).is_none());

    let plain = Service::start();
    let (_, get) = ask(&plain, "https://player.example.com").await;
    assert!(allowed(&get).is_none());
}

#[test]
fn a_bad_origin_stops_the_start() {
    for bad in [
        "player.example.com",
        "https://player.example.com/path",
        "ftp://x",
    ] {
        let output = support::run_binary(&[], &[("PYTHUMBIO_ALLOW_ORIGIN", bad)]);
        assert_eq!(output.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("is not `*` or an origin"),
            "{bad}: {stderr}"
        );
    }
}
