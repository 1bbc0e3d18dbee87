//! Start-up and lifetime of the server process: open storage, start the services (command and
//! query services, projection runner, relay, live update hub), build the router, serve until a
//! shutdown signal, then stop background work.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use eventstore::SqlEventStore;
use eventstore::personal_data::MasterKey;
use eventstore::projection::ProjectionRunner;
use leptos::config::{Env, LeptosOptions};
use orders::command::{CommandConfig, CommandService, upcaster_registry};
use orders::hub::{HubConfig, LiveHub};
use orders::query::QueryService;
use orders::relay::{Relay, RelayConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::security::admin::AdminToken;
use crate::security::connections::ConnectionLimiter;
use crate::security::host::AllowedHosts;
use crate::security::rate_limit::RateLimiter;
use crate::serve::ServeLimits;
use crate::state::{AppState, Settings};

/// A bound, ready-to-serve server (tests bind port 0 and read `local_addr`).
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    state: AppState,
    stopping: watch::Sender<bool>,
    /// Held for the server's life (dropped with the last of `self`, after `run_until`).
    _data_dir_lock: Option<DataDirLock>,
    limits: ServeLimits,
    pub local_addr: SocketAddr,
}

/// The storage and services every command needs (the server, `seed`).
pub struct Services {
    pub db: eventstore::Db,
    pub store: SqlEventStore,
    pub commands: CommandService,
}

/// The database of `config`, migrated: what every command opens first (the chain commands
/// open nothing more: a verify only reads, beside a running server).
pub async fn open_database(config: &Config) -> anyhow::Result<eventstore::Db> {
    let db = eventstore::db::Db::connect(&config.resolved_database_url())
        .await
        .context("cannot open the database")?;
    db.migrate()
        .await
        .context("cannot run the database migrations")?;
    Ok(db)
}

/// Opens (creating if needed) the data directory and database, runs the migrations, opens the
/// event store and the command service.
pub async fn open_services(config: &Config) -> anyhow::Result<Services> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.data_dir.display()
        )
    })?;
    let db = open_database(config).await?;
    tracing::info!(backend = %db.backend(), "database ready");
    let store = SqlEventStore::open(db.clone(), upcaster_registry())
        .await
        .context("cannot open the event store")?;
    let master = match &config.master_key {
        Some(hex) => MasterKey::from_hex(hex).context("--master-key")?,
        None => MasterKey::load_or_create(&config.data_dir.join("master.key"))?,
    };
    let keys = orders::personal_data_keys(db.clone(), master);
    keys.check_master_key()
        .await
        .context("cannot use the master key for personal data")?;
    store.attach_key_ring(keys);
    // Addresses registered before emails were tagged are taken too (once; resumable).
    let tagged = orders::command::unique_email::backfill_tags(&store)
        .await
        .context("cannot tag the customer email events")?;
    if tagged > 0 {
        tracing::info!(
            tagged,
            "tagged the email events stored before emails were unique"
        );
    }
    let commands = CommandService::new(store.clone(), CommandConfig::default());
    Ok(Services {
        db,
        store,
        commands,
    })
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        // Before anything is opened: a second server on the same SQLite data would fault every
        // projection on duplicate keys.
        let data_dir_lock = lock_data_dir(&config)?;
        let Services {
            db,
            store,
            commands,
        } = open_services(&config).await?;
        let instance = config.instance();
        tracing::info!(%instance, "instance name");
        let runner = ProjectionRunner::start(
            Arc::new(store.clone()),
            orders::projections::all(),
            config.runner_config(instance.clone()),
        )
        .await
        .context("cannot start the projections")?;
        let queries = QueryService::new(db.clone(), Arc::new(runner.clone()));
        let relay = Relay::start(
            store.clone(),
            RelayConfig {
                broker_url: config.nats_url.clone(),
                stream_name: config.nats_stream.clone(),
                subject_prefix: config.nats_subject_prefix.clone(),
                instance,
                ..RelayConfig::default()
            },
        );
        let live = LiveHub::start(db.clone(), &runner, HubConfig::default());
        let admin = AdminToken::load_or_create(config.admin_token.as_deref(), &config.data_dir)?;
        let (stopping, stopping_rx) = watch::channel(false);

        let listener = TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        let local_addr = listener.local_addr().context("no local address")?;
        let leptos_options = LeptosOptions::builder()
            .output_name(env!("EVENTIDE_BUNDLE_NAME"))
            .site_root(config.site_root.display().to_string())
            .site_pkg_dir("pkg")
            .env(Env::PROD)
            .site_addr(local_addr)
            .build();
        let allowed_origins: Vec<String> = config
            .allowed_origins
            .iter()
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        let settings = Settings {
            allowed_hosts: AllowedHosts::new(&config.allowed_hosts, &allowed_origins),
            allowed_origins,
            trusted_proxies: config.trusted_proxy.clone(),
            max_body_bytes: config.max_body_bytes,
            request_timeout_secs: config.request_timeout_secs,
            ws_heartbeat: Duration::from_secs(config.ws_heartbeat_secs.max(1)),
            ws_max_message_bytes: config.ws_max_message_bytes,
            ws_queue: config.ws_queue,
            ws_messages_per_sec: config.ws_messages_per_sec,
            ws_messages_burst: config.ws_messages_burst,
            ws_status_interval: Duration::from_secs(1),
            secure_cookies: config.secure_cookies,
            check_responses: config.check_responses,
        };
        let metrics = Arc::new(Metrics::install());
        let relay = Arc::new(relay);
        let app = orders::application::Application::new(
            commands,
            queries,
            runner.clone(),
            relay.clone(),
            metrics.clone(),
        )
        .with_admin_token(Some(admin.secret().to_owned()));
        if let Some(held) = &config.test_hold_projection {
            tracing::warn!(
                projection = %held,
                "test hook: this projection applies nothing (EVENTIDE_TEST_HOLD_PROJECTION); never set it in production"
            );
        }
        app.start_console(config.console_config());
        app.ensure_bootstrap_admin()
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the bootstrap admin: {}", e.message))?;
        crate::security::session::spawn_cleanup(db.clone(), Duration::from_secs(15 * 60));
        let state = AppState {
            db: Arc::new(db),
            store,
            app,
            runner,
            relay,
            live,
            metrics,
            rate_limiter: Arc::new(RateLimiter::new(
                config.rate_limit_per_sec,
                config.rate_limit_burst,
            )),
            ws_connections: Arc::new(ConnectionLimiter::new(config.ws_max_per_ip)),
            settings: Arc::new(settings),
            stopping: stopping_rx,
        };
        let router = crate::router::build(state.clone(), leptos_options);
        let limits = ServeLimits {
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs.max(1)),
            max_connections_per_ip: config.max_connections_per_ip,
            uncapped: config.trusted_proxy.clone(),
        };
        Ok(Self {
            listener,
            router,
            state,
            stopping,
            limits,
            local_addr,
            _data_dir_lock: data_dir_lock,
        })
    }

    /// The shared state (what the Leptos server functions get as context).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT/SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(crate::shutdown::signal()).await
    }

    /// Serves until `shutdown` resolves, then closes websockets, stops the background services
    /// and closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr, "listening on http://{}", self.local_addr);
        let stopping = self.stopping;
        crate::serve::serve(self.listener, self.router, self.limits, async move {
            shutdown.await;
            // Websockets never finish on their own: tell them to close.
            let _ = stopping.send(true);
        })
        .await;
        let state = self.state;
        state.live.shutdown().await;
        state.relay.shutdown().await;
        state.runner.shutdown().await;
        state.store.shutdown().await;
        state.db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// `server serve`.
pub async fn run(config: Config) -> anyhow::Result<()> {
    Application::build(config).await?.run_until_stopped().await
}

/// An exclusive OS lock on `<data-dir>/eventide.lock`, released when dropped or when the process
/// ends (however it ends). SQLite data belongs to one server process at a time; servers sharing
/// one PostgreSQL database take no lock (several instances on one database are supported).
#[derive(Debug)]
pub struct DataDirLock {
    _file: std::fs::File,
}

/// Name of the lock file in the data directory.
pub const LOCK_FILE: &str = "eventide.lock";

/// Locks the data directory for this process unless the database is PostgreSQL: an error,
/// naming the directory, if another server (or `seed`) already uses it.
pub fn lock_data_dir(config: &Config) -> anyhow::Result<Option<DataDirLock>> {
    use std::io::Write as _;
    if eventstore::Backend::from_url(&config.resolved_database_url())
        .is_ok_and(|b| b == eventstore::Backend::Postgres)
    {
        return Ok(None);
    }
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            let holder = if holder.is_empty() {
                String::new()
            } else {
                format!(" (process {holder})")
            };
            anyhow::bail!(
                "the data directory {} is already in use by another server{holder}: only one \
                 server process may use a SQLite data directory at a time; stop the other one \
                 or choose another --data-dir",
                dir.display()
            );
        }
        Err(std::fs::TryLockError::Error(error)) => {
            return Err(error)
                .with_context(|| format!("cannot lock the data directory {}", dir.display()));
        }
    }
    // For the message above in the next process; the lock, not this text, is what counts.
    let written = file
        .set_len(0)
        .and_then(|()| write!(file, "{}", std::process::id()));
    if let Err(error) = written {
        tracing::debug!(%error, "cannot write the pid into the lock file");
    }
    Ok(Some(DataDirLock { _file: file }))
}
