//! The customer use cases: register, rename, change email; the list and one customer (read
//! model).

use domain::CustomerId;
use domain::account::Capability;
use domain::requests::{ChangeEmail, EraseCustomer, ListPage, RegisterCustomer, RenameCustomer};
use domain::values::{CustomerName, Email, Reason};
use domain::views::{CustomerPage, CustomerView, Fresh};
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

    /// Erases a customer's personal data (admins only): audited as `CustomerErased` with the
    /// reason, then their data key is deleted. See `CommandService::erase_customer`.
    pub async fn erase_customer(
        &self,
        ctx: &RequestContext,
        customer_id: Uuid,
        input: EraseCustomer,
    ) -> AppResult<Accepted> {
        self.allow(ctx, "erase_customer", Capability::Erasure)?;
        let reason = Reason::parse(&input.reason)?;
        let ctx = ctx.command();
        self.command(
            "erase_customer",
            self.commands()
                .erase_customer(CustomerId::new(customer_id), reason, &ctx),
        )
        .await
    }

    /// A page of customers for staff; a customer's own record only for a customer.
    pub async fn customers(
        &self,
        ctx: &RequestContext,
        page: &ListPage,
        min_position: Option<i64>,
    ) -> AppResult<Fresh<CustomerPage>> {
        let principal = self.allow(ctx, "customers", Capability::OwnOrders)?;
        if principal.role.can(Capability::Customers) {
            return Ok(self.queries().customers(page, min_position).await?);
        }
        let own = match (principal.customer_id, &page.cursor) {
            // One record is one page: there is no second.
            (Some(own), None) => self
                .queries()
                .get_customer(own.as_uuid(), min_position)
                .await
                .map(Some),
            _ => Ok(None),
        };
        let own = match own {
            Ok(own) => own,
            Err(crate::query::QueryError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        Ok(match own {
            Some(fresh) => Fresh {
                data: CustomerPage {
                    customers: vec![fresh.data],
                    next_cursor: None,
                },
                position: fresh.position,
                stale: fresh.stale,
            },
            None => self.queries().no_customers(min_position).await?,
        })
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
