//! The OpenAPI 3.1 description of the service, made from the pipeline set in use: every endpoint
//! a pipeline file defines, with its parameters' types, bounds, defaults and values, its content
//! types and its error responses, plus the service's own pages.

use crate::catalog::params::{ParamKind, Value};
use crate::catalog::{Catalog, Endpoint, Kind};
use serde_json::{json, Map, Value as Json};

/// The service's own pages: path, summary, content type.
pub const SERVICE_PAGES: &[(&str, &str, &str)] = &[
    (
        "/version",
        "What the service runs on: its version, GStreamer's, and the elements in use",
        "application/json",
    ),
    ("/metrics", "Prometheus metrics", "text/plain"),
    (
        "/healthz",
        "Liveness: the process answers",
        "application/json",
    ),
    (
        "/readyz",
        "Readiness: 200 while serving, 503 once the service is shutting down",
        "application/json",
    ),
    ("/openapi.json", "This document", "application/json"),
    ("/docs", "This document, readable", "text/html"),
    (
        "/",
        "The playground: a video's thumbnail, preview, storyboard, metadata and stream, side by side",
        "text/html",
    ),
    (
        "/sample.webm",
        "The built-in sample clip the playground opens on (10 s, VP8 and Opus; honours Range)",
        "video/webm",
    ),
];

pub fn document(catalog: &Catalog) -> Json {
    let mut paths = Map::new();
    for (path, summary, content_type) in SERVICE_PAGES {
        let mut responses =
            json!({ "200": { "description": "OK", "content": { *content_type: {} } } });
        if *path == "/readyz" {
            responses["503"] = json!({
                "description": "Shutting down: `ready` is false and `reasons` says why",
                "content": { "application/json": {} },
            });
        }
        let op = json!({
            "summary": summary,
            "operationId": operation_id(path),
            "responses": responses,
        });
        paths.insert(path.to_string(), json!({ "get": op }));
    }
    for endpoint in &catalog.endpoints {
        for (path, preset) in endpoint.paths() {
            paths.insert(
                path.clone(),
                json!({ "get": operation(endpoint, &path, preset.as_ref().map(|p| p.0.as_str())) }),
            );
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "pythumbio",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Video thumbnails, streaming WebM transcodes, previews, storyboards and metadata over HTTP, on GStreamer.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "code", "status"],
                    "properties": {
                        "error": { "type": "string", "description": "What went wrong, for people" },
                        "code": { "type": "string", "description": "What went wrong, for programs" },
                        "status": { "type": "integer" },
                        "parameter": { "type": "string" },
                        "value": { "type": "string" },
                        "allowed": { "type": "string" },
                        "known": { "type": "array", "items": { "type": "string" } },
                        "origin_status": { "type": "integer" },
                    },
                },
            },
            "responses": error_responses(),
        },
    })
}

fn operation_id(path: &str) -> String {
    let id: String = path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    match id.trim_matches('_') {
        "" => "playground".to_string(),
        id => id.to_string(),
    }
}

fn operation(endpoint: &Endpoint, path: &str, preset: Option<&str>) -> Json {
    let parameters: Vec<Json> = endpoint
        .params
        .iter()
        .filter(|p| Some(p.name.as_str()) != preset)
        .map(|p| {
            let mut schema = schema(&p.kind);
            if let Some(default) = &p.default {
                schema["default"] = match default {
                    // Seconds are written as text (12.5, 1:02.5), their default too.
                    Value::Float(v) if matches!(p.kind, ParamKind::Seconds { .. }) => json!(v.to_string()),
                    Value::Int(v) => json!(v),
                    Value::Float(v) => json!(v),
                    Value::Bool(v) => json!(v),
                    Value::Word(w) | Value::Url(w) => json!(w),
                    Value::Share(_) | Value::Auto => json!(default.to_string()),
                };
            }
            json!({ "name": p.name, "in": "query", "required": p.required, "description": p.doc, "schema": schema })
        })
        .collect();
    let content_types = endpoint.content_types();
    let content: Map<String, Json> = content_types
        .iter()
        .map(|t| {
            (
                t.clone(),
                json!({ "schema": { "type": "string", "contentMediaType": t } }),
            )
        })
        .collect();
    let mut responses = Map::new();
    let what = match endpoint.kind() {
        Kind::Stream => "The output, sent as it is made (chunked)",
        _ => "The output",
    };
    responses.insert(
        "200".into(),
        json!({ "description": what, "content": content }),
    );
    if endpoint.cacheable {
        responses.insert(
            "304".into(),
            json!({ "description": "Not modified: the If-None-Match tag is current" }),
        );
    }
    for code in ["400", "403", "415", "422", "502", "503", "504"] {
        responses.insert(
            code.into(),
            json!({ "$ref": format!("#/components/responses/{code}") }),
        );
    }
    if endpoint.kind() == crate::catalog::Kind::Storyboard {
        let code = "404";
        responses.insert(
            code.into(),
            json!({ "$ref": format!("#/components/responses/{code}") }),
        );
    }
    json!({
        "summary": endpoint.summary,
        "operationId": operation_id(path),
        // Which endpoint a path is (an alias or a suffix form shares it), for generated docs.
        "x-endpoint": endpoint.routes[0],
        "parameters": parameters,
        "responses": responses,
    })
}

fn schema(kind: &ParamKind) -> Json {
    match kind {
        ParamKind::Int { min, max } => json!({ "type": "integer", "minimum": min, "maximum": max }),
        ParamKind::Float { min, max } => {
            json!({ "type": "number", "minimum": min, "maximum": max })
        }
        ParamKind::Seconds {
            min,
            max,
            share: false,
            ..
        } => json!({
            "type": "string",
            "pattern": r"^(\d+:){0,2}\d*\.?\d+$",
            "description": format!("seconds from {min} to {max}: 12.5, 1:02.5 or 01:02:03"),
            "x-seconds": { "minimum": min, "maximum": max },
        }),
        ParamKind::Seconds {
            min,
            max,
            share: true,
            auto,
        } => {
            let (pattern, auto_text) = match auto {
                true => (
                    r"^((\d+:){0,2}\d*\.?\d+|\d*\.?\d+%|auto)$",
                    ", or auto (the most detailed of a few keyframes)",
                ),
                false => (r"^((\d+:){0,2}\d*\.?\d+|\d*\.?\d+%)$", ""),
            };
            json!({
                "type": "string",
                "pattern": pattern,
                "description": format!(
                    "seconds from {min} to {max} (12.5, 1:02.5 or 01:02:03), or a share of the duration (50%){auto_text}"
                ),
                "x-seconds": { "minimum": min, "maximum": max },
                "x-share": true,
                "x-auto": auto,
            })
        }
        ParamKind::Bool => json!({ "type": "boolean" }),
        ParamKind::Enum { values } => {
            json!({ "type": "string", "enum": values.iter().map(|v| v.word.clone()).collect::<Vec<_>>() })
        }
        ParamKind::Url => {
            json!({ "type": "string", "format": "uri", "maxLength": crate::limits::MAX_URL_LEN })
        }
    }
}

fn error_responses() -> Json {
    let error = |description: &str| {
        json!({
            "description": description,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
        })
    };
    json!({
        "400": error("A parameter is missing, unknown, repeated or out of bounds"),
        "403": error("The source's scheme is refused, or a signed URL's signature is missing or wrong"),
        "404": error("The storyboard has no sheet of that number (`sheets` says how many it has)"),
        "415": error("The source is not media this service can read"),
        "422": error("The media has no stream the endpoint needs, is broken or too large, or a share of its duration was asked and it has none"),
        "502": error("The origin answered an error, could not be reached, or cannot seek"),
        "503": error("Every pipeline slot is taken; see Retry-After"),
        "504": error("Nothing came in time"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_pages_are_the_reserved_routes() {
        let pages: Vec<&str> = SERVICE_PAGES.iter().map(|p| p.0).collect();
        assert_eq!(pages, crate::catalog::RESERVED_ROUTES);
    }
}
