//! The data keys: one per subject, created on its first sealed field, wrapped by the master key,
//! deleted by an erasure (a tombstone row stays, so nothing is sealed for an erased subject
//! again). Keys are read from the table on every read that meets a sealed field (one statement
//! per page of events), never cached: an erasure on one instance holds on every other at once.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore as _;
use serde_json::Value;
use sqlx::Row as _;

use super::MasterKey;
use super::envelope::{self, Sealed};
use crate::db::{Db, now_us};
use crate::envelope::{NewEvent, RecordedEvent};
use crate::error::{StoreError, StoreResult};
use crate::placeholders::Placeholders;
use crate::sql_store::read_retrying;

/// Why a field could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The subject's data was erased: nothing is sealed for it any more.
    #[error("the personal data of this subject was erased")]
    Erased,
    /// A sealed field or a wrapped key that is not in the format.
    #[error("a sealed field or data key is malformed")]
    Malformed,
    /// A sealed field or wrapped key that does not open with its key: changed in the database,
    /// or a different master key.
    #[error("a sealed field or data key does not open (changed, or another master key)")]
    Tampered,
    /// The database's keys are wrapped by another master key than the one configured.
    #[error(
        "this database's data keys are wrapped by another master key: give every instance the same master key"
    )]
    WrongMasterKey,
    /// The database refused or is unavailable (a lost connection is tried again first, as
    /// every read of the store is).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for SealError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(StoreError::from(e))
    }
}

/// Keys read at most this many to a statement.
const KEYS_PER_STATEMENT: usize = 200;

/// See the module docs. Cheap to clone.
#[derive(Clone)]
pub struct KeyRing {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    master: MasterKey,
    /// What an erased field opens to.
    erased: Value,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Keys in `db`'s `data_keys`, wrapped by `master`; an erased field opens to `erased`.
    pub fn new(db: Db, master: MasterKey, erased: Value) -> Self {
        Self {
            inner: Arc::new(Inner { db, master, erased }),
        }
    }

    /// Checks that the keys of this database are wrapped by this ring's master key (recording
    /// it on the first start): every instance on one database must be given the same key.
    pub async fn check_master_key(&self) -> Result<(), SealError> {
        let fingerprint = self.inner.master.fingerprint();
        let mut p = Placeholders::new(self.inner.db.backend());
        let statement = format!(
            "insert into data_key_master (id, fingerprint) values (1, {}) \
             on conflict (id) do nothing",
            p.param()
        );
        sqlx::query(&statement)
            .bind(&fingerprint)
            .execute(self.inner.db.pool())
            .await?;
        let stored: String =
            sqlx::query_scalar("select fingerprint from data_key_master where id = 1")
                .fetch_one(self.inner.db.pool())
                .await?;
        if stored == fingerprint {
            Ok(())
        } else {
            Err(SealError::WrongMasterKey)
        }
    }

    /// Seals `data_fields` of the event's data and `metadata_fields` of its metadata's extra
    /// fields (those present and not sealed yet) for `subject`, creating its key if needed.
    pub async fn seal_event(
        &self,
        event: &mut NewEvent,
        subject: &str,
        data_fields: &[&str],
        metadata_fields: &[&str],
    ) -> Result<(), SealError> {
        let key = self.key_for_sealing(subject).await?;
        let id = event.event_id;
        if let Value::Object(data) = &mut event.data {
            for field in data_fields {
                if let Some(value) = data.get_mut(*field)
                    && !envelope::is_sealed(value)
                {
                    *value = envelope::seal(&key, subject, &context(id, "data", field), value)?;
                }
            }
        }
        for field in metadata_fields {
            if let Some(value) = event.metadata.extra.get_mut(*field)
                && !envelope::is_sealed(value)
            {
                *value = envelope::seal(&key, subject, &context(id, "metadata", field), value)?;
            }
        }
        Ok(())
    }

    /// Opens every sealed field of `events` (top-level fields of the data and the metadata's
    /// extra fields): the plaintext, or the erased placeholder when the subject's key is gone.
    /// A sealed field that does not open with its key makes the event unreadable.
    pub async fn open_events(&self, events: &mut [RecordedEvent]) -> StoreResult<()> {
        if !any_sealed(events) {
            return Ok(());
        }
        let mut subjects: Vec<String> = Vec::new();
        for event in events.iter() {
            for value in sealed_fields(event) {
                if let Some(Ok(sealed)) = envelope::parse(value)
                    && !subjects.contains(&sealed.subject)
                {
                    subjects.push(sealed.subject);
                }
            }
        }
        if subjects.is_empty() {
            return Ok(());
        }
        let keys = self.keys(&subjects).await.map_err(unreadable)?;
        for event in events.iter_mut() {
            let id = event.event_id;
            if let Value::Object(data) = &mut event.data {
                for (field, value) in data.iter_mut() {
                    self.open_in_place(&keys, value, &context(id, "data", field))?;
                }
            }
            for (field, value) in event.metadata.extra.iter_mut() {
                self.open_in_place(&keys, value, &context(id, "metadata", field))?;
            }
        }
        Ok(())
    }

    /// Deletes `subject`'s key (leaving a tombstone). `true` if this call erased it, `false`
    /// if it was erased already. Idempotent.
    ///
    /// The key's bytes are also scrubbed from the database files as far as the database
    /// allows: on SQLite the row is rewritten with `secure_delete` on (freed space is zeroed)
    /// and the write-ahead log is checkpointed and truncated; on PostgreSQL `data_keys` is
    /// rewritten (`vacuum full`, a small table) so no dead tuple keeps it. Backups are beyond
    /// reach.
    pub async fn erase(&self, subject: &str) -> Result<bool, SealError> {
        let now = now_us();
        let mut p = Placeholders::new(self.inner.db.backend());
        let (s, t) = (p.param(), p.param());
        // A subject never sealed for gets its tombstone too: nothing is sealed for it later.
        let statement = format!(
            "insert into data_keys (subject, wrapped_key, created_at_us, erased_at_us) \
             values ({s}, null, {t}, {t2}) on conflict (subject) do update \
             set wrapped_key = null, erased_at_us = excluded.erased_at_us \
             where data_keys.erased_at_us is null",
            t2 = p.param()
        );
        let done = if self.inner.db.backend() == crate::db::Backend::Sqlite {
            let mut conn = self.inner.db.pool().acquire().await?;
            sqlx::query("pragma secure_delete = on")
                .execute(&mut *conn)
                .await?;
            let done = sqlx::query(&statement)
                .bind(subject)
                .bind(now)
                .bind(now)
                .execute(&mut *conn)
                .await;
            let _ = sqlx::query("pragma secure_delete = off")
                .execute(&mut *conn)
                .await;
            done?
        } else {
            // Safe to repeat: a second run finds the key erased and changes nothing.
            read_retrying(|| {
                sqlx::query(&statement)
                    .bind(subject)
                    .bind(now)
                    .bind(now)
                    .execute(self.inner.db.pool())
            })
            .await?
        };
        self.scrub().await;
        Ok(done.rows_affected() > 0)
    }

    /// Best effort: the freed bytes of erased keys out of the database files (see
    /// [`Self::erase`]). A failure is logged; the key is deleted either way.
    async fn scrub(&self) {
        let statement = match self.inner.db.backend() {
            crate::db::Backend::Sqlite => "pragma wal_checkpoint(truncate)",
            crate::db::Backend::Postgres => "vacuum full data_keys",
        };
        if let Err(e) = sqlx::query(statement).execute(self.inner.db.pool()).await {
            tracing::warn!(error = %e, "erasure: could not scrub the freed key bytes");
        }
    }

    fn open_in_place(
        &self,
        keys: &HashMap<String, Option<[u8; 32]>>,
        value: &mut Value,
        context: &str,
    ) -> StoreResult<()> {
        let Some(parsed) = envelope::parse(value) else {
            return Ok(());
        };
        let sealed: Sealed = parsed.map_err(unreadable)?;
        *value = match keys.get(&sealed.subject).copied().flatten() {
            Some(key) => envelope::open(&key, &sealed, context).map_err(unreadable)?,
            None => self.inner.erased.clone(),
        };
        Ok(())
    }

    /// The key to seal with: the subject's, created now if it has none; refused once erased.
    async fn key_for_sealing(&self, subject: &str) -> Result<[u8; 32], SealError> {
        if let Some(found) = self.keys(&[subject.to_owned()]).await?.remove(subject) {
            return found.ok_or(SealError::Erased);
        }
        let mut fresh = [0_u8; 32];
        rand::rng().fill_bytes(&mut fresh);
        let mut p = Placeholders::new(self.inner.db.backend());
        let statement = format!(
            "insert into data_keys (subject, wrapped_key, created_at_us) values ({}, {}, {}) \
             on conflict (subject) do nothing",
            p.param(),
            p.param(),
            p.param()
        );
        let wrapped = self.wrap(subject, &fresh)?;
        let now = now_us();
        // Safe to repeat: whoever inserted first keeps their key.
        read_retrying(|| {
            sqlx::query(&statement)
                .bind(subject)
                .bind(&wrapped)
                .bind(now)
                .execute(self.inner.db.pool())
        })
        .await?;
        // Whoever inserted first (another instance may have raced us) is the key.
        self.keys(&[subject.to_owned()])
            .await?
            .remove(subject)
            .flatten()
            .ok_or(SealError::Erased)
    }

    /// The keys of `subjects`: `Some(key)`, `None` when erased; absent when never created.
    async fn keys(
        &self,
        subjects: &[String],
    ) -> Result<HashMap<String, Option<[u8; 32]>>, SealError> {
        let mut keys = HashMap::with_capacity(subjects.len());
        for chunk in subjects.chunks(KEYS_PER_STATEMENT) {
            let mut p = Placeholders::new(self.inner.db.backend());
            let statement = format!(
                "select subject, wrapped_key from data_keys where subject in ({})",
                p.list(chunk.len())
            );
            let rows = read_retrying(|| {
                let mut query = sqlx::query(&statement);
                for subject in chunk {
                    query = query.bind(subject);
                }
                query.fetch_all(self.inner.db.pool())
            })
            .await?;
            for row in rows {
                let subject: String = row.try_get(0)?;
                let wrapped: Option<String> = row.try_get(1)?;
                let key = match wrapped {
                    Some(wrapped) => Some(self.unwrap(&subject, &wrapped)?),
                    None => None,
                };
                keys.insert(subject, key);
            }
        }
        Ok(keys)
    }

    fn wrap(&self, subject: &str, key: &[u8; 32]) -> Result<String, SealError> {
        let mut nonce = [0_u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let cipher = XChaCha20Poly1305::new((&self.inner.master.0).into());
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: key,
                    aad: &wrap_aad(subject),
                },
            )
            .map_err(|_| SealError::Malformed)?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(B64.encode(bytes))
    }

    fn unwrap(&self, subject: &str, wrapped: &str) -> Result<[u8; 32], SealError> {
        let bytes = B64.decode(wrapped).map_err(|_| SealError::Malformed)?;
        if bytes.len() < 24 {
            return Err(SealError::Malformed);
        }
        let (nonce, sealed) = bytes.split_at(24);
        let cipher = XChaCha20Poly1305::new((&self.inner.master.0).into());
        let key = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &wrap_aad(subject),
                },
            )
            .map_err(|_| SealError::Tampered)?;
        key.try_into().map_err(|_| SealError::Malformed)
    }
}

fn wrap_aad(subject: &str) -> Vec<u8> {
    let mut aad = b"eventide-data-key-v1\0".to_vec();
    aad.extend_from_slice(subject.as_bytes());
    aad
}

/// Names one field of one event in the associated data.
fn context(event_id: uuid::Uuid, part: &str, field: &str) -> String {
    format!("{event_id}/{part}.{field}")
}

/// Whether any of `events` has a sealed field.
pub fn any_sealed(events: &[RecordedEvent]) -> bool {
    events.iter().any(|e| sealed_fields(e).next().is_some())
}

/// The values of `event` that may be sealed.
fn sealed_fields(event: &RecordedEvent) -> impl Iterator<Item = &Value> {
    let data = match &event.data {
        Value::Object(map) => Some(map.values()),
        _ => None,
    };
    data.into_iter()
        .flatten()
        .chain(event.metadata.extra.values())
        .filter(|v| envelope::is_sealed(v))
}

/// A field that cannot be opened makes its event unreadable (the projections' dead letters).
fn unreadable(error: SealError) -> StoreError {
    match error {
        SealError::Store(e) => e,
        other => StoreError::Unsealable(other.to_string()),
    }
}
