//! A JSON body extractor whose rejections use the API error shape. Its messages name the
//! problem but never echo the body, which on frame routes could hold card data.

use super::error::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::invalid(
                    "invalid_content_type",
                    "Send the body as JSON with `Content-Type: application/json`.",
                ),
                JsonRejection::JsonDataError(_) => ApiError::invalid(
                    "invalid_body",
                    "The JSON body is missing a required field or has a field of the wrong type.",
                ),
                JsonRejection::BytesRejection(_)
                    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE =>
                {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "invalid_request_error",
                        "body_too_large",
                        "The request body is too large.",
                    )
                }
                _ => ApiError::invalid("invalid_json", "The request body is not valid JSON."),
            }),
        }
    }
}
