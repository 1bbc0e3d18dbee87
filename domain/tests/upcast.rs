//! ItemAdded v1 -> v2 upcasting, end to end.

use domain::DomainEvent;
use domain::order::{ItemAdded, OrderEvent};
use domain::upcast::{item_added_v1_to_v2, upcast_to, upcasters};
use serde_json::json;

fn v1(price: serde_json::Value) -> serde_json::Value {
    json!({
        "product_id": "00000000-0000-0000-0000-000000001001",
        "sku": "SKU-1",
        "product_name": "Product 1",
        "unit_price": price,
        "quantity": 2
    })
}

#[test]
fn converts_decimal_strings_exactly() {
    for (input, cents) in [
        ("19.99", 1999),
        ("19.9", 1990),
        ("19", 1900),
        ("0.01", 1),
        ("0", 0),
        ("19.09", 1909),
        ("007.50", 750),
        ("92233720368547758.07", i64::MAX),
    ] {
        let out = item_added_v1_to_v2(v1(json!(input))).unwrap();
        assert_eq!(out["unit_price_cents"], json!(cents), "{input}");
        assert!(out.get("unit_price").is_none());
        assert_eq!(out["sku"], json!("SKU-1"), "other fields are kept");
    }
}

#[test]
fn rejects_bad_prices() {
    for bad in [
        json!("19.999"),
        json!("-1.00"),
        json!("abc"),
        json!(""),
        json!("19."),
        json!(".5"),
        json!("1,50"),
        json!("1e3"),
        json!("+1"),
        json!("92233720368547758.08"),
        json!(19.99),
        json!(null),
    ] {
        assert!(item_added_v1_to_v2(v1(bad.clone())).is_err(), "{bad}");
    }
    assert!(item_added_v1_to_v2(json!({"quantity": 1})).is_err());
    assert!(item_added_v1_to_v2(json!("not an object")).is_err());
}

#[test]
fn upcast_v1_payload_reads_as_current_event() {
    let data = upcast_to(
        "ItemAdded",
        1,
        ItemAdded::SCHEMA_VERSION,
        v1(json!("19.99")),
    )
    .unwrap();
    let event = OrderEvent::from_data("ItemAdded", &data).unwrap();
    let OrderEvent::ItemAdded(item) = &event else {
        panic!("wrong variant: {event:?}");
    };
    assert_eq!(item.unit_price.cents(), 1999);
    assert_eq!(item.quantity.get(), 2);
    assert_eq!(event.schema_version(), 2);
    // Reading the v1 shape directly fails: from_data accepts the current shape only.
    assert_eq!(
        OrderEvent::from_data("ItemAdded", &v1(json!("19.99")))
            .unwrap_err()
            .code(),
        "invalid_event_data"
    );
}

#[test]
fn registry_lists_the_item_added_upcaster() {
    let all = upcasters();
    assert_eq!(all.len(), 1);
    let (event_type, from, f) = all[0];
    assert_eq!((event_type, from), ("ItemAdded", 1));
    assert_eq!(f(v1(json!("1.5"))).unwrap()["unit_price_cents"], json!(150));
    // Every upcaster goes from a version below the event type's current one.
    for (t, from, _) in &all {
        let current = OrderEvent::TYPES
            .iter()
            .find(|(name, _)| name == t)
            .map(|(_, v)| *v)
            .unwrap();
        assert!(*from < current);
    }
    assert!(upcast_to("ItemAdded", 2, 2, json!({})).is_ok());
    assert!(upcast_to("OrderPlaced", 1, 2, json!({})).is_err());
}
