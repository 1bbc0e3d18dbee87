//! The log integrity use cases: the hash chain's head, a verify of the whole log run as a
//! background job with progress (one at a time per server), and the anchor an operator exports
//! to keep outside the database. Admins only (`Capability::Operations`), like the other
//! operator actions; the acting admin is logged when a verify starts.
//!
//! The verify itself is `eventstore::verify`; this file only runs it as a job and turns its
//! outcome into the views the admin panel and the REST API show (`domain::integrity`).

use std::sync::{Arc, Mutex, PoisonError};

use chrono::Utc;
use domain::account::Capability;
use domain::integrity::{
    ChainAnchor, ChainProblemView, ChainStatus, ChainVerifyStatus, VerifyState,
};
use eventstore::{ChainProblem, VerifyRange};
use tracing::Instrument as _;

use crate::application::{AppError, AppResult, Application, ErrorKind, RequestContext};

/// The verify job of this server: the last (or running) verify's status.
#[derive(Debug)]
pub(crate) struct VerifyJob {
    status: Mutex<ChainVerifyStatus>,
}

impl Default for VerifyJob {
    fn default() -> Self {
        Self {
            status: Mutex::new(ChainVerifyStatus {
                state: VerifyState::Idle,
                checked: 0,
                total: 0,
                events_per_sec: 0.0,
                problem: None,
                error: None,
                started_at: None,
                finished_at: None,
            }),
        }
    }
}

impl VerifyJob {
    fn status(&self) -> ChainVerifyStatus {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ChainVerifyStatus> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks a verify as running; `false` when one already runs.
    fn begin(&self) -> bool {
        let mut status = self.lock();
        if status.state == VerifyState::Running {
            return false;
        }
        *status = ChainVerifyStatus {
            state: VerifyState::Running,
            checked: 0,
            total: 0,
            events_per_sec: 0.0,
            problem: None,
            error: None,
            started_at: Some(Utc::now()),
            finished_at: None,
        };
        true
    }
}

/// The problem as the admin panel shows it.
fn problem_view(problem: &ChainProblem) -> ChainProblemView {
    ChainProblemView {
        kind: problem.kind().to_owned(),
        position: problem.position(),
        message: problem.to_string(),
    }
}

impl Application {
    /// The chain head and the last verify's status.
    pub async fn chain_status(&self, ctx: &RequestContext) -> AppResult<ChainStatus> {
        self.allow(ctx, "chain", Capability::Operations)?;
        let head = eventstore::chain_head(self.inner.store.db()).await?;
        Ok(ChainStatus {
            head_position: head.position,
            head_hash: head.hash.as_ref().map(eventstore::chain::to_hex),
            algorithm: eventstore::chain::ALGORITHM.to_owned(),
            verify: self.inner.verify_job.status(),
        })
    }

    /// The last (or running) verify's status.
    pub fn chain_verify_status(&self, ctx: &RequestContext) -> AppResult<ChainVerifyStatus> {
        self.allow(ctx, "chain", Capability::Operations)?;
        Ok(self.inner.verify_job.status())
    }

    /// Starts a verify of the whole log in the background; a 409 while one runs.
    pub fn start_chain_verify(&self, ctx: &RequestContext) -> AppResult<ChainVerifyStatus> {
        let by = self
            .allow(ctx, "verify chain", Capability::Operations)?
            .username
            .clone();
        let job = self.inner.verify_job.clone();
        if !job.begin() {
            return Err(AppError::new(
                ErrorKind::Conflict,
                "verify_in_progress",
                "A verify of the event log is already running.",
            ));
        }
        let db = self.inner.store.db().clone();
        let span = tracing::info_span!("chain_verify", by = %by);
        let progress_job = job.clone();
        tokio::spawn(
            async move {
                tracing::info!("event log verify started");
                let result = eventstore::verify(&db, VerifyRange::default(), None, |p| {
                    let mut status = progress_job.lock();
                    status.checked = p.checked;
                    status.total = p.total;
                    status.events_per_sec = p.events_per_sec;
                })
                .await;
                let mut status = job.lock();
                status.finished_at = Some(Utc::now());
                match result {
                    Ok(report) => {
                        status.checked = report.checked;
                        status.total = u64::try_from(report.to - report.from + 1).unwrap_or(0);
                        status.events_per_sec = report.events_per_sec();
                        match &report.problem {
                            None => {
                                status.state = VerifyState::Intact;
                                tracing::info!(checked = report.checked, "event log intact");
                            }
                            Some(problem) => {
                                status.state = VerifyState::Broken;
                                status.problem = Some(problem_view(problem));
                                tracing::warn!(
                                    kind = problem.kind(),
                                    position = problem.position(),
                                    "event log verify found a problem"
                                );
                            }
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "event log verify failed");
                        status.state = VerifyState::Failed;
                        status.error = Some("the verify could not read the log".to_owned());
                    }
                }
            }
            .instrument(span),
        );
        Ok(self.inner.verify_job.status())
    }

    /// The chain head as an anchor to keep outside the database (position 0 and the genesis
    /// hash for an empty log); a 503 while the head row has no hash (written with the chain
    /// off or behind the store's back: the next append chains over it, verify reports it).
    pub async fn chain_anchor(&self, ctx: &RequestContext) -> AppResult<ChainAnchor> {
        self.allow(ctx, "chain anchor", Capability::Operations)?;
        let head = eventstore::chain_head(self.inner.store.db()).await?;
        let anchor = head.anchor().ok_or_else(|| {
            AppError::new(
                ErrorKind::Unavailable,
                "no_chain_head",
                "The head row of the log has no hash: there is nothing to anchor yet.",
            )
        })?;
        Ok(ChainAnchor {
            position: anchor.position,
            hash: anchor.hash,
            algorithm: anchor.algorithm,
            exported_at: anchor.exported_at,
        })
    }
}

/// Shared by the application (`Inner::verify_job`).
pub(crate) type SharedVerifyJob = Arc<VerifyJob>;
