//! HTTP caching of deterministic outputs: a strong ETag that names everything an output is made
//! of (the endpoint's file and descriptions, every validated value, the url among them), and
//! `If-None-Match` answered with 304 before any pipeline starts. The origin's own content is not
//! part of the tag: `max-age` bounds how long a changed origin can go unseen.

use super::error::ApiError;
use crate::catalog::params::Bound;
use crate::catalog::Endpoint;
use axum::http::{header, HeaderMap, HeaderValue};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Whole outputs by tag, in memory; None when PYTHUMBIO_CACHE_MB is 0.
pub struct Outputs {
    cache: Option<moka::future::Cache<String, Bytes>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Outputs {
    pub fn new(megabytes: u64) -> Self {
        let cache = (megabytes > 0).then(|| {
            moka::future::Cache::builder()
                .max_capacity(megabytes * 1024 * 1024)
                .weigher(|tag: &String, body: &Bytes| {
                    (tag.len() + body.len()).try_into().unwrap_or(u32::MAX)
                })
                .build()
        });
        Self {
            cache,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Hits and misses since the start.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// The output under `tag`: from memory, from a request making it right now (one pipeline for
    /// all of them), or made by `make`. Failures are not kept.
    pub async fn get_or_make(
        &self,
        tag: &str,
        make: impl Future<Output = Result<Bytes, ApiError>>,
    ) -> Result<Bytes, ApiError> {
        let Some(cache) = &self.cache else {
            return make.await;
        };
        let made = AtomicBool::new(false);
        let result = cache
            .try_get_with(tag.to_string(), async {
                made.store(true, Ordering::Relaxed);
                make.await
            })
            .await;
        let counter = if made.load(Ordering::Relaxed) {
            &self.misses
        } else {
            &self.hits
        };
        counter.fetch_add(1, Ordering::Relaxed);
        result.map_err(ApiError::Shared)
    }
}

/// The strong ETag of this request's output. `context` is whatever else the output holds (a
/// storyboard's layout names its sheet by an absolute URL built from the request's host).
pub fn etag(endpoint: &Endpoint, bound: &Bound, context: &str) -> HeaderValue {
    let mut hash = Sha256::new();
    for part in [
        endpoint.file.as_str(),
        endpoint.fingerprint.as_str(),
        context,
    ] {
        hash.update(part.len().to_le_bytes());
        hash.update(part.as_bytes());
    }
    // Forwarded credentials are part of what made the output: another client's differ.
    let forwarded = bound.forward.iter().map(|(n, v)| format!("{n}: {v}"));
    let values = bound.values.iter().map(|(n, v)| format!("{n}={v:?}"));
    for pair in values.chain(forwarded) {
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

/// `Cache-Control` for a cacheable output; `private` when it was made with forwarded headers
/// (credentials), so that shared caches do not hand it to others.
pub fn cache_control(max_age: u32, private: bool) -> HeaderValue {
    let scope = if private { "private" } else { "public" };
    HeaderValue::from_str(&format!("{scope}, max-age={max_age}")).expect("a valid header value")
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
