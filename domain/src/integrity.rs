//! What the admin panel and the REST API show of the event log's hash chain: its head, the
//! progress and outcome of a verify, and the anchor an operator keeps outside the database.
//! Plain data; the chain itself is computed and checked in `eventstore`.

#![allow(missing_docs)] // plain data shapes: the field names say what they hold

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a verify job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VerifyState {
    /// No verify has run since the server started.
    Idle,
    Running,
    /// The last verify found every row as written.
    Intact,
    /// The last verify found a problem (see `problem`).
    Broken,
    /// The last verify could not run to its end (see `error`).
    Failed,
}

/// The first row a verify found changed, inserted or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChainProblemView {
    /// `changed`, `missing`, `inserted`, `unchained` or `anchor_mismatch`.
    pub kind: String,
    pub position: i64,
    /// One sentence for the operator.
    pub message: String,
}

/// The last (or running) verify of this server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChainVerifyStatus {
    pub state: VerifyState,
    /// Rows checked so far.
    pub checked: u64,
    /// Rows to check (the log head when the verify started).
    pub total: u64,
    pub events_per_sec: f64,
    pub problem: Option<ChainProblemView>,
    pub error: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// The chain head and the last verify.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChainStatus {
    /// The log head's position (0 for an empty log).
    pub head_position: i64,
    /// The head row's hash, hex; absent for an empty log or an unhashed row.
    pub head_hash: Option<String>,
    /// The hash format (`eventide-chain-v1/sha256`).
    pub algorithm: String,
    pub verify: ChainVerifyStatus,
}

/// A chain head to keep outside the database; `server verify --anchor FILE` checks the log
/// still reaches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChainAnchor {
    pub position: i64,
    /// Hex, 64 digits.
    pub hash: String,
    pub algorithm: String,
    /// RFC 3339.
    pub exported_at: String,
}
