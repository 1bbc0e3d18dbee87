//! Eventide order management: the application layer (every use case, for REST and the UI
//! alike), the command service, projections, queries, relay, live hub.
#![forbid(unsafe_code)]

pub mod application;
pub mod audit;
pub mod command;
pub mod console;
pub mod identity;
pub mod seed;
pub mod status;

pub mod hub;
pub mod projections;
pub mod query;
pub mod relay;

/// The key ring that seals this application's personal data (see `command::personal_data`):
/// keys in `db`, wrapped by `master`; erased fields read as [`domain::values::ERASED`]. Attach
/// it to the store with `SqlEventStore::attach_key_ring`.
pub fn personal_data_keys(
    db: eventstore::Db,
    master: eventstore::personal_data::MasterKey,
) -> eventstore::personal_data::KeyRing {
    eventstore::personal_data::KeyRing::new(
        db,
        master,
        serde_json::Value::String(domain::values::ERASED.to_owned()),
    )
}
