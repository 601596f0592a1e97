//! Payment flows: each step of a payment's life as the gateway performs it — check the
//! operation against the state machine, ask the processor, apply its answer, store the
//! payment with its new transitions in one transaction. Handlers call these; these call
//! nothing HTTP. What the request records about the change — its audit entry, its
//! idempotent response — the handler renders through `Along`, and the flow's one save
//! writes it in the same transaction as the change.
//!
//! Every processor call carries a reference derived from the payment (`pay_…:authorize`,
//! `pay_…:capture`, `pay_…:refund:<n>`), so a retry after a timeout repeats the same call
//! and the processor answers it once.

use super::{Actor, CaptureMethod, Operation, Payment, Status, TransitionError};
use crate::processors::{
    AuthorizeRequest, CaptureRequest, Card, Connector, DeclineCode, Outcome, ProcessorError,
    RefundRequest, VoidRequest,
};
use crate::state::AppState;
use crate::store::{
    NewRefund, PaymentMethodRow, PaymentRecord, Session, SessionOutcome, StoreError, WriteAlong,
};
use payframe_core::card::year_month;
use payframe_core::{Amount, CardError, Currency, Expiry};

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("the card was declined: {0:?}")]
    Declined(DeclineCode),
    #[error(transparent)]
    Processor(#[from] ProcessorError),
    #[error("the payment changed while this request ran")]
    Conflict,
    #[error("live mode has no processor connector configured")]
    LiveModeUnavailable,
    #[error("stored session data is invalid")]
    InvalidSession,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A saved card that cannot be charged as it is (e.g. it has expired).
    #[error(transparent)]
    Card(#[from] CardError),
    /// A saved payment method whose card is gone: detached or erased (crypto-shredded).
    #[error("the payment method can no longer be used")]
    PaymentMethodUnusable,
    /// The processor answered but the payment could not be stored: its session stays held
    /// (`processing`) so no second card is charged; reconcile by the `pay_…:authorize` reference.
    #[error("the processor's answer could not be recorded: {0}")]
    Unrecorded(StoreError),
}

impl FlowError {
    /// Whether the processor may have moved money for this request.
    pub fn processor_answered(&self) -> bool {
        matches!(self, FlowError::Unrecorded(_))
    }
}

/// Renders what the request writes with the payment's save, in its transaction: from the
/// payment as it is about to be stored and the refund that save adds. Called right before
/// the save, once the processor has answered, so it sees the outcome the save records.
pub type Along<'a> = &'a (dyn Fn(&PaymentRecord, Option<&NewRefund>) -> WriteAlong + Sync);

/// What the API shows of the card beside the payment.
pub struct CardSummary {
    pub token: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: u32,
}

fn connector(state: &AppState, livemode: bool) -> Result<&dyn Connector, FlowError> {
    if livemode {
        return state
            .live_processor
            .as_deref()
            .ok_or(FlowError::LiveModeUnavailable);
    }
    Ok(state.test_processor.as_ref())
}

/// Authorizes the card for a session this confirm has claimed, captures at once if the
/// session says so, and records the payment and the session's outcome together.
pub async fn pay_session(
    state: &AppState,
    session: &Session,
    card: Card,
    summary: CardSummary,
    now: i64,
    along: Along<'_>,
) -> Result<PaymentRecord, FlowError> {
    let amount = Amount::new(session.amount).map_err(|_| FlowError::InvalidSession)?;
    let currency = Currency::parse(&session.currency).map_err(|_| FlowError::InvalidSession)?;
    let capture_method =
        CaptureMethod::parse(&session.capture_method).ok_or(FlowError::InvalidSession)?;
    let mut record = PaymentRecord {
        id: crate::ids::new_id("pay"),
        merchant_id: session.merchant_id.clone(),
        session_id: Some(session.id.clone()),
        card_token: Some(summary.token),
        brand: summary.brand,
        last4: summary.last4,
        exp_month: summary.exp_month,
        exp_year: summary.exp_year,
        livemode: session.livemode,
        customer_id: session.customer_id.clone(),
        payment_method_id: None,
        reference: session.reference.clone(),
        version: 0,
        payment: Payment::new(amount, currency, capture_method, now),
    };
    record.payment.apply(Operation::Submit, Actor::Frame, now)?;
    let connector = connector(state, session.livemode)?;
    let answer = connector
        .authorize(AuthorizeRequest {
            reference: format!("{}:authorize", record.id),
            amount,
            currency,
            card,
        })
        .await;
    state.metrics.authorization(session.livemode, &answer);
    let outcome = apply_authorization(connector, &mut record, answer, now).await?;
    let write_along = along(&record, None);
    // The processor has answered: a failure to record that must not free the session.
    state
        .store
        .save_payment(&mut record, Some(outcome), None, write_along)
        .await
        .map_err(FlowError::Unrecorded)?;
    Ok(record)
}

/// A merchant-initiated charge of a customer's saved card.
pub struct SavedCharge<'a> {
    pub merchant_id: &'a str,
    pub livemode: bool,
    pub payment_method: &'a PaymentMethodRow,
    pub amount: Amount,
    pub currency: Currency,
    pub capture_method: CaptureMethod,
    pub reference: Option<String>,
    pub actor: Actor,
}

/// Charges a saved payment method (merchant-initiated, so without a CVC) through the same
/// state machine as a session's payment: the card number is revealed from the vault here,
/// handed to the processor and dropped; it never leaves the server. A declined charge is
/// stored as a failed payment, like a declined confirm.
pub async fn charge_saved(
    state: &AppState,
    charge: SavedCharge<'_>,
    now: i64,
    along: Along<'_>,
) -> Result<PaymentRecord, FlowError> {
    let pm = charge.payment_method;
    if pm.status != "active" {
        return Err(FlowError::PaymentMethodUnusable);
    }
    let (ciphertext, wrapped_key) = state
        .store
        .card_secret(&pm.card_token)
        .await?
        .ok_or(FlowError::PaymentMethodUnusable)?;
    // A shredded card has no data key left; nothing can open it.
    if wrapped_key.is_empty() {
        return Err(FlowError::PaymentMethodUnusable);
    }
    let pan = state
        .vault
        .reveal(&ciphertext, &wrapped_key)
        .map_err(|err| {
            tracing::error!(payment_method = %pm.id, error = %err, "a saved card could not be revealed");
            FlowError::PaymentMethodUnusable
        })?;
    let expiry = Expiry::new(pm.exp_month, pm.exp_year, year_month(now))?;
    let mut record = PaymentRecord {
        id: crate::ids::new_id("pay"),
        merchant_id: charge.merchant_id.to_owned(),
        session_id: None,
        card_token: Some(pm.card_token.clone()),
        brand: pm.brand.clone(),
        last4: pm.last4.clone(),
        exp_month: pm.exp_month,
        exp_year: pm.exp_year,
        livemode: charge.livemode,
        customer_id: Some(pm.customer_id.clone()),
        payment_method_id: Some(pm.id.clone()),
        reference: charge.reference,
        version: 0,
        payment: Payment::new(charge.amount, charge.currency, charge.capture_method, now),
    };
    record.payment.apply(Operation::Submit, charge.actor, now)?;
    let connector = connector(state, charge.livemode)?;
    let answer = connector
        .authorize(AuthorizeRequest {
            reference: format!("{}:authorize", record.id),
            amount: charge.amount,
            currency: charge.currency,
            card: Card {
                pan,
                expiry,
                cvc: None,
            },
        })
        .await;
    state.metrics.authorization(charge.livemode, &answer);
    // No session to update: the outcome only matters to confirms.
    apply_authorization(connector, &mut record, answer, now).await?;
    // A decline is saved (and answered) like an approval: a failed payment.
    let write_along = along(&record, None);
    state
        .store
        .save_payment(&mut record, None, None, write_along)
        .await
        .map_err(FlowError::Unrecorded)?;
    Ok(record)
}

/// Applies the processor's answer to an authorization (and the automatic capture).
async fn apply_authorization(
    connector: &dyn Connector,
    record: &mut PaymentRecord,
    answer: Result<Outcome, ProcessorError>,
    now: i64,
) -> Result<SessionOutcome, FlowError> {
    let max_attempts = crate::state::MAX_DECLINED_ATTEMPTS;
    match answer {
        Ok(Outcome::Approved {
            processor_reference,
        }) => {
            record.payment.apply(
                Operation::Authorized {
                    processor_reference: processor_reference.clone(),
                },
                Actor::System,
                now,
            )?;
            if record.payment.capture_method() == CaptureMethod::Automatic {
                let request = CaptureRequest {
                    reference: format!("{}:capture", record.id),
                    processor_reference,
                    amount: record.payment.amount(),
                };
                // A capture that fails here leaves the payment authorized: the merchant (or a
                // retry) can still capture it; the hold is safe either way.
                match connector.capture(request).await {
                    Ok(Outcome::Approved { .. }) => {
                        record.payment.apply(
                            Operation::Capture { amount: None },
                            Actor::System,
                            now,
                        )?;
                    }
                    other => {
                        tracing::warn!(payment = %record.id, ?other, "automatic capture did not complete")
                    }
                }
            }
            Ok(SessionOutcome::Complete)
        }
        Ok(Outcome::Declined { decline_code, .. }) => {
            record.payment.apply(
                Operation::Declined { code: decline_code },
                Actor::System,
                now,
            )?;
            Ok(SessionOutcome::Declined { max_attempts })
        }
        Err(ProcessorError::Timeout) => {
            // The processor may have authorized: keep the payment processing until a
            // status check says what happened, and let no other card into the session.
            record
                .payment
                .apply(Operation::ProcessorTimeout, Actor::System, now)?;
            Ok(SessionOutcome::Complete)
        }
        Err(_) => {
            record.payment.apply(
                Operation::Declined {
                    code: DeclineCode::ProcessingError,
                },
                Actor::System,
                now,
            )?;
            Ok(SessionOutcome::Declined { max_attempts })
        }
    }
}

/// A payment stuck in `processing` after a timeout: asks the processor what happened to
/// its authorization and applies the answer. Anything else is returned as it is.
pub async fn resolve(
    state: &AppState,
    mut record: PaymentRecord,
    now: i64,
    along: Along<'_>,
) -> Result<PaymentRecord, FlowError> {
    if record.payment.status() != Status::Processing {
        return Ok(record);
    }
    let _guard = state.payment_locks.lock(&record.id).await;
    let connector = connector(state, record.livemode)?;
    let Some(answer) = connector
        .status(&format!("{}:authorize", record.id))
        .await?
    else {
        return Ok(record);
    };
    let outcome = apply_authorization(connector, &mut record, Ok(answer), now).await?;
    // The session was held `complete` while the answer was unknown; only a decline frees it.
    let outcome = matches!(outcome, SessionOutcome::Declined { .. }).then_some(outcome);
    let write_along = along(&record, None);
    if !state
        .store
        .save_payment(&mut record, outcome, None, write_along)
        .await?
    {
        return Err(FlowError::Conflict);
    }
    Ok(record)
}

/// Applies `op` to a copy first, so an illegal operation is refused before the processor is
/// asked anything; returns the copy and the amount the operation moves.
fn check(
    record: &PaymentRecord,
    op: Operation,
    actor: &Actor,
    now: i64,
) -> Result<(Payment, Option<Amount>), FlowError> {
    let mut next = record.payment.clone();
    let amount = next.apply(op, actor.clone(), now)?.amount;
    Ok((next, amount))
}

fn processor_reference(record: &PaymentRecord) -> Result<String, FlowError> {
    record
        .payment
        .processor_reference()
        .map(str::to_owned)
        .ok_or(FlowError::Transition(TransitionError::InconsistentRecord(
            "no processor reference",
        )))
}

async fn save(
    state: &AppState,
    record: &mut PaymentRecord,
    next: Payment,
    refund: Option<&NewRefund>,
    along: Along<'_>,
) -> Result<(), FlowError> {
    record.payment = next;
    let write_along = along(record, refund);
    if state
        .store
        .save_payment(record, None, refund, write_along)
        .await?
    {
        Ok(())
    } else {
        Err(FlowError::Conflict)
    }
}

fn approved(answer: Outcome) -> Result<(), FlowError> {
    match answer {
        Outcome::Approved { .. } => Ok(()),
        Outcome::Declined { decline_code, .. } => Err(FlowError::Declined(decline_code)),
    }
}

pub async fn capture(
    state: &AppState,
    mut record: PaymentRecord,
    amount: Option<Amount>,
    actor: Actor,
    now: i64,
    along: Along<'_>,
) -> Result<PaymentRecord, FlowError> {
    let (next, moved) = check(&record, Operation::Capture { amount }, &actor, now)?;
    let request = CaptureRequest {
        reference: format!("{}:capture", record.id),
        processor_reference: processor_reference(&record)?,
        amount: moved.unwrap_or(record.payment.amount()),
    };
    approved(connector(state, record.livemode)?.capture(request).await?)?;
    save(state, &mut record, next, None, along).await?;
    Ok(record)
}

/// Cancels a payment; an authorized one is voided at the processor first.
pub async fn cancel(
    state: &AppState,
    mut record: PaymentRecord,
    actor: Actor,
    now: i64,
    along: Along<'_>,
) -> Result<PaymentRecord, FlowError> {
    let (next, _) = check(&record, Operation::Cancel, &actor, now)?;
    if record.payment.status() == Status::Authorized {
        let request = VoidRequest {
            reference: format!("{}:void", record.id),
            processor_reference: processor_reference(&record)?,
        };
        approved(connector(state, record.livemode)?.void(request).await?)?;
    }
    save(state, &mut record, next, None, along).await?;
    Ok(record)
}

/// Refunds `amount` (default: all that is left); returns the payment and the refund's id.
pub async fn refund(
    state: &AppState,
    mut record: PaymentRecord,
    amount: Option<Amount>,
    actor: Actor,
    now: i64,
    along: Along<'_>,
) -> Result<(PaymentRecord, NewRefund), FlowError> {
    let (next, moved) = check(&record, Operation::Refund { amount }, &actor, now)?;
    let moved = moved.ok_or(FlowError::Transition(TransitionError::InconsistentRecord(
        "refund without amount",
    )))?;
    // The n-th refund of a payment has a fixed reference, so retrying it cannot refund twice.
    let n = state.store.refunds(&record.id).await?.len() + 1;
    let request = RefundRequest {
        reference: format!("{}:refund:{n}", record.id),
        processor_reference: processor_reference(&record)?,
        amount: moved,
    };
    approved(connector(state, record.livemode)?.refund(request).await?)?;
    let refund = NewRefund {
        id: crate::ids::new_id("re"),
        amount: moved.minor_units(),
        created_at: now,
    };
    save(state, &mut record, next, Some(&refund), along).await?;
    Ok((record, refund))
}
