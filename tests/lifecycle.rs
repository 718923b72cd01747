//! Pipelines live exactly as long as their responses; concurrency is bounded; configuration
//! errors name the variable.

mod support;

use std::io::{Read, Write};
use std::time::Duration;
use support::media::palette_index;
use support::media::Media;
use support::{media_url, path_url, raw_chunked_get, Image, Service};

fn long_mp4() -> String {
    media_url(Media {
        frames: 1800,
        ..Media::mp4()
    })
}

/// Opens a /webm stream on a raw socket and reads until the body has started.
fn open_stream(service: &Service, url: &str) -> std::net::TcpStream {
    open_stream_with(service, &[("url", url)])
}

fn open_stream_with(service: &Service, params: &[(&str, &str)]) -> std::net::TcpStream {
    let mut stream = std::net::TcpStream::connect(service.addr).unwrap();
    let target = service.url("/webm", params);
    let path =
        &target[target.find(&service.addr.to_string()).unwrap() + service.addr.to_string().len()..];
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut head = vec![0u8; 4096];
    let n = stream.read(&mut head).unwrap();
    assert!(
        head[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head[..n])
    );
    stream
}

#[tokio::test]
async fn a_client_leaving_mid_webm_stops_its_pipeline_within_a_second() {
    let service = Service::start();
    let url = long_mp4();
    for _ in 0..3 {
        let stream = open_stream(&service, &url);
        assert_eq!(service.live_pipelines().await, 1);
        assert!(!service.streaming_threads().is_empty());
        drop(stream);
        let took = service.wait_idle(Duration::from_secs(1)).await;
        assert!(
            took.is_some(),
            "the pipeline outlived its client: {}",
            service.log_text()
        );
    }
    service.assert_nothing_left().await;
}

#[tokio::test]
async fn pipelines_are_bounded_and_the_overflow_gets_503() {
    let service = Service::with_env(&[
        ("PYTHUMBIO_WORKERS", "1"),
        ("PYTHUMBIO_CONCURRENCY_PER_WORKER", "1"),
        ("PYTHUMBIO_QUEUE_LENGTH", "0"),
    ]);
    let url = long_mp4();
    // The held stream is not read: backpressure keeps its pipeline (and its slot) alive.
    let held = open_stream(&service, &url);
    let response = service.get("/thumb", &[("url", &url)]).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("retry-after").is_some());
    let json: serde_json::Value = response.json().await.unwrap();
    assert_eq!(json["code"], "busy");
    drop(held);
    service
        .wait_idle(Duration::from_secs(1))
        .await
        .expect("the pipeline ends");
    // The slot is free once the pipeline is in NULL: a thumbnail is served again.
    assert!(
        service
            .wait_for_status("/thumb", &[("url", &url)], 200, Duration::from_secs(2))
            .await,
        "the slot is not freed"
    );
}

/// Distinct requests (nothing shared, no cache) queue for the one slot and run one at a time:
/// a slot is free again only once the pipeline before is in NULL, so there is never more than
/// one live pipeline.
#[tokio::test]
async fn queued_requests_wait_for_a_slot() {
    let service = Service::with_env(&[
        ("PYTHUMBIO_WORKERS", "1"),
        ("PYTHUMBIO_CONCURRENCY_PER_WORKER", "1"),
        ("PYTHUMBIO_QUEUE_LENGTH", "8"),
        ("PYTHUMBIO_CACHE_MB", "0"),
    ]);
    let url = media_url(Media::mp4());
    let done = std::sync::atomic::AtomicBool::new(false);
    let most_live = async {
        let mut most = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            most = most.max(service.live_pipelines().await);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        most
    };
    let times: Vec<String> = (0..6).map(|i| format!("{i}.5")).collect();
    let requests = futures_util::future::join_all(times.iter().map(|time| {
        let (service, url) = (&service, &url);
        async move {
            service
                .get("/thumb", &[("url", url.as_str()), ("time", time.as_str())])
                .await
        }
    }));
    let finished = async {
        let responses = requests.await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        responses
    };
    let (responses, most) = tokio::join!(finished, most_live);
    for (second, response) in responses.into_iter().enumerate() {
        assert_eq!(response.status(), 200);
        let image = Image::decode(&response.bytes().await.unwrap(), image::ImageFormat::Jpeg);
        assert_eq!(
            palette_index(image.centre()),
            second,
            "the frame of second {second}"
        );
    }
    assert_eq!(most, 1, "live pipelines with one slot");
    assert_eq!(
        service.metric("pythumbio_pipelines_started_total").await,
        6.0,
        "six pipelines, one per request"
    );
}

/// A request that waits longer than PYTHUMBIO_QUEUE_TIMEOUT for a slot gets 503 and a
/// Retry-After.
#[tokio::test]
async fn a_request_that_waits_too_long_gets_503() {
    let service = Service::with_env(&[
        ("PYTHUMBIO_WORKERS", "1"),
        ("PYTHUMBIO_CONCURRENCY_PER_WORKER", "1"),
        ("PYTHUMBIO_QUEUE_TIMEOUT", "1"),
    ]);
    // The one slot is taken by a stream its client does not read.
    let _held = open_stream(&service, &long_mp4());
    let started = std::time::Instant::now();
    let response = service
        .get("/thumb", &[("url", &media_url(Media::mp4()))])
        .await;
    let waited = started.elapsed();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[tokio::test]
async fn no_chunk_is_larger_than_the_chunk_size() {
    let service = Service::with_env(&[("PYTHUMBIO_CHUNKSIZE", "1024")]);
    let path = Media::mp4().path();
    let url = path_url(&path);
    let target = service.url("/webm", &[("url", &url)]);
    let path_and_query = target[target.find("/webm").unwrap()..].to_string();
    let addr = service.addr;
    let (head, sizes) = tokio::task::spawn_blocking(move || raw_chunked_get(addr, &path_and_query))
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(sizes.iter().all(|&s| s <= 1024), "{sizes:?}");
    // Keyframes are larger than 1 KiB: they are cut into full chunks.
    assert!(sizes.contains(&1024), "{sizes:?}");
}

#[test]
fn bad_configuration_names_the_variable() {
    for (name, value) in [
        ("PYTHUMBIO_PORT", "eighty"),
        ("PYTHUMBIO_WORKERS", "0"),
        ("PYTHUMBIO_CONCURRENCY_PER_WORKER", "-1"),
        ("PYTHUMBIO_CHUNKSIZE", "lots"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_pythumbio"))
            .env(name, value)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{name}={value} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(name), "{name}: {stderr}");
    }
}

#[test]
fn help_lists_every_variable() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pythumbio"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    let names = |text: &str| -> std::collections::BTreeSet<String> {
        text.match_indices("PYTHUMBIO_")
            .map(|(at, _)| {
                text[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect::<String>()
            })
            .collect()
    };
    // docs/configuration.md's table: the first cell of each row that names variables.
    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .unwrap();
    let documented: String = readme
        .lines()
        .filter(|l| l.starts_with("| `PYTHUMBIO_"))
        .filter_map(|l| l.split('|').nth(1))
        .collect();
    let (in_help, in_readme) = (names(&help), names(&documented));
    assert!(in_help.len() >= 30, "{in_help:?}");
    assert_eq!(
        in_help, in_readme,
        "--help and docs/configuration.md's table differ"
    );
}

#[tokio::test]
async fn sigterm_turns_readiness_false_lets_streams_finish_then_exits_0() {
    let mut service = Service::with_env(&[
        ("PYTHUMBIO_SHUTDOWN_DELAY", "2"),
        ("PYTHUMBIO_SHUTDOWN_GRACE", "5"),
    ]);
    // Noise at a high bitrate: far more output than socket buffers hold, so the stream is still
    // going when the grace ends.
    let url = media_url(Media::noise_minute());
    assert_eq!(service.get("/readyz", &[]).await.status(), 200);
    let mut stream = open_stream_with(
        &service,
        &[("url", &url), ("bitrate", "20000"), ("width", "320")],
    );
    service.signal("TERM");
    // During the delay: still served, but not ready.
    let started = std::time::Instant::now();
    assert!(
        service
            .wait_for_status("/readyz", &[], 503, Duration::from_millis(1500))
            .await,
        "readiness did not turn false"
    );
    // After it: no new connections.
    let closed = loop {
        let refused = reqwest::get(format!("http://{}/healthz", service.addr))
            .await
            .is_err();
        if refused || started.elapsed() > Duration::from_millis(3500) {
            break refused.then(|| started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let closed = closed.expect("the listener is still open");
    assert!(
        closed >= Duration::from_millis(1800),
        "closed after {closed:?}, inside the delay"
    );
    // The stream in flight still flows.
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buffer = vec![0u8; 1024];
    let mut received = 0;
    while started.elapsed() < Duration::from_millis(4000) {
        match stream.read(&mut buffer) {
            Ok(0) => panic!("the stream ended before the grace did"),
            Ok(n) => received += n,
            Err(e) => panic!("the stream broke inside the grace: {e}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(received > 0, "nothing arrived during the grace");
    // The grace ends: the process exits 0, and the stream is cut: what is left of it ends
    // without the chunked body's last chunk, so the client knows it is not the whole video.
    let status = service
        .wait_exit(Duration::from_secs(5))
        .expect("the service exits after the grace");
    assert!(status.success(), "{status:?}: {}", service.log_text());
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert!(
        !rest.ends_with(b"0\r\n\r\n"),
        "the stream ended cleanly after the grace, {} bytes later",
        rest.len()
    );
    let log = service.wait_for_log(&["shutdown grace over"]).await;
    assert!(log.contains("shutdown grace over"), "{log}");
}

#[tokio::test]
async fn a_stream_is_cut_at_its_wall_clock_limit() {
    let service = Service::with_env(&[("PYTHUMBIO_MAX_STREAM_TIME", "1")]);
    let mut stream = open_stream(&service, &long_mp4());
    // The transcode of 60 s takes longer than the 1 s limit.
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let started = std::time::Instant::now();
    let mut buffer = [0u8; 1024];
    let mut received = Vec::new();
    let end = loop {
        match stream.read(&mut buffer) {
            Ok(0) => break "closed",
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(_) => break "error",
        }
        assert!(started.elapsed() < Duration::from_secs(15), "never cut");
    };
    // A chunked body cut short has no final zero-length chunk.
    assert!(!received.ends_with(b"0\r\n\r\n"), "ended cleanly ({end})");
    assert!(service.wait_idle(Duration::from_secs(2)).await.is_some());
    let log = service.wait_for_log(&["PYTHUMBIO_MAX_STREAM_TIME"]).await;
    assert!(log.contains("PYTHUMBIO_MAX_STREAM_TIME"), "{end}: {log}");
}

/// A client that sends nothing, or half a request, or keeps an idle keep-alive connection, is
/// closed after the idle or the header timeout; past the connection cap, new connections wait instead of
/// taking descriptors, and are served once the idle ones are closed.
#[tokio::test]
async fn idle_connections_are_closed_and_capped() {
    let service = Service::with_env(&[
        ("PYTHUMBIO_CLIENT_IDLE_TIMEOUT", "1"),
        ("PYTHUMBIO_HEADER_TIMEOUT", "1"),
        ("PYTHUMBIO_MAX_CONNECTIONS", "4"),
    ]);
    let addr = service.addr;
    let closed_within = |mut stream: std::net::TcpStream, within: Duration| {
        stream.set_read_timeout(Some(within)).unwrap();
        let mut buf = [0; 512];
        let started = std::time::Instant::now();
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return Some(started.elapsed()),
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return Some(started.elapsed())
                }
                Err(_) => return None,
            }
        }
    };
    let silent = std::net::TcpStream::connect(addr).unwrap();
    let mut half = std::net::TcpStream::connect(addr).unwrap();
    half.write_all(b"GET /healthz HT").unwrap();
    let mut kept = std::net::TcpStream::connect(addr).unwrap();
    kept.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .unwrap();
    let fourth = std::net::TcpStream::connect(addr).unwrap();
    // The cap is reached: a fifth client waits, and is served once the idle ones are gone.
    let started = std::time::Instant::now();
    let fifth = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .write_all(
                format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    });
    for stream in [silent, half, fourth] {
        let closed = closed_within(stream, Duration::from_secs(5));
        assert!(closed.is_some(), "an idle connection stayed open");
    }
    let mut head = [0; 17];
    kept.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200 OK\r\n");
    assert!(
        closed_within(kept, Duration::from_secs(5)).is_some(),
        "keep-alive stayed open"
    );
    let answer = fifth.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "the fifth connection was served before a slot was free"
    );
}

/// A client that sends its request head a byte at a time, each in time for the idle timeout, is
/// closed when the header timeout ends: the head must be whole by then.
#[tokio::test]
async fn a_trickled_request_head_is_cut_off() {
    let service = Service::with_env(&[
        ("PYTHUMBIO_CLIENT_IDLE_TIMEOUT", "60"),
        ("PYTHUMBIO_HEADER_TIMEOUT", "1"),
    ]);
    let addr = service.addr;
    let cut = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        let started = std::time::Instant::now();
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaa".iter() {
            if stream.write_all(&[*byte]).is_err() {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(100));
            if started.elapsed() > Duration::from_secs(10) {
                return None;
            }
        }
        None
    });
    let cut = cut.await.unwrap();
    assert!(
        cut.is_some_and(|t| t < Duration::from_secs(5)),
        "the trickling client was not cut off: {cut:?}"
    );
    // Others are served as before.
    assert_eq!(service.get("/healthz", &[]).await.status(), 200);
}

/// Start-up says what is wrong in the operator's words: an unknown `PYTHUMBIO_*` variable is a
/// warning with the name it is closest to, `*` as an allowlist is refused with the right
/// spelling, and a taken port names the address.
#[tokio::test]
async fn start_up_names_what_is_wrong() {
    let service = Service::with_env(&[("PYTHUMBIO_ALLOW_LOOPBAK", "true")]);
    let log = service
        .wait_for_log(&["PYTHUMBIO_ALLOW_LOOPBAK is not a setting"])
        .await;
    assert!(
        log.contains("did you mean PYTHUMBIO_ALLOW_LOOPBACK?"),
        "{log}"
    );

    // A subcommand's output stays what it prints: the warning goes to stderr.
    let typo = [("PYTHUMBIO_QUALTY", "5")];
    let output = support::run_binary(&["openapi"], &typo);
    assert!(output.status.success());
    serde_json::from_slice::<serde_json::Value>(&output.stdout).expect("stdout is the document");
    assert!(String::from_utf8_lossy(&output.stderr).contains("PYTHUMBIO_QUALTY is not a setting"));

    let output = support::run_binary(&[], &[("PYTHUMBIO_ALLOWED_SOURCES", "*")]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("PYTHUMBIO_ALLOWED_SOURCES")
            && stderr.contains("leave PYTHUMBIO_ALLOWED_SOURCES unset"),
        "{stderr}"
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = support::run_binary(
        &[],
        &[("PYTHUMBIO_HOST", "127.0.0.1"), ("PYTHUMBIO_PORT", &port)],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
}

/// `pythumbio health` is a HEALTHCHECK without curl: 0 while the service answers /healthz, 1
/// with the reason when nothing listens.
#[test]
fn health_asks_the_running_service() {
    let service = Service::start();
    let port = service.addr.port().to_string();
    let env = [
        ("PYTHUMBIO_HOST", "0.0.0.0"),
        ("PYTHUMBIO_PORT", port.as_str()),
    ];
    let output = support::run_binary(&["health"], &env);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let closed = support::closed_port().to_string();
    let env = [
        ("PYTHUMBIO_HOST", "127.0.0.1"),
        ("PYTHUMBIO_PORT", closed.as_str()),
    ];
    let output = support::run_binary(&["health"], &env);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains(&format!("127.0.0.1:{closed}")));
}
