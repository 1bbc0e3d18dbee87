//! Queries of the `products` read model (`rm_products`): the catalog by SKU, keyset-paged, and
//! one product.

use domain::requests::ListPage;
use domain::views::{Fresh, ProductPage, ProductView};
use eventstore::projection::LIVE_GENERATION;
use tracing::instrument;
use uuid::Uuid;

use super::cursor::KeyCursor;
use super::keyset::KeysetList;
use super::rows::Rows;
use super::service::page_limit;
use super::{QueryResult, QueryService};
use crate::projections::PRODUCTS;

const COLUMNS: &str =
    "product_id, sku, name, price_cents, discontinued, on_hand, reserved, version";

/// The catalog: by SKU.
const LIST: KeysetList = KeysetList {
    projection: PRODUCTS,
    tag: "p",
    table: "rm_products",
    columns: COLUMNS,
    key: "sku",
    id: "product_id",
};

impl QueryService {
    /// A page of the catalog, by SKU.
    #[instrument(name = "query.products", skip(self), err)]
    pub async fn products(
        &self,
        page: &ListPage,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<ProductPage>> {
        let fresh = self
            .keyset_page(&LIST, page, min_position, |p: &ProductView| KeyCursor {
                key: p.sku.clone(),
                id: p.product_id,
            })
            .await?;
        let (products, next_cursor) = fresh.data;
        Ok(Fresh {
            data: ProductPage {
                products,
                next_cursor,
            },
            position: fresh.position,
            stale: fresh.stale,
        })
    }

    /// The products on sale with at most `threshold` units available, least first (at most
    /// `limit`, bounded like every list): the dashboard's low-stock list.
    #[instrument(name = "query.low_stock", skip(self), err)]
    pub async fn low_stock(
        &self,
        threshold: i64,
        limit: u32,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<Vec<ProductView>>> {
        let (position, stale) = self.freshness(PRODUCTS, min_position).await?;
        let sql = format!(
            "select {COLUMNS} from rm_products where generation = {LIVE_GENERATION} \
             and discontinued = 0 and on_hand - reserved <= $2 \
             order by on_hand - reserved, sku, product_id limit $3"
        );
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&sql)
            .bind(PRODUCTS)
            .bind(threshold)
            .bind(i64::from(page_limit(Some(limit))))
            .fetch_all(&mut *conn)
            .await?;
        Ok(Fresh {
            data: Rows::decode(PRODUCTS, &rows)?,
            position,
            stale,
        })
    }

    /// One product.
    #[instrument(name = "query.get_product", skip(self), err)]
    pub async fn get_product(
        &self,
        product_id: Uuid,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<ProductView>> {
        self.one_of(&LIST, "product", product_id, min_position)
            .await
    }
}
