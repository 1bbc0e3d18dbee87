//! Idempotency keys for form submissions: the browser makes one per submission so that a
//! retried request (a lost response, a double click after an error) is recognised by the
//! server and answers the first result instead of doing the work twice.

/// A new random key (a UUID v4 from the browser's `crypto.randomUUID()`). Outside the browser
/// (server-side rendering never submits forms) it is empty, which means "no key".
pub fn new_key() -> String {
    #[cfg(feature = "hydrate")]
    {
        if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
            return crypto.random_uuid();
        }
    }
    String::new()
}
