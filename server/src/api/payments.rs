//! The merchant's payment endpoints: retrieve and list (cursor pagination), charge a
//! customer's saved payment method, capture, cancel (void) and refund. Each is a thin shell
//! over `payments::flow`; each change is saved with its audit entry and, under an
//! Idempotency-Key, its answer, in one transaction (`flow::Along`).

use super::audit::{Actor, CurrentRequest};
use super::auth::AuthedMerchant;
use super::error::{ApiError, declined};
use super::idempotency::Answer;
use super::json::ApiJson;
use super::openapi::{self, ErrorBody};
use crate::payments::{CaptureMethod, Status, flow};
use crate::processors::DeclineCode;
use crate::state::AppState;
use crate::store::{NewRefund, PaymentRecord, WriteAlong};
// The payment object is rendered in `payments::view`, shared with webhook events.
pub use crate::payments::view::PaymentObject;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use payframe_core::{Amount, Currency};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/payments", get(list).post(create))
        .route("/v1/payments/{id}", get(retrieve))
        .route("/v1/payments/{id}/capture", post(capture))
        .route("/v1/payments/{id}/cancel", post(cancel))
        .route("/v1/payments/{id}/refunds", post(refund))
}

/// A page of payments, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PaymentList)]
pub struct PaymentListObject {
    /// Always `"list"`.
    #[schema(value_type = String, examples("list"))]
    pub object: &'static str,
    /// Always `"/v1/payments"`.
    #[schema(value_type = String)]
    pub url: &'static str,
    /// Whether more payments follow; pass the last id as `starting_after` to get them.
    pub has_more: bool,
    pub data: Vec<PaymentObject>,
}

/// The refund object.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Refund)]
pub struct RefundObject {
    /// `re_…`
    pub id: String,
    /// Always `"refund"`.
    #[schema(value_type = String, examples("refund"))]
    pub object: &'static str,
    /// The refunded payment (`pay_…`).
    pub payment: String,
    /// In minor units of `currency`.
    pub amount: i64,
    /// ISO 4217, lower case.
    pub currency: String,
    /// `succeeded`.
    #[schema(value_type = String)]
    pub status: &'static str,
    /// Unix seconds.
    pub created: i64,
}

impl RefundObject {
    pub fn new(record: &PaymentRecord, refund: &NewRefund) -> RefundObject {
        RefundObject {
            id: refund.id.clone(),
            object: "refund",
            payment: record.id.clone(),
            amount: refund.amount,
            currency: record.payment.currency().code(),
            status: "succeeded",
            created: refund.created_at,
        }
    }
}

/// The payment id of the path.
const PAYMENT_ID: &str = "The payment's id, `pay_…`.";
const NO_SUCH_PAYMENT: &str = "`resource_missing`: no such payment for this merchant.";

async fn load(
    state: &AppState,
    auth: &AuthedMerchant,
    id: &str,
) -> Result<PaymentRecord, ApiError> {
    state
        .store
        .payment(&auth.merchant.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("payment"))
}

/// Retrieves a payment.
///
/// A payment left `processing` by a processor timeout is resolved here by asking the
/// processor again.
#[utoipa::path(
    get,
    path = "/v1/payments/{id}",
    tag = "payments",
    operation_id = "retrieve_payment",
    security(("secret_key" = [])),
    params(("id" = String, Path, description = PAYMENT_ID)),
    responses(
        (status = 200, description = "The payment.", body = PaymentObject),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 404, description = NO_SUCH_PAYMENT, body = ErrorBody),
        (status = 409, description = "`payment_changed`: the payment changed while the request \
            ran; retry.", body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
        (status = 502, description = openapi::PROCESSOR, body = ErrorBody),
        (status = 503, description = openapi::LIVEMODE, body = ErrorBody),
    )
)]
pub async fn retrieve(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    request: CurrentRequest,
    Path(id): Path<String>,
) -> Result<Json<PaymentObject>, ApiError> {
    let record = load(&state, &auth, &id).await?;
    let actor = Actor {
        actor: crate::payments::Actor::System.to_string(),
        ..Actor::merchant(&auth, &request)
    };
    let now = state.now();
    // A payment left `processing` by a processor timeout is resolved by asking again; the
    // entry is written only if that changes it.
    let record = flow::resolve(&state, record, now, &|record, _| WriteAlong {
        audit: Some(actor.payment_entry("payment.resolved", record, json!({}), now)),
        response: None,
    })
    .await?;
    Ok(Json(PaymentObject::from(&record)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// How many payments to return, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100, default = 10)]
    limit: Option<i64>,
    /// A payment id (`pay_…`): return the payments after it (older than it).
    starting_after: Option<String>,
}

/// Lists this merchant's payments, newest first, with cursor pagination.
#[utoipa::path(
    get,
    path = "/v1/payments",
    tag = "payments",
    operation_id = "list_payments",
    security(("secret_key" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of payments.", body = PaymentListObject),
        (status = 400, description = "`invalid_limit`: `limit` is not an integer between 1 and 100.", body = ErrorBody),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<PaymentListObject>, ApiError> {
    // `limit` is the only field that can fail to parse; answer in the API's error shape.
    let Query(q) = query.map_err(|_| {
        ApiError::invalid(
            "invalid_limit",
            "limit must be an integer between 1 and 100.",
        )
        .param("limit")
    })?;
    let limit = q.limit.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(
            ApiError::invalid("invalid_limit", "limit must be between 1 and 100.").param("limit"),
        );
    }
    // One more than asked tells whether another page exists.
    let mut page = state
        .store
        .payments(&auth.merchant.id, limit + 1, q.starting_after.as_deref())
        .await?;
    let has_more = page.len() as i64 > limit;
    page.truncate(limit as usize);
    Ok(Json(PaymentListObject {
        object: "list",
        url: "/v1/payments",
        has_more,
        data: page.iter().map(PaymentObject::from).collect(),
    }))
}

/// The optional body of capture and refund; an empty body means all defaults.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmountBody {
    /// In minor units. Capture: at most the authorized amount (default: all of it).
    /// Refund: at most what is captured and not yet refunded (default: all of that).
    #[serde(default)]
    #[schema(examples(500))]
    amount: Option<i64>,
}

/// An optional JSON body: empty means all defaults.
fn optional_body<T: DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|_| {
        ApiError::invalid(
            "invalid_body",
            "The body must be JSON such as {\"amount\": 500}, or empty.",
        )
    })
}

fn amount(body: &AmountBody) -> Result<Option<Amount>, ApiError> {
    body.amount
        .map(Amount::new)
        .transpose()
        .map_err(|e| ApiError::invalid("invalid_amount", e.to_string()).param("amount"))
}

/// Captures an authorized payment, in full or in part.
#[utoipa::path(
    post,
    path = "/v1/payments/{id}/capture",
    tag = "payments",
    operation_id = "capture_payment",
    security(("secret_key" = [])),
    params(("id" = String, Path, description = PAYMENT_ID), openapi::IdempotencyKey),
    request_body(content = Option<AmountBody>, description = "Optional; empty captures the whole amount."),
    responses(
        (status = 200, description = "The captured payment.", body = PaymentObject),
        (status = 400, description = "`invalid_body`, `invalid_amount`, `amount_too_large` \
            or `invalid_idempotency_key`.", body = ErrorBody),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 402, description = openapi::PROCESSOR_DECLINED, body = ErrorBody),
        (status = 404, description = NO_SUCH_PAYMENT, body = ErrorBody),
        (status = 409, description = openapi::PAYMENT_CONFLICT, body = ErrorBody),
        (status = 413, description = openapi::BODY_TOO_LARGE, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
        (status = 502, description = openapi::PROCESSOR, body = ErrorBody),
        (status = 503, description = openapi::LIVEMODE, body = ErrorBody),
    )
)]
pub async fn capture(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    request: CurrentRequest,
    answer: Answer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let amount = amount(&optional_body(&body)?)?;
    let _guard = state.payment_locks.lock(&id).await;
    let record = load(&state, &auth, &id).await?;
    let (actor, now) = (Actor::merchant(&auth, &request), state.now());
    flow::capture(&state, record, amount, auth.actor(), now, &|record, _| {
        let details = json!({"amount_captured": record.payment.amount_captured()});
        WriteAlong {
            audit: Some(actor.payment_entry("payment.captured", record, details, now)),
            response: answer.json(StatusCode::OK, &PaymentObject::from(record)),
        }
    })
    .await?;
    Ok(answer.into_response())
}

/// Cancels a payment that is not captured; an authorized one is voided at the processor.
#[utoipa::path(
    post,
    path = "/v1/payments/{id}/cancel",
    tag = "payments",
    operation_id = "cancel_payment",
    security(("secret_key" = [])),
    params(("id" = String, Path, description = PAYMENT_ID), openapi::IdempotencyKey),
    responses(
        (status = 200, description = "The canceled payment.", body = PaymentObject),
        (status = 400, description = "`invalid_idempotency_key`.", body = ErrorBody),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 402, description = openapi::PROCESSOR_DECLINED, body = ErrorBody),
        (status = 404, description = NO_SUCH_PAYMENT, body = ErrorBody),
        (status = 409, description = openapi::PAYMENT_CONFLICT, body = ErrorBody),
        (status = 413, description = openapi::BODY_TOO_LARGE, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
        (status = 502, description = openapi::PROCESSOR, body = ErrorBody),
        (status = 503, description = openapi::LIVEMODE, body = ErrorBody),
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    request: CurrentRequest,
    answer: Answer,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let _guard = state.payment_locks.lock(&id).await;
    let record = load(&state, &auth, &id).await?;
    let (actor, now) = (Actor::merchant(&auth, &request), state.now());
    flow::cancel(&state, record, auth.actor(), now, &|record, _| WriteAlong {
        audit: Some(actor.payment_entry("payment.canceled", record, json!({}), now)),
        response: answer.json(StatusCode::OK, &PaymentObject::from(record)),
    })
    .await?;
    Ok(answer.into_response())
}

/// Refunds a captured payment, in full or in part.
#[utoipa::path(
    post,
    path = "/v1/payments/{id}/refunds",
    tag = "payments",
    operation_id = "refund_payment",
    security(("secret_key" = [])),
    params(("id" = String, Path, description = PAYMENT_ID), openapi::IdempotencyKey),
    request_body(content = Option<AmountBody>, description = "Optional; empty refunds all that is left."),
    responses(
        (status = 200, description = "The refund.", body = RefundObject),
        (status = 400, description = "`invalid_body`, `invalid_amount`, `refund_exceeds_captured` \
            or `invalid_idempotency_key`.", body = ErrorBody),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 402, description = openapi::PROCESSOR_DECLINED, body = ErrorBody),
        (status = 404, description = NO_SUCH_PAYMENT, body = ErrorBody),
        (status = 409, description = openapi::PAYMENT_CONFLICT, body = ErrorBody),
        (status = 413, description = openapi::BODY_TOO_LARGE, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
        (status = 502, description = openapi::PROCESSOR, body = ErrorBody),
        (status = 503, description = openapi::LIVEMODE, body = ErrorBody),
    )
)]
pub async fn refund(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    request: CurrentRequest,
    answer: Answer,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let amount = amount(&optional_body(&body)?)?;
    let _guard = state.payment_locks.lock(&id).await;
    let record = load(&state, &auth, &id).await?;
    let (actor, now) = (Actor::merchant(&auth, &request), state.now());
    flow::refund(
        &state,
        record,
        amount,
        auth.actor(),
        now,
        &|record, refund| {
            let refund = refund.expect("a refund's save adds the refund");
            let details = json!({"refund": refund.id, "amount": refund.amount});
            WriteAlong {
                audit: Some(actor.payment_entry("payment.refunded", record, details, now)),
                response: answer.json(StatusCode::OK, &RefundObject::new(record, refund)),
            }
        },
    )
    .await?;
    Ok(answer.into_response())
}

/// `POST /v1/payments`: charge a customer's saved payment method (merchant-initiated).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePayment {
    /// In minor units of `currency`; positive.
    #[schema(examples(1999))]
    amount: i64,
    /// ISO 4217 code, any case.
    #[schema(examples("brl"))]
    currency: String,
    /// The customer (`cus_…`).
    customer: String,
    /// One of the customer's active saved payment methods (`pm_…`).
    payment_method: String,
    /// `automatic` (default) captures on authorization; `manual` waits for a capture call.
    #[serde(default)]
    #[schema(examples("automatic", "manual"))]
    capture_method: Option<String>,
    /// The merchant's own reference (up to 200 characters); must not contain a card number.
    #[serde(default)]
    #[schema(max_length = 200)]
    reference: Option<String>,
}

/// Charges a customer's saved payment method.
///
/// A merchant-initiated payment: no shopper is present and no CVC is sent. It follows the
/// same state machine as a session's payment; a declined card answers 402 with the failed
/// payment's id in `error.payment`.
#[utoipa::path(
    post,
    path = "/v1/payments",
    tag = "payments",
    operation_id = "create_payment",
    security(("secret_key" = [])),
    params(openapi::IdempotencyKey),
    request_body = CreatePayment,
    responses(
        (status = 200, description = "The payment (`authorized` or `captured`).", body = PaymentObject),
        (status = 400, description = "`invalid_amount`, `invalid_currency`, `invalid_capture`, \
            `invalid_reference`, `reference_contains_card_number`, `payment_method_unusable` \
            (detached or erased), `expired_card` (`card_error`), `invalid_json`, `invalid_body`, \
            `invalid_content_type` or `invalid_idempotency_key`.", body = ErrorBody),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 402, description = "`card_declined` (`card_error`): the issuer declined the card; \
            `decline_code` says why and `error.payment` names the failed payment.", body = ErrorBody),
        (status = 404, description = "`resource_missing`: no such customer, or no such payment \
            method of that customer (`param` says which).", body = ErrorBody),
        (status = 409, description = openapi::IDEMPOTENCY_CONFLICT, body = ErrorBody),
        (status = 413, description = openapi::BODY_TOO_LARGE, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
        (status = 502, description = openapi::PROCESSOR, body = ErrorBody),
        (status = 503, description = openapi::LIVEMODE, body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    request: CurrentRequest,
    answer: Answer,
    ApiJson(body): ApiJson<CreatePayment>,
) -> Result<Response, ApiError> {
    let amount = Amount::new(body.amount)
        .map_err(|e| ApiError::invalid("invalid_amount", e.to_string()).param("amount"))?;
    let currency = Currency::parse(&body.currency)
        .map_err(|e| ApiError::invalid("invalid_currency", e.to_string()).param("currency"))?;
    let capture_method = match body.capture_method.as_deref() {
        None => CaptureMethod::Automatic,
        Some(text) => CaptureMethod::parse(text).ok_or_else(|| {
            ApiError::invalid(
                "invalid_capture",
                "capture_method must be `automatic` or `manual`.",
            )
            .param("capture_method")
        })?,
    };
    super::sessions::check_reference(body.reference.as_deref())?;
    let customer = super::customers::load_customer(&state, &auth, &body.customer)
        .await
        .map_err(|e| e.param("customer"))?;
    let payment_method = state
        .store
        .payment_method(&auth.merchant.id, &body.payment_method)
        .await?
        .filter(|pm| pm.customer_id == customer.id)
        .ok_or_else(|| ApiError::not_found("payment method").param("payment_method"))?;
    if customer.erased_at.is_some() {
        return Err(super::error::payment_method_unusable());
    }
    let (actor, now) = (Actor::merchant(&auth, &request), state.now());
    let charge = flow::SavedCharge {
        merchant_id: &auth.merchant.id,
        livemode: auth.livemode,
        payment_method: &payment_method,
        amount,
        currency,
        capture_method,
        reference: body.reference,
        actor: auth.actor(),
    };
    let record = flow::charge_saved(&state, charge, now, &|record, _| {
        let details = json!({"payment_method": payment_method.id, "amount": record.payment.amount().minor_units()});
        WriteAlong {
            audit: Some(actor.payment_entry("payment.created", record, details, now)),
            // A declined card is a stored failed payment, answered 402 with its id — so the
            // decline is stored with it too.
            response: if record.payment.status() == Status::Failed {
                let code = record.payment.decline_code().unwrap_or(DeclineCode::ProcessingError);
                answer.error(&declined(code, Some(record.id.clone())))
            } else {
                answer.json(StatusCode::OK, &PaymentObject::from(record))
            },
        }
    })
    .await?;
    tracing::info!(
        payment = %record.id,
        payment_method = %payment_method.id,
        status = record.payment.status().as_str(),
        "saved payment method charged"
    );
    Ok(answer.into_response())
}
