//! The axum router: REST API, websockets, health/readiness/metrics, SSR pages with hydration and
//! static files, wrapped in the security and observability middleware.

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};

use app::{App, shell};

use crate::state::AppState;

/// Builds the whole HTTP surface.
pub fn build(state: AppState, leptos_options: LeptosOptions) -> Router {
    let routes = generate_route_list(App);
    let context_state = state.clone();
    let api = crate::api::router()
        .layer(from_fn(crate::api::error::json_errors))
        .with_state(state.clone());
    let pages = Router::new()
        .leptos_routes_with_context(
            &leptos_options,
            routes,
            move || {
                provide_context(context_state.clone());
                provide_context(context_state.ui_services());
            },
            {
                let options = leptos_options.clone();
                move || shell(options.clone())
            },
        )
        // The 404 page renders the app too (its navigation asks who is signed in).
        .fallback(leptos_axum::file_and_error_handler_with_context(
            {
                let services = state.ui_services();
                move || provide_context(services.clone())
            },
            shell,
        ))
        .with_state(leptos_options);
    with_middleware(api.merge(pages), state)
}

/// The middleware stack, outermost first: security headers, request span and correlation id,
/// Host check (DNS rebinding), the session (cookie, loaded lazily from the database), HTTP
/// metrics (labels bounded: see `metrics::track_http`), rate
/// limit, cross-site refusal, body limit, timeout. The response contract check
/// (`api::contract`, off by default) sits outside all but the headers and the span, so it sees
/// every answer a client gets, refusals included.
pub fn with_middleware(router: Router, state: AppState) -> Router {
    router
        .layer(from_fn_with_state(
            state.clone(),
            crate::security::limits::timeout,
        ))
        .layer(from_fn_with_state(
            state.clone(),
            crate::security::limits::body_limit,
        ))
        .layer(from_fn_with_state(
            state.clone(),
            crate::security::origin::refuse_cross_site,
        ))
        .layer(from_fn_with_state(
            state.clone(),
            crate::security::rate_limit::rate_limit,
        ))
        .layer(from_fn_with_state(
            state.clone(),
            crate::metrics::track_http,
        ))
        .layer(crate::security::session::layer(
            &state.db,
            state.settings.secure_cookies,
        ))
        .layer(from_fn_with_state(
            state.clone(),
            crate::security::host::check_host,
        ))
        .layer(from_fn_with_state(
            state,
            crate::api::contract::check_responses,
        ))
        .layer(from_fn(crate::telemetry::trace_request))
        .layer(from_fn(crate::security::headers::security_headers))
}
