//! Start-up and lifetime of the server process: open storage, build the router, serve until a
//! shutdown signal, then stop background work.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use leptos::config::{Env, LeptosOptions};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::state::AppState;

/// A bound, ready-to-serve server (tests bind port 0 and read `local_addr`).
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    pub local_addr: SocketAddr,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("cannot create the data directory {}", config.data_dir.display())
        })?;
        let url = config.resolved_database_url();
        let db = eventstore::db::Db::connect(&url)
            .await
            .context("cannot open the database")?;
        db.migrate().await.context("cannot run the database migrations")?;
        tracing::info!(backend = ?db.backend(), "database ready");

        let listener = TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        let local_addr = listener.local_addr().context("no local address")?;
        let leptos_options = LeptosOptions::builder()
            .output_name("eventide")
            .site_root(config.site_root.display().to_string())
            .site_pkg_dir("pkg")
            .env(Env::PROD)
            .site_addr(local_addr)
            .build();
        let state = AppState { db: Arc::new(db) };
        let router = crate::router::build(state, leptos_options);
        Ok(Self { listener, router, local_addr })
    }

    /// Serves until SIGINT/SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr, "listening on http://{}", self.local_addr);
        axum::serve(
            self.listener,
            self.router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(crate::shutdown::signal())
        .await
        .context("HTTP server failed")?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// `server serve`.
pub async fn run(config: Config) -> anyhow::Result<()> {
    Application::build(config).await?.run_until_stopped().await
}
