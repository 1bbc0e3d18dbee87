//! The server-side session store of `tower-sessions`, over Eventide's own database handle.
//!
//! Why not `tower-sessions-sqlx-store`: it needs a native `SqlitePool`/`PgPool` next to the
//! store's `Any` pool, its own schema and migrations, and its SQLite writes would bypass this
//! process's write turn (`Db::write_turn`). This store is the four methods of the trait over
//! table `auth_sessions` (migration 0008), the same SQL on both backends, with the store's
//! timeouts. The session layer, cookies, id rotation and expiry are `tower-sessions`'.
//!
//! Rows are keyed by the SHA-256 of the session id, so a copy of the table does not hold
//! usable cookies. A deleted row is a session ended on every instance.

use async_trait::async_trait;
use eventstore::Db;
use eventstore::db::now_us;
use sqlx::Row as _;
use tower_sessions_core::SessionStore;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::session_store::{Error, Result};

use crate::identity::tokens::digest;

/// Sessions in table `auth_sessions`.
#[derive(Debug, Clone)]
pub struct SqlSessionStore {
    db: Db,
}

impl SqlSessionStore {
    /// Uses the table in `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Deletes expired rows; returns how many.
    pub async fn delete_expired(&self) -> anyhow::Result<u64> {
        let _turn = self.db.write_turn().await;
        let done = sqlx::query("delete from auth_sessions where expiry_us < $1")
            .bind(now_us())
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

fn key(id: &Id) -> String {
    digest(&id.to_string())
}

fn backend(e: impl std::fmt::Display) -> Error {
    Error::Backend(e.to_string())
}

fn expiry_us(record: &Record) -> i64 {
    let nanos = record.expiry_date.unix_timestamp_nanos() / 1_000;
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

#[async_trait]
impl SessionStore for SqlSessionStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        // Ids are 128 random bits; on the impossible collision, draw another.
        loop {
            let data = serde_json::to_string(&record).map_err(|e| Error::Encode(e.to_string()))?;
            let _turn = self.db.write_turn().await;
            let inserted = sqlx::query(
                "insert into auth_sessions (id, data, expiry_us) values ($1, $2, $3) \
                 on conflict (id) do nothing",
            )
            .bind(key(&record.id))
            .bind(data)
            .bind(expiry_us(record))
            .execute(self.db.pool())
            .await
            .map_err(backend)?;
            if inserted.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> Result<()> {
        let data = serde_json::to_string(record).map_err(|e| Error::Encode(e.to_string()))?;
        let _turn = self.db.write_turn().await;
        sqlx::query(
            "insert into auth_sessions (id, data, expiry_us) values ($1, $2, $3) \
             on conflict (id) do update set data = excluded.data, expiry_us = excluded.expiry_us",
        )
        .bind(key(&record.id))
        .bind(data)
        .bind(expiry_us(record))
        .execute(self.db.pool())
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        let row = sqlx::query("select data from auth_sessions where id = $1 and expiry_us > $2")
            .bind(key(id))
            .bind(now_us())
            .fetch_optional(self.db.pool())
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let data: String = row.try_get(0).map_err(backend)?;
        let record: Record =
            serde_json::from_str(&data).map_err(|e| Error::Decode(e.to_string()))?;
        Ok(Some(record))
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        let _turn = self.db.write_turn().await;
        sqlx::query("delete from auth_sessions where id = $1")
            .bind(key(id))
            .execute(self.db.pool())
            .await
            .map_err(backend)?;
        Ok(())
    }
}
