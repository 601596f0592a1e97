//! The frame's endpoints, authenticated by the session's client secret:
//! `GET /v1/frame/sessions/{id}` (public view and encryption key) and
//! `POST /v1/frame/sessions/{id}/confirm` (open the envelope, validate, vault, answer).

use super::audit::{Actor, CurrentRequest};
use super::auth::hash_secret;
use super::error::ApiError;
use super::error::declined;
use super::json::ApiJson;
use super::openapi::{self, ErrorBody};
use super::payments::PaymentObject;
use crate::keys::OpenError;
use crate::payments::Status;
use crate::payments::flow::{self, CardSummary};
use crate::processors::{Card, DeclineCode};
use crate::state::AppState;
use crate::store::{NewCard, NewRefund, PaymentRecord, SaveCard, Saved, Session, WriteAlong};
use crate::vault::SealedPan;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use payframe_core::api::{ConfirmRequest, ConfirmResponse, FrameSession, PaymentMethodView};
use payframe_core::card::year_month;
use payframe_core::{Cvc, EnvelopeError, Expiry, Pan};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use utoipa::IntoParams;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/frame/sessions/{id}", get(public_view))
        .route("/v1/frame/sessions/{id}/confirm", post(confirm))
}

/// How far ahead of the server's clock a browser's `sealed_at` may be (clock skew).
const MAX_CLOCK_SKEW_SECONDS: i64 = 120;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SecretQuery {
    /// The session's client secret (`cs_…_secret_…`): it authenticates the frame.
    #[param(required = true, value_type = String)]
    client_secret: Option<String>,
}

const SESSION_ID: &str = "The session's id, `cs_…`.";
const CLIENT_SECRET_MISMATCH: &str =
    "`invalid_client_secret` (`authentication_error`): the client secret is not this session's.";
const NO_SUCH_SESSION: &str = "`resource_missing`: no such session.";

/// Loads the session if `client_secret` is its secret.
async fn authorize(state: &AppState, id: &str, client_secret: &str) -> Result<Session, ApiError> {
    let session = state
        .store
        .session(id)
        .await?
        .ok_or_else(|| ApiError::not_found("session"))?;
    if !bool::from(
        session
            .client_secret_hash
            .ct_eq(&hash_secret(client_secret)),
    ) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid_client_secret",
            "The client secret does not match this session.",
        ));
    }
    Ok(session)
}

fn session_completed() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "invalid_request_error",
        "session_completed",
        "This session has already been paid.",
    )
}

fn ensure_open(session: &Session, now: i64) -> Result<(), ApiError> {
    let conflict =
        |code, message| ApiError::new(StatusCode::CONFLICT, "invalid_request_error", code, message);
    match session.effective_status(now) {
        "open" => Ok(()),
        "complete" => Err(session_completed()),
        "processing" => Err(conflict(
            "session_processing",
            "A payment for this session is being processed.",
        )),
        "locked" => Err(conflict(
            "session_locked",
            "Too many declined attempts: this session is locked. Start the checkout again.",
        )),
        _ => Err(ApiError::invalid(
            "session_expired",
            "This session has expired. Start the checkout again.",
        )),
    }
}

/// What the frame may know of a session, and the key to seal the card to.
///
/// Called by the hosted frame, authenticated by the session's client secret in the query;
/// no secret key.
#[utoipa::path(
    get,
    path = "/v1/frame/sessions/{id}",
    tag = "frame",
    operation_id = "frame_retrieve_session",
    security(()),
    params(("id" = String, Path, description = SESSION_ID), SecretQuery),
    responses(
        (status = 200, description = "The session's public view and the current encryption key.", body = FrameSession),
        (status = 400, description = "`missing_client_secret`.", body = ErrorBody),
        (status = 401, description = CLIENT_SECRET_MISMATCH, body = ErrorBody),
        (status = 404, description = NO_SUCH_SESSION, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn public_view(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<SecretQuery>,
) -> Result<Json<FrameSession>, ApiError> {
    let secret = q.client_secret.ok_or_else(|| {
        ApiError::invalid("missing_client_secret", "Pass the session's client_secret.")
            .param("client_secret")
    })?;
    let session = authorize(&state, &id, &secret).await?;
    let status = session.effective_status(state.now()).to_owned();
    Ok(Json(FrameSession {
        id: session.id,
        object: "session".into(),
        amount: session.amount,
        currency: session.currency,
        status,
        allowed_origins: session.allowed_origins,
        expires_at: session.expires_at,
        encryption_key: state.keyring.current(),
    }))
}

fn open_error(err: OpenError) -> ApiError {
    match err {
        OpenError::UnknownKey => ApiError::invalid(
            "unknown_key",
            "The envelope was sealed to an unknown or expired key. Reload the form and try again.",
        )
        .param("envelope.kid"),
        OpenError::Envelope(EnvelopeError::UnsupportedVersion) => ApiError::invalid(
            "unsupported_envelope_version",
            "Only envelope version 1 is supported.",
        )
        .param("envelope.v"),
        OpenError::Envelope(EnvelopeError::MalformedField(field)) => {
            let param = if field == "enc" {
                "envelope.enc"
            } else {
                "envelope.ct"
            };
            ApiError::invalid(
                "envelope_malformed",
                format!("The envelope's `{field}` is not valid base64url."),
            )
            .param(param)
        }
        OpenError::Envelope(EnvelopeError::MalformedPayload) => ApiError::invalid(
            "envelope_malformed",
            "The sealed card data is not in the expected format.",
        ),
        OpenError::Envelope(_) => ApiError::invalid(
            "envelope_invalid",
            "The envelope could not be opened: it was altered, or sealed for another session or key.",
        ),
    }
}

/// Pays a session with a card sealed in the browser (Envelope v1).
///
/// Called by the hosted frame, authenticated by `client_secret` in the body; no secret key.
/// The gateway opens the envelope, validates and vaults the card and authorizes it (and
/// captures it when the session's `capture` is `automatic`). A session pays once.
#[utoipa::path(
    post,
    path = "/v1/frame/sessions/{id}/confirm",
    tag = "frame",
    operation_id = "frame_confirm_session",
    security(()),
    params(("id" = String, Path, description = SESSION_ID)),
    request_body = ConfirmRequest,
    responses(
        (status = 200, description = "The card's token, what may be shown of it and the payment.", body = ConfirmResponse),
        (status = 400, description = "`invalid_json`, `invalid_body`, `invalid_content_type`; \
            envelope: `unknown_key`, `unsupported_envelope_version`, `envelope_malformed`, \
            `envelope_invalid`, `envelope_expired`; card (`card_error`): `incomplete_number`, \
            `invalid_number`, `invalid_expiry`, `expired_card`, `invalid_cvc`; \
            `session_expired`.", body = ErrorBody),
        (status = 401, description = CLIENT_SECRET_MISMATCH, body = ErrorBody),
        (status = 402, description = "`card_declined` (`card_error`): the issuer declined the card; \
            `decline_code` says why and `error.payment` names the failed payment.", body = ErrorBody),
        (status = 404, description = NO_SUCH_SESSION, body = ErrorBody),
        (status = 409, description = "`session_completed`, `session_processing` or \
            `session_locked` (too many declined attempts).", body = ErrorBody),
        (status = 413, description = openapi::BODY_TOO_LARGE, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
        (status = 503, description = openapi::LIVEMODE, body = ErrorBody),
    )
)]
pub async fn confirm(
    State(state): State<AppState>,
    request: CurrentRequest,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ConfirmRequest>,
) -> Result<Json<ConfirmResponse>, ApiError> {
    let session = authorize(&state, &id, &req.client_secret).await?;
    // Counted once the client secret matched, so guessing with wrong secrets (limited per
    // IP) cannot use up a shopper's attempts.
    state.rate_limits.confirm_session(&session.id)?;
    let now = state.now();
    ensure_open(&session, now)?;
    let payload = state
        .keyring
        .open(&session.id, &req.envelope, now)
        .map_err(open_error)?;
    if payload.sealed_at < now - state.settings.envelope_max_age_seconds {
        return Err(ApiError::invalid(
            "envelope_expired",
            "The card data was sealed too long ago. Submit again.",
        ));
    }
    if payload.sealed_at > now + MAX_CLOCK_SKEW_SECONDS {
        return Err(ApiError::invalid(
            "envelope_expired",
            "The card data carries a seal time in the future. Check the device's clock and submit again.",
        ));
    }
    let pan = Pan::parse(&payload.number)?;
    let expiry = Expiry::new(payload.exp_month, payload.exp_year, year_month(now))?;
    // Checked here and handed to the processor in this same request; never stored.
    let cvc = Cvc::parse(&payload.cvc, pan.brand())?;
    drop(payload);
    // Sealed (not stored) now: its fingerprint is the per-card limit's key.
    let vaulted = Vaulted::seal(&state, &pan, &expiry);
    // One card tried on many sessions (each under the per-session lock) is card testing
    // too: refused here, before the session is claimed, the card stored or the processor
    // called. Live mode only: test mode never reaches an issuer, so a stolen card learns
    // nothing there, while the published test cards are shared by every merchant's tests.
    if session.livemode
        && let Err(err) = state.rate_limits.card(&vaulted.sealed.fingerprint)
    {
        tracing::warn!(session = %session.id, "confirm rate-limited: card used too often");
        return Err(err);
    }

    // One confirm at a time per session: the claim is what prevents a double charge. The
    // card is vaulted in the claim's transaction (the token outlives this request; the PAN
    // does not).
    if !state
        .store
        .claim_session(&session.id, now, vaulted.new_card(&session, now))
        .await?
    {
        let current = state
            .store
            .session(&session.id)
            .await?
            .ok_or_else(|| ApiError::not_found("session"))?;
        ensure_open(&current, now)?;
        return Err(session_completed());
    }
    let actor = Actor::frame(&session.merchant_id, &request);
    // The entry is saved with the payment; the frame's confirm takes no Idempotency-Key (the
    // session claim guards it), so there is no answer to store.
    let along = |record: &PaymentRecord, _: Option<&NewRefund>| WriteAlong {
        audit: Some(actor.payment_entry("payment.created", record, serde_json::json!({}), now)),
        response: None,
    };
    let fingerprint = vaulted.sealed.fingerprint;
    let (token, payment_method) = (vaulted.token.clone(), vaulted.view.clone());
    let card = Card {
        pan,
        expiry,
        cvc: Some(cvc),
    };
    let result = flow::pay_session(&state, &session, card, vaulted.summary(), now, &along).await;
    if let Err(err) = &result {
        if err.processor_answered() {
            // Money may have moved: keep the session held rather than let another card in.
            tracing::error!(session = %session.id, error = %err, "confirm not recorded; session held");
        } else {
            // Nothing reached the processor: let the shopper retry.
            state.store.release_session(&session.id).await?;
        }
    }
    let mut record = result.map_err(ApiError::from)?;
    if matches!(
        record.payment.status(),
        Status::Authorized | Status::Captured
    ) {
        record.payment_method_id =
            save_for_customer(&state, &session, &actor, &token, &fingerprint, &record, now).await;
    }
    tracing::info!(
        session = %session.id,
        payment = %record.id,
        %token,
        brand = %payment_method.brand,
        last4 = %payment_method.last4,
        status = record.payment.status().as_str(),
        "card tokenized and authorized"
    );
    if record.payment.status() == Status::Failed {
        let code = record
            .payment
            .decline_code()
            .unwrap_or(DeclineCode::ProcessingError);
        return Err(declined(code, Some(record.id)));
    }
    Ok(Json(ConfirmResponse {
        token,
        payment_method,
        payment: serde_json::to_value(PaymentObject::from(&record))
            .map_err(|_| ApiError::internal())?,
    }))
}

/// A confirm's card, sealed by the vault and ready to be stored with the session's claim.
struct Vaulted {
    token: String,
    view: PaymentMethodView,
    bin: String,
    sealed: SealedPan,
}

impl Vaulted {
    fn seal(state: &AppState, pan: &Pan, expiry: &Expiry) -> Vaulted {
        Vaulted {
            token: crate::ids::new_id("tok"),
            view: PaymentMethodView {
                brand: pan.brand().map_or("unknown", |b| b.as_str()).to_owned(),
                last4: pan.last4().to_owned(),
                exp_month: u32::from(expiry.month()),
                exp_year: u32::from(expiry.year()),
            },
            bin: pan.bin().to_owned(),
            sealed: state.vault.seal(pan),
        }
    }

    fn new_card(&self, session: &Session, now: i64) -> NewCard {
        NewCard {
            token: self.token.clone(),
            merchant_id: session.merchant_id.clone(),
            session_id: Some(session.id.clone()),
            brand: self.view.brand.clone(),
            bin: self.bin.clone(),
            last4: self.view.last4.clone(),
            exp_month: self.view.exp_month,
            exp_year: self.view.exp_year,
            fingerprint: self.sealed.fingerprint.to_vec(),
            pan_ciphertext: self.sealed.pan_ciphertext.clone(),
            data_key_wrapped: self.sealed.data_key_wrapped.clone(),
            master_key_id: self.sealed.master_key_id.clone(),
            single_use: true,
            created_at: now,
        }
    }

    fn summary(&self) -> CardSummary {
        CardSummary {
            token: self.token.clone(),
            brand: self.view.brand.clone(),
            last4: self.view.last4.clone(),
            exp_month: self.view.exp_month,
            exp_year: self.view.exp_year,
        }
    }
}

/// Saves the card of an authorized payment for the session's customer when the session asked
/// for it; returns the payment method (`pm_…`). The payment stands whatever happens here, so
/// a failure to save is logged, not answered.
async fn save_for_customer(
    state: &AppState,
    session: &Session,
    actor: &Actor,
    token: &str,
    fingerprint: &[u8],
    record: &PaymentRecord,
    now: i64,
) -> Option<String> {
    let customer_id = session.customer_id.as_deref()?;
    if !session.save_payment_method {
        return None;
    }
    let card = SaveCard {
        merchant_id: &session.merchant_id,
        customer_id,
        card_token: token,
        payment_id: &record.id,
        fingerprint,
        brand: &record.brand,
        last4: &record.last4,
        exp_month: record.exp_month,
        exp_year: record.exp_year,
        now,
    };
    let attempt = || {
        state.store.save_card(&card, |pm| {
            actor.entry(
                "payment_method.attached",
                "payment_method",
                pm,
                Some(customer_id),
                serde_json::json!({"payment": record.id}),
                now,
            )
        })
    };
    // Saves of one customer's cards run one after another (the store locks the customer's
    // row), so two checkouts saving the same card find each other; a save that still fails
    // (a busy database) is tried once more.
    let saved = match attempt().await {
        Err(_) => attempt().await,
        first => first,
    };
    match saved {
        Ok(Saved::New(pm) | Saved::Existing(pm)) => Some(pm),
        Ok(Saved::CustomerErased) => None,
        Err(err) => {
            tracing::error!(payment = %record.id, error = %err, "the card could not be saved for the customer");
            None
        }
    }
}
