//! A customer email is unique across all customers, through a consistency-boundary (DCB)
//! condition: no aggregate owns "the set of emails", so instead of a lookup table beside the
//! log, every event that gives or takes an address is tagged `email:<sha256 of the address>`
//! (the address itself is personal data and stays out of the tag), and the append that claims
//! an address carries the condition "no event with this tag after the position I read up to".
//! Two sign-ups racing for one address: both read "free", both append with the condition, the
//! store serialises them; the second's condition fails, it is decided again, and now reads the
//! address as taken (409 `email_taken`). Race-free on any number of instances.
//!
//! Who holds an address is the fold of its tagged events in log order: a registration or a
//! change *to* it gives it to that customer, a change *away* from it frees it.

use async_trait::async_trait;
use domain::aggregate::{DomainEvent as _, parse_stream_id};
use domain::customer::{Customer, CustomerEvent, CustomerRegistered, CustomerState};
use domain::values::Email;
use domain::{CustomerId, DomainError};
use eventstore::{AppendCondition, EventQuery, EventStore as _, QueryItem};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::command::error::{CommandError, CommandResult};
use crate::command::plan::{CommandPlan, Plan};
use crate::command::service::CommandService;

/// Events read per page while finding an address's holder.
const PAGE: u32 = 200;

/// The tag of the events that give or take `email`.
pub fn email_tag(email: &Email) -> String {
    let digest = Sha256::digest(email.as_str().to_lowercase().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("email:{hex}")
}

/// The events that can give or take an address.
fn query(tag: &str) -> EventQuery {
    EventQuery::new(vec![
        QueryItem::types([
            CustomerRegistered::EVENT_TYPE,
            domain::customer::CustomerEmailChanged::EVENT_TYPE,
        ])
        .with_tags([tag]),
    ])
}

/// The plan of the commands that give a customer an address (see the module doc).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct UniqueEmail;

#[async_trait]
impl CommandPlan<Customer> for UniqueEmail {
    async fn plan(
        &self,
        service: &CommandService,
        id: Uuid,
        state: &CustomerState,
        events: &[CustomerEvent],
    ) -> CommandResult<Plan> {
        let mut plan = Plan::default();
        for event in events {
            let (claimed, tags) = match event {
                CustomerEvent::Registered(r) => (r.email.clone(), vec![email_tag(&r.email)]),
                CustomerEvent::EmailChanged(c) => {
                    let mut tags = vec![email_tag(&c.email)];
                    // The old address is freed: its holder fold must see this event.
                    if let Some(old) = &state.email {
                        tags.push(email_tag(old));
                    }
                    (c.email.clone(), tags)
                }
                CustomerEvent::Renamed(_) => {
                    plan.tags.push(Vec::new());
                    continue;
                }
                // The address is freed (its holder fold sees this event); nothing is claimed.
                CustomerEvent::Erased(_) => {
                    plan.tags.push(state.email.iter().map(email_tag).collect());
                    continue;
                }
            };
            plan.condition = Some(claim(service, &claimed, CustomerId::new(id)).await?);
            plan.tags.push(tags);
        }
        Ok(plan)
    }
}

/// The condition under which `customer` may take `email`: refused now if another customer has
/// it, else "no event about this address after what was read".
pub(super) async fn claim(
    service: &CommandService,
    email: &Email,
    customer: CustomerId,
) -> CommandResult<AppendCondition> {
    let tag = email_tag(email);
    let (holder, read_up_to) = holder(service, &tag, email).await?;
    if holder.is_some_and(|h| h != customer) {
        return Err(DomainError::EmailTaken.into());
    }
    Ok(AppendCondition::new(query(&tag), read_up_to))
}

/// Who holds `email` (tagged `tag`) by the log, and the position read up to.
async fn holder(
    service: &CommandService,
    tag: &str,
    email: &Email,
) -> CommandResult<(Option<CustomerId>, i64)> {
    let store = service.store();
    let query = query(tag);
    let (mut holder, mut after) = (None, 0);
    loop {
        let page = store.read_query(&query, after, PAGE).await?;
        for event in &page {
            after = event.position;
            let customer = parse_stream_id::<Customer>(&event.stream_id)
                .map(CustomerId::new)
                .ok_or_else(|| {
                    CommandError::Internal(anyhow::anyhow!(
                        "event at {} is on stream {:?}, not a customer's",
                        event.position,
                        event.stream_id
                    ))
                })?;
            let given = match CustomerEvent::from_data(&event.event_type, &event.data)? {
                CustomerEvent::Registered(r) => {
                    r.email.as_str().eq_ignore_ascii_case(email.as_str())
                }
                CustomerEvent::EmailChanged(c) => {
                    c.email.as_str().eq_ignore_ascii_case(email.as_str())
                }
                CustomerEvent::Renamed(_) => continue,
                // Erased: the address is free again.
                CustomerEvent::Erased(_) => false,
            };
            if given {
                holder = Some(customer);
            } else if holder == Some(customer) {
                holder = None;
            }
        }
        if page.len() < PAGE as usize {
            return Ok((holder, after));
        }
    }
}

/// Checkpoint name of [`backfill_tags`].
const BACKFILL: &str = "backfill:email-tags";
/// Its checkpoint once it went through the whole log.
const DONE: i64 = i64::MAX;

/// Tags the address events stored before emails were tagged (a database from before this
/// version), so their addresses are taken too. Idempotent and resumable: it goes through the
/// customer address events in log order from its checkpoint, adds the missing `email:` rows to
/// the tag index (the events' own rows are not changed: the log is never updated) and records
/// how far it got, then that it is done: events appended by this version carry their tags, so
/// later starts skip it.
pub async fn backfill_tags(store: &eventstore::SqlEventStore) -> anyhow::Result<u64> {
    use anyhow::Context as _;
    let db = store.db();
    let mut conn = db.pool().acquire().await.context("backfill: connection")?;
    let mut after = eventstore::load_checkpoint(&mut conn, BACKFILL).await?;
    // Done once: every address event appended since carries its tags (start-up pays nothing).
    if after == DONE {
        return Ok(0);
    }
    let query = EventQuery::new(vec![QueryItem::types([
        CustomerRegistered::EVENT_TYPE,
        domain::customer::CustomerEmailChanged::EVENT_TYPE,
    ])]);
    // The address each customer had before the event (for a change's "from" tag): rebuilt
    // from the start, whatever the checkpoint, since a change needs its predecessor.
    let mut current: std::collections::HashMap<String, Email> = std::collections::HashMap::new();
    let mut from = 0;
    let mut added = 0_u64;
    loop {
        let page = store.read_query(&query, from, PAGE).await?;
        for event in &page {
            from = event.position;
            let email = match CustomerEvent::from_data(&event.event_type, &event.data)? {
                CustomerEvent::Registered(r) => r.email,
                CustomerEvent::EmailChanged(c) => c.email,
                CustomerEvent::Renamed(_) | CustomerEvent::Erased(_) => continue,
            };
            let previous = current.insert(event.stream_id.clone(), email.clone());
            if event.position <= after {
                continue;
            }
            after = event.position;
            if !event.tags.is_empty() {
                continue;
            }
            let tags = std::iter::once(email_tag(&email)).chain(previous.as_ref().map(email_tag));
            for tag in tags {
                added += sqlx::query(
                    "insert into event_tags (tag, position) values ($1, $2) on conflict do nothing",
                )
                .bind(tag)
                .bind(event.position)
                .execute(&mut *conn)
                .await
                .context("backfill: tag row")?
                .rows_affected();
            }
        }
        if page.len() < PAGE as usize {
            eventstore::save_checkpoint(&mut conn, BACKFILL, DONE).await?;
            return Ok(added);
        }
        eventstore::save_checkpoint(&mut conn, BACKFILL, after).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_hides_the_address_and_ignores_case() {
        let a = Email::parse("Ada@Example.com").expect("email");
        let b = Email::parse("ada@example.com").expect("email");
        assert_eq!(email_tag(&a), email_tag(&b));
        assert!(!email_tag(&a).contains("ada"));
        assert_eq!(email_tag(&a).len(), "email:".len() + 64);
    }
}
