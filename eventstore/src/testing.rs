//! Test harness shared with other crates' tests: fresh, migrated databases.
//!
//! ```ignore
//! let test_db = eventstore::testing::TestDb::new(Backend::Postgres).await?;
//! let store = SqlEventStore::open(test_db.db().clone(), UpcasterRegistry::new()).await?;
//! // ...
//! store.shutdown().await;
//! test_db.cleanup().await; // best effort: closes the pool, deletes the file / drops the database
//! ```
//!
//! SQLite: a new file in `std::env::temp_dir()`. PostgreSQL: `CREATE DATABASE
//! eventide_test_<uuid>` through the admin URL in `EVENTIDE_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`).
//!
//! [`FreshDb`] is the piece underneath: an empty database (not migrated, no pool) with its own
//! name prefix and admin URL, for callers that size their own pools or bring their own schema
//! (the benchmark).

use std::path::PathBuf;

use serde_json::Value;
use sqlx::{AnyConnection, Connection as _, Executor as _};
use uuid::Uuid;

use crate::chain;
use crate::db::{Backend, Db, now_us};
use crate::envelope::EventMetadata;
use crate::error::StoreResult;
use crate::sql;

/// Environment variable holding the PostgreSQL admin URL used to create test databases.
pub const PG_URL_ENV: &str = "EVENTIDE_TEST_PG_URL";
pub const DEFAULT_PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Pool size of test databases (PostgreSQL tests run in parallel against one server).
const TEST_MAX_CONNECTIONS: u32 = 8;
/// Name prefix of test databases and files.
const TEST_PREFIX: &str = "eventide_test";

/// A fresh, migrated database; call [`TestDb::cleanup`] at the end.
#[derive(Debug)]
pub struct TestDb {
    db: Db,
    fresh: FreshDb,
}

/// A fresh, empty database: a new SQLite file in the temp directory or a new PostgreSQL
/// database, named `<prefix>_<uuid>`. Not migrated and no pool open; connect with
/// [`connect`](Self::connect) or [`migrated`](Self::migrated), close those pools, then call
/// [`cleanup`](Self::cleanup).
#[derive(Debug)]
pub struct FreshDb {
    url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    SqliteFile(PathBuf),
    PostgresDatabase { admin_url: String, name: String },
}

/// The PostgreSQL admin URL tests use.
pub fn pg_admin_url() -> String {
    std::env::var(PG_URL_ENV).unwrap_or_else(|_| DEFAULT_PG_ADMIN_URL.to_owned())
}

impl FreshDb {
    /// A fresh database of `backend`; `admin_url` (PostgreSQL only) names the server.
    pub async fn new(backend: Backend, admin_url: &str, prefix: &str) -> StoreResult<Self> {
        match backend {
            Backend::Sqlite => Ok(Self::sqlite(prefix)),
            Backend::Postgres => Self::postgres(admin_url, prefix).await,
        }
    }

    /// A new SQLite file `<prefix>_<uuid>.db` in the temp directory (created on first connect).
    pub fn sqlite(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{prefix}_{}.db", Uuid::now_v7().simple()));
        Self {
            url: format!("sqlite://{}", path.display()),
            cleanup: Cleanup::SqliteFile(path),
        }
    }

    /// A new PostgreSQL database `<prefix>_<uuid>`, created through `admin_url`.
    pub async fn postgres(admin_url: &str, prefix: &str) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let name = format!("{prefix}_{}", Uuid::now_v7().simple());
        let mut admin = AnyConnection::connect(admin_url).await?;
        admin
            .execute(format!("create database \"{name}\"").as_str())
            .await?;
        admin.close().await?;
        Ok(Self {
            url: database_url(admin_url, &name),
            cleanup: Cleanup::PostgresDatabase {
                admin_url: admin_url.to_owned(),
                name,
            },
        })
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Connects with the store's connection settings (WAL + synchronous=FULL on SQLite).
    pub async fn connect(&self, max_connections: u32) -> StoreResult<Db> {
        Db::connect_with(&self.url, max_connections).await
    }

    /// Connects and applies Eventide's migrations.
    pub async fn migrated(&self, max_connections: u32) -> StoreResult<Db> {
        let db = self.connect(max_connections).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// Best effort: deletes the SQLite file or drops the database. Close its pools first.
    pub async fn cleanup(self) {
        match self.cleanup {
            Cleanup::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Cleanup::PostgresDatabase { admin_url, name } => {
                if let Ok(mut admin) = AnyConnection::connect(&admin_url).await {
                    let _ = admin
                        .execute(
                            format!("drop database if exists \"{name}\" with (force)").as_str(),
                        )
                        .await;
                    let _ = admin.close().await;
                }
            }
        }
    }
}

impl TestDb {
    /// A fresh database of `backend`.
    pub async fn new(backend: Backend) -> StoreResult<Self> {
        match backend {
            Backend::Sqlite => Self::sqlite().await,
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// A new SQLite file in the temp directory.
    pub async fn sqlite() -> StoreResult<Self> {
        Self::migrate(FreshDb::sqlite(TEST_PREFIX)).await
    }

    /// A new PostgreSQL database on the server of [`pg_admin_url`].
    pub async fn postgres() -> StoreResult<Self> {
        Self::migrate(FreshDb::postgres(&pg_admin_url(), TEST_PREFIX).await?).await
    }

    async fn migrate(fresh: FreshDb) -> StoreResult<Self> {
        let db = fresh.migrated(TEST_MAX_CONNECTIONS).await?;
        Ok(Self { db, fresh })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// Best effort: closes the pool, then deletes the SQLite file or drops the database.
    pub async fn cleanup(self) {
        self.db.close().await;
        self.fresh.cleanup().await;
    }
}

/// `admin_url` with its database name replaced by `name`.
pub fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut url = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

/// Appends one event with raw SQL, the way the store does (counter row, insert, stream upsert,
/// hash chain),
/// bypassing the store: for tests that need old-shape rows or a transaction held open. Returns
/// the event's position. Run it inside a transaction (`&mut *tx`) to hold the log lock.
#[allow(clippy::too_many_arguments)]
pub async fn raw_append(
    conn: &mut AnyConnection,
    backend: Backend,
    stream_id: &str,
    stream_type: &str,
    event_id: Uuid,
    event_type: &str,
    schema_version: i32,
    data: &Value,
    metadata: &EventMetadata,
) -> StoreResult<i64> {
    let (position, prev) = crate::chain_rows::advance_head(&mut *conn, 1).await?;
    let version: i64 = sqlx::query_scalar::<_, i64>(sql::STREAM_VERSION)
        .bind(stream_id)
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or(0)
        + 1;
    let now = now_us();
    // Chained like the store's writer does it (the same format and link).
    let event_id = event_id.to_string();
    let digest = chain::content_digest(&chain::Content {
        event_id: &event_id,
        stream_id,
        stream_type,
        event_type,
        schema_version: i64::from(schema_version),
        data,
        metadata: &serde_json::to_value(metadata)?,
        tags: &[],
    });
    let hash = chain::row_hash(&prev, position, version, now, &digest);
    let statement = sql::insert_events(backend.dialect(), 1);
    sqlx::query(&statement)
        .bind(position)
        .bind(&event_id)
        .bind(stream_id)
        .bind(stream_type)
        .bind(version)
        .bind(event_type)
        .bind(schema_version)
        .bind(serde_json::to_string(data)?)
        .bind(serde_json::to_string(metadata)?)
        .bind(metadata.correlation_id.map(|c| c.to_string()))
        .bind(now)
        .bind(None::<String>)
        .bind(hash.to_vec())
        .bind(prev.to_vec())
        .execute(&mut *conn)
        .await?;
    sqlx::query(&sql::upsert_streams(backend.dialect(), 1))
        .bind(stream_id)
        .bind(stream_type)
        .bind(version)
        .bind(now)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(position)
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_url_replaces_the_name() {
        use super::database_url;
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            database_url("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            database_url("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}
