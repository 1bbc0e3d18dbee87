//! Queries of the `users` read model (`rm_users`): the admins' user list by username,
//! keyset-paged.

use domain::requests::ListPage;
use domain::views::{Fresh, UserPage, UserView};
use tracing::instrument;

use super::cursor::KeyCursor;
use super::keyset::KeysetList;
use super::{QueryResult, QueryService};
use crate::projections::USERS;

/// The user list: by username.
const LIST: KeysetList = KeysetList {
    projection: USERS,
    tag: "u",
    table: "rm_users",
    columns: "account_id, username, display_name, role, customer_id, disabled, tokens, \
              opened_at_us, version",
    key: "username",
    id: "account_id",
};

impl QueryService {
    /// A page of accounts, by username.
    #[instrument(name = "query.users", skip(self), err)]
    pub async fn users(
        &self,
        page: &ListPage,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<UserPage>> {
        let fresh = self
            .keyset_page(&LIST, page, min_position, |u: &UserView| KeyCursor {
                key: u.username.clone(),
                id: u.account_id,
            })
            .await?;
        let (users, next_cursor) = fresh.data;
        Ok(Fresh {
            data: UserPage { users, next_cursor },
            position: fresh.position,
            stale: fresh.stale,
        })
    }
}
