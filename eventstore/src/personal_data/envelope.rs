//! The sealed form of one field: `{"$sealed": {"v": 1, "s": subject, "n": nonce, "c": ciphertext}}`
//! (nonce and ciphertext base64). The ciphertext is XChaCha20-Poly1305 of the field's JSON text
//! under the subject's data key; the associated data binds it to its subject, event and field, so
//! a sealed value copied elsewhere does not open.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;

use super::key_ring::SealError;

/// The one key of a sealed field's object.
pub const SEALED_FIELD: &str = "$sealed";
/// Format version inside the envelope.
const VERSION: u64 = 1;

/// Whether `value` is a sealed field.
pub fn is_sealed(value: &Value) -> bool {
    matches!(value, Value::Object(map) if map.len() == 1 && map.contains_key(SEALED_FIELD))
}

/// A sealed field, parsed.
pub(super) struct Sealed {
    pub(super) subject: String,
    nonce: [u8; 24],
    ciphertext: Vec<u8>,
}

/// The associated data: subject, event and field.
fn aad(subject: &str, context: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(subject.len() + context.len() + 16);
    aad.extend_from_slice(b"eventide-pii-v1\0");
    aad.extend_from_slice(subject.as_bytes());
    aad.push(0);
    aad.extend_from_slice(context.as_bytes());
    aad
}

/// Seals `plaintext` (any JSON) for `subject` under `key`; `context` names the event and field.
/// Deterministic: the nonce is an HMAC of context and plaintext under the key.
pub(super) fn seal(
    key: &[u8; 32],
    subject: &str,
    context: &str,
    plaintext: &Value,
) -> Result<Value, SealError> {
    let text = serde_json::to_vec(plaintext).map_err(|_| SealError::Malformed)?;
    let mut mac =
        <Hmac<Sha256> as hmac::Mac>::new_from_slice(key).map_err(|_| SealError::Malformed)?;
    mac.update(context.as_bytes());
    mac.update(&[0]);
    mac.update(&text);
    let digest = mac.finalize().into_bytes();
    let mut nonce = [0_u8; 24];
    nonce.copy_from_slice(&digest[..24]);
    let cipher = XChaCha20Poly1305::new(key.into());
    let ciphertext = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &text,
                aad: &aad(subject, context),
            },
        )
        .map_err(|_| SealError::Malformed)?;
    Ok(json!({ SEALED_FIELD: {
        "v": VERSION,
        "s": subject,
        "n": B64.encode(nonce),
        "c": B64.encode(ciphertext),
    }}))
}

/// The parts of a sealed field; `None` if `value` is not one, an error if it is malformed.
pub(super) fn parse(value: &Value) -> Option<Result<Sealed, SealError>> {
    if !is_sealed(value) {
        return None;
    }
    let inner = &value[SEALED_FIELD];
    Some((|| {
        if inner["v"].as_u64() != Some(VERSION) {
            return Err(SealError::Malformed);
        }
        let subject = inner["s"].as_str().ok_or(SealError::Malformed)?.to_owned();
        let nonce = B64
            .decode(inner["n"].as_str().ok_or(SealError::Malformed)?)
            .map_err(|_| SealError::Malformed)?;
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| SealError::Malformed)?;
        let ciphertext = B64
            .decode(inner["c"].as_str().ok_or(SealError::Malformed)?)
            .map_err(|_| SealError::Malformed)?;
        Ok(Sealed {
            subject,
            nonce,
            ciphertext,
        })
    })())
}

/// Opens `sealed` with its subject's `key`.
pub(super) fn open(key: &[u8; 32], sealed: &Sealed, context: &str) -> Result<Value, SealError> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let text = cipher
        .decrypt(
            XNonce::from_slice(&sealed.nonce),
            Payload {
                msg: &sealed.ciphertext,
                aad: &aad(&sealed.subject, context),
            },
        )
        .map_err(|_| SealError::Tampered)?;
    serde_json::from_slice(&text).map_err(|_| SealError::Tampered)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{is_sealed, open, parse, seal};

    #[test]
    fn seals_deterministically_and_opens_only_in_its_place() {
        let key = [7_u8; 32];
        let a = seal(&key, "customer:1", "e1/data.name", &json!("Ada")).ok();
        let b = seal(&key, "customer:1", "e1/data.name", &json!("Ada")).ok();
        assert_eq!(a, b, "same event, field and value seal to the same bytes");
        let a = a.unwrap_or_default();
        assert!(is_sealed(&a));
        assert!(!a.to_string().contains("Ada"));
        let parsed = parse(&a).and_then(Result::ok);
        let parsed = parsed.as_ref();
        assert_eq!(
            parsed.and_then(|p| open(&key, p, "e1/data.name").ok()),
            Some(json!("Ada"))
        );
        assert!(parsed.is_some_and(|p| open(&key, p, "e2/data.name").is_err()));
        assert!(parsed.is_some_and(|p| open(&[8_u8; 32], p, "e1/data.name").is_err()));
        assert!(parse(&json!("plain")).is_none());
        assert!(parse(&json!({"$sealed": {"v": 9}})).is_some_and(|r| r.is_err()));
    }
}
