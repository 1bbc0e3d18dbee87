//! Eventide order management: command service, projections, queries, relay, live hub.
#![forbid(unsafe_code)]
