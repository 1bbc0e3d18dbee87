//! The hash chain's format: what of an event is hashed, in which encoding, and how each row is
//! linked to the one before it. Everything that computes or checks a chain hash (the writer,
//! the backfill, verify, tests that forge rows) goes through these functions, so there is one
//! definition of the format.
//!
//! Two levels, so that the expensive part runs in parallel, off the single writer:
//! - the **content digest** covers what the caller gives (ids, stream, type, schema version,
//!   data, metadata, tags). It is computed in the caller's task when the append is prepared.
//! - the **row hash** covers what the writer decides (the previous row's hash, the position,
//!   the stream version, the recorded time) plus the content digest: two small SHA-256 blocks
//!   per row in the writer.
//!
//! Every field is length-prefixed (u64 big-endian) after a domain-separation prefix, so no two
//! different events can encode to the same bytes. JSON is hashed in a canonical form (object
//! keys sorted bytewise, no whitespace, numbers as serde_json prints them), written here rather
//! than taken from `serde_json`'s own output: that depends on whether some crate in the build
//! enables `preserve_order`, and PostgreSQL's JSONB gives the stored text back in its own key
//! order and spacing. The verifier re-parses the stored text and canonicalises it again, which
//! gives the same bytes as the value the writer had.

use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// The name of the algorithm in exported anchors: the format version of this module.
pub const ALGORITHM: &str = "eventide-chain-v1/sha256";

/// A chain hash: SHA-256, 32 bytes.
pub type Hash = [u8; 32];

/// The previous hash of the first event (and of a row whose predecessor has no hash).
pub const GENESIS: Hash = [0; 32];

const CONTENT_PREFIX: &[u8] = b"eventide-chain-v1/content";
const ROW_PREFIX: &[u8] = b"eventide-chain-v1/row";

/// What of an event the content digest covers (everything the caller chose).
#[derive(Debug, Clone, Copy)]
pub struct Content<'a> {
    pub event_id: &'a str,
    pub stream_id: &'a str,
    pub stream_type: &'a str,
    pub event_type: &'a str,
    pub schema_version: i64,
    pub data: &'a Value,
    pub metadata: &'a Value,
    /// Sorted and without repeats, as stored.
    pub tags: &'a [String],
}

/// The content digest of one event.
pub fn content_digest(content: &Content<'_>) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(CONTENT_PREFIX);
    field(&mut hasher, content.event_id.as_bytes());
    field(&mut hasher, content.stream_id.as_bytes());
    field(&mut hasher, content.stream_type.as_bytes());
    field(&mut hasher, content.event_type.as_bytes());
    hasher.update(content.schema_version.to_be_bytes());
    let mut buf = Vec::with_capacity(256);
    canonical_json(content.data, &mut buf);
    field(&mut hasher, &buf);
    buf.clear();
    canonical_json(content.metadata, &mut buf);
    field(&mut hasher, &buf);
    hasher.update((content.tags.len() as u64).to_be_bytes());
    for tag in content.tags {
        field(&mut hasher, tag.as_bytes());
    }
    hasher.finalize().into()
}

/// The hash of the row at `position`, chained to `prev` (the previous row's hash, [`GENESIS`]
/// for the first).
pub fn row_hash(
    prev: &Hash,
    position: i64,
    version: i64,
    recorded_at_us: i64,
    content: &Hash,
) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(ROW_PREFIX);
    hasher.update(prev);
    hasher.update(position.to_be_bytes());
    hasher.update(version.to_be_bytes());
    hasher.update(recorded_at_us.to_be_bytes());
    hasher.update(content);
    hasher.finalize().into()
}

/// A stored hash column as a [`Hash`]; `None` when it is null or not 32 bytes long.
pub fn from_column(bytes: Option<&[u8]>) -> Option<Hash> {
    bytes.and_then(|b| b.try_into().ok())
}

fn field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

/// Appends the canonical JSON text of `value` to `out`: object keys sorted bytewise, no
/// whitespace, strings escaped and numbers printed as serde_json does. A negative zero is
/// written as `0.0`: JSONB (PostgreSQL `numeric`) has no negative zero and gives `0.0` back.
pub fn canonical_json(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if n.as_f64() == Some(0.0) && n.is_f64() {
                out.extend_from_slice(b"0.0");
            } else {
                out.extend_from_slice(n.to_string().as_bytes());
            }
        }
        Value::String(s) => string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical_json(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(key, out);
                out.push(b':');
                canonical_json(item, out);
            }
            out.push(b'}');
        }
    }
}

fn string(s: &str, out: &mut Vec<u8>) {
    // serde_json's escaping of a plain string is fixed (it does not depend on features) and
    // cannot fail for a `str` written into a Vec.
    if serde_json::to_writer(&mut *out, s).is_err() {
        out.extend_from_slice(s.as_bytes());
    }
}

/// Lower-case hex of a hash (anchors, the admin page, log lines).
pub fn to_hex(hash: &Hash) -> String {
    hex::encode(hash)
}

/// A hash from its hex text; `None` unless it is 64 hex digits.
pub fn from_hex(text: &str) -> Option<Hash> {
    let bytes = hex::decode(text.trim()).ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn canon(v: &Value) -> String {
        let mut out = Vec::new();
        canonical_json(v, &mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v: Value =
            serde_json::from_str(r#"{ "b": 1, "a": { "z": [1, {"y": 2, "x": 3}], "c": null } }"#)
                .expect("json");
        assert_eq!(canon(&v), r#"{"a":{"c":null,"z":[1,{"x":3,"y":2}]},"b":1}"#);
    }

    #[test]
    fn canonical_json_is_stable_across_a_reparse() {
        let v = json!({"é": "ünï\u{1F600}\"\\\n", "n": -1.5e-7, "big": 1e300, "i": -12, "z": -0.0});
        let printed = serde_json::to_string(&v).expect("print");
        let back: Value = serde_json::from_str(&printed).expect("parse");
        assert_eq!(canon(&v), canon(&back));
    }

    #[test]
    fn every_field_changes_the_digest() {
        let data = json!({"a": 1});
        let metadata = json!({});
        let tags = vec!["t:1".to_owned()];
        let base = Content {
            event_id: "e",
            stream_id: "s",
            stream_type: "T",
            event_type: "E",
            schema_version: 1,
            data: &data,
            metadata: &metadata,
            tags: &tags,
        };
        let d = content_digest(&base);
        let other_data = json!({"a": 2});
        let no_tags: Vec<String> = Vec::new();
        for changed in [
            Content {
                event_id: "f",
                ..base
            },
            Content {
                stream_id: "t",
                ..base
            },
            Content {
                stream_type: "U",
                ..base
            },
            Content {
                event_type: "F",
                ..base
            },
            Content {
                schema_version: 2,
                ..base
            },
            Content {
                data: &other_data,
                ..base
            },
            Content {
                metadata: &data,
                ..base
            },
            Content {
                tags: &no_tags,
                ..base
            },
        ] {
            assert_ne!(content_digest(&changed), d);
        }
        // Length prefixes: moving a byte from one field to the next is a different event.
        assert_ne!(
            content_digest(&Content {
                event_id: "es",
                stream_id: "",
                ..base
            }),
            content_digest(&Content {
                event_id: "e",
                stream_id: "s",
                ..base
            })
        );
        let h = row_hash(&GENESIS, 1, 1, 10, &d);
        assert_ne!(h, row_hash(&GENESIS, 2, 1, 10, &d));
        assert_ne!(h, row_hash(&GENESIS, 1, 2, 10, &d));
        assert_ne!(h, row_hash(&GENESIS, 1, 1, 11, &d));
        assert_ne!(h, row_hash(&[1; 32], 1, 1, 10, &d));
        assert_eq!(from_hex(&to_hex(&h)), Some(h));
    }
}
