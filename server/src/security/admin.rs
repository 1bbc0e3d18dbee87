//! The admin credential: a token from the configuration, or generated on first start and kept in
//! `<data-dir>/admin-token` (mode 0600). Clients present it as `Authorization: Bearer <token>` or
//! log in once (`POST /api/admin/login`) for an HttpOnly, SameSite=Strict session cookie.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::api::error::ApiError;
use crate::api::extract::ApiJson;
use crate::state::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "eventide_admin";
/// Lifetime of an admin session.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);
/// Sessions kept at most (oldest dropped beyond).
const MAX_SESSIONS: usize = 1000;

/// How a request authenticated, or why it did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminCheck {
    Admin,
    /// No credential at all (401).
    Missing,
    /// A wrong token or an unknown/expired session (403).
    Wrong,
}

/// The admin token and the live sessions.
pub struct AdminAuth {
    token: String,
    secure_cookies: bool,
    sessions: Mutex<HashMap<String, Instant>>,
}

impl std::fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminAuth").finish_non_exhaustive()
    }
}

impl AdminAuth {
    pub fn new(token: String, secure_cookies: bool) -> Self {
        Self {
            token,
            secure_cookies,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// The configured token, or the one stored in `<data_dir>/admin-token`, created with a new
    /// random value (mode 0600) when missing. Logs where to find it, never the token itself.
    pub fn load_or_create(
        configured: Option<&str>,
        data_dir: &Path,
        secure_cookies: bool,
    ) -> anyhow::Result<Self> {
        if let Some(token) = configured.map(str::trim).filter(|t| !t.is_empty()) {
            return Ok(Self::new(token.to_owned(), secure_cookies));
        }
        let path = data_dir.join("admin-token");
        if let Ok(existing) = std::fs::read_to_string(&path) {
            let token = existing.trim().to_owned();
            if !token.is_empty() {
                tracing::info!(path = %path.display(), "admin token loaded from file");
                return Ok(Self::new(token, secure_cookies));
            }
        }
        let token = random_hex(32);
        write_secret(&path, &token)
            .with_context(|| format!("cannot write the admin token to {}", path.display()))?;
        tracing::warn!(
            path = %path.display(),
            "generated an admin token; find it in this file (or set EVENTIDE_ADMIN_TOKEN)"
        );
        Ok(Self::new(token, secure_cookies))
    }

    fn token_matches(&self, candidate: &str) -> bool {
        constant_time_eq(candidate.as_bytes(), self.token.as_bytes())
    }

    /// Checks the request's bearer token or session cookie.
    pub fn check(&self, headers: &HeaderMap) -> AdminCheck {
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            let bearer = value.to_str().ok().and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            });
            return match bearer {
                Some(token) if self.token_matches(token.trim()) => AdminCheck::Admin,
                _ => AdminCheck::Wrong,
            };
        }
        match session_cookie(headers) {
            None => AdminCheck::Missing,
            Some(id) if self.session_valid(&id) => AdminCheck::Admin,
            Some(_) => AdminCheck::Wrong,
        }
    }

    pub fn is_admin_request(&self, headers: &HeaderMap) -> bool {
        self.check(headers) == AdminCheck::Admin
    }

    fn session_valid(&self, id: &str) -> bool {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        match sessions.get(id) {
            Some(expires) if *expires > Instant::now() => true,
            Some(_) => {
                sessions.remove(id);
                false
            }
            None => false,
        }
    }

    fn create_session(&self) -> String {
        let id = random_hex(32);
        let now = Instant::now();
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|_, expires| *expires > now);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, e)| **e)
                .map(|(k, _)| k.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(id.clone(), now + SESSION_TTL);
        id
    }

    fn end_session(&self, headers: &HeaderMap) {
        if let Some(id) = session_cookie(headers) {
            self.sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        }
    }

    fn cookie(&self, value: &str, max_age: u64) -> String {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        format!(
            "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
        )
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_secret(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(secret.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

/// Extractor guarding admin endpoints: 401 without a credential, 403 with a wrong one.
#[derive(Debug, Clone, Copy)]
pub struct RequireAdmin;

impl FromRequestParts<AppState> for RequireAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match state.admin.check(&parts.headers) {
            AdminCheck::Admin => Ok(Self),
            AdminCheck::Missing => Err(ApiError::unauthorized(
                "Admin credentials required: log in or send `Authorization: Bearer <token>`.",
            )),
            AdminCheck::Wrong => Err(ApiError::forbidden(
                "forbidden",
                "The admin credential is wrong or the session has expired.",
            )),
        }
    }
}

/// `POST /api/admin/login` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub token: String,
}

/// `GET /api/admin/session` answer (also returned by login and logout).
#[derive(Debug, Serialize, Deserialize)]
pub struct SessionInfo {
    pub logged_in: bool,
}

pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    if !state.admin.token_matches(body.token.trim()) {
        tracing::warn!("admin login with a wrong token");
        return Err(ApiError::forbidden(
            "invalid_token",
            "The admin token is wrong.",
        ));
    }
    let id = state.admin.create_session();
    let cookie = state.admin.cookie(&id, SESSION_TTL.as_secs());
    tracing::info!("admin logged in");
    Ok(with_cookie(
        StatusCode::OK,
        SessionInfo { logged_in: true },
        &cookie,
    ))
}

pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    state.admin.end_session(&headers);
    let cookie = state.admin.cookie("", 0);
    with_cookie(StatusCode::OK, SessionInfo { logged_in: false }, &cookie)
}

pub async fn session(State(state): State<AppState>, headers: HeaderMap) -> axum::Json<SessionInfo> {
    axum::Json(SessionInfo {
        logged_in: state.admin.is_admin_request(&headers),
    })
}

fn with_cookie(status: StatusCode, body: SessionInfo, cookie: &str) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The Leptos server functions' view of admin authentication: the same tokens and sessions as
/// the REST API.
impl app::ssr::AdminGate for AdminAuth {
    fn is_admin(&self, headers: &HeaderMap) -> bool {
        self.is_admin_request(headers)
    }

    fn login(&self, token: &str) -> Option<HeaderValue> {
        if !self.token_matches(token.trim()) {
            tracing::warn!("admin login with a wrong token");
            return None;
        }
        let id = self.create_session();
        tracing::info!("admin logged in");
        HeaderValue::from_str(&self.cookie(&id, SESSION_TTL.as_secs())).ok()
    }

    fn logout(&self, headers: &HeaderMap) -> HeaderValue {
        self.end_session(headers);
        HeaderValue::from_str(&self.cookie("", 0))
            .unwrap_or_else(|_| HeaderValue::from_static("eventide_admin=; Max-Age=0; Path=/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_cookie() {
        let auth = AdminAuth::new("secret".into(), false);
        let mut h = HeaderMap::new();
        assert_eq!(auth.check(&h), AdminCheck::Missing);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer nope"),
        );
        assert_eq!(auth.check(&h), AdminCheck::Wrong);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer secret"),
        );
        assert_eq!(auth.check(&h), AdminCheck::Admin);
        let id = auth.create_session();
        let mut c = HeaderMap::new();
        c.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; {SESSION_COOKIE}={id}")).unwrap(),
        );
        assert_eq!(auth.check(&c), AdminCheck::Admin);
        auth.end_session(&c);
        assert_eq!(auth.check(&c), AdminCheck::Wrong);
    }

    #[test]
    fn generated_token_file_is_private() {
        let dir = std::env::temp_dir().join(format!("eventide_admin_{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = AdminAuth::load_or_create(None, &dir, false).unwrap();
        let second = AdminAuth::load_or_create(None, &dir, false).unwrap();
        assert_eq!(first.token, second.token);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("admin-token"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
