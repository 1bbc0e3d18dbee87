//! The Customer use cases of the command service. An email address is unique across customers
//! (`unique_email.rs`).

use domain::CustomerId;
use domain::customer::{Customer, CustomerCommand, CustomerEvent};
use domain::values::{CustomerName, Email};
use uuid::Uuid;

use crate::command::error::CommandResult;
use crate::command::identity::RequestIdentity;
use crate::command::metadata::CommandContext;
use crate::command::service::{CommandOutcome, CommandService, new_id};
use crate::command::unique_email::UniqueEmail;

impl CommandService {
    /// Registers a customer. Without `customer_id`, the id is derived from the idempotency key
    /// if there is one, else a new UUID v7.
    pub async fn register_customer(
        &self,
        customer_id: Option<CustomerId>,
        name: CustomerName,
        email: Email,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<CustomerEvent>> {
        let customer_id = CustomerId::new(new_id::<Customer>(customer_id.map(Uuid::from), ctx));
        let command = CustomerCommand::Register {
            customer_id,
            name,
            email,
        };
        self.customer(customer_id, command, "register_customer", ctx)
            .await
    }

    /// Renames a customer.
    pub async fn rename_customer(
        &self,
        customer_id: CustomerId,
        name: CustomerName,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<CustomerEvent>> {
        let command = CustomerCommand::Rename { name };
        self.customer(customer_id, command, "rename_customer", ctx)
            .await
    }

    /// Changes a customer's email address.
    pub async fn change_email(
        &self,
        customer_id: CustomerId,
        email: Email,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<CustomerEvent>> {
        let command = CustomerCommand::ChangeEmail { email };
        self.customer(customer_id, command, "change_email", ctx)
            .await
    }

    async fn customer(
        &self,
        customer_id: CustomerId,
        command: CustomerCommand,
        name: &'static str,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<CustomerEvent>> {
        let request = command.identity();
        let id = customer_id.as_uuid();
        let plan = UniqueEmail;
        self.execute_planned::<Customer, _>(name, id, request, ctx, async { Ok(command) }, &plan)
            .await
    }
}
