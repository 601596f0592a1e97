//! Rate limits against card testing and runaway clients: per client IP on the frame's
//! endpoints (and tighter on its confirm), per session on confirm, per card fingerprint
//! across sessions, and per API key on the merchant API. Each is a keyed GCRA limiter from
//! `governor`, in this instance's memory: with N instances behind a load balancer a client
//! gets up to N times each limit (README, "Running on PostgreSQL"). A refused request is
//! answered 429 `rate_limited` with `Retry-After`, before it changes anything.

use super::error::ApiError;
use crate::state::AppState;
use axum::extract::connect_info::MockConnectInfo;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::Extensions;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

/// How often idle keys are forgotten, so memory follows the active clients, not every
/// client ever seen.
pub const EVICT_INTERVAL: Duration = Duration::from_secs(60);

/// `count` requests per `period`, at most `burst` at once; `count == 0` switches it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub count: u32,
    pub period: Duration,
    pub burst: u32,
}

impl Limit {
    pub const OFF: Limit = Limit {
        count: 0,
        period: Duration::from_secs(1),
        burst: 0,
    };

    pub const fn new(count: u32, period: Duration, burst: u32) -> Limit {
        Limit {
            count,
            period,
            burst,
        }
    }

    pub const fn per_second(count: u32, burst: u32) -> Limit {
        Limit::new(count, Duration::from_secs(1), burst)
    }

    pub const fn per_minute(count: u32, burst: u32) -> Limit {
        Limit::new(count, Duration::from_secs(60), burst)
    }

    pub const fn per_hour(count: u32, burst: u32) -> Limit {
        Limit::new(count, Duration::from_secs(3600), burst)
    }

    /// One request comes back every `period / count`; up to `burst` (default `count`) may
    /// be spent at once. `None`: switched off.
    fn quota(&self) -> Option<Quota> {
        let count = NonZeroU32::new(self.count)?;
        let burst = NonZeroU32::new(self.burst).unwrap_or(count);
        Quota::with_period(self.period / count.get()).map(|q| q.allow_burst(burst))
    }
}

/// `0` or `off`; or `COUNT/UNIT[:BURST]` with UNIT `s`, `m` or `h` — `20/m:10` is 20 a
/// minute, 10 at once.
impl FromStr for Limit {
    type Err = String;

    fn from_str(text: &str) -> Result<Limit, String> {
        let text = text.trim();
        if text == "0" || text.eq_ignore_ascii_case("off") {
            return Ok(Limit::OFF);
        }
        let bad = || format!("`{text}`: expected 0, off or COUNT/UNIT[:BURST], e.g. 20/m:10");
        let (rate, burst) = match text.split_once(':') {
            Some((rate, burst)) => (rate, Some(burst.parse::<u32>().map_err(|_| bad())?)),
            None => (text, None),
        };
        let (count, unit) = rate.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let period = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        Ok(Limit::new(count, period, burst.unwrap_or(count)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Every `/v1/frame/…` request, per client IP.
    pub frame_ip: Limit,
    /// Confirms per client IP: the first line against card testing.
    pub confirm_ip: Limit,
    /// Confirms per session (besides the lock after 5 declines), so one session cannot be
    /// hammered.
    pub confirm_session: Limit,
    /// Live-mode confirms per card fingerprint across all sessions: one card tried on many
    /// sessions (test mode is exempt: its published test cards are shared by every merchant).
    pub card_fingerprint: Limit,
    /// Merchant API requests per API key.
    pub api_key: Limit,
    /// Dashboard sign-in attempts per client IP: the form takes a secret key, so guessing
    /// is slowed here as well as by the key's size.
    pub dashboard_sign_in_ip: Limit,
    /// Proxies (load balancers) whose `X-Forwarded-For` is believed. Empty: the header is
    /// ignored, because any client can send it and would pick its own rate-limit key.
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for RateLimitSettings {
    fn default() -> RateLimitSettings {
        RateLimitSettings {
            frame_ip: Limit::per_minute(120, 60),
            confirm_ip: Limit::per_minute(20, 10),
            confirm_session: Limit::per_minute(10, 5),
            card_fingerprint: Limit::per_hour(10, 10),
            api_key: Limit::per_second(100, 200),
            dashboard_sign_in_ip: Limit::per_minute(10, 10),
            trusted_proxies: Vec::new(),
        }
    }
}

impl RateLimitSettings {
    /// Every limit switched off.
    pub fn off() -> RateLimitSettings {
        RateLimitSettings {
            frame_ip: Limit::OFF,
            confirm_ip: Limit::OFF,
            confirm_session: Limit::OFF,
            card_fingerprint: Limit::OFF,
            api_key: Limit::OFF,
            dashboard_sign_in_ip: Limit::OFF,
            trusted_proxies: Vec::new(),
        }
    }
}

type Keyed<K> = Option<DefaultKeyedRateLimiter<K>>;

fn keyed<K: Hash + Eq + Clone>(limit: Limit) -> Keyed<K> {
    limit.quota().map(DefaultKeyedRateLimiter::keyed)
}

/// The limiters of this instance (in `AppState`).
pub struct RateLimits {
    frame_ip: Keyed<IpAddr>,
    confirm_ip: Keyed<IpAddr>,
    confirm_session: Keyed<String>,
    card_fingerprint: Keyed<[u8; 32]>,
    api_key: Keyed<String>,
    dashboard_sign_in_ip: Keyed<IpAddr>,
    trusted_proxies: Vec<IpNet>,
}

/// Where a request without a known peer address is counted: all such requests share one
/// key (in-process callers and tests, which drive the router without a connection).
const UNKNOWN_CLIENT: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

impl RateLimits {
    pub fn new(settings: &RateLimitSettings) -> RateLimits {
        RateLimits {
            frame_ip: keyed(settings.frame_ip),
            confirm_ip: keyed(settings.confirm_ip),
            confirm_session: keyed(settings.confirm_session),
            card_fingerprint: keyed(settings.card_fingerprint),
            api_key: keyed(settings.api_key),
            dashboard_sign_in_ip: keyed(settings.dashboard_sign_in_ip),
            trusted_proxies: settings.trusted_proxies.clone(),
        }
    }

    /// Any `/v1/frame/…` request from `ip`.
    pub fn frame_request(&self, ip: IpAddr) -> Result<(), ApiError> {
        check(
            self.frame_ip.as_ref(),
            &ip,
            "Too many requests from this address.",
        )
    }

    /// A confirm from `ip`.
    pub fn confirm_from(&self, ip: IpAddr) -> Result<(), ApiError> {
        check(
            self.confirm_ip.as_ref(),
            &ip,
            "Too many payment attempts from this address.",
        )
    }

    /// A confirm on the session `id`.
    pub fn confirm_session(&self, id: &str) -> Result<(), ApiError> {
        check(
            self.confirm_session.as_ref(),
            &id.to_owned(),
            "Too many payment attempts on this session.",
        )
    }

    /// A confirm with the card whose fingerprint is `fingerprint`.
    pub fn card(&self, fingerprint: &[u8; 32]) -> Result<(), ApiError> {
        check(
            self.card_fingerprint.as_ref(),
            fingerprint,
            "Too many payment attempts with this card. Try again later.",
        )
    }

    /// A merchant API request with the API key `key_id` (its id, never the key).
    pub fn api_key(&self, key_id: &str) -> Result<(), ApiError> {
        check(
            self.api_key.as_ref(),
            &key_id.to_owned(),
            "Too many requests with this API key.",
        )
    }

    /// A dashboard sign-in attempt from `ip`.
    pub fn dashboard_sign_in(&self, ip: IpAddr) -> Result<(), ApiError> {
        check(
            self.dashboard_sign_in_ip.as_ref(),
            &ip,
            "Too many sign-in attempts from this address. Try again in a minute.",
        )
    }

    /// The client's address of a request: its connection's peer, unless that peer is a
    /// trusted proxy (see [`RateLimits::client_ip`]).
    pub fn request_ip(&self, extensions: &Extensions, headers: &HeaderMap) -> IpAddr {
        // `MockConnectInfo` is how tests give the router a peer without a connection.
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .or_else(|| {
                extensions
                    .get::<MockConnectInfo<SocketAddr>>()
                    .map(|MockConnectInfo(addr)| addr.ip())
            });
        self.client_ip(peer, headers)
    }

    /// The client's address: the connection's peer, unless that peer is a trusted proxy —
    /// then the rightmost `X-Forwarded-For` hop that is not itself a trusted proxy. Only
    /// the rightmost hops were added by our own proxies; anything left of them is whatever
    /// the client sent, so taking the leftmost would let a card tester pick a fresh key per
    /// request.
    pub fn client_ip(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> IpAddr {
        let Some(peer) = peer else {
            return UNKNOWN_CLIENT;
        };
        if !self.is_trusted(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>() else {
                // A hop we cannot read: stop at the last one we could.
                break;
            };
            client = ip;
            if !self.is_trusted(ip) {
                break;
            }
        }
        client
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// Forgets keys whose limiter is back at its fresh state; called every
    /// `EVICT_INTERVAL` so memory stays bounded by the recently active keys.
    pub fn retain_recent(&self) {
        fn evict<K: Hash + Eq + Clone>(limiter: &Keyed<K>) {
            if let Some(limiter) = limiter {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
        evict(&self.frame_ip);
        evict(&self.confirm_ip);
        evict(&self.confirm_session);
        evict(&self.card_fingerprint);
        evict(&self.api_key);
    }
}

fn check<K: Hash + Eq + Clone>(
    limiter: Option<&DefaultKeyedRateLimiter<K>>,
    key: &K,
    message: &'static str,
) -> Result<(), ApiError> {
    let Some(limiter) = limiter else {
        return Ok(());
    };
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(limiter.clock().now());
        rate_limited(wait, message)
    })
}

/// 429 `rate_limited`, with `Retry-After` in whole seconds (rounded up, at least 1).
pub fn rate_limited(wait: Duration, message: &'static str) -> ApiError {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut err = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_error",
        "rate_limited",
        message,
    );
    err.retry_after = NonZeroU32::new(u32::try_from(seconds).unwrap_or(u32::MAX).max(1));
    err
}

/// The frame's routes: every request counts against its client's address, and a confirm
/// also against the tighter confirm limit — before the body is read or anything is loaded.
pub async fn frame_layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limits = &state.rate_limits;
    let ip = limits.request_ip(request.extensions(), request.headers());
    let confirm = request.method() == Method::POST && request.uri().path().ends_with("/confirm");
    let checked = limits.frame_request(ip).and_then(|()| {
        if confirm {
            limits.confirm_from(ip)
        } else {
            Ok(())
        }
    });
    match checked {
        Ok(()) => next.run(request).await,
        Err(err) => {
            tracing::warn!(client = %ip, path = request.uri().path(), "frame request rate-limited");
            err.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_limits() {
        assert_eq!("0".parse::<Limit>(), Ok(Limit::OFF));
        assert_eq!("off".parse::<Limit>(), Ok(Limit::OFF));
        assert_eq!("20/m:10".parse::<Limit>(), Ok(Limit::per_minute(20, 10)));
        assert_eq!("10/h".parse::<Limit>(), Ok(Limit::per_hour(10, 10)));
        assert_eq!(
            "100/s:200".parse::<Limit>(),
            Ok(Limit::per_second(100, 200))
        );
        assert!("20".parse::<Limit>().is_err());
        assert!("20/d".parse::<Limit>().is_err());
    }

    #[test]
    fn counts_and_refuses() {
        let limits = RateLimits::new(&RateLimitSettings {
            card_fingerprint: Limit::per_hour(2, 2),
            ..RateLimitSettings::off()
        });
        assert!(limits.card(&[1; 32]).is_ok());
        assert!(limits.card(&[1; 32]).is_ok());
        let err = limits.card(&[1; 32]).unwrap_err();
        assert_eq!(err.status, StatusCode::TOO_MANY_REQUESTS);
        // One comes back every 30 minutes.
        assert!(err.retry_after.unwrap().get() > 60);
        assert!(limits.card(&[2; 32]).is_ok());
        // Switched off: never refuses.
        for _ in 0..1000 {
            assert!(limits.api_key("key_1").is_ok());
        }
    }

    #[test]
    fn client_ip_trusts_forwarded_for_only_from_trusted_proxies() {
        let limits = RateLimits::new(&RateLimitSettings {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            ..RateLimitSettings::off()
        });
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "6.6.6.6, 203.0.113.9, 10.0.0.2".parse().unwrap(),
        );
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // From the proxy: the rightmost hop it did not add is the client; the spoofable
        // leftmost entry is ignored.
        assert_eq!(
            limits.client_ip(Some(ip("10.0.0.1")), &headers),
            ip("203.0.113.9")
        );
        // Straight from a client: the header is the client's own word, ignored.
        assert_eq!(
            limits.client_ip(Some(ip("198.51.100.7")), &headers),
            ip("198.51.100.7")
        );
        assert_eq!(limits.client_ip(None, &headers), UNKNOWN_CLIENT);
        // Without a trusted proxy configured, never believed.
        let plain = RateLimits::new(&RateLimitSettings::off());
        assert_eq!(
            plain.client_ip(Some(ip("10.0.0.1")), &headers),
            ip("10.0.0.1")
        );
    }
}
