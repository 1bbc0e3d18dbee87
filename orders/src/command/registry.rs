//! The event store's upcaster registry, built from the domain's upcasters.

use eventstore::UpcasterRegistry;

/// Every upcaster of `domain::upcast::upcasters()`, registered with the event store so that
/// every read path returns today's event shapes. Open the store with it:
/// `SqlEventStore::open(db, orders::command::upcaster_registry())`.
pub fn upcaster_registry() -> UpcasterRegistry {
    domain::upcast::upcasters().into_iter().fold(
        UpcasterRegistry::new(),
        |registry, (event_type, from, f)| registry.with(event_type, from, f),
    )
}
