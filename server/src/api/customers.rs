//! The merchant's customers over HTTP: create, retrieve, update, list (by email too), erase
//! (`DELETE`), their saved payment methods (list, detach), their transaction history and
//! the data-protection export. Handlers parse input into `crate::customers` types, call the
//! store (which writes the audit entry in the same transaction) and shape the answer.

use super::audit::{Actor, AuditEntryObject, CurrentRequest, page_limit};
use super::auth::AuthedMerchant;
use super::error::ApiError;
use super::json::ApiJson;
use super::openapi::{self, ErrorBody};
use super::payments::{PaymentObject, RefundObject};
use crate::customers::{
    self, Address, Email, FieldError, Metadata, Phone, Profile, ProfilePatch, RawAddress,
};
use crate::master_key::purpose;
use crate::state::AppState;
use crate::store::{CustomerRow, Erasure, PaymentMethodRow};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/customers", post(create).get(list))
        .route("/v1/customers/{id}", get(retrieve).post(update))
        // The same path: axum merges the method routers.
        .route("/v1/customers/{id}", delete(erase))
        .route("/v1/customers/{id}/payment_methods", get(payment_methods))
        .route("/v1/customers/{id}/transactions", get(transactions))
        .route("/v1/customers/{id}/export", get(export))
        .route("/v1/payment_methods/{id}/detach", post(detach))
}

impl From<FieldError> for ApiError {
    fn from(err: FieldError) -> ApiError {
        ApiError::invalid(err.code, err.message).param(err.param)
    }
}

/// A field that may be absent (leave it), `null` (clear it) or a value (set it).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A billing address; each part optional.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressObject {
    /// Up to 200 characters.
    pub line1: Option<String>,
    /// Up to 200 characters.
    pub line2: Option<String>,
    /// Up to 100 characters.
    pub city: Option<String>,
    /// State, province or region; up to 100 characters.
    pub state: Option<String>,
    /// Up to 20 characters.
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 (e.g. `BR`, `PT`).
    pub country: Option<String>,
}

/// `POST /v1/customers` and `POST /v1/customers/{id}`. On update, an absent field is left as
/// it is, `null` (or `""`) clears it, and `address` and `metadata` are replaced whole.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerParams {
    /// Full name, up to 256 characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, examples("Ana Souza"))]
    name: Option<Option<String>>,
    /// An email address (checked for syntax); lookups ignore case.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, examples("ana@example.com"))]
    email: Option<Option<String>>,
    /// International form: `+`, country code and number (7 to 15 digits).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, examples("+55 11 91234 5678"))]
    phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<AddressObject>)]
    address: Option<Option<AddressObject>>,
    /// Up to 50 string values under keys of up to 40 characters; values up to 500.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    metadata: Option<Option<BTreeMap<String, String>>>,
}

/// Parses the body into a patch; nothing is stored unless all of it is valid.
fn parse_patch(params: &CustomerParams) -> Result<ProfilePatch, ApiError> {
    let text = |param, value: &Option<Option<String>>, max| -> Result<_, ApiError> {
        Ok(match value {
            None => None,
            Some(None) => Some(None),
            Some(Some(v)) => Some(customers::bounded_text(param, v, max)?),
        })
    };
    let blank = |v: &str| v.trim().is_empty();
    Ok(ProfilePatch {
        name: text("name", &params.name, customers::MAX_NAME_LEN)?,
        email: match &params.email {
            None => None,
            Some(Some(e)) if !blank(e) => Some(Some(Email::parse(e)?)),
            Some(_) => Some(None),
        },
        phone: match &params.phone {
            None => None,
            Some(Some(p)) if !blank(p) => Some(Some(Phone::parse(p)?)),
            Some(_) => Some(None),
        },
        address: match &params.address {
            None => None,
            Some(None) => Some(Address::default()),
            Some(Some(a)) => Some(Address::parse(&RawAddress {
                line1: a.line1.as_deref(),
                line2: a.line2.as_deref(),
                city: a.city.as_deref(),
                state: a.state.as_deref(),
                postal_code: a.postal_code.as_deref(),
                country: a.country.as_deref().filter(|c| !blank(c)),
            })?),
        },
        metadata: match &params.metadata {
            None => None,
            Some(None) => Some(Metadata::default()),
            Some(Some(m)) => Some(Metadata::parse(m)?),
        },
    })
}

/// The customer object. After erasure every personal field is null, `deleted` is true and
/// `erased_at` says when.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Customer)]
pub struct CustomerObject {
    /// `cus_…`
    pub id: String,
    /// Always `"customer"`.
    #[schema(value_type = String, examples("customer"))]
    pub object: &'static str,
    #[schema(required = true)]
    pub name: Option<String>,
    #[schema(required = true)]
    pub email: Option<String>,
    #[schema(required = true)]
    pub phone: Option<String>,
    /// The billing address, or null.
    #[schema(required = true)]
    pub address: Option<AddressObject>,
    pub metadata: BTreeMap<String, String>,
    pub livemode: bool,
    /// Whether the customer was erased (`DELETE /v1/customers/{id}`).
    pub deleted: bool,
    /// Unix seconds of the erasure, or null.
    #[schema(required = true)]
    pub erased_at: Option<i64>,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds.
    pub updated: i64,
}

impl From<&CustomerRow> for CustomerObject {
    fn from(c: &CustomerRow) -> CustomerObject {
        let p = &c.profile;
        let a = &p.address;
        CustomerObject {
            id: c.id.clone(),
            object: "customer",
            name: p.name.clone(),
            email: p.email.as_ref().map(|e| e.as_str().to_owned()),
            phone: p.phone.as_ref().map(|e| e.as_str().to_owned()),
            address: (!a.is_empty()).then(|| AddressObject {
                line1: a.line1.clone(),
                line2: a.line2.clone(),
                city: a.city.clone(),
                state: a.state.clone(),
                postal_code: a.postal_code.clone(),
                country: a.country.as_ref().map(|c| c.as_str().to_owned()),
            }),
            metadata: p.metadata.as_map().clone(),
            livemode: c.livemode,
            deleted: c.erased_at.is_some(),
            erased_at: c.erased_at,
            created: c.created_at,
            updated: c.updated_at,
        }
    }
}

/// The card of a saved payment method: what may be shown, never the number.
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedCardObject {
    /// `visa`, `mastercard`, `amex`, …
    pub brand: String,
    /// `****` once the customer is erased.
    pub last4: String,
    /// 0 once the customer is erased.
    pub exp_month: u32,
    /// 0 once the customer is erased.
    pub exp_year: u32,
    /// The same card has the same fingerprint for this merchant (another merchant sees
    /// another value). Null once erased.
    #[schema(required = true)]
    pub fingerprint: Option<String>,
}

/// A saved payment method (`pm_…`): a vaulted card a customer can be charged with again.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PaymentMethod)]
pub struct PaymentMethodObject {
    /// `pm_…`
    pub id: String,
    /// Always `"payment_method"`.
    #[schema(value_type = String, examples("payment_method"))]
    pub object: &'static str,
    /// Always `"card"`.
    #[schema(value_type = String, examples("card"))]
    pub r#type: &'static str,
    /// `cus_…`
    pub customer: String,
    pub card: SavedCardObject,
    /// `active`, `detached` or `erased`; only `active` can be charged.
    pub status: String,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds it was detached or erased, or null.
    #[schema(required = true)]
    pub detached_at: Option<i64>,
}

/// The merchant-scoped fingerprint shown for a card: a hash of the merchant's id and the
/// vault's fingerprint, so two merchants cannot match their customers' cards.
fn merchant_fingerprint(merchant_id: &str, fingerprint: &[u8]) -> Option<String> {
    if fingerprint.is_empty() {
        return None;
    }
    let digest = Sha256::new()
        .chain_update(b"payframe/pm-fingerprint\0")
        .chain_update(merchant_id.as_bytes())
        .chain_update(b"\0")
        .chain_update(fingerprint)
        .finalize();
    Some(digest[..12].iter().map(|b| format!("{b:02x}")).collect())
}

impl From<&PaymentMethodRow> for PaymentMethodObject {
    fn from(pm: &PaymentMethodRow) -> PaymentMethodObject {
        PaymentMethodObject {
            id: pm.id.clone(),
            object: "payment_method",
            r#type: "card",
            customer: pm.customer_id.clone(),
            card: SavedCardObject {
                brand: pm.brand.clone(),
                last4: pm.last4.clone(),
                exp_month: pm.exp_month,
                exp_year: pm.exp_year,
                fingerprint: merchant_fingerprint(&pm.merchant_id, &pm.fingerprint),
            },
            status: pm.status.clone(),
            created: pm.created_at,
            detached_at: pm.detached_at,
        }
    }
}

/// A page of customers, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CustomerList)]
pub struct CustomerListObject {
    /// Always `"list"`.
    #[schema(value_type = String, examples("list"))]
    pub object: &'static str,
    /// Always `"/v1/customers"`.
    #[schema(value_type = String)]
    pub url: &'static str,
    pub has_more: bool,
    pub data: Vec<CustomerObject>,
}

/// A customer's saved payment methods.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PaymentMethodList)]
pub struct PaymentMethodListObject {
    /// Always `"list"`.
    #[schema(value_type = String, examples("list"))]
    pub object: &'static str,
    /// `/v1/customers/{id}/payment_methods`.
    pub url: String,
    /// Always false: a customer's payment methods come in one page.
    pub has_more: bool,
    pub data: Vec<PaymentMethodObject>,
}

/// One line of a customer's history: a payment or a refund.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CustomerTransaction)]
pub struct TransactionObject {
    /// `pay_…` or `re_…`
    pub id: String,
    /// Always `"customer_transaction"`.
    #[schema(value_type = String, examples("customer_transaction"))]
    pub object: &'static str,
    /// `payment` or `refund`.
    pub r#type: String,
    /// The payment (`pay_…`): the line itself, or the refunded payment.
    pub payment: String,
    /// In minor units of `currency`.
    pub amount: i64,
    /// ISO 4217, lower case.
    pub currency: String,
    /// The payment's status, or the refund's (`succeeded`).
    pub status: String,
    /// Unix seconds.
    pub created: i64,
}

/// A page of a customer's payments and refunds, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CustomerTransactionList)]
pub struct TransactionListObject {
    /// Always `"list"`.
    #[schema(value_type = String, examples("list"))]
    pub object: &'static str,
    /// `/v1/customers/{id}/transactions`.
    pub url: String,
    pub has_more: bool,
    pub data: Vec<TransactionObject>,
}

/// Everything Payframe holds about one customer (GDPR art. 15 and 20, LGPD art. 18).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CustomerExport)]
pub struct ExportObject {
    /// Always `"customer_export"`.
    #[schema(value_type = String, examples("customer_export"))]
    pub object: &'static str,
    /// Unix seconds.
    pub generated_at: i64,
    pub customer: CustomerObject,
    /// Every payment method, active, detached or erased; cards masked.
    pub payment_methods: Vec<PaymentMethodObject>,
    /// The customer's payments, oldest first.
    pub payments: Vec<PaymentObject>,
    /// Refunds of those payments, oldest first.
    pub refunds: Vec<RefundObject>,
    /// Webhook events about those payments.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<serde_json::Value>,
    /// Audit entries about the customer, its payment methods and payments, oldest first.
    pub audit_log: Vec<AuditEntryObject>,
}

const CUSTOMER_ID: &str = "The customer's id, `cus_…`.";
const NO_SUCH_CUSTOMER: &str = "`resource_missing`: no such customer for this merchant.";
const INVALID_FIELDS: &str = "`invalid_email`, `invalid_phone`, `invalid_country`, \
    `invalid_length`, `invalid_characters`, `contains_card_number`, `invalid_metadata`, \
    `invalid_json`, `invalid_body`, `invalid_content_type` or `invalid_idempotency_key`; \
    `param` names the field.";
const ERASED: &str = "`customer_erased`: the customer was erased and can no longer change; \
    or, with type `idempotency_error`, `idempotency_key_reused` / `idempotency_key_in_use`.";

pub fn customer_erased(param: Option<&'static str>) -> ApiError {
    let mut err = ApiError::new(
        StatusCode::CONFLICT,
        "invalid_request_error",
        "customer_erased",
        "This customer was erased.",
    );
    err.param = param;
    err
}

/// The merchant's customer `id` (erased or not); 404 for anything else.
pub async fn load_customer(
    state: &AppState,
    auth: &AuthedMerchant,
    id: &str,
) -> Result<CustomerRow, ApiError> {
    if !customers::is_customer_id(id) {
        return Err(ApiError::not_found("customer"));
    }
    state
        .store
        .customer(&auth.merchant.id, id)
        .await?
        .filter(|c| c.livemode == auth.livemode)
        .ok_or_else(|| ApiError::not_found("customer"))
}

/// Creates a customer.
#[utoipa::path(
    post,
    path = "/v1/customers",
    tag = "customers",
    operation_id = "create_customer",
    security(("secret_key" = [])),
    params(openapi::IdempotencyKey),
    request_body = CustomerParams,
    responses(
        (status = 200, description = "The customer.", body = CustomerObject),
        (status = 400, description = INVALID_FIELDS, body = ErrorBody),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 409, description = openapi::IDEMPOTENCY_CONFLICT, body = ErrorBody),
        (status = 413, description = openapi::BODY_TOO_LARGE, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    request: CurrentRequest,
    ApiJson(body): ApiJson<CustomerParams>,
) -> Result<Json<CustomerObject>, ApiError> {
    let mut profile = Profile::default();
    let fields = profile.apply(parse_patch(&body)?);
    let now = state.now();
    let customer = CustomerRow {
        id: crate::ids::new_id("cus"),
        merchant_id: auth.merchant.id.clone(),
        profile,
        livemode: auth.livemode,
        created_at: now,
        updated_at: now,
        erased_at: None,
    };
    let entry = Actor::merchant(&auth, &request).entry(
        "customer.created",
        "customer",
        &customer.id,
        Some(&customer.id),
        serde_json::json!({ "fields": fields }),
        now,
    );
    state.store.insert_customer(&customer, &entry).await?;
    tracing::info!(customer = %customer.id, "customer created");
    Ok(Json(CustomerObject::from(&customer)))
}

/// Retrieves a customer (an erased one shows `deleted: true` and no personal data).
#[utoipa::path(
    get,
    path = "/v1/customers/{id}",
    tag = "customers",
    operation_id = "retrieve_customer",
    security(("secret_key" = [])),
    params(("id" = String, Path, description = CUSTOMER_ID)),
    responses(
        (status = 200, description = "The customer.", body = CustomerObject),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 404, description = NO_SUCH_CUSTOMER, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn retrieve(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    Path(id): Path<String>,
) -> Result<Json<CustomerObject>, ApiError> {
    let customer = load_customer(&state, &auth, &id).await?;
    Ok(Json(CustomerObject::from(&customer)))
}

/// Updates a customer: absent fields stay, `null` clears, `address` and `metadata` are
/// replaced whole.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}",
    tag = "customers",
    operation_id = "update_customer",
    security(("secret_key" = [])),
    params(("id" = String, Path, description = CUSTOMER_ID), openapi::IdempotencyKey),
    request_body = CustomerParams,
    responses(
        (status = 200, description = "The updated customer.", body = CustomerObject),
        (status = 400, description = INVALID_FIELDS, body = ErrorBody),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 404, description = NO_SUCH_CUSTOMER, body = ErrorBody),
        (status = 409, description = ERASED, body = ErrorBody),
        (status = 413, description = openapi::BODY_TOO_LARGE, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    request: CurrentRequest,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CustomerParams>,
) -> Result<Json<CustomerObject>, ApiError> {
    let mut customer = load_customer(&state, &auth, &id).await?;
    let patch = parse_patch(&body)?;
    if customer.erased_at.is_some() {
        return Err(customer_erased(None));
    }
    let fields = customer.profile.apply(patch);
    let now = state.now();
    let entry = Actor::merchant(&auth, &request).entry(
        "customer.updated",
        "customer",
        &customer.id,
        Some(&customer.id),
        serde_json::json!({ "fields": fields }),
        now,
    );
    if !state
        .store
        .update_customer(&auth.merchant.id, &id, &customer.profile, now, &entry)
        .await?
    {
        // Erased between the read and the write.
        return Err(customer_erased(None));
    }
    customer.updated_at = now;
    Ok(Json(CustomerObject::from(&customer)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// How many customers to return, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100, default = 10)]
    limit: Option<i64>,
    /// A customer id (`cus_…`): return the customers after it (older than it).
    starting_after: Option<String>,
    /// Only customers with this email address (case-insensitive).
    email: Option<String>,
}

/// Lists this merchant's customers (not erased ones), newest first, optionally by email.
#[utoipa::path(
    get,
    path = "/v1/customers",
    tag = "customers",
    operation_id = "list_customers",
    security(("secret_key" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of customers.", body = CustomerListObject),
        (status = 400, description = "`invalid_limit` or `invalid_email`.", body = ErrorBody),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<CustomerListObject>, ApiError> {
    let (q, limit) = page_limit(query, |q| q.limit)?;
    let email = q.email.as_deref().map(Email::parse).transpose()?;
    let mut page = state
        .store
        .customers(
            &auth.merchant.id,
            email.as_ref().map(Email::as_str),
            limit + 1,
            q.starting_after.as_deref(),
        )
        .await?;
    page.retain(|c| c.livemode == auth.livemode);
    let has_more = page.len() as i64 > limit;
    page.truncate(limit as usize);
    Ok(Json(CustomerListObject {
        object: "list",
        url: "/v1/customers",
        has_more,
        data: page.iter().map(CustomerObject::from).collect(),
    }))
}

/// Erases a customer (GDPR "right to erasure", LGPD art. 18 VI).
///
/// Personal fields are cleared, every card vaulted for the customer is crypto-shredded (its
/// data key and ciphertext destroyed, so no key opens it again), saved payment methods stop
/// working, and payments and refunds stay for accounting with their card details anonymised.
/// Erasing again answers the same.
#[utoipa::path(
    delete,
    path = "/v1/customers/{id}",
    tag = "customers",
    operation_id = "erase_customer",
    security(("secret_key" = [])),
    params(("id" = String, Path, description = CUSTOMER_ID)),
    responses(
        (status = 200, description = "The erased customer (`deleted: true`).", body = CustomerObject),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 404, description = NO_SUCH_CUSTOMER, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn erase(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    request: CurrentRequest,
    Path(id): Path<String>,
) -> Result<Json<CustomerObject>, ApiError> {
    let customer = load_customer(&state, &auth, &id).await?;
    if customer.erased_at.is_none() {
        // Stored idempotent answers may repeat the customer's data (sealed, but the master
        // key opens them): those naming the customer go with the erasure.
        let keys = stored_responses_naming(&state, &auth.merchant.id, &id).await?;
        let actor = Actor::merchant(&auth, &request);
        let now = state.now();
        let erasure = state
            .store
            .erase_customer(&auth.merchant.id, &id, &keys, now, |erasure| {
                let details = match erasure {
                    Erasure::Erased {
                        payment_methods,
                        cards_shredded,
                        payments_anonymised,
                    } => serde_json::json!({
                        "payment_methods": payment_methods,
                        "cards_shredded": cards_shredded,
                        "payments_anonymised": payments_anonymised,
                        "idempotent_responses_deleted": keys.len(),
                    }),
                    _ => serde_json::json!({}),
                };
                actor.entry("customer.erased", "customer", &id, Some(&id), details, now)
            })
            .await?;
        if erasure == Erasure::NotFound {
            return Err(ApiError::not_found("customer"));
        }
        tracing::info!(customer = %id, "customer erased");
    }
    let customer = load_customer(&state, &auth, &id).await?;
    Ok(Json(CustomerObject::from(&customer)))
}

/// The keys of the merchant's stored idempotent responses whose body names `customer_id`.
async fn stored_responses_naming(
    state: &AppState,
    merchant_id: &str,
    customer_id: &str,
) -> Result<Vec<String>, ApiError> {
    let mut keys = Vec::new();
    for (key, sealed) in state.store.sealed_idempotent_responses(merchant_id).await? {
        let Ok(body) = state.master.unwrap(purpose::IDEMPOTENT_RESPONSE, &sealed) else {
            continue;
        };
        if body
            .windows(customer_id.len())
            .any(|w| w == customer_id.as_bytes())
        {
            keys.push(key);
        }
    }
    Ok(keys)
}

/// Lists a customer's saved payment methods that can be charged (`active`).
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/payment_methods",
    tag = "customers",
    operation_id = "list_customer_payment_methods",
    security(("secret_key" = [])),
    params(("id" = String, Path, description = CUSTOMER_ID)),
    responses(
        (status = 200, description = "The customer's active payment methods, newest first.", body = PaymentMethodListObject),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 404, description = NO_SUCH_CUSTOMER, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn payment_methods(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    Path(id): Path<String>,
) -> Result<Json<PaymentMethodListObject>, ApiError> {
    let customer = load_customer(&state, &auth, &id).await?;
    let methods = state
        .store
        .payment_methods(&auth.merchant.id, &customer.id, false)
        .await?;
    Ok(Json(PaymentMethodListObject {
        object: "list",
        url: format!("/v1/customers/{}/payment_methods", customer.id),
        has_more: false,
        data: methods.iter().map(PaymentMethodObject::from).collect(),
    }))
}

/// Detaches a saved payment method from its customer: it can no longer be charged, and
/// its vaulted card is crypto-shredded. Detaching again answers the same.
#[utoipa::path(
    post,
    path = "/v1/payment_methods/{id}/detach",
    tag = "customers",
    operation_id = "detach_payment_method",
    security(("secret_key" = [])),
    params(("id" = String, Path, description = "The payment method's id, `pm_…`."), openapi::IdempotencyKey),
    responses(
        (status = 200, description = "The detached payment method.", body = PaymentMethodObject),
        (status = 400, description = "`invalid_idempotency_key`.", body = ErrorBody),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 404, description = "`resource_missing`: no such payment method for this merchant.", body = ErrorBody),
        (status = 409, description = openapi::IDEMPOTENCY_CONFLICT, body = ErrorBody),
        (status = 413, description = openapi::BODY_TOO_LARGE, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn detach(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    request: CurrentRequest,
    Path(id): Path<String>,
) -> Result<Json<PaymentMethodObject>, ApiError> {
    let missing = || ApiError::not_found("payment method");
    let pm = state
        .store
        .payment_method(&auth.merchant.id, &id)
        .await?
        .ok_or_else(missing)?;
    let now = state.now();
    let entry = Actor::merchant(&auth, &request).entry(
        "payment_method.detached",
        "payment_method",
        &pm.id,
        Some(&pm.customer_id),
        serde_json::json!({}),
        now,
    );
    let pm = state
        .store
        .detach_payment_method(&auth.merchant.id, &pm.customer_id, &id, now, &entry)
        .await?
        .ok_or_else(missing)?;
    Ok(Json(PaymentMethodObject::from(&pm)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// How many lines to return, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100, default = 10)]
    limit: Option<i64>,
    /// A line's id (`pay_…` or `re_…`): return the lines after it (older than it).
    starting_after: Option<String>,
}

/// A customer's transaction history: payments and refunds, newest first, paginated.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/transactions",
    tag = "customers",
    operation_id = "list_customer_transactions",
    security(("secret_key" = [])),
    params(("id" = String, Path, description = CUSTOMER_ID), HistoryQuery),
    responses(
        (status = 200, description = "A page of payments and refunds.", body = TransactionListObject),
        (status = 400, description = "`invalid_limit`: `limit` is not an integer between 1 and 100.", body = ErrorBody),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 404, description = NO_SUCH_CUSTOMER, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn transactions(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    Path(id): Path<String>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<TransactionListObject>, ApiError> {
    let (q, limit) = page_limit(query, |q| q.limit)?;
    let customer = load_customer(&state, &auth, &id).await?;
    let mut page = state
        .store
        .customer_history(
            &auth.merchant.id,
            &customer.id,
            limit + 1,
            q.starting_after.as_deref(),
        )
        .await?;
    let has_more = page.len() as i64 > limit;
    page.truncate(limit as usize);
    Ok(Json(TransactionListObject {
        object: "list",
        url: format!("/v1/customers/{}/transactions", customer.id),
        has_more,
        data: page
            .into_iter()
            .map(|line| TransactionObject {
                id: line.id,
                object: "customer_transaction",
                r#type: line.kind,
                payment: line.payment_id,
                amount: line.amount,
                currency: line.currency,
                status: line.status,
                created: line.created_at,
            })
            .collect(),
    }))
}

/// Exports everything held about a customer as one JSON document (GDPR art. 15 and 20,
/// LGPD art. 18 II and V): profile, payment methods (masked), payments, refunds, events and
/// audit entries. The export itself is recorded in the audit log.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/export",
    tag = "customers",
    operation_id = "export_customer",
    security(("secret_key" = [])),
    params(("id" = String, Path, description = CUSTOMER_ID)),
    responses(
        (status = 200, description = "The export.", body = ExportObject),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 404, description = NO_SUCH_CUSTOMER, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    request: CurrentRequest,
    Path(id): Path<String>,
) -> Result<Json<ExportObject>, ApiError> {
    let customer = load_customer(&state, &auth, &id).await?;
    let merchant = &auth.merchant.id;
    let now = state.now();
    let entry = Actor::merchant(&auth, &request).entry(
        "customer.exported",
        "customer",
        &id,
        Some(&id),
        serde_json::json!({}),
        now,
    );
    state.store.append_audit(&entry).await?;
    let methods = state.store.payment_methods(merchant, &id, true).await?;
    let mut payments = Vec::new();
    let mut refunds = Vec::new();
    for payment_id in state.store.customer_payment_ids(merchant, &id).await? {
        let Some(record) = state.store.payment(merchant, &payment_id).await? else {
            continue;
        };
        for refund in state.store.refunds(&record.id).await? {
            refunds.push(RefundObject {
                id: refund.id,
                object: "refund",
                payment: refund.payment_id,
                amount: refund.amount,
                currency: record.payment.currency().code(),
                status: "succeeded",
                created: refund.created_at,
            });
        }
        payments.push(PaymentObject::from(&record));
    }
    let events = crate::store::customers::customer_events(&state.store, merchant, &id).await?;
    let audit_log = state
        .store
        .customer_audit_entries(merchant, &id)
        .await?
        .into_iter()
        .map(AuditEntryObject::from)
        .collect();
    tracing::info!(customer = %id, "customer exported");
    Ok(Json(ExportObject {
        object: "customer_export",
        generated_at: now,
        customer: CustomerObject::from(&customer),
        payment_methods: methods.iter().map(PaymentMethodObject::from).collect(),
        payments,
        refunds,
        events,
        audit_log,
    }))
}
