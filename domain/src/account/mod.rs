//! The Account aggregate: who may sign in, with which role, acting for which customer, and
//! which API tokens are live. Role changes, account lifecycle and token issue/revocation are
//! events, audited like everything else; credentials are not (they live beside the log).
//!
//! The account's id is derived from its username ([`AccountId::for_username`]), so opening an
//! account appends to a stream that must not exist yet: two sign-ups racing for one username
//! meet at the event store's "no stream" condition, and exactly one wins.

mod command;
mod decide;
mod error;
mod event;
mod names;
mod role;
mod state;

pub use command::AccountCommand;
pub use decide::MAX_TOKENS;
pub use error::AccountError;
pub use event::{
    AccountDisabled, AccountEnabled, AccountEvent, AccountOpened, AccountRoleChanged,
    ApiTokenIssued, ApiTokenRevoked,
};
pub use names::Username;
pub use role::{Capability, Role};
pub use state::AccountState;

use crate::aggregate::Aggregate;
use crate::error::DomainError;

/// The Account aggregate (a marker type; see [`Aggregate`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Account;

impl Aggregate for Account {
    type State = AccountState;
    type Command = AccountCommand;
    type Event = AccountEvent;

    const STREAM_TYPE: &'static str = "account";
    const SNAPSHOT_VERSION: i32 = 1;

    fn decide(
        state: &AccountState,
        command: &AccountCommand,
    ) -> Result<Vec<AccountEvent>, DomainError> {
        decide::decide(state, command).map_err(DomainError::from)
    }

    fn evolve(state: AccountState, event: &AccountEvent) -> AccountState {
        decide::evolve(state, event)
    }
}
