//! Known-answer test: the published RFC 9180 vector for Envelope v1's suite (base mode,
//! DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) through the exact types the
//! envelope uses.

use hpke::{Deserializable, Kem as _, OpModeR, Serializable};
use payframe_core::envelope::{Aead, Kdf, Kem};
use serde_json::Value;

fn hex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

#[test]
fn rfc9180_base_x25519_sha256_aes256gcm() {
    let vector: Value = serde_json::from_str(include_str!(
        "data/hpke-test-vector-base-x25519-sha256-aes256gcm.json"
    ))
    .unwrap();
    assert_eq!(vector["mode"], 0);
    assert_eq!(vector["kem_id"], 32);
    assert_eq!(vector["kdf_id"], 1);
    assert_eq!(vector["aead_id"], 2);

    let sk_r = <Kem as hpke::Kem>::PrivateKey::from_bytes(&hex(&vector["skRm"])).unwrap();
    assert_eq!(
        Kem::sk_to_pk(&sk_r).to_bytes().to_vec(),
        hex(&vector["pkRm"])
    );
    let sk_e = <Kem as hpke::Kem>::PrivateKey::from_bytes(&hex(&vector["skEm"])).unwrap();
    assert_eq!(
        Kem::sk_to_pk(&sk_e).to_bytes().to_vec(),
        hex(&vector["enc"])
    );

    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&hex(&vector["enc"])).unwrap();
    let mut ctx =
        hpke::setup_receiver::<Aead, Kdf, Kem>(&OpModeR::Base, &sk_r, &enc, &hex(&vector["info"]))
            .unwrap();
    let encryptions = vector["encryptions"].as_array().unwrap();
    assert!(encryptions.len() > 1);
    // The vector's encryptions are consecutive messages of one context (sequence 0, 1, …).
    for (seq, e) in encryptions.iter().enumerate() {
        let pt = ctx
            .open(&hex(&e["ct"]), &hex(&e["aad"]))
            .unwrap_or_else(|err| panic!("seq {seq}: {err:?}"));
        assert_eq!(pt, hex(&e["pt"]), "seq {seq}");
    }
    for x in vector["exports"].as_array().unwrap() {
        let mut out = vec![0u8; x["L"].as_u64().unwrap() as usize];
        ctx.export(&hex(&x["exporter_context"]), &mut out).unwrap();
        assert_eq!(out, hex(&x["exported_value"]));
    }
}
