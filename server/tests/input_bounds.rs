//! Inputs that used to break things for everyone, over REST on both backends:
//!
//! * prices above `Money::MAX_PRICE` are refused with `price_too_high` (they once let one order
//!   overflow the dashboard's revenue sum: 500 for everyone);
//! * orders stored before that bound and the maximum order total (totals near `i64::MAX`) no
//!   longer break the dashboard; the domain refuses such an order today;
//! * text PostgreSQL cannot store (NUL) is refused with `invalid_text`, not a 500 on PostgreSQL
//!   and a 200 on SQLite.

mod common;

use common::{TestApp, error_code, test_config};
use domain::DomainEvent as _;
use domain::order::{ItemAdded, OrderConfirmed, OrderEvent, OrderPlaced};
use domain::values::{CustomerName, Email, Money, ProductName, Quantity, Sku};
use domain::{CustomerId, OrderId, ProductId};
use eventstore::testing::TestDb;
use eventstore::{Db, EventMetadata, EventStore as _, ExpectedVersion, NewEvent, SqlEventStore};
use orders::command::{CommandConfig, CommandContext, CommandService};
use reqwest::StatusCode;
use serde_json::json;

/// The app, the database URL it uses, and the PostgreSQL test database if any.
async fn spawn(postgres: bool) -> (TestApp, String, Option<TestDb>) {
    let mut config = test_config();
    if postgres {
        let test_db = TestDb::postgres()
            .await
            .expect("PostgreSQL for tests (set EVENTIDE_TEST_PG_URL)");
        let url = test_db.db().url().to_owned();
        config.database_url = Some(url.clone());
        (TestApp::spawn_with(config).await, url, Some(test_db))
    } else {
        let url = config.resolved_database_url();
        (TestApp::spawn_with(config).await, url, None)
    }
}

async fn finish(app: TestApp, test_db: Option<TestDb>) {
    app.stop().await;
    if let Some(db) = test_db {
        db.cleanup().await;
    }
}

async fn prices_are_bounded(postgres: bool) {
    let (app, _, test_db) = spawn(postgres).await;
    let max = Money::MAX_PRICE.cents();
    for cents in [max + 1, i64::MAX] {
        let (status, body) = app
            .post(
                "/api/products",
                json!({ "sku": "HUGE-1", "name": "Huge", "price_cents": cents }),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{cents}: {body}");
        assert_eq!(error_code(&body), "price_too_high", "{body}");
    }
    // Nothing was written.
    assert_eq!(app.event_total().await, 0);
    let product = app.product("MAX-1", max).await;
    let (status, body) = app
        .post(
            &format!("/api/products/{product}/reprice"),
            json!({ "price_cents": max + 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(error_code(&body), "price_too_high", "{body}");
    // The product and its initial stock, nothing of the refused reprice.
    assert_eq!(app.event_total().await, 2);
    finish(app, test_db).await;
}

#[tokio::test]
async fn sqlite_prices_above_the_maximum_are_400() {
    prices_are_bounded(false).await;
}

#[tokio::test]
async fn postgres_prices_above_the_maximum_are_400() {
    prices_are_bounded(true).await;
}

fn v<T, E: std::fmt::Debug>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("test value: {e:?}"))
}

/// A confirmed one-line order of `product` at `unit_price`, appended as events the way it was
/// stored before order totals were bounded (the domain refuses it now).
async fn append_legacy_order(
    store: &SqlEventStore,
    customer: CustomerId,
    product: ProductId,
    unit_price: Money,
) -> i64 {
    let order_id = OrderId::new(uuid::Uuid::now_v7());
    let events: Vec<OrderEvent> = vec![
        OrderPlaced {
            order_id,
            customer_id: customer,
            customer_name: v(CustomerName::parse("Old Spender")),
        }
        .into(),
        ItemAdded {
            product_id: product,
            sku: v(Sku::parse("LEGACY-1")),
            product_name: v(ProductName::parse("Legacy")),
            unit_price,
            quantity: v(Quantity::new(1)),
        }
        .into(),
        OrderConfirmed {
            total: unit_price,
            line_count: 1,
            item_count: 1,
        }
        .into(),
    ];
    let events = events
        .iter()
        .map(|e| {
            NewEvent::new(
                e.event_type(),
                e.schema_version(),
                e.to_data(),
                EventMetadata::default(),
            )
        })
        .collect();
    v(store
        .append(
            &format!("order-{order_id}"),
            "order",
            ExpectedVersion::NoStream,
            events,
        )
        .await)
    .last_position
}

/// Orders written before prices and order totals were bounded (a product priced through the
/// command service, which takes any `Money`; the orders as stored events, since the domain
/// refuses them now) whose totals together pass `i64::MAX`: the dashboard still answers.
async fn old_huge_orders_do_not_break_the_dashboard(postgres: bool) {
    let (app, url, test_db) = spawn(postgres).await;
    let db = v(Db::connect(&url).await);
    let store = v(SqlEventStore::open(db, orders::command::upcaster_registry()).await);
    let c = CommandService::new(store.clone(), CommandConfig::default());
    let ctx = CommandContext::new();
    let customer = CustomerId::new(
        v(c.register_customer(
            None,
            v(CustomerName::parse("Old Spender")),
            v(Email::parse("old@example.com")),
            &ctx,
        )
        .await)
        .id,
    );
    let legacy = ProductId::new(
        v(c.create_product(
            None,
            orders::command::NewProduct::new(
                v(Sku::parse("LEGACY-1")),
                v(ProductName::parse("Legacy")),
                v(Money::from_cents(i64::MAX / 4)),
            )
            .with_stock(domain::values::StockUnits::new(1_000_000).expect("stock")),
            &ctx,
        )
        .await)
        .id,
    );
    // Over REST: adding it to an order exceeds the maximum order total, a 4xx naming it.
    let (order, _) = app.order().await;
    let (status, body) = app
        .post(
            &format!("/api/orders/{order}/items"),
            json!({ "product_id": legacy, "quantity": 1 }),
        )
        .await;
    assert!(status.is_client_error(), "{status}: {body}");
    assert_eq!(error_code(&body), "order_total_too_high", "{body}");
    let lines = [(legacy, v(Quantity::new(1)))];
    let refused = c.place_order_with_lines(None, customer, &lines, &ctx).await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("order total can be at most")),
        "{refused:?}"
    );
    let mut position = 0;
    for _ in 0..6 {
        position =
            append_legacy_order(&store, customer, legacy, v(Money::from_cents(i64::MAX / 4))).await;
    }
    store.shutdown().await;

    let (status, body) = app
        .get_json(&format!("/api/dashboard?min_position={position}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["revenue_cents"], i64::MAX, "{body}");
    assert_eq!(body["data"]["average_order_cents"], i64::MAX / 4, "{body}");
    let (status, body) = app.get_json("/ready").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    finish(app, test_db).await;
}

#[tokio::test]
async fn sqlite_old_huge_orders_do_not_break_the_dashboard() {
    old_huge_orders_do_not_break_the_dashboard(false).await;
}

#[tokio::test]
async fn postgres_old_huge_orders_do_not_break_the_dashboard() {
    old_huge_orders_do_not_break_the_dashboard(true).await;
}

async fn nul_text_is_400(postgres: bool) {
    let (app, _, test_db) = spawn(postgres).await;
    let (order, _) = app.order().await;
    for path in [
        "/api/streams?prefix=%00".to_owned(),
        "/api/streams?prefix=order-%00".to_owned(),
        "/api/streams?type=%00".to_owned(),
        "/api/streams?after=order-%00".to_owned(),
        "/api/streams/order-%00/events".to_owned(),
        format!("/api/streams/order-{order}%00/events"),
    ] {
        let (status, body) = app.get_json(&path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(error_code(&body), "invalid_text", "{path}: {body}");
    }
    // Text inputs of commands: their value types refuse control characters (NUL included).
    let (status, body) = app
        .post(
            "/api/customers",
            json!({ "name": "Nul\u{0}Person", "email": "nul@example.com" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/orders/{order}/cancel"),
            json!({ "reason": "because\u{0}" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // The browser still works.
    let (status, body) = app.get_json("/api/streams?prefix=order-").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    finish(app, test_db).await;
}

#[tokio::test]
async fn sqlite_nul_text_is_400() {
    nul_text_is_400(false).await;
}

#[tokio::test]
async fn postgres_nul_text_is_400() {
    nul_text_is_400(true).await;
}
