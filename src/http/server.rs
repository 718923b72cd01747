//! Serving the router on a listener, in the shape of mini-redis's `server::run`: the caller owns
//! the listener and the shutdown signal. Each connection is hyper's HTTP/1 with a header-read
//! timer, so a client that does not finish a request head in time (nothing sent, half a request
//! line, a byte now and then, an idle keep-alive connection) is closed. When `shutdown`
//! completes, the listener closes and every connection finishes its response in flight; this
//! returns once they all have.

use axum::serve::Listener;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::pin::pin;
use std::time::Duration;
use tokio::sync::watch;

pub async fn serve<L: Listener>(
    mut listener: L,
    router: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a receiver; all are gone when every connection has ended.
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let (io, _) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let connection =
            http.serve_connection(TokioIo::new(io), TowerToHyperService::new(router.clone()));
        let (mut stop, done) = (stop_rx.clone(), done_rx.clone());
        tokio::spawn(async move {
            let mut connection = pin!(connection);
            let stopping = tokio::select! {
                _ = connection.as_mut() => false,
                stopped = stop.wait_for(|stopping| *stopping) => stopped.is_ok(),
            };
            if stopping {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
            }
            drop(done);
        });
    }
    drop(listener);
    stop_tx.send_replace(true);
    drop(done_rx);
    done_tx.closed().await;
}
