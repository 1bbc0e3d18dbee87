//! Reusable pieces of the UI.
pub mod error_box;
pub mod nav;
pub mod pager;
pub mod sparkline;
pub mod status_badge;
