//! Crypto-shredding: personal data in an append-only log that can still be erased (GDPR
//! art. 17).
//!
//! The application names the personal fields of an event and whom they are about (the
//! *subject*, e.g. `customer:<id>`); [`KeyRing::seal_event`] replaces each such field with a
//! sealed envelope (`{"$sealed": {...}}`, XChaCha20-Poly1305 under the subject's own data key)
//! before the event is appended. The data keys live in `data_keys`, outside the log, each
//! wrapped by the [`MasterKey`] from the configuration. Every read path of the store opens the
//! envelopes again ([`KeyRing::open_events`]); [`KeyRing::erase`] deletes a subject's key, and
//! from then on every copy of its fields (the log, read models and snapshots rebuilt later,
//! broker messages, which carry the sealed form) opens to the application's "erased"
//! placeholder. The log itself is never changed, so a hash chain over the stored rows still
//! verifies.
//!
//! Sealing is deterministic per event, field and value (the nonce is an HMAC of them under the
//! data key): a retried append seals to the same bytes and is recognised as the same append.

mod envelope;
mod key_ring;
mod master_key;

pub use envelope::{SEALED_FIELD, is_sealed};
pub use key_ring::{KeyRing, SealError, any_sealed};
pub use master_key::MasterKey;
