//! Security: the admin token file, the session layer, the Host check (DNS rebinding), the
//! cross-site / origin checks, the per-client rate limit and connection caps, body-size and time
//! limits, and the response security headers.

pub mod admin;
pub mod connections;
pub mod headers;
pub mod host;
pub mod limits;
pub mod origin;
pub mod rate_limit;
pub mod session;
