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

use std::path::PathBuf;

use serde_json::Value;
use sqlx::{AnyConnection, Connection as _, Executor as _};
use uuid::Uuid;

use crate::db::{Backend, Db, now_us};
use crate::envelope::EventMetadata;
use crate::error::StoreResult;
use crate::sql;

/// Environment variable holding the PostgreSQL admin URL used to create test databases.
pub const PG_URL_ENV: &str = "EVENTIDE_TEST_PG_URL";
pub const DEFAULT_PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Pool size of test databases (PostgreSQL tests run in parallel against one server).
const TEST_MAX_CONNECTIONS: u32 = 8;

/// A fresh, migrated database; call [`TestDb::cleanup`] at the end.
#[derive(Debug)]
pub struct TestDb {
    db: Db,
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
        let path =
            std::env::temp_dir().join(format!("eventide_test_{}.db", Uuid::now_v7().simple()));
        let db = Db::connect_with(
            &format!("sqlite://{}", path.display()),
            TEST_MAX_CONNECTIONS,
        )
        .await?;
        db.migrate().await?;
        Ok(Self {
            db,
            cleanup: Cleanup::SqliteFile(path),
        })
    }

    /// A new PostgreSQL database on the server of [`pg_admin_url`].
    pub async fn postgres() -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let admin_url = pg_admin_url();
        let name = format!("eventide_test_{}", Uuid::now_v7().simple());
        let mut admin = AnyConnection::connect(&admin_url).await?;
        admin
            .execute(format!("create database \"{name}\"").as_str())
            .await?;
        admin.close().await?;
        let db = Db::connect_with(&database_url(&admin_url, &name), TEST_MAX_CONNECTIONS).await?;
        db.migrate().await?;
        Ok(Self {
            db,
            cleanup: Cleanup::PostgresDatabase { admin_url, name },
        })
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

/// Appends one event with raw SQL, the way the store does (counter row, insert, stream upsert),
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
    let position: i64 = sqlx::query_scalar(sql::ADVANCE_HEAD)
        .bind(1_i64)
        .fetch_one(&mut *conn)
        .await?;
    let version: i64 = sqlx::query_scalar::<_, i64>(sql::STREAM_VERSION)
        .bind(stream_id)
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or(0)
        + 1;
    let now = now_us();
    let statement = sql::insert_events(backend.dialect(), 1);
    sqlx::query(&statement)
        .bind(position)
        .bind(event_id.to_string())
        .bind(stream_id)
        .bind(stream_type)
        .bind(version)
        .bind(event_type)
        .bind(schema_version)
        .bind(serde_json::to_string(data)?)
        .bind(serde_json::to_string(metadata)?)
        .bind(metadata.correlation_id.map(|c| c.to_string()))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query(sql::UPSERT_STREAM)
        .bind(stream_id)
        .bind(stream_type)
        .bind(version)
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
