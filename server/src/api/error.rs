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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                kind: self.kind.to_owned(),
                code: self.code.to_owned(),
                message: self.message,
                param: self.param.map(str::to_owned),
                decline_code: None,
            },
        };
        (self.status, Json(body)).into_response()
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
