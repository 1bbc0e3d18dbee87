//! Projection `users`: one row per account (table `rm_users`), the admins' user list. Built from
//! the Account aggregate's events; it holds no credential (hashes and token digests are beside
//! the log, in `auth_credentials` / `auth_tokens`) and counts live API tokens, never their ids.

use anyhow::Context as _;
use async_trait::async_trait;
use domain::account::{Account, AccountEvent};
use domain::aggregate::Aggregate as _;
use domain::customer::{Customer, CustomerEvent};
use eventstore::RecordedEvent;
use eventstore::projection::Projection;
use sqlx::AnyConnection;
use tracing::instrument;

use super::{GenerationTable, USERS, at_us, decode};

/// The table of a `users` generation.
const TABLES: &[GenerationTable] = &[GenerationTable {
    name: "rm_users",
    key: "account_id",
}];

/// Accounts (table `rm_users`).
#[derive(Debug, Clone, Copy, Default)]
pub struct UsersProjection;

#[async_trait]
impl Projection for UsersProjection {
    fn name(&self) -> &'static str {
        USERS
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        event.stream_type == Account::STREAM_TYPE
            || (event.stream_type == Customer::STREAM_TYPE && event.event_type == "CustomerErased")
    }

    #[instrument(name = "projection.users", skip_all, fields(generation = generation, position = event.position, event_type = %event.event_type))]
    async fn apply(
        &self,
        tx: &mut AnyConnection,
        generation: i64,
        event: &RecordedEvent,
    ) -> anyhow::Result<()> {
        if event.stream_type == Customer::STREAM_TYPE {
            // A customer's erasure: the display names of their accounts read as erased.
            let Some((customer, CustomerEvent::Erased(_))) = decode::<Customer>(event)? else {
                return Ok(());
            };
            sqlx::query(
                "update rm_users set display_name = $3 where generation = $1 and customer_id = $2",
            )
            .bind(generation)
            .bind(customer.to_string())
            .bind(domain::values::ERASED)
            .execute(&mut *tx)
            .await
            .context("users: erasing a customer's display names")?;
            return Ok(());
        }
        let Some((account_id, e)) = decode::<Account>(event)? else {
            return Ok(());
        };
        let id = account_id.to_string();
        // Every later event sets the version; the change of each is one column.
        let (set, value): (&str, Option<String>) = match &e {
            AccountEvent::Opened(o) => {
                sqlx::query(
                    "insert into rm_users (generation, account_id, username, display_name, role, \
                     customer_id, disabled, tokens, opened_at_us, version) \
                     values ($1, $2, $3, $4, $5, $6, 0, 0, $7, $8)",
                )
                .bind(generation)
                .bind(&id)
                .bind(o.username.as_str())
                .bind(o.display_name.as_str())
                .bind(o.role.as_str())
                .bind(o.customer_id.map(|c| c.as_uuid().to_string()))
                .bind(at_us(event))
                .bind(event.version)
                .execute(&mut *tx)
                .await
                .with_context(|| format!("applying {} to account {id}", event.event_type))?;
                return Ok(());
            }
            AccountEvent::RoleChanged(c) => ("role = $4", Some(c.role.as_str().to_owned())),
            AccountEvent::Disabled(_) => ("disabled = 1", None),
            AccountEvent::Enabled(_) => ("disabled = 0", None),
            AccountEvent::TokenIssued(_) => ("tokens = tokens + 1", None),
            AccountEvent::TokenRevoked(_) => ("tokens = tokens - 1", None),
        };
        let sql = format!(
            "update rm_users set {set}, version = $3 where generation = $1 and account_id = $2"
        );
        let mut query = sqlx::query(&sql)
            .bind(generation)
            .bind(&id)
            .bind(event.version);
        if let Some(value) = value {
            query = query.bind(value);
        }
        query
            .execute(&mut *tx)
            .await
            .with_context(|| format!("applying {} to account {id}", event.event_type))?;
        Ok(())
    }

    async fn drop_generation(
        &self,
        conn: &mut AnyConnection,
        generation: i64,
    ) -> anyhow::Result<()> {
        super::drop_tables(conn, generation, TABLES).await
    }

    async fn drop_generation_chunk(
        &self,
        conn: &mut AnyConnection,
        generation: i64,
        limit: u64,
    ) -> anyhow::Result<u64> {
        super::drop_tables_chunk(conn, generation, TABLES, limit).await
    }
}
