//! Idempotency keys: the table `idempotency_keys` (migration 0003) and the deterministic event
//! ids of keyed commands.
//!
//! The row of a key is written right after its command's append succeeded. Two requests with
//! the same key racing (or a crash between the append and the row) are covered by the event
//! ids: the events of a keyed command get ids derived from the key, so the store recognises a
//! second append of them (same content: the original result; different content: an
//! idempotency conflict), and a key without row can be recovered from the events themselves.

use eventstore::Db;
use eventstore::db::now_us;
use sqlx::Row as _;
use uuid::Uuid;

use crate::command::error::{CommandError, CommandResult};

/// Longest idempotency key accepted, in characters.
pub const MAX_KEY_LEN: usize = 200;

/// UUID v5 namespace of the event ids of keyed commands.
const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x8f1c_4be2_7d3a_5e10_9c6b_2a4d_e7f0_1b35);

/// The stored outcome of a keyed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// The key.
    pub key: String,
    /// Canonical text of the request the key was first used with.
    pub request_hash: String,
    /// The stream written to.
    pub stream_id: String,
    /// Stream version after the append.
    pub version: i64,
    /// Global position of the last event appended.
    pub position: i64,
    /// Number of events appended.
    pub event_count: i64,
}

/// Checks the key's length.
/// What is stored of a request to tell a replay from a reused key: `sha256:` and the hex
/// SHA-256 of its canonical text (the text may hold personal data; the digest does not).
pub fn request_digest(text: &str) -> String {
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

pub fn validate_key(key: &str) -> CommandResult<()> {
    let len = key.chars().count();
    if len == 0 || len > MAX_KEY_LEN {
        return Err(CommandError::InvalidIdempotencyKey { max: MAX_KEY_LEN });
    }
    Ok(())
}

/// The id of the `index`-th event of the command with idempotency key `key` (UUID v5).
pub fn event_id(key: &str, index: usize) -> Uuid {
    Uuid::new_v5(
        &EVENT_ID_NAMESPACE,
        format!("{key}\u{1f}{index}").as_bytes(),
    )
}

/// Access to the `idempotency_keys` table.
#[derive(Debug, Clone)]
pub struct IdempotencyStore {
    db: Db,
}

impl IdempotencyStore {
    /// Uses the table in `db` (migrated with the event store's migrations).
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The row of `key`, if any.
    pub async fn find(&self, key: &str) -> CommandResult<Option<IdempotencyRecord>> {
        let row = sqlx::query(
            "select key, request_hash, stream_id, version, position, event_count \
             from idempotency_keys where key = $1",
        )
        .bind(key)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(IdempotencyRecord {
            key: row.try_get(0)?,
            request_hash: row.try_get(1)?,
            stream_id: row.try_get(2)?,
            version: row.try_get(3)?,
            position: row.try_get(4)?,
            event_count: row.try_get(5)?,
        }))
    }

    /// Stores `record` unless the key has a row already; returns the row that is stored
    /// (`record`, or the one that was first).
    pub async fn insert(&self, record: &IdempotencyRecord) -> CommandResult<IdempotencyRecord> {
        sqlx::query(
            "insert into idempotency_keys \
             (key, request_hash, stream_id, version, position, event_count, created_at_us) \
             values ($1, $2, $3, $4, $5, $6, $7) on conflict (key) do nothing",
        )
        .bind(&record.key)
        .bind(&record.request_hash)
        .bind(&record.stream_id)
        .bind(record.version)
        .bind(record.position)
        .bind(record.event_count)
        .bind(now_us())
        .execute(self.db.pool())
        .await?;
        self.find(&record.key).await?.ok_or_else(|| {
            CommandError::Internal(anyhow::anyhow!(
                "idempotency key row missing right after it was inserted"
            ))
        })
    }

    /// Where the event with id `event_id` is stored: `(stream_id, version, position)`.
    pub async fn find_event(&self, event_id: Uuid) -> CommandResult<Option<(String, i64, i64)>> {
        let row =
            sqlx::query("select stream_id, version, position from events where event_id = $1")
                .bind(event_id.to_string())
                .fetch_optional(self.db.pool())
                .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
    }
}
