//! The identity use cases: authenticate a request, sign up, sign in, sign out, who am I, and
//! the admin's account management and everyone's API tokens.
//!
//! Sign-up opens the account (stream `account-<id of the username>`, which must not exist:
//! the race for a username is settled by the event store) and registers its customer; the
//! password hash is written beside the log once the account's event is stored. Until
//! multi-stream appends land (issue 18), a lost race for a username can leave the customer
//! record without an account; the username check before it makes that a true race only.

use std::net::IpAddr;

use domain::account::{Account, AccountCommand, Capability, Role, Username};
use domain::requests::{ChangeRole, CreateToken, CreateUser, DisableUser, SignIn, SignUp};
use domain::values::{CustomerName, Email, PersonName, Reason, TokenName};
use domain::views::{TokenCreated, Viewer};
use domain::{AccountId, CustomerId};
use http::HeaderMap;
use tower_sessions_core::Session;
use uuid::Uuid;

use crate::application::access::unauthorized;
use crate::application::{Accepted, AppError, AppResult, Application, ErrorKind, RequestContext};
use crate::command::NewCustomer;
use crate::identity::tokens::digest;
use crate::identity::{
    BOOTSTRAP_ADMIN, Identity, Principal, SESSION_USER, SessionUser, SignedInWith, passwords,
    tokens,
};

fn invalid_credentials() -> AppError {
    AppError::new(
        ErrorKind::Unauthorized,
        "invalid_credentials",
        "The username or the password is wrong.",
    )
}

fn invalid_token() -> AppError {
    AppError::new(
        ErrorKind::Unauthorized,
        "invalid_token",
        "The bearer token is unknown, revoked, or its account is disabled.",
    )
}

fn password_error(rule: passwords::PasswordRule) -> AppError {
    AppError::invalid("password_invalid", rule.to_string())
}

fn session_error(e: impl std::fmt::Display) -> AppError {
    tracing::warn!(error = %e, "the session store failed");
    AppError {
        retry_after: Some(1),
        ..AppError::new(
            ErrorKind::Unavailable,
            "session_unavailable",
            "Sessions are not available right now. Try again in a moment.",
        )
    }
}

fn internal(what: &str) -> impl FnOnce(anyhow::Error) -> AppError + '_ {
    move |e| AppError::internal(what, format!("{e:#}"))
}

/// Compares two secrets by their digests (no early exit on the secret's bytes).
fn same_secret(a: &str, b: &str) -> bool {
    digest(a) == digest(b)
}

impl Application {
    /// The identity stores.
    pub fn identity(&self) -> &Identity {
        &self.inner.identity
    }

    /// Who sent this request: `Authorization: Bearer` (an API token, or the bootstrap admin
    /// token), else the session's account. `None` is anonymous. A bearer token that is wrong is
    /// a 401 (a client that sends a credential wants to know it failed); a session whose
    /// account is gone or disabled is ended.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        session: Option<&Session>,
    ) -> AppResult<Option<Principal>> {
        if let Some(value) = headers.get(http::header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::trim)
                .filter(|t| !t.is_empty() && t.len() <= 200)
                .ok_or_else(invalid_token)?;
            return self.principal_of_token(token).await.map(Some);
        }
        let Some(session) = session else {
            return Ok(None);
        };
        let user: Option<SessionUser> = session.get(SESSION_USER).await.map_err(session_error)?;
        let Some(user) = user else { return Ok(None) };
        let loaded = self.commands().load::<Account>(user.account_id).await?;
        let via = SignedInWith::Session {
            login_id: user.login_id,
        };
        match Principal::of(&loaded.state, via) {
            Some(principal) => Ok(Some(principal)),
            None => {
                session.flush().await.map_err(session_error)?;
                Ok(None)
            }
        }
    }

    async fn principal_of_token(&self, token: &str) -> AppResult<Principal> {
        let identity = self.identity();
        if let Some(admin) = &identity.admin_token
            && same_secret(token, admin)
        {
            let id = AccountId::for_username(&bootstrap_username()?);
            let loaded = self.commands().load::<Account>(id.as_uuid()).await?;
            let principal = Principal::of(&loaded.state, SignedInWith::AdminToken)
                .filter(|p| p.role == Role::Admin)
                .unwrap_or_else(|| Principal {
                    account_id: id,
                    via: SignedInWith::AdminToken,
                    ..Principal::system(BOOTSTRAP_ADMIN)
                });
            return Ok(principal);
        }
        if !token.starts_with(tokens::PREFIX) {
            return Err(invalid_token());
        }
        let found = identity
            .tokens
            .find(token)
            .await
            .map_err(internal("token lookup"))?;
        let Some((token_id, account_id)) = found else {
            return Err(invalid_token());
        };
        let loaded = self
            .commands()
            .load::<Account>(account_id.as_uuid())
            .await?;
        if !loaded.state.tokens.contains_key(&token_id) {
            return Err(invalid_token());
        }
        Principal::of(&loaded.state, SignedInWith::Token { token_id }).ok_or_else(invalid_token)
    }

    /// Signs up a customer: their customer record and account, their password, and a session.
    pub async fn sign_up(
        &self,
        ctx: &RequestContext,
        input: SignUp,
        session: &Session,
    ) -> AppResult<Viewer> {
        let username = Username::parse(&input.username)?;
        passwords::check(&input.password).map_err(password_error)?;
        let name = CustomerName::parse(&input.name)?;
        let email = Email::parse(&input.email)?;
        let account_id = AccountId::for_username(&username);
        if self
            .commands()
            .load::<Account>(account_id.as_uuid())
            .await?
            .exists()
        {
            return Err(AppError::from(domain::DomainError::from(
                domain::account::AccountError::UsernameTaken,
            )));
        }
        let hash = passwords::hash(input.password)
            .await
            .map_err(internal("password hashing"))?;
        let customer_id = CustomerId::new(Uuid::now_v7());
        let login_id = Uuid::now_v7();
        let principal = Principal {
            account_id,
            username: username.to_string(),
            display_name: name.to_string(),
            role: Role::Customer,
            customer_id: Some(customer_id),
            via: SignedInWith::Session { login_id },
        };
        let own = RequestContext {
            principal: Some(principal.clone()),
            idempotency_key: None,
            expected_version: None,
            ..ctx.clone()
        }
        .command();
        let open = AccountCommand::Open {
            account_id,
            username,
            display_name: name.clone(),
            role: Role::Customer,
            customer_id: Some(customer_id),
        };
        let customer = NewCustomer {
            customer_id,
            name,
            email,
        };
        // One atomic append: the account and the customer, or (username or email taken)
        // neither.
        self.command(
            "sign_up",
            self.commands().sign_up(account_id, open, customer, &own),
        )
        .await?;
        self.identity()
            .credentials
            .set(account_id, &hash)
            .await
            .map_err(internal("storing a password hash"))?;
        self.start_session(session, account_id, login_id).await?;
        tracing::info!(user = %principal.username, %login_id, "signed up");
        Ok(principal.viewer())
    }

    /// Signs in with a password (throttled per account and per IP) and starts a session with a
    /// new id.
    pub async fn sign_in(
        &self,
        input: SignIn,
        ip: Option<IpAddr>,
        session: &Session,
    ) -> AppResult<Viewer> {
        let username = Username::parse(&input.username).map_err(|_| invalid_credentials())?;
        self.throttle(username.as_str(), ip)?;
        if input.password.chars().count() > passwords::MAX_LEN {
            return self.guard("sign_in", Err(invalid_credentials()));
        }
        let account_id = AccountId::for_username(&username);
        let loaded = self
            .commands()
            .load::<Account>(account_id.as_uuid())
            .await?;
        let phc = if loaded.state.is_active() {
            self.identity()
                .credentials
                .get(account_id)
                .await
                .map_err(internal("reading a password hash"))?
        } else {
            None
        };
        let matches = passwords::verify(input.password, phc)
            .await
            .map_err(internal("password verification"))?;
        let login_id = Uuid::now_v7();
        let principal =
            Principal::of(&loaded.state, SignedInWith::Session { login_id }).filter(|_| matches);
        let Some(principal) = principal else {
            tracing::info!(user = %username, "sign-in refused");
            return self.guard("sign_in", Err(invalid_credentials()));
        };
        self.start_session(session, account_id, login_id).await?;
        tracing::info!(user = %principal.username, %login_id, "signed in");
        Ok(principal.viewer())
    }

    /// Signs in as the bootstrap admin with the admin token (the admin panel's token login),
    /// throttled like a password sign-in of account `admin`.
    pub async fn sign_in_with_admin_token(
        &self,
        token: &str,
        ip: Option<IpAddr>,
        session: &Session,
    ) -> AppResult<Viewer> {
        self.throttle(BOOTSTRAP_ADMIN, ip)?;
        let principal = match self.principal_of_token(token.trim()).await {
            Ok(p) if p.via == SignedInWith::AdminToken => p,
            _ => {
                let wrong = AppError::new(
                    ErrorKind::Unauthorized,
                    "invalid_token",
                    "The admin token is wrong. Log in with the token from the server's data directory (file admin-token) or its configuration.",
                );
                return self.guard("sign_in", Err(wrong));
            }
        };
        let login_id = Uuid::now_v7();
        self.start_session(session, principal.account_id, login_id)
            .await?;
        tracing::info!(user = %principal.username, %login_id, "signed in with the admin token");
        Ok(principal.viewer())
    }

    /// Takes one sign-in attempt for `username` from `ip`, or answers 429 with `Retry-After`.
    fn throttle(&self, username: &str, ip: Option<IpAddr>) -> AppResult<()> {
        self.identity()
            .throttle
            .attempt(username, ip)
            .map_err(|wait| {
                self.inner.observer.refused("sign_in", "too_many_attempts");
                AppError {
                    retry_after: Some(wait),
                    ..AppError::new(
                        ErrorKind::Throttled,
                        "too_many_attempts",
                        "Too many sign-in attempts. Wait a little and try again.",
                    )
                }
            })
    }

    async fn start_session(
        &self,
        session: &Session,
        account_id: AccountId,
        login_id: Uuid,
    ) -> AppResult<()> {
        // A new id on every sign-in: a session id planted before it (fixation) is worthless.
        session.cycle_id().await.map_err(session_error)?;
        let user = SessionUser {
            account_id: account_id.as_uuid(),
            login_id,
        };
        session
            .insert(SESSION_USER, user)
            .await
            .map_err(session_error)
    }

    /// Ends the session: its row is deleted, so it is refused on every instance.
    pub async fn sign_out(&self, session: &Session) -> AppResult<()> {
        session.flush().await.map_err(session_error)
    }

    /// Who is signed in (401 when nobody).
    pub fn me(&self, ctx: &RequestContext) -> AppResult<Viewer> {
        Ok(ctx.signed_in()?.viewer())
    }

    /// Creates the bootstrap admin account (password: the admin token) if it does not exist.
    pub async fn ensure_bootstrap_admin(&self) -> AppResult<()> {
        let Some(token) = self.identity().admin_token.clone() else {
            return Ok(());
        };
        let username = bootstrap_username()?;
        let account_id = AccountId::for_username(&username);
        if self
            .commands()
            .load::<Account>(account_id.as_uuid())
            .await?
            .exists()
        {
            return Ok(());
        }
        let hash = passwords::hash(token.to_string())
            .await
            .map_err(internal("password hashing"))?;
        let ctx = RequestContext::acting_as(Principal::system("system")).command();
        let open = AccountCommand::Open {
            account_id,
            username,
            display_name: PersonName::parse("Administrator")?,
            role: Role::Admin,
            customer_id: None,
        };
        match self
            .command(
                "open_account",
                self.commands()
                    .account(account_id, open, "open_account", &ctx),
            )
            .await
        {
            Ok(_) => {}
            // Another instance starting at the same time opened it first.
            Err(e) if e.code == "username_taken" => return Ok(()),
            Err(e) => return Err(e),
        }
        self.identity()
            .credentials
            .set(account_id, &hash)
            .await
            .map_err(internal("storing a password hash"))?;
        tracing::info!(
            user = BOOTSTRAP_ADMIN,
            "bootstrap admin account created; its password is the admin token"
        );
        Ok(())
    }

    /// An admin creates a staff or admin account with a password.
    pub async fn create_user(
        &self,
        ctx: &RequestContext,
        input: CreateUser,
    ) -> AppResult<Accepted> {
        self.allow(ctx, "create_user", Capability::Users)?;
        let username = Username::parse(&input.username)?;
        passwords::check(&input.password).map_err(password_error)?;
        let display_name = PersonName::parse(&input.display_name)?;
        let role = parse_role(&input.role)?;
        if role == Role::Customer {
            return Err(AppError::invalid(
                "role_invalid",
                "Customers sign up themselves; create staff or admin accounts here.",
            ));
        }
        let account_id = AccountId::for_username(&username);
        let hash = passwords::hash(input.password)
            .await
            .map_err(internal("password hashing"))?;
        let open = AccountCommand::Open {
            account_id,
            username,
            display_name,
            role,
            customer_id: None,
        };
        let command_ctx = ctx.command();
        let accepted = self
            .command(
                "create_user",
                self.commands()
                    .account(account_id, open, "create_user", &command_ctx),
            )
            .await?;
        if !accepted.replayed {
            self.identity()
                .credentials
                .set(account_id, &hash)
                .await
                .map_err(internal("storing a password hash"))?;
        }
        Ok(accepted)
    }

    /// An admin changes an account's role.
    pub async fn change_role(
        &self,
        ctx: &RequestContext,
        username: &str,
        input: ChangeRole,
    ) -> AppResult<Accepted> {
        self.allow(ctx, "change_role", Capability::Users)?;
        let role = parse_role(&input.role)?;
        self.account_command(
            ctx,
            username,
            AccountCommand::ChangeRole { role },
            "change_role",
        )
        .await
    }

    /// An admin disables an account: its sessions and tokens stop working at once.
    pub async fn disable_user(
        &self,
        ctx: &RequestContext,
        username: &str,
        input: DisableUser,
    ) -> AppResult<Accepted> {
        self.allow(ctx, "disable_user", Capability::Users)?;
        let reason = Reason::parse(&input.reason)?;
        self.account_command(
            ctx,
            username,
            AccountCommand::Disable { reason },
            "disable_user",
        )
        .await
    }

    /// An admin enables a disabled account.
    pub async fn enable_user(&self, ctx: &RequestContext, username: &str) -> AppResult<Accepted> {
        self.allow(ctx, "enable_user", Capability::Users)?;
        self.account_command(ctx, username, AccountCommand::Enable, "enable_user")
            .await
    }

    async fn account_command(
        &self,
        ctx: &RequestContext,
        username: &str,
        command: AccountCommand,
        name: &'static str,
    ) -> AppResult<Accepted> {
        let username = Username::parse(username)?;
        let account_id = AccountId::for_username(&username);
        let command_ctx = ctx.command();
        self.command(
            name,
            self.commands()
                .account(account_id, command, name, &command_ctx),
        )
        .await
    }

    /// Creates a personal API token of the caller; its secret is in the answer only.
    pub async fn create_token(
        &self,
        ctx: &RequestContext,
        input: CreateToken,
    ) -> AppResult<TokenCreated> {
        let principal = self.guard("create_token", ctx.signed_in())?;
        if principal.via == SignedInWith::AdminToken && principal.account_id.as_uuid().is_nil() {
            return Err(unauthorized());
        }
        let name = TokenName::parse(&input.name)?;
        let token_id = Uuid::now_v7();
        let secret = tokens::generate();
        // The digest row first: without its event the token is not live, so a failure
        // between the two leaves nothing usable.
        self.identity()
            .tokens
            .insert(&secret, token_id, principal.account_id)
            .await
            .map_err(internal("storing a token digest"))?;
        let command = AccountCommand::IssueToken {
            token_id,
            name: name.clone(),
        };
        let command_ctx = RequestContext {
            idempotency_key: None,
            expected_version: None,
            ..ctx.clone()
        }
        .command();
        self.command(
            "create_token",
            self.commands()
                .account(principal.account_id, command, "create_token", &command_ctx),
        )
        .await?;
        Ok(TokenCreated {
            id: token_id,
            name: name.to_string(),
            token: secret,
        })
    }

    /// Revokes one of the caller's tokens (an admin may revoke anyone's with `username`).
    pub async fn revoke_token(&self, ctx: &RequestContext, token_id: Uuid) -> AppResult<Accepted> {
        let principal = self.guard("revoke_token", ctx.signed_in())?;
        let command = AccountCommand::RevokeToken { token_id };
        let command_ctx = ctx.command();
        self.command(
            "revoke_token",
            self.commands()
                .account(principal.account_id, command, "revoke_token", &command_ctx),
        )
        .await
    }

    /// The caller's live tokens (names and ids, never secrets), from their account.
    pub async fn tokens(&self, ctx: &RequestContext) -> AppResult<Vec<domain::views::TokenView>> {
        let principal = self.guard("tokens", ctx.signed_in())?;
        let loaded = self
            .commands()
            .load::<Account>(principal.account_id.as_uuid())
            .await?;
        Ok(loaded
            .state
            .tokens
            .iter()
            .map(|(id, name)| domain::views::TokenView {
                id: *id,
                name: name.to_string(),
            })
            .collect())
    }
}

fn bootstrap_username() -> AppResult<Username> {
    Ok(Username::parse(BOOTSTRAP_ADMIN)?)
}

fn parse_role(role: &str) -> AppResult<Role> {
    role.parse::<Role>().map_err(|_| {
        AppError::invalid("role_invalid", "The role must be customer, staff or admin.")
    })
}
