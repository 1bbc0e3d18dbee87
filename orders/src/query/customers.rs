//! Queries of the `customers` read model (`rm_customers`): the customer list by name, and one
//! customer.

use domain::views::{CustomerView, Fresh};
use eventstore::projection::LIVE_GENERATION;
use tracing::instrument;
use uuid::Uuid;

use super::rows::Rows;
use super::service::single;
use super::{QueryResult, QueryService};
use crate::projections::CUSTOMERS;

impl QueryService {
    /// Every customer, by name.
    #[instrument(name = "query.customers", skip(self), err)]
    pub async fn customers(
        &self,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<Vec<CustomerView>>> {
        self.customers_where(None, min_position).await
    }

    /// One customer.
    #[instrument(name = "query.get_customer", skip(self), err)]
    pub async fn get_customer(
        &self,
        customer_id: Uuid,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<CustomerView>> {
        let fresh = self
            .customers_where(Some(customer_id), min_position)
            .await?;
        single(fresh, "customer", customer_id)
    }

    async fn customers_where(
        &self,
        id: Option<Uuid>,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<Vec<CustomerView>>> {
        let (position, stale) = self.freshness(CUSTOMERS, min_position).await?;
        let sql = format!(
            "select customer_id, name, email, registered_at_us, version from rm_customers \
             where generation = {LIVE_GENERATION} and ($2 is null or customer_id = $2) \
             order by name, customer_id"
        );
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&sql)
            .bind(CUSTOMERS)
            .bind(id.map(|i| i.to_string()))
            .fetch_all(&mut *conn)
            .await?;
        Ok(Fresh {
            data: Rows::decode(CUSTOMERS, &rows)?,
            position,
            stale,
        })
    }
}
