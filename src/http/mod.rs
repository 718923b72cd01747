//! HTTP: the router, shared state, and serving with graceful shutdown. Pipeline files define
//! most routes; they are resolved at request time against the loaded catalog.

mod admission;
mod endpoint;
pub mod error;
mod info;
mod reload;

use crate::catalog::{Catalog, Source};
use crate::config::Config;
use admission::Admission;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use error::ApiError;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// State shared by every handler.
pub struct App {
    catalogs: Arc<reload::Catalogs>,
    admission: Admission,
    chunk_size: usize,
    timeout: Duration,
    signer: Option<crate::signature::Signer>,
    /// Set when shutdown begins: readiness turns false first.
    draining: std::sync::atomic::AtomicBool,
}

impl App {
    /// The pipeline set in use now.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalogs.current()
    }

    pub fn new(config: &Config, catalog: Catalog, source: Source) -> Self {
        Self {
            catalogs: Arc::new(reload::Catalogs::new(catalog, source)),
            admission: Admission::new(
                config.max_pipelines(),
                config.queue_length,
                config.queue_timeout,
            ),
            chunk_size: config.chunksize,
            timeout: config.timeout,
            signer: config.signer(),
            draining: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/version", get(info::version))
        .route("/metrics", get(info::metrics))
        .route("/healthz", get(info::healthz))
        .route("/readyz", get(info::readyz))
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .fallback(endpoint::handle)
        .layer(middleware::from_fn(log_request))
        .with_state(app)
}

/// One log line per request: method, path (never the query: it may carry credentials), status
/// and time to the response head.
async fn log_request(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(%method, path, status = response.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
    response
}

/// Serves until SIGINT or SIGTERM, then lets responses in flight finish for up to `grace`.
pub async fn serve(config: &Config, catalog: Catalog, source: Source) -> std::io::Result<()> {
    // Signal handlers first: a SIGHUP or SIGTERM that comes as soon as the service says it is
    // listening must find them, not the default action (which ends the process).
    use tokio::signal::unix::{signal, SignalKind};
    let hangup = signal(SignalKind::hangup())?;
    let terminate = signal(SignalKind::terminate())?;
    let app = Arc::new(App::new(config, catalog, source));
    tokio::spawn(app.catalogs.clone().watch(hangup));
    let listener = tokio::net::TcpListener::bind((config.host, config.port)).await?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let draining = app.clone();
    let server = axum::serve(listener, router(app)).with_graceful_shutdown(async move {
        shutdown_signal(terminate).await;
        draining.draining.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = stop_tx.send(true);
    });
    let grace = async move {
        let mut stop_rx = stop_rx;
        let _ = stop_rx.wait_for(|stopped| *stopped).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        tracing::warn!("shutdown grace over; ending the streams still open");
    };
    tokio::select! {
        result = server => result,
        _ = grace => Ok(()),
    }
}

async fn shutdown_signal(mut term: tokio::signal::unix::Signal) {
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down: no new connections");
}
