//! Server functions: the browser's typed calls into the same `orders` services the REST API
//! uses. Each body is one line into `crate::ssr`, which holds the server-only adapters.
pub mod admin;
pub mod auth;
pub mod commands;
pub mod queries;
