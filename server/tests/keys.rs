//! Key management: HPKE encryption keys rotate with a grace period for the previous key,
//! and a master-key rotation re-wraps every stored secret without decrypting a card.

mod common;

use common::{Gateway, NOW, card, sealed};
use payframe_server::master_key::MasterKey;
use payframe_server::{Settings, build_state};
use std::sync::Arc;

const DAY: i64 = 24 * 60 * 60;

#[tokio::test]
async fn the_previous_encryption_key_opens_envelopes_for_a_day_then_is_refused() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &["https://shop.example"]).await;
    let first = gw.create_session(&key).await;
    let old_key = gw.encryption_key(&first).await;

    let state = gw.state();
    let new_kid = state
        .keyring
        .rotate(&state.store, &state.master, gw.now())
        .await
        .unwrap();
    assert_ne!(new_kid, old_key.kid);
    assert_eq!(
        gw.encryption_key(&first).await.kid,
        new_kid,
        "the frame gets the new key"
    );

    // Sealed to the previous key, within the grace period: accepted.
    let (status, body) = gw
        .confirm(
            &first,
            &sealed(
                &old_key,
                &first.id,
                &card(common::PAN, 12, 2030, "123", gw.now()),
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // A day later the previous key is gone.
    gw.set_now(NOW + DAY + 1);
    let later = gw.create_session(&key).await;
    let (status, body) = gw
        .confirm(
            &later,
            &sealed(
                &old_key,
                &later.id,
                &card(common::PAN, 12, 2030, "123", gw.now()),
            ),
        )
        .await;
    common::assert_error(
        &(status, body),
        axum::http::StatusCode::BAD_REQUEST,
        "unknown_key",
        Some("envelope.kid"),
    );
    let current = gw.encryption_key(&later).await;
    let (status, body) = gw
        .confirm(
            &later,
            &sealed(
                &current,
                &later.id,
                &card(common::PAN, 12, 2030, "123", gw.now()),
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn rotating_the_master_key_rewraps_everything_and_the_old_key_no_longer_opens_it() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &["https://shop.example"]).await;
    let checkout = gw.create_session(&key).await;
    let enc = gw.encryption_key(&checkout).await;
    let (_, body) = gw
        .confirm(
            &checkout,
            &sealed(&enc, &checkout.id, &card(common::PAN, 12, 2030, "123", NOW)),
        )
        .await;
    let token = body["token"].as_str().unwrap().to_owned();
    let state = gw.state();
    let (pan_ct, dek_before) = state.store.card_secret(&token).await.unwrap().unwrap();
    let pan = state.vault.reveal(&pan_ct, &dek_before).unwrap();
    let fingerprint = state.vault.fingerprint(&pan);

    let new = MasterKey::from_bytes([8; 32]);
    let moved = payframe_server::rotation::rotate_master(&state.store, &state.master, &new)
        .await
        .unwrap();
    // One HPKE key, one card data key, one webhook secret, the fingerprint secret.
    assert_eq!(moved, 4);
    let (pan_ct_after, dek_after) = state.store.card_secret(&token).await.unwrap().unwrap();
    assert_eq!(pan_ct_after, pan_ct, "the card's ciphertext is untouched");
    assert_ne!(dek_after, dek_before, "its data key is wrapped anew");

    let clock = Arc::new(|| NOW);
    let settings = || {
        Settings::new(
            "http://gateway.test".into(),
            "no-frame".into(),
            "no-public".into(),
        )
    };
    let reopened = build_state(
        gw.db_url(),
        MasterKey::from_bytes([8; 32]),
        settings(),
        clock.clone(),
    )
    .await
    .expect("the new master key opens everything");
    assert_eq!(reopened.vault.reveal(&pan_ct, &dek_after).unwrap(), pan);
    assert_eq!(
        reopened.vault.fingerprint(&pan),
        fingerprint,
        "fingerprints survive the rotation"
    );
    assert_eq!(reopened.keyring.current().kid, enc.kid);

    let with_old = build_state(
        gw.db_url(),
        MasterKey::from_bytes([7; 32]),
        settings(),
        clock,
    )
    .await;
    assert!(
        with_old.is_err(),
        "the old master key must no longer open the stored keys"
    );
}

/// `payframe keys rotate-master` with a key file: the file is replaced, nothing is left
/// half-done, and the gateway's admin commands work with the new key.
#[test]
fn rotate_master_cli_replaces_the_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_payframe"))
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env_remove("PAYFRAME_MASTER_KEY")
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let created: serde_json::Value = serde_json::from_str(&run(&[
        "merchant",
        "create",
        "--name",
        "Shop",
        "--origin",
        "https://shop.example",
        "--json",
    ]))
    .unwrap();
    assert!(
        created["secret_key"]
            .as_str()
            .unwrap()
            .starts_with("sk_test_")
    );
    let before = std::fs::read(dir.path().join("master.key")).unwrap();
    let said = run(&["keys", "rotate-master"]);
    assert!(said.contains("re-wrapped 3 secrets"), "{said}");
    let after = std::fs::read(dir.path().join("master.key")).unwrap();
    assert_ne!(before, after);
    assert!(!dir.path().join("master.key.next").exists());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("master.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    assert!(run(&["keys", "rotate"]).contains("new current encryption key"));
}

#[tokio::test]
async fn rolling_a_secret_key_retires_the_old_one_at_once() {
    let gw = Gateway::start().await;
    let old = gw.merchant("Shop", &["https://shop.example"]).await;
    let (_, session) = gw.get("/v1/sessions/cs_none", Some(&old)).await;
    assert_eq!(
        session["error"]["code"], "resource_missing",
        "the old key works before the roll"
    );
    let (merchant, ..) = gw
        .state()
        .store
        .merchant_by_key_hash(&payframe_server::api::auth::hash_secret(&old))
        .await
        .unwrap()
        .unwrap();
    let new = payframe_server::merchants::roll_key(&gw.state().store, &merchant.id, false, NOW)
        .await
        .unwrap();
    assert!(new.starts_with("sk_test_") && new != old);
    let (status, body) = gw.get("/v1/sessions/cs_none", Some(&old)).await;
    assert_eq!(
        (status.as_u16(), body["error"]["code"].as_str()),
        (401, Some("invalid_api_key"))
    );
    let (status, _) = gw.get("/v1/sessions/cs_none", Some(&new)).await;
    assert_eq!(status.as_u16(), 404, "the new key authenticates");
    assert!(
        payframe_server::merchants::roll_key(&gw.state().store, "mer_unknown", false, NOW)
            .await
            .is_err()
    );
}
