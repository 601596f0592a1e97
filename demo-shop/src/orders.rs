//! The shop's orders, in memory: created at checkout awaiting payment, marked paid only by a
//! verified webhook (never by what the browser says). A real shop keeps these in its database.

use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

#[derive(Debug, Clone, Serialize)]
pub struct Order {
    /// The shop's own id, sent to the gateway as the session's `reference`.
    pub reference: String,
    /// The gateway session (`cs_…`) that pays it; payment events name it.
    pub session: String,
    pub amount: i64,
    pub currency: String,
    pub status: OrderStatus,
    /// The payment (`pay_…`) that paid it.
    pub payment: Option<String>,
    #[serde(skip)]
    seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    AwaitingPayment,
    Paid,
}

/// What a verified payment event did to its order.
#[derive(Debug, PartialEq, Eq)]
pub enum PaidOutcome {
    Paid,
    AlreadyPaid,
    /// No order has this session: another shop's payment, or one from before a restart.
    UnknownSession,
    /// The payment is not for the order's amount and currency; the order stays unpaid.
    Mismatch,
}

#[derive(Default)]
pub struct Orders {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_session: HashMap<String, Order>,
    session_of: HashMap<String, String>,
    seen_events: HashSet<String>,
    next_seq: u64,
}

impl Orders {
    pub fn create(&self, reference: String, session: String, amount: i64, currency: String) {
        let mut inner = self.inner.lock().unwrap();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.session_of.insert(reference.clone(), session.clone());
        let order = Order {
            reference,
            session: session.clone(),
            amount,
            currency,
            status: OrderStatus::AwaitingPayment,
            payment: None,
            seq,
        };
        inner.by_session.insert(session, order);
    }

    pub fn get(&self, reference: &str) -> Option<Order> {
        let inner = self.inner.lock().unwrap();
        let session = inner.session_of.get(reference)?;
        inner.by_session.get(session).cloned()
    }

    /// Newest first.
    pub fn list(&self) -> Vec<Order> {
        let mut orders: Vec<Order> = self
            .inner
            .lock()
            .unwrap()
            .by_session
            .values()
            .cloned()
            .collect();
        orders.sort_by_key(|o| std::cmp::Reverse(o.seq));
        orders
    }

    /// True the first time an event id is seen. Deliveries are at least once, so the same
    /// event can arrive again; handling it once keeps side effects (emails, stock) single.
    pub fn first_delivery(&self, event_id: &str) -> bool {
        self.inner
            .lock()
            .unwrap()
            .seen_events
            .insert(event_id.to_owned())
    }

    pub fn mark_paid(
        &self,
        session: &str,
        payment: &str,
        amount: i64,
        currency: &str,
    ) -> PaidOutcome {
        let mut inner = self.inner.lock().unwrap();
        let Some(order) = inner.by_session.get_mut(session) else {
            return PaidOutcome::UnknownSession;
        };
        if order.amount != amount || !order.currency.eq_ignore_ascii_case(currency) {
            return PaidOutcome::Mismatch;
        }
        if order.status == OrderStatus::Paid {
            return PaidOutcome::AlreadyPaid;
        }
        order.status = OrderStatus::Paid;
        order.payment = Some(payment.to_owned());
        PaidOutcome::Paid
    }
}
