//! Queries of the `products` read model (`rm_products`): the catalog by SKU, and one product.

use domain::views::{Fresh, ProductView};
use eventstore::projection::LIVE_GENERATION;
use tracing::instrument;
use uuid::Uuid;

use super::rows::Rows;
use super::service::single;
use super::{QueryResult, QueryService};
use crate::projections::PRODUCTS;

impl QueryService {
    /// The catalog, by SKU.
    #[instrument(name = "query.products", skip(self), err)]
    pub async fn products(
        &self,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<Vec<ProductView>>> {
        self.products_where(None, min_position).await
    }

    /// One product.
    #[instrument(name = "query.get_product", skip(self), err)]
    pub async fn get_product(
        &self,
        product_id: Uuid,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<ProductView>> {
        let fresh = self.products_where(Some(product_id), min_position).await?;
        single(fresh, "product", product_id)
    }

    async fn products_where(
        &self,
        id: Option<Uuid>,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<Vec<ProductView>>> {
        let (position, stale) = self.freshness(PRODUCTS, min_position).await?;
        let sql = format!(
            "select product_id, sku, name, price_cents, discontinued, version from rm_products \
             where generation = {LIVE_GENERATION} and ($2 is null or product_id = $2) \
             order by sku, product_id"
        );
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&sql)
            .bind(PRODUCTS)
            .bind(id.map(|i| i.to_string()))
            .fetch_all(&mut *conn)
            .await?;
        Ok(Fresh {
            data: Rows::decode(PRODUCTS, &rows)?,
            position,
            stale,
        })
    }
}
