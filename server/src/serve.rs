//! The accept loop: serves the router over HTTP/1.1 (with websocket upgrades) with the limits
//! `axum::serve` cannot be given.
//!
//! - A connection that has not sent a complete request head within `header_read_timeout` is
//!   closed (hyper's header read timeout). The timer also runs while a keep-alive connection
//!   waits for its next request, so idle keep-alive connections are closed after it too: a
//!   client can neither trickle a request line nor park connections for free.
//! - At most `max_connections_per_ip` open connections per client IP (the TCP peer: the
//!   limit is taken before any header is read, so `X-Forwarded-For` plays no part); further
//!   connections are closed at once. Trusted proxies (`--trusted-proxy`) are not capped: their
//!   connections carry every client's requests. Upgraded websockets leave this count (hyper hands their
//!   socket over) and are capped by the websocket handler instead.
//! - Graceful shutdown as `axum::serve` does it: stop accepting, let in-flight requests
//!   finish, close idle connections; bounded by [`SHUTDOWN_GRACE`].
//!
//! Built on hyper's own connection builder and hyper-util's Tokio glue, the pieces
//! `axum::serve` is made of.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tower::ServiceExt as _;

use crate::security::connections::ConnectionLimiter;

/// How long in-flight requests may take to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Connection-level limits.
#[derive(Debug, Clone)]
pub struct ServeLimits {
    /// Time allowed for a complete request head, and for an idle keep-alive connection.
    pub header_read_timeout: Duration,
    pub max_connections_per_ip: usize,
    /// Peers the cap does not apply to: the trusted reverse proxies, whose connections carry
    /// every client's requests.
    pub uncapped: Vec<IpAddr>,
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains the connections.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()>,
) {
    let connections = Arc::new(ConnectionLimiter::new(limits.max_connections_per_ip));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a clone; `recv` returns `None` when all are gone.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let slot = if limits.uncapped.contains(&peer.ip()) {
            None
        } else {
            match connections.try_acquire(peer.ip()) {
                Some(slot) => Some(slot),
                None => {
                    tracing::debug!(peer = %peer.ip(), "connection refused: too many from this client");
                    drop(tcp);
                    continue;
                }
            }
        };
        // No Nagle delay: websocket pushes are small writes that must leave at once.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let service =
            router
                .clone()
                .map_request(move |mut request: axum::http::Request<Incoming>| {
                    request
                        .extensions_mut()
                        .insert(ConnectInfo::<SocketAddr>(peer));
                    request
                });
        let connection = builder
            .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service))
            .with_upgrades();
        let mut stop = stop_rx.clone();
        let alive = alive_tx.clone();
        tokio::spawn(async move {
            let mut connection = pin!(connection);
            let stopping = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stopping => {
                    connection.as_mut().graceful_shutdown();
                    connection.as_mut().await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(slot);
            drop(alive);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(alive_tx);
    if tokio::time::timeout(SHUTDOWN_GRACE, alive_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period; closing");
    }
}
