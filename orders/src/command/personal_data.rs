//! Which fields of which events are personal, and whose they are: sealed with the customer's
//! data key before the append (`eventstore::personal_data`), so erasing the customer (deleting
//! the key) erases them from every copy.
//!
//! Personal: a customer's name and email (their own events), the customer name an order copies
//! when it is placed, the display name of a customer's account, and the `user_name` in the
//! metadata of anything a customer's account does. Usernames stay plain (they sign in with
//! them; an erasure disables nothing on its own), and so do the `email:` tags (SHA-256 of the
//! address; see the README for what that leaves).

use domain::customer::Customer;
use eventstore::NewEvent;
use eventstore::personal_data::{KeyRing, SealError};

use crate::command::error::{CommandError, CommandResult};

/// The metadata field naming the customer a customer account acts for (set with the actor).
pub const ACTOR_CUSTOMER_FIELD: &str = "customer_id";

/// The subject (key owner) of customer `id`'s personal data.
pub fn subject(customer_id: uuid::Uuid) -> String {
    format!("customer:{customer_id}")
}

/// Seals the personal fields of `event`, to be appended to `stream_id`.
pub(super) async fn seal(
    keys: &KeyRing,
    stream_id: &str,
    event: &mut NewEvent,
) -> CommandResult<()> {
    if let Some((customer, fields)) = data_fields(stream_id, event) {
        keys.seal_event(event, &subject(customer), fields, &[])
            .await
            .map_err(sealing_failed)?;
    }
    let actor = event
        .metadata
        .extra
        .get(ACTOR_CUSTOMER_FIELD)
        .and_then(|v| v.as_str())
        .and_then(|s| uuid::Uuid::parse_str(s).ok());
    if let Some(customer) = actor {
        keys.seal_event(event, &subject(customer), &[], &["user_name"])
            .await
            .map_err(sealing_failed)?;
    }
    Ok(())
}

/// Whose, and which, data fields of `event` are personal.
fn data_fields(stream_id: &str, event: &NewEvent) -> Option<(uuid::Uuid, &'static [&'static str])> {
    let customer_in_data = || {
        event.data["customer_id"]
            .as_str()
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
    };
    match event.event_type.as_str() {
        "CustomerRegistered" => Some((
            domain::parse_stream_id::<Customer>(stream_id)?,
            &["name", "email"],
        )),
        "CustomerRenamed" => Some((domain::parse_stream_id::<Customer>(stream_id)?, &["name"])),
        "CustomerEmailChanged" => {
            Some((domain::parse_stream_id::<Customer>(stream_id)?, &["email"]))
        }
        "OrderPlaced" => Some((customer_in_data()?, &["customer_name"])),
        "AccountOpened" => Some((customer_in_data()?, &["display_name"])),
        _ => None,
    }
}

fn sealing_failed(error: SealError) -> CommandError {
    match error {
        // Nothing is written for an erased customer.
        SealError::Erased => CommandError::Domain(domain::DomainError::CustomerErased),
        SealError::Store(e) => CommandError::Store(e),
        other => CommandError::Internal(anyhow::anyhow!(other).context("sealing personal data")),
    }
}

/// Deletes what holds customer `customer_id`'s personal data opened outside the log: the
/// snapshots of their customer stream, their accounts' streams and their orders' streams (taken
/// again, from the erased events, on the next load), and idempotency rows of their stream from
/// before requests were stored as digests.
pub(super) async fn drop_snapshots(
    db: &eventstore::Db,
    customer_id: uuid::Uuid,
) -> Result<(), eventstore::StoreError> {
    let id = customer_id.to_string();
    let customer_stream = format!("customer-{id}");
    sqlx::query(
        "delete from snapshots where stream_id = $1 \
         or stream_id in (select 'order-' || order_id from rm_orders where customer_id = $2) \
         or stream_id in (select 'account-' || account_id from rm_users where customer_id = $2)",
    )
    .bind(&customer_stream)
    .bind(&id)
    .execute(db.pool())
    .await?;
    sqlx::query(
        "delete from idempotency_keys where stream_id = $1 and request_hash not like 'sha256:%'",
    )
    .bind(&customer_stream)
    .execute(db.pool())
    .await?;
    Ok(())
}
