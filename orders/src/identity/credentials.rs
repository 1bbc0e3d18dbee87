//! Table `auth_credentials`: one argon2id hash per account (never an event, never logged).

use eventstore::Db;
use eventstore::db::now_us;
use sqlx::Row as _;

use domain::AccountId;

/// Access to the password hashes.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    db: Db,
}

impl CredentialStore {
    /// Uses the table in `db` (migration 0008).
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Sets (or replaces) the account's hash.
    pub async fn set(&self, account: AccountId, phc: &str) -> anyhow::Result<()> {
        let _turn = self.db.write_turn().await;
        sqlx::query(
            "insert into auth_credentials (account_id, password_hash, updated_at_us) \
             values ($1, $2, $3) on conflict (account_id) do update \
             set password_hash = excluded.password_hash, updated_at_us = excluded.updated_at_us",
        )
        .bind(account.to_string())
        .bind(phc)
        .bind(now_us())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// The account's hash, if it has a password.
    pub async fn get(&self, account: AccountId) -> anyhow::Result<Option<String>> {
        let row = sqlx::query("select password_hash from auth_credentials where account_id = $1")
            .bind(account.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }
}
