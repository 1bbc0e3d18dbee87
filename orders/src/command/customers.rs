//! The Customer use cases of the command service. An email address is unique across customers
//! (`unique_email.rs`).

use domain::CustomerId;
use domain::DomainError;
use domain::customer::{Customer, CustomerCommand, CustomerEvent};
use domain::values::{CustomerName, Email, Reason};
use uuid::Uuid;

use crate::command::error::{CommandError, CommandResult};
use crate::command::identity::RequestIdentity;
use crate::command::metadata::CommandContext;
use crate::command::personal_data;
use crate::command::service::{CommandOutcome, CommandService, new_id};
use crate::command::unique_email::UniqueEmail;
use eventstore::personal_data::SealError;

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

    /// Erases a customer's personal data: appends `CustomerErased` (who and why, in the audit
    /// trail), then deletes their data key, so every sealed copy of their fields reads as
    /// erased, and drops what holds them opened outside the log: the snapshots of their
    /// streams (customer, accounts, orders; they are taken again from the erased events).
    /// A second erasure of an erased customer appends nothing and finishes the clean-up again.
    pub async fn erase_customer(
        &self,
        customer_id: CustomerId,
        reason: Reason,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<CustomerEvent>> {
        let command = CustomerCommand::Erase { reason };
        let outcome = match self
            .customer(customer_id, command, "erase_customer", ctx)
            .await
        {
            Ok(outcome) => Some(outcome),
            Err(CommandError::Domain(DomainError::CustomerErased)) => None,
            Err(e) => return Err(e),
        };
        if let Some(keys) = self.store().key_ring() {
            keys.erase(&personal_data::subject(customer_id.as_uuid()))
                .await
                .map_err(|e| match e {
                    SealError::Store(e) => CommandError::Store(e),
                    other => CommandError::Internal(
                        anyhow::anyhow!(other).context("erasing the data key"),
                    ),
                })?;
        }
        // A lost connection is a 503 like any store error: the erasure can be run again.
        personal_data::drop_snapshots(self.store().db(), customer_id.as_uuid()).await?;
        match outcome {
            Some(outcome) => Ok(outcome),
            None => Err(CommandError::Domain(DomainError::CustomerErased)),
        }
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
