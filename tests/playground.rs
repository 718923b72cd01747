//! The playground at `/`, end to end in headless Chromium (driven over WebDriver by Debian's
//! chromedriver): it opens on the built-in sample, the thumbnail loads, the WebM stream plays past
//! one second, the metadata table shows the duration; a screenshot is saved to look at.

mod support;

use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::Service;

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    base: String,
    client: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Self {
        let port = support::closed_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver) runs");
        let driver = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        let started = Instant::now();
        while driver
            .client
            .get(format!("{}/status", driver.base))
            .send()
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        driver
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let value: Value = response.json().await.unwrap();
        value["value"].clone()
    }

    async fn get(&self, path: &str) -> Value {
        let value: Value = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        value["value"].clone()
    }
}

#[tokio::test]
async fn the_playground_shows_the_sample_in_a_real_browser() {
    let service = Service::start();
    let driver = Driver::start().await;
    let session = driver
        .post(
            "/session",
            json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": support::chromium(),
                    "args": ["--headless", "--no-sandbox", "--disable-gpu",
                             "--disable-background-networking", "--no-first-run",
                             "--autoplay-policy=no-user-gesture-required",
                             "--window-size=1280,1400"]
                }
            }}}),
        )
        .await;
    let id = session["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no session: {session}"))
        .to_string();
    let page = format!("http://{}/", service.addr);
    driver
        .post(&format!("/session/{id}/url"), json!({ "url": page }))
        .await;

    let probe = r#"
        const meta = document.getElementById("meta").innerText;
        return {
            thumb: document.getElementById("thumb").naturalWidth,
            stream: document.getElementById("stream").currentTime,
            preview: document.getElementById("preview").readyState,
            tile: getComputedStyle(document.getElementById("tile")).backgroundImage,
            placeholder: document.getElementById("placeholder").textContent,
            sheet: document.getElementById("sheet").naturalWidth,
            requests: [...document.querySelectorAll("a.request")].map(a => a.getAttribute("href")),
            meta,
            errors: [...document.querySelectorAll(".error")].map(e => e.textContent).join(" "),
        };"#;
    let started = Instant::now();
    let state = loop {
        let state = driver
            .post(
                &format!("/session/{id}/execute/sync"),
                json!({ "script": probe, "args": [] }),
            )
            .await;
        let done = state["thumb"].as_u64().unwrap_or(0) > 0
            && state["stream"].as_f64().unwrap_or(0.0) > 1.0
            && state["meta"].as_str().unwrap_or("").contains("duration")
            && !state["placeholder"].as_str().unwrap_or("").is_empty()
            && state["sheet"].as_u64().unwrap_or(0) > 0;
        if done || started.elapsed() > Duration::from_secs(30) {
            break state;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let screenshot = driver.get(&format!("/session/{id}/screenshot")).await;
    let _ = driver
        .client
        .delete(format!("{}/session/{id}", driver.base))
        .send()
        .await;
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD
        .decode(screenshot.as_str().expect("a screenshot"))
        .unwrap();
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("playground.png");
    std::fs::write(&shot, &png).unwrap();

    assert_eq!(state["errors"].as_str().map(str::trim), Some(""), "{state}");
    assert_eq!(
        state["thumb"], 426,
        "the thumbnail's natural width: {state}"
    );
    assert!(
        state["stream"].as_f64().unwrap() > 1.0,
        "the stream plays: {state}"
    );
    // The placeholder line: a BlurHash and the dominant colour.
    let placeholder = state["placeholder"].as_str().unwrap();
    assert!(
        placeholder.len() > 8 && placeholder.contains(" #"),
        "{state}"
    );
    let meta = state["meta"].as_str().unwrap();
    assert!(meta.contains("duration") && meta.contains("10.0"), "{meta}");
    assert!(meta.contains("vp8 640x360"), "{meta}");
    assert!(
        state["preview"].as_u64().unwrap() >= 2,
        "the preview loads: {state}"
    );
    assert!(
        state["tile"].as_str().unwrap().contains("/storyboard"),
        "{state}"
    );
    // The whole sheet the tile is on, and each card's request as a link.
    assert!(state["sheet"].as_u64().unwrap() > 160, "{state}");
    let requests: Vec<&str> = state["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    for path in ["/thumb?", "/preview?", "/storyboard?", "/webm?", "/meta?"] {
        assert!(
            requests
                .iter()
                .any(|r| r.starts_with(path) && r.contains("url=")),
            "{path}: {requests:?}"
        );
    }
    assert!(
        requests.iter().any(|r| r.contains("fit=contain")),
        "{requests:?}"
    );
    // The screenshot is a page, not a blank: the thumbnail's bars give it many colours.
    let image = image::load_from_memory(&png).unwrap().to_rgb8();
    let colours: std::collections::HashSet<[u8; 3]> = image.pixels().map(|p| p.0).collect();
    assert!(
        colours.len() > 50,
        "{} colours in {}",
        colours.len(),
        shot.display()
    );
}
