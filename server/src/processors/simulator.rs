//! The built-in test-mode processor. It models the path processor → card network
//! (chosen by the card's brand) → issuing bank (chosen by the BIN) → the cardholder's
//! account, with balances that authorizations hold and captures, voids and refunds move,
//! the test cards of DESIGN.md, ISO 8583 response codes, latency, and failure injection.
//!
//! Money, per account and currency, is a [`Balance`]: `ledger` (posted) and `held`
//! (authorized, not yet captured); `available = ledger - held`.
//! - authorize `a`: declined `51` if `available < a`, else `held += a`;
//! - capture `c ≤ a`: `held -= a`, `ledger -= c` (a partial capture releases the rest);
//! - void: `held -= a`;
//! - refund `r ≤ captured - refunded`: `ledger += r`.
//!
//! No PAN is kept: accounts are keyed by an HMAC-SHA256 of the PAN under a random key
//! made per simulator, and only the brand and BIN (both allowed in the clear) route.
//!
//! Idempotency: the first final answer under a `reference` is recorded with a digest of
//! the request; the same reference answers it again without moving money, and a
//! different request under the same reference is refused. The check and the change
//! happen under one lock, so concurrent retries cannot both apply. Answers that change
//! nothing and may change on retry — retryable declines (`91`, `96`) and
//! `InvalidRequest` — are not recorded, so the same reference may be tried again.
//!
//! Faults, for the four money-moving calls (a `status` lookup always answers):
//! a queue of deterministic [`Fault`]s ([`Simulator::inject`]), then, optionally,
//! seeded random timeouts and unavailability ([`SimulatorConfig`]).

use super::{
    AuthorizeRequest, CaptureRequest, Connector, ConnectorFuture, DeclineCode, Outcome,
    ProcessorError, RefundRequest, ResponseCode, VoidRequest,
};
use hmac::{Hmac, Mac};
use payframe_core::{Brand, Currency, Pan};
use sha2::Sha256;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use zeroize::Zeroizing;

/// The test cards of DESIGN.md (digits only), plus one with a small balance.
pub mod test_cards {
    /// Approved (Visa).
    pub const VISA: &str = "4242424242424242";
    /// Approved (Mastercard).
    pub const MASTERCARD: &str = "5555555555554444";
    /// Approved (Amex).
    pub const AMEX: &str = "378282246310005";
    /// Declined `05` do not honor.
    pub const DO_NOT_HONOR: &str = "4000000000000002";
    /// Declined `51` insufficient funds: its account holds nothing.
    pub const INSUFFICIENT_FUNDS: &str = "4000000000009995";
    /// Declined `54` expired card.
    pub const EXPIRED_CARD: &str = "4000000000000069";
    /// Declined `82` incorrect CVC, when a CVC is sent.
    pub const INCORRECT_CVC: &str = "4000000000000127";
    /// Declined `96` processing error (retryable).
    pub const PROCESSING_ERROR: &str = "4000000000000119";
    /// Approved until its [`super::LOW_BALANCE`] is used up, then `51`.
    pub const LOW_BALANCE: &str = "4000000000000051";
}

/// Opening balance, per currency, of any other card: more than any sane test spends.
pub const DEFAULT_BALANCE: i64 = 1_000_000_000_000_000;
/// Opening balance, per currency, of [`test_cards::LOW_BALANCE`].
pub const LOW_BALANCE: i64 = 5_000;

/// A failure to inject into the next money-moving call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `Timeout`, and the call never reached the processor: nothing happened.
    TimeoutBefore,
    /// The call is carried out, but its answer is lost: the caller sees `Timeout`.
    TimeoutAfter,
    /// `Unavailable`: refused before doing anything.
    Unavailable,
    /// The network cannot reach the issuer: declined `91`, nothing happened.
    IssuerUnavailable,
}

/// How the simulator behaves. The default answers at once and never fails.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimulatorConfig {
    /// Waited before every call, as a network round trip would.
    pub latency: Duration,
    /// Calls out of 1000 that time out, half before and half after being carried out.
    pub timeout_per_mille: u16,
    /// Calls out of 1000 that fail `Unavailable`.
    pub unavailable_per_mille: u16,
    /// Seed of the random faults, so a run can be repeated.
    pub seed: u64,
}

/// An account's money in one currency, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Balance {
    pub ledger: i64,
    pub held: i64,
}

impl Balance {
    pub fn available(self) -> i64 {
        self.ledger - self.held
    }
}

/// The in-memory processor. Cheap to share: wrap it in an `Arc`.
pub struct Simulator {
    config: SimulatorConfig,
    key: Zeroizing<[u8; 32]>,
    ledger: Mutex<Ledger>,
}

/// HMAC-SHA256 of a PAN under the simulator's key: how a bank finds an account.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct AccountKey([u8; 32]);

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountKey({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

/// Where a card's account lives: network (brand) → issuer (BIN) → account.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    brand: Brand,
    bin: String,
    account: AccountKey,
}

/// How an issuer treats a card, fixed when its account is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    Normal,
    DoNotHonor,
    ExpiredCard,
    IncorrectCvc,
    ProcessingError,
}

impl Profile {
    /// The profile and opening balance of a card; the PAN is only looked at, not kept.
    fn of(pan: &Pan) -> (Profile, i64) {
        match pan.expose() {
            test_cards::DO_NOT_HONOR => (Profile::DoNotHonor, DEFAULT_BALANCE),
            test_cards::INSUFFICIENT_FUNDS => (Profile::Normal, 0),
            test_cards::EXPIRED_CARD => (Profile::ExpiredCard, DEFAULT_BALANCE),
            test_cards::INCORRECT_CVC => (Profile::IncorrectCvc, DEFAULT_BALANCE),
            test_cards::PROCESSING_ERROR => (Profile::ProcessingError, DEFAULT_BALANCE),
            test_cards::LOW_BALANCE => (Profile::Normal, LOW_BALANCE),
            _ => (Profile::Normal, DEFAULT_BALANCE),
        }
    }
}

#[derive(Debug)]
struct Account {
    profile: Profile,
    opening: i64,
    balances: HashMap<Currency, Balance>,
}

impl Account {
    fn open(pan: &Pan) -> Account {
        let (profile, opening) = Profile::of(pan);
        Account {
            profile,
            opening,
            balances: HashMap::new(),
        }
    }

    fn balance(&self, currency: Currency) -> Balance {
        self.balances.get(&currency).copied().unwrap_or(Balance {
            ledger: self.opening,
            held: 0,
        })
    }

    fn balance_mut(&mut self, currency: Currency) -> &mut Balance {
        let opening = self.opening;
        self.balances.entry(currency).or_insert(Balance {
            ledger: opening,
            held: 0,
        })
    }
}

/// An issuing bank: the accounts of the cards of one BIN.
#[derive(Debug, Default)]
struct Issuer {
    accounts: HashMap<AccountKey, Account>,
}

/// A card network: routes to the issuer behind a BIN.
#[derive(Debug, Default)]
struct Network {
    issuers: HashMap<String, Issuer>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthState {
    Held,
    Captured,
    Voided,
}

#[derive(Debug)]
struct Authorization {
    route: Route,
    currency: Currency,
    amount: i64,
    captured: i64,
    refunded: i64,
    state: AuthState,
}

/// A final answer given under an idempotency reference.
#[derive(Debug)]
struct Recorded {
    request: [u8; 32],
    outcome: Outcome,
}

#[derive(Debug, Default)]
struct Ledger {
    networks: HashMap<Brand, Network>,
    /// By the processor reference of the authorization.
    authorizations: HashMap<String, Authorization>,
    /// By idempotency reference.
    operations: HashMap<String, Recorded>,
    faults: VecDeque<Fault>,
    rng: u64,
    next_id: u64,
}

/// A money-moving call, with the card's route worked out before taking the lock.
enum Op {
    Authorize {
        request: AuthorizeRequest,
        route: Option<Route>,
    },
    Capture(CaptureRequest),
    Void(VoidRequest),
    Refund(RefundRequest),
}

impl Op {
    fn reference(&self) -> &str {
        match self {
            Op::Authorize { request, .. } => &request.reference,
            Op::Capture(r) => &r.reference,
            Op::Void(r) => &r.reference,
            Op::Refund(r) => &r.reference,
        }
    }
}

fn declined(code: ResponseCode) -> Outcome {
    Outcome::Declined {
        response_code: code,
        decline_code: code.decline_code().unwrap_or(DeclineCode::ProcessingError),
    }
}

fn invalid(message: &str) -> ProcessorError {
    ProcessorError::InvalidRequest(message.to_owned())
}

/// Whether an answer is the final word on its reference (see the module doc).
fn is_final(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Approved { .. } => true,
        Outcome::Declined { decline_code, .. } => !decline_code.retryable(),
    }
}

fn balance_of<'a>(
    networks: &'a mut HashMap<Brand, Network>,
    route: &Route,
    currency: Currency,
) -> Option<&'a mut Balance> {
    let account = networks
        .get_mut(&route.brand)?
        .issuers
        .get_mut(&route.bin)?
        .accounts
        .get_mut(&route.account)?;
    Some(account.balance_mut(currency))
}

impl Ledger {
    fn next_reference(&mut self, kind: &str) -> String {
        self.next_id += 1;
        format!("sim_{kind}_{}", self.next_id)
    }

    /// splitmix64: small, seedable, good enough to spread faults.
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn next_fault(&mut self, config: &SimulatorConfig) -> Option<Fault> {
        if let Some(fault) = self.faults.pop_front() {
            return Some(fault);
        }
        let timeouts = u64::from(config.timeout_per_mille);
        let unavailable = u64::from(config.unavailable_per_mille);
        if timeouts + unavailable == 0 {
            return None;
        }
        let r = self.next_random();
        let roll = r % 1000;
        if roll < timeouts {
            Some(if (r >> 40) & 1 == 0 {
                Fault::TimeoutBefore
            } else {
                Fault::TimeoutAfter
            })
        } else if roll < timeouts + unavailable {
            Some(Fault::Unavailable)
        } else {
            None
        }
    }

    fn account_mut(&mut self, route: &Route, pan: &Pan) -> &mut Account {
        self.networks
            .entry(route.brand)
            .or_default()
            .issuers
            .entry(route.bin.clone())
            .or_default()
            .accounts
            .entry(route.account)
            .or_insert_with(|| Account::open(pan))
    }

    fn apply(&mut self, op: &Op) -> Result<Outcome, ProcessorError> {
        match op {
            Op::Authorize { request, route } => Ok(self.authorize(request, route.as_ref())),
            Op::Capture(r) => self.capture(r),
            Op::Void(r) => self.void(r),
            Op::Refund(r) => self.refund(r),
        }
    }

    fn authorize(&mut self, request: &AuthorizeRequest, route: Option<&Route>) -> Outcome {
        // No network carries this brand: the card cannot be routed, so it is not a card.
        let Some(route) = route else {
            return declined(ResponseCode::InvalidCardNumber);
        };
        let account = self.account_mut(route, &request.card.pan);
        let refusal = match account.profile {
            Profile::Normal => None,
            Profile::DoNotHonor => Some(ResponseCode::DoNotHonor),
            Profile::ExpiredCard => Some(ResponseCode::ExpiredCard),
            // The issuer can only check a CVC that was sent; merchant-initiated charges
            // of saved cards have none.
            Profile::IncorrectCvc => request.card.cvc.as_ref().map(|_| ResponseCode::CvcMismatch),
            Profile::ProcessingError => Some(ResponseCode::SystemError),
        };
        if let Some(code) = refusal {
            return declined(code);
        }
        let amount = request.amount.minor_units();
        let balance = account.balance_mut(request.currency);
        if balance.available() < amount {
            return declined(ResponseCode::InsufficientFunds);
        }
        balance.held += amount;
        let id = self.next_reference("auth");
        self.authorizations.insert(
            id.clone(),
            Authorization {
                route: route.clone(),
                currency: request.currency,
                amount,
                captured: 0,
                refunded: 0,
                state: AuthState::Held,
            },
        );
        Outcome::Approved {
            processor_reference: id,
        }
    }

    /// The held authorization `reference` and its account's balance, borrowed together.
    fn held(
        &mut self,
        reference: &str,
        want: AuthState,
    ) -> Result<(&mut Authorization, &mut Balance), ProcessorError> {
        let Ledger {
            authorizations,
            networks,
            ..
        } = self;
        let auth = authorizations
            .get_mut(reference)
            .ok_or_else(|| invalid("no such authorization"))?;
        if auth.state != want {
            return Err(invalid(match auth.state {
                AuthState::Held => "the authorization has not been captured",
                AuthState::Captured => "the authorization was already captured",
                AuthState::Voided => "the authorization was voided",
            }));
        }
        let balance = balance_of(networks, &auth.route, auth.currency)
            .ok_or_else(|| invalid("the authorization's account is gone"))?;
        Ok((auth, balance))
    }

    fn capture(&mut self, request: &CaptureRequest) -> Result<Outcome, ProcessorError> {
        let (auth, balance) = self.held(&request.processor_reference, AuthState::Held)?;
        let amount = request.amount.minor_units();
        if amount > auth.amount {
            return Err(invalid("the capture amount exceeds the authorized amount"));
        }
        balance.held -= auth.amount;
        balance.ledger -= amount;
        auth.captured = amount;
        auth.state = AuthState::Captured;
        Ok(Outcome::Approved {
            processor_reference: self.next_reference("cap"),
        })
    }

    fn void(&mut self, request: &VoidRequest) -> Result<Outcome, ProcessorError> {
        let (auth, balance) = self.held(&request.processor_reference, AuthState::Held)?;
        balance.held -= auth.amount;
        auth.state = AuthState::Voided;
        Ok(Outcome::Approved {
            processor_reference: self.next_reference("void"),
        })
    }

    fn refund(&mut self, request: &RefundRequest) -> Result<Outcome, ProcessorError> {
        let (auth, balance) = self.held(&request.processor_reference, AuthState::Captured)?;
        let amount = request.amount.minor_units();
        if amount > auth.captured - auth.refunded {
            return Err(invalid(
                "the refund amount exceeds what remains of the captured amount",
            ));
        }
        balance.ledger += amount;
        auth.refunded += amount;
        Ok(Outcome::Approved {
            processor_reference: self.next_reference("ref"),
        })
    }
}

impl Default for Simulator {
    fn default() -> Simulator {
        Simulator::new(SimulatorConfig::default())
    }
}

impl fmt::Debug for Simulator {
    // The key stays out; the ledger holds no PAN (tested).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("config", &self.config)
            .field("ledger", &*self.lock())
            .finish_non_exhaustive()
    }
}

impl Simulator {
    pub fn new(config: SimulatorConfig) -> Simulator {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut()).expect("the OS random number generator failed");
        let ledger = Ledger {
            rng: config.seed,
            ..Ledger::default()
        };
        Simulator {
            config,
            key,
            ledger: Mutex::new(ledger),
        }
    }

    /// The next `times` money-moving calls fail with `fault`, after any already queued.
    pub fn inject(&self, fault: Fault, times: usize) {
        self.lock().faults.extend(std::iter::repeat_n(fault, times));
    }

    /// The card's balance in `currency` (its opening balance if never used); `None` for a
    /// card no network carries.
    pub fn balance(&self, pan: &Pan, currency: Currency) -> Option<Balance> {
        let route = self.route(pan)?;
        let ledger = self.lock();
        let account = ledger
            .networks
            .get(&route.brand)
            .and_then(|n| n.issuers.get(&route.bin))
            .and_then(|i| i.accounts.get(&route.account));
        Some(match account {
            Some(account) => account.balance(currency),
            None => Account::open(pan).balance(currency),
        })
    }

    /// Sets the card's posted balance in `currency` (holds stay), opening its account if
    /// needed: how a test or a demo reaches `51` with any card. No effect on a card no
    /// network carries.
    pub fn set_balance(&self, pan: &Pan, currency: Currency, ledger: i64) {
        if let Some(route) = self.route(pan) {
            self.lock()
                .account_mut(&route, pan)
                .balance_mut(currency)
                .ledger = ledger;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Ledger> {
        // Nothing panics while holding the lock; if something did, the ledger is still
        // the best record there is.
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(self.key.as_ref()).expect("HMAC takes any key")
    }

    fn account_key(&self, pan: &Pan) -> AccountKey {
        let mut mac = self.mac();
        mac.update(b"payframe/simulator/account\0");
        mac.update(pan.expose().as_bytes());
        AccountKey(mac.finalize().into_bytes().into())
    }

    /// Network by brand; `None` when no network carries the card.
    fn route(&self, pan: &Pan) -> Option<Route> {
        Some(Route {
            brand: pan.brand()?,
            bin: pan.bin().to_owned(),
            account: self.account_key(pan),
        })
    }

    /// What identifies a request, so a reference reused for another one is caught.
    fn digest(&self, op: &Op) -> [u8; 32] {
        let mut mac = self.mac();
        // Length-prefixed fields: no two different requests encode alike.
        let mut field = |bytes: &[u8]| {
            mac.update(&(bytes.len() as u64).to_le_bytes());
            mac.update(bytes);
        };
        match op {
            Op::Authorize { request, route } => {
                // The route already holds the account's key; a card no network carries
                // still needs one here.
                let account = route
                    .as_ref()
                    .map_or_else(|| self.account_key(&request.card.pan), |r| r.account);
                field(b"authorize");
                field(&account.0);
                field(&request.card.expiry.month().to_le_bytes());
                field(&request.card.expiry.year().to_le_bytes());
                field(&[u8::from(request.card.cvc.is_some())]);
                field(&request.amount.minor_units().to_le_bytes());
                field(request.currency.code().as_bytes());
            }
            Op::Capture(r) => {
                field(b"capture");
                field(r.processor_reference.as_bytes());
                field(&r.amount.minor_units().to_le_bytes());
            }
            Op::Void(r) => {
                field(b"void");
                field(r.processor_reference.as_bytes());
            }
            Op::Refund(r) => {
                field(b"refund");
                field(r.processor_reference.as_bytes());
                field(&r.amount.minor_units().to_le_bytes());
            }
        }
        mac.finalize().into_bytes().into()
    }

    async fn wait(&self) {
        if !self.config.latency.is_zero() {
            tokio::time::sleep(self.config.latency).await;
        }
    }

    async fn call(&self, op: Op) -> Result<Outcome, ProcessorError> {
        let digest = self.digest(&op);
        self.wait().await;
        self.execute(&op, digest)
    }

    /// Faults, the idempotency check and the change, all under one lock.
    fn execute(&self, op: &Op, digest: [u8; 32]) -> Result<Outcome, ProcessorError> {
        let mut ledger = self.lock();
        let fault = ledger.next_fault(&self.config);
        match fault {
            Some(Fault::TimeoutBefore) => return Err(ProcessorError::Timeout),
            Some(Fault::Unavailable) => return Err(ProcessorError::Unavailable),
            _ => {}
        }
        let reference = op.reference();
        let result = match ledger.operations.get(reference) {
            Some(recorded) if recorded.request == digest => Ok(recorded.outcome.clone()),
            Some(_) => {
                return Err(invalid(
                    "the reference was already used for a different request",
                ));
            }
            None if fault == Some(Fault::IssuerUnavailable) => {
                Ok(declined(ResponseCode::IssuerUnavailable))
            }
            None => {
                let result = ledger.apply(op);
                if let Ok(outcome) = &result
                    && is_final(outcome)
                {
                    ledger.operations.insert(
                        reference.to_owned(),
                        Recorded {
                            request: digest,
                            outcome: outcome.clone(),
                        },
                    );
                }
                result
            }
        };
        if fault == Some(Fault::TimeoutAfter) {
            return Err(ProcessorError::Timeout);
        }
        result
    }

    fn lookup(&self, reference: &str) -> Option<Outcome> {
        self.lock()
            .operations
            .get(reference)
            .map(|r| r.outcome.clone())
    }
}

impl Connector for Simulator {
    fn name(&self) -> &'static str {
        "simulator"
    }

    fn authorize(&self, request: AuthorizeRequest) -> ConnectorFuture<'_, Outcome> {
        let route = self.route(&request.card.pan);
        Box::pin(self.call(Op::Authorize { request, route }))
    }

    fn capture(&self, request: CaptureRequest) -> ConnectorFuture<'_, Outcome> {
        Box::pin(self.call(Op::Capture(request)))
    }

    fn void(&self, request: VoidRequest) -> ConnectorFuture<'_, Outcome> {
        Box::pin(self.call(Op::Void(request)))
    }

    fn refund(&self, request: RefundRequest) -> ConnectorFuture<'_, Outcome> {
        Box::pin(self.call(Op::Refund(request)))
    }

    fn status<'a>(&'a self, reference: &'a str) -> ConnectorFuture<'a, Option<Outcome>> {
        Box::pin(async move {
            self.wait().await;
            Ok(self.lookup(reference))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processors::Card;
    use payframe_core::{Amount, Cvc, Expiry};
    use std::sync::Arc;

    fn usd() -> Currency {
        Currency::parse("usd").unwrap()
    }

    fn pan(number: &str) -> Pan {
        Pan::parse(number).unwrap()
    }

    fn card(number: &str, cvc: Option<&str>) -> Card {
        let pan = pan(number);
        let cvc = cvc.map(|c| Cvc::parse(c, pan.brand()).unwrap());
        Card {
            pan,
            expiry: Expiry::new(12, 2030, (2026, 1)).unwrap(),
            cvc,
        }
    }

    fn auth_request(reference: &str, number: &str, minor: i64) -> AuthorizeRequest {
        let cvc = if number == test_cards::AMEX {
            "1234"
        } else {
            "123"
        };
        AuthorizeRequest {
            reference: reference.into(),
            amount: Amount::new(minor).unwrap(),
            currency: usd(),
            card: card(number, Some(cvc)),
        }
    }

    fn capture_request(reference: &str, auth: &str, minor: i64) -> CaptureRequest {
        CaptureRequest {
            reference: reference.into(),
            processor_reference: auth.into(),
            amount: Amount::new(minor).unwrap(),
        }
    }

    fn refund_request(reference: &str, auth: &str, minor: i64) -> RefundRequest {
        RefundRequest {
            reference: reference.into(),
            processor_reference: auth.into(),
            amount: Amount::new(minor).unwrap(),
        }
    }

    fn void_request(reference: &str, auth: &str) -> VoidRequest {
        VoidRequest {
            reference: reference.into(),
            processor_reference: auth.into(),
        }
    }

    fn balance(sim: &Simulator, number: &str) -> Balance {
        sim.balance(&pan(number), usd()).unwrap()
    }

    fn approved_reference(outcome: Outcome) -> String {
        match outcome {
            Outcome::Approved {
                processor_reference,
            } => processor_reference,
            other => panic!("expected approval, got {other:?}"),
        }
    }

    /// Authorizes `minor` on the Visa test card and returns the authorization reference.
    async fn authorize_visa(sim: &Simulator, reference: &str, minor: i64) -> String {
        approved_reference(
            sim.authorize(auth_request(reference, test_cards::VISA, minor))
                .await
                .unwrap(),
        )
    }

    fn declined_with(code: &str) -> Outcome {
        declined(ResponseCode::parse(code).unwrap())
    }

    #[tokio::test]
    async fn each_test_card_answers_as_designed() {
        let sim = Simulator::default();
        let cases: &[(&str, Option<&str>)] = &[
            (test_cards::VISA, None),
            (test_cards::MASTERCARD, None),
            (test_cards::AMEX, None),
            (test_cards::DO_NOT_HONOR, Some("05")),
            (test_cards::INSUFFICIENT_FUNDS, Some("51")),
            (test_cards::EXPIRED_CARD, Some("54")),
            (test_cards::INCORRECT_CVC, Some("82")),
            (test_cards::PROCESSING_ERROR, Some("96")),
            // Any other valid card of a known brand is approved.
            ("4000056655665556", None),
            ("6011111111111117", None),
        ];
        for (i, (number, decline)) in cases.iter().enumerate() {
            let outcome = sim
                .authorize(auth_request(&format!("auth_{i}"), number, 1_999))
                .await
                .unwrap();
            let held = balance(&sim, number).held;
            match decline {
                None => {
                    assert!(matches!(outcome, Outcome::Approved { .. }), "{number}");
                    assert_eq!(held, 1_999, "{number}");
                }
                Some(code) => {
                    assert_eq!(outcome, declined_with(code), "{number}");
                    assert_eq!(held, 0, "{number}");
                }
            }
        }
        match sim
            .authorize(auth_request("x", test_cards::PROCESSING_ERROR, 1))
            .await
            .unwrap()
        {
            Outcome::Declined {
                response_code,
                decline_code,
            } => {
                assert_eq!(response_code.as_str(), "96");
                assert_eq!(decline_code, DeclineCode::ProcessingError);
                assert!(decline_code.retryable());
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn incorrect_cvc_card_without_a_cvc_is_approved() {
        // A merchant-initiated charge of a saved card carries no CVC to check.
        let sim = Simulator::default();
        let mut request = auth_request("mit", test_cards::INCORRECT_CVC, 500);
        request.card.cvc = None;
        let outcome = sim.authorize(request).await.unwrap();
        assert!(matches!(outcome, Outcome::Approved { .. }));
    }

    #[tokio::test]
    async fn a_card_no_network_carries_is_declined_14() {
        let sim = Simulator::default();
        let number = "9999999999999995"; // Luhn-valid, no brand
        assert_eq!(pan(number).brand(), None);
        let outcome = sim
            .authorize(auth_request("unknown", number, 100))
            .await
            .unwrap();
        assert_eq!(outcome, declined_with("14"));
        assert_eq!(sim.balance(&pan(number), usd()), None);
    }

    #[tokio::test]
    async fn insufficient_funds_follows_the_balance() {
        let sim = Simulator::default();
        let low = test_cards::LOW_BALANCE;
        assert_eq!(balance(&sim, low).available(), LOW_BALANCE);
        approved_reference(sim.authorize(auth_request("a1", low, 3_000)).await.unwrap());
        // 2_000 available now: 3_000 more is too much, exactly 2_000 is not.
        let outcome = sim.authorize(auth_request("a2", low, 3_000)).await.unwrap();
        assert_eq!(outcome, declined_with("51"));
        approved_reference(sim.authorize(auth_request("a3", low, 2_000)).await.unwrap());
        assert_eq!(
            balance(&sim, low),
            Balance {
                ledger: LOW_BALANCE,
                held: LOW_BALANCE
            }
        );

        // Any card can be brought to 51, and back.
        let visa = pan(test_cards::VISA);
        sim.set_balance(&visa, usd(), 100);
        let outcome = sim
            .authorize(auth_request("v1", test_cards::VISA, 101))
            .await
            .unwrap();
        assert_eq!(outcome, declined_with("51"));
        authorize_visa(&sim, "v2", 100).await;

        // Balances are per currency.
        let brl = Currency::parse("brl").unwrap();
        assert_eq!(
            sim.balance(&visa, brl).unwrap().available(),
            DEFAULT_BALANCE
        );
    }

    #[tokio::test]
    async fn full_capture_turns_the_hold_into_a_debit() {
        let sim = Simulator::default();
        let auth = authorize_visa(&sim, "a", 10_000).await;
        let b = balance(&sim, test_cards::VISA);
        assert_eq!(
            (b.ledger, b.held, b.available()),
            (DEFAULT_BALANCE, 10_000, DEFAULT_BALANCE - 10_000)
        );

        let outcome = sim
            .capture(capture_request("c", &auth, 10_000))
            .await
            .unwrap();
        approved_reference(outcome);
        let b = balance(&sim, test_cards::VISA);
        assert_eq!((b.ledger, b.held), (DEFAULT_BALANCE - 10_000, 0));

        // One capture per authorization.
        let err = sim
            .capture(capture_request("c2", &auth, 1))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "processor_invalid_request");
    }

    #[tokio::test]
    async fn partial_capture_releases_the_rest_of_the_hold() {
        let sim = Simulator::default();
        let auth = authorize_visa(&sim, "a", 10_000).await;
        let err = sim
            .capture(capture_request("too_much", &auth, 10_001))
            .await
            .unwrap_err();
        assert!(matches!(err, ProcessorError::InvalidRequest(_)));
        assert_eq!(balance(&sim, test_cards::VISA).held, 10_000);

        sim.capture(capture_request("c", &auth, 4_000))
            .await
            .unwrap();
        let b = balance(&sim, test_cards::VISA);
        assert_eq!((b.ledger, b.held), (DEFAULT_BALANCE - 4_000, 0));
    }

    #[tokio::test]
    async fn void_releases_the_hold_and_ends_the_authorization() {
        let sim = Simulator::default();
        let auth = authorize_visa(&sim, "a", 7_000).await;
        approved_reference(sim.void(void_request("v", &auth)).await.unwrap());
        let b = balance(&sim, test_cards::VISA);
        assert_eq!((b.ledger, b.held), (DEFAULT_BALANCE, 0));
        for err in [
            sim.capture(capture_request("c", &auth, 1))
                .await
                .unwrap_err(),
            sim.void(void_request("v2", &auth)).await.unwrap_err(),
            sim.refund(refund_request("r", &auth, 1)).await.unwrap_err(),
        ] {
            assert!(matches!(err, ProcessorError::InvalidRequest(_)), "{err:?}");
        }

        // A captured authorization cannot be voided: that is a refund.
        let auth = authorize_visa(&sim, "a2", 1_000).await;
        sim.capture(capture_request("c3", &auth, 1_000))
            .await
            .unwrap();
        assert!(sim.void(void_request("v3", &auth)).await.is_err());

        let err = sim
            .void(void_request("v4", "sim_auth_404"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            ProcessorError::InvalidRequest("no such authorization".into())
        );
    }

    #[tokio::test]
    async fn refunds_credit_back_up_to_what_was_captured() {
        let sim = Simulator::default();
        let auth = authorize_visa(&sim, "a", 10_000).await;
        // Nothing captured yet: nothing to refund.
        assert!(sim.refund(refund_request("r0", &auth, 1)).await.is_err());
        sim.capture(capture_request("c", &auth, 6_000))
            .await
            .unwrap();

        sim.refund(refund_request("r1", &auth, 2_500))
            .await
            .unwrap();
        assert_eq!(
            balance(&sim, test_cards::VISA).ledger,
            DEFAULT_BALANCE - 3_500
        );
        let err = sim
            .refund(refund_request("r2", &auth, 3_501))
            .await
            .unwrap_err();
        assert!(matches!(err, ProcessorError::InvalidRequest(_)));
        sim.refund(refund_request("r3", &auth, 3_500))
            .await
            .unwrap();
        let b = balance(&sim, test_cards::VISA);
        assert_eq!((b.ledger, b.held), (DEFAULT_BALANCE, 0));
        assert!(sim.refund(refund_request("r4", &auth, 1)).await.is_err());
    }

    #[tokio::test]
    async fn retries_with_the_same_reference_move_money_once() {
        let sim = Simulator::default();
        let first = sim
            .authorize(auth_request("auth_1", test_cards::VISA, 1_000))
            .await
            .unwrap();
        let again = sim
            .authorize(auth_request("auth_1", test_cards::VISA, 1_000))
            .await
            .unwrap();
        assert_eq!(first, again);
        assert_eq!(balance(&sim, test_cards::VISA).held, 1_000);
        let auth = approved_reference(first);

        let c1 = sim
            .capture(capture_request("cap_1", &auth, 800))
            .await
            .unwrap();
        let c2 = sim
            .capture(capture_request("cap_1", &auth, 800))
            .await
            .unwrap();
        assert_eq!(c1, c2);
        let r1 = sim
            .refund(refund_request("ref_1", &auth, 300))
            .await
            .unwrap();
        let r2 = sim
            .refund(refund_request("ref_1", &auth, 300))
            .await
            .unwrap();
        assert_eq!(r1, r2);
        let b = balance(&sim, test_cards::VISA);
        assert_eq!((b.ledger, b.held), (DEFAULT_BALANCE - 500, 0));

        let auth2 = authorize_visa(&sim, "auth_2", 400).await;
        let v1 = sim.void(void_request("void_2", &auth2)).await.unwrap();
        let v2 = sim.void(void_request("void_2", &auth2)).await.unwrap();
        assert_eq!(v1, v2);
        assert_eq!(balance(&sim, test_cards::VISA).held, 0);

        // A final decline is replayed too, without a second look at the balance.
        let d1 = sim
            .authorize(auth_request("d", test_cards::DO_NOT_HONOR, 1))
            .await
            .unwrap();
        assert_eq!(sim.status("d").await.unwrap(), Some(d1));
    }

    #[tokio::test]
    async fn a_reference_reused_for_another_request_is_refused() {
        let sim = Simulator::default();
        let auth = authorize_visa(&sim, "auth_1", 1_000).await;
        let err = sim
            .authorize(auth_request("auth_1", test_cards::VISA, 1_001))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "processor_invalid_request");
        let err = sim
            .authorize(auth_request("auth_1", test_cards::MASTERCARD, 1_000))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "processor_invalid_request");
        // Across operations too.
        assert!(
            sim.capture(capture_request("auth_1", &auth, 1_000))
                .await
                .is_err()
        );
        assert_eq!(balance(&sim, test_cards::VISA).held, 1_000);
        assert_eq!(balance(&sim, test_cards::MASTERCARD).held, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_retries_with_one_reference_charge_once() {
        let sim = Arc::new(Simulator::default());
        // Through the trait object, as the gateway will hold it.
        let connector: Arc<dyn Connector> = sim.clone();
        let spawn_auths = |sim: &Arc<dyn Connector>| {
            (0..32)
                .map(|_| {
                    let sim = sim.clone();
                    tokio::spawn(async move {
                        sim.authorize(auth_request("same", test_cards::VISA, 2_500))
                            .await
                            .unwrap()
                    })
                })
                .collect::<Vec<_>>()
        };
        let mut outcomes = Vec::new();
        for task in spawn_auths(&connector) {
            outcomes.push(task.await.unwrap());
        }
        assert!(outcomes.iter().all(|o| *o == outcomes[0]));
        assert_eq!(balance(&sim, test_cards::VISA).held, 2_500);

        let auth = approved_reference(outcomes[0].clone());
        let captures: Vec<_> = (0..32)
            .map(|_| {
                let (sim, auth) = (connector.clone(), auth.clone());
                tokio::spawn(async move {
                    sim.capture(capture_request("cap", &auth, 2_000))
                        .await
                        .unwrap()
                })
            })
            .collect();
        for task in captures {
            approved_reference(task.await.unwrap());
        }
        let b = balance(&sim, test_cards::VISA);
        assert_eq!((b.ledger, b.held), (DEFAULT_BALANCE - 2_000, 0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_authorizations_never_overdraw() {
        let sim = Arc::new(Simulator::default());
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let sim = sim.clone();
                tokio::spawn(async move {
                    sim.authorize(auth_request(
                        &format!("a{i}"),
                        test_cards::LOW_BALANCE,
                        1_000,
                    ))
                    .await
                    .unwrap()
                })
            })
            .collect();
        let mut approved = 0;
        for task in tasks {
            if matches!(task.await.unwrap(), Outcome::Approved { .. }) {
                approved += 1;
            }
        }
        assert_eq!(approved, LOW_BALANCE / 1_000);
        assert_eq!(balance(&sim, test_cards::LOW_BALANCE).available(), 0);
    }

    #[tokio::test]
    async fn a_lost_answer_is_found_by_status_and_by_retry_without_a_second_hold() {
        let sim = Simulator::default();
        sim.inject(Fault::TimeoutAfter, 1);
        let request = auth_request("auth_t", test_cards::VISA, 3_000);
        let err = sim.authorize(request.clone()).await.unwrap_err();
        assert_eq!(err, ProcessorError::Timeout);
        assert!(err.retryable());
        // The authorization happened: the hold is there, and status tells its reference.
        assert_eq!(balance(&sim, test_cards::VISA).held, 3_000);
        let found = sim.status("auth_t").await.unwrap().expect("performed");
        let auth = approved_reference(found.clone());
        // Retrying with the same reference answers the same, with no second hold.
        assert_eq!(sim.authorize(request).await.unwrap(), found);
        assert_eq!(balance(&sim, test_cards::VISA).held, 3_000);

        // The same for a capture whose answer is lost.
        sim.inject(Fault::TimeoutAfter, 1);
        let capture = capture_request("cap_t", &auth, 3_000);
        assert_eq!(
            sim.capture(capture.clone()).await,
            Err(ProcessorError::Timeout)
        );
        approved_reference(sim.capture(capture).await.unwrap());
        let b = balance(&sim, test_cards::VISA);
        assert_eq!((b.ledger, b.held), (DEFAULT_BALANCE - 3_000, 0));
    }

    #[tokio::test]
    async fn a_timeout_before_the_processor_leaves_nothing_to_find() {
        let sim = Simulator::default();
        sim.inject(Fault::TimeoutBefore, 2);
        let request = auth_request("auth_t", test_cards::VISA, 3_000);
        assert_eq!(
            sim.authorize(request.clone()).await,
            Err(ProcessorError::Timeout)
        );
        assert_eq!(sim.status("auth_t").await.unwrap(), None);
        assert_eq!(balance(&sim, test_cards::VISA).held, 0);
        // Still failing: the queue had two.
        assert_eq!(
            sim.authorize(request.clone()).await,
            Err(ProcessorError::Timeout)
        );
        approved_reference(sim.authorize(request).await.unwrap());
        assert_eq!(balance(&sim, test_cards::VISA).held, 3_000);
    }

    #[tokio::test]
    async fn unavailable_and_issuer_unavailable_apply_nothing_and_allow_a_retry() {
        let sim = Simulator::default();
        sim.inject(Fault::Unavailable, 1);
        sim.inject(Fault::IssuerUnavailable, 1);
        let request = auth_request("auth_u", test_cards::VISA, 3_000);
        assert_eq!(
            sim.authorize(request.clone()).await,
            Err(ProcessorError::Unavailable)
        );
        assert_eq!(
            sim.authorize(request.clone()).await.unwrap(),
            declined_with("91")
        );
        // A retryable decline is not the final word: nothing recorded, nothing held.
        assert_eq!(sim.status("auth_u").await.unwrap(), None);
        assert_eq!(balance(&sim, test_cards::VISA).held, 0);
        approved_reference(sim.authorize(request).await.unwrap());
        assert_eq!(balance(&sim, test_cards::VISA).held, 3_000);
    }

    #[tokio::test]
    async fn the_processing_error_card_is_retryable_and_leaves_no_record() {
        let sim = Simulator::default();
        let request = auth_request("auth_96", test_cards::PROCESSING_ERROR, 100);
        assert_eq!(
            sim.authorize(request.clone()).await.unwrap(),
            declined_with("96")
        );
        assert_eq!(sim.status("auth_96").await.unwrap(), None);
        assert_eq!(sim.authorize(request).await.unwrap(), declined_with("96"));
        assert_eq!(balance(&sim, test_cards::PROCESSING_ERROR).held, 0);
    }

    #[tokio::test]
    async fn random_faults_never_charge_twice() {
        let sim = Simulator::new(SimulatorConfig {
            timeout_per_mille: 400,
            unavailable_per_mille: 100,
            seed: 42,
            ..SimulatorConfig::default()
        });
        let (mut timeouts, mut unavailable, mut expected) = (0, 0, 0);
        for i in 0..100i64 {
            let reference = format!("auth_{i}");
            let request = auth_request(&reference, test_cards::VISA, 100 + i);
            expected += 100 + i;
            // Resolve as a gateway would: retry with the same reference, or (every
            // other payment) ask for the status first.
            loop {
                match sim.authorize(request.clone()).await {
                    Ok(outcome) => {
                        approved_reference(outcome);
                        break;
                    }
                    Err(ProcessorError::Timeout) => {
                        timeouts += 1;
                        if i % 2 == 0
                            && let Some(outcome) = sim.status(&reference).await.unwrap()
                        {
                            approved_reference(outcome);
                            break;
                        }
                    }
                    Err(ProcessorError::Unavailable) => unavailable += 1,
                    Err(e) => panic!("{e}"),
                }
            }
        }
        assert!(timeouts > 10 && unavailable > 0, "{timeouts} {unavailable}");
        assert_eq!(balance(&sim, test_cards::VISA).held, expected);
    }

    #[tokio::test]
    async fn latency_delays_the_call_and_an_abandoned_call_does_nothing() {
        // No wall-clock waiting: the call cannot finish within a zero timeout.
        let sim = Simulator::new(SimulatorConfig {
            latency: Duration::from_secs(3_600),
            ..SimulatorConfig::default()
        });
        let call = sim.authorize(auth_request("slow", test_cards::VISA, 100));
        assert!(tokio::time::timeout(Duration::ZERO, call).await.is_err());
        assert_eq!(balance(&sim, test_cards::VISA).held, 0);
        assert_eq!(sim.lookup("slow"), None);
    }

    #[tokio::test]
    async fn the_simulator_keeps_no_pan() {
        let sim = Simulator::default();
        for (i, number) in [test_cards::VISA, test_cards::AMEX, test_cards::LOW_BALANCE]
            .into_iter()
            .enumerate()
        {
            let auth = approved_reference(
                sim.authorize(auth_request(&format!("a{i}"), number, 100))
                    .await
                    .unwrap(),
            );
            sim.capture(capture_request(&format!("c{i}"), &auth, 100))
                .await
                .unwrap();
        }
        let dump = format!("{sim:?}");
        assert!(dump.contains("Simulator"));
        for number in [test_cards::VISA, test_cards::AMEX, test_cards::LOW_BALANCE] {
            // Nothing past the BIN: neither the number nor its last digits beside it.
            assert!(!dump.contains(number), "{number}");
            assert!(!dump.contains(&number[..12]), "{number}");
        }
        assert!(!dump.contains("key:"));
    }

    #[test]
    fn it_names_itself() {
        assert_eq!(Simulator::default().name(), "simulator");
    }
}
