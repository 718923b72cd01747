//! /openapi.json describes exactly what the service serves: every path the router answers, with
//! each endpoint's parameters from its pipeline file. /docs renders it from the binary alone.

mod support;

use std::collections::BTreeSet;
use support::Service;

async fn document(service: &Service) -> serde_json::Value {
    let response = service.get("/openapi.json", &[]).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn every_path_served_is_described_and_every_described_path_is_served() {
    let service = Service::start();
    let doc = document(&service).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let described: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();

    let version: serde_json::Value = service.get("/version", &[]).await.json().await.unwrap();
    for endpoint in version["endpoints"].as_object().unwrap().keys() {
        assert!(
            described.contains(endpoint),
            "{endpoint} is served but not described"
        );
    }
    for path in &described {
        let status = service.get(path, &[]).await.status().as_u16();
        let served = if doc["paths"][path]["get"]["parameters"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
        {
            status == 400 // an endpoint, asked without its url
        } else {
            status == 200
        };
        assert!(served, "{path} is described but answers {status}");
    }
    assert!(!described.contains("/nope") && service.get("/nope", &[]).await.status() == 404);

    let thumb = &doc["paths"]["/thumb"]["get"];
    let names: Vec<&str> = thumb["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "url",
        "time",
        "width",
        "height",
        "fit",
        "format",
        "quality",
        "rotate",
        "watermark",
    ] {
        assert!(names.contains(&name), "/thumb lacks {name}");
    }
    let width = thumb["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "width")
        .unwrap();
    assert_eq!(
        width["schema"],
        serde_json::json!({ "type": "integer", "minimum": 16, "maximum": 3840, "default": 426 })
    );
    let png = &doc["paths"]["/thumb.png"]["get"];
    assert!(
        png["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["name"] != "format"),
        "the suffix sets format"
    );
    assert!(thumb["responses"]["200"]["content"]["image/webp"].is_object());
    assert!(
        thumb["responses"]["304"].is_object()
            && doc["paths"]["/webm"]["get"]["responses"]["304"].is_null()
    );
}

#[tokio::test]
async fn endpoints_from_files_are_described() {
    let dir = tempfile::tempdir().unwrap();
    let frame = include_str!("../pipelines/thumb.toml")
        .replace(r#"routes = ["/thumb", "/video"]"#, r#"routes = ["/frame"]"#);
    std::fs::write(dir.path().join("frame.toml"), frame).unwrap();
    let service = Service::with_env(&[("PYTHUMBIO_PIPELINES", dir.path().to_str().unwrap())]);
    let doc = document(&service).await;
    assert!(doc["paths"]["/frame"].is_object() && doc["paths"]["/frame.webp"].is_object());
    assert!(doc["paths"]["/thumb"].is_null());
}

#[tokio::test]
async fn docs_render_from_the_binary_alone() {
    let service = Service::start();
    let response = service.get("/docs", &[]).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = response.text().await.unwrap();
    assert!(page.contains("fetch(\"/openapi.json\")"));
    for outside in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "@import",
    ] {
        assert!(!page.contains(outside), "the page loads {outside}");
    }
}

/// Read as a reader of /docs would: an endpoint's aliases and suffix forms under its tag, the
/// source `url` first, `/thumb.png` returning PNG alone, `/readyz`'s 503; with signing on,
/// every endpoint takes `sig` under a security scheme, and the service's pages do not.
#[tokio::test]
async fn the_document_groups_aliases_and_says_what_signing_needs() {
    let service = Service::start();
    let doc = document(&service).await;
    let op = |path: &str| doc["paths"][path]["get"].clone();
    for path in ["/thumb", "/video", "/thumb.png"] {
        assert_eq!(op(path)["tags"][0], "/thumb", "{path}");
        assert_eq!(op(path)["parameters"][0]["name"], "url", "{path}");
    }
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        tags.contains(&"/thumb") && !tags.contains(&"/video"),
        "{tags:?}"
    );
    let png: Vec<String> = op("/thumb.png")["responses"]["200"]["content"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(png, ["image/png"]);
    assert!(op("/thumb")["responses"]["200"]["content"]["image/jpeg"].is_object());
    assert!(op("/readyz")["responses"]["503"].is_object());
    assert!(op("/thumb")["security"].is_null());
    assert!(!op("/thumb")["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "sig"));

    let signed = Service::with_env(&[("PYTHUMBIO_KEY", "00ff00ff")]);
    let doc = document(&signed).await;
    let op = |path: &str| doc["paths"][path]["get"].clone();
    assert_eq!(
        doc["components"]["securitySchemes"]["signature"]["name"],
        "sig"
    );
    for path in ["/thumb", "/webm", "/meta"] {
        assert_eq!(op(path)["security"][0]["signature"], serde_json::json!([]));
        let sig = op(path)["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "sig")
            .cloned()
            .unwrap_or_else(|| panic!("{path}: no sig"));
        assert_eq!(sig["required"], true);
    }
    assert!(op("/version")["security"].is_null());
}
