//! W3C Trace Context (`traceparent`, <https://www.w3.org/TR/trace-context/>): the trace a
//! command's events belong to. The HTTP middleware continues the caller's `traceparent` (or
//! starts a trace), the events store it in their metadata (`traceparent`, beside the
//! correlation and causation ids), and the projection and relay spans and the broker messages
//! carry it on, so one trace follows a click from the browser to every consumer.
//!
//! Only the header's format is implemented here (a few dozen lines: parse, render, a child
//! span id); exporting spans is `tracing`'s business.

use std::fmt;

/// The metadata key the events store it under.
pub const METADATA_KEY: &str = "traceparent";

/// One `traceparent`: a trace id, the id of the span that caused what carries it, and flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    pub parent_id: [u8; 8],
    pub flags: u8,
}

fn hex_into(out: &mut [u8], text: &str) -> Option<()> {
    if text.len() != out.len() * 2 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(())
}

impl TraceParent {
    /// Parses a `traceparent` header by the W3C rules: `version-traceid-parentid-flags` in
    /// lower-case hex, version `ff` and all-zero ids invalid; a later version may append fields
    /// (kept compatible: only the first four are read). `None` when invalid: the caller starts
    /// a new trace, as the recommendation says.
    pub fn parse(header: &str) -> Option<Self> {
        let header = header.trim();
        let mut parts = header.split('-');
        let version = parts.next()?;
        let mut v = [0_u8; 1];
        hex_into(&mut v, version)?;
        if v[0] == 0xff || (v[0] == 0 && header.len() != 55) {
            return None;
        }
        let mut trace_id = [0_u8; 16];
        hex_into(&mut trace_id, parts.next()?)?;
        let mut parent_id = [0_u8; 8];
        hex_into(&mut parent_id, parts.next()?)?;
        let mut flags = [0_u8; 1];
        hex_into(&mut flags, parts.next()?)?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            parent_id,
            flags: flags[0],
        })
    }

    /// A new trace (random ids, sampled).
    pub fn new_root() -> Self {
        Self {
            trace_id: nonzero(rand_bytes()),
            parent_id: nonzero(rand_bytes()),
            flags: 0x01,
        }
    }

    /// The same trace, with a new span of ours as the parent of what follows.
    pub fn child(&self) -> Self {
        Self {
            parent_id: nonzero(rand_bytes()),
            ..*self
        }
    }

    /// The trace id in hex (what log lines and spans record).
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// The parent span id in hex.
    pub fn parent_id_hex(&self) -> String {
        hex(&self.parent_id)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn rand_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0_u8; N];
    rand::fill(&mut out[..]);
    out
}

fn nonzero<const N: usize>(mut bytes: [u8; N]) -> [u8; N] {
    if bytes == [0; N] {
        bytes[N - 1] = 1;
    }
    bytes
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            hex(&self.trace_id),
            hex(&self.parent_id),
            self.flags
        )
    }
}

impl crate::EventMetadata {
    /// The trace the event belongs to (its `traceparent` metadata), when it was recorded with
    /// one.
    pub fn trace_parent(&self) -> Option<TraceParent> {
        self.extra
            .get(METADATA_KEY)
            .and_then(|v| v.as_str())
            .and_then(TraceParent::parse)
    }

    /// The event's trace id in hex, empty when it has no trace (what spans record).
    pub fn trace_id(&self) -> String {
        self.trace_parent()
            .map(|t| t.trace_id_hex())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_w3c_example_round_trips() {
        let t = TraceParent::parse(EXAMPLE).expect("valid");
        assert_eq!(t.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.flags, 1);
        assert_eq!(t.to_string(), EXAMPLE);
        let child = t.child();
        assert_eq!(child.trace_id, t.trace_id);
        assert_ne!(child.parent_id, t.parent_id);
    }

    #[test]
    fn invalid_headers_are_refused() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
        // A later version may append fields.
        assert!(
            TraceParent::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more")
                .is_some()
        );
    }

    #[test]
    fn new_traces_are_valid_and_distinct() {
        let a = TraceParent::new_root();
        let b = TraceParent::new_root();
        assert_ne!(a.trace_id, b.trace_id);
        assert_eq!(TraceParent::parse(&a.to_string()), Some(a));
    }
}
