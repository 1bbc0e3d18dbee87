//! The error every server function returns: what the person sees, never server internals.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum UiError {
    /// A business rule said no; `message` is the rule's own explanation.
    #[error("{message}")]
    Rejected { code: String, message: String },
    /// The input could not be understood.
    #[error("{message}")]
    Invalid { message: String },
    /// Someone else changed it first: the page reloads the fresh state.
    #[error(
        "Someone else changed this {kind} meanwhile (it is now at version {current}). The latest state is shown below; nothing you typed was lost, please review and try again."
    )]
    Conflict { kind: String, current: i64 },
    #[error("{what} was not found.")]
    NotFound { what: String },
    #[error("Please log in as an administrator.")]
    Unauthorized,
    #[error("{message}")]
    Busy { message: String },
    /// The server cannot take writes right now (for example its disk is full).
    #[error("{message}")]
    Unavailable { message: String },
    #[error("Something went wrong on the server. It has been logged; please try again.")]
    Internal,
    #[error("Could not reach the server ({0}). Check your connection and try again.")]
    Transport(String),
}

impl FromServerFnError for UiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(e) | ServerFnErrorErr::Response(e) => Self::Transport(e),
            ServerFnErrorErr::Args(e) | ServerFnErrorErr::Deserialization(e) => {
                Self::Invalid { message: e }
            }
            _ => Self::Internal,
        }
    }
}

impl UiError {
    /// True for a concurrency conflict (the page should reload the fresh state).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }
}
