//! Security: the admin credential and sessions, the cross-site / origin checks, the per-client
//! rate limit, body-size and time limits, and the response security headers.

pub mod admin;
pub mod headers;
pub mod limits;
pub mod origin;
pub mod rate_limit;
