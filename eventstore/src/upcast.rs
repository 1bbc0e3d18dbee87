//! Upcasting: old event shapes are turned into today's shape at read time, on every read path
//! (read_stream, read_all, read_correlated, subscribe, read_query), so stored events are never
//! rewritten.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;

use crate::envelope::RecordedEvent;
use crate::error::{StoreError, StoreResult};

/// Turns the data of one schema version into the next one (`from` -> `from + 1`).
pub type UpcastFn = Box<dyn Fn(Value) -> Result<Value, String> + Send + Sync + 'static>;

/// Upcasters keyed by `(event_type, from_schema_version)`. Applied repeatedly (v1 -> v2 -> v3)
/// until no upcaster matches; the event's `schema_version` is set to the resulting version.
#[derive(Default)]
pub struct UpcasterRegistry {
    upcasters: HashMap<(String, i32), UpcastFn>,
}

impl fmt::Debug for UpcasterRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<_> = self.upcasters.keys().collect();
        keys.sort();
        f.debug_struct("UpcasterRegistry")
            .field("upcasters", &keys)
            .finish()
    }
}

impl UpcasterRegistry {
    /// An empty registry: events are returned as stored.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the upcaster of `event_type` from `from_version` to `from_version + 1`,
    /// replacing any previous one.
    pub fn register<F>(&mut self, event_type: impl Into<String>, from_version: i32, f: F)
    where
        F: Fn(Value) -> Result<Value, String> + Send + Sync + 'static,
    {
        self.upcasters
            .insert((event_type.into(), from_version), Box::new(f));
    }

    /// Builder form of [`register`](Self::register).
    #[must_use]
    pub fn with<F>(mut self, event_type: impl Into<String>, from_version: i32, f: F) -> Self
    where
        F: Fn(Value) -> Result<Value, String> + Send + Sync + 'static,
    {
        self.register(event_type, from_version, f);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.upcasters.is_empty()
    }

    /// Upcasts `data` of `event_type` at `schema_version`; returns the final version and data.
    pub fn upcast_data(
        &self,
        event_type: &str,
        schema_version: i32,
        mut data: Value,
    ) -> StoreResult<(i32, Value)> {
        let mut version = schema_version;
        if self.upcasters.is_empty() {
            return Ok((version, data));
        }
        let mut key = (event_type.to_owned(), version);
        while let Some(f) = self.upcasters.get(&key) {
            data = f(data).map_err(|reason| StoreError::Upcast {
                event_type: event_type.to_owned(),
                from_version: version,
                reason,
            })?;
            version = version.checked_add(1).ok_or_else(|| StoreError::Upcast {
                event_type: event_type.to_owned(),
                from_version: version,
                reason: "schema version overflow".to_owned(),
            })?;
            key.1 = version;
        }
        Ok((version, data))
    }

    /// Brings a recorded event to today's shape.
    pub fn upcast(&self, mut event: RecordedEvent) -> StoreResult<RecordedEvent> {
        if self.upcasters.is_empty() {
            return Ok(event);
        }
        let data = std::mem::take(&mut event.data);
        let (version, data) = self.upcast_data(&event.event_type, event.schema_version, data)?;
        event.schema_version = version;
        event.data = data;
        Ok(event)
    }
}

/// Whether a read failed on what is stored rather than on the database: an upcaster refused
/// the event, or its row does not decode (JSON, id, timestamp). Retrying cannot help; the event
/// needs a fixed upcaster (a projection dead-letters it, an API answers which event it is).
pub fn is_unreadable(error: &StoreError) -> bool {
    match error {
        StoreError::Upcast { .. } | StoreError::Unsealable(_) | StoreError::Serialization(_) => {
            true
        }
        StoreError::Storage(e) => {
            matches!(e, sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. })
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chains_and_reports_failures() {
        let reg = UpcasterRegistry::new()
            .with("A", 1, |mut v| {
                v["b"] = json!(2);
                Ok(v)
            })
            .with("A", 2, |mut v| {
                v["c"] = json!(3);
                Ok(v)
            })
            .with("B", 1, |_| Err("nope".into()));
        let (v, d) = reg.upcast_data("A", 1, json!({"a": 1})).unwrap();
        assert_eq!(v, 3);
        assert_eq!(d, json!({"a": 1, "b": 2, "c": 3}));
        let (v, _) = reg.upcast_data("A", 3, json!({})).unwrap();
        assert_eq!(v, 3);
        let err = reg.upcast_data("B", 1, json!({})).unwrap_err();
        assert!(matches!(
            err,
            StoreError::Upcast {
                from_version: 1,
                ..
            }
        ));
    }
}
