//! The application layer: every use case of Eventide, once, for every way in.
//!
//! The REST API (`server/src/api`) and the Leptos server functions (`app/src/ssr.rs`) are thin
//! adapters over [`Application`]: they take the request's input (a `domain::requests` type) and
//! its [`RequestContext`], call one method here, and map the answer or the [`AppError`] with a
//! `From` impl. Everything else is decided here, once:
//!
//! * input -> validated command (value types parsed, quantities range-checked);
//! * the command context (correlation id from the request, the acting user, idempotency key,
//!   expected version) from [`RequestContext`];
//! * idempotency, one span and retries (in the command service, `crate::command`);
//! * the command metrics ([`CommandObserver`]) and the log line of the outcome;
//! * one error type with one classification ([`AppError`], [`ErrorKind`]).
//!
//! Where a use case lives: `orders.rs` (place with lines, items, confirm, ship, deliver, cancel,
//! the order list and detail, dashboard, activity), `customers.rs`, `products.rs`, `audit.rs`
//! (the event log's streams and events, by design read from the log), `console.rs` (the event
//! browser, statistics, dead letters, causation trees), `operations.rs`
//! (projections, rebuilds, dead letters, the relay), `integrity.rs` (the hash chain: head, verify
//! job, anchor), `identity.rs` (authentication, sign-up,
//! sign-in, accounts, API tokens); `access.rs` applies the access policy to every one of them.

pub mod access;
mod audit;
mod console;
pub mod context;
mod customers;
pub mod error;
mod identity;
mod integrity;
pub mod live;
mod observer;
mod operations;
mod orders;
mod products;
mod text;
mod users;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use domain::views::CommandReply;
use eventstore::SqlEventStore;
use eventstore::projection::ProjectionRunner;

pub use audit::MAX_PAGE;
pub use context::{ClientIp, CorrelationId, RequestContext};
pub use error::{AppError, ErrorKind};
pub use observer::{CommandObserver, NoMetrics};

use crate::command::{CommandError, CommandOutcome, CommandService};
use crate::console::{Console, ConsoleConfig};
use crate::identity::Identity;
use crate::query::QueryService;
use crate::relay::Relay;
use crate::status::projection_status;
use domain::views::{ProjectionStatus, RelayStatus};

/// What a command use case answers: the reply, and whether it is the stored result of an
/// earlier request with the same idempotency key (nothing was written this time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Id, version and position of the command.
    pub reply: CommandReply,
    /// An idempotent replay.
    pub replayed: bool,
}

/// The result of a use case.
pub type AppResult<T> = Result<T, AppError>;

/// The application: every use case. Cheap to clone.
#[derive(Clone)]
pub struct Application {
    inner: Arc<Inner>,
}

struct Inner {
    commands: CommandService,
    queries: QueryService,
    store: SqlEventStore,
    runner: ProjectionRunner,
    relay: Arc<Relay>,
    observer: Arc<dyn CommandObserver>,
    identity: Identity,
    console: Console,
    verify_job: integrity::SharedVerifyJob,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").finish_non_exhaustive()
    }
}

impl Application {
    /// The application over these services; `observer` counts commands (see
    /// [`CommandObserver`]; [`NoMetrics`] counts nothing).
    pub fn new(
        commands: CommandService,
        queries: QueryService,
        runner: ProjectionRunner,
        relay: Arc<Relay>,
        observer: Arc<dyn CommandObserver>,
    ) -> Self {
        let store = commands.store().clone();
        let identity = Identity::new(store.db());
        Self {
            inner: Arc::new(Inner {
                commands,
                queries,
                store,
                runner,
                relay,
                observer,
                identity,
                console: Console::default(),
                verify_job: Arc::default(),
            }),
        }
    }

    /// Sets the bootstrap admin token (as a bearer token it acts as the bootstrap admin).
    #[must_use]
    pub fn with_admin_token(mut self, token: Option<String>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.identity.admin_token = token.map(Arc::from);
        }
        self
    }

    /// Sets the login throttling.
    #[must_use]
    pub fn with_throttle(mut self, config: crate::identity::ThrottleConfig) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.identity.throttle = Arc::new(crate::identity::LoginThrottle::new(config));
        }
        self
    }

    /// The command service (the write engine).
    pub fn commands(&self) -> &CommandService {
        &self.inner.commands
    }

    /// The query service (read models).
    pub fn queries(&self) -> &QueryService {
        &self.inner.queries
    }

    /// The projection runner.
    pub fn runner(&self) -> &ProjectionRunner {
        &self.inner.runner
    }

    /// The broker relay.
    pub fn relay(&self) -> &Relay {
        &self.inner.relay
    }

    /// Starts the console's sampler (lag in seconds, stalls, trends, statistics).
    pub fn start_console(&self, config: ConsoleConfig) {
        self.inner.console.start(
            config,
            self.inner.store.clone(),
            self.inner.runner.clone(),
            self.inner.relay.clone(),
        );
    }

    /// The console's sampler.
    pub fn console(&self) -> &Console {
        &self.inner.console
    }

    /// Every projection's status with the console's figures (lag in seconds, trend, stalls),
    /// without an access check: for callers that checked it already (the websocket checks its
    /// topics when they are subscribed; the metrics endpoint and readiness are not per user).
    pub fn projection_statuses(&self) -> Vec<ProjectionStatus> {
        self.inner
            .runner
            .status()
            .into_iter()
            .map(|info| self.inner.console.projection(projection_status(info)))
            .collect()
    }

    /// The relay's status with the console's figures, without an access check (see
    /// [`projection_statuses`](Self::projection_statuses)).
    pub fn relay_statuses(&self) -> RelayStatus {
        let head = *eventstore::EventStore::head_watch(&self.inner.store).borrow();
        self.inner.console.relay(self.inner.relay.status(), head)
    }

    /// Runs one command use case: counts it (name, outcome, duration), logs the outcome, and
    /// turns the service's answer into [`Accepted`] or an [`AppError`].
    async fn command<E, F>(&self, name: &'static str, command: F) -> AppResult<Accepted>
    where
        F: Future<Output = Result<CommandOutcome<E>, CommandError>>,
    {
        let start = Instant::now();
        let result = command.await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) if e.is_client_error() => e.code(),
            Err(_) => "error",
        };
        self.inner.observer.command(name, outcome, start.elapsed());
        let outcome = result.map_err(AppError::from)?;
        Ok(Accepted {
            reply: CommandReply {
                id: outcome.id,
                version: outcome.version,
                position: outcome.position,
            },
            replayed: outcome.replayed,
        })
    }
}
