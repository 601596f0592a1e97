//! Events: which payment transitions a merchant hears about, and the event document sent to
//! its endpoints and shown by `GET /v1/events` — `{"id":"evt_…","object":"event","type",
//! "created","livemode","data":{"object":<the payment as the API renders it>}}`.

use crate::payments::view::PaymentObject;
use crate::payments::{OperationKind, Transition};
use crate::store::PaymentRecord;
use serde::Serialize;

/// The event types, as merchants subscribe to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    PaymentAuthorized,
    PaymentCaptured,
    PaymentFailed,
    PaymentCanceled,
    PaymentRefunded,
}

/// What an endpoint subscribes to when it names no event types.
pub const ALL_EVENTS: &str = "*";

impl EventType {
    pub const ALL: [EventType; 5] = [
        EventType::PaymentAuthorized,
        EventType::PaymentCaptured,
        EventType::PaymentFailed,
        EventType::PaymentCanceled,
        EventType::PaymentRefunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::PaymentAuthorized => "payment.authorized",
            EventType::PaymentCaptured => "payment.captured",
            EventType::PaymentFailed => "payment.failed",
            EventType::PaymentCanceled => "payment.canceled",
            EventType::PaymentRefunded => "payment.refunded",
        }
    }

    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The event a transition causes, if merchants hear about it. Submitting and a
    /// processor timeout are internal steps: the payment's outcome follows later.
    pub fn of_transition(t: &Transition) -> Option<EventType> {
        match t.operation {
            OperationKind::Authorized => Some(EventType::PaymentAuthorized),
            OperationKind::Capture => Some(EventType::PaymentCaptured),
            OperationKind::Declined => Some(EventType::PaymentFailed),
            OperationKind::Cancel => Some(EventType::PaymentCanceled),
            OperationKind::Refund => Some(EventType::PaymentRefunded),
            OperationKind::Submit | OperationKind::ProcessorTimeout => None,
        }
    }
}

/// Whether an endpoint subscribed to `enabled` (event types, or `*`) wants `kind`.
pub fn subscribed(enabled: &[String], kind: &str) -> bool {
    enabled.iter().any(|e| e == ALL_EVENTS || e == kind)
}

/// An event about to be written, with its document already rendered.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: String,
    pub merchant_id: String,
    pub kind: EventType,
    pub payment_id: String,
    pub livemode: bool,
    /// The JSON document, exactly as it will be delivered.
    pub body: String,
    pub created: i64,
}

#[derive(Serialize)]
struct EventDocument<'a> {
    id: &'a str,
    object: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    created: i64,
    livemode: bool,
    data: EventData<'a>,
}

#[derive(Serialize)]
struct EventData<'a> {
    object: &'a PaymentObject,
}

/// The events caused by `new_transitions` of `record` (the transitions this save appends),
/// in order, each carrying the payment as it is after the save.
pub fn for_transitions(record: &PaymentRecord, new_transitions: &[Transition]) -> Vec<NewEvent> {
    let payment = PaymentObject::from(record);
    new_transitions
        .iter()
        .filter_map(|t| Some((EventType::of_transition(t)?, t.at)))
        .map(|(kind, created)| {
            let id = crate::ids::new_id("evt");
            let body = serde_json::to_string(&EventDocument {
                id: &id,
                object: "event",
                kind: kind.as_str(),
                created,
                livemode: record.livemode,
                data: EventData { object: &payment },
            })
            .expect("an event serializes");
            NewEvent {
                id,
                merchant_id: record.merchant_id.clone(),
                kind,
                payment_id: record.id.clone(),
                livemode: record.livemode,
                body,
                created,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::{Actor, CaptureMethod, Operation, Payment};
    use crate::processors::DeclineCode;
    use payframe_core::{Amount, Currency};

    fn record(payment: Payment) -> PaymentRecord {
        PaymentRecord {
            id: "pay_1".into(),
            merchant_id: "mer_1".into(),
            session_id: Some("cs_1".into()),
            card_token: None,
            brand: "visa".into(),
            last4: "4242".into(),
            exp_month: 12,
            exp_year: 2030,
            customer_id: None,
            payment_method_id: None,
            reference: None,
            livemode: false,
            version: 0,
            payment,
        }
    }

    fn authorized(capture: CaptureMethod) -> Payment {
        let mut p = Payment::new(
            Amount::new(1999).unwrap(),
            Currency::parse("brl").unwrap(),
            capture,
            100,
        );
        p.apply(Operation::Submit, Actor::Frame, 100).unwrap();
        p.apply(
            Operation::Authorized {
                processor_reference: "sim_1".into(),
            },
            Actor::System,
            101,
        )
        .unwrap();
        p
    }

    fn kinds(events: &[NewEvent]) -> Vec<&'static str> {
        events.iter().map(|e| e.kind.as_str()).collect()
    }

    #[test]
    fn each_operation_maps_to_its_event() {
        let mut p = authorized(CaptureMethod::Automatic);
        p.apply(Operation::Capture { amount: None }, Actor::System, 101)
            .unwrap();
        p.apply(
            Operation::Refund {
                amount: Some(Amount::new(500).unwrap()),
            },
            Actor::System,
            200,
        )
        .unwrap();
        let r = record(p);
        let events = for_transitions(&r, r.payment.transitions());
        assert_eq!(
            kinds(&events),
            ["payment.authorized", "payment.captured", "payment.refunded"]
        );
        assert_eq!(events[2].created, 200);

        let mut voided = authorized(CaptureMethod::Manual);
        voided.apply(Operation::Cancel, Actor::System, 300).unwrap();
        let r = record(voided);
        assert_eq!(
            kinds(&for_transitions(&r, &r.payment.transitions()[2..])),
            ["payment.canceled"]
        );

        let mut declined = Payment::new(
            Amount::new(1999).unwrap(),
            Currency::parse("brl").unwrap(),
            CaptureMethod::Automatic,
            100,
        );
        declined
            .apply(Operation::Submit, Actor::Frame, 100)
            .unwrap();
        declined
            .apply(Operation::ProcessorTimeout, Actor::System, 100)
            .unwrap();
        declined
            .apply(
                Operation::Declined {
                    code: DeclineCode::DoNotHonor,
                },
                Actor::System,
                100,
            )
            .unwrap();
        let r = record(declined);
        assert_eq!(
            kinds(&for_transitions(&r, r.payment.transitions())),
            ["payment.failed"],
            "submit and a timeout cause no event"
        );
    }

    #[test]
    fn the_document_carries_the_payment_as_the_api_renders_it() {
        let r = record(authorized(CaptureMethod::Manual));
        let events = for_transitions(&r, r.payment.transitions());
        let doc: serde_json::Value = serde_json::from_str(&events[0].body).unwrap();
        assert_eq!(doc["id"], events[0].id.as_str());
        assert!(events[0].id.starts_with("evt_"));
        assert_eq!(doc["object"], "event");
        assert_eq!(doc["type"], "payment.authorized");
        assert_eq!(doc["created"], 101);
        assert_eq!(doc["livemode"], false);
        assert_eq!(
            doc["data"]["object"],
            serde_json::to_value(PaymentObject::from(&r)).unwrap()
        );
        assert_eq!(doc["data"]["object"]["session"], "cs_1");
    }

    #[test]
    fn subscriptions_match_a_type_or_everything() {
        let some = vec!["payment.captured".to_owned()];
        assert!(subscribed(&some, "payment.captured"));
        assert!(!subscribed(&some, "payment.failed"));
        assert!(subscribed(&["*".to_owned()], "payment.failed"));
        assert!(!subscribed(&[], "payment.failed"));
    }
}
