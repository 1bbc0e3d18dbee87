//! Projections `customers` and `products`: one row per aggregate, as the lists show them.

use anyhow::Context as _;
use async_trait::async_trait;
use domain::aggregate::Aggregate as _;
use domain::customer::{Customer, CustomerEvent};
use domain::product::{Product, ProductEvent};
use eventstore::RecordedEvent;
use eventstore::projection::Projection;
use sqlx::AnyConnection;
use tracing::instrument;

use super::{CUSTOMERS, GenerationTable, PRODUCTS, at_us, decode};

/// The table of a `customers` generation.
const CUSTOMER_TABLES: &[GenerationTable] = &[GenerationTable {
    name: "rm_customers",
    key: "customer_id",
}];

/// The table of a `products` generation.
const PRODUCT_TABLES: &[GenerationTable] = &[GenerationTable {
    name: "rm_products",
    key: "product_id",
}];

/// Customers (table `rm_customers`).
#[derive(Debug, Clone, Copy, Default)]
pub struct CustomersProjection;

/// The product catalog (table `rm_products`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProductsProjection;

#[async_trait]
impl Projection for CustomersProjection {
    fn name(&self) -> &'static str {
        CUSTOMERS
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        event.stream_type == Customer::STREAM_TYPE
    }

    #[instrument(name = "projection.customers", skip_all, fields(generation = generation, position = event.position, event_type = %event.event_type))]
    async fn apply(
        &self,
        tx: &mut AnyConnection,
        generation: i64,
        event: &RecordedEvent,
    ) -> anyhow::Result<()> {
        let Some((customer_id, e)) = decode::<Customer>(event)? else {
            return Ok(());
        };
        let id = customer_id.to_string();
        let query = match &e {
            CustomerEvent::Registered(r) => sqlx::query(
                "insert into rm_customers (generation, customer_id, name, email, \
                 registered_at_us, version) values ($1, $2, $3, $4, $5, $6)",
            )
            .bind(generation)
            .bind(&id)
            .bind(r.name.as_str())
            .bind(r.email.as_str())
            .bind(at_us(event))
            .bind(event.version),
            CustomerEvent::Renamed(r) => sqlx::query(
                "update rm_customers set name = $3, version = $4 \
                 where generation = $1 and customer_id = $2",
            )
            .bind(generation)
            .bind(&id)
            .bind(r.name.as_str())
            .bind(event.version),
            CustomerEvent::EmailChanged(c) => sqlx::query(
                "update rm_customers set email = $3, version = $4 \
                 where generation = $1 and customer_id = $2",
            )
            .bind(generation)
            .bind(&id)
            .bind(c.email.as_str())
            .bind(event.version),
            CustomerEvent::Erased(_) => sqlx::query(
                "update rm_customers set name = $3, email = $3, version = $4 \
                 where generation = $1 and customer_id = $2",
            )
            .bind(generation)
            .bind(&id)
            .bind(domain::values::ERASED)
            .bind(event.version),
        };
        query
            .execute(&mut *tx)
            .await
            .with_context(|| format!("applying {} to customer {id}", event.event_type))?;
        Ok(())
    }

    async fn drop_generation(
        &self,
        conn: &mut AnyConnection,
        generation: i64,
    ) -> anyhow::Result<()> {
        super::drop_tables(conn, generation, CUSTOMER_TABLES).await
    }

    async fn drop_generation_chunk(
        &self,
        conn: &mut AnyConnection,
        generation: i64,
        limit: u64,
    ) -> anyhow::Result<u64> {
        super::drop_tables_chunk(conn, generation, CUSTOMER_TABLES, limit).await
    }
}

/// The statements of the stock events: `$1` generation, `$2` product, `$3` version, `$4` the
/// event's units.
const STOCK_RECEIVED: &str = "update rm_products set on_hand = on_hand + $4, version = $3 \
     where generation = $1 and product_id = $2";
const STOCK_CORRECTED: &str = "update rm_products set on_hand = $4, version = $3 \
     where generation = $1 and product_id = $2";
const STOCK_RESERVED: &str = "update rm_products set reserved = reserved + $4, version = $3 \
     where generation = $1 and product_id = $2";
const STOCK_RELEASED: &str = "update rm_products set reserved = reserved - $4, version = $3 \
     where generation = $1 and product_id = $2";
const STOCK_SHIPPED: &str = "update rm_products set reserved = reserved - $4, \
     on_hand = on_hand - $4, version = $3 where generation = $1 and product_id = $2";

/// One stock event's update (see the statements above).
fn stock<'q>(
    sql: &'static str,
    id: &'q str,
    generation: i64,
    event: &RecordedEvent,
    units: u32,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    sqlx::query(sql)
        .bind(generation)
        .bind(id)
        .bind(event.version)
        .bind(i64::from(units))
}

#[async_trait]
impl Projection for ProductsProjection {
    fn name(&self) -> &'static str {
        PRODUCTS
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        event.stream_type == Product::STREAM_TYPE
    }

    #[instrument(name = "projection.products", skip_all, fields(generation = generation, position = event.position, event_type = %event.event_type))]
    async fn apply(
        &self,
        tx: &mut AnyConnection,
        generation: i64,
        event: &RecordedEvent,
    ) -> anyhow::Result<()> {
        let Some((product_id, e)) = decode::<Product>(event)? else {
            return Ok(());
        };
        let id = product_id.to_string();
        let query = match &e {
            ProductEvent::Created(c) => sqlx::query(
                "insert into rm_products (generation, product_id, sku, name, price_cents, \
                 discontinued, on_hand, reserved, version) values ($1, $2, $3, $4, $5, 0, 0, 0, $6)",
            )
            .bind(generation)
            .bind(&id)
            .bind(c.sku.as_str())
            .bind(c.name.as_str())
            .bind(c.price.cents())
            .bind(event.version),
            ProductEvent::Repriced(r) => sqlx::query(
                "update rm_products set price_cents = $3, version = $4 \
                 where generation = $1 and product_id = $2",
            )
            .bind(generation)
            .bind(&id)
            .bind(r.price.cents())
            .bind(event.version),
            ProductEvent::Renamed(r) => sqlx::query(
                "update rm_products set name = $3, version = $4 \
                 where generation = $1 and product_id = $2",
            )
            .bind(generation)
            .bind(&id)
            .bind(r.name.as_str())
            .bind(event.version),
            ProductEvent::Discontinued(_) => sqlx::query(
                "update rm_products set discontinued = 1, version = $3 \
                 where generation = $1 and product_id = $2",
            )
            .bind(generation)
            .bind(&id)
            .bind(event.version),
            ProductEvent::StockReceived(r) => {
                stock(STOCK_RECEIVED, &id, generation, event, r.quantity.get())
            }
            ProductEvent::StockCorrected(c) => {
                stock(STOCK_CORRECTED, &id, generation, event, c.on_hand.get())
            }
            ProductEvent::StockReserved(r) => {
                stock(STOCK_RESERVED, &id, generation, event, r.quantity.get())
            }
            ProductEvent::StockReleased(r) => {
                stock(STOCK_RELEASED, &id, generation, event, r.quantity.get())
            }
            ProductEvent::StockShipped(r) => {
                stock(STOCK_SHIPPED, &id, generation, event, r.quantity.get())
            }
        };
        query
            .execute(&mut *tx)
            .await
            .with_context(|| format!("applying {} to product {id}", event.event_type))?;
        Ok(())
    }

    async fn drop_generation(
        &self,
        conn: &mut AnyConnection,
        generation: i64,
    ) -> anyhow::Result<()> {
        super::drop_tables(conn, generation, PRODUCT_TABLES).await
    }

    async fn drop_generation_chunk(
        &self,
        conn: &mut AnyConnection,
        generation: i64,
        limit: u64,
    ) -> anyhow::Result<u64> {
        super::drop_tables_chunk(conn, generation, PRODUCT_TABLES, limit).await
    }
}
