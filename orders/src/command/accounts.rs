//! The Account use cases of the command service. Credentials are not commands: they are
//! written beside the log by `crate::identity` once the account's events are stored.

use domain::AccountId;
use domain::account::{Account, AccountCommand, AccountEvent};

use crate::command::error::CommandResult;
use crate::command::identity::RequestIdentity as _;
use crate::command::metadata::CommandContext;
use crate::command::service::{CommandOutcome, CommandService};

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
}
