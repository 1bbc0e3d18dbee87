//! Who sends a command, why, and under which conditions.

use eventstore::EventMetadata;
use uuid::Uuid;

/// The context of one command: its ids, its user and its optional conditions.
///
/// * `command_id` (UUID v7) becomes the `causation_id` of every event the command appends;
/// * `correlation_id` is shared by everything one user action causes (given by the caller, or
///   generated);
/// * `idempotency_key`: the same key with the same command returns the first result and writes
///   nothing; with a different command it is rejected;
/// * `expected_version`: the stream version the caller saw; if the stream moved, the command is
///   rejected with a typed conflict instead of being retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandContext {
    /// Id of this command (UUID v7); the events' causation id.
    pub command_id: Uuid,
    /// Correlation id of the user action.
    pub correlation_id: Uuid,
    /// The user issuing the command, if known.
    pub user_id: Option<String>,
    /// Client-chosen key that makes retries of this command safe.
    pub idempotency_key: Option<String>,
    /// The version the caller saw (optimistic concurrency); `None` lets the service retry.
    pub expected_version: Option<i64>,
    /// More about the actor, stored in the events' metadata (role, display name, how they
    /// signed in).
    pub actor: serde_json::Map<String, serde_json::Value>,
    /// The command's name (e.g. `confirm_order`), stored in the events' metadata as `command`
    /// (the console's causation tree labels commands with it). Set by the command engine.
    pub command: Option<&'static str>,
    /// What caused this command (an event or command id the caller reacted to), stored as
    /// `caused_by`: the causation tree hangs the command under it.
    pub caused_by: Option<Uuid>,
    /// The W3C trace this command runs in (the request's `traceparent`, continued by the
    /// server), stored in the events' metadata as `traceparent`.
    pub trace_parent: Option<eventstore::TraceParent>,
}

impl Default for CommandContext {
    fn default() -> Self {
        Self::new()
    }
}

impl CommandContext {
    /// Fresh ids (the correlation id is a new UUID v7 too), no user, no conditions.
    pub fn new() -> Self {
        Self {
            command_id: Uuid::now_v7(),
            correlation_id: Uuid::now_v7(),
            user_id: None,
            idempotency_key: None,
            expected_version: None,
            actor: serde_json::Map::new(),
            command: None,
            caused_by: None,
            trace_parent: None,
        }
    }

    /// A new context for `user_id`.
    pub fn for_user(user_id: impl Into<String>) -> Self {
        Self::new().with_user(user_id)
    }

    /// Sets the user.
    #[must_use]
    pub fn with_user(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// Sets the correlation id (e.g. from a request header, or the command that led here).
    #[must_use]
    pub fn with_correlation_id(mut self, correlation_id: Uuid) -> Self {
        self.correlation_id = correlation_id;
        self
    }

    /// Sets the command id (normally generated).
    #[must_use]
    pub fn with_command_id(mut self, command_id: Uuid) -> Self {
        self.command_id = command_id;
        self
    }

    /// Sets the idempotency key.
    #[must_use]
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Sets the actor's metadata (see [`CommandContext::actor`]).
    #[must_use]
    pub fn with_actor(mut self, actor: serde_json::Map<String, serde_json::Value>) -> Self {
        self.actor = actor;
        self
    }

    /// Sets the command's name (see [`CommandContext::command`]).
    #[must_use]
    pub fn with_command(mut self, name: &'static str) -> Self {
        self.command = Some(name);
        self
    }

    /// Sets what caused the command (see [`CommandContext::caused_by`]).
    #[must_use]
    pub fn with_caused_by(mut self, cause: Option<Uuid>) -> Self {
        self.caused_by = cause;
        self
    }

    /// Sets the trace (see [`CommandContext::trace_parent`]).
    #[must_use]
    pub fn with_trace_parent(mut self, trace: Option<eventstore::TraceParent>) -> Self {
        self.trace_parent = trace;
        self
    }

    /// Sets the expected version.
    #[must_use]
    pub fn with_expected_version(mut self, version: i64) -> Self {
        self.expected_version = Some(version);
        self
    }

    /// Sets or clears the expected version.
    #[must_use]
    pub fn with_expected_version_opt(mut self, version: Option<i64>) -> Self {
        self.expected_version = version;
        self
    }

    /// The metadata stored with every event of this command.
    pub fn event_metadata(&self) -> EventMetadata {
        let mut extra = self.actor.clone();
        if let Some(name) = self.command {
            extra.insert("command".to_owned(), name.into());
        }
        if let Some(cause) = self.caused_by {
            extra.insert("caused_by".to_owned(), cause.to_string().into());
        }
        if let Some(trace) = self.trace_parent {
            extra.insert(
                eventstore::trace_context::METADATA_KEY.to_owned(),
                trace.to_string().into(),
            );
        }
        EventMetadata {
            correlation_id: Some(self.correlation_id),
            causation_id: Some(self.command_id),
            user_id: self.user_id.clone(),
            extra,
        }
    }
}
