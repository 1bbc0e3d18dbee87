//! Why an account command was refused.

/// The Account aggregate's refusals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// Open on an existing account: the username is taken.
    #[error("This username is taken; choose another one.")]
    UsernameTaken,
    /// The account does not exist.
    #[error("This account does not exist.")]
    NotFound,
    /// A customer account needs its customer.
    #[error("A customer account must belong to a customer.")]
    CustomerRequired,
    /// Staff and admin accounts do not belong to a customer.
    #[error("Only customer accounts belong to a customer.")]
    CustomerNotAllowed,
    /// The role is already that one.
    #[error("The account already has this role.")]
    RoleUnchanged,
    /// Disable on a disabled account.
    #[error("The account is already disabled.")]
    AlreadyDisabled,
    /// Enable on an active account.
    #[error("The account is not disabled.")]
    NotDisabled,
    /// A disabled account cannot get tokens.
    #[error("The account is disabled.")]
    Disabled,
    /// The token is unknown or already revoked.
    #[error("No active token has this id.")]
    TokenNotFound,
    /// Tokens per account are bounded.
    #[error("An account can have at most {max} active tokens; revoke one first.")]
    TooManyTokens {
        /// The limit.
        max: usize,
    },
}

impl AccountError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UsernameTaken => "username_taken",
            Self::NotFound => "account_not_found",
            Self::CustomerRequired => "account_customer_required",
            Self::CustomerNotAllowed => "account_customer_not_allowed",
            Self::RoleUnchanged => "role_unchanged",
            Self::AlreadyDisabled => "account_already_disabled",
            Self::NotDisabled => "account_not_disabled",
            Self::Disabled => "account_disabled",
            Self::TokenNotFound => "token_not_found",
            Self::TooManyTokens { .. } => "too_many_tokens",
        }
    }
}
