//! The Account use cases of the command service. Credentials are not commands: they are
//! written beside the log by `crate::identity` once the account's events are stored.
//!
//! A customer's sign-up opens the account and registers the customer in ONE atomic
//! multi-stream append ([`CommandService::sign_up`]): the account stream must not exist (the
//! username is free), the customer stream must not exist, and the email must be free (the
//! consistency-boundary condition of `unique_email.rs`). A sign-up that loses any of these races
//! writes nothing: no customer without an account, no account without a customer.

use async_trait::async_trait;
use domain::account::{Account, AccountCommand, AccountEvent, AccountState};
use domain::customer::{Customer, CustomerCommand};
use domain::values::{CustomerName, Email};
use domain::{AccountId, Aggregate as _, CustomerId};
use uuid::Uuid;

use crate::command::error::CommandResult;
use crate::command::identity::RequestIdentity as _;
use crate::command::metadata::CommandContext;
use crate::command::plan::{CommandPlan, Linked, Plan};
use crate::command::service::{CommandOutcome, CommandService};
use crate::command::unique_email::{claim, email_tag};

impl CommandService {
    /// Runs an account command (open, role, disable/enable, tokens) with the generic path.
    pub async fn account(
        &self,
        account_id: AccountId,
        command: AccountCommand,
        name: &'static str,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<AccountEvent>> {
        let request = command.identity();
        let id = account_id.as_uuid();
        self.execute_request::<Account, _>(name, id, request, ctx, async { Ok(command) })
            .await
    }

    /// Opens a customer's account (`open` must be an `Open` naming `customer_id`) and registers
    /// the customer, atomically (see the module doc).
    pub async fn sign_up(
        &self,
        account_id: AccountId,
        open: AccountCommand,
        customer: NewCustomer,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<AccountEvent>> {
        let request = open.identity();
        let id = account_id.as_uuid();
        self.execute_planned::<Account, _>(
            "sign_up",
            id,
            request,
            ctx,
            async { Ok(open) },
            &customer,
        )
        .await
    }
}

/// The customer a sign-up registers with its account.
#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub customer_id: CustomerId,
    pub name: CustomerName,
    pub email: Email,
}

#[async_trait]
impl CommandPlan<Account> for NewCustomer {
    async fn plan(
        &self,
        service: &CommandService,
        _: Uuid,
        _: &AccountState,
        events: &[AccountEvent],
    ) -> CommandResult<Plan> {
        if !events.iter().any(|e| matches!(e, AccountEvent::Opened(_))) {
            return Ok(Plan::default());
        }
        let id = self.customer_id.as_uuid();
        let guard = if service.config().serialize_per_stream {
            Some(service.inner.locks.lock(&Customer::stream_id(id)).await)
        } else {
            None
        };
        let loaded = service.load::<Customer>(id).await?;
        let register = CustomerCommand::Register {
            customer_id: self.customer_id,
            name: self.name.clone(),
            email: self.email.clone(),
        };
        let registered = Customer::decide(&loaded.state, &register)?;
        let condition = claim(service, &self.email, self.customer_id).await?;
        let mut linked =
            Linked::of::<Customer>(id, loaded.version, loaded.state, &registered, guard)?;
        linked.tags = vec![vec![email_tag(&self.email)]];
        Ok(Plan {
            linked: vec![linked],
            tags: Vec::new(),
            condition: Some(condition),
        })
    }
}
