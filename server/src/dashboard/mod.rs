//! The merchant dashboard under `/dashboard`: server-rendered pages (no script, so nothing
//! of it reaches the card frame's bundle) showing one merchant's payments in the mode of
//! the key they signed in with: totals, authorization rate, declines by reason, volume by
//! day, the payment list, the refunds and each payment's history. Read-only: captures,
//! refunds and voids stay with the API and its idempotency keys. Its pages are for people,
//! not part of the API, and not in `/openapi.json`.
//!
//! A merchant signs in with a secret API key; see `session` for how long that lasts. The
//! pages are sent with a strict Content-Security-Policy and may not be framed; forms are
//! POSTed same-origin only (a `SameSite=Strict` cookie, and `Sec-Fetch-Site` or `Origin`
//! checked).

mod html;
mod pages;
pub mod session;

use crate::api::audit::CurrentRequest;
use crate::api::auth::authenticate_key;
use crate::payments::Status;
use crate::state::AppState;
use crate::store::{NewAuditEntry, StoreError};
use axum::Router;
use axum::extract::{Form, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use html::{Header, Nav};
use serde::Deserialize;
use session::SignedIn;

const STYLE: &str = include_str!("style.css");

/// Payments a list page shows.
const PAGE_SIZE: i64 = 25;
/// Payments the overview shows.
const LATEST: i64 = 10;

/// What a dashboard request can fail with; each becomes a page (or a redirect to sign-in).
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("not signed in")]
    SignedOut,
    #[error("no such payment")]
    NotFound,
    #[error("a form was posted from another site")]
    CrossSite,
    /// Already logged where it happened.
    #[error("internal error")]
    Internal,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IntoResponse for DashboardError {
    fn into_response(self) -> Response {
        match self {
            DashboardError::SignedOut => Redirect::to("/dashboard/sign-in").into_response(),
            DashboardError::NotFound => (
                StatusCode::NOT_FOUND,
                Html(pages::problem(
                    None,
                    "Not found",
                    "There is no such payment among this account's payments in this mode.",
                )),
            )
                .into_response(),
            DashboardError::CrossSite => (
                StatusCode::FORBIDDEN,
                Html(pages::problem(
                    None,
                    "Refused",
                    "This form can only be sent from the dashboard itself.",
                )),
            )
                .into_response(),
            DashboardError::Store(_) | DashboardError::Internal => {
                if let DashboardError::Store(err) = &self {
                    tracing::error!(error = %err, "dashboard: storage failed");
                }
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html(pages::problem(
                        None,
                        "Something went wrong",
                        "Something went wrong on our side. Please reload the page.",
                    )),
                )
                    .into_response()
            }
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(overview))
        .route("/dashboard/payments", get(payment_list))
        .route("/dashboard/payments/{id}", get(payment))
        .route("/dashboard/refunds", get(refund_list))
        .route("/dashboard/sign-in", get(sign_in_page).post(sign_in))
        .route("/dashboard/sign-out", axum::routing::post(sign_out))
        .route("/dashboard/style.css", get(style))
        .layer(axum::middleware::map_response(protect))
}

/// Headers every dashboard answer carries: nothing but its own stylesheet may load, no
/// site may frame it, nothing is cached, and no page address leaks to another site
/// (`same-origin` rather than `no-referrer`: with the latter, browsers send the dashboard's
/// own form posts with `Origin: null`).
async fn protect(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A form POST must come from the gateway's own pages. Browsers say where a request comes
/// from in `Sec-Fetch-Site` (secure contexts) and `Origin` (every POST; `null` from sandboxed
/// or privacy-stripped contexts, which is refused too). A request with neither is not a
/// browser's cross-site form.
struct SameOrigin;

impl FromRequestParts<AppState> for SameOrigin {
    type Rejection = DashboardError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, DashboardError> {
        let same = match parts.headers.get("sec-fetch-site") {
            Some(site) => site == "same-origin",
            None => parts
                .headers
                .get(header::ORIGIN)
                .is_none_or(|origin| origin.as_bytes() == state.settings.public_url.as_bytes()),
        };
        if same {
            Ok(SameOrigin)
        } else {
            Err(DashboardError::CrossSite)
        }
    }
}

fn header_of(signed: &SignedIn, nav: Nav) -> Header<'_> {
    Header {
        merchant_name: &signed.session.merchant.name,
        livemode: signed.session.livemode,
        nav,
    }
}

async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}

async fn sign_in_page() -> Html<String> {
    Html(pages::sign_in(None))
}

#[derive(Deserialize)]
struct SignInForm {
    /// Missing counts as empty: refused like any unknown key.
    #[serde(default)]
    api_key: String,
}

/// Checks the key like the API does; on success starts a session (audited) and sends the
/// browser to the overview. The key itself is neither stored nor logged.
async fn sign_in(
    State(state): State<AppState>,
    _: SameOrigin,
    CurrentRequest(request_id): CurrentRequest,
    extensions: Extensions,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, DashboardError> {
    let ip = state.rate_limits.request_ip(&extensions, &headers);
    if let Err(limited) = state.rate_limits.dashboard_sign_in(ip) {
        tracing::warn!(client = %ip, "dashboard sign-in rate-limited");
        return Ok(limited_page(&limited).into_response());
    }
    let authed = match authenticate_key(&state, form.api_key.trim()).await {
        Ok(authed) => authed,
        Err(err) if err.status == StatusCode::UNAUTHORIZED => {
            tracing::warn!(client = %ip, "dashboard sign-in with an unknown key");
            return Ok((
                StatusCode::UNAUTHORIZED,
                Html(pages::sign_in(Some(
                    "That key was not recognised. Check that it is a current secret key (sk_test_… or sk_live_…).",
                ))),
            )
                .into_response());
        }
        // Logged by the conversion that made it.
        Err(_) => return Err(DashboardError::Internal),
    };
    let now = state.now();
    let (token, hash) = session::new_token();
    let entry = audit_entry(
        &authed.merchant.id,
        &authed.key_id,
        "dashboard.signed_in",
        request_id,
        now,
    );
    // A fresh token at every sign-in, and the browser's previous one ends: a token planted
    // before sign-in (session fixation) is worth nothing after it.
    let previous = session::token_of(&headers, &state).map(|t| session::token_hash(&t));
    state
        .store
        .insert_dashboard_session(
            &hash,
            previous.as_deref(),
            &authed.key_id,
            &entry,
            now - session::IDLE_SECONDS,
        )
        .await?;
    let mut response = Redirect::to("/dashboard").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::set_cookie(&state, &token));
    Ok(response)
}

fn limited_page(limited: &crate::api::error::ApiError) -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Html(pages::sign_in(Some(&limited.message))),
    )
        .into_response();
    if let Some(wait) = limited.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait.get()));
    }
    response
}

fn audit_entry(
    merchant_id: &str,
    key_id: &str,
    action: &'static str,
    request_id: Option<String>,
    now: i64,
) -> NewAuditEntry {
    NewAuditEntry {
        merchant_id: Some(merchant_id.to_owned()),
        actor: crate::payments::Actor::ApiKey(key_id.to_owned()).to_string(),
        action,
        object_type: "api_key",
        object_id: key_id.to_owned(),
        customer_id: None,
        request_id,
        details: serde_json::json!({}),
        at: now,
    }
}

/// Ends the session (audited) and makes the browser forget its cookie.
async fn sign_out(
    State(state): State<AppState>,
    _: SameOrigin,
    CurrentRequest(request_id): CurrentRequest,
    headers: HeaderMap,
) -> Result<Response, DashboardError> {
    if let Some(token) = session::token_of(&headers, &state) {
        let hash = session::token_hash(&token);
        let entry = match state.store.dashboard_session(&hash).await? {
            Some(s) => Some(audit_entry(
                &s.merchant.id,
                &s.api_key_id,
                "dashboard.signed_out",
                request_id,
                state.now(),
            )),
            None => None,
        };
        state
            .store
            .delete_dashboard_session(&hash, entry.as_ref())
            .await?;
    }
    let mut response = Redirect::to("/dashboard/sign-in").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie(&state));
    Ok(response)
}

#[derive(Deserialize)]
struct PeriodQuery {
    /// One of [`pages::PERIODS`]; anything else shows the default period.
    days: Option<String>,
}

async fn overview(
    State(state): State<AppState>,
    signed: SignedIn,
    Query(q): Query<PeriodQuery>,
) -> Result<Html<String>, DashboardError> {
    let period = q
        .days
        .and_then(|d| d.parse::<i64>().ok())
        .filter(|d| pages::PERIODS.contains(d))
        .unwrap_or(30);
    let today = state.now().div_euclid(86_400);
    let since = (today - period + 1) * 86_400;
    let s = &signed.session;
    let summary = state
        .store
        .dashboard_summary(&s.merchant.id, s.livemode, since)
        .await?;
    let latest = state
        .store
        .dashboard_payments(&s.merchant.id, s.livemode, None, LATEST, None)
        .await?;
    Ok(Html(pages::overview(
        &header_of(&signed, Nav::Overview),
        period,
        today,
        &summary,
        &latest,
    )))
}

#[derive(Deserialize)]
struct PageQuery {
    starting_after: Option<String>,
    /// A payment status; anything else lists them all.
    status: Option<String>,
}

async fn payment_list(
    State(state): State<AppState>,
    signed: SignedIn,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, DashboardError> {
    let s = &signed.session;
    let status = q.status.as_deref().and_then(Status::parse);
    let mut lines = state
        .store
        .dashboard_payments(
            &s.merchant.id,
            s.livemode,
            status.map(Status::as_str),
            PAGE_SIZE + 1,
            q.starting_after.as_deref(),
        )
        .await?;
    let older = one_page(&mut lines, |l| &l.id);
    Ok(Html(pages::payments(
        &header_of(&signed, Nav::Payments),
        &lines,
        status,
        q.starting_after.is_some(),
        older.as_deref(),
    )))
}

/// Cuts `lines` (read one longer than a page) to a page; returns the id to continue after
/// when there was more.
fn one_page<T>(lines: &mut Vec<T>, id: impl Fn(&T) -> &String) -> Option<String> {
    let more = lines.len() as i64 > PAGE_SIZE;
    lines.truncate(PAGE_SIZE as usize);
    more.then(|| lines.last().map(|l| id(l).clone())).flatten()
}

async fn refund_list(
    State(state): State<AppState>,
    signed: SignedIn,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, DashboardError> {
    let s = &signed.session;
    let mut lines = state
        .store
        .dashboard_refunds(
            &s.merchant.id,
            s.livemode,
            PAGE_SIZE + 1,
            q.starting_after.as_deref(),
        )
        .await?;
    let older = one_page(&mut lines, |l| &l.id);
    Ok(Html(pages::refunds(
        &header_of(&signed, Nav::Refunds),
        &lines,
        q.starting_after.is_some(),
        older.as_deref(),
    )))
}

async fn payment(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Result<Html<String>, DashboardError> {
    let s = &signed.session;
    let record = state
        .store
        .payment(&s.merchant.id, &id)
        .await?
        .filter(|r| r.livemode == s.livemode)
        .ok_or(DashboardError::NotFound)?;
    let refunds = state.store.refunds(&record.id).await?;
    Ok(Html(pages::payment(
        &header_of(&signed, Nav::None),
        &record,
        &refunds,
    )))
}
