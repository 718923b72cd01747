//! HTTP caching of deterministic outputs: a strong ETag that names everything an output is made
//! of (the endpoint's file and descriptions, every validated value, the url among them), and
//! `If-None-Match` answered with 304 before any pipeline starts. The origin's own content is not
//! part of the tag: `max-age` bounds how long a changed origin can go unseen.

use crate::catalog::params::Bound;
use crate::catalog::Endpoint;
use axum::http::{header, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

/// The strong ETag of this request's output.
pub fn etag(endpoint: &Endpoint, bound: &Bound) -> HeaderValue {
    let mut hash = Sha256::new();
    for part in [
        endpoint.file.as_str(),
        endpoint.description.as_str(),
        endpoint.sheet.as_deref().unwrap_or(""),
    ] {
        hash.update(part.len().to_le_bytes());
        hash.update(part.as_bytes());
    }
    for (name, value) in &bound.values {
        let pair = format!("{name}={value:?}");
        hash.update(pair.len().to_le_bytes());
        hash.update(pair.as_bytes());
    }
    let digest = hash.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex is a valid header value")
}

/// Whether the client's `If-None-Match` already holds this tag (a list, `*`, or weak forms).
pub fn not_modified(headers: &HeaderMap, tag: &HeaderValue) -> bool {
    let tag = tag.to_str().unwrap_or("");
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|list| {
            list.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.trim_start_matches("W/") == tag)
        })
}

/// `Cache-Control` for a cacheable output.
pub fn cache_control(max_age: u32) -> HeaderValue {
    HeaderValue::from_str(&format!("public, max-age={max_age}")).expect("a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists() {
        let tag = HeaderValue::from_static("\"abc\"");
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, HeaderValue::from_static(v));
            not_modified(&h, &tag)
        };
        assert!(with("\"abc\""));
        assert!(with("\"x\", W/\"abc\""));
        assert!(with("*"));
        assert!(!with("\"abcd\""));
        assert!(!not_modified(&HeaderMap::new(), &tag));
    }
}
