//! The log integrity routes: the hash chain's head, a verify job with progress, the anchor as a
//! download. Admins only, decided by the application layer like every other use case.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use domain::integrity::{ChainAnchor, ChainStatus, ChainVerifyStatus};

use crate::api::error::ApiResult;
use crate::api::extract::Ctx;
use crate::state::AppState;

pub async fn status(State(state): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<Json<ChainStatus>> {
    Ok(Json(state.app.chain_status(&ctx).await?))
}

pub async fn verify_status(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<ChainVerifyStatus>> {
    Ok(Json(state.app.chain_verify_status(&ctx)?))
}

pub async fn start_verify(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> ApiResult<(StatusCode, Json<ChainVerifyStatus>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(state.app.start_chain_verify(&ctx)?),
    ))
}

/// The anchor as a file to keep (`Content-Disposition: attachment`).
pub async fn anchor(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> ApiResult<([(header::HeaderName, String); 1], Json<ChainAnchor>)> {
    let anchor = state.app.chain_anchor(&ctx).await?;
    let disposition = format!(
        "attachment; filename=\"eventide-anchor-{}.json\"",
        anchor.position
    );
    Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(anchor)))
}
