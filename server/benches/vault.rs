//! The gateway's card vault: the crypto of vaulting one PAN (`Vault::seal`: a fresh data
//! key, AES-256-GCM of the PAN, the data key wrapped by the master key, the HMAC
//! fingerprint), the fingerprint alone, and a whole vault write as confirm does it:
//! `Vault::seal` plus the card row committed to SQLite (`Store::insert_card` on a temp-file
//! database in WAL mode with `synchronous = FULL`, opened by `Store::connect` exactly as the
//! gateway opens its own).
//!
//! Run: `cargo bench -p payframe-server --bench vault` (or `scripts/bench.sh`).

use criterion::{Criterion, criterion_group, criterion_main};
use payframe_core::Pan;
use payframe_server::master_key::MasterKey;
use payframe_server::store::{NewCard, Store};
use payframe_server::vault::Vault;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

/// 2026-11-18 (UTC), as in the API tests.
const NOW: i64 = 1_795_000_000;

fn vault(c: &mut Criterion) {
    // One thread is enough: sqlx runs SQLite on its own worker thread per connection, and a
    // single-threaded runtime keeps the bench from competing for the machine's two cores.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // On the same disk as a real data directory (not tmpfs), so each commit's fsync is real.
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/bench.sqlite", dir.path().display());
    let master = Arc::new(MasterKey::from_bytes([7; 32]));
    // The vault as the gateway builds it (`build_state`): its fingerprint secret lives in the
    // database, wrapped by the master key.
    let (store, vault, merchant_id) = rt.block_on(async {
        let store = Store::connect(&url).await.expect("open the database");
        let vault = Vault::load(&store, master.clone(), NOW)
            .await
            .expect("vault");
        let merchant = payframe_server::merchants::create(
            &store,
            &master,
            "Bench Shop",
            &["https://shop.example".to_owned()],
            None,
            false,
            NOW,
        )
        .await
        .expect("merchant");
        (store, vault, merchant.id)
    });
    let pan = Pan::parse("4242424242424242").expect("test PAN");

    let mut group = c.benchmark_group("vault");
    group.bench_function("seal", |b| b.iter(|| vault.seal(black_box(&pan))));
    group.bench_function("fingerprint", |b| {
        b.iter(|| vault.fingerprint(black_box(&pan)))
    });
    group.finish();

    // A group of its own for its settings: each iteration is a durable commit (an fsync,
    // hundreds of microseconds and noisy), so it gets a longer measurement than the default.
    let mut group = c.benchmark_group("vault_write");
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("seal_and_commit_sqlite", |b| {
        b.iter(|| {
            // What confirm does once the envelope is open and the card valid: seal the PAN,
            // then write the card row (one autocommit INSERT, so one WAL fsync).
            let sealed = vault.seal(&pan);
            let token = payframe_server::ids::new_id("tok");
            let card = NewCard {
                token,
                merchant_id: merchant_id.clone(),
                // Confirm links the card to its session; the foreign-key probe that adds is
                // microseconds against the commit's fsync, and leaving it out keeps this bench
                // independent of the session row's shape, which is still changing.
                session_id: None,
                brand: pan.brand().map_or("unknown", |b| b.as_str()).to_owned(),
                bin: pan.bin().to_owned(),
                last4: pan.last4().to_owned(),
                exp_month: 12,
                exp_year: 2030,
                fingerprint: sealed.fingerprint.to_vec(),
                pan_ciphertext: sealed.pan_ciphertext,
                data_key_wrapped: sealed.data_key_wrapped,
                master_key_id: sealed.master_key_id,
                single_use: true,
                created_at: NOW,
            };
            rt.block_on(store.insert_card(&card)).expect("vault write");
        })
    });
    group.finish();
}

criterion_group!(benches, vault);
criterion_main!(benches);
