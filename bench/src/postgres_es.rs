//! postgres-es 0.5 (cqrs-es 0.5, crates.io) on the same PostgreSQL: a minimal aggregate (one
//! command, one event) and its `PostgresEventRepository`. Appends go through
//! `PersistedEventRepository::persist`, the write path `CqrsFramework::execute` ends in (one
//! transaction, one insert per event, the `(aggregate_type, aggregate_id, sequence)` primary key
//! as the concurrency guard), without the aggregate load `execute` does before it, so that both
//! stores are measured on the append alone.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{PersistedEventRepository as _, PersistenceError, SerializedEvent};
use cqrs_es::{Aggregate, DomainEvent};
use postgres_es::PostgresEventRepository;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor as _, PgPool};

use crate::appends::{Appender, Attempt, Measured, Payload, Workload, drive};
use crate::seed_design::pool_size;
use crate::support::PgAdmin;

/// The tables of postgres-es's `db/init.sql` (events and snapshots).
const SCHEMA: &[&str] = &[
    "CREATE TABLE events (
        aggregate_type text NOT NULL,
        aggregate_id   text NOT NULL,
        sequence       bigint CHECK (sequence >= 0) NOT NULL,
        event_type     text NOT NULL,
        event_version  text NOT NULL,
        payload        json NOT NULL,
        metadata       json NOT NULL,
        PRIMARY KEY (aggregate_type, aggregate_id, sequence))",
    "CREATE TABLE snapshots (
        aggregate_type   text NOT NULL,
        aggregate_id     text NOT NULL,
        last_sequence    bigint CHECK (last_sequence >= 0) NOT NULL,
        current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
        payload          json NOT NULL,
        PRIMARY KEY (aggregate_type, aggregate_id, last_sequence))",
];

/// A product whose price can change: one command, one event.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct BenchProduct {
    price: i64,
}

#[derive(Debug)]
pub struct Reprice {
    pub price: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BenchEvent {
    ProductRepriced { price: i64, previous_price: i64 },
}

impl DomainEvent for BenchEvent {
    fn event_type(&self) -> String {
        "ProductRepriced".to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// The aggregate's (never returned) business error.
#[derive(Debug)]
pub struct BenchError;

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("rejected")
    }
}

impl std::error::Error for BenchError {}

impl Aggregate for BenchProduct {
    const TYPE: &'static str = "product";
    type Command = Reprice;
    type Event = BenchEvent;
    type Error = BenchError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = BenchEvent::ProductRepriced {
            price: command.price,
            previous_price: self.price,
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            BenchEvent::ProductRepriced { price, .. } => self.price = price,
        }
    }
}

struct PgEs {
    repo: PostgresEventRepository,
    pool: PgPool,
}

#[async_trait]
impl Appender for PgEs {
    async fn append(
        &self,
        stream: &str,
        expected: i64,
        payload: &Payload,
    ) -> anyhow::Result<Attempt> {
        let sequence = usize::try_from(expected + 1)?;
        let metadata = serde_json::to_value(&payload.metadata)?;
        let event = SerializedEvent::new(
            stream.to_owned(),
            sequence,
            BenchProduct::TYPE.to_owned(),
            payload.event_type.to_owned(),
            "1".to_owned(),
            payload.data.clone(),
            metadata,
        );
        match self.repo.persist::<BenchProduct>(&[event], None).await {
            Ok(()) => Ok(Attempt::Appended),
            Err(PersistenceError::OptimisticLockError) => Ok(Attempt::Conflict),
            Err(e) => Err(anyhow::anyhow!("postgres-es: {e}")),
        }
    }

    async fn version(&self, stream: &str) -> anyhow::Result<i64> {
        let v: Option<i64> = sqlx::query_scalar(
            "select max(sequence) from events where aggregate_type = $1 and aggregate_id = $2",
        )
        .bind(BenchProduct::TYPE)
        .bind(stream)
        .fetch_one(&self.pool)
        .await?;
        Ok(v.unwrap_or(0))
    }
}

pub async fn measure(
    pg: &PgAdmin,
    workload: Workload,
    window: Duration,
) -> anyhow::Result<Measured> {
    let fresh = pg.fresh_db(eventstore::Backend::Postgres, "pges").await?;
    let result = async {
        let pool = PgPoolOptions::new()
            .max_connections(pool_size(workload.writers))
            .connect(fresh.url())
            .await?;
        for statement in SCHEMA {
            pool.execute(*statement).await?;
        }
        let appender = Arc::new(PgEs {
            repo: PostgresEventRepository::new(pool.clone()),
            pool: pool.clone(),
        });
        let measured = drive(appender, workload, window).await;
        pool.close().await;
        measured
    }
    .await;
    fresh.cleanup().await;
    result
}
