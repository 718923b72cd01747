//! Origin bytes kept across requests, so that a player's scrubber or a page of thumbnails of one
//! video reads the file's index (the `moov`) once, not once per thumbnail.
//!
//! What is kept is spans of a resource's bytes, keyed by the URL asked for and the credentials
//! forwarded with it (a hash of every forwarded header: two clients with different
//! `Authorization` never share an entry), under the validator the origin gave (`ETag`, else
//! `Last-Modified`). Each request still asks the origin first, conditionally (`If-None-Match` or
//! `If-Modified-Since` on the first block): a 304 serves the kept spans, anything else drops
//! them. A resource with no validator is kept [`UNVALIDATED`] and served without asking. The
//! budget (`PYTHUMBIO_ORIGIN_CACHE_MB`) is kept by dropping the resources used longest ago.

use bytes::Bytes;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use url::Url;

/// How long the bytes of a resource without a validator are served without asking the origin.
pub const UNVALIDATED: Duration = Duration::from_secs(10);

/// Which resource, as whom.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    url: String,
    credentials: u64,
}

impl Key {
    pub fn new(url: &Url, forward: &super::Forward) -> Self {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for (name, value) in &forward.headers {
            name.as_str().hash(&mut hasher);
            value.as_bytes().hash(&mut hasher);
        }
        Self {
            url: url.as_str().to_string(),
            credentials: hasher.finish(),
        }
    }
}

/// What says a resource is still the one kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validator {
    ETag(String),
    LastModified(String),
    /// None given: the bytes are served for [`UNVALIDATED`] after they were read.
    None,
}

impl Validator {
    pub fn of(headers: &reqwest::header::HeaderMap) -> Self {
        let text = |name| {
            headers
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        // A weak ETag does not promise equal bytes: only a strong one, or a date, is used.
        match (
            text(reqwest::header::ETAG).filter(|t| !t.starts_with("W/")),
            text(reqwest::header::LAST_MODIFIED),
        ) {
            (Some(tag), _) => Self::ETag(tag),
            (None, Some(date)) => Self::LastModified(date),
            (None, None) => Self::None,
        }
    }
}

/// A kept resource: where it ended up after redirects, its size, and the spans read of it.
#[derive(Clone)]
pub struct Kept {
    pub url: Url,
    pub size: Option<u64>,
    pub validator: Validator,
    read: Instant,
    spans: Vec<(u64, Bytes)>,
    used: u64,
}

impl Kept {
    /// The bytes at `start`, `len` of them (fewer at the end), if one span holds them all.
    fn slice(&self, start: u64, len: u64) -> Option<Bytes> {
        let end = match self.size {
            Some(size) => (start + len).min(size),
            None => start + len,
        };
        self.spans.iter().find_map(|(from, bytes)| {
            let to = from + bytes.len() as u64;
            (start >= *from && end <= to)
                .then(|| bytes.slice((start - from) as usize..(end - from) as usize))
        })
    }

    fn bytes(&self) -> usize {
        self.spans.iter().map(|(_, b)| b.len()).sum()
    }

    /// Whether it may be served without asking the origin.
    pub fn fresh_without_asking(&self) -> bool {
        self.validator == Validator::None && self.read.elapsed() < UNVALIDATED
    }
}

/// The cache, shared by every source element reading through one set of origins.
pub struct RangeCache {
    budget: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    used: usize,
    clock: u64,
    kept: HashMap<Key, Kept>,
}

impl RangeCache {
    /// A cache of at most `budget` bytes.
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            inner: Mutex::default(),
        }
    }

    /// What is kept of `key`, with the first `first` bytes (or all of a smaller resource), if
    /// those are kept: enough to answer a source's opening.
    pub fn opening(&self, key: &Key, first: u64) -> Option<(Kept, Bytes)> {
        let mut inner = self.inner.lock().unwrap();
        inner.clock += 1;
        let clock = inner.clock;
        let kept = inner.kept.get_mut(key)?;
        if kept.validator == Validator::None && !kept.fresh_without_asking() {
            return None;
        }
        kept.used = clock;
        let block = kept.slice(0, first)?;
        Some((kept.clone(), block))
    }

    /// The bytes at `start`, if kept under `key` (the caller checked its validator at opening).
    pub fn get(&self, key: &Key, start: u64, len: u64) -> Option<Bytes> {
        let mut inner = self.inner.lock().unwrap();
        inner.clock += 1;
        let clock = inner.clock;
        let kept = inner.kept.get_mut(key)?;
        kept.used = clock;
        kept.slice(start, len)
    }

    /// Starts keeping `key` anew (a first opening, or the origin said it changed).
    pub fn open(
        &self,
        key: &Key,
        url: &Url,
        size: Option<u64>,
        validator: Validator,
        first: Bytes,
    ) {
        let mut inner = self.inner.lock().unwrap();
        if let Some(old) = inner.kept.remove(key) {
            inner.used -= old.bytes();
        }
        inner.clock += 1;
        let kept = Kept {
            url: url.clone(),
            size,
            validator,
            read: Instant::now(),
            spans: Vec::new(),
            used: inner.clock,
        };
        inner.kept.insert(key.clone(), kept);
        drop(inner);
        self.put(key, 0, first);
    }

    /// Keeps `bytes` read at `start` of `key`, if `key` is kept; spans it covers are dropped.
    pub fn put(&self, key: &Key, start: u64, bytes: Bytes) {
        if bytes.is_empty() || bytes.len() > self.budget {
            return;
        }
        let mut inner = self.inner.lock().unwrap();
        let Some(kept) = inner.kept.get_mut(key) else {
            return;
        };
        let end = start + bytes.len() as u64;
        let before = kept.bytes();
        kept.spans
            .retain(|(from, b)| !(*from >= start && from + b.len() as u64 <= end));
        kept.spans.push((start, bytes));
        let after = kept.bytes();
        inner.used = inner.used + after - before;
        // Over budget: drop the resources used longest ago (the one just read last of all).
        while inner.used > self.budget {
            let oldest = inner
                .kept
                .iter()
                .min_by_key(|(k, v)| (*k == key, v.used))
                .map(|(k, _)| k.clone());
            let Some(oldest) = oldest else { break };
            if let Some(gone) = inner.kept.remove(&oldest) {
                inner.used -= gone.bytes();
            }
        }
    }

    /// Bytes kept now.
    pub fn used(&self) -> usize {
        self.inner.lock().unwrap().used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(url: &str, auth: &str) -> Key {
        let mut forward = super::super::Forward::default();
        if !auth.is_empty() {
            forward.headers.push((
                reqwest::header::AUTHORIZATION,
                reqwest::header::HeaderValue::from_str(auth).unwrap(),
            ));
        }
        Key::new(&Url::parse(url).unwrap(), &forward)
    }

    #[test]
    fn spans_are_served_whole_or_not_at_all() {
        let cache = RangeCache::new(1 << 20);
        let (k, url) = (
            key("http://o/v.mp4", ""),
            Url::parse("http://o/v.mp4").unwrap(),
        );
        let tag = Validator::ETag("\"1\"".into());
        cache.open(&k, &url, Some(1000), tag, Bytes::from(vec![1u8; 100]));
        cache.put(&k, 500, Bytes::from(vec![2u8; 100]));
        assert_eq!(cache.get(&k, 10, 20).unwrap(), vec![1u8; 20]);
        assert_eq!(cache.get(&k, 550, 50).unwrap(), vec![2u8; 50]);
        assert!(cache.get(&k, 90, 20).is_none(), "across two spans");
        assert!(cache.get(&k, 200, 10).is_none());
        // Credentials are part of the key.
        assert!(cache
            .get(&key("http://o/v.mp4", "Bearer a"), 10, 20)
            .is_none());
    }

    #[test]
    fn the_budget_drops_the_least_recently_used() {
        let cache = RangeCache::new(250);
        let tag = || Validator::ETag("\"1\"".into());
        let url = Url::parse("http://o/a").unwrap();
        let (a, b) = (key("http://o/a", ""), key("http://o/b", ""));
        cache.open(&a, &url, None, tag(), Bytes::from(vec![0u8; 100]));
        cache.open(&b, &url, None, tag(), Bytes::from(vec![0u8; 100]));
        assert!(cache.get(&a, 0, 10).is_some());
        cache.put(&b, 100, Bytes::from(vec![0u8; 100]));
        // b grew past the budget: a, used longest ago, is dropped.
        assert!(cache.get(&a, 0, 10).is_none());
        assert!(cache.get(&b, 150, 10).is_some());
        assert_eq!(cache.used(), 200);
    }
}
