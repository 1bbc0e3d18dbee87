//! The read side: [`QueryService`] answers every query from the read-model tables only (never
//! the event tables), always from the live generation of the read model asked
//! (`where generation = `[`eventstore::projection::LIVE_GENERATION`], the projection's name bound
//! as `$1`), so a rebuild's swap is atomic for every reader.
//!
//! Read-your-writes: every query takes `min_position` (the `position` a command replied with).
//! If the projection has not reached it, the query waits (via the runner's `wait_for`) up to
//! [`QueryConfig::wait_bound`] and then answers anyway, marked `stale` (see `freshness.rs`).
//!
//! Layout: `service.rs` is the handle, `error.rs` what queries fail with, `freshness.rs` the
//! read-your-writes wait; then one file per read model (`orders.rs`, `customers.rs`,
//! `products.rs`, `dashboard.rs`, `activity.rs`, `users.rs`), each adding its queries to [`QueryService`];
//! `rows.rs` reads rows back into view types; `keyset.rs` is the one paged-list query and
//! `cursor.rs` holds the lists' paging tokens.

mod activity;
mod cursor;
mod customers;
mod dashboard;
mod error;
mod freshness;
mod keyset;
mod orders;
mod products;
mod rows;
mod service;
mod users;

pub use cursor::OrderCursor;
pub use error::{QueryError, QueryResult};
pub use freshness::Progress;
pub use orders::{DEFAULT_LIMIT, MAX_LIMIT, OrderFilter, summaries_of};
pub use service::{
    DEFAULT_WAIT_BOUND, LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT, QueryConfig, QueryService,
};
