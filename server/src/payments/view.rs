//! The payment object as the merchant sees it: what `GET /v1/payments/{id}` answers and
//! what a webhook event carries in `data.object`. One rendering for both, so an event can
//! never show a payment differently from the API.

use crate::store::PaymentRecord;
use payframe_core::api::PaymentMethodView;
use serde::Serialize;
use utoipa::ToSchema;

/// The payment object: one card payment, from authorization to refunds.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Payment)]
pub struct PaymentObject {
    /// `pay_…`
    pub id: String,
    /// Always `"payment"`.
    #[schema(value_type = String, examples("payment"))]
    pub object: &'static str,
    /// The session it paid (`cs_…`), or null.
    #[schema(required = true)]
    pub session: Option<String>,
    /// Authorized amount, in minor units of `currency`.
    pub amount: i64,
    /// In minor units.
    pub amount_captured: i64,
    /// In minor units.
    pub amount_refunded: i64,
    /// ISO 4217, lower case.
    pub currency: String,
    /// `requires_payment_method`, `processing`, `authorized`, `captured`,
    /// `partially_refunded`, `refunded`, `failed` or `canceled`.
    #[schema(value_type = String)]
    pub status: &'static str,
    /// `automatic` or `manual`.
    #[schema(value_type = String)]
    pub capture_method: &'static str,
    /// Why the card was declined (`do_not_honor`, `invalid_number`, `insufficient_funds`,
    /// `expired_card`, `incorrect_cvc`, `issuer_unavailable`, `processing_error`), or null.
    #[schema(value_type = Option<String>, required = true)]
    pub decline_code: Option<&'static str>,
    pub payment_method: PaymentMethodView,
    /// The customer (`cus_…`) whose saved card paid, or null.
    #[schema(required = true)]
    pub customer: Option<String>,
    /// The customer's saved payment method (`pm_…`) that paid, or that this payment's card
    /// was saved as; null otherwise.
    #[schema(required = true)]
    pub payment_method_id: Option<String>,
    /// The merchant's reference (the session's, or the one given to `POST /v1/payments`).
    #[schema(required = true)]
    pub reference: Option<String>,
    pub livemode: bool,
    /// Unix seconds.
    pub created: i64,
}

impl From<&PaymentRecord> for PaymentObject {
    fn from(r: &PaymentRecord) -> PaymentObject {
        let p = &r.payment;
        PaymentObject {
            id: r.id.clone(),
            object: "payment",
            session: r.session_id.clone(),
            amount: p.amount().minor_units(),
            amount_captured: p.amount_captured(),
            amount_refunded: p.amount_refunded(),
            currency: p.currency().code(),
            status: p.status().as_str(),
            capture_method: p.capture_method().as_str(),
            decline_code: p.decline_code().map(|c| c.as_str()),
            payment_method: PaymentMethodView {
                brand: r.brand.clone(),
                last4: r.last4.clone(),
                exp_month: r.exp_month,
                exp_year: r.exp_year,
            },
            customer: r.customer_id.clone(),
            payment_method_id: r.payment_method_id.clone(),
            reference: r.reference.clone(),
            livemode: r.livemode,
            created: p.created(),
        }
    }
}
