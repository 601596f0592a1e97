//! Creating merchants: validated embedding origins, a secret API key shown once and stored
//! hashed, and a webhook signing secret stored wrapped by the master key (with a webhook
//! endpoint using it when a webhook URL is given).

use crate::api::auth::hash_secret;
use crate::ids;
use crate::master_key::{MasterKey, purpose};
use crate::store::{NewMerchant, Store, StoreError};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum MerchantError {
    #[error("invalid origin {0:?}: expected scheme://host[:port], e.g. https://shop.example")]
    InvalidOrigin(String),
    #[error("a merchant needs a name and at least one origin")]
    Missing,
    #[error("no merchant {0}")]
    Unknown(String),
    #[error("webhook URL: {0}")]
    WebhookUrl(#[from] crate::webhooks::endpoints::EndpointError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `payframe merchant create --json` prints; the secrets are never shown again.
#[derive(Debug, Serialize)]
pub struct CreatedMerchant {
    pub id: String,
    pub secret_key: String,
    pub webhook_secret: String,
}

/// Normalises an origin (`https://Shop.example/` → `https://shop.example`) or refuses it.
pub fn parse_origin(input: &str) -> Result<String, MerchantError> {
    let invalid = || MerchantError::InvalidOrigin(input.to_owned());
    let (scheme, rest) = input.split_once("://").ok_or_else(invalid)?;
    if scheme != "https" && scheme != "http" {
        return Err(invalid());
    }
    let host_port = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, Some(p)),
        _ => (host_port, None),
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
    if !host_ok || !port_ok {
        return Err(invalid());
    }
    Ok(format!("{scheme}://{}", host_port.to_ascii_lowercase()))
}

pub async fn create(
    store: &Store,
    master: &MasterKey,
    name: &str,
    origins: &[String],
    webhook_url: Option<&str>,
    livemode: bool,
    now: i64,
) -> Result<CreatedMerchant, MerchantError> {
    if name.trim().is_empty() || origins.is_empty() {
        return Err(MerchantError::Missing);
    }
    let origins = origins
        .iter()
        .map(|o| parse_origin(o))
        .collect::<Result<Vec<_>, _>>()?;
    let id = ids::new_id("mer");
    let secret_key = new_secret_key(livemode);
    let webhook_secret = crate::webhooks::endpoints::new_secret();
    // `--webhook-url` becomes an endpoint subscribed to every event, signed with the
    // merchant's webhook secret (the one printed here).
    let endpoint = match webhook_url {
        Some(url) => {
            let (url, events) = crate::webhooks::endpoints::validate(url, &[], livemode).await?;
            Some(crate::webhooks::endpoints::new_endpoint(
                master,
                &id,
                url,
                events,
                livemode,
                &webhook_secret,
                now,
            ))
        }
        None => None,
    };
    let merchant = NewMerchant {
        id: &id,
        name: name.trim(),
        origins: &origins,
        webhook_url,
        webhook_secret_wrapped: &master.wrap(purpose::WEBHOOK_SECRET, webhook_secret.as_bytes()),
        master_key_id: master.id(),
        webhook_endpoint: endpoint.as_ref(),
    };
    store
        .insert_merchant(
            &merchant,
            &ids::new_id("key"),
            &hash_secret(&secret_key),
            livemode,
            now,
        )
        .await?;
    Ok(CreatedMerchant {
        id,
        secret_key,
        webhook_secret,
    })
}

fn new_secret_key(livemode: bool) -> String {
    let mode = if livemode { "live" } else { "test" };
    format!("sk_{mode}_{}", ids::random_base62(32))
}

/// Replaces the merchant's secret key of that mode; the old key stops working at once.
/// Returns the new key, shown this once.
pub async fn roll_key(
    store: &Store,
    merchant_id: &str,
    livemode: bool,
    now: i64,
) -> Result<String, MerchantError> {
    let secret_key = new_secret_key(livemode);
    if store
        .roll_api_key(
            merchant_id,
            &ids::new_id("key"),
            &hash_secret(&secret_key),
            livemode,
            now,
        )
        .await?
    {
        Ok(secret_key)
    } else {
        Err(MerchantError::Unknown(merchant_id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_origin;

    #[test]
    fn origins_are_normalised_or_refused() {
        assert_eq!(
            parse_origin("https://Shop.Example/").unwrap(),
            "https://shop.example"
        );
        assert_eq!(
            parse_origin("http://127.0.0.1:3000").unwrap(),
            "http://127.0.0.1:3000"
        );
        for bad in [
            "shop.example",
            "ftp://x",
            "https://",
            "https://a/b",
            "https://a:0",
            "https://a:99999",
            "*",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }
}
