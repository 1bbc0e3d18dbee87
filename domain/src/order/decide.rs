//! The Order aggregate's rules: which commands are accepted in which state.

use crate::error::DomainError;
use crate::order::{
    ItemAdded, ItemQuantityChanged, ItemRemoved, OrderCancelled, OrderCommand, OrderConfirmed,
    OrderDelivered, OrderEvent, OrderPlaced, OrderShipped, OrderState, OrderStatus, evolve,
};
use crate::values::Money;

/// Most lines (distinct products) one order may have.
pub const MAX_LINES: usize = 100;

/// See [`crate::Aggregate::decide`].
pub(crate) fn decide(
    state: &OrderState,
    command: &OrderCommand,
) -> Result<Vec<OrderEvent>, DomainError> {
    if let OrderCommand::Place {
        order_id,
        customer_id,
        customer_name,
    } = command
    {
        if state.exists {
            return Err(DomainError::OrderAlreadyExists);
        }
        return Ok(vec![
            OrderPlaced {
                order_id: *order_id,
                customer_id: *customer_id,
                customer_name: customer_name.clone(),
            }
            .into(),
        ]);
    }

    if let OrderCommand::PlaceWithLines {
        order_id,
        customer_id,
        customer_name,
        lines,
    } = command
    {
        // The placement, then each line decided against the state the earlier events made:
        // every rule of `AddItem` holds for every line, and one refusal refuses them all.
        let place = OrderCommand::Place {
            order_id: *order_id,
            customer_id: *customer_id,
            customer_name: customer_name.clone(),
        };
        let mut events = decide(state, &place)?;
        let mut next = events.iter().fold(state.clone(), evolve::evolve);
        for line in lines {
            let added = decide(&next, &line.add_item())?;
            next = added.iter().fold(next, evolve::evolve);
            events.extend(added);
        }
        return Ok(events);
    }

    // Checks shared by every command on an existing order, in the order users find most
    // useful: a missing or finished order explains itself better than a status mismatch.
    if !state.exists {
        return Err(DomainError::OrderNotFound);
    }
    match state.status {
        OrderStatus::Cancelled => return Err(DomainError::OrderCancelled),
        OrderStatus::Delivered => return Err(DomainError::OrderDelivered),
        _ => {}
    }

    let event: OrderEvent = match command {
        // Handled above; repeated so the match stays exhaustive without a wildcard.
        OrderCommand::Place { .. } | OrderCommand::PlaceWithLines { .. } => {
            return Err(DomainError::OrderAlreadyExists);
        }
        OrderCommand::AddItem {
            product_id,
            sku,
            product_name,
            unit_price,
            quantity,
        } => {
            require_draft(state)?;
            if state.line(*product_id).is_some() {
                return Err(DomainError::ProductAlreadyInOrder {
                    product_id: *product_id,
                });
            }
            if state.lines.len() >= MAX_LINES {
                return Err(DomainError::TooManyOrderLines { max: MAX_LINES });
            }
            let total = unit_price
                .times(*quantity)
                .and_then(|line| state.total.checked_add(line))
                .map_err(|_| too_high())?;
            within_max_total(total)?;
            ItemAdded {
                product_id: *product_id,
                sku: sku.clone(),
                product_name: product_name.clone(),
                unit_price: *unit_price,
                quantity: *quantity,
            }
            .into()
        }
        OrderCommand::RemoveItem { product_id } => {
            require_draft(state)?;
            if state.line(*product_id).is_none() {
                return Err(DomainError::ProductNotInOrder {
                    product_id: *product_id,
                });
            }
            ItemRemoved {
                product_id: *product_id,
            }
            .into()
        }
        OrderCommand::ChangeQuantity {
            product_id,
            quantity,
        } => {
            require_draft(state)?;
            let line = state
                .line(*product_id)
                .ok_or(DomainError::ProductNotInOrder {
                    product_id: *product_id,
                })?;
            if line.quantity == *quantity {
                return Err(DomainError::QuantityUnchanged {
                    quantity: quantity.get(),
                });
            }
            // The new total is recomputed from the lines, so a larger quantity that would
            // overflow is rejected here and `evolve` never has to saturate.
            total_of(state.lines.iter().map(|l| {
                let q = if l.product_id == *product_id {
                    *quantity
                } else {
                    l.quantity
                };
                (l.unit_price, q)
            }))?;
            ItemQuantityChanged {
                product_id: *product_id,
                quantity: *quantity,
            }
            .into()
        }
        OrderCommand::Confirm => {
            require_draft(state)?;
            if state.lines.is_empty() {
                return Err(DomainError::OrderHasNoItems);
            }
            OrderConfirmed {
                total: state.total,
                // At most MAX_LINES lines, so this conversion cannot saturate.
                line_count: u32::try_from(state.lines.len()).unwrap_or(u32::MAX),
                item_count: state.item_count(),
            }
            .into()
        }
        OrderCommand::Ship {
            carrier,
            tracking_number,
        } => {
            if state.status != OrderStatus::Confirmed {
                return Err(DomainError::OrderNotConfirmed {
                    status: state.status,
                });
            }
            OrderShipped {
                carrier: carrier.clone(),
                tracking_number: tracking_number.clone(),
            }
            .into()
        }
        OrderCommand::MarkDelivered => {
            if state.status != OrderStatus::Shipped {
                return Err(DomainError::OrderNotShipped {
                    status: state.status,
                });
            }
            OrderDelivered {}.into()
        }
        // Terminal statuses were rejected above, so any remaining status may cancel.
        OrderCommand::Cancel { reason } => OrderCancelled {
            reason: reason.clone(),
            previous_status: state.status,
        }
        .into(),
    };
    Ok(vec![event])
}

fn require_draft(state: &OrderState) -> Result<(), DomainError> {
    if state.status == OrderStatus::Draft {
        Ok(())
    } else {
        Err(DomainError::OrderNotDraft {
            status: state.status,
        })
    }
}

/// Sum of `price * quantity` over lines, with every step checked, at most
/// [`Money::MAX_ORDER_TOTAL`].
fn total_of(
    lines: impl IntoIterator<Item = (Money, crate::values::Quantity)>,
) -> Result<Money, DomainError> {
    let total = lines
        .into_iter()
        .try_fold(Money::ZERO, |acc, (price, q)| {
            price.times(q).and_then(|line| acc.checked_add(line))
        })
        .map_err(|_| too_high())?;
    within_max_total(total)
}

/// The refusal of a total above [`Money::MAX_ORDER_TOTAL`].
fn too_high() -> DomainError {
    DomainError::OrderTotalTooHigh {
        max: Money::MAX_ORDER_TOTAL,
    }
}

/// `total` when it is at most [`Money::MAX_ORDER_TOTAL`]: the documented bound every order
/// total keeps (prices are bounded where they enter, but a line priced before that, or a price
/// given directly to the aggregate, must not make an order that breaks aggregate sums).
fn within_max_total(total: Money) -> Result<Money, DomainError> {
    if total > Money::MAX_ORDER_TOTAL {
        Err(too_high())
    } else {
        Ok(total)
    }
}
