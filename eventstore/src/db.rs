//! The database handle shared by the event store and the application's read models: one
//! `sqlx::AnyPool` for both backends, plus the [`Backend`] that selects the few statements that
//! differ (see `sql/`).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

use crate::error::{StoreError, StoreResult};
use crate::sql::{self, Dialect};
use crate::write_turn::WriteTurns;

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

/// Which database a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a connection URL names (`sqlite:` or `postgres://` / `postgresql://`).
    pub fn from_url(url: &str) -> StoreResult<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::Storage(sqlx::Error::Configuration(
                format!("unsupported database URL (expected sqlite: or postgres://): {url}").into(),
            )))
        }
    }

    /// The backend an open connection talks to.
    pub fn of(conn: &sqlx::AnyConnection) -> Self {
        if conn.backend_name().eq_ignore_ascii_case("sqlite") {
            Self::Sqlite
        } else {
            Self::Postgres
        }
    }

    pub(crate) fn dialect(self) -> &'static Dialect {
        match self {
            Self::Sqlite => &sql::sqlite::DIALECT,
            Self::Postgres => &sql::postgres::DIALECT,
        }
    }

    /// Suffix to put after a JSON parameter placeholder: `""` on SQLite, `"::jsonb"` on
    /// PostgreSQL (for read models writing JSON columns).
    pub fn json_param(self) -> &'static str {
        self.dialect().json_param
    }

    /// The embedded migrations of this backend (`migrations/sqlite` or `migrations/postgres`).
    pub fn migrator(self) -> &'static Migrator {
        match self {
            Self::Sqlite => &SQLITE_MIGRATOR,
            Self::Postgres => &POSTGRES_MIGRATOR,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        })
    }
}

/// Bounds on every PostgreSQL session Eventide opens, so that nothing waits forever behind a
/// session that holds a lock (an operator's open `psql` transaction on `log_head`): a writer
/// waits at most `lock_timeout` for a row lock, a statement runs at most `statement_timeout`, a
/// session idle inside a transaction is ended after `idle_in_transaction_timeout` (its locks
/// go with it). Each batch of the event store's writer is also bounded on the client side by
/// [`commit_timeout`](Self::commit_timeout), which covers a server that stopped answering.
///
/// The limits are PostgreSQL startup options in the connection URL
/// (`options[lock_timeout]=2000`, milliseconds), so every session opened from the URL has them:
/// the pool's, the LISTEN connection's and the leases'. [`Db::connect`] adds the defaults for
/// each limit the URL does not set itself; [`SessionLimits::apply_to_url`] adds other values.
/// The same URL options ask the server for TCP keepalives on these sessions
/// (`tcp_keepalives_idle` / `_interval` / `_count`), which ends a vanished client's session and
/// releases its locks. Client-side keepalives are not reachable: sqlx 0.8 opens the socket
/// itself and has no keepalive or `tcp_user_timeout` setting (libpq's `keepalives*` URL
/// parameters are ignored); a dead server is noticed through the client-side commit bound.
/// Without effect on SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    pub lock_timeout: Duration,
    pub statement_timeout: Duration,
    pub idle_in_transaction_timeout: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            lock_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(10),
            idle_in_transaction_timeout: Duration::from_secs(30),
        }
    }
}

/// Server-side TCP keepalives on every session: probe after 30 s idle, every 10 s, give up after 3.
const PG_KEEPALIVES: [(&str, u64); 3] = [
    ("tcp_keepalives_idle", 30),
    ("tcp_keepalives_interval", 10),
    ("tcp_keepalives_count", 3),
];

impl SessionLimits {
    fn settings(&self) -> [(&'static str, u128); 3] {
        [
            ("lock_timeout", self.lock_timeout.as_millis()),
            ("statement_timeout", self.statement_timeout.as_millis()),
            (
                "idle_in_transaction_session_timeout",
                self.idle_in_transaction_timeout.as_millis(),
            ),
        ]
    }

    /// `url` with these limits (and the keepalives) as startup options, each one only if the
    /// URL does not set it already. SQLite URLs are returned unchanged.
    pub fn apply_to_url(&self, url: &str) -> String {
        if Backend::from_url(url).ok() != Some(Backend::Postgres) {
            return url.to_owned();
        }
        let mut url = url.to_owned();
        let limits = self.settings().map(|(name, ms)| (name, ms.to_string()));
        let keepalives = PG_KEEPALIVES.map(|(name, s)| (name, s.to_string()));
        for (name, value) in limits.iter().chain(keepalives.iter()) {
            if url.contains(name) {
                continue;
            }
            let sep = if url.contains('?') { '&' } else { '?' };
            url.push_str(&format!("{sep}options[{name}]={value}"));
        }
        url
    }

    /// The limits a URL sets in the `options[name]=<milliseconds>` form; defaults for the others.
    fn from_url(url: &str) -> Self {
        let read = |name: &str, default: Duration| {
            let key = format!("options[{name}]=");
            url.split(['?', '&'])
                .find_map(|pair| pair.strip_prefix(key.as_str()))
                .and_then(|ms| ms.parse::<u64>().ok())
                .map_or(default, Duration::from_millis)
        };
        let d = Self::default();
        Self {
            lock_timeout: read("lock_timeout", d.lock_timeout),
            statement_timeout: read("statement_timeout", d.statement_timeout),
            idle_in_transaction_timeout: read(
                "idle_in_transaction_session_timeout",
                d.idle_in_transaction_timeout,
            ),
        }
    }

    /// The client-side bound on one group commit: the statement timeout plus 5 s (a batch is a
    /// handful of statements that normally take milliseconds; the server's own timeouts answer
    /// first, this one catches a server that does not answer at all).
    pub fn commit_timeout(&self) -> Duration {
        self.statement_timeout + Duration::from_secs(5)
    }
}

/// A connection pool to SQLite or PostgreSQL. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    url: String,
    limits: SessionLimits,
    /// SQLite has one write lock per file; this process hands it out, appends first (see
    /// [`Db::write_turn`], [`crate::write_turn`]).
    write_turns: Arc<WriteTurns>,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password: show the backend only.
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// Default pool size (the event store's writer keeps one connection for itself).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

impl Db {
    /// Connects to `sqlite://path/file.db` (the file is created if missing) or
    /// `postgres://user@host/db`, with [`DEFAULT_MAX_CONNECTIONS`].
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_with(url, DEFAULT_MAX_CONNECTIONS).await
    }

    /// [`connect`](Self::connect) with a pool of at most `max_connections` (at least 2).
    pub async fn connect_with(url: &str, max_connections: u32) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            Backend::Sqlite => url.to_owned(),
            Backend::Postgres => SessionLimits::default().apply_to_url(url),
        };
        let limits = SessionLimits::from_url(&url);
        let options = AnyConnectOptions::from_str(&url)?;
        let setup = backend.dialect().connection_setup;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(2))
            .acquire_timeout(Duration::from_secs(30))
            // sqlx pings a connection when it comes back to the pool and, by default, again
            // when it is handed out: on PostgreSQL that second ping finds a backend terminated
            // while idle before a request uses it; an embedded SQLite connection does not go
            // away, and the ping is a round trip to its worker thread on every acquire.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    for statement in setup {
                        conn.execute(*statement).await?;
                    }
                    Ok(())
                })
            })
            // A connection that comes back still inside a transaction (a commit that failed, for
            // example on a full disk, then a failed rollback) would hold SQLite's write lock or
            // break the next `begin`: close it instead of reusing it.
            .after_release(|conn, _meta| {
                Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) })
            })
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            backend,
            url,
            limits,
            write_turns: Arc::default(),
        })
    }

    /// Applies the embedded migrations of this backend (idempotent).
    pub async fn migrate(&self) -> StoreResult<()> {
        self.backend.migrator().run(&self.pool).await?;
        Ok(())
    }

    /// On SQLite, waits for this process's turn to write and holds it until the guard drops
    /// (take it before `begin immediate`, drop it after commit). SQLite's own busy handler lets
    /// waiting writers sleep and retry (1 ms up to 100 ms, in no order), which under load turns
    /// into long tails; the event store writer and the projection tasks queue here instead. This
    /// is the turn of a background writer (everything but the store's appends): it lets waiting
    /// appends go first, for at most [`crate::write_turn::MAX_YIELD`], then queues first come,
    /// first served. Other processes still meet the busy timeout. `None` on PostgreSQL (row
    /// locks, no file lock).
    pub async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self.backend {
            Backend::Sqlite => Some(self.write_turns.background().await),
            Backend::Postgres => None,
        }
    }

    /// [`Db::write_turn`] for the event store's appends: ahead of every background writer that
    /// has not started its transaction (a command's reply waits for it).
    pub(crate) async fn append_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self.backend {
            Backend::Sqlite => Some(self.write_turns.append().await),
            Backend::Postgres => None,
        }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The session limits in effect (see [`SessionLimits`]; the defaults on SQLite).
    pub fn session_limits(&self) -> SessionLimits {
        self.limits
    }

    /// The URL this Db connected with (for SQLite including the `mode=rwc` it added).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Closes every connection of the pool (waits for checked-out ones to come back).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Outside a transaction: see [`crate::checkpoint::load_checkpoint`].
    pub async fn load_checkpoint(&self, name: &str) -> StoreResult<i64> {
        let mut conn = self.pool.acquire().await?;
        crate::checkpoint::load_checkpoint(&mut conn, name).await
    }

    /// Outside a transaction: see [`crate::checkpoint::save_checkpoint`].
    pub async fn save_checkpoint(&self, name: &str, position: i64) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        crate::checkpoint::save_checkpoint(&mut conn, name, position).await
    }

    /// Outside a transaction: see [`crate::checkpoint::advance_checkpoint`].
    pub async fn advance_checkpoint(&self, name: &str, position: i64) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        crate::checkpoint::advance_checkpoint(&mut conn, name, position).await
    }
}

/// Microseconds since the Unix epoch, the timestamp format of every `*_at_us` column.
pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
