//! One module per page.
pub mod admin;
pub mod audit;
pub mod correlation;
pub mod customers;
pub mod dashboard;
pub mod dead_letters;
pub mod events;
pub mod log_integrity;
pub mod not_found;
pub mod order;
pub mod order_stepper;
pub mod orders;
pub mod products;
pub mod signin;
pub mod timeline;
pub mod tokens;
pub mod users;
