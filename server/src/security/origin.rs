//! Cross-site request refusal. Browsers send `Origin` on cross-origin requests and on every
//! non-GET request, and `Sec-Fetch-Site`; a state change (any method but GET/HEAD/OPTIONS) from
//! another site is refused with 403, for the REST API and the Leptos server functions alike.
//! Requests without those headers come from non-browser clients and are allowed.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::error::ApiError;
use crate::state::AppState;

/// Whether `origin` may talk to us: one of the configured origins, or (none configured) the
/// same origin as the `Host` the request was sent to.
pub fn origin_allowed(allowed: &[String], headers: &HeaderMap, origin: &str) -> bool {
    let origin = origin.trim().trim_end_matches('/');
    if !allowed.is_empty() {
        return allowed
            .iter()
            .any(|a| a.trim().trim_end_matches('/').eq_ignore_ascii_case(origin));
    }
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let host = host.trim();
    origin.eq_ignore_ascii_case(&format!("http://{host}"))
        || origin.eq_ignore_ascii_case(&format!("https://{host}"))
}

/// Checks a request's `Sec-Fetch-Site` and `Origin`; `Err` with the reason when cross-site.
pub fn check_same_site(allowed: &[String], headers: &HeaderMap) -> Result<(), &'static str> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        // `same-site` is a sibling subdomain: still another origin, decided by the Origin check.
        if site.eq_ignore_ascii_case("cross-site") && allowed.is_empty() {
            return Err("cross-site request");
        }
    }
    match headers.get(header::ORIGIN) {
        None => Ok(()),
        Some(value) => match value.to_str() {
            Ok(origin) if origin_allowed(allowed, headers, origin) => Ok(()),
            _ => Err("origin not allowed"),
        },
    }
}

/// Middleware: refuses cross-site state changes with 403.
pub async fn refuse_cross_site(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !safe
        && let Err(reason) = check_same_site(&state.settings.allowed_origins, request.headers())
    {
        tracing::warn!(reason, method = %request.method(), path = request.uri().path(), "cross-site request refused");
        return ApiError::forbidden(
            "cross_site_request",
            "Cross-site requests cannot change data.",
        )
        .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(host: &str, origin: Option<&str>, site: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        if let Some(s) = site {
            h.insert("sec-fetch-site", HeaderValue::from_str(s).unwrap());
        }
        h
    }

    #[test]
    fn same_origin_by_host() {
        assert!(check_same_site(&[], &headers("a:3000", None, None)).is_ok());
        assert!(
            check_same_site(
                &[],
                &headers("a:3000", Some("http://a:3000"), Some("same-origin"))
            )
            .is_ok()
        );
        assert!(check_same_site(&[], &headers("a:3000", Some("http://evil"), None)).is_err());
        assert!(check_same_site(&[], &headers("a:3000", None, Some("cross-site"))).is_err());
        assert!(check_same_site(&[], &headers("a:3000", Some("null"), None)).is_err());
    }

    #[test]
    fn configured_origins() {
        let allowed = vec!["https://shop.example".to_owned()];
        assert!(
            check_same_site(
                &allowed,
                &headers(
                    "internal:80",
                    Some("https://shop.example"),
                    Some("cross-site")
                )
            )
            .is_ok()
        );
        assert!(
            check_same_site(
                &allowed,
                &headers("internal:80", Some("http://internal:80"), None)
            )
            .is_err()
        );
    }
}
