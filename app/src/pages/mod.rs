//! One module per page.
pub mod admin;
pub mod audit;
pub mod dashboard;
pub mod not_found;
pub mod orders;
