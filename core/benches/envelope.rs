//! Envelope v1 on the native side: what one card costs to seal (what the frame does in the
//! browser, here as native code) and to open (what the gateway does on every confirm),
//! plus the JSON of the wire envelope that travels between them.
//!
//! Run: `cargo bench -p payframe-core --bench envelope` (or `scripts/bench.sh`).

// criterion is a native-only dev-dependency: the browser figure comes from
// tests/wasm_seal_timing.rs. The empty wasm32 `main` keeps `--all-targets` builds for
// wasm32 compiling.
#[cfg(not(target_arch = "wasm32"))]
mod native {
    use criterion::{Criterion, criterion_group};
    use hpke::Kem as _;
    use payframe_core::envelope::{CardPayload, Envelope, Kem, KeyPair, seal};
    use std::hint::black_box;

    /// A card as the form sends it: 16-digit PAN, name and postal code filled in, so the
    /// plaintext is as long as a real one (the AES-GCM part scales with it, if only a little).
    fn payload() -> CardPayload {
        CardPayload {
            number: "4242424242424242".into(),
            exp_month: 12,
            exp_year: 2030,
            cvc: "123".into(),
            sealed_at: 1_795_000_000,
            name: Some("Maria Oliveira Santos".into()),
            postal_code: Some("01310-100".into()),
        }
    }

    // Ids of the real shape (`kid_`/`cs_` + 24 base62 characters): they are hashed into `info`
    // and `aad`, so their length is part of the work.
    const KID: &str = "kid_3kTwq9ZbX2mN7pLr4sVy8cHd";
    const SESSION: &str = "cs_9fQe2Lm7Tx4Kb8Wn1Zr5Yv3J";

    fn envelope(c: &mut Criterion) {
        let keys = KeyPair::generate();
        let public = keys.public_b64();
        let card = payload();
        let sealed = seal(&public, KID, SESSION, &card).expect("seal");
        // Checked once outside the timed loops, so the figures are for work that succeeds.
        assert_eq!(keys.open(SESSION, &sealed).expect("open"), card);
        let wire = serde_json::to_string(&sealed).expect("serialise");

        let mut group = c.benchmark_group("envelope_v1");
        // seal: ephemeral X25519 key pair + one DH, HKDF, AES-256-GCM, base64url.
        group.bench_function("seal", |b| {
            b.iter(|| seal(black_box(&public), KID, SESSION, black_box(&card)).expect("seal"))
        });
        // open: base64url decode, one DH, HKDF, AES-256-GCM open, JSON parse of the card.
        group.bench_function("open", |b| {
            b.iter(|| keys.open(SESSION, black_box(&sealed)).expect("open"))
        });
        // The wire envelope alone, to show how small the JSON share is next to the crypto.
        group.bench_function("wire_to_json", |b| {
            b.iter(|| serde_json::to_string(black_box(&sealed)).expect("serialise"))
        });
        group.bench_function("wire_from_json", |b| {
            b.iter(|| serde_json::from_str::<Envelope>(black_box(&wire)).expect("parse"))
        });
        group.finish();

        // Where seal's time goes. HPKE's X25519 KEM does three scalar multiplications per
        // seal (the ephemeral key pair, computed twice by the hpke crate, plus the DH) and two
        // per open (the DH, and the recipient's public key recomputed for the KEM context).
        let mut group = c.benchmark_group("envelope_v1_parts");
        let (sk, pk) = Kem::gen_keypair();
        // Fixed-base multiplication (precomputed table): a public key from a private one.
        group.bench_function("x25519_public_from_private", |b| {
            b.iter(|| Kem::sk_to_pk(black_box(&sk)))
        });
        // The KEM alone: a fresh ephemeral key pair, the DH, HKDF; no AEAD, no JSON, no base64.
        group.bench_function("kem_encap", |b| {
            b.iter(|| Kem::encap(black_box(&pk), None).expect("encap"))
        });
        group.finish();
    }

    criterion_group!(benches, envelope);
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(native::benches);

#[cfg(target_arch = "wasm32")]
fn main() {}
