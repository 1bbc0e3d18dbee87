//! The customer use cases: register, rename, change email; the list and one customer (read
//! model).

use domain::CustomerId;
use domain::account::Capability;
use domain::requests::{ChangeEmail, RegisterCustomer, RenameCustomer};
use domain::values::{CustomerName, Email};
use domain::views::{CustomerView, Fresh};
use uuid::Uuid;

use crate::application::{Accepted, AppResult, Application, RequestContext};

impl Application {
    /// Registers a customer; idempotent with a key.
    pub async fn register_customer(
        &self,
        ctx: &RequestContext,
        input: RegisterCustomer,
    ) -> AppResult<Accepted> {
        self.allow(ctx, "register_customer", Capability::Customers)?;
        let name = CustomerName::parse(&input.name)?;
        let email = Email::parse(&input.email)?;
        let ctx = ctx.command();
        let id = input.customer_id.map(CustomerId::new);
        self.command(
            "register_customer",
            self.commands().register_customer(id, name, email, &ctx),
        )
        .await
    }

    /// Renames a customer.
    pub async fn rename_customer(
        &self,
        ctx: &RequestContext,
        customer_id: Uuid,
        input: RenameCustomer,
    ) -> AppResult<Accepted> {
        self.allow_customer(ctx, "rename_customer", CustomerId::new(customer_id))?;
        let name = CustomerName::parse(&input.name)?;
        let ctx = ctx.command();
        self.command(
            "rename_customer",
            self.commands()
                .rename_customer(CustomerId::new(customer_id), name, &ctx),
        )
        .await
    }

    /// Changes a customer's email.
    pub async fn change_email(
        &self,
        ctx: &RequestContext,
        customer_id: Uuid,
        input: ChangeEmail,
    ) -> AppResult<Accepted> {
        self.allow_customer(ctx, "change_email", CustomerId::new(customer_id))?;
        let email = Email::parse(&input.email)?;
        let ctx = ctx.command();
        self.command(
            "change_email",
            self.commands()
                .change_email(CustomerId::new(customer_id), email, &ctx),
        )
        .await
    }

    /// Every customer for staff; a customer's own record only for a customer.
    pub async fn customers(
        &self,
        ctx: &RequestContext,
        min_position: Option<i64>,
    ) -> AppResult<Fresh<Vec<CustomerView>>> {
        let principal = self.allow(ctx, "customers", Capability::OwnOrders)?;
        if principal.role.can(Capability::Customers) {
            return Ok(self.queries().customers(min_position).await?);
        }
        let Some(own) = principal.customer_id else {
            return Ok(Fresh {
                data: Vec::new(),
                ..self.queries().customers(min_position).await?
            });
        };
        match self
            .queries()
            .get_customer(own.as_uuid(), min_position)
            .await
        {
            Ok(fresh) => Ok(Fresh {
                data: vec![fresh.data],
                position: fresh.position,
                stale: fresh.stale,
            }),
            Err(crate::query::QueryError::NotFound { .. }) => {
                let fresh = self.queries().customers(min_position).await?;
                Ok(Fresh {
                    data: Vec::new(),
                    ..fresh
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// One customer.
    pub async fn customer(
        &self,
        ctx: &RequestContext,
        id: Uuid,
        min_position: Option<i64>,
    ) -> AppResult<Fresh<CustomerView>> {
        self.allow_customer(ctx, "customer", CustomerId::new(id))?;
        Ok(self.queries().get_customer(id, min_position).await?)
    }
}
