//! The browser session: `tower-sessions`' layer with Eventide's store (`orders::identity`,
//! table `auth_sessions` in the same database, so every instance sees every session and a
//! sign-out holds everywhere). The cookie is HttpOnly, SameSite=Strict, `Secure` when the
//! server is configured for HTTPS, and expires after 12 hours; its id changes on every sign-in.

use std::time::Duration;

use eventstore::Db;
use orders::identity::SqlSessionStore;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

/// Name of the session cookie.
pub const COOKIE: &str = "eventide_session";
/// How long a session lives after it was started.
pub const TTL: Duration = Duration::from_secs(12 * 60 * 60);

/// The session layer over `db`.
pub fn layer(db: &Db, secure: bool) -> SessionManagerLayer<SqlSessionStore> {
    let ttl = time::Duration::seconds(i64::try_from(TTL.as_secs()).unwrap_or(43_200));
    SessionManagerLayer::new(SqlSessionStore::new(db.clone()))
        .with_name(COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(ttl))
}

/// Deletes expired sessions every `every` until the process ends.
pub fn spawn_cleanup(db: Db, every: Duration) {
    tokio::spawn(async move {
        let store = SqlSessionStore::new(db);
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match store.delete_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(deleted = n, "expired sessions deleted"),
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "deleting expired sessions failed")
                }
            }
        }
    });
}
