//! Opening the database: which backend a URL names, and the per-connection settings each
//! needs (SQLite's durability pragmas; PostgreSQL's statement and lock timeouts).

use super::StoreError;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// How many connections one instance holds and how long a statement may run.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Connections per instance. With several instances on one PostgreSQL, keep
    /// `instances × max_connections` under the server's `max_connections`.
    pub max_connections: u32,
    /// A request waiting longer than this for a connection fails instead of queueing forever.
    pub acquire_timeout: Duration,
    /// PostgreSQL cancels a statement running longer than this (and a lock wait, and an
    /// idle transaction), so one stuck query cannot hold rows or a connection for good.
    pub statement_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(10),
        }
    }
}

/// Opens a pool for `url`; SQLite files are created if missing.
pub(super) async fn open(
    url: &str,
    settings: &PoolSettings,
) -> Result<(AnyPool, Backend), StoreError> {
    install_default_drivers();
    let backend = Backend::of_url(url).ok_or(StoreError::UnsupportedUrl)?;
    let (url, per_connection) = match backend {
        Backend::Sqlite => {
            let url = if url.contains("mode=") {
                url.to_owned()
            } else if url.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            // WAL lets readers run beside the writer; FULL syncs every commit, because a
            // payment acknowledged to a merchant must survive a power cut. secure_delete
            // zeroes the space of overwritten and deleted content, so an erased customer's
            // data and a shredded card's data key do not linger in free pages.
            let pragmas = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                           PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                           PRAGMA secure_delete = ON;"
                .to_owned();
            (url, pragmas)
        }
        Backend::Postgres => {
            let ms = settings.statement_timeout.as_millis();
            let sets = format!(
                "SET statement_timeout = {ms}; SET lock_timeout = {ms}; \
                 SET idle_in_transaction_session_timeout = {};",
                ms * 6
            );
            (url.to_owned(), sets)
        }
    };
    let pool = AnyPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        .after_connect(move |conn, _meta| {
            let sql = per_connection.clone();
            Box::pin(async move {
                conn.execute(sqlx::raw_sql(&sql)).await?;
                Ok(())
            })
        })
        .connect(&url)
        .await?;
    Ok((pool, backend))
}

/// The file a `sqlite:` URL names, parsed as the pool parses it, for the writer thread's own
/// connection.
pub(super) fn sqlite_path(url: &str) -> Result<std::path::PathBuf, StoreError> {
    use std::str::FromStr;
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
    Ok(options.get_filename().to_path_buf())
}
