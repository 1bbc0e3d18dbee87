//! The admins' user list: accounts from the `users` read model (never the account streams:
//! queries read projections), paged by username.

use domain::account::Capability;
use domain::requests::ListPage;
use domain::views::{Fresh, UserPage};

use crate::application::{AppResult, Application, RequestContext};

impl Application {
    /// A page of accounts (admins).
    pub async fn users(
        &self,
        ctx: &RequestContext,
        page: &ListPage,
        min_position: Option<i64>,
    ) -> AppResult<Fresh<UserPage>> {
        self.allow(ctx, "users", Capability::Users)?;
        Ok(self.queries().users(page, min_position).await?)
    }
}
