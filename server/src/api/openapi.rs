//! `GET /openapi.json`: the OpenAPI 3.1 document of this gateway, generated from the
//! handlers' `#[utoipa::path]` annotations and the wire types' `ToSchema` derives, so it
//! cannot drift from the code. `server/tests/openapi.rs` checks that every route the router
//! serves is in it.

use super::{audit, customers, events, frame, frame_page, payments, sessions, webhooks};
use axum::http::header;
use axum::response::IntoResponse;
use std::sync::LazyLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{IntoParams, Modify, OpenApi};

pub use payframe_core::api::ErrorBody;

// Error descriptions shared by several operations; each names the stable `code`s.
pub const UNAUTHORIZED: &str = "`missing_api_key` or `invalid_api_key` \
    (`authentication_error`): send `Authorization: Bearer sk_…`.";
pub const IDEMPOTENCY_CONFLICT: &str = "`idempotency_key_reused` (the key was used with another \
    request) or `idempotency_key_in_use` (the first request with it is still running); \
    type `idempotency_error`.";
pub const PAYMENT_CONFLICT: &str = "`payment_invalid_state` (not allowed in the payment's \
    status), `payment_changed` (changed while the request ran; fetch and retry), \
    `payment_record_inconsistent`, or, with type `idempotency_error`, \
    `idempotency_key_reused` / `idempotency_key_in_use`.";
pub const BODY_TOO_LARGE: &str = "`body_too_large`: bodies are limited to 16 KiB.";
pub const INTERNAL: &str = "`internal_error` (`api_error`): retry later.";
pub const PROCESSOR: &str = "`processor_timeout`, `processor_unavailable` or \
    `processor_invalid_request` (`api_error`): the processor did not complete the request; \
    retrying is safe.";
pub const PROCESSOR_DECLINED: &str =
    "`card_declined` (`card_error`): the processor refused the operation; see `decline_code`.";
pub const RATE_LIMITED: &str = "`rate_limited` (`rate_limit_error`): too many requests — per \
    API key on the merchant API; per client IP, per session and per card on the frame. \
    `Retry-After` says how many seconds to wait.";
pub const LIVEMODE: &str = "`livemode_unavailable` (`api_error`): live mode has no processor \
    connector configured on this gateway.";

/// The `Idempotency-Key` header of the merchant's POSTs.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Only documents the header; `idempotency::layer` reads it.
pub struct IdempotencyKey {
    /// 1 to 255 characters. The first request with a key runs and its response (errors
    /// included) is kept for 24 hours; a retry with the same key and the same request gets
    /// that response again, with `Idempotent-Replayed: true`, without running twice. Sessions
    /// and payment changes store their response in the same transaction as the change.
    #[param(rename = "Idempotency-Key", value_type = String, required = false, min_length = 1, max_length = 255)]
    key: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Payframe API",
        version = env!("CARGO_PKG_VERSION"),
        description = "The merchant API of a Payframe gateway and the endpoints its hosted card \
            frame calls. JSON, amounts in minor units, ISO 4217 currencies, prefixed ids, cursor \
            pagination. Every error is `{\"error\": {\"type\", \"code\", \"message\", \"param\", \
            \"decline_code\"}}` (`ErrorBody`) with a stable `code`; a path the gateway does not \
            serve answers 404 `resource_missing`, a method it does not allow 405 \
            `method_not_allowed`.",
    ),
    paths(
        sessions::create,
        sessions::retrieve,
        payments::list,
        payments::retrieve,
        payments::capture,
        payments::cancel,
        payments::refund,
        payments::create,
        customers::create,
        customers::list,
        customers::retrieve,
        customers::update,
        customers::erase,
        customers::payment_methods,
        customers::detach,
        customers::transactions,
        customers::export,
        audit::list,
        webhooks::create,
        webhooks::list,
        webhooks::retrieve,
        webhooks::delete,
        events::list,
        events::retrieve,
        events::redeliver,
        frame::public_view,
        frame::confirm,
        super::healthz,
        super::readyz,
        super::metrics,
        openapi_json,
        frame_page::embed_js,
        frame_page::index,
        frame_page::asset,
    ),
    components(schemas(
        ErrorBody,
        payframe_core::api::ErrorDetail,
        payframe_core::Envelope,
        sessions::SessionObject,
        payments::PaymentObject,
        payments::PaymentListObject,
        payments::RefundObject,
        payments::CreatePayment,
        customers::CustomerParams,
        customers::AddressObject,
        customers::CustomerObject,
        customers::CustomerListObject,
        customers::PaymentMethodObject,
        customers::SavedCardObject,
        customers::PaymentMethodListObject,
        customers::TransactionObject,
        customers::TransactionListObject,
        customers::ExportObject,
        audit::AuditEntryObject,
        audit::AuditListObject,
        webhooks::CreateWebhookEndpoint,
        webhooks::WebhookEndpointObject,
        webhooks::WebhookEndpointListObject,
        webhooks::DeletedWebhookEndpointObject,
        events::EventObject,
        events::EventDataObject,
        events::DeliveryObject,
        events::AttemptObject,
        events::EventListObject,
    )),
    modifiers(&Fixups),
    tags(
        (name = "sessions", description = "Checkout sessions, created by the merchant's server."),
        (name = "payments", description = "Payments: retrieve, list, charge a saved payment \
            method, capture, cancel, refund."),
        (name = "customers", description = "Customers, their saved payment methods and \
            transaction history; data-protection export and erasure (GDPR, LGPD)."),
        (name = "audit", description = "The append-only audit log of who changed what."),
        (name = "webhooks", description = "Webhook endpoints and the events delivered to them. \
            Each event is POSTed as JSON with `Payframe-Signature: t=<unix seconds>,v1=<hex \
            HMAC-SHA256(secret, \"<t>.<raw body>\")>`, keyed with the endpoint's whole `whsec_…` \
            secret. A 2xx answer within 10 s counts as delivered; redirects are not followed. \
            Otherwise the delivery is retried after 1 min, 5 min, 30 min, 2 h, 5 h, 10 h, 12 h, \
            18 h and 24 h (each ±10 % jitter; ten attempts over about three days), then marked \
            `failed`. Delivery is at least once: de-duplicate on the event `id`."),
        (name = "frame", description = "Called by the hosted card frame, authenticated by the \
            session's client secret instead of a secret key."),
        (name = "ops", description = "Health, readiness, Prometheus metrics and this document."),
        (name = "static", description = "The frame's files and `embed.js`."),
    )
)]
pub struct ApiDoc;

/// What the derive cannot express.
struct Fixups;

/// An optional body (`Option<T>`) is documented by the derive as "`T` or JSON `null`"; here
/// it means "`T`, or no body at all" (the body is not `required`), and `null` is refused.
fn optional_body_is_absent_not_null(operation: &mut utoipa::openapi::path::Operation) {
    let Some(body) = operation.request_body.as_mut() else {
        return;
    };
    for content in body.content.values_mut() {
        if let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema {
            let null = serde_json::json!({"type": "null"});
            let mut others = one_of
                .items
                .iter()
                .filter(|item| serde_json::to_value(item).ok().as_ref() != Some(&null));
            if let (Some(only), None) = (others.next(), others.next()) {
                content.schema = Some(only.clone());
            }
        }
    }
}

/// Every `/v1/…` operation is rate limited (`api::rate_limit`): one 429 answer for all,
/// added here rather than repeated in each handler's annotation.
fn rate_limited_response() -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, ObjectBuilder, ResponseBuilder, Type, header};
    ResponseBuilder::new()
        .description(RATE_LIMITED)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .header(
            "Retry-After",
            header::HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1)),
                )
                .description(Some("Seconds until a request may succeed again."))
                .build(),
        )
        .build()
}

impl Modify for Fixups {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            if let Some(post) = item.post.as_mut() {
                optional_body_is_absent_not_null(post);
            }
            if path.starts_with("/v1/") {
                for operation in [&mut item.get, &mut item.post, &mut item.delete]
                    .into_iter()
                    .flatten()
                {
                    operation
                        .responses
                        .responses
                        .insert("429".into(), rate_limited_response().into());
                }
            }
        }
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "secret_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("sk_test_… / sk_live_…")
                    .description(Some(
                        "The merchant's secret key, `Authorization: Bearer sk_…`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The operator's `--metrics-token`, when one is set."))
                    .build(),
            ),
        );
        // payframe-core keeps the confirm answer's payment as free JSON (the frame does not
        // need its shape); it is the merchant API's payment object.
        if let Some(RefOr::T(Schema::Object(confirm))) =
            components.schemas.get_mut("ConfirmResponse")
        {
            let mut payment = Ref::from_schema_name("Payment");
            payment.description = "The payment object, as the merchant API shows it.".into();
            confirm.properties.insert("payment".into(), payment.into());
            // Always sent; core's `#[serde(default)]` is for reading, not a missing field.
            if !confirm.required.iter().any(|r| r == "payment") {
                confirm.required.push("payment".into());
            }
        }
    }
}

/// The document, rendered once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes")
});

/// This OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "ops",
    operation_id = "openapi",
    security(()),
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API.", body = Object,
            content_type = "application/json"),
    )
)]
pub async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}
