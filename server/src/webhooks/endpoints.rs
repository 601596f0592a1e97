//! Webhook endpoints: where a merchant wants its events, which ones, and the signing secret
//! (generated `whsec_…`, stored wrapped by the master key, shown once). Owns the URL rules:
//! http or https, no credentials in the URL, and in live mode https only and never an
//! address on loopback, a private network or link-local — checked when the endpoint is
//! created and again at every delivery (`destination`), since DNS can change in between.

use super::events::{ALL_EVENTS, EventType};
use crate::ids;
use crate::master_key::{MasterKey, purpose};
use crate::store::{EndpointRow, NewEndpoint, Store, StoreError};
use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Endpoints a merchant may have in one mode: every event is delivered to each.
pub const MAX_ENDPOINTS: i64 = 16;
const MAX_URL_LEN: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("The URL must be an absolute http:// or https:// URL without credentials.")]
    InvalidUrl,
    #[error("Live-mode webhook URLs must use https://.")]
    InsecureUrl,
    #[error(
        "The URL's host is a loopback, private or link-local address (or resolves to one), \
         which live mode does not deliver to."
    )]
    PrivateAddress,
    #[error("The URL's host could not be resolved.")]
    Unresolvable,
    #[error("Unknown event type {0:?}.")]
    UnknownEvent(String),
    #[error("A merchant can have at most {MAX_ENDPOINTS} webhook endpoints per mode.")]
    TooMany,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A created endpoint and its secret, shown this once.
pub struct CreatedEndpoint {
    pub endpoint: EndpointRow,
    pub secret: String,
}

/// A new signing secret.
pub fn new_secret() -> String {
    format!("whsec_{}", ids::random_base62(32))
}

/// Checks the URL's shape (not where it points): absolute http(s), a host, no credentials;
/// https only in live mode.
pub fn parse_url(input: &str, livemode: bool) -> Result<Url, EndpointError> {
    if input.len() > MAX_URL_LEN {
        return Err(EndpointError::InvalidUrl);
    }
    let url = Url::parse(input).map_err(|_| EndpointError::InvalidUrl)?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none_or(str::is_empty)
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(EndpointError::InvalidUrl);
    }
    if livemode && url.scheme() != "https" {
        return Err(EndpointError::InsecureUrl);
    }
    Ok(url)
}

/// Whether live mode may deliver to `ip`: a globally routable unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
                || (first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
                || first == 0x0064 // NAT64 64:ff9b::/96 may reach private IPv4
                || u128::from(v6) >> 32 == 0) // ::/96, IPv4-compatible (deprecated)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

/// Refuses `addrs` unless all are public: one private address among them is enough for
/// a request to end up on the gateway's own network.
pub fn check_addresses(addrs: &[SocketAddr]) -> Result<(), EndpointError> {
    if addrs.is_empty() {
        return Err(EndpointError::Unresolvable);
    }
    if addrs.iter().all(|a| is_public(a.ip())) {
        Ok(())
    } else {
        Err(EndpointError::PrivateAddress)
    }
}

/// Where a delivery to `url` may go: in live mode the host (an IP literal, or each address
/// its name resolves to now) must be public. Test mode delivers anywhere, so merchants can
/// point test endpoints at their own machine.
pub async fn check_destination(url: &Url, livemode: bool) -> Result<(), EndpointError> {
    if !livemode {
        return Ok(());
    }
    let host = url.host().ok_or(EndpointError::InvalidUrl)?;
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match host {
        url::Host::Ipv4(ip) => vec![SocketAddr::new(ip.into(), port)],
        url::Host::Ipv6(ip) => vec![SocketAddr::new(ip.into(), port)],
        url::Host::Domain(name) => tokio::net::lookup_host((name, port))
            .await
            .map_err(|_| EndpointError::Unresolvable)?
            .collect(),
    };
    check_addresses(&addrs)
}

/// Checks event type names; none means all events.
pub fn parse_events(names: &[String]) -> Result<Vec<String>, EndpointError> {
    if names.is_empty() {
        return Ok(vec![ALL_EVENTS.to_owned()]);
    }
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        if name != ALL_EVENTS && EventType::parse(name).is_none() {
            return Err(EndpointError::UnknownEvent(name.clone()));
        }
        if !out.contains(name) {
            out.push(name.clone());
        }
    }
    Ok(out)
}

/// Validates and stores an endpoint of `merchant_id` in the key's mode, with a new
/// signing secret (or `secret`, for the endpoint `merchant create --webhook-url` makes
/// with the merchant's secret).
#[allow(clippy::too_many_arguments)]
pub async fn create(
    store: &Store,
    master: &MasterKey,
    merchant_id: &str,
    url: &str,
    events: &[String],
    livemode: bool,
    secret: Option<String>,
    now: i64,
) -> Result<CreatedEndpoint, EndpointError> {
    let (url, events) = validate(url, events, livemode).await?;
    let secret = secret.unwrap_or_else(new_secret);
    let new = new_endpoint(master, merchant_id, url, events, livemode, &secret, now);
    if !store.insert_webhook_endpoint(&new, MAX_ENDPOINTS).await? {
        return Err(EndpointError::TooMany);
    }
    Ok(CreatedEndpoint {
        endpoint: new.into_row(),
        secret,
    })
}

/// The URL and event checks of [`create`], before anything is stored.
pub async fn validate(
    url: &str,
    events: &[String],
    livemode: bool,
) -> Result<(String, Vec<String>), EndpointError> {
    let parsed = parse_url(url, livemode)?;
    let events = parse_events(events)?;
    check_destination(&parsed, livemode).await?;
    Ok((parsed.to_string(), events))
}

/// The row for a validated endpoint, its secret wrapped by the master key.
pub fn new_endpoint(
    master: &MasterKey,
    merchant_id: &str,
    url: String,
    enabled_events: Vec<String>,
    livemode: bool,
    secret: &str,
    now: i64,
) -> NewEndpoint {
    NewEndpoint {
        id: ids::new_id("we"),
        merchant_id: merchant_id.to_owned(),
        url,
        enabled_events,
        secret_wrapped: master.wrap(purpose::WEBHOOK_SECRET, secret.as_bytes()),
        master_key_id: master.id().to_owned(),
        livemode,
        created_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_or_https_without_credentials() {
        assert!(parse_url("https://shop.example/webhooks", false).is_ok());
        assert!(parse_url("http://127.0.0.1:3000/webhooks", false).is_ok());
        for bad in [
            "shop.example/webhooks",
            "ftp://shop.example/",
            "https://user:pw@shop.example/",
            "file:///etc/passwd",
            "https://",
            "",
        ] {
            assert!(
                matches!(parse_url(bad, false), Err(EndpointError::InvalidUrl)),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_url("http://shop.example/", true),
            Err(EndpointError::InsecureUrl)
        ));
    }

    #[test]
    fn private_loopback_and_link_local_addresses_are_not_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn live_destinations_are_checked_test_ones_are_not() {
        let loopback = parse_url("https://127.0.0.1:8443/hook", true).unwrap();
        assert!(matches!(
            check_destination(&loopback, true).await,
            Err(EndpointError::PrivateAddress)
        ));
        assert!(check_destination(&loopback, false).await.is_ok());
        let named = parse_url("https://localhost/hook", true).unwrap();
        assert!(matches!(
            check_destination(&named, true).await,
            Err(EndpointError::PrivateAddress)
        ));
        let metadata = parse_url("https://[::ffff:169.254.169.254]/", true).unwrap();
        assert!(check_destination(&metadata, true).await.is_err());
    }

    #[test]
    fn event_names_are_checked_and_default_to_all() {
        assert_eq!(parse_events(&[]).unwrap(), ["*"]);
        let names = vec!["payment.captured".to_owned(), "payment.captured".to_owned()];
        assert_eq!(parse_events(&names).unwrap(), ["payment.captured"]);
        assert!(matches!(
            parse_events(&["payment.exploded".to_owned()]),
            Err(EndpointError::UnknownEvent(_))
        ));
    }
}
