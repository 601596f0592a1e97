//! Databases for tests: each test gets its own, empty, on the backend the test run asks
//! for (`PAYFRAME_TEST_BACKEND=sqlite|postgres`), so the same suite checks both.
//! PostgreSQL databases are created on the server `PAYFRAME_TEST_DATABASE_URL` names (the
//! local one by default) and dropped when the test ends.

use crate::store::Backend;
use sqlx::{Connection, Executor, PgConnection};
use std::path::Path;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The backend this test run covers.
pub fn backend() -> Backend {
    match std::env::var("PAYFRAME_TEST_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        Ok("sqlite") | Err(_) => Backend::Sqlite,
        Ok(other) => panic!("PAYFRAME_TEST_BACKEND={other}: expected sqlite or postgres"),
    }
}

/// The PostgreSQL server tests may create databases on.
pub fn admin_url() -> String {
    std::env::var("PAYFRAME_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

/// One test's database; a PostgreSQL one is dropped with this value.
pub struct TestDatabase {
    pub url: String,
    postgres_name: Option<String>,
}

impl TestDatabase {
    /// A fresh database of this run's backend; a SQLite file goes in `dir`.
    pub async fn create(dir: &Path) -> TestDatabase {
        match backend() {
            Backend::Sqlite => TestDatabase {
                url: format!("sqlite://{}/db.sqlite", dir.display()),
                postgres_name: None,
            },
            Backend::Postgres => TestDatabase::postgres().await,
        }
    }

    /// A fresh PostgreSQL database, whatever this run's backend.
    pub async fn postgres() -> TestDatabase {
        let admin = admin_url();
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).expect("OS randomness");
        let name = format!("payframe_test_{:016x}", u64::from_le_bytes(suffix));
        let mut conn = PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("no PostgreSQL at {admin} ({e}); run scripts/test.sh"));
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create a test database");
        let _ = conn.close().await;
        let (base, _) = admin.rsplit_once('/').expect("a database URL has a path");
        TestDatabase {
            url: format!("{base}/{name}"),
            postgres_name: Some(name),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with
        // its own runtime can. FORCE ends connections the test's pool still holds.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&admin_url()).await.ok()?;
                conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("could not drop test database; it will stay until dropped by hand");
        }
    }
}
