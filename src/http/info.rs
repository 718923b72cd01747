//! What the service says about itself: `/version` (what it runs on, and whether every element
//! its pipelines use is installed) and `/metrics` (Prometheus text).

use super::App;
use crate::engine;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Map, Value};
use std::fmt::Write;
use std::sync::Arc;

pub async fn version(State(app): State<Arc<App>>) -> Json<Value> {
    let gst = engine::gstreamer_version();
    let mut elements = Map::new();
    let catalog = app.catalog();
    for name in catalog.elements() {
        let entry = match engine::element_info(&name) {
            Some(info) => json!({
                "present": true, "plugin": info.plugin, "package": info.package, "version": info.version,
            }),
            None => json!({ "present": false }),
        };
        elements.insert(name, entry);
    }
    let endpoints: Map<String, Value> = catalog
        .endpoints
        .iter()
        .flat_map(|e| {
            e.paths()
                .into_iter()
                .map(move |(path, _)| (path, json!(e.summary)))
        })
        .collect();
    Json(json!({
        // The original answered {"ver": "<ffmpeg -version>"}; clients reading "ver" keep working.
        "ver": format!("pythumbio {} on GStreamer {gst}", env!("CARGO_PKG_VERSION")),
        "version": env!("CARGO_PKG_VERSION"),
        "gstreamer": gst,
        "elements": elements,
        "endpoints": endpoints,
    }))
}

/// The process is alive and answering.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready for traffic unless the service is shutting down: 503 then, with the reason. A pipeline
/// set that does not load, or that names an element not installed, stops the start and is
/// refused by a reload, so a running service always has a working set.
pub async fn readyz(State(app): State<Arc<App>>) -> impl IntoResponse {
    let draining = app.draining.load(std::sync::atomic::Ordering::SeqCst);
    let reasons: &[&str] = if draining { &["shutting down"] } else { &[] };
    let status = if draining {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let body = json!({ "ready": !draining, "endpoints": app.catalog().endpoints.len(), "reasons": reasons });
    (status, Json(body))
}

pub async fn metrics(State(app): State<Arc<App>>) -> impl IntoResponse {
    let mut out = String::new();
    let (hits, misses) = app.outputs.counts();
    let (reloaded, rejected) = app.reloads();
    // (type, name, help, value)
    let samples: [(&str, &str, &str, u64); 9] = [
        (
            "gauge",
            "pythumbio_live_pipelines",
            "Pipelines started and not yet set back to NULL.",
            app.pipelines.live() as u64,
        ),
        (
            "counter",
            "pythumbio_pipelines_started_total",
            "Pipelines started.",
            app.pipelines.started() as u64,
        ),
        (
            "gauge",
            "pythumbio_queue_waiting",
            "Requests waiting for a pipeline slot.",
            app.admission.waiting() as u64,
        ),
        (
            "gauge",
            "pythumbio_slots_free",
            "Pipeline slots free now.",
            app.admission.free_slots() as u64,
        ),
        (
            "counter",
            "pythumbio_origin_bytes_total",
            "Bytes fetched from origins.",
            app.origins.fetched(),
        ),
        (
            "counter",
            "pythumbio_cache_hits_total",
            "Whole outputs served from memory or shared with a request making them.",
            hits,
        ),
        (
            "counter",
            "pythumbio_cache_misses_total",
            "Whole outputs made because memory did not hold them.",
            misses,
        ),
        (
            "counter",
            "pythumbio_reloads_total",
            "Pipeline set reloads that swapped a new set in.",
            reloaded,
        ),
        (
            "counter",
            "pythumbio_reload_failures_total",
            "Pipeline set reloads rejected (the set in use stayed).",
            rejected,
        ),
    ];
    for (kind, name, help, value) in samples {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP pythumbio_origin_response_seconds Time an origin took to answer a request with its head.\n\
         # TYPE pythumbio_origin_response_seconds histogram"
    );
    app.origins
        .response_times()
        .write(&mut out, "pythumbio_origin_response_seconds", "");
    app.metrics.write(&mut out);
    super::process::write(&mut out);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

/// The OpenAPI document of the pipeline set in use.
pub async fn openapi(State(app): State<Arc<App>>) -> Json<Value> {
    Json(super::openapi::document(
        &app.catalog(),
        app.signer.is_some(),
    ))
}

/// The OpenAPI document as a page, rendered in the browser from /openapi.json with nothing
/// fetched from elsewhere.
pub async fn docs() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        include_str!("docs.html"),
    )
}
