//! Personal API tokens: `evt_` + 64 hex digits (256 random bits), shown once. The table
//! `auth_tokens` keeps only the SHA-256 of the token (a fast hash is right for a random secret
//! of this size; argon2 is for guessable passwords) mapped to its public id and account.
//! Whether a token is live is the account's business (its events), so a revocation is one
//! event and holds on every instance at once.

use eventstore::Db;
use eventstore::db::now_us;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;
use uuid::Uuid;

use domain::AccountId;

/// Prefix of every token (lets secret scanners recognise a leaked one).
pub const PREFIX: &str = "evt_";

/// A new random token.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{PREFIX}{hex}")
}

/// The stored form of `token`.
pub fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Access to the token table.
#[derive(Debug, Clone)]
pub struct TokenStore {
    db: Db,
}

impl TokenStore {
    /// Uses the table in `db` (migration 0008).
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Records `token` (by digest) as token `token_id` of `account`.
    pub async fn insert(
        &self,
        token: &str,
        token_id: Uuid,
        account: AccountId,
    ) -> anyhow::Result<()> {
        let _turn = self.db.write_turn().await;
        sqlx::query(
            "insert into auth_tokens (secret_hash, token_id, account_id, created_at_us) \
             values ($1, $2, $3, $4)",
        )
        .bind(digest(token))
        .bind(token_id.to_string())
        .bind(account.to_string())
        .bind(now_us())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// The token id and account of `token`, if it was ever issued.
    pub async fn find(&self, token: &str) -> anyhow::Result<Option<(Uuid, AccountId)>> {
        let row =
            sqlx::query("select token_id, account_id from auth_tokens where secret_hash = $1")
                .bind(digest(token))
                .fetch_optional(self.db.pool())
                .await?;
        let Some(row) = row else { return Ok(None) };
        let token_id: String = row.try_get(0)?;
        let account: String = row.try_get(1)?;
        Ok(Some((
            Uuid::parse_str(&token_id)?,
            AccountId::new(Uuid::parse_str(&account)?),
        )))
    }
}
