//! Who is signed in to the dashboard: a random token in an `HttpOnly`, `SameSite=Strict`
//! cookie, stored as its SHA-256 beside the API key that signed in. A session ends after
//! 15 minutes without a request (PCI DSS asks for re-authentication after 15 idle
//! minutes), after 8 hours in any case, at sign-out, and when its key is rolled.

use super::DashboardError;
use crate::state::AppState;
use crate::store::dashboard::DashboardSession;
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::{COOKIE, HeaderValue};
use axum::http::request::Parts;

/// Seconds without a request after which the session has ended.
pub const IDLE_SECONDS: i64 = 15 * 60;
/// Seconds after sign-in after which the session has ended, however active.
pub const LIFETIME_SECONDS: i64 = 8 * 60 * 60;
/// The last-seen time is written at most this often (a page view is a read otherwise).
const TOUCH_EVERY_SECONDS: i64 = 60;

/// The cookie's name: with `__Host-` where the gateway is served over HTTPS, so the browser
/// only accepts it secure, host-only and for the whole origin.
pub fn cookie_name(state: &AppState) -> &'static str {
    if secure(state) {
        "__Host-payframe_dashboard"
    } else {
        "payframe_dashboard"
    }
}

fn secure(state: &AppState) -> bool {
    state.settings.public_url.starts_with("https://")
}

/// The `Set-Cookie` value that hands the browser `token`.
pub fn set_cookie(state: &AppState, token: &str) -> HeaderValue {
    cookie(state, token, LIFETIME_SECONDS)
}

/// The `Set-Cookie` value that makes the browser forget the token.
pub fn clear_cookie(state: &AppState) -> HeaderValue {
    cookie(state, "", 0)
}

fn cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let secure = if secure(state) { "; Secure" } else { "" };
    let cookie = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}",
        cookie_name(state)
    );
    HeaderValue::from_str(&cookie).expect("the cookie is ASCII: a base62 token")
}

/// A fresh token (≈ 256 bits) and the hash that is stored for it.
pub fn new_token() -> (String, Vec<u8>) {
    let token = crate::ids::random_base62(43);
    let hash = token_hash(&token);
    (token, hash)
}

/// What is stored for a token: its SHA-256, as for API keys.
pub fn token_hash(token: &str) -> Vec<u8> {
    crate::api::auth::hash_secret(token)
}

/// The dashboard token the request's cookies carry, if any.
pub fn token_of(headers: &HeaderMap, state: &AppState) -> Option<String> {
    let name = cookie_name(state);
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, v)| *n == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

/// Whether `session` is still valid at `now`: neither idle nor past its lifetime.
pub fn is_live(session: &DashboardSession, now: i64) -> bool {
    now - session.last_seen_at <= IDLE_SECONDS && now - session.created_at <= LIFETIME_SECONDS
}

/// A signed-in merchant: what every dashboard page but sign-in requires. Without a valid
/// session the request is answered with the sign-in page's address.
pub struct SignedIn {
    pub session: DashboardSession,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = DashboardError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, DashboardError> {
        let token = token_of(&parts.headers, state).ok_or(DashboardError::SignedOut)?;
        let hash = token_hash(&token);
        let session = state
            .store
            .dashboard_session(&hash)
            .await?
            .ok_or(DashboardError::SignedOut)?;
        let now = state.now();
        if !is_live(&session, now) {
            state.store.delete_dashboard_session(&hash, None).await?;
            return Err(DashboardError::SignedOut);
        }
        if now - session.last_seen_at >= TOUCH_EVERY_SECONDS {
            state.store.touch_dashboard_session(&hash, now).await?;
        }
        Ok(SignedIn { session })
    }
}
