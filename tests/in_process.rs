//! The service as a library value: two services in one process, each with its own source
//! policy, answer by their own policy, count their own pipelines and origin bytes, and stop only
//! their own pipelines. Nothing a service reads through is process-wide but the default for
//! sources GStreamer makes outside its pipelines.

mod support;

use clap::Parser;
use pythumbio::{catalog, config::Config, engine, http, source};
use std::sync::Arc;
use support::media::Media;

/// A service on 127.0.0.1 that does or does not read loopback sources, and its address.
async fn service(allow_loopback: bool) -> std::net::SocketAddr {
    served(allow_loopback).await.0
}

/// A service as `service` makes it, and the service value itself.
async fn served(allow_loopback: bool) -> (std::net::SocketAddr, Arc<http::App>) {
    let mut config = Config::try_parse_from(["pythumbio"]).unwrap();
    config.allow_loopback = allow_loopback;
    let origins = source::origins(
        config.source_policy().unwrap(),
        config.origin_timeouts(),
        config.origin_cache_bytes(),
    );
    let limits = catalog::OutputLimits {
        width: config.max_width as i64,
        height: config.max_height as i64,
    };
    let set = catalog::Source { dir: None, limits };
    let app = Arc::new(http::App::new(
        &config,
        set.load().unwrap(),
        set,
        origins.unwrap(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = http::router(app.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (address, app)
}

/// One sample of a service's /metrics.
async fn metric(address: std::net::SocketAddr, series: &str) -> f64 {
    let url = format!("http://{address}/metrics");
    let text = reqwest::get(url).await.unwrap().text().await.unwrap();
    let line = text
        .lines()
        .find(|l| l.split(' ').next() == Some(series))
        .unwrap_or_else(|| panic!("{series} is not exported"));
    line.rsplit_once(' ').unwrap().1.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_services_in_one_process_keep_their_own_policies() {
    engine::init().unwrap();
    let (open, closed) = (service(true).await, service(false).await);
    let url = support::media_url(Media::mp4());
    let client = reqwest::Client::new();
    let get = |address: std::net::SocketAddr, path: &'static str| {
        let request = client
            .get(format!("http://{address}{path}"))
            .query(&[("url", &url)]);
        async move { request.send().await.unwrap() }
    };
    for path in ["/thumb", "/meta", "/storyboard.json"] {
        let refused = get(closed, path).await;
        assert_eq!(refused.status(), 403, "{path}");
        let json: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(json["rule"], "loopback-address", "{path}: {json}");
        // The other service, asked after, reads the same source.
        let read = get(open, path).await;
        assert_eq!(read.status(), 200, "{path}");
        assert!(!read.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_counts_and_stops_only_its_own_pipelines() {
    engine::init().unwrap();
    let ((a, service_a), (b, service_b)) = (served(true).await, served(true).await);
    // Noise at a high bitrate: far more output than socket buffers hold, so a stream not read
    // is still going while the other service stops.
    let url = support::media_url(Media {
        frames: 600,
        ..Media::noise_minute()
    });
    let client = reqwest::Client::new();
    let thumb = client
        .get(format!("http://{a}/thumb"))
        .query(&[("url", &url)]);
    assert_eq!(thumb.send().await.unwrap().status(), 200);
    assert!(metric(a, "pythumbio_pipelines_started_total").await >= 1.0);
    assert!(metric(a, "pythumbio_origin_bytes_total").await > 0.0);
    assert_eq!(metric(b, "pythumbio_pipelines_started_total").await, 0.0);
    assert_eq!(metric(b, "pythumbio_origin_bytes_total").await, 0.0);

    // A stream on each; stopping one service's pipelines leaves the other's to finish.
    let open = |address: std::net::SocketAddr| {
        let request = client.get(format!("http://{address}/webm")).query(&[
            ("url", url.as_str()),
            ("bitrate", "20000"),
            ("width", "320"),
        ]);
        async move {
            let mut response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            let first = response.chunk().await.unwrap().expect("a first chunk");
            (response, first)
        }
    };
    let ((mut stopped, _), (mut running, first)) = (open(a).await, open(b).await);
    assert_eq!(service_b.pipelines().live(), 1);
    let stopping = service_a.pipelines().clone();
    tokio::task::spawn_blocking(move || stopping.stop_all(std::time::Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(
        service_b.pipelines().live(),
        1,
        "the other service's stream"
    );
    // The stopped stream gives what was on its way, then nothing: a second without a byte (a
    // stream still running at this bitrate sends megabytes a second), or a cut.
    let quiet = std::time::Duration::from_secs(1);
    let stalled = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            match tokio::time::timeout(quiet, stopped.chunk()).await {
                Err(_) | Ok(Err(_)) => return true,
                Ok(Ok(Some(_))) => {}
                Ok(Ok(None)) => return false,
            }
        }
    })
    .await;
    assert_eq!(stalled, Ok(true), "the stopped service's stream went on");
    drop(stopped);
    let mut body = first.to_vec();
    let read_rest = async {
        while let Some(chunk) = running
            .chunk()
            .await
            .expect("the stream goes on to its end")
        {
            body.extend_from_slice(&chunk);
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), read_rest)
        .await
        .expect("the stream ends");
    // Read back with ffprobe: this process's GStreamer reads files under the services' policy.
    let file = tempfile::Builder::new().suffix(".webm").tempfile().unwrap();
    std::fs::write(file.path(), &body).unwrap();
    let frames = support::ffmpeg::probe_frames(file.path());
    let seconds: f64 = frames.iter().map(|(duration, _, _)| duration).sum();
    assert!((seconds - 20.0).abs() < 0.5, "{seconds} s of 20");
    assert_eq!(metric(b, "pythumbio_pipelines_started_total").await, 1.0);
}
