//! The service as a library value: two services in one process, each with its own source
//! policy, answer by their own policy. Nothing a service reads through is process-wide but the
//! default for sources GStreamer makes outside its pipelines.

mod support;

use clap::Parser;
use pythumbio::{catalog, config::Config, engine, http, source};
use std::sync::Arc;
use support::media::Media;

/// A service on 127.0.0.1 that does or does not read loopback sources, and its address.
async fn service(allow_loopback: bool) -> std::net::SocketAddr {
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
    tokio::spawn(async move { axum::serve(listener, http::router(app)).await });
    address
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
