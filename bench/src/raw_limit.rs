//! The raw limit: the same rows inserted into Eventide's own `events` table (same columns and
//! indexes, same durability) with no event-store logic: positions handed out in memory, one
//! autocommitted `insert` per row (the same writers as the other implementations), and batched
//! (one writer, [`BATCH_ROWS`] rows per multi-row insert and transaction).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use eventstore::db::now_us;
use eventstore::{Backend, Db};
use uuid::Uuid;

use crate::appends::{Appender, Attempt, Measured, Payload, Workload, drive};
use crate::seed_design::pool_size;
use crate::support::{Percentiles, PgAdmin};

pub const BATCH_ROWS: usize = 500;
const COLUMNS: usize = 11;

fn insert_sql(backend: Backend, rows: usize) -> String {
    let j = backend.json_param();
    let mut sql = String::from(
        "insert into events (position, event_id, stream_id, stream_type, version, event_type, \
         schema_version, data, metadata, correlation_id, recorded_at_us) values ",
    );
    for r in 0..rows {
        let b = r * COLUMNS;
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}{j}, ${}{j}, ${}, ${})",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6,
            b + 7,
            b + 8,
            b + 9,
            b + 10,
            b + 11
        ));
    }
    sql
}

struct Raw {
    db: Db,
    position: AtomicI64,
    insert: String,
}

#[async_trait]
impl Appender for Raw {
    async fn append(
        &self,
        stream: &str,
        expected: i64,
        payload: &Payload,
    ) -> anyhow::Result<Attempt> {
        let position = self.position.fetch_add(1, Ordering::Relaxed) + 1;
        let result = sqlx::query(&self.insert)
            .bind(position)
            .bind(Uuid::now_v7().to_string())
            .bind(stream)
            .bind("product")
            .bind(expected + 1)
            .bind(payload.event_type)
            .bind(1_i32)
            .bind(serde_json::to_string(&payload.data)?)
            .bind(serde_json::to_string(&payload.metadata)?)
            .bind(payload.metadata.correlation_id.map(|c| c.to_string()))
            .bind(now_us())
            .execute(self.db.pool())
            .await;
        match result {
            Ok(_) => Ok(Attempt::Appended),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(Attempt::Conflict),
            Err(e) => Err(e.into()),
        }
    }

    async fn version(&self, stream: &str) -> anyhow::Result<i64> {
        let v: Option<i64> =
            sqlx::query_scalar("select max(version) from events where stream_id = $1")
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
    let fresh = pg.fresh_db(backend, "raw").await?;
    let db = fresh.migrated(pool_size(workload.writers)).await?;
    let raw = Arc::new(Raw {
        db: db.clone(),
        position: AtomicI64::new(0),
        insert: insert_sql(backend, 1),
    });
    let result = drive(raw, workload, window).await;
    db.close().await;
    fresh.cleanup().await;
    result
}

/// One writer, [`BATCH_ROWS`] rows per transaction, for `window`.
pub async fn measure_batched(
    backend: Backend,
    pg: &PgAdmin,
    window: Duration,
) -> anyhow::Result<Measured> {
    let fresh = pg.fresh_db(backend, "rawbatch").await?;
    let db = fresh.migrated(2).await?;
    let result = async {
        let insert = insert_sql(backend, BATCH_ROWS);
        let started = Instant::now();
        let mut position = 0_i64;
        let mut latencies = Vec::new();
        let mut n = 0_u64;
        while started.elapsed() < window {
            let stream = format!("product-{}", Uuid::now_v7());
            let mut query = sqlx::query(&insert);
            for version in 1..=BATCH_ROWS as i64 {
                n += 1;
                position += 1;
                let payload = Payload::sample(n);
                query = query
                    .bind(position)
                    .bind(Uuid::now_v7().to_string())
                    .bind(stream.clone())
                    .bind("product")
                    .bind(version)
                    .bind(payload.event_type)
                    .bind(1_i32)
                    .bind(serde_json::to_string(&payload.data)?)
                    .bind(serde_json::to_string(&payload.metadata)?)
                    .bind(payload.metadata.correlation_id.map(|c| c.to_string()))
                    .bind(now_us());
            }
            let t = Instant::now();
            query.execute(db.pool()).await?;
            latencies.push(t.elapsed());
        }
        let seconds = started.elapsed().as_secs_f64();
        anyhow::Ok(Measured {
            appends: position as u64,
            seconds,
            per_sec: position as f64 / seconds,
            conflicts: 0,
            errors: 0,
            first_error: None,
            latency: Percentiles::of(&mut latencies),
            anomalies: None,
        })
    }
    .await;
    db.close().await;
    fresh.cleanup().await;
    result
}
