//! The error every server function returns: what the person sees, never server internals.
//!
//! It carries the same `code` the REST API answers for the same failure: both are made from
//! the application layer's one error (`orders::application::AppError`, converted in
//! `ssr.rs`), so the UI never classifies errors itself.

pub use domain::failure::ErrorKind;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// A failed server function: kind, the stable code, and the message to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct UiError {
    pub kind: ErrorKind,
    /// The same code as the REST API's `error.code`, e.g. `order_not_draft`.
    pub code: String,
    pub message: String,
}

impl UiError {
    /// An error of `kind` with `code` and `message`.
    pub fn new(kind: ErrorKind, code: &str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// `what` was not found (a page without an id, say).
    pub fn not_found(what: &str) -> Self {
        Self::new(
            ErrorKind::NotFound,
            "not_found",
            format!("{what} was not found."),
        )
    }

    /// True for a concurrency conflict (the page should reload the fresh state).
    pub fn is_conflict(&self) -> bool {
        self.code == "version_conflict"
    }
}

impl FromServerFnError for UiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(e) | ServerFnErrorErr::Response(e) => Self::new(
                ErrorKind::Unavailable,
                "transport",
                format!("Could not reach the server ({e}). Check your connection and try again."),
            ),
            ServerFnErrorErr::Args(e) | ServerFnErrorErr::Deserialization(e) => {
                Self::new(ErrorKind::Invalid, "invalid_body", e)
            }
            _ => Self::new(
                ErrorKind::Internal,
                "internal_error",
                "Something went wrong on the server. It has been logged; please try again.",
            ),
        }
    }
}
