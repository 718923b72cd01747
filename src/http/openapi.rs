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

/// The document of `catalog`'s endpoints and the service's own pages; `signed`: the service
/// checks signatures (`PYTHUMBIO_KEY`), so every endpoint takes `sig`.
pub fn document(catalog: &Catalog, signed: bool) -> Json {
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
            "tags": [SERVICE_TAG],
            "responses": responses,
        });
        paths.insert(path.to_string(), json!({ "get": op }));
    }
    // One tag per endpoint, named by its first route: its aliases and suffix forms are listed
    // under it.
    let mut tags = Vec::new();
    for endpoint in &catalog.endpoints {
        tags.push(json!({ "name": endpoint.routes[0], "description": endpoint.summary }));
        for (path, preset) in endpoint.paths() {
            let preset = preset
                .as_ref()
                .map(|(name, word)| (name.as_str(), word.as_str()));
            let mut op = operation(endpoint, &path, preset);
            if signed {
                op["parameters"].as_array_mut().expect("a list").push(json!({
                    "name": "sig",
                    "in": "query",
                    "required": true,
                    "description": "The request's signature: base64url HMAC-SHA256 over salt, path and query (docs/sources-and-security.md; `pythumbio sign` makes it)",
                    "schema": { "type": "string" },
                }));
                op["security"] = json!([{ "signature": [] }]);
            }
            paths.insert(path.clone(), json!({ "get": op }));
        }
    }
    tags.push(json!({ "name": SERVICE_TAG, "description": "The service's own pages" }));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "pythumbio",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Video thumbnails, streaming WebM transcodes, previews, storyboards and metadata over HTTP, on GStreamer.",
        },
        "tags": tags,
        "paths": paths,
        "components": {
            "securitySchemes": if signed {
                json!({ "signature": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "sig",
                    "description": "Signed URLs: `sig` is the HMAC-SHA256 of the salt, the path and the query without `sig`, with PYTHUMBIO_KEY",
                } })
            } else {
                json!({})
            },
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

/// The tag of the service's own pages.
const SERVICE_TAG: &str = "service";

/// One path of `endpoint`; `preset`: the parameter a suffix form sets, and its word.
fn operation(endpoint: &Endpoint, path: &str, preset: Option<(&str, &str)>) -> Json {
    // The source first, then the rest as the file lists them.
    let mut params: Vec<&crate::catalog::params::Param> = endpoint.params.iter().collect();
    params.sort_by_key(|p| !matches!(p.kind, ParamKind::Url) || !p.required);
    let parameters: Vec<Json> = params
        .into_iter()
        .filter(|p| Some(p.name.as_str()) != preset.map(|p| p.0))
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
    // A suffix form (`/thumb.png`) returns the one type its word chooses.
    let content_types = match preset {
        Some((name, word)) => endpoint
            .content_type_of(name, word)
            .map_or_else(|| endpoint.content_types(), |t| vec![t]),
        None => endpoint.content_types(),
    };
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
        "tags": [endpoint.routes[0]],
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
