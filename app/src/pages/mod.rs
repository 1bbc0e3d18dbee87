//! One module per page.
pub mod admin;
pub mod audit;
pub mod customers;
pub mod dashboard;
pub mod not_found;
pub mod order;
pub mod orders;
pub mod products;
pub mod signin;
pub mod timeline;
pub mod tokens;
pub mod users;
