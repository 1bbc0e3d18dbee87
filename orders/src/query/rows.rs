//! Reading read-model rows back into the view types, with typed errors instead of panics.

use chrono::{DateTime, Utc};
use domain::order::OrderStatus;
use domain::views::{
    ActivityEntry, CustomerView, OrderLineView, OrderSummary, ProductView, UserView,
};
use sqlx::Row as _;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{QueryError, QueryResult};

pub(crate) fn corrupt(projection: &'static str, reason: impl std::fmt::Display) -> QueryError {
    QueryError::Corrupt {
        projection,
        reason: reason.to_string(),
    }
}

pub(crate) fn parse_uuid(projection: &'static str, s: &str) -> QueryResult<Uuid> {
    Uuid::parse_str(s).map_err(|e| corrupt(projection, format!("id {s:?}: {e}")))
}

fn time(projection: &'static str, us: i64) -> QueryResult<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| corrupt(projection, format!("time {us}")))
}

fn get<'r, T>(row: &'r AnyRow, projection: &'static str, column: &str) -> QueryResult<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(column)
        .map_err(|e| corrupt(projection, format!("column {column}: {e}")))
}

fn uuid_col(row: &AnyRow, projection: &'static str, column: &str) -> QueryResult<Uuid> {
    let s: String = get(row, projection, column)?;
    parse_uuid(projection, &s)
}

/// A view type read from one row.
pub(crate) trait FromAnyRow: Sized {
    fn from_row(projection: &'static str, row: &AnyRow) -> QueryResult<Self>;
}

/// Decodes every row.
pub(crate) struct Rows;

impl Rows {
    pub(crate) fn decode<T: FromAnyRow>(
        projection: &'static str,
        rows: &[AnyRow],
    ) -> QueryResult<Vec<T>> {
        rows.iter().map(|r| T::from_row(projection, r)).collect()
    }
}

impl FromAnyRow for OrderSummary {
    fn from_row(p: &'static str, row: &AnyRow) -> QueryResult<Self> {
        let status: String = get(row, p, "status")?;
        Ok(Self {
            order_id: uuid_col(row, p, "order_id")?,
            customer_id: uuid_col(row, p, "customer_id")?,
            customer_name: get(row, p, "customer_name")?,
            status: status.parse::<OrderStatus>().map_err(|e| corrupt(p, e))?,
            item_count: get(row, p, "item_count")?,
            total_cents: get(row, p, "total_cents")?,
            created_at: time(p, get(row, p, "created_at_us")?)?,
            updated_at: time(p, get(row, p, "updated_at_us")?)?,
            version: get(row, p, "version")?,
        })
    }
}

/// carrier, tracking number, cancel reason of an order row.
pub(crate) fn detail_extras(
    p: &'static str,
    row: &AnyRow,
) -> QueryResult<(Option<String>, Option<String>, Option<String>)> {
    Ok((
        get(row, p, "carrier")?,
        get(row, p, "tracking_number")?,
        get(row, p, "cancel_reason")?,
    ))
}

impl FromAnyRow for OrderLineView {
    fn from_row(p: &'static str, row: &AnyRow) -> QueryResult<Self> {
        let unit_price_cents: i64 = get(row, p, "unit_price_cents")?;
        let quantity: i64 = get(row, p, "quantity")?;
        Ok(Self {
            product_id: uuid_col(row, p, "product_id")?,
            sku: get(row, p, "sku")?,
            product_name: get(row, p, "product_name")?,
            unit_price_cents,
            quantity,
            line_total_cents: unit_price_cents.saturating_mul(quantity),
        })
    }
}

impl FromAnyRow for CustomerView {
    fn from_row(p: &'static str, row: &AnyRow) -> QueryResult<Self> {
        Ok(Self {
            customer_id: uuid_col(row, p, "customer_id")?,
            name: get(row, p, "name")?,
            email: get(row, p, "email")?,
            registered_at: time(p, get(row, p, "registered_at_us")?)?,
            version: get(row, p, "version")?,
        })
    }
}

impl FromAnyRow for ProductView {
    fn from_row(p: &'static str, row: &AnyRow) -> QueryResult<Self> {
        let discontinued: i64 = get(row, p, "discontinued")?;
        let on_hand: i64 = get(row, p, "on_hand")?;
        let reserved: i64 = get(row, p, "reserved")?;
        Ok(Self {
            product_id: uuid_col(row, p, "product_id")?,
            sku: get(row, p, "sku")?,
            name: get(row, p, "name")?,
            price_cents: get(row, p, "price_cents")?,
            discontinued: discontinued != 0,
            on_hand,
            reserved,
            available: on_hand - reserved,
            version: get(row, p, "version")?,
        })
    }
}

impl FromAnyRow for UserView {
    fn from_row(p: &'static str, row: &AnyRow) -> QueryResult<Self> {
        let role: String = get(row, p, "role")?;
        let disabled: i64 = get(row, p, "disabled")?;
        let customer_id: Option<String> = get(row, p, "customer_id")?;
        Ok(Self {
            account_id: uuid_col(row, p, "account_id")?,
            username: get(row, p, "username")?,
            display_name: get(row, p, "display_name")?,
            role: role.parse().map_err(|e| corrupt(p, e))?,
            customer_id: customer_id.map(|c| parse_uuid(p, &c)).transpose()?,
            disabled: disabled != 0,
            tokens: get(row, p, "tokens")?,
            opened_at: time(p, get(row, p, "opened_at_us")?)?,
            version: get(row, p, "version")?,
        })
    }
}

impl FromAnyRow for ActivityEntry {
    fn from_row(p: &'static str, row: &AnyRow) -> QueryResult<Self> {
        Ok(Self {
            position: get(row, p, "position")?,
            event_id: uuid_col(row, p, "event_id")?,
            stream_id: get(row, p, "stream_id")?,
            event_type: get(row, p, "event_type")?,
            text: get(row, p, "text")?,
            at: time(p, get(row, p, "at_us")?)?,
        })
    }
}
