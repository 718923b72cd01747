//! HTTP(S) reads from origins under the source policy: names resolve through a resolver that
//! drops refused addresses (so the connection goes to an address that was checked), redirects are
//! followed here hop by hop (each hop checked, at most five, loops refused), forwarded headers go
//! only to the origin they were meant for, and every read is bounded in size and time.

use super::cache::{Key, Validator};
use super::policy::{Policy, Refusal};
use bytes::{Bytes, BytesMut};
use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, CONTENT_RANGE, IF_MODIFIED_SINCE, IF_NONE_MATCH, LOCATION,
    RANGE,
};
use reqwest::StatusCode;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// The `Via` every origin request carries. A pythumbio asked for a request that carries it is
/// being used as its own (or another pythumbio's) source, and refuses: nested requests would
/// hold a pipeline slot at every level.
pub const VIA: &str = "1.1 pythumbio";

/// Whether a request's `Via` header says it comes from a pythumbio.
pub fn is_from_pythumbio(via: &str) -> bool {
    via.split(',')
        .any(|hop| hop.split_whitespace().nth(1) == Some("pythumbio"))
}

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 5;

/// Why a read from an origin failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    Refused(Refusal),
    /// The origin answered with this error status.
    Status(u16),
    /// Nothing arrived within the connect or read timeout.
    Timeout,
    RedirectLoop,
    TooManyRedirects,
    /// The origin answered a range request with something else.
    NoRange,
    /// The connection failed or the body ended early.
    Network(String),
    /// The read was interrupted by the pipeline stopping.
    Cancelled,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(r) => r.fmt(f),
            Self::Status(s) => write!(f, "the origin answered {s}"),
            Self::Timeout => f.write_str("the origin did not answer in time"),
            Self::RedirectLoop => f.write_str("the origin redirects in a loop"),
            Self::TooManyRedirects => {
                write!(f, "the origin redirects more than {MAX_REDIRECTS} times")
            }
            Self::NoRange => f.write_str("the origin stopped honouring Range requests"),
            Self::Network(why) => write!(f, "reading the origin failed: {why}"),
            Self::Cancelled => f.write_str("cancelled"),
        }
    }
}

/// Time limits of origin reads.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    /// Longest wait for response headers or for the next piece of a body.
    pub read: Duration,
    /// How long an idle connection to an origin is kept for reuse (zero: none is kept).
    pub pool_idle: Duration,
}

/// The shared client: one connection pool for every pipeline, so that block reads of one source
/// reuse one keep-alive connection.
pub struct Origins {
    client: reqwest::Client,
    policy: Arc<Policy>,
    timeouts: Timeouts,
    /// Origin bytes kept across requests (None: each request reads its own).
    cache: Option<super::cache::RangeCache>,
    /// How long origins took to answer each request with its head.
    response_times: std::sync::Mutex<crate::histogram::Histogram>,
    /// Bytes received from origins: over HTTP, and what other source elements handed on.
    fetched: std::sync::atomic::AtomicU64,
    /// Bytes the service holds for its pipelines (cover pictures).
    holdings: super::memory::Holdings,
}

/// Headers sent with one source's requests, only to the origin of the URL they came with.
#[derive(Debug, Clone, Default)]
pub struct Forward {
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The origin (scheme, host, port) of the source URL: the only one that gets the headers.
    pub origin: Option<url::Origin>,
}

impl Forward {
    /// From (name, value) text pairs; a pair that is not a valid header is left out.
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let headers = pairs
            .iter()
            .filter_map(|(name, value)| {
                Some((
                    HeaderName::from_bytes(name.as_bytes()).ok()?,
                    HeaderValue::from_str(value).ok()?,
                ))
            })
            .collect();
        Self {
            headers,
            origin: None,
        }
    }

    /// The same headers, bound to the origin of `url`.
    pub fn for_source(&self, url: &Url) -> Self {
        Self {
            headers: self.headers.clone(),
            origin: Some(url.origin()),
        }
    }
}

/// An opened source: where it ended up after redirects, and what its first answer said.
pub struct Opened {
    pub url: Url,
    /// Total size, when the origin told it.
    pub size: Option<u64>,
    pub body: Body,
    /// Where the source's bytes are kept across requests, when they are.
    pub key: Option<Key>,
    /// Whether the first block came from the cache, not over the network.
    pub cached: bool,
}

/// The first answer's body.
pub enum Body {
    /// The origin honours Range: here is the first block.
    Block(Bytes),
    /// The origin sent the whole resource (no Range support): read it in order.
    Whole(reqwest::Response),
}

impl Origins {
    pub fn new(policy: Policy, timeouts: Timeouts) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(policy);
        let mut marked = HeaderMap::new();
        marked.insert(reqwest::header::VIA, HeaderValue::from_static(VIA));
        let client = reqwest::Client::builder()
            .user_agent(concat!("pythumbio/", env!("CARGO_PKG_VERSION")))
            .default_headers(marked)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(timeouts.connect)
            .pool_idle_timeout(timeouts.pool_idle)
            .pool_max_idle_per_host(if timeouts.pool_idle.is_zero() { 0 } else { 16 })
            .tcp_nodelay(true)
            .dns_resolver(Arc::new(CheckedResolver(policy.clone())))
            .build()?;
        Ok(Self {
            client,
            policy,
            timeouts,
            cache: None,
            response_times: Default::default(),
            fetched: Default::default(),
            holdings: Default::default(),
        })
    }

    /// These origins, keeping up to `bytes` of origin bytes across requests (0: none).
    pub fn with_cache(self, bytes: usize) -> Self {
        Self {
            cache: (bytes > 0).then(|| super::cache::RangeCache::new(bytes)),
            ..self
        }
    }

    /// Counts `bytes` received from an origin for these origins' service.
    pub fn count(&self, bytes: u64) {
        self.fetched
            .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Bytes received from origins since these origins were made.
    pub fn fetched(&self) -> u64 {
        self.fetched.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn holdings(&self) -> &super::memory::Holdings {
        &self.holdings
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// How long origins took to answer each request (redirects each count), to its head.
    pub fn response_times(&self) -> crate::histogram::Histogram {
        self.response_times.lock().unwrap().clone()
    }

    /// Opens a source with a request for its first `first` bytes, following redirects. With
    /// a cache, a source kept from an earlier request is asked about conditionally: unchanged
    /// (304), it is served from what is kept.
    pub async fn open(
        &self,
        url: &Url,
        first: u64,
        forward: &Forward,
    ) -> Result<Opened, FetchError> {
        let key = self.cache.as_ref().map(|_| Key::new(url, forward));
        let kept = key
            .as_ref()
            .zip(self.cache.as_ref())
            .and_then(|(key, cache)| cache.opening(key, first));
        let Some((kept, block)) = kept else {
            let (url, response) = self.get(url, Some((0, first)), forward, None).await?;
            return self.opened(url, response, first, key).await;
        };
        let from_kept = |url: Url| Opened {
            url,
            size: kept.size,
            body: Body::Block(block.clone()),
            key: key.clone(),
            cached: true,
        };
        let condition = match &kept.validator {
            Validator::None => return Ok(from_kept(kept.url.clone())),
            Validator::ETag(tag) => (IF_NONE_MATCH, tag.as_str()),
            Validator::LastModified(date) => (IF_MODIFIED_SINCE, date.as_str()),
        };
        let (url, response) = self
            .get(url, Some((0, first)), forward, Some(condition))
            .await?;
        match response.status() {
            StatusCode::NOT_MODIFIED => Ok(from_kept(url)),
            // Changed, or the origin does not answer conditions: read as a first opening.
            _ => self.opened(url, response, first, key).await,
        }
    }

    /// An opening's answer read; a block of a source that has a cache key starts its entry.
    async fn opened(
        &self,
        url: Url,
        response: reqwest::Response,
        first: u64,
        key: Option<Key>,
    ) -> Result<Opened, FetchError> {
        match response.status() {
            StatusCode::PARTIAL_CONTENT => {
                let size = content_range(response.headers()).and_then(|(_, total)| total);
                let validator = Validator::of(response.headers());
                let block = self.read_body(response, first).await?;
                if let (Some(cache), Some(key)) = (&self.cache, &key) {
                    cache.open(key, &url, size, validator, block.clone());
                }
                Ok(Opened {
                    url,
                    size,
                    body: Body::Block(block),
                    key,
                    cached: false,
                })
            }
            StatusCode::RANGE_NOT_SATISFIABLE => Ok(Opened {
                // Only an empty resource cannot satisfy a range starting at 0.
                url,
                size: Some(0),
                body: Body::Block(Bytes::new()),
                key: None,
                cached: false,
            }),
            status if status.is_success() => Ok(Opened {
                url,
                size: response.content_length(),
                body: Body::Whole(response),
                key: None,
                cached: false,
            }),
            status => Err(FetchError::Status(status.as_u16())),
        }
    }

    /// Reads `len` bytes at `start` of an opened source (fewer at its end): from the cache when
    /// it holds them under the source's `key`. Says whether the bytes came over the network.
    pub async fn block(
        &self,
        url: &Url,
        start: u64,
        len: u64,
        forward: &Forward,
        key: Option<&Key>,
    ) -> Result<(Bytes, bool), FetchError> {
        let cache = self.cache.as_ref().zip(key);
        if let Some(kept) = cache.and_then(|(cache, key)| cache.get(key, start, len)) {
            return Ok((kept, false));
        }
        let (_, response) = self.get(url, Some((start, len)), forward, None).await?;
        match response.status() {
            StatusCode::PARTIAL_CONTENT => {
                if content_range(response.headers()).map(|(s, _)| s) != Some(start) {
                    return Err(FetchError::NoRange);
                }
                let bytes = self.read_body(response, len).await?;
                if let Some((cache, key)) = cache {
                    cache.put(key, start, bytes.clone());
                }
                Ok((bytes, true))
            }
            StatusCode::RANGE_NOT_SATISFIABLE => Ok((Bytes::new(), true)),
            status if status.is_success() => Err(FetchError::NoRange),
            status => Err(FetchError::Status(status.as_u16())),
        }
    }

    /// The next piece of a whole body, or None at its end.
    pub async fn next_chunk(
        &self,
        response: &mut reqwest::Response,
    ) -> Result<Option<Bytes>, FetchError> {
        tokio::time::timeout(self.timeouts.read, response.chunk())
            .await
            .map_err(|_| FetchError::Timeout)?
            .map_err(network)
    }

    /// Reads a body of at most `limit` bytes whole.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        limit: u64,
    ) -> Result<Bytes, FetchError> {
        let mut out = BytesMut::with_capacity(limit.min(8 << 20) as usize);
        while let Some(chunk) = self.next_chunk(&mut response).await? {
            out.extend_from_slice(&chunk);
            if out.len() as u64 > limit {
                return Err(FetchError::NoRange);
            }
        }
        Ok(out.freeze())
    }

    /// A GET with an optional range, following redirects under the policy. Returns the URL that
    /// answered and its response (never a redirect).
    async fn get(
        &self,
        url: &Url,
        range: Option<(u64, u64)>,
        forward: &Forward,
        condition: Option<(HeaderName, &str)>,
    ) -> Result<(Url, reqwest::Response), FetchError> {
        let mut current = url.clone();
        let mut visited = vec![];
        for _ in 0..=MAX_REDIRECTS {
            self.policy
                .check_url(&current)
                .map_err(FetchError::Refused)?;
            let mut headers = HeaderMap::new();
            if forward.origin.as_ref() == Some(&current.origin()) {
                for (name, value) in &forward.headers {
                    headers.append(name.clone(), value.clone());
                }
            }
            if let Some((name, value)) = &condition {
                if let Ok(value) = HeaderValue::from_str(value) {
                    headers.insert(name.clone(), value);
                }
            }
            if let Some((start, len)) = range {
                let last = start + len.max(1) - 1;
                let value = format!("bytes={start}-{last}");
                headers.insert(RANGE, HeaderValue::from_str(&value).expect("ascii"));
            }
            let request = self.client.get(current.clone()).headers(headers).send();
            let asked = std::time::Instant::now();
            let response = tokio::time::timeout(self.timeouts.read, request)
                .await
                .map_err(|_| FetchError::Timeout)?
                .map_err(network)?;
            self.response_times.lock().unwrap().observe(asked.elapsed());
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .filter(|_| response.status().is_redirection());
            let Some(location) = location else {
                return Ok((current, response));
            };
            let next = current
                .join(location)
                .map_err(|_| FetchError::Network("a redirect to an unreadable location".into()))?;
            visited.push(current);
            if visited.contains(&next) {
                return Err(FetchError::RedirectLoop);
            }
            current = next;
        }
        Err(FetchError::TooManyRedirects)
    }
}

/// `Content-Range: bytes START-END/TOTAL` as (START, TOTAL); TOTAL is None for `*`.
fn content_range(headers: &HeaderMap) -> Option<(u64, Option<u64>)> {
    let value = headers.get(CONTENT_RANGE)?.to_str().ok()?;
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    let start = match span.trim() {
        "*" => 0,
        s => s.split_once('-')?.0.trim().parse().ok()?,
    };
    Some((start, total))
}

/// Maps a client error, finding a policy refusal or a timeout anywhere in its causes.
fn network(error: reqwest::Error) -> FetchError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = cause {
        if let Some(refusal) = e.downcast_ref::<Refusal>() {
            return FetchError::Refused(*refusal);
        }
        cause = e.source();
    }
    if error.is_timeout() {
        return FetchError::Timeout;
    }
    // The innermost cause says most ("connection refused"); the URL is left out on purpose.
    let error = error.without_url();
    let mut why = error.to_string();
    let mut cause = std::error::Error::source(&error);
    while let Some(e) = cause {
        why = e.to_string();
        cause = e.source();
    }
    FetchError::Network(why)
}

/// Resolves names and keeps only the addresses the policy allows; the client connects to what
/// this returns, so the address checked is the address connected to.
struct CheckedResolver(Arc<Policy>);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| match policy.check_ip(addr.ip()) {
                    Ok(()) => true,
                    Err(r) => {
                        refusal.get_or_insert(r);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), refusal) {
                (true, Some(refusal)) => Err(Box::new(refusal) as _),
                (true, None) => Err("the name resolves to no address".into()),
                (false, _) => Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_content_range() {
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_RANGE,
            HeaderValue::from_static("bytes 0-65535/1000000"),
        );
        assert_eq!(content_range(&h), Some((0, Some(1_000_000))));
        h.insert(CONTENT_RANGE, HeaderValue::from_static("bytes 100-199/*"));
        assert_eq!(content_range(&h), Some((100, None)));
        h.insert(CONTENT_RANGE, HeaderValue::from_static("bytes */0"));
        assert_eq!(content_range(&h), Some((0, Some(0))));
        h.insert(CONTENT_RANGE, HeaderValue::from_static("items 1-2/3"));
        assert_eq!(content_range(&h), None);
    }
}
