//! CORS for players on other sites: with PYTHUMBIO_ALLOW_ORIGIN, a page of an allowed origin may
//! read a storyboard's layout (a preflight is answered); another origin gets no CORS headers;
//! without the variable, none at all.

mod support;

use std::sync::{Arc, Mutex};
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

/// A site of its own on 127.0.0.1 (another origin than the service's), serving the page that is
/// put into it.
fn site() -> (std::net::SocketAddr, Arc<Mutex<String>>) {
    let page = Arc::new(Mutex::new(String::new()));
    let served = page.clone();
    let app = axum::Router::new().route(
        "/page.html",
        axum::routing::get(move || {
            let page = served.lock().unwrap().clone();
            async move { axum::response::Html(page) }
        }),
    );
    (support::serve(app), page)
}

/// What the site's page reads of a storyboard's layout in headless Chromium: its script's fetch
/// sends a header that needs a preflight, and writes what it got into the page.
fn read_from_a_page(service: &Service, site: std::net::SocketAddr, page: &Mutex<String>) -> String {
    let target = service.url("/storyboard.json", &[("url", &media_url(Media::mp4()))]);
    *page.lock().unwrap() = format!(
        r#"<!doctype html><html><body><pre id="out">pending</pre><script>
fetch({target:?}, {{ headers: {{ "x-request-id": "from-the-page" }} }})
  .then(async r => {{
    const layout = await r.json();
    document.getElementById("out").textContent = ["read", r.status, typeof layout.url,
      r.headers.get("etag") ? "etag" : "no-etag", r.headers.get("x-request-id")].join(" ");
  }})
  .catch(e => {{ document.getElementById("out").textContent = "blocked " + e.name; }});
</script></body></html>"#
    );
    let profile = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(support::chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--virtual-time-budget=15000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("http://{site}/page.html"))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&output.stdout);
    let start = dom
        .find("<pre id=\"out\">")
        .unwrap_or_else(|| panic!("no page: {dom} {}", String::from_utf8_lossy(&output.stderr)))
        + 14;
    dom[start..start + dom[start..].find("</pre>").unwrap()].to_string()
}

/// In a real browser: a page of an allowed origin reads the layout, its ETag and request id
/// (exposed headers) after a preflight; the same page is blocked by a service that does not
/// allow its origin.
#[tokio::test]
async fn a_browser_page_on_an_allowed_origin_reads_and_others_are_blocked() {
    let (site, page) = site();
    let origin = format!("http://{site}");
    let allowing = Service::with_env(&[("PYTHUMBIO_ALLOW_ORIGIN", &origin)]);
    let other = Service::with_env(&[("PYTHUMBIO_ALLOW_ORIGIN", "https://player.example.com")]);
    let read = tokio::task::spawn_blocking(move || {
        (
            read_from_a_page(&allowing, site, &page),
            read_from_a_page(&other, site, &page),
        )
    })
    .await
    .unwrap();
    assert_eq!(read.0, "read 200 string etag from-the-page");
    assert_eq!(read.1, "blocked TypeError");
}
