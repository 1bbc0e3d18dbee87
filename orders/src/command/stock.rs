//! The order commands that move stock: confirming reserves every line's units, cancelling a
//! confirmed order releases them, shipping takes them off the shelf. The order's event and
//! every product's event are ONE atomic multi-stream append, each product stream at the version
//! its stock was read at (why a multi-stream append here: see `domain::stock`). A product that
//! moved meanwhile (another order took units) fails the append as a whole; the command is
//! decided again on the new stock, so available never goes below zero on any number of
//! instances. In one process the product streams are also locked (in product id order, after
//! the order's own lock), so racing confirmations queue instead of retrying.

use async_trait::async_trait;
use domain::order::{Order, OrderEvent, OrderState, OrderStatus};
use domain::product::{Product, ProductState};
use domain::{Aggregate as _, OrderId, ProductId};
use uuid::Uuid;

use crate::command::error::CommandResult;
use crate::command::plan::{CommandPlan, Linked, Plan};
use crate::command::service::CommandService;

/// What an order event does to stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    Reserve,
    Release,
    Ship,
}

/// The stock plan of the order commands (see the module doc).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct StockPlan;

#[async_trait]
impl CommandPlan<Order> for StockPlan {
    async fn plan(
        &self,
        service: &CommandService,
        id: Uuid,
        state: &OrderState,
        events: &[OrderEvent],
    ) -> CommandResult<Plan> {
        let movement = events.iter().find_map(|e| match e {
            OrderEvent::Confirmed(_) => Some(Move::Reserve),
            OrderEvent::Cancelled(_) => Some(Move::Release),
            OrderEvent::Shipped(_) => Some(Move::Ship),
            _ => None,
        });
        let Some(movement) = movement else {
            return Ok(Plan::default());
        };
        // Only a confirmed order holds reservations to give back.
        if movement == Move::Release && state.status != OrderStatus::Confirmed {
            return Ok(Plan::default());
        }
        let mut product_ids: Vec<ProductId> = state.lines.iter().map(|l| l.product_id).collect();
        product_ids.sort_by_key(|p| p.as_uuid());
        product_ids.dedup();
        let mut products = Vec::with_capacity(product_ids.len());
        for product_id in product_ids {
            let stream = Product::stream_id(product_id.as_uuid());
            let guard = if service.config().serialize_per_stream {
                Some(service.inner.locks.lock(&stream).await)
            } else {
                None
            };
            let loaded = service.load::<Product>(product_id.as_uuid()).await?;
            products.push((product_id, loaded, guard));
        }
        let states: Vec<(ProductId, ProductState)> = products
            .iter()
            .map(|(id, loaded, _)| (*id, loaded.state.clone()))
            .collect();
        let order_id = OrderId::new(id);
        let decided = match movement {
            Move::Reserve => domain::stock::reserve(order_id, state, &states)?,
            Move::Release => domain::stock::release(order_id, &states),
            Move::Ship => domain::stock::ship(order_id, &states),
        };
        let mut linked = Vec::with_capacity(decided.len());
        for (product_id, product_events) in decided {
            // Already reserved for this order: a twin request confirmed it meanwhile (the
            // order's own version then fails the append, and the retry finds the twin).
            if product_events.is_empty() {
                continue;
            }
            let Some(slot) = products.iter_mut().find(|(id, _, _)| *id == product_id) else {
                continue;
            };
            linked.push(Linked::of::<Product>(
                product_id.as_uuid(),
                slot.1.version,
                slot.1.state.clone(),
                &product_events,
                slot.2.take(),
            )?);
        }
        Ok(Plan {
            linked,
            ..Plan::default()
        })
    }
}
