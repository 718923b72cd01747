//! What the integration tests share: a real origin on 127.0.0.1 that honours Range, the real
//! service binary on an ephemeral port, and readers that check output bytes (decoded images,
//! demuxed and decoded WebM) rather than status codes.
#![allow(dead_code)]

pub mod ffmpeg;
pub mod media;

use futures_util::StreamExt;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_pbutils as pbutils;
use gstreamer_pbutils::prelude::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The origin: serves `media::media_dir()` with Range support, started once per test binary.
pub fn origin() -> SocketAddr {
    static ORIGIN: OnceLock<SocketAddr> = OnceLock::new();
    *ORIGIN.get_or_init(|| {
        let dir = media::media_dir();
        std::fs::write(
            dir.join("not-a-video.mp4"),
            "this is a text file, not a video\n".repeat(200),
        )
        .unwrap();
        serve(
            axum::Router::new()
                .route("/truncated/{file}", axum::routing::get(truncated))
                .route("/norange/{file}", axum::routing::get(no_range))
                .route("/redirect", axum::routing::get(redirect))
                .route("/private/{file}", axum::routing::get(private))
                .route("/stall/headers", axum::routing::get(stall_headers))
                .route("/stall/body", axum::routing::get(stall_body))
                .route("/endless", axum::routing::get(endless))
                .route("/seen-headers", axum::routing::get(seen_headers))
                .route("/status/{code}", axum::routing::get(status))
                .route("/overlong/{file}", axum::routing::get(overlong))
                .route("/slow/{file}", axum::routing::get(slow))
                .route("/slow-done/{file}", axum::routing::get(slow_done))
                .route("/first-range/{file}", axum::routing::get(first_range))
                .fallback_service(tower_http::services::ServeDir::new(dir)),
        )
    })
}

/// Serves `app` on 127.0.0.1 (a port of its own) from a thread and runtime of its own, for as
/// long as the test binary runs.
pub fn serve(app: axum::Router) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// Declares a file's full length, sends its first half, waits, then breaks the connection (and
/// ignores Range, so a retry cannot mend it): a source that fails once output is flowing.
async fn truncated(
    axum::extract::Path(file): axum::extract::Path<String>,
) -> axum::response::Response {
    let bytes = std::fs::read(media::media_dir().join(file)).unwrap();
    let len = bytes.len();
    let half = bytes::Bytes::from(bytes).slice(..len / 2);
    let broken = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        Err(std::io::Error::other("origin broke off"))
    };
    let body = futures_util::stream::iter([Ok(half)]).chain(futures_util::stream::once(broken));
    axum::response::Response::builder()
        .header("content-length", len)
        .header("content-type", "video/mp4")
        .body(axum::body::Body::from_stream(body))
        .unwrap()
}

/// Serves a whole file and ignores Range, as simple static servers do.
async fn no_range(
    axum::extract::Path(file): axum::extract::Path<String>,
) -> axum::response::Response {
    let bytes = std::fs::read(media::media_dir().join(file)).unwrap();
    axum::response::Response::builder()
        .header("content-type", "video/mp4")
        .body(axum::body::Body::from(bytes))
        .unwrap()
}

/// `/redirect?to=URL` answers 302 to URL; `/redirect?hops=N&to=URL` first redirects to itself
/// N more times; `/redirect?loop=1` redirects to itself forever.
async fn redirect(
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    let location = if q.contains_key("loop") {
        "/redirect?loop=1".to_string()
    } else {
        match q.get("hops").and_then(|h| h.parse::<u32>().ok()) {
            Some(n) if n > 0 => format!(
                "/redirect?hops={}&to={}",
                n - 1,
                urlencoding(q.get("to").map_or("", |s| s.as_str()))
            ),
            _ => q.get("to").cloned().unwrap_or_default(),
        }
    };
    axum::response::Response::builder()
        .status(302)
        .header("location", location)
        .body(axum::body::Body::empty())
        .unwrap()
}

fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The headers of the last request to `/private/...`, for tests that check what was forwarded.
static SEEN: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// A media file that needs `Authorization: Bearer let-me-in` (401 otherwise), with Range.
async fn private(
    axum::extract::Path(file): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
    request: axum::extract::Request,
) -> axum::response::Response {
    use tower::ServiceExt;
    *SEEN.lock().unwrap() = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer let-me-in") {
        return axum::response::Response::builder()
            .status(401)
            .body(axum::body::Body::empty())
            .unwrap();
    }
    let path = media::media_dir().join(file);
    let response = tower_http::services::ServeFile::new(path)
        .oneshot(request)
        .await
        .unwrap();
    response.map(axum::body::Body::new)
}

/// What the origin saw on its last `/private/...` request.
async fn seen_headers() -> axum::Json<Vec<(String, String)>> {
    axum::Json(SEEN.lock().unwrap().clone())
}

/// Answers with the status asked for, and a short HTML body.
async fn status(axum::extract::Path(code): axum::extract::Path<u16>) -> axum::response::Response {
    axum::response::Response::builder()
        .status(code)
        .header("content-type", "text/html")
        .body(axum::body::Body::from("<html><body>no</body></html>"))
        .unwrap()
}

/// Declares a Content-Length 100 KB beyond the file, sends the file, then closes (and ignores
/// Range).
async fn overlong(
    axum::extract::Path(file): axum::extract::Path<String>,
) -> axum::response::Response {
    let bytes = std::fs::read(media::media_dir().join(file)).unwrap();
    let len = bytes.len() + 100_000;
    let body = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))])
        .chain(futures_util::stream::once(async {
            Err(std::io::Error::other("origin closed early"))
        }));
    axum::response::Response::builder()
        .header("content-length", len)
        .header("content-type", "video/mp4")
        .body(axum::body::Body::from_stream(body))
        .unwrap()
}

/// The files whose `/slow/` body has been sent to its end.
static SLOW_DONE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Serves a whole file slowly (in 16 KiB pieces over about two seconds, ignoring Range), and
/// records when its last byte has gone: a test can then ask whether output came while the source
/// was still being read.
async fn slow(axum::extract::Path(file): axum::extract::Path<String>) -> axum::response::Response {
    const PIECE: usize = 16384;
    let bytes = bytes::Bytes::from(std::fs::read(media::media_dir().join(&file)).unwrap());
    let len = bytes.len();
    SLOW_DONE.lock().unwrap().retain(|f| *f != file);
    let pieces = len.div_ceil(PIECE);
    let pause = Duration::from_millis(2000 / pieces.max(1) as u64).max(Duration::from_millis(1));
    let chunks = (0..pieces).map(move |i| bytes.slice(i * PIECE..len.min((i + 1) * PIECE)));
    let body = futures_util::stream::iter(chunks)
        .then(move |chunk| async move {
            tokio::time::sleep(pause).await;
            Ok::<_, std::io::Error>(chunk)
        })
        .chain(futures_util::stream::once(async move {
            SLOW_DONE.lock().unwrap().push(file);
            Ok(bytes::Bytes::new())
        }));
    axum::response::Response::builder()
        .header("content-length", len)
        .header("content-type", "video/mp4")
        .body(axum::body::Body::from_stream(body))
        .unwrap()
}

/// Whether the last `/slow/{file}` body has been sent to its end: `yes` or `no`.
async fn slow_done(axum::extract::Path(file): axum::extract::Path<String>) -> &'static str {
    if SLOW_DONE.lock().unwrap().contains(&file) {
        "yes"
    } else {
        "no"
    }
}

/// Honours a Range that starts at byte 0 and answers any other with the whole file: an origin
/// that seems to seek, then cannot.
async fn first_range(
    axum::extract::Path(file): axum::extract::Path<String>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use tower::ServiceExt;
    let path = media::media_dir().join(file);
    let from_start = request
        .headers()
        .get("range")
        .and_then(|r| r.to_str().ok())
        .is_none_or(|r| r.starts_with("bytes=0-"));
    if !from_start {
        return axum::response::Response::builder()
            .header("content-type", "video/mp4")
            .body(axum::body::Body::from(std::fs::read(path).unwrap()))
            .unwrap();
    }
    let response = tower_http::services::ServeFile::new(path)
        .oneshot(request)
        .await
        .unwrap();
    response.map(axum::body::Body::new)
}

/// Never answers (for a minute).
async fn stall_headers() -> axum::response::Response {
    tokio::time::sleep(Duration::from_secs(60)).await;
    axum::response::Response::new(axum::body::Body::empty())
}

/// Answers headers for a large file, then sends nothing more (for a minute).
async fn stall_body() -> axum::response::Response {
    let body = futures_util::stream::once(async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"late"))
    });
    axum::response::Response::builder()
        .header("content-length", 10_000_000)
        .header("content-type", "video/mp4")
        .body(axum::body::Body::from_stream(body))
        .unwrap()
}

/// An endless body without a length, as a live source sends: random bytes, slowly, forever.
async fn endless() -> axum::response::Response {
    let body = futures_util::stream::unfold(0u64, |n| async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let chunk: Vec<u8> = (0..16384u64)
            .map(|i| (i * 7919 + n * 104729) as u8)
            .collect();
        Some((Ok::<_, std::io::Error>(bytes::Bytes::from(chunk)), n + 1))
    });
    axum::response::Response::builder()
        .header("content-type", "video/mp4")
        .body(axum::body::Body::from_stream(body))
        .unwrap()
}

/// The origin's url for a made media file (made now if needed).
pub fn media_url(media: media::Media) -> String {
    path_url(&media.path())
}

/// The origin's url for a made media file (made now if needed) under one of its routes
/// (`norange`, `slow`...).
pub fn routed_url(route: &str, media: media::Media) -> String {
    let path = media.path();
    origin_url(&format!(
        "{route}/{}",
        path.file_name().unwrap().to_str().unwrap()
    ))
}

/// The origin's url for a file made in the media directory, by its path.
pub fn path_url(path: &Path) -> String {
    origin_url(path.file_name().unwrap().to_str().unwrap())
}

/// The origin's url for a file in the media directory.
pub fn origin_url(file: &str) -> String {
    format!("http://{}/{file}", origin())
}

/// A port on 127.0.0.1 where nothing listens.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The service binary, running until dropped.
pub struct Service {
    child: Child,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Vec<String>>>,
    stderr: Option<std::thread::JoinHandle<()>>,
    client: reqwest::Client,
}

impl Service {
    pub fn start() -> Self {
        Self::with_env(&[])
    }

    pub fn with_env(env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pythumbio"));
        command
            .env_remove("RUST_LOG")
            .env("PYTHUMBIO_HOST", "127.0.0.1")
            .env("PYTHUMBIO_PORT", "0")
            // The tests' origin is on 127.0.0.1, which the source policy refuses by default.
            .env("PYTHUMBIO_ALLOW_LOOPBACK", "true")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the service binary starts");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if let Some(at) = line.find("listening on http://") {
                    let addr: String = line[at + 20..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || ".:[]".contains(*c))
                        .collect();
                    let _ = tx.send(addr.parse::<SocketAddr>().unwrap());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let lines = log.clone();
        let stderr = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!("the service did not start: {:#?}", log.lock().unwrap());
            }
        };
        Self {
            child,
            addr,
            log,
            stderr: Some(stderr),
            client: reqwest::Client::new(),
        }
    }

    /// `path` with the query `url=<url>&extra...`, properly encoded.
    pub fn url(&self, path: &str, params: &[(&str, &str)]) -> String {
        reqwest::Url::parse_with_params(&format!("http://{}{path}", self.addr), params)
            .unwrap()
            .to_string()
    }

    pub async fn get(&self, path: &str, params: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .get(self.url(path, params))
            .send()
            .await
            .unwrap()
    }

    /// GET with the source `url=`, reading the whole body.
    pub async fn fetch(&self, path: &str, source: &str) -> (u16, String, Vec<u8>) {
        let response = self.get(path, &[("url", source)]).await;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (
            status,
            content_type,
            response.bytes().await.unwrap().to_vec(),
        )
    }

    /// GETs `path` and asserts the shared JSON error shape with this status and code.
    pub async fn expect_error(
        &self,
        path: &str,
        params: &[(&str, &str)],
        status: u16,
        code: &str,
    ) -> serde_json::Value {
        let response = self.get(path, params).await;
        let got = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        error_json(
            got,
            &content_type.unwrap_or_default(),
            &response.bytes().await.unwrap(),
            status,
            code,
        )
    }

    /// Asserts that each `(name, value)` given to `path` (with the source `url`) is refused with
    /// 400 naming the parameter, the value and what is allowed.
    pub async fn expect_invalid(&self, path: &str, url: &str, cases: &[(&str, &str)]) {
        for &(name, value) in cases {
            let json = self
                .expect_error(
                    path,
                    &[("url", url), (name, value)],
                    400,
                    "invalid_parameter",
                )
                .await;
            assert_eq!(
                (json["parameter"].as_str(), json["value"].as_str()),
                (Some(name), Some(value)),
                "{path}"
            );
            assert!(
                json["allowed"].as_str().is_some_and(|a| !a.is_empty()),
                "{path}: {json}"
            );
        }
    }

    /// Every sample of the exposition, by series (name and labels as written); panics on a line that
    /// is neither a comment nor `series value`.
    pub async fn metrics(&self) -> std::collections::BTreeMap<String, f64> {
        let text = self.get("/metrics", &[]).await.text().await.unwrap();
        let mut samples = std::collections::BTreeMap::new();
        for line in text.lines() {
            if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
                continue;
            }
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("not a sample: {line:?}"));
            let name_ok = series
                .split('{')
                .next()
                .unwrap()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
            assert!(
                name_ok && (!series.contains('{') || series.ends_with('}')),
                "bad series: {line:?}"
            );
            samples.insert(
                series.to_string(),
                value
                    .parse::<f64>()
                    .unwrap_or_else(|_| panic!("bad value: {line:?}")),
            );
        }
        samples
    }

    /// One series of /metrics (name and labels as written), which must be exported.
    pub async fn metric(&self, series: &str) -> f64 {
        let samples = self.metrics().await;
        *samples
            .get(series)
            .unwrap_or_else(|| panic!("{series} is not exported"))
    }

    /// The live-pipelines gauge from /metrics.
    pub async fn live_pipelines(&self) -> usize {
        self.metric("pythumbio_live_pipelines").await as usize
    }

    /// GStreamer streaming threads in the process, named after their pad ("queue0:src"). GLib
    /// keeps a stopped task's thread in its pool for a moment, under the same name.
    pub fn streaming_threads(&self) -> Vec<String> {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.child.id())).unwrap();
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .map(|name| name.trim().to_string())
            .filter(|name| name.contains(':'))
            .collect()
    }

    /// Waits up to `within` for the live-pipelines gauge to reach 0; returns how long it took.
    /// A guard decrements the gauge only after its pipeline has reached NULL.
    pub async fn wait_idle(&self, within: Duration) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() <= within {
            if self.live_pipelines().await == 0 {
                return Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// Asserts that no pipeline is left and no streaming thread runs. GLib's pool keeps up to
    /// two idle threads (for up to 15 s) under the name of their last task: those are allowed;
    /// a pipeline that did not reach NULL keeps more (its source, queues and demuxer).
    pub async fn assert_nothing_left(&self) {
        self.wait_idle(Duration::from_secs(1))
            .await
            .expect("no pipeline is left behind");
        let started = Instant::now();
        while self.streaming_threads().len() > 2 {
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "threads left: {:?}",
                self.streaming_threads()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits up to `within` for the process to exit; its status if it did.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < within {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The service's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Open file descriptors of the service process.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .expect("the service's descriptors can be listed")
            .count()
    }

    /// The GStreamer plugin files the service process has loaded so far.
    pub fn loaded_plugins(&self) -> std::collections::BTreeSet<String> {
        std::fs::read_to_string(format!("/proc/{}/maps", self.child.id()))
            .expect("the service's mappings can be read")
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .filter(|path| path.contains("/gstreamer-1.0/") && path.ends_with(".so"))
            .map(str::to_string)
            .collect()
    }

    /// Threads of the service process.
    pub fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.child.id()))
            .expect("the service's threads can be listed")
            .count()
    }

    /// Sends the service a signal ("HUP", "TERM").
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits up to `within` for `path` to answer `status`; returns whether it did.
    pub async fn wait_for_status(
        &self,
        path: &str,
        params: &[(&str, &str)],
        status: u16,
        within: Duration,
    ) -> bool {
        let started = Instant::now();
        while started.elapsed() < within {
            if self.get(path, params).await.status() == status {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// Waits up to 5 s for a log line holding every one of `needles`; returns the whole log.
    pub async fn wait_for_log(&self, needles: &[&str]) -> String {
        let started = Instant::now();
        loop {
            let log = self.log_text();
            if log.lines().any(|l| needles.iter().all(|n| l.contains(n)))
                || started.elapsed() > Duration::from_secs(5)
            {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

/// Every test also checks that the service logged no GLib/GStreamer critical warning: each one
/// is a misuse of an API (an unref of nothing, a wrong state change) that works by luck.
impl Drop for Service {
    fn drop(&mut self) {
        let exited = self.child.try_wait().ok().flatten();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(stderr) = self.stderr.take() {
            let _ = stderr.join();
        }
        if std::thread::panicking() {
            // The test failed: say whether the service had died, and what it logged last.
            if let Some(status) = exited {
                eprintln!("the service had exited before the end of the test: {status}");
            }
            let log = self.log.lock().unwrap();
            for line in log.iter().rev().take(40).rev() {
                eprintln!("service: {line}");
            }
            return;
        }
        let log = self.log.lock().unwrap();
        // A warning's text may run onto the next line: both are kept.
        let criticals: Vec<String> = log
            .iter()
            .enumerate()
            .filter(|(_, l)| l.contains("-CRITICAL **"))
            .map(|(i, l)| match log.get(i + 1) {
                Some(next) if l.trim_end().ends_with(':') => format!("{l} {next}"),
                _ => l.clone(),
            })
            .collect();
        if !criticals.is_empty() {
            for line in log.iter().rev().take(60).rev() {
                eprintln!("service: {line}");
            }
        }
        assert!(criticals.is_empty(), "critical warnings: {criticals:#?}");
    }
}

/// Asserts the shared JSON error shape and returns the body.
pub fn error_json(
    status: u16,
    content_type: &str,
    body: &[u8],
    want_status: u16,
    want_code: &str,
) -> serde_json::Value {
    let text = String::from_utf8_lossy(body);
    assert_eq!(status, want_status, "body: {text}");
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}: {text}"
    );
    let json: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(json["status"], want_status, "{json}");
    assert_eq!(json["code"], want_code, "{json}");
    assert!(
        json["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{json}"
    );
    json
}

/// A decoded still image: size and the RGB of its centre.
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub rgb: image::RgbImage,
}

impl Image {
    pub fn decode(bytes: &[u8], format: image::ImageFormat) -> Self {
        let rgb = image::load_from_memory_with_format(bytes, format)
            .expect("the image decodes")
            .to_rgb8();
        Self {
            width: rgb.width(),
            height: rgb.height(),
            rgb,
        }
    }

    pub fn centre(&self) -> [u8; 3] {
        self.rgb.get_pixel(self.width / 2, self.height / 2).0
    }

    /// Whether a 5x5 grid of points over the picture all have the centre's colour (within what
    /// JPEG changes).
    pub fn is_uniform(&self) -> bool {
        let centre = self.centre();
        (1..=5).all(|i| {
            (1..=5).all(|j| {
                let p = self
                    .rgb
                    .get_pixel(i * self.width / 6, j * self.height / 6)
                    .0;
                p.iter().zip(centre).all(|(a, b)| a.abs_diff(b) <= 24)
            })
        })
    }
}

/// What a media file holds, read back with GStreamer.
#[derive(Debug)]
pub struct Report {
    /// Caps names of the streams, e.g. "video/x-vp8", "audio/x-opus".
    pub codecs: Vec<String>,
    pub width: u32,
    pub height: u32,
    pub framerate: (i32, i32),
    /// Every decoded video frame: its time and its centre pixel.
    pub frames: Vec<(gst::ClockTime, [u8; 3])>,
}

impl Report {
    /// The time from the first frame to the end of the last, assuming a constant frame rate.
    pub fn video_seconds(&self) -> f64 {
        let (Some(first), Some(last)) = (self.frames.first(), self.frames.last()) else {
            return 0.0;
        };
        let frame = self.framerate.1 as f64 / self.framerate.0 as f64;
        (last.0 - first.0).seconds_f64() + frame
    }
}

/// An output written to a temporary file named for its type, for GStreamer to read back.
fn output_file(bytes: &[u8], ext: &str) -> tempfile::NamedTempFile {
    gst::init().unwrap();
    let file = tempfile::Builder::new()
        .suffix(&format!(".{ext}"))
        .tempfile()
        .unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    file
}

/// Reads a media file's streams (Discoverer) and decodes its video frames.
pub fn inspect(bytes: &[u8], ext: &str) -> Report {
    let file = output_file(bytes, ext);
    let uri = glib::filename_to_uri(file.path(), None).unwrap();
    let discoverer = pbutils::Discoverer::new(gst::ClockTime::from_seconds(20)).unwrap();
    let info = discoverer
        .discover_uri(&uri)
        .expect("the output is readable media");
    let codecs = info
        .stream_list()
        .iter()
        .filter(|s| !s.is::<pbutils::DiscovererContainerInfo>())
        .filter_map(|s| s.caps())
        .map(|c| c.structure(0).unwrap().name().to_string())
        .collect();
    let mut report = Report {
        codecs,
        width: 0,
        height: 0,
        framerate: (0, 1),
        frames: Vec::new(),
    };
    if let Some(video) = info.video_streams().first() {
        report.width = video.width();
        report.height = video.height();
        report.framerate = (video.framerate().numer(), video.framerate().denom());
        report.frames = decode_video(file.path());
    }
    report
}

/// The first video frame of an encoded output (WebM, WebP...), decoded with GStreamer, as RGB.
pub fn first_frame(bytes: &[u8], ext: &str) -> image::RgbImage {
    let file = output_file(bytes, ext);
    let (pipeline, sink) = rgb_decoder(file.path());
    pipeline.set_state(gst::State::Playing).unwrap();
    let sample = sink.pull_sample().expect("the output has a frame");
    let (w, h) = sample_size(&sample);
    let map = sample.buffer().unwrap().map_readable().unwrap();
    let stride = map.len() / h;
    let image = image::RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let at = y as usize * stride + x as usize * 3;
        image::Rgb([map[at], map[at + 1], map[at + 2]])
    });
    drop(map);
    pipeline.set_state(gst::State::Null).unwrap();
    image
}

/// A pipeline that decodes the file at `path` to RGB frames, and its sink.
fn rgb_decoder(path: &Path) -> (gst::Pipeline, gst_app::AppSink) {
    let uri = glib::filename_to_uri(path, None).unwrap();
    let pipeline = gst::parse::launch(&format!(
        "uridecodebin uri={uri} name=d d. ! video/x-raw ! videoconvert ! video/x-raw,format=RGB \
         ! appsink name=s sync=false"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = pipeline
        .by_name("s")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    (pipeline, sink)
}

/// A video sample's width and height.
fn sample_size(sample: &gst::Sample) -> (usize, usize) {
    let s = sample.caps().unwrap().structure(0).unwrap().to_owned();
    (
        s.get::<i32>("width").unwrap() as usize,
        s.get::<i32>("height").unwrap() as usize,
    )
}

fn decode_video(path: &Path) -> Vec<(gst::ClockTime, [u8; 3])> {
    let (pipeline, sink) = rgb_decoder(path);
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut frames = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        let (w, h) = sample_size(&sample);
        let buffer = sample.buffer().unwrap();
        let map = buffer.map_readable().unwrap();
        let stride = map.len() / h;
        let at = (h / 2) * stride + (w / 2) * 3;
        frames.push((buffer.pts().unwrap(), [map[at], map[at + 1], map[at + 2]]));
    }
    // The frames end at the end of the output, or at an error: a broken output must not pass
    // for a short one.
    let error = pipeline
        .bus()
        .unwrap()
        .pop_filtered(&[gst::MessageType::Error]);
    pipeline.set_state(gst::State::Null).unwrap();
    if let Some(gst::MessageView::Error(e)) = error.as_ref().map(|m| m.view()) {
        panic!(
            "the output does not decode: {} ({:?})",
            e.error(),
            e.debug()
        );
    }
    frames
}

/// A raw HTTP/1.1 GET, returning the response head and the sizes of the body's chunks as sent.
pub fn raw_chunked_get(addr: SocketAddr, path_and_query: &str) -> (String, Vec<usize>) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut sizes = Vec::new();
    let mut at = split;
    loop {
        let line_end = at
            + raw[at..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("a chunk size line");
        let size =
            usize::from_str_radix(std::str::from_utf8(&raw[at..line_end]).unwrap().trim(), 16)
                .unwrap();
        if size == 0 {
            break;
        }
        sizes.push(size);
        at = line_end + 2 + size + 2;
    }
    (head, sizes)
}

/// Runs the binary to its end with `args` and `env` (a subcommand, or a start that must fail).
pub fn run_binary(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pythumbio"));
    command.args(args).envs(env.iter().copied());
    command.output().unwrap()
}

/// `run_binary` that must succeed: what it printed.
pub fn binary_output(args: &[&str], env: &[(&str, &str)]) -> String {
    let output = run_binary(args, env);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The service started on the pipeline files given as (file name, text), in a directory of
/// their own (kept as long as the service).
pub fn with_pipelines(files: &[(&str, &str)]) -> (Service, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let service = Service::with_env(&[("PYTHUMBIO_PIPELINES", dir.path().to_str().unwrap())]);
    (service, dir)
}

/// A plugin directory holding only the built plugin, and a registry of its own.
pub fn plugin_env() -> (tempfile::TempDir, Vec<(&'static str, std::path::PathBuf)>) {
    let deps = std::path::Path::new(env!("CARGO_BIN_EXE_pythumbio"))
        .parent()
        .unwrap()
        .join("deps");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        deps.join("libpythumbio.so"),
        dir.path().join("libpythumbio.so"),
    )
    .unwrap();
    let env = vec![
        ("GST_PLUGIN_PATH", dir.path().to_path_buf()),
        ("GST_REGISTRY", dir.path().join("registry.bin")),
    ];
    (dir, env)
}

/// Chromium on the PATH (Debian's package installs /usr/bin/chromium).
pub fn chromium() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .map(|found| found.display().to_string())
        .expect("chromium on the PATH (Debian's chromium package)")
}
