//! Eventide's user interface: the application shell, pages and components. Built twice: with
//! `ssr` inside the server (renders HTML, runs server functions) and with `hydrate` to wasm (makes
//! the server-rendered page interactive). Server-only code stays behind `#[cfg(feature = "ssr")]`
//! in [`ssr`]; server functions in [`api`] call into it.
#![forbid(unsafe_code)]
#![recursion_limit = "512"]

pub mod api;
mod components;
pub mod error;
mod format;
mod live;
mod pages;
mod shell;
#[cfg(feature = "ssr")]
pub mod ssr;
mod submission;
mod time_travel;
mod viewer;

pub use shell::{App, shell};
