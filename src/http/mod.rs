//! HTTP: the router, shared state, and serving with graceful shutdown. Pipeline files define
//! most routes; they are resolved at request time against the loaded catalog.

mod admission;
mod cache;
mod connections;
mod endpoint;
pub mod error;
mod info;
mod metrics;
pub mod openapi;
mod playground;
pub use playground::sample_elements;
mod process;
mod ranges;
mod reload;
mod server;

use crate::catalog::{Catalog, Source};
use crate::config::Config;
use admission::Admission;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use error::ApiError;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId as TowerRequestId, SetRequestIdLayer,
};

/// State shared by every handler.
pub struct App {
    catalogs: Arc<reload::Catalogs>,
    /// The source policy and HTTP client every source of this service reads through.
    pub(crate) origins: Arc<crate::source::Origins>,
    /// The pipelines this service runs: its gauges, its shutdown.
    pub(crate) pipelines: Arc<crate::engine::Pipelines>,
    admission: Admission,
    chunk_size: usize,
    timeout: Duration,
    signer: Option<crate::signature::Signer>,
    /// Request headers forwarded to origins.
    forward_headers: Vec<axum::http::HeaderName>,
    /// The largest source pictures decoded.
    limits: crate::engine::launch::SourceLimits,
    /// The largest storyboard sheets made.
    sheet_limits: crate::engine::storyboard::SheetLimits,
    /// The base of the URLs the service gives out (storyboard sheets), when configured.
    public_url: Option<String>,
    pub(crate) metrics: Arc<metrics::Metrics>,
    /// Whole outputs kept in memory by tag.
    pub(crate) outputs: cache::Outputs,
    /// The most seconds of source a stream covers.
    max_stream: Duration,
    /// The most wall-clock time a stream may take.
    max_stream_time: Duration,
    /// `max-age` of cacheable outputs.
    cache_max_age: u32,
    /// Origins whose pages may read the outputs (CORS).
    allow_origin: Vec<crate::config::AllowedOrigin>,
    /// /metrics has a listener of its own: the public router does not answer it.
    metrics_apart: bool,
    /// Set when shutdown begins: readiness turns false first.
    draining: std::sync::atomic::AtomicBool,
    /// The built-in sample clip, made on first use.
    sample: tokio::sync::OnceCell<bytes::Bytes>,
}

impl App {
    /// A launch of `description` under this service's limits.
    pub fn launch<'a>(
        &'a self,
        description: &'a str,
        bound: &'a crate::catalog::params::Bound,
    ) -> crate::engine::launch::Launch<'a> {
        crate::engine::launch::Launch {
            limits: self.limits,
            forward: &bound.forward,
            origins: Some(&self.origins),
            pipelines: Some(&self.pipelines),
            ..crate::engine::launch::Launch::new(description, &bound.properties)
        }
    }

    /// The pipelines this service runs (its gauges; `stop_all` at shutdown).
    pub fn pipelines(&self) -> &Arc<crate::engine::Pipelines> {
        &self.pipelines
    }

    /// The pipeline set in use now.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalogs.current()
    }

    /// Reloads of the pipeline set so far: swapped in, rejected.
    pub fn reloads(&self) -> (u64, u64) {
        self.catalogs.reloads()
    }

    pub fn new(
        config: &Config,
        catalog: Catalog,
        source: Source,
        origins: Arc<crate::source::Origins>,
    ) -> Self {
        Self {
            origins,
            pipelines: Arc::default(),
            catalogs: Arc::new(reload::Catalogs::new(catalog, source)),
            admission: Admission::new(
                config.max_pipelines(),
                config.queue_length,
                config.queue_timeout,
            ),
            chunk_size: config.chunksize,
            timeout: config.timeout,
            signer: config.signer(),
            forward_headers: config
                .forward_headers
                .iter()
                .filter_map(|n| axum::http::HeaderName::from_bytes(n.as_str().as_bytes()).ok())
                .collect(),
            cache_max_age: config.cache_max_age,
            limits: config.source_limits(),
            sheet_limits: config.sheet_limits(),
            public_url: config.public_url.clone(),
            metrics: Arc::default(),
            outputs: cache::Outputs::new(config.cache_mb),
            max_stream_time: config.max_stream_time,
            max_stream: config.max_stream_duration,
            allow_origin: config.allow_origin.clone(),
            metrics_apart: config.metrics_bind.is_some(),
            draining: std::sync::atomic::AtomicBool::new(false),
            sample: tokio::sync::OnceCell::new(),
        }
    }
}

/// CORS for the configured origins: GET and HEAD with the headers a player sends (`Range`,
/// `If-None-Match`), and the ones it may read back; preflights are answered here.
fn cors(allowed: &[crate::config::AllowedOrigin]) -> Option<tower_http::cors::CorsLayer> {
    use crate::config::AllowedOrigin;
    use axum::http::{header, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if allowed.is_empty() {
        return None;
    }
    let origin = match allowed.contains(&AllowedOrigin::Any) {
        true => AllowOrigin::any(),
        false => AllowOrigin::list(allowed.iter().filter_map(|o| match o {
            AllowedOrigin::Origin(v) => Some(v.clone()),
            AllowedOrigin::Any => None,
        })),
    };
    Some(
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([Method::GET, Method::HEAD])
            .allow_headers([
                header::RANGE,
                header::IF_NONE_MATCH,
                header::HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([
                header::ETAG,
                header::CONTENT_LENGTH,
                header::CONTENT_RANGE,
                header::ACCEPT_RANGES,
                header::HeaderName::from_static("x-request-id"),
            ])
            .max_age(std::time::Duration::from_secs(3600)),
    )
}

pub fn router(app: Arc<App>) -> Router {
    let metrics = match app.metrics_apart {
        true => get(|| async {
            ApiError::NotFound {
                path: "/metrics".into(),
            }
        }),
        false => get(info::metrics),
    };
    let router = Router::new()
        .route("/version", get(info::version))
        .route("/metrics", metrics)
        .route("/healthz", get(info::healthz))
        .route("/readyz", get(info::readyz))
        .route("/openapi.json", get(info::openapi))
        .route("/docs", get(info::docs))
        .route("/", get(playground::page))
        .route("/sample.webm", get(playground::sample))
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .fallback(endpoint::handle)
        .layer(error::catch_panic())
        .layer(middleware::from_fn_with_state(app.clone(), log_request))
        // Outermost first: a client's id that is not sane is dropped, a missing one made, and
        // the id is returned on the response.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeId))
        .layer(middleware::map_request(drop_odd_request_id));
    // Outermost: a preflight is answered before anything else looks at it.
    let router = match cors(&app.allow_origin) {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.with_state(app)
}

/// The request's id: the client's `x-request-id` when it sent a sane one, else a new one
/// (tower-http's request-id layers set it and return it on the response). It names the request
/// in every log line about it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    fn of(request: &Request) -> Self {
        let id = request
            .extensions()
            .get::<tower_http::request_id::RequestId>()
            .and_then(|id| id.header_value().to_str().ok());
        Self(id.unwrap_or_default().to_string())
    }
}

/// A client's `x-request-id` is kept when it is 1 to 128 printable ASCII characters: it goes
/// into every log line.
async fn drop_odd_request_id(mut request: Request) -> Request {
    let sane = |v: &axum::http::HeaderValue| {
        let v = v.as_bytes();
        !v.is_empty() && v.len() <= 128 && v.iter().all(u8::is_ascii_graphic)
    };
    let headers = request.headers_mut();
    if !headers.get_all("x-request-id").iter().all(sane)
        || headers.get_all("x-request-id").iter().count() > 1
    {
        headers.remove("x-request-id");
    }
    request
}

/// New request ids: 16 hex digits, unpredictable.
#[derive(Clone, Copy)]
struct MakeId;

impl MakeRequestId for MakeId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<TowerRequestId> {
        use std::hash::{BuildHasher, Hasher};
        static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let id = format!("{:016x}", hasher.finish());
        Some(TowerRequestId::new(id.parse().ok()?))
    }
}

/// The host of a request's `url`, for the log: never the rest of it (paths and queries may carry
/// tokens) nor its credentials.
fn origin_host(query: Option<&str>) -> String {
    let url = query
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("url="))
        .map(percent_decode)
        .unwrap_or_default();
    let authority = url.split_once("://").map_or("", |(_, rest)| {
        rest.split(['/', '?', '#']).next().unwrap_or("")
    });
    authority.rsplit('@').next().unwrap_or("").to_string()
}

fn percent_decode(text: &str) -> String {
    String::from_utf8_lossy(&percent_decode_bytes(text)).into_owned()
}

/// Whether every name and value of a query string is UTF-8 once its escapes are decoded (the
/// query extractor would silently replace what is not).
pub(crate) fn query_is_utf8(query: &str) -> bool {
    query
        .split('&')
        .all(|pair| std::str::from_utf8(&percent_decode_bytes(pair)).is_ok())
}

fn percent_decode_bytes(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()),
        ) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

/// One log line per request when its head is sent: id, method, path (never the query), status,
/// time, size when known, and the origin's host. A stream logs again when it ends.
async fn log_request(State(app): State<Arc<App>>, mut request: Request, next: Next) -> Response {
    let id = RequestId::of(&request);
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let origin = origin_host(request.uri().query());
    request.extensions_mut().insert(id.clone());
    let started = Instant::now();
    let response = next.run(request).await;
    // A whole body's size is known now; a stream's is logged when it ends.
    let bytes = axum::body::HttpBody::size_hint(response.body()).exact();
    let (status, ms) = (
        response.status().as_u16(),
        started.elapsed().as_millis() as u64,
    );
    let probe = ["/healthz", "/readyz", "/metrics"].contains(&path.as_str());
    match (bytes, probe) {
        (_, true) => tracing::debug!(request_id = id.0, %method, path, status, ms, "request"),
        (Some(bytes), false) => {
            tracing::info!(request_id = id.0, %method, path, status, ms, bytes, origin, "request")
        }
        (None, false) => tracing::info!(
            request_id = id.0, %method, path, status, ms, streamed = true, origin, "request"
        ),
    }
    if let Some(detail) = response.extensions().get::<error::Detail>() {
        let error::Detail {
            code,
            message,
            element,
            debug: details,
        } = detail;
        app.metrics.error(code);
        // A refused query is the client's business: its status says enough at info.
        let pipeline = element.is_some() || details.is_some();
        let element = element.as_deref().unwrap_or("");
        let details = details.as_deref().unwrap_or("");
        match (status, pipeline) {
            (500, _) => {
                tracing::error!(
                    request_id = id.0,
                    code,
                    element,
                    debug = details,
                    "{message}"
                )
            }
            (_, true) => {
                tracing::warn!(
                    request_id = id.0,
                    code,
                    element,
                    debug = details,
                    "{message}"
                )
            }
            _ => tracing::debug!(request_id = id.0, code, "{message}"),
        }
    }
    let endpoint = match app.catalog().get(&path) {
        Some(_) => path.as_str(),
        None if crate::catalog::RESERVED_ROUTES.contains(&path.as_str()) => path.as_str(),
        None => "other",
    };
    app.metrics
        .request(endpoint, response.status().as_u16(), started.elapsed());
    if let Some(n) = bytes {
        app.metrics.sent(n);
    }
    response
}

/// Serves until SIGINT or SIGTERM, then lets responses in flight finish for up to `grace`.
pub async fn serve(
    config: &Config,
    catalog: Catalog,
    source: Source,
    origins: Arc<crate::source::Origins>,
) -> std::io::Result<()> {
    // Signal handlers first: a SIGHUP or SIGTERM that comes as soon as the service says it is
    // listening must find them, not the default action (which ends the process).
    use tokio::signal::unix::{signal, SignalKind};
    let hangup = signal(SignalKind::hangup())?;
    let terminate = signal(SignalKind::terminate())?;
    let app = Arc::new(App::new(config, catalog, source, origins));
    tokio::spawn(app.catalogs.clone().watch(hangup));
    let app_pipelines = app.pipelines.clone();
    let listener = tokio::net::TcpListener::bind((config.host, config.port))
        .await
        .map_err(|e| {
            let address = std::net::SocketAddr::new(config.host, config.port);
            std::io::Error::new(e.kind(), format!("cannot listen on {address}: {e}"))
        })?;
    let local = listener.local_addr()?;
    tracing::info!("listening on http://{local}");
    let policy = app.origins.policy();
    policy.set_own_address(local);
    // The service reads its own sample from where it listens (loopback when it listens on all
    // addresses); the source policy lets exactly that URL through.
    let reach = match local.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => std::net::IpAddr::from([127, 0, 0, 1]),
        ip if ip.is_unspecified() => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let sample = format!(
        "http://{}/sample.webm",
        std::net::SocketAddr::new(reach, local.port())
    );
    if let Ok(url) = url::Url::parse(&sample) {
        policy.allow_sample(url);
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let draining = app.clone();
    let (delay, grace) = (config.shutdown_delay, config.shutdown_grace);
    let max_connections = match config.max_connections {
        0 => connections::default_max(),
        n => n,
    };
    if let Some(address) = config.metrics_bind {
        let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot listen on {address} for /metrics: {e}"),
            )
        })?;
        tracing::info!("metrics on http://{}/metrics", listener.local_addr()?);
        let metrics = Router::new()
            .route("/metrics", get(info::metrics))
            .with_state(app.clone());
        // Scraped until the process ends: a scrape during the shutdown grace sees it.
        tokio::spawn(async move { axum::serve(listener, metrics).await });
    }
    let listener = connections::Bounded::new(listener, max_connections, config.client_idle_timeout);
    let server = server::serve(listener, router(app), config.header_timeout, async move {
        shutdown_signal(terminate).await;
        // Readiness turns false first; the listener closes after the delay.
        draining
            .draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = stop_tx.send(true);
        if !delay.is_zero() {
            tracing::info!(
                seconds = delay.as_secs_f64(),
                "draining: /readyz answers 503"
            );
            tokio::time::sleep(delay).await;
        }
        tracing::info!("no new connections; responses in flight may finish");
    });
    let grace = async move {
        let mut stop_rx = stop_rx;
        let _ = stop_rx.wait_for(|stopped| *stopped).await;
        tokio::time::sleep(grace.max(delay)).await;
        tracing::warn!("shutdown grace over; ending the streams still open");
    };
    tokio::select! {
        () = server => {}
        () = grace => {}
    };
    // Streams still open end here, their pipelines set to NULL before the runtime drops them.
    let pipelines = app_pipelines;
    let _ = tokio::task::spawn_blocking(move || pipelines.stop_all(Duration::from_secs(2))).await;
    Ok(())
}

async fn shutdown_signal(mut term: tokio::signal::unix::Signal) {
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}
