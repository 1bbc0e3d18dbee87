//! Upcasters: pure functions that rewrite a stored event payload from one schema version to
//! the next, so `DomainEvent::from_data` only ever needs to read the current shape. The event
//! store applies them in chain (v1 -> v2 -> ...) while reading.

use serde_json::Value;

use crate::order::ItemAdded;
use crate::values::Money;

/// Rewrites a payload of version `from` into version `from + 1`, or says why it cannot.
pub type Upcaster = fn(Value) -> Result<Value, String>;

/// Every upcaster: `(event type, from version, function)`. Register all of them with the
/// event store; an event type/version missing here is already current.
pub fn upcasters() -> Vec<(&'static str, i32, Upcaster)> {
    vec![(ItemAdded::EVENT_TYPE, 1, item_added_v1_to_v2 as Upcaster)]
}

/// `ItemAdded` v1 -> v2: the decimal string `unit_price` (e.g. `"19.99"`) becomes the integer
/// `unit_price_cents` (`1999`). Parsing is exact (no floats); JSON numbers, negative amounts,
/// more than two decimals and malformed strings are rejected rather than guessed at. Other
/// fields are kept as they are.
pub fn item_added_v1_to_v2(data: Value) -> Result<Value, String> {
    let Value::Object(mut map) = data else {
        return Err("ItemAdded v1 payload is not a JSON object".to_owned());
    };
    let price = match map.remove("unit_price") {
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(format!(
                "ItemAdded v1 unit_price must be a decimal string, found {other}"
            ));
        }
        None => return Err("ItemAdded v1 payload has no unit_price".to_owned()),
    };
    let money = Money::parse(&price)
        .map_err(|e| format!("ItemAdded v1 unit_price {price:?} is invalid: {e}"))?;
    map.insert("unit_price_cents".to_owned(), Value::from(money.cents()));
    Ok(Value::Object(map))
}

/// Applies the upcasters in `upcasters()` to bring `data` of `event_type` at `version` up to
/// `target_version`. For callers that do not have their own registry (tests, tools).
pub fn upcast_to(
    event_type: &str,
    mut version: i32,
    target_version: i32,
    mut data: Value,
) -> Result<Value, String> {
    let all = upcasters();
    while version < target_version {
        let (_, _, f) = all
            .iter()
            .find(|(t, v, _)| *t == event_type && *v == version)
            .ok_or_else(|| format!("no upcaster for {event_type} v{version}"))?;
        data = f(data)?;
        version += 1;
    }
    Ok(data)
}
