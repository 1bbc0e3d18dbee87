//! The Account aggregate's rules.

use crate::account::{
    AccountCommand, AccountDisabled, AccountEnabled, AccountError, AccountEvent, AccountOpened,
    AccountRoleChanged, AccountState, ApiTokenIssued, ApiTokenRevoked, Role,
};

/// Active tokens one account may hold.
pub const MAX_TOKENS: usize = 20;

/// See [`crate::Aggregate::decide`].
pub(crate) fn decide(
    state: &AccountState,
    command: &AccountCommand,
) -> Result<Vec<AccountEvent>, AccountError> {
    if let AccountCommand::Open {
        account_id,
        username,
        display_name,
        role,
        customer_id,
    } = command
    {
        if state.exists {
            return Err(AccountError::UsernameTaken);
        }
        match (role, customer_id) {
            (Role::Customer, None) => return Err(AccountError::CustomerRequired),
            (Role::Staff | Role::Admin, Some(_)) => return Err(AccountError::CustomerNotAllowed),
            _ => {}
        }
        return Ok(vec![
            AccountOpened {
                account_id: *account_id,
                username: username.clone(),
                display_name: display_name.clone(),
                role: *role,
                customer_id: *customer_id,
            }
            .into(),
        ]);
    }
    if !state.exists {
        return Err(AccountError::NotFound);
    }
    let event: AccountEvent = match command {
        AccountCommand::Open { .. } => return Err(AccountError::UsernameTaken),
        AccountCommand::ChangeRole { role } => {
            let previous = state.role.unwrap_or(Role::Customer);
            if previous == *role {
                return Err(AccountError::RoleUnchanged);
            }
            match (role, state.customer_id) {
                (Role::Customer, None) => return Err(AccountError::CustomerRequired),
                (Role::Staff | Role::Admin, Some(_)) => {
                    return Err(AccountError::CustomerNotAllowed);
                }
                _ => {}
            }
            AccountRoleChanged {
                previous,
                role: *role,
            }
            .into()
        }
        AccountCommand::Disable { reason } => {
            if state.disabled {
                return Err(AccountError::AlreadyDisabled);
            }
            AccountDisabled {
                reason: reason.clone(),
            }
            .into()
        }
        AccountCommand::Enable => {
            if !state.disabled {
                return Err(AccountError::NotDisabled);
            }
            AccountEnabled {}.into()
        }
        AccountCommand::IssueToken { token_id, name } => {
            if state.disabled {
                return Err(AccountError::Disabled);
            }
            if state.tokens.len() >= MAX_TOKENS {
                return Err(AccountError::TooManyTokens { max: MAX_TOKENS });
            }
            ApiTokenIssued {
                token_id: *token_id,
                name: name.clone(),
            }
            .into()
        }
        AccountCommand::RevokeToken { token_id } => {
            if !state.tokens.contains_key(token_id) {
                return Err(AccountError::TokenNotFound);
            }
            ApiTokenRevoked {
                token_id: *token_id,
            }
            .into()
        }
    };
    Ok(vec![event])
}

/// See [`crate::Aggregate::evolve`].
pub(crate) fn evolve(mut state: AccountState, event: &AccountEvent) -> AccountState {
    match event {
        AccountEvent::Opened(e) => {
            state.exists = true;
            state.account_id = Some(e.account_id);
            state.username = Some(e.username.clone());
            state.display_name = Some(e.display_name.clone());
            state.role = Some(e.role);
            state.customer_id = e.customer_id;
        }
        AccountEvent::RoleChanged(e) => state.role = Some(e.role),
        AccountEvent::Disabled(_) => state.disabled = true,
        AccountEvent::Enabled(_) => state.disabled = false,
        AccountEvent::TokenIssued(e) => {
            state.tokens.insert(e.token_id, e.name.clone());
        }
        AccountEvent::TokenRevoked(e) => {
            state.tokens.remove(&e.token_id);
        }
    }
    state
}
