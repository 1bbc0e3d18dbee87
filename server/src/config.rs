//! Command-line and environment configuration. Every option has a flag and an `EVENTIDE_*`
//! environment variable; the README's configuration table mirrors this file.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "server",
    version,
    about = "Eventide: event-sourced order management with a live dashboard"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve the web app and the API (the default).
    Serve,
    /// Fill the database with demo customers, products and orders.
    Seed {
        /// How many orders to create.
        #[arg(long, env = "EVENTIDE_SEED_ORDERS", default_value_t = 1000)]
        orders: u32,
    },
    /// Consume the events the relay publishes to the broker and print them (demo consumer).
    Consume,
    /// Print the OpenAPI document (what `GET /api/openapi.json` serves) and exit.
    Openapi,
    /// Check the event log's hash chain (the whole log or a range) and name the first row that
    /// was changed, inserted or removed. Exit code 0: intact, 1: a problem, 2: an error.
    Verify {
        /// First position to check (the stored hash of the row before it is trusted).
        #[arg(long)]
        from: Option<i64>,
        /// Last position to check (default: the log head).
        #[arg(long)]
        to: Option<i64>,
        /// An anchor exported earlier (`server chain-head`): the chain must reach its hash.
        #[arg(long)]
        anchor: Option<std::path::PathBuf>,
    },
    /// Write the chain head as an anchor (JSON: position, hash, algorithm, exported_at) to keep
    /// outside the database; stdout unless `--out` is given.
    ChainHead {
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(
        long,
        env = "EVENTIDE_ADDR",
        default_value = "127.0.0.1:3000",
        global = true
    )]
    pub addr: SocketAddr,

    /// Directory for the embedded SQLite database and generated secrets; created on first start.
    #[arg(
        long,
        env = "EVENTIDE_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Database URL: `postgres://...` for PostgreSQL or `sqlite://path` for another SQLite file.
    /// Default: the SQLite file `eventide.db` in the data directory.
    /// `--help` never prints its value: it may carry credentials.
    #[arg(
        long,
        env = "EVENTIDE_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// Directory holding the built site (the `pkg/` wasm, JS and CSS), as `scripts/build.sh` writes it.
    #[arg(
        long,
        env = "EVENTIDE_SITE_ROOT",
        default_value = "target/site",
        global = true
    )]
    pub site_root: PathBuf,

    /// OpenTelemetry collector to export spans to over OTLP/HTTP (protobuf), e.g.
    /// `http://127.0.0.1:4318` (spans go to `<endpoint>/v1/traces`). Unset: no export.
    #[arg(long, env = "EVENTIDE_OTLP_ENDPOINT", global = true)]
    pub otlp_endpoint: Option<String>,

    /// Log format.
    #[arg(long, env = "EVENTIDE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// NATS URL of the message broker the relay publishes events to; unset disables the relay.
    /// `--help` never prints its value: it may carry credentials.
    #[arg(long, env = "EVENTIDE_NATS_URL", global = true, hide_env_values = true)]
    pub nats_url: Option<String>,

    /// JetStream stream the relay publishes to (created when missing).
    #[arg(
        long,
        env = "EVENTIDE_NATS_STREAM",
        default_value = orders::relay::DEFAULT_STREAM_NAME,
        global = true
    )]
    pub nats_stream: String,

    /// Subject prefix of the relayed events: `<prefix>.<stream type>.<event type>`. Two
    /// deployments on one NATS need different prefixes (a subject belongs to one stream).
    #[arg(
        long,
        env = "EVENTIDE_NATS_SUBJECT_PREFIX",
        default_value = orders::relay::DEFAULT_SUBJECT_PREFIX,
        global = true
    )]
    pub nats_subject_prefix: String,

    /// Admin credential (for rebuild/retry/skip). When unset, a random token is generated on
    /// first start and stored in `<data-dir>/admin-token` (mode 0600).
    #[arg(
        long,
        env = "EVENTIDE_ADMIN_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub admin_token: Option<String>,

    /// Master key (64 hex digits) wrapping the per-customer keys that seal personal data
    /// (crypto-shredding). When unset, a random key is generated on first start and stored in
    /// `<data-dir>/master.key` (mode 0600). Every instance on one database needs the same key:
    /// an instance with another key refuses to start. Losing it makes all personal data read
    /// as erased.
    #[arg(
        long,
        env = "EVENTIDE_MASTER_KEY",
        global = true,
        hide_env_values = true
    )]
    pub master_key: Option<String>,

    /// Mark the admin session cookie `Secure` (set when served over HTTPS).
    #[arg(long, env = "EVENTIDE_SECURE_COOKIES", global = true)]
    pub secure_cookies: bool,

    /// Origins allowed for browser state changes and websockets (comma-separated, e.g.
    /// `https://eventide.example.com`). Default: same origin only (the request's Host).
    #[arg(
        long,
        env = "EVENTIDE_ALLOWED_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    pub allowed_origins: Vec<String>,

    /// PostgreSQL: milliseconds a session waits for a row lock (the log head) before the write
    /// is refused with a 503 (`lock_timeout`). Ignored on SQLite and when the URL sets it.
    #[arg(
        long,
        env = "EVENTIDE_PG_LOCK_TIMEOUT_MS",
        default_value_t = 2_000,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub pg_lock_timeout_ms: u64,

    /// PostgreSQL: milliseconds one statement may run (`statement_timeout`); a group commit is
    /// also bounded on the client side by this plus 5 s.
    #[arg(
        long,
        env = "EVENTIDE_PG_STATEMENT_TIMEOUT_MS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub pg_statement_timeout_ms: u64,

    /// PostgreSQL: milliseconds a session may sit idle inside a transaction before the server
    /// ends it and releases its locks (`idle_in_transaction_session_timeout`).
    #[arg(
        long,
        env = "EVENTIDE_PG_IDLE_IN_TRANSACTION_TIMEOUT_MS",
        default_value_t = 30_000,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub pg_idle_in_transaction_timeout_ms: u64,

    /// Host names this server answers under (comma-separated; `name` for any port, `name:port`
    /// for one, `*` for any). `localhost`, IP literals and the hosts of `--allowed-origins` are
    /// always allowed; other Host headers get 421 (DNS rebinding protection).
    #[arg(
        long,
        env = "EVENTIDE_ALLOWED_HOSTS",
        value_delimiter = ',',
        global = true
    )]
    pub allowed_hosts: Vec<String>,

    /// Seconds a connection may take to send a complete request head; also how long an idle
    /// keep-alive connection is kept open.
    #[arg(
        long,
        env = "EVENTIDE_HEADER_READ_TIMEOUT_SECS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub header_read_timeout_secs: u64,

    /// Open HTTP connections allowed per client IP (0: no cap); further ones are closed. Trusted
    /// proxies are not capped. Generous: one IP can be a whole office behind NAT.
    #[arg(
        long,
        env = "EVENTIDE_MAX_CONNECTIONS_PER_IP",
        default_value_t = 1024,
        global = true
    )]
    pub max_connections_per_ip: usize,

    /// Open websockets allowed per client IP (0: no cap); further upgrades get 429. Generous: one
    /// IP can be a whole office behind NAT (and the latency benchmark opens 500).
    #[arg(
        long,
        env = "EVENTIDE_WS_MAX_PER_IP",
        default_value_t = 1024,
        global = true
    )]
    pub ws_max_per_ip: usize,

    /// Sustained messages per second a websocket client may send (0: no limit); messages
    /// beyond it are answered with an error and not acted on.
    #[arg(
        long,
        env = "EVENTIDE_WS_MESSAGES_PER_SEC",
        default_value_t = 10,
        global = true
    )]
    pub ws_messages_per_sec: u32,

    /// Burst of the websocket message limit (messages allowed at once).
    #[arg(
        long,
        env = "EVENTIDE_WS_MESSAGES_BURST",
        default_value_t = 100,
        global = true
    )]
    pub ws_messages_burst: u32,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "EVENTIDE_MAX_BODY_BYTES", default_value_t = 64 * 1024, global = true)]
    pub max_body_bytes: usize,

    /// Requests taking longer than this many seconds are aborted with 503.
    #[arg(
        long,
        env = "EVENTIDE_REQUEST_TIMEOUT_SECS",
        default_value_t = 30,
        global = true
    )]
    pub request_timeout_secs: u64,

    /// Sustained requests per second allowed per client IP (0 disables rate limiting).
    #[arg(
        long,
        env = "EVENTIDE_RATE_LIMIT_PER_SEC",
        default_value_t = 200,
        global = true
    )]
    pub rate_limit_per_sec: u32,

    /// Burst size of the per-client rate limit (requests allowed at once).
    #[arg(
        long,
        env = "EVENTIDE_RATE_LIMIT_BURST",
        default_value_t = 400,
        global = true
    )]
    pub rate_limit_burst: u32,

    /// Reverse proxy whose `X-Forwarded-For` is trusted for the client IP (repeat or
    /// comma-separate for several). Without it, `X-Forwarded-For` is ignored.
    #[arg(
        long,
        env = "EVENTIDE_TRUSTED_PROXY",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxy: Vec<IpAddr>,

    /// Most events a projection applies per transaction (catch-ups and rebuilds read the log in
    /// batches this large; live batches are as large as what arrived).
    #[arg(
        long,
        env = "EVENTIDE_PROJECTION_BATCH_SIZE",
        default_value_t = 2000,
        value_parser = clap::value_parser!(u32).range(1..=10_000),
        global = true
    )]
    pub projection_batch_size: u32,

    /// Milliseconds a projection may keep the checkpoint of batches it handles none of in
    /// memory before writing it (0 writes every batch); see
    /// `eventstore/src/projection/runner/task/deferred.rs`.
    #[arg(
        long,
        env = "EVENTIDE_PROJECTION_CHECKPOINT_DEFER_MS",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u64).range(0..=60_000),
        global = true
    )]
    pub projection_checkpoint_defer_ms: u64,

    /// Seconds a projection or the relay may be behind without progress before the console,
    /// `/ready` and the metrics call it stalled.
    #[arg(
        long,
        env = "EVENTIDE_STALL_AFTER_SECS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=86_400),
        global = true
    )]
    pub stall_after_secs: u64,

    /// Test hook: this projection keeps its lease but applies nothing (a stalled projection on
    /// demand, for the console's tests). Never set in production.
    #[arg(
        long,
        env = "EVENTIDE_TEST_HOLD_PROJECTION",
        hide = true,
        global = true
    )]
    pub test_hold_projection: Option<String>,

    /// Check every API answer against the OpenAPI document: `off`, `log` (violations logged at
    /// ERROR: for staging) or `enforce` (also answered as 500 `contract_violation`: for tests).
    #[arg(
        long,
        env = "EVENTIDE_CHECK_RESPONSES",
        value_enum,
        default_value_t = crate::api::contract::ResponseCheck::Off,
        global = true
    )]
    pub check_responses: crate::api::contract::ResponseCheck,

    /// Seconds between websocket heartbeats.
    #[arg(
        long,
        env = "EVENTIDE_WS_HEARTBEAT_SECS",
        default_value_t = 15,
        global = true
    )]
    pub ws_heartbeat_secs: u64,

    /// Largest accepted websocket message from a client, in bytes.
    #[arg(long, env = "EVENTIDE_WS_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024, global = true)]
    pub ws_max_message_bytes: usize,

    /// Outgoing messages queued per websocket client before it is disconnected as too slow.
    #[arg(long, env = "EVENTIDE_WS_QUEUE", default_value_t = 256, global = true)]
    pub ws_queue: usize,

    /// Name of this instance, shown wherever it runs a projection or the relay (admin panel,
    /// `/api/projections`, `/api/relay`); unique per instance. Default: `<hostname>-<pid>`.
    #[arg(long, env = "EVENTIDE_INSTANCE_NAME", global = true)]
    pub instance_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// The projection runner's settings for this instance.
    pub fn runner_config(&self, instance: String) -> eventstore::projection::RunnerConfig {
        eventstore::projection::RunnerConfig {
            batch_size: self.projection_batch_size,
            checkpoint_defer: std::time::Duration::from_millis(self.projection_checkpoint_defer_ms),
            instance,
            hold: self.test_hold_projection.clone(),
            ..eventstore::projection::RunnerConfig::default()
        }
    }

    /// The console sampler's settings.
    pub fn console_config(&self) -> orders::console::ConsoleConfig {
        orders::console::ConsoleConfig {
            stall_after: std::time::Duration::from_secs(self.stall_after_secs),
            ..orders::console::ConsoleConfig::default()
        }
    }

    /// The database URL to open: the configured one, or the embedded SQLite file. A PostgreSQL
    /// URL gets the session limits (`--pg-*-timeout-ms`) as startup options, unless it sets them
    /// itself (see `eventstore::db::SessionLimits`).
    pub fn resolved_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => self.session_limits().apply_to_url(url),
            None => format!("sqlite://{}", self.data_dir.join("eventide.db").display()),
        }
    }

    /// The PostgreSQL session limits configured.
    pub fn session_limits(&self) -> eventstore::db::SessionLimits {
        use std::time::Duration;
        eventstore::db::SessionLimits {
            lock_timeout: Duration::from_millis(self.pg_lock_timeout_ms),
            statement_timeout: Duration::from_millis(self.pg_statement_timeout_ms),
            idle_in_transaction_timeout: Duration::from_millis(
                self.pg_idle_in_transaction_timeout_ms,
            ),
        }
    }

    /// This instance's name: the configured one, or `<hostname>-<pid>`.
    pub fn instance(&self) -> String {
        if let Some(name) = self
            .instance_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            return name.to_owned();
        }
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "eventide".to_owned());
        format!("{host}-{}", std::process::id())
    }

    /// Defaults for tests and embedding: like the CLI without arguments, but listening on
    /// `127.0.0.1:0` and keeping data in `data_dir`.
    pub fn for_tests(data_dir: PathBuf) -> Self {
        let cli = Cli::parse_from(["server"]);
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            check_responses: crate::api::contract::ResponseCheck::Enforce,
            ..cli.config
        }
    }
}
