//! `/api/auth`, `/api/users`, `/api/tokens`: sign-up, sign-in, sign-out and who am I (sessions
//! are `tower-sessions`' cookie, stored server-side by `orders::identity`), the admin's account
//! management, and personal API tokens. One call of the application layer each.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::requests::{ChangeRole, CreateToken, CreateUser, DisableUser, SignIn, SignUp};
use domain::views::{Fresh, TokenCreated, TokenView, UserPage, Viewer};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use uuid::Uuid;

use crate::api::commands::reply;
use crate::api::error::ApiResult;
use crate::api::extract::{ApiJson, ApiPath, ApiQuery, Ctx};
use crate::api::orders::PageQuery;
use crate::state::AppState;
use orders::application::ClientIp;

/// Responses that set or end a session are never cached.
fn no_store(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub async fn sign_up(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    session: Session,
    ApiJson(body): ApiJson<SignUp>,
) -> ApiResult<Response> {
    let viewer = state.app.sign_up(&ctx, body, &session).await?;
    Ok(no_store((StatusCode::CREATED, Json(viewer))))
}

pub async fn sign_in(
    State(state): State<AppState>,
    ip: Option<Extension<ClientIp>>,
    session: Session,
    ApiJson(body): ApiJson<SignIn>,
) -> ApiResult<Response> {
    let ip = ip.map(|Extension(ClientIp(ip))| ip);
    let viewer = state.app.sign_in(body, ip, &session).await?;
    Ok(no_store(Json(viewer)))
}

pub async fn sign_out(State(state): State<AppState>, session: Session) -> ApiResult<Response> {
    state.app.sign_out(&session).await?;
    Ok(no_store(StatusCode::NO_CONTENT))
}

pub async fn me(State(state): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<Json<Viewer>> {
    Ok(Json(state.app.me(&ctx)?))
}

pub async fn create_user(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<Response> {
    reply(state.app.create_user(&ctx, body).await, true)
}

pub async fn change_role(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiPath(username): ApiPath<String>,
    ApiJson(body): ApiJson<ChangeRole>,
) -> ApiResult<Response> {
    reply(state.app.change_role(&ctx, &username, body).await, false)
}

pub async fn disable_user(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiPath(username): ApiPath<String>,
    ApiJson(body): ApiJson<DisableUser>,
) -> ApiResult<Response> {
    reply(state.app.disable_user(&ctx, &username, body).await, false)
}

pub async fn enable_user(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiPath(username): ApiPath<String>,
) -> ApiResult<Response> {
    reply(state.app.enable_user(&ctx, &username).await, false)
}

pub async fn users(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Fresh<UserPage>>> {
    Ok(Json(
        state.app.users(&ctx, &q.page(), q.min_position).await?,
    ))
}

pub async fn tokens(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<Vec<TokenView>>> {
    Ok(Json(state.app.tokens(&ctx).await?))
}

pub async fn create_token(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<CreateToken>,
) -> ApiResult<Response> {
    let created: TokenCreated = state.app.create_token(&ctx, body).await?;
    Ok(no_store((StatusCode::CREATED, Json(created))))
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    reply(state.app.revoke_token(&ctx, id).await, false)
}

/// `POST /api/admin/login` body: the admin token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminLogin {
    #[schema(max_length = 512)]
    pub token: String,
}

/// `/api/admin/*` answer.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionInfo {
    pub logged_in: bool,
}

/// Signs in as the bootstrap admin with the admin token (the admin panel's token form).
pub async fn admin_login(
    State(state): State<AppState>,
    ip: Option<Extension<ClientIp>>,
    session: Session,
    ApiJson(body): ApiJson<AdminLogin>,
) -> ApiResult<Response> {
    let ip = ip.map(|Extension(ClientIp(ip))| ip);
    state
        .app
        .sign_in_with_admin_token(&body.token, ip, &session)
        .await?;
    Ok(no_store(Json(SessionInfo { logged_in: true })))
}

pub async fn admin_logout(State(state): State<AppState>, session: Session) -> ApiResult<Response> {
    state.app.sign_out(&session).await?;
    Ok(no_store(Json(SessionInfo { logged_in: false })))
}

/// Whether the caller is signed in as an admin.
pub async fn admin_session(Ctx(ctx): Ctx) -> Json<SessionInfo> {
    Json(SessionInfo {
        logged_in: ctx.is_admin(),
    })
}
