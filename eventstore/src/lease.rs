//! Leader leases: exactly one holder of a named lease across every instance on one database.
//!
//! On PostgreSQL a lease is a session advisory lock (`pg_try_advisory_lock(ns, hashtext(name))`)
//! taken on a dedicated connection opened from the [`Db`]'s URL, outside the pool, so the lock
//! lives exactly as long as that session: when the holder process dies or its connection breaks,
//! PostgreSQL releases the lock and a contender's next attempt gets it. The holder checks its
//! connection every [`CHECK_EVERY`] (`select 1`) and [`Lease::lost`] resolves as soon as it
//! breaks, so the guarded work stops at once. Acquisition records the holder's instance name in
//! the `leases` table, which every instance reads to show who runs what ([`holder`]).
//!
//! On SQLite (a single process) a lease is always granted.
//!
//! Typical use: `try_acquire` every [`RETRY_EVERY`] until it returns true, then run the work in
//! `tokio::select!` against [`Lease::lost`], then [`Lease::release`].

use std::time::Duration;

use sqlx::{Connection as _, PgConnection};

use crate::db::{Backend, Db, now_us};
use crate::error::StoreResult;

/// How often a contender retries.
pub const RETRY_EVERY: Duration = Duration::from_secs(2);
/// How often the holder checks its connection.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);
/// A check that takes longer than this counts as a lost connection.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(3);
/// First key of every Eventide advisory lock (the second is `hashtext(name)`).
const LOCK_NAMESPACE: i32 = 0x0E7E;

const RECORD_HOLDER: &str = "insert into leases (name, instance, acquired_at_us) values ($1, $2, $3) \
     on conflict (name) do update set instance = excluded.instance, \
     acquired_at_us = excluded.acquired_at_us";
const LOAD_HOLDER: &str = "select instance from leases where name = $1";

/// One named lease, held or contended by this process.
pub struct Lease {
    db: Db,
    name: String,
    instance: String,
    /// PostgreSQL: the session that holds (or tries to take) the lock.
    conn: Option<PgConnection>,
    held: bool,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("name", &self.name)
            .field("instance", &self.instance)
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

impl Lease {
    /// A lease named `name` (e.g. `projection:orders`) for the instance `instance`; not held yet.
    pub fn new(db: Db, name: impl Into<String>, instance: impl Into<String>) -> Self {
        Self {
            db,
            name: name.into(),
            instance: instance.into(),
            conn: None,
            held: false,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this process holds the lease.
    pub fn is_held(&self) -> bool {
        self.held
    }

    /// One attempt: true when the lease is (now) held. The contending connection is kept
    /// between attempts; an error drops it (the next attempt reconnects).
    pub async fn try_acquire(&mut self) -> StoreResult<bool> {
        if self.held {
            return Ok(true);
        }
        if self.db.backend() == Backend::Sqlite {
            self.held = true;
            sqlx::query(RECORD_HOLDER)
                .bind(&self.name)
                .bind(&self.instance)
                .bind(now_us())
                .execute(self.db.pool())
                .await?;
            return Ok(true);
        }
        let result = self.try_lock().await;
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    async fn try_lock(&mut self) -> StoreResult<bool> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => {
                let conn = PgConnection::connect(self.db.url()).await?;
                self.conn.insert(conn)
            }
        };
        let got: bool = sqlx::query_scalar("select pg_try_advisory_lock($1, hashtext($2))")
            .bind(LOCK_NAMESPACE)
            .bind(&self.name)
            .fetch_one(&mut *conn)
            .await?;
        if !got {
            return Ok(false);
        }
        if let Err(e) = sqlx::query(RECORD_HOLDER)
            .bind(&self.name)
            .bind(&self.instance)
            .bind(now_us())
            .execute(&mut *conn)
            .await
        {
            // Do not hold a lock nobody can see: give it back with the session.
            self.conn = None;
            return Err(e.into());
        }
        self.held = true;
        Ok(true)
    }

    /// Resolves when a held lease is lost (its connection broke or stopped answering); never
    /// resolves on SQLite or when not held. Returns the reason. Cancel-safe.
    pub async fn lost(&mut self) -> String {
        if !self.held {
            return std::future::pending().await;
        }
        let Some(conn) = self.conn.as_mut() else {
            // SQLite: held for the life of the process.
            return std::future::pending().await;
        };
        loop {
            tokio::time::sleep(CHECK_EVERY).await;
            let check = tokio::time::timeout(CHECK_TIMEOUT, conn.ping()).await;
            let reason = match check {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => format!("lease connection failed: {e}"),
                Err(_) => format!(
                    "lease connection did not answer within {} s",
                    CHECK_TIMEOUT.as_secs()
                ),
            };
            self.held = false;
            self.conn = None;
            return reason;
        }
    }

    /// Gives the lease up (closes the session, which releases the lock).
    pub async fn release(&mut self) {
        self.held = false;
        if let Some(conn) = self.conn.take() {
            let _ = tokio::time::timeout(CHECK_TIMEOUT, conn.close()).await;
        }
    }
}

/// The instance that acquired lease `name` last (the current holder while it lives).
pub async fn holder(db: &Db, name: &str) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar(LOAD_HOLDER)
        .bind(name)
        .fetch_optional(db.pool())
        .await?)
}
