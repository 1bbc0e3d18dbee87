//! The Product aggregate's rules.

use crate::error::DomainError;
use crate::product::{
    ProductCommand, ProductCreated, ProductDiscontinued, ProductEvent, ProductRenamed,
    ProductRepriced, ProductState, StockCorrected, StockReceived, StockReleased, StockReserved,
    StockShipped,
};
use crate::stock::StockShortage;
use crate::values::StockUnits;

/// See [`crate::Aggregate::decide`].
pub(crate) fn decide(
    state: &ProductState,
    command: &ProductCommand,
) -> Result<Vec<ProductEvent>, DomainError> {
    if let ProductCommand::Create {
        product_id,
        sku,
        name,
        price,
        initial_stock,
    } = command
    {
        if state.exists {
            return Err(DomainError::ProductAlreadyExists);
        }
        let mut events: Vec<ProductEvent> = vec![
            ProductCreated {
                product_id: *product_id,
                sku: sku.clone(),
                name: name.clone(),
                price: *price,
            }
            .into(),
        ];
        if initial_stock.get() > 0 {
            events.push(
                StockReceived {
                    quantity: *initial_stock,
                }
                .into(),
            );
        }
        return Ok(events);
    }
    if !state.exists {
        return Err(DomainError::ProductNotFound);
    }
    // Orders keep moving stock of a discontinued product (they were confirmed while it was on
    // sale), and a count can still be corrected; only new stock is refused.
    if let Some(events) = decide_stock(state, command)? {
        return Ok(events);
    }
    if state.discontinued {
        return Err(DomainError::ProductDiscontinued);
    }
    let event: ProductEvent = match command {
        // Handled above; repeated so the match stays exhaustive without a wildcard.
        ProductCommand::Create { .. } => return Err(DomainError::ProductAlreadyExists),
        ProductCommand::Reprice { price } => {
            if *price == state.price {
                return Err(DomainError::ProductPriceUnchanged);
            }
            ProductRepriced {
                price: *price,
                previous_price: state.price,
            }
            .into()
        }
        // Same-name renames are rejected like same-price reprices: an event must change
        // something.
        ProductCommand::Rename { name } => {
            if state.name.as_ref() == Some(name) {
                return Err(DomainError::ProductNameUnchanged);
            }
            ProductRenamed { name: name.clone() }.into()
        }
        ProductCommand::Discontinue => ProductDiscontinued {}.into(),
        ProductCommand::ReceiveStock { quantity } => {
            if quantity.get() == 0 {
                return Err(DomainError::StockReceiptEmpty);
            }
            if StockUnits::new(state.on_hand.saturating_add(quantity.get())).is_err() {
                return Err(DomainError::StockTooHigh);
            }
            StockReceived {
                quantity: *quantity,
            }
            .into()
        }
        // Decided by `decide_stock` above.
        ProductCommand::CorrectStock { .. }
        | ProductCommand::Reserve { .. }
        | ProductCommand::Release { .. }
        | ProductCommand::Ship { .. } => return Ok(Vec::new()),
    };
    Ok(vec![event])
}

/// The stock commands that hold for discontinued products too; `None` for the others.
fn decide_stock(
    state: &ProductState,
    command: &ProductCommand,
) -> Result<Option<Vec<ProductEvent>>, DomainError> {
    let events: Vec<ProductEvent> = match command {
        ProductCommand::CorrectStock { on_hand, reason } => {
            if on_hand.get() == state.on_hand {
                return Err(DomainError::StockUnchanged {
                    on_hand: state.on_hand,
                });
            }
            if on_hand.get() < state.reserved {
                return Err(DomainError::StockBelowReserved {
                    reserved: state.reserved,
                });
            }
            let previous = StockUnits::new(state.on_hand).unwrap_or(StockUnits::ZERO);
            vec![
                StockCorrected {
                    on_hand: *on_hand,
                    previous,
                    reason: reason.clone(),
                }
                .into(),
            ]
        }
        ProductCommand::Reserve { order_id, quantity } => {
            // One reservation per order: confirming twice reserves once.
            if state.reservations.contains_key(order_id) {
                return Ok(Some(Vec::new()));
            }
            if quantity.get() > state.available() {
                return Err(DomainError::InsufficientStock {
                    shortages: vec![StockShortage {
                        product_id: state.product_id,
                        sku: state
                            .sku
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default(),
                        requested: quantity.get(),
                        available: state.available(),
                    }],
                });
            }
            vec![
                StockReserved {
                    order_id: *order_id,
                    quantity: *quantity,
                }
                .into(),
            ]
        }
        // An order confirmed before stock was kept has no reservation: nothing to give back
        // or to ship.
        ProductCommand::Release { order_id } => match state.reservations.get(order_id) {
            Some(quantity) => vec![
                StockReleased {
                    order_id: *order_id,
                    quantity: *quantity,
                }
                .into(),
            ],
            None => Vec::new(),
        },
        ProductCommand::Ship { order_id } => match state.reservations.get(order_id) {
            Some(quantity) => vec![
                StockShipped {
                    order_id: *order_id,
                    quantity: *quantity,
                }
                .into(),
            ],
            None => Vec::new(),
        },
        _ => return Ok(None),
    };
    Ok(Some(events))
}
