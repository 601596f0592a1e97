//! A processor reached over HTTP, and the service side of the same protocol.
//!
//! Several gateway instances must talk to one processor: an authorization placed through
//! one instance is captured or refunded through another. In test mode that processor is
//! the simulator, so `payframe simulator` serves a [`Simulator`](super::simulator) over
//! this protocol and every instance's [`RemoteConnector`] points at it. Live mode uses
//! the same connector against the operator's processor adapter.
//!
//! The protocol is JSON over HTTP, one endpoint per [`Connector`] call:
//! `POST /v1/authorize|capture|void|refund` answer `200 {"result":"approved",
//! "processor_reference"}` or `200 {"result":"declined","response_code":"05"}`;
//! `GET /v1/operations/{reference}` answers the recorded outcome or `404`. Errors are
//! `503 {"error":"unavailable"}` (nothing was done), `504 {"error":"timeout"}` (unknown)
//! and `422 {"error":"invalid_request","message"}`. Any other failure, or no answer in
//! time, is a timeout: the operation may have happened, and its reference resolves it.

use super::{
    AuthorizeRequest, CaptureRequest, Card, Connector, ConnectorFuture, Outcome, ProcessorError,
    RefundRequest, ResponseCode, VoidRequest,
};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use payframe_core::card::year_month;
use payframe_core::{Amount, Currency, Cvc, Expiry, Pan};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

/// The card on the wire. Only ever sent to the processor; `Debug` is not derived.
#[derive(Serialize, Deserialize)]
struct WireCard {
    number: Zeroizing<String>,
    exp_month: u32,
    exp_year: u32,
    cvc: Option<Zeroizing<String>>,
}

#[derive(Serialize, Deserialize)]
struct WireAuthorize {
    reference: String,
    amount: i64,
    currency: String,
    card: WireCard,
}

/// Capture, void (no amount) and refund.
#[derive(Serialize, Deserialize)]
struct WireFollowUp {
    reference: String,
    processor_reference: String,
    amount: Option<i64>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
enum WireOutcome {
    Approved { processor_reference: String },
    Declined { response_code: String },
}

#[derive(Serialize, Deserialize)]
struct WireError {
    error: String,
    #[serde(default)]
    message: String,
}

impl From<&Outcome> for WireOutcome {
    fn from(outcome: &Outcome) -> WireOutcome {
        match outcome {
            Outcome::Approved {
                processor_reference,
            } => WireOutcome::Approved {
                processor_reference: processor_reference.clone(),
            },
            Outcome::Declined { response_code, .. } => WireOutcome::Declined {
                response_code: response_code.as_str().to_owned(),
            },
        }
    }
}

impl WireOutcome {
    fn into_outcome(self) -> Result<Outcome, ProcessorError> {
        match self {
            WireOutcome::Approved {
                processor_reference,
            } => Ok(Outcome::Approved {
                processor_reference,
            }),
            WireOutcome::Declined { response_code } => {
                let code = ResponseCode::parse(&response_code).ok_or_else(|| {
                    ProcessorError::InvalidRequest(format!("unknown response code {response_code}"))
                })?;
                match code.decline_code() {
                    Some(decline_code) => Ok(Outcome::Declined {
                        response_code: code,
                        decline_code,
                    }),
                    None => Err(ProcessorError::InvalidRequest(
                        "a decline with code 00".into(),
                    )),
                }
            }
        }
    }
}

/// Checks a live-mode processor URL: live calls carry the card number and CVC, so they go
/// over https; plain http is accepted only to a loopback address (a sidecar on the same
/// host that terminates TLS, or a local test double).
pub fn check_live_url(raw: &str) -> Result<(), String> {
    // The URL may carry credentials (`https://user:secret@…`): errors never repeat it.
    let url =
        url::Url::parse(raw).map_err(|e| format!("the live processor URL is not a URL: {e}"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(
            "the live processor URL must use https (card numbers travel to it); \
                  plain http is allowed only to a loopback address"
                .to_owned(),
        ),
    }
}

/// The gateway's side: a [`Connector`] that calls a processor service.
pub struct RemoteConnector {
    base_url: String,
    client: reqwest::Client,
}

impl RemoteConnector {
    /// `base_url` like `http://127.0.0.1:9090`; calls give up after `timeout`.
    pub fn new(base_url: &str, timeout: Duration) -> RemoteConnector {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client without TLS configuration builds");
        RemoteConnector {
            base_url: base_url.trim_end_matches('/').to_owned(),
            client,
        }
    }

    async fn post<T: Serialize>(&self, path: &str, body: &T) -> Result<Outcome, ProcessorError> {
        let response = self
            .client
            .post(format!("{}{path}", self.base_url))
            .json(body)
            .send()
            .await
            .map_err(sent_error)?;
        answer(response)
            .await?
            .ok_or(ProcessorError::InvalidRequest("unknown endpoint".into()))
    }
}

/// A request that failed to reach the processor changed nothing; one that may have
/// reached it is a timeout, resolved later by its reference.
fn sent_error(err: reqwest::Error) -> ProcessorError {
    if err.is_connect() {
        ProcessorError::Unavailable
    } else {
        ProcessorError::Timeout
    }
}

async fn answer(response: reqwest::Response) -> Result<Option<Outcome>, ProcessorError> {
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if status.is_success() {
        let outcome: WireOutcome = response.json().await.map_err(|_| ProcessorError::Timeout)?;
        return outcome.into_outcome().map(Some);
    }
    let error: Option<WireError> = response.json().await.ok();
    Err(match (status.as_u16(), error) {
        (503, Some(e)) if e.error == "unavailable" => ProcessorError::Unavailable,
        (422, Some(e)) if e.error == "invalid_request" => ProcessorError::InvalidRequest(e.message),
        _ => ProcessorError::Timeout,
    })
}

impl Connector for RemoteConnector {
    fn name(&self) -> &'static str {
        "remote"
    }

    fn authorize(&self, request: AuthorizeRequest) -> ConnectorFuture<'_, Outcome> {
        let body = WireAuthorize {
            reference: request.reference,
            amount: request.amount.minor_units(),
            currency: request.currency.code().to_owned(),
            card: WireCard {
                number: Zeroizing::new(request.card.pan.expose().to_owned()),
                exp_month: u32::from(request.card.expiry.month()),
                exp_year: u32::from(request.card.expiry.year()),
                cvc: request
                    .card
                    .cvc
                    .as_ref()
                    .map(|c| Zeroizing::new(c.expose().to_owned())),
            },
        };
        Box::pin(async move { self.post("/v1/authorize", &body).await })
    }

    fn capture(&self, request: CaptureRequest) -> ConnectorFuture<'_, Outcome> {
        let body = WireFollowUp {
            reference: request.reference,
            processor_reference: request.processor_reference,
            amount: Some(request.amount.minor_units()),
        };
        Box::pin(async move { self.post("/v1/capture", &body).await })
    }

    fn void(&self, request: VoidRequest) -> ConnectorFuture<'_, Outcome> {
        let body = WireFollowUp {
            reference: request.reference,
            processor_reference: request.processor_reference,
            amount: None,
        };
        Box::pin(async move { self.post("/v1/void", &body).await })
    }

    fn refund(&self, request: RefundRequest) -> ConnectorFuture<'_, Outcome> {
        let body = WireFollowUp {
            reference: request.reference,
            processor_reference: request.processor_reference,
            amount: Some(request.amount.minor_units()),
        };
        Box::pin(async move { self.post("/v1/refund", &body).await })
    }

    fn status<'a>(&'a self, reference: &'a str) -> ConnectorFuture<'a, Option<Outcome>> {
        Box::pin(async move {
            let response = self
                .client
                .get(format!("{}/v1/operations/{reference}", self.base_url))
                .send()
                .await
                .map_err(sent_error)?;
            answer(response).await
        })
    }
}

/// The service side: any connector (in practice the simulator) served over the protocol.
pub fn service(connector: Arc<dyn Connector>) -> Router {
    Router::new()
        .route("/v1/authorize", post(serve_authorize))
        .route("/v1/capture", post(serve_capture))
        .route("/v1/void", post(serve_void))
        .route("/v1/refund", post(serve_refund))
        .route("/v1/operations/{reference}", get(serve_status))
        .with_state(connector)
}

type Served = Result<Json<WireOutcome>, ServiceError>;

struct ServiceError(ProcessorError);

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        let (status, error) = match &self.0 {
            ProcessorError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ProcessorError::Timeout => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            ProcessorError::InvalidRequest(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
            }
        };
        let message = match self.0 {
            ProcessorError::InvalidRequest(m) => m,
            _ => String::new(),
        };
        let body = WireError {
            error: error.to_owned(),
            message,
        };
        (status, Json(body)).into_response()
    }
}

fn invalid(message: &str) -> ServiceError {
    ServiceError(ProcessorError::InvalidRequest(message.to_owned()))
}

fn amount(minor: Option<i64>) -> Result<Amount, ServiceError> {
    minor
        .and_then(|m| Amount::new(m).ok())
        .ok_or_else(|| invalid("amount must be a positive integer"))
}

fn served(result: Result<Outcome, ProcessorError>) -> Served {
    result
        .map(|o| Json(WireOutcome::from(&o)))
        .map_err(ServiceError)
}

async fn serve_authorize(
    State(connector): State<Arc<dyn Connector>>,
    Json(body): Json<WireAuthorize>,
) -> Served {
    let pan = Pan::parse(&body.card.number).map_err(|_| invalid("invalid card number"))?;
    let now = year_month(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    );
    let expiry = Expiry::new(body.card.exp_month, body.card.exp_year, now)
        .map_err(|_| invalid("invalid or past expiry"))?;
    let cvc = body
        .card
        .cvc
        .as_deref()
        .map(|c| Cvc::parse(c, pan.brand()))
        .transpose()
        .map_err(|_| invalid("invalid cvc"))?;
    let request = AuthorizeRequest {
        reference: body.reference,
        amount: amount(Some(body.amount))?,
        currency: Currency::parse(&body.currency).map_err(|_| invalid("unknown currency"))?,
        card: Card { pan, expiry, cvc },
    };
    served(connector.authorize(request).await)
}

async fn serve_capture(
    State(connector): State<Arc<dyn Connector>>,
    Json(body): Json<WireFollowUp>,
) -> Served {
    let request = CaptureRequest {
        amount: amount(body.amount)?,
        reference: body.reference,
        processor_reference: body.processor_reference,
    };
    served(connector.capture(request).await)
}

async fn serve_void(
    State(connector): State<Arc<dyn Connector>>,
    Json(body): Json<WireFollowUp>,
) -> Served {
    let request = VoidRequest {
        reference: body.reference,
        processor_reference: body.processor_reference,
    };
    served(connector.void(request).await)
}

async fn serve_refund(
    State(connector): State<Arc<dyn Connector>>,
    Json(body): Json<WireFollowUp>,
) -> Served {
    let request = RefundRequest {
        amount: amount(body.amount)?,
        reference: body.reference,
        processor_reference: body.processor_reference,
    };
    served(connector.refund(request).await)
}

async fn serve_status(
    State(connector): State<Arc<dyn Connector>>,
    Path(reference): Path<String>,
) -> Response {
    match connector.status(&reference).await {
        Ok(Some(outcome)) => Json(WireOutcome::from(&outcome)).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(err) => ServiceError(err).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::check_live_url;

    #[test]
    fn live_processor_urls_must_be_https_except_on_loopback() {
        for ok in [
            "https://processor.example/v1",
            "https://10.0.0.5:8443",
            "http://127.0.0.1:9090",
            "http://[::1]:9090",
            "http://localhost:9090",
        ] {
            assert_eq!(check_live_url(ok), Ok(()), "{ok}");
        }
        for refused in [
            "http://processor.example",
            "http://10.0.0.5:9090",
            "ftp://127.0.0.1",
            "processor.example:443",
            "not a url",
            "http://user:secret@processor.example",
        ] {
            let err = check_live_url(refused).expect_err(refused);
            assert!(!err.contains(refused), "{err}");
        }
    }
}
