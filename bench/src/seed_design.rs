//! The seed design, implemented faithfully as the baseline: in one transaction, `select
//! max(version)` for the stream, compare with the expected version, then one `insert` per
//! event. Positions come from an auto-increment column; there is no unique `(stream_id,
//! version)` index (only a plain one for the lookup), which is the seed's race: two writers can
//! both read the same max and both insert. The benchmark counts the duplicates it leaves.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use eventstore::{Backend, Db};
use sqlx::Executor as _;
use uuid::Uuid;

use crate::appends::{Appender, Attempt, Measured, Payload, Workload, drive};
use crate::support::PgAdmin;

const SQLITE_SCHEMA: &[&str] = &[
    "create table seed_events (
        position integer primary key autoincrement,
        event_id text not null unique,
        stream_id text not null,
        stream_type text not null,
        version integer not null,
        event_type text not null,
        schema_version integer not null,
        data text not null,
        metadata text not null,
        recorded_at_us integer not null)",
    "create index seed_events_stream_idx on seed_events (stream_id, version)",
];

const POSTGRES_SCHEMA: &[&str] = &[
    "create table seed_events (
        position bigserial primary key,
        event_id text not null unique,
        stream_id text not null,
        stream_type text not null,
        version bigint not null,
        event_type text not null,
        schema_version bigint not null,
        data jsonb not null,
        metadata jsonb not null,
        recorded_at_us bigint not null)",
    "create index seed_events_stream_idx on seed_events (stream_id, version)",
];

struct Seed {
    db: Db,
    insert: String,
}

impl Seed {
    async fn create(db: Db) -> anyhow::Result<Self> {
        let schema = match db.backend() {
            Backend::Sqlite => SQLITE_SCHEMA,
            Backend::Postgres => POSTGRES_SCHEMA,
        };
        for statement in schema {
            db.pool().execute(*statement).await?;
        }
        let j = db.backend().json_param();
        let insert = format!(
            "insert into seed_events (event_id, stream_id, stream_type, version, event_type, \
             schema_version, data, metadata, recorded_at_us) \
             values ($1, $2, $3, $4, $5, $6, $7{j}, $8{j}, $9)"
        );
        Ok(Self { db, insert })
    }
}

/// Lock contention of the seed's deferred transactions (SQLite `database is locked`, a
/// PostgreSQL serialization failure): the caller retries like a conflict.
fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            let msg = d.message();
            msg.contains("locked") || msg.contains("busy") || d.code().as_deref() == Some("40001")
        }
        _ => false,
    }
}

#[async_trait]
impl Appender for Seed {
    async fn append(
        &self,
        stream: &str,
        expected: i64,
        payload: &Payload,
    ) -> anyhow::Result<Attempt> {
        let attempt = async {
            let mut tx = self.db.pool().begin().await?;
            let current: Option<i64> =
                sqlx::query_scalar("select max(version) from seed_events where stream_id = $1")
                    .bind(stream)
                    .fetch_one(&mut *tx)
                    .await?;
            if current.unwrap_or(0) != expected {
                tx.rollback().await?;
                return Ok(Attempt::Conflict);
            }
            // One insert per event (here: one event per append).
            sqlx::query(&self.insert)
                .bind(Uuid::now_v7().to_string())
                .bind(stream)
                .bind("product")
                .bind(expected + 1)
                .bind(payload.event_type)
                .bind(1_i32)
                .bind(serde_json::to_string(&payload.data)?)
                .bind(serde_json::to_string(&payload.metadata)?)
                .bind(eventstore::db::now_us())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            anyhow::Ok(Attempt::Appended)
        }
        .await;
        match attempt {
            Err(e) if e.downcast_ref::<sqlx::Error>().is_some_and(is_transient) => {
                Ok(Attempt::Conflict)
            }
            other => other,
        }
    }

    async fn version(&self, stream: &str) -> anyhow::Result<i64> {
        let v: Option<i64> =
            sqlx::query_scalar("select max(version) from seed_events where stream_id = $1")
                .bind(stream)
                .fetch_one(self.db.pool())
                .await?;
        Ok(v.unwrap_or(0))
    }
}

pub async fn measure(
    backend: Backend,
    pg: &PgAdmin,
    workload: Workload,
    window: Duration,
) -> anyhow::Result<Measured> {
    let fresh = pg.fresh_db(backend, "seed").await?;
    let db = fresh.connect(pool_size(workload.writers)).await?;
    let result = async {
        let seed = Arc::new(Seed::create(db.clone()).await?);
        let mut measured = drive(seed, workload, window).await?;
        let duplicates: i64 = sqlx::query_scalar(
            "select count(*) from (select stream_id, version from seed_events \
             group by stream_id, version having count(*) > 1) d",
        )
        .fetch_one(db.pool())
        .await?;
        if duplicates > 0 {
            measured.anomalies = Some(format!(
                "{duplicates} stream versions written twice (the seed's max(version) race)"
            ));
        }
        anyhow::Ok(measured)
    }
    .await;
    db.close().await;
    fresh.cleanup().await;
    result
}

/// Connections for the baselines: one per writer, capped to leave the shared PostgreSQL room.
pub fn pool_size(writers: usize) -> u32 {
    writers.clamp(2, 32) as u32
}
