//! Eventide's user interface: the application shell, pages and components. Built twice: with
//! `ssr` inside the server (renders HTML, runs server functions) and with `hydrate` to wasm (makes
//! the server-rendered page interactive). Server-only code stays behind `#[cfg(feature = "ssr")]`.
#![forbid(unsafe_code)]
#![recursion_limit = "256"]

mod components;
mod pages;
mod shell;

pub use shell::{App, shell};
