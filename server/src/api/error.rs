//! The one HTTP error shape: `{"error":{"type","code","message","param"}}`. Every layer's
//! error is mapped here once; messages never carry card data.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use payframe_core::api::{ErrorBody, ErrorDetail};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: &'static str,
    pub message: String,
    pub param: Option<&'static str>,
    pub decline_code: Option<&'static str>,
    pub payment: Option<String>,
    /// Seconds to send as `Retry-After` (429 answers). Four bytes, so the error stays
    /// small enough to return by value (clippy's `result_large_err`).
    pub retry_after: Option<std::num::NonZeroU32>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            kind,
            code,
            message: message.into(),
            param: None,
            decline_code: None,
            payment: None,
            retry_after: None,
        }
    }

    pub fn invalid(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            code,
            message,
        )
    }

    pub fn param(mut self, param: &'static str) -> ApiError {
        self.param = Some(param);
        self
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "resource_missing",
            format!("No such {what}."),
        )
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "internal_error",
            "Something went wrong on our side. Please retry.",
        )
    }
}

impl ApiError {
    /// The body this error answers with (rendered on its own where an answer is stored
    /// before it is sent, see `idempotency::Answer`).
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                kind: self.kind.to_owned(),
                code: self.code.to_owned(),
                message: self.message.clone(),
                param: self.param.map(str::to_owned),
                decline_code: self.decline_code.map(str::to_owned),
                payment: self.payment.clone(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.get().into());
        }
        response
    }
}

/// Internal failures are logged with their cause and answered without it.
macro_rules! internal_from {
    ($($t:ty),*) => {$(
        impl From<$t> for ApiError {
            fn from(err: $t) -> ApiError {
                tracing::error!(error = %err, "internal error");
                ApiError::internal()
            }
        }
    )*};
}
internal_from!(
    crate::store::StoreError,
    crate::vault::VaultError,
    crate::keys::KeyringError
);

impl From<crate::payments::flow::FlowError> for ApiError {
    fn from(err: crate::payments::flow::FlowError) -> ApiError {
        use crate::payments::flow::FlowError;
        match err {
            FlowError::Transition(e) => {
                let status = if e.param().is_some() {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::CONFLICT
                };
                let mut api =
                    ApiError::new(status, "invalid_request_error", e.code(), e.to_string());
                api.param = e.param();
                api
            }
            FlowError::Declined(code) => declined(code, None),
            FlowError::Processor(e) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "api_error",
                e.code(),
                "The payment processor did not complete the request. Retrying is safe.",
            ),
            FlowError::Conflict => ApiError::new(
                StatusCode::CONFLICT,
                "invalid_request_error",
                "payment_changed",
                "The payment changed while this request ran. Fetch it and retry.",
            ),
            FlowError::LiveModeUnavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "api_error",
                "livemode_unavailable",
                "Live mode has no processor connector configured on this gateway.",
            ),
            FlowError::Card(e) => ApiError::from(e).param("payment_method"),
            FlowError::PaymentMethodUnusable => payment_method_unusable(),
            FlowError::InvalidSession | FlowError::Store(_) | FlowError::Unrecorded(_) => {
                tracing::error!(error = %err, "payment flow failed");
                ApiError::internal()
            }
        }
    }
}

/// A saved payment method that was detached or erased (its card crypto-shredded).
pub fn payment_method_unusable() -> ApiError {
    ApiError::invalid(
        "payment_method_unusable",
        "This payment method was detached or erased and can no longer be charged.",
    )
    .param("payment_method")
}

/// 402 for a card the issuer (or the simulator) declined.
pub fn declined(code: crate::processors::DeclineCode, payment: Option<String>) -> ApiError {
    use crate::processors::DeclineCode as D;
    let message = match code {
        D::DoNotHonor => "Your card was declined.",
        D::InvalidNumber => "Your card number is invalid.",
        D::InsufficientFunds => "Your card has insufficient funds.",
        D::ExpiredCard => "Your card has expired.",
        D::IncorrectCvc => "Your card's security code is incorrect.",
        D::IssuerUnavailable | D::ProcessingError => {
            "An error occurred while processing your card. Try again in a little bit."
        }
    };
    let mut err = ApiError::new(
        StatusCode::PAYMENT_REQUIRED,
        "card_error",
        "card_declined",
        message,
    );
    err.decline_code = Some(code.as_str());
    err.payment = payment;
    err
}

impl From<payframe_core::CardError> for ApiError {
    fn from(err: payframe_core::CardError) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "card_error",
            err.code(),
            err.to_string(),
        )
        .param(err.param())
    }
}
