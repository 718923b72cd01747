//! What the service says about itself: `/version` (what it runs on, and whether every element
//! its pipelines use is installed) and `/metrics` (Prometheus text).

use super::App;
use crate::engine;
use axum::extract::State;
use axum::http::header;
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

pub async fn metrics(State(app): State<Arc<App>>) -> impl IntoResponse {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, value: usize| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    };
    gauge(
        "pythumbio_live_pipelines",
        "Pipelines started and not yet set back to NULL.",
        engine::live_pipelines(),
    );
    gauge(
        "pythumbio_queue_waiting",
        "Requests waiting for a pipeline slot.",
        app.admission.waiting(),
    );
    gauge(
        "pythumbio_slots_free",
        "Pipeline slots free now.",
        app.admission.free_slots(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
