//! /metrics parses as Prometheus text and its series move with the requests that were made.

mod support;

use std::collections::BTreeMap;
use support::media::Media;
use support::{media_url, origin_url, Service};

fn get(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn counters_move_with_requests() {
    let service = Service::start();
    let url = media_url(Media::mp4());
    let before = service.metrics().await;

    let thumb = service.get("/thumb", &[("url", &url)]).await;
    let tag = thumb.headers()["etag"].clone();
    let thumb_bytes = thumb.bytes().await.unwrap().len() as f64;
    let webm_bytes = service
        .get("/webm", &[("url", &url), ("duration", "1")])
        .await
        .bytes()
        .await
        .unwrap()
        .len() as f64;
    let not_modified = reqwest::Client::new()
        .get(service.url("/thumb", &[("url", &url)]))
        .header("if-none-match", tag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);
    service
        .get("/thumb", &[("url", &origin_url("no-such.mp4"))])
        .await
        .bytes()
        .await
        .unwrap();
    service
        .get("/thumb", &[("url", &url), ("width", "99999")])
        .await
        .bytes()
        .await
        .unwrap();
    service
        .get("/wp-admin/setup.php", &[])
        .await
        .bytes()
        .await
        .unwrap();
    service.assert_nothing_left().await;

    let after = service.metrics().await;
    let delta = |series: &str| get(&after, series) - get(&before, series);
    assert_eq!(
        delta(r#"pythumbio_requests_total{endpoint="/thumb",status="200"}"#),
        1.0
    );
    assert_eq!(
        delta(r#"pythumbio_requests_total{endpoint="/thumb",status="304"}"#),
        1.0
    );
    assert_eq!(
        delta(r#"pythumbio_requests_total{endpoint="/thumb",status="502"}"#),
        1.0
    );
    assert_eq!(
        delta(r#"pythumbio_requests_total{endpoint="/webm",status="200"}"#),
        1.0
    );
    assert_eq!(
        delta(r#"pythumbio_requests_total{endpoint="other",status="404"}"#),
        1.0,
        "unknown paths share one label"
    );
    assert!(!after.keys().any(|k| k.contains("wp-admin")));
    assert_eq!(
        delta(r#"pythumbio_request_seconds_count{endpoint="/thumb"}"#),
        4.0
    );
    assert_eq!(
        delta(r#"pythumbio_request_seconds_bucket{endpoint="/thumb",le="+Inf"}"#),
        4.0
    );
    // Error responses by code: the origin's 404, the bad width, the unknown path.
    for code in ["origin_error", "invalid_parameter", "not_found"] {
        assert_eq!(
            delta(&format!("pythumbio_errors_total{{code=\"{code}\"}}")),
            1.0,
            "{code}"
        );
    }
    // Queue waits and pipeline times: the two thumbnails that ran a pipeline, the one that
    // failed included (not the 304 nor the refused width), and the stream.
    for (series, n) in [
        (
            r#"pythumbio_queue_wait_seconds_count{endpoint="/thumb"}"#,
            2.0,
        ),
        (
            r#"pythumbio_queue_wait_seconds_count{endpoint="/webm"}"#,
            1.0,
        ),
        (
            r#"pythumbio_pipeline_seconds_count{endpoint="/thumb"}"#,
            2.0,
        ),
        (r#"pythumbio_pipeline_seconds_count{endpoint="/webm"}"#, 1.0),
    ] {
        assert_eq!(delta(series), n, "{series}");
    }
    assert!(
        get(
            &after,
            r#"pythumbio_pipeline_seconds_sum{endpoint="/thumb"}"#
        ) > 0.0,
        "a pipeline takes some time"
    );
    // Every origin request is timed: at least the thumbnail's, the stream's and the 404's.
    let asked = delta("pythumbio_origin_response_seconds_count");
    assert!(asked >= 3.0, "{asked} origin requests timed");
    assert_eq!(
        get(
            &after,
            r#"pythumbio_origin_response_seconds_bucket{le="+Inf"}"#
        ),
        get(&after, "pythumbio_origin_response_seconds_count")
    );
    assert_eq!(delta("pythumbio_not_modified_total"), 1.0);
    assert_eq!(
        delta(r#"pythumbio_pipeline_errors_total{element="pythumbiohttpsrc"}"#),
        1.0
    );
    assert_eq!(
        delta("pythumbio_pipelines_started_total"),
        3.0,
        "thumb, webm, the failed thumb; not the 304"
    );
    assert!(
        delta("pythumbio_sent_bytes_total") >= thumb_bytes + webm_bytes,
        "the stream's bytes count too"
    );
    assert!(delta("pythumbio_origin_bytes_total") > 0.0);
    assert_eq!(get(&after, "pythumbio_live_pipelines"), 0.0);
}

/// The process metrics dashboards expect, under Prometheus' names, agree with what /proc says
/// of the process from outside; the build info names the version.
#[tokio::test]
async fn process_metrics_and_build_info() {
    let service = Service::start();
    let samples = service.metrics().await;
    let (fds, threads) = (service.open_fds() as f64, service.threads() as f64);
    let near = |series: &str, want: f64| {
        let got = get(&samples, series);
        assert!(
            (got - want).abs() <= 8.0,
            "{series}: {got}, /proc says {want}"
        );
    };
    near("process_open_fds", fds);
    near("process_threads", threads);
    assert!(get(&samples, "process_resident_memory_bytes") > 4e6);
    assert!(samples.contains_key("process_cpu_seconds_total"));
    let info = samples
        .keys()
        .find(|k| k.starts_with("pythumbio_build_info{"))
        .expect("build info");
    assert!(
        info.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION")))
            && info.contains("gstreamer=\"1."),
        "{info}"
    );
}

/// With PYTHUMBIO_METRICS_BIND, /metrics is on its own listener and not on the public port,
/// and it counts the public port's requests.
#[tokio::test]
async fn metrics_can_have_a_listener_of_their_own() {
    let port = support::closed_port();
    let bind = format!("127.0.0.1:{port}");
    let service = Service::with_env(&[("PYTHUMBIO_METRICS_BIND", &bind)]);
    assert_eq!(service.get("/metrics", &[]).await.status(), 404);
    assert_eq!(service.get("/version", &[]).await.status(), 200);
    let text = reqwest::get(format!("http://{bind}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"pythumbio_requests_total{endpoint="/version",status="200"} 1"#),
        "{text}"
    );
}
