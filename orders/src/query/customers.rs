//! Queries of the `customers` read model (`rm_customers`): the customer list by name,
//! keyset-paged, and one customer.

use domain::requests::ListPage;
use domain::views::{CustomerPage, CustomerView, Fresh};
use tracing::instrument;
use uuid::Uuid;

use super::cursor::KeyCursor;
use super::keyset::KeysetList;
use super::{QueryResult, QueryService};
use crate::projections::CUSTOMERS;

const COLUMNS: &str = "customer_id, name, email, registered_at_us, version";

/// The customer list: by name.
const LIST: KeysetList = KeysetList {
    projection: CUSTOMERS,
    tag: "c",
    table: "rm_customers",
    columns: COLUMNS,
    key: "name",
    id: "customer_id",
};

impl QueryService {
    /// A page of customers, by name.
    #[instrument(name = "query.customers", skip(self), err)]
    pub async fn customers(
        &self,
        page: &ListPage,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<CustomerPage>> {
        let fresh = self
            .keyset_page(&LIST, page, min_position, |c: &CustomerView| KeyCursor {
                key: c.name.clone(),
                id: c.customer_id,
            })
            .await?;
        let (customers, next_cursor) = fresh.data;
        Ok(Fresh {
            data: CustomerPage {
                customers,
                next_cursor,
            },
            position: fresh.position,
            stale: fresh.stale,
        })
    }

    /// An empty page, as fresh as a real one would be: the list of a customer who has no
    /// customer record (yet).
    pub async fn no_customers(
        &self,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<CustomerPage>> {
        let (position, stale) = self.freshness(CUSTOMERS, min_position).await?;
        Ok(Fresh {
            data: CustomerPage::default(),
            position,
            stale,
        })
    }

    /// One customer.
    #[instrument(name = "query.get_customer", skip(self), err)]
    pub async fn get_customer(
        &self,
        customer_id: Uuid,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<CustomerView>> {
        self.one_of(&LIST, "customer", customer_id, min_position)
            .await
    }
}
