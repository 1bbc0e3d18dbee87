//! The Product aggregate's rules.

use crate::error::DomainError;
use crate::product::{
    ProductCommand, ProductCreated, ProductDiscontinued, ProductEvent, ProductRenamed,
    ProductRepriced, ProductState,
};

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
    } = command
    {
        if state.exists {
            return Err(DomainError::ProductAlreadyExists);
        }
        return Ok(vec![
            ProductCreated {
                product_id: *product_id,
                sku: sku.clone(),
                name: name.clone(),
                price: *price,
            }
            .into(),
        ]);
    }
    if !state.exists {
        return Err(DomainError::ProductNotFound);
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
    };
    Ok(vec![event])
}
