//! Shared state handed to every handler and to the Leptos server functions.

use std::sync::Arc;

use eventstore::db::Db;

#[derive(Clone)]
pub struct AppState {
    pub db: Arc<Db>,
}
