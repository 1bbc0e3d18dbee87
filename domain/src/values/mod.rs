//! Validated value types ("parse, don't validate"): once a value exists it is valid, and serde
//! goes through the same constructors, so invalid data cannot be deserialized either.

mod email;
mod money;
mod quantity;
mod sku;
mod stock;
mod text;
mod tracking;

/// What a personal field reads as once its subject's data was erased (crypto-shredding: the
/// key that opens it is gone). Valid as every personal field's type (a name, an address), so
/// erased events still fold; never accepted from input for an address.
pub const ERASED: &str = "[erased]";

pub use email::Email;
pub use money::Money;
pub use quantity::Quantity;
pub use sku::Sku;
pub use stock::StockUnits;
pub use text::{Carrier, CustomerName, PersonName, ProductName, Reason, TokenName};
pub use tracking::TrackingNumber;
