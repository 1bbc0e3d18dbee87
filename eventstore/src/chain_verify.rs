//! Checking the hash chain: reads the log in position order (keyset pages), recomputes every
//! row's hash from its stored columns and its link to the row before, and names the first row
//! that was changed, inserted or removed ([`ChainProblem`]).
//!
//! What each check catches:
//! - a row's own hash does not match its columns: that row was changed (an `UPDATE` of its
//!   data, or two rows whose positions were swapped: the position is hashed);
//! - a row's stored `prev_hash` differs from the stored hash of the row before it, while both
//!   check by themselves: the row before was rewritten with a recomputed hash of its own;
//! - a gap in the positions: a row was deleted; a row beyond the log head: one was inserted;
//! - a row without a hash: it was written behind the store's back (or with the chain off).
//!
//! What it cannot catch by itself: someone who rewrites the whole tail from some row on,
//! recomputing every hash, leaves a chain that checks. Only an anchor kept outside the database
//! ([`Anchor`], exported earlier with [`chain_head`]) finds that: the recomputed chain does not
//! reach the anchored hash at the anchored position.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use crate::chain::{self, Hash};
use crate::chain_rows::{decode_all, last_position, read_raw, stored_hash};
use crate::db::Db;
use crate::error::{StoreError, StoreResult};
use crate::sql;

/// Rows per page read by verify.
const PAGE_ROWS: i64 = 5_000;

type DecodeTask = tokio::task::JoinHandle<StoreResult<Vec<crate::chain_rows::ChainRow>>>;

/// Why a verify could not run to its end (a problem it finds is not an error, see
/// [`VerifyReport::problem`]).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("invalid anchor: {0}")]
    BadAnchor(String),
}

impl From<sqlx::Error> for VerifyError {
    fn from(e: sqlx::Error) -> Self {
        VerifyError::Store(StoreError::Storage(e))
    }
}

/// The first problem verify found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChainProblem {
    /// The row at `position` does not match its hash, or was rewritten with a recomputed hash
    /// (the next row's link to it does not match).
    #[error("row {position} was changed")]
    Changed { position: i64 },
    /// No row at `position` although the log head is past it: it was deleted.
    #[error("row {position} is missing")]
    Missing { position: i64 },
    /// A row at `position`, beyond the log head: it was inserted behind the store's back.
    #[error("row {position} was inserted beyond the log head")]
    Inserted { position: i64 },
    /// The row at `position` has no hash (written behind the store's back or with the chain
    /// off).
    #[error("row {position} has no hash")]
    Unchained { position: i64 },
    /// The chain does not reach the anchor's hash at the anchor's position: the log was
    /// rewritten from some row up to there (or shortened) since the anchor was exported.
    #[error("the chain does not reach the anchored hash at position {position}")]
    AnchorMismatch { position: i64 },
}

impl ChainProblem {
    /// The position the problem names.
    pub fn position(&self) -> i64 {
        match *self {
            ChainProblem::Changed { position }
            | ChainProblem::Missing { position }
            | ChainProblem::Inserted { position }
            | ChainProblem::Unchained { position }
            | ChainProblem::AnchorMismatch { position } => position,
        }
    }

    /// The kind as one word (`changed`, `missing`, `inserted`, `unchained`, `anchor_mismatch`).
    pub fn kind(&self) -> &'static str {
        match self {
            ChainProblem::Changed { .. } => "changed",
            ChainProblem::Missing { .. } => "missing",
            ChainProblem::Inserted { .. } => "inserted",
            ChainProblem::Unchained { .. } => "unchained",
            ChainProblem::AnchorMismatch { .. } => "anchor_mismatch",
        }
    }
}

/// The positions to check, both ends included; `None` means the first row / the log head.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyRange {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// A chain head kept outside the database, to be checked later: the hash of the row at
/// `position` when it was exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub position: i64,
    /// Lower-case hex, 64 digits.
    pub hash: String,
    /// [`chain::ALGORITHM`].
    pub algorithm: String,
    /// RFC 3339.
    pub exported_at: String,
}

/// The head of the chain: the last position and its row's hash (`None` for an empty log or an
/// unhashed row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub position: i64,
    pub hash: Option<Hash>,
}

impl ChainHead {
    /// The head as an anchor stamped now: the hash of the head row ([`chain::GENESIS`] at
    /// position 0, an empty log); `None` when the head row has no hash.
    pub fn anchor(&self) -> Option<Anchor> {
        let hash = match (self.position, &self.hash) {
            (0, _) => chain::GENESIS,
            (_, Some(hash)) => *hash,
            (_, None) => return None,
        };
        Some(Anchor {
            position: self.position,
            hash: chain::to_hex(&hash),
            algorithm: chain::ALGORITHM.to_owned(),
            exported_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })
    }
}

/// How far a verify is, after each page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VerifyProgress {
    /// Rows checked so far.
    pub checked: u64,
    /// Rows in the range.
    pub total: u64,
    pub events_per_sec: f64,
}

/// The outcome of a verify that ran to its end (a problem is an outcome, not an error).
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyReport {
    /// The range checked (`to` is the log head when none was given).
    pub from: i64,
    pub to: i64,
    pub checked: u64,
    pub elapsed: Duration,
    /// The first problem; `None` when the range is intact.
    pub problem: Option<ChainProblem>,
}

impl VerifyReport {
    pub fn events_per_sec(&self) -> f64 {
        self.checked as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The current head of the chain.
pub async fn chain_head(db: &Db) -> StoreResult<ChainHead> {
    let mut conn = db.pool().acquire().await?;
    let position: i64 = sqlx::query_scalar(sql::HEAD_POSITION)
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or(0);
    let hash = if position == 0 {
        None
    } else {
        stored_hash(&mut conn, position)
            .await?
            .and_then(|h| chain::from_column(h.as_deref()))
    };
    Ok(ChainHead { position, hash })
}

/// Checks `range` of the log (and `anchor`, when given), calling `progress` after each page.
/// A range that starts after position 1 trusts the stored hash of the row before it.
pub async fn verify(
    db: &Db,
    range: VerifyRange,
    anchor: Option<&Anchor>,
    mut progress: impl FnMut(VerifyProgress) + Send,
) -> Result<VerifyReport, VerifyError> {
    let started = Instant::now();
    let anchor = match anchor {
        Some(a) => Some((
            a.position,
            chain::from_hex(&a.hash).ok_or_else(|| {
                VerifyError::BadAnchor(format!("its hash is not 64 hex digits: {}", a.hash))
            })?,
        )),
        None => None,
    };
    let mut conn = db.pool().acquire().await?;
    let (head, beyond): (i64, Option<i64>) = sqlx::query_as(sql::HEAD_AND_BEYOND)
        .fetch_one(&mut *conn)
        .await?;
    let from = range.from.unwrap_or(1).max(1);
    let to = range.to.map_or(head, |to| to.min(head));
    let total = u64::try_from(to - from + 1).unwrap_or(0);
    if let Some((position, _)) = anchor
        && position != 0
        && (position < from || (position > to && to < head))
    {
        return Err(VerifyError::BadAnchor(format!(
            "position {position} is outside the range {from}..={to}"
        )));
    }
    let report = |checked: u64, problem: Option<ChainProblem>| VerifyReport {
        from,
        to,
        checked,
        elapsed: started.elapsed(),
        problem,
    };
    if let Some((0, hash)) = anchor
        && hash != chain::GENESIS
    {
        // An anchor of the empty log: the chain starts from the genesis hash.
        return Ok(report(
            0,
            Some(ChainProblem::AnchorMismatch { position: 0 }),
        ));
    }
    // Checked before the rows, like every position-ordered check below: the first problem is
    // the one with the lowest position, and an insertion is beyond every row.
    let tail_problem = match (beyond, anchor) {
        (Some(position), _) if to == head => Some(ChainProblem::Inserted { position }),
        (_, Some((position, _))) if position > head => {
            Some(ChainProblem::AnchorMismatch { position })
        }
        _ => None,
    };
    let mut prev = match start_hash(&mut conn, from).await? {
        Ok(prev) => prev,
        Err(problem) => return Ok(report(0, Some(problem))),
    };
    let mut checked: u64 = 0;
    let mut expected = from;
    let mut after = from - 1;
    // Pages are decoded (digests recomputed) on a blocking thread while the next one is read.
    let mut decoding: Option<DecodeTask> = None;
    loop {
        let next = if after < to {
            let raw = read_raw(&mut conn, db.backend(), after, to, PAGE_ROWS).await?;
            match last_position(&raw)? {
                Some(last) => {
                    after = last;
                    Some(tokio::task::spawn_blocking(move || decode_all(&raw)))
                }
                None => {
                    after = to;
                    None
                }
            }
        } else {
            None
        };
        let Some(page) = std::mem::replace(&mut decoding, next) else {
            if decoding.is_none() {
                break;
            }
            continue;
        };
        let rows = page.await.map_err(|e| {
            VerifyError::Store(StoreError::Storage(sqlx::Error::Protocol(format!(
                "verify page task failed: {e}"
            ))))
        })??;
        for row in &rows {
            if row.position != expected {
                return Ok(report(
                    checked,
                    Some(ChainProblem::Missing { position: expected }),
                ));
            }
            let position = row.position;
            let (Some(hash), Some(stored_prev)) = (
                chain::from_column(row.hash.as_deref()),
                chain::from_column(row.prev_hash.as_deref()),
            ) else {
                let problem = if row.hash.is_none() {
                    ChainProblem::Unchained { position }
                } else {
                    ChainProblem::Changed { position }
                };
                return Ok(report(checked, Some(problem)));
            };
            if row.hash_after(&stored_prev) != hash {
                return Ok(report(checked, Some(ChainProblem::Changed { position })));
            }
            if stored_prev != prev {
                // This row checks by itself but names another hash for the row before: that
                // one was rewritten with a recomputed hash of its own.
                return Ok(report(
                    checked,
                    Some(ChainProblem::Changed {
                        position: position - 1,
                    }),
                ));
            }
            if let Some((anchored, anchor_hash)) = anchor
                && anchored == position
                && anchor_hash != hash
            {
                return Ok(report(
                    checked,
                    Some(ChainProblem::AnchorMismatch { position }),
                ));
            }
            prev = hash;
            expected += 1;
            checked += 1;
        }
        progress(VerifyProgress {
            checked,
            total,
            events_per_sec: checked as f64 / started.elapsed().as_secs_f64().max(1e-9),
        });
    }
    if expected <= to {
        return Ok(report(
            checked,
            Some(ChainProblem::Missing { position: expected }),
        ));
    }
    Ok(report(checked, tail_problem))
}

/// The hash the row at `from` must be chained to: [`chain::GENESIS`] for position 1, else the
/// stored hash of the row before (a problem when it is missing or has none).
async fn start_hash(
    conn: &mut AnyConnection,
    from: i64,
) -> StoreResult<Result<Hash, ChainProblem>> {
    if from == 1 {
        return Ok(Ok(chain::GENESIS));
    }
    let position = from - 1;
    Ok(match stored_hash(conn, position).await? {
        None => Err(ChainProblem::Missing { position }),
        Some(None) => Err(ChainProblem::Unchained { position }),
        Some(Some(bytes)) => {
            chain::from_column(Some(&bytes)).ok_or(ChainProblem::Changed { position })
        }
    })
}
