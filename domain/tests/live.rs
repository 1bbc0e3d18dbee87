//! The live contract: which changes a topic covers (the one rule the server's websocket filter
//! and the browser's pages share), its JSON shape, and stream ids built and read in one place.

use domain::customer::Customer;
use domain::ids::{StreamId, StreamKind};
use domain::live::{Change, ClientMessage, ProjectionName, Topic};
use domain::order::Order;
use domain::product::Product;
use domain::{Aggregate, parse_stream_id};
use proptest::prelude::*;
use serde_json::json;
use uuid::Uuid;

fn change(projection: ProjectionName, streams: &[String]) -> Change {
    Change {
        projection,
        position: 7,
        streams: streams.to_vec(),
    }
}

fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

#[test]
fn each_read_model_topic_covers_its_own_changes_only() {
    let streams = [Product::stream_id(uuid(1)), Customer::stream_id(uuid(2))];
    for topic_projection in ProjectionName::ALL {
        let topic = Topic::of(topic_projection);
        for projection in ProjectionName::ALL {
            assert_eq!(
                topic.covers(&change(projection, &streams)),
                projection == topic_projection,
                "{topic:?} / {projection}"
            );
        }
    }
    // The pages that were never refreshed: products and customers have topics of their own.
    assert!(Topic::Products.covers(&change(ProjectionName::Products, &streams)));
    assert!(Topic::Customers.covers(&change(ProjectionName::Customers, &streams)));
    assert!(!Topic::Dashboard.covers(&change(ProjectionName::Activity, &streams)));
}

#[test]
fn order_and_stream_topics_narrow_to_one_aggregate() {
    let id = uuid(0xA);
    let mine = Order::stream_id(id);
    let other = Order::stream_id(uuid(0xB));
    let order = Topic::Order { id };
    assert!(order.covers(&change(
        ProjectionName::Orders,
        &[other.clone(), mine.clone()]
    )));
    assert!(!order.covers(&change(
        ProjectionName::Orders,
        std::slice::from_ref(&other)
    )));
    // Only the order read model: the dashboard counting the order is not the order's details.
    assert!(!order.covers(&change(
        ProjectionName::Dashboard,
        std::slice::from_ref(&mine)
    )));
    // A stream id spelled differently is another stream.
    let upper = format!("order-{}", id.to_string().to_uppercase());
    assert!(!order.covers(&change(ProjectionName::Orders, &[upper])));

    let stream = Topic::Stream { id: mine.clone() };
    for projection in ProjectionName::ALL {
        assert!(stream.covers(&change(projection, std::slice::from_ref(&mine))));
        assert!(!stream.covers(&change(projection, std::slice::from_ref(&other))));
        assert!(!stream.covers(&change(projection, &[])));
    }
}

#[test]
fn status_topics_cover_no_change() {
    for projection in ProjectionName::ALL {
        let c = change(projection, &[Order::stream_id(uuid(1))]);
        assert!(!Topic::Projections.covers(&c));
        assert!(!Topic::Relay.covers(&c));
    }
}

#[test]
fn projection_names_are_the_json_names() {
    for projection in ProjectionName::ALL {
        assert_eq!(
            serde_json::to_value(projection).unwrap(),
            json!(projection.name())
        );
        assert_eq!(
            ProjectionName::from_name(projection.name()),
            Some(projection)
        );
        assert_eq!(projection.name().parse::<ProjectionName>(), Ok(projection));
        assert_eq!(projection.to_string(), projection.name());
    }
    assert_eq!(ProjectionName::from_name("Orders"), None);
    assert!("nope".parse::<ProjectionName>().is_err());
    let names: Vec<_> = ProjectionName::ALL.iter().map(|p| p.name()).collect();
    assert_eq!(
        names,
        [
            "orders",
            "customers",
            "products",
            "dashboard",
            "activity",
            "users"
        ]
    );
}

#[test]
fn the_wire_format_is_unchanged_for_existing_clients() {
    let id = uuid(0xA);
    let c = change(ProjectionName::Orders, &[Order::stream_id(id)]);
    assert_eq!(
        serde_json::to_value(&c).unwrap(),
        json!({ "projection": "orders", "position": 7, "streams": [format!("order-{id}")] })
    );
    // A change from a server that still sent order summaries is read (the extra field ignored).
    let old: Change = serde_json::from_value(json!({
        "projection": "orders", "position": 7, "streams": [], "orders": [{ "whatever": 1 }]
    }))
    .unwrap();
    assert_eq!(old.projection, ProjectionName::Orders);

    let subscribe: ClientMessage = serde_json::from_value(json!({
        "type": "subscribe",
        "topics": [
            { "topic": "orders" }, { "topic": "dashboard" }, { "topic": "projections" },
            { "topic": "relay" }, { "topic": "order", "id": id },
            { "topic": "stream", "id": "product-x" },
            { "topic": "products" }, { "topic": "customers" }, { "topic": "activity" }
        ],
        "since": null
    }))
    .unwrap();
    assert_eq!(
        subscribe,
        ClientMessage::Subscribe {
            topics: vec![
                Topic::Orders,
                Topic::Dashboard,
                Topic::Projections,
                Topic::Relay,
                Topic::Order { id },
                Topic::Stream {
                    id: "product-x".into()
                },
                Topic::Products,
                Topic::Customers,
                Topic::Activity,
            ],
            since: None,
            resume: None,
        }
    );
}

#[test]
fn aggregates_build_the_stream_ids_stream_id_parses() {
    let id = uuid(0x0193_0000_0000_7000_8000_0000_0000_0001);
    for (stream, kind) in [
        (Order::stream_id(id), StreamKind::Order),
        (Customer::stream_id(id), StreamKind::Customer),
        (Product::stream_id(id), StreamKind::Product),
    ] {
        let parsed = StreamId::parse(&stream);
        assert_eq!(parsed, Some(StreamId::new(kind, id)), "{stream}");
        assert_eq!(parsed.map(|p| p.to_string()), Some(stream));
    }
    assert_eq!(StreamKind::Order.as_str(), Order::STREAM_TYPE);
    assert_eq!(StreamKind::Customer.as_str(), Customer::STREAM_TYPE);
    assert_eq!(StreamKind::Product.as_str(), Product::STREAM_TYPE);
}

// ----- properties -----

fn projection() -> impl Strategy<Value = ProjectionName> {
    prop::sample::select(ProjectionName::ALL.to_vec())
}

fn kind() -> impl Strategy<Value = StreamKind> {
    prop::sample::select(StreamKind::ALL.to_vec())
}

/// Stream ids from a small pool, so that topics and changes often share one; now and then
/// something that is not a stream id of ours.
fn stream() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (kind(), 0u128..4).prop_map(|(k, n)| StreamId::new(k, uuid(n)).to_string()),
        1 => "[a-z]{0,8}-?[0-9a-f-]{0,12}",
    ]
}

fn any_change() -> impl Strategy<Value = Change> {
    (
        projection(),
        prop::collection::vec(stream(), 0..5),
        0i64..1000,
    )
        .prop_map(|(projection, streams, position)| Change {
            projection,
            position,
            streams,
        })
}

fn topic() -> impl Strategy<Value = Topic> {
    prop_oneof![
        projection().prop_map(Topic::of),
        (0u128..4).prop_map(|n| Topic::Order { id: uuid(n) }),
        stream().prop_map(|id| Topic::Stream { id }),
        Just(Topic::Projections),
        Just(Topic::Relay),
    ]
}

/// A stream id of ours, or one edited slightly (upper case, a character dropped or added, another
/// separator or prefix), with whether it is still a valid stream id.
fn near_stream_id() -> impl Strategy<Value = (String, bool)> {
    (
        kind(),
        any::<u128>(),
        0usize..6,
        any::<prop::sample::Index>(),
    )
        .prop_map(|(k, n, edit, at)| {
            let mut s = StreamId::new(k, uuid(n)).to_string();
            let i = at.index(s.len());
            match edit {
                0 => return (s, true),
                1 => s = s.to_uppercase(),
                2 => {
                    s.remove(i);
                }
                3 => s.insert(i, '0'),
                4 => s = s.replacen('-', "_", 1),
                _ => s = format!("x{s}"),
            }
            (s, false)
        })
}

proptest! {
    #[test]
    fn a_read_model_topic_covers_a_change_iff_it_is_that_read_models(
        p in projection(),
        c in any_change(),
    ) {
        prop_assert_eq!(Topic::of(p).covers(&c), c.projection == p);
    }

    #[test]
    fn the_order_topic_is_the_orders_topic_narrowed_to_the_order_stream(
        n in 0u128..4,
        c in any_change(),
    ) {
        let id = uuid(n);
        let narrowed = Topic::Orders.covers(&c)
            && (Topic::Stream { id: Order::stream_id(id) }).covers(&c);
        prop_assert_eq!((Topic::Order { id }).covers(&c), narrowed);
    }

    #[test]
    fn a_stream_topic_covers_exactly_the_changes_touching_its_stream(
        s in stream(),
        c in any_change(),
    ) {
        prop_assert_eq!((Topic::Stream { id: s.clone() }).covers(&c), c.streams.contains(&s));
    }

    #[test]
    fn covers_survives_the_wire(t in topic(), c in any_change()) {
        let t2: Topic = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        let c2: Change = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        prop_assert_eq!(&t2, &t);
        prop_assert_eq!(&c2, &c);
        prop_assert_eq!(t2.covers(&c2), t.covers(&c));
    }

    #[test]
    fn a_stream_id_parses_iff_it_is_what_display_writes((s, valid) in near_stream_id()) {
        let parsed = StreamId::parse(&s);
        prop_assert_eq!(parsed.is_some(), valid, "{:?}", s);
        if let Some(parsed) = parsed {
            prop_assert_eq!(parsed.to_string(), s.clone());
        }
        // The per-aggregate parser agrees with the general one.
        let as_order = parsed
            .filter(|p| p.kind() == StreamKind::Order)
            .map(|p| p.id());
        prop_assert_eq!(parse_stream_id::<Order>(&s), as_order);
    }
}
