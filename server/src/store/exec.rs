//! One statement interface for the writes that must be fast: the same SQL text (`$N`
//! placeholders) and the same arguments run inside a sqlx transaction (PostgreSQL, and
//! SQLite off the hot path) or on the SQLite writer thread's own connection, where each
//! statement is a direct call into SQLite instead of a round trip to a sqlx worker thread.
//! Functions written against [`Exec`] are therefore written once for both.

use super::{StoreError, Tx};
use rusqlite::types::{ToSqlOutput, ValueRef};
use sqlx::Row;

/// A statement argument. Nulls carry their type: PostgreSQL refuses a text NULL for a
/// bigint column.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Int(Option<i64>),
    Bool(bool),
    Text(Option<&'a str>),
    Blob(&'a [u8]),
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}
impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(Some(v))
    }
}
impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(Some(v))
    }
}
impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::Text(v)
    }
}
impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Arg::Text(v.as_deref())
    }
}
impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(v: &'a [u8]) -> Self {
        Arg::Blob(v)
    }
}
impl<'a> From<&'a Vec<u8>> for Arg<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Arg::Blob(v)
    }
}

/// `args![a, b, c]`: a statement's arguments, each converted with `Arg::from`.
macro_rules! args {
    ($($arg:expr),* $(,)?) => { [$($crate::store::exec::Arg::from($arg)),*] };
}
pub(crate) use args;

/// Runs statements inside an open transaction.
pub(crate) trait Exec {
    /// Runs one statement; returns how many rows it changed.
    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError>;
    /// Runs a query whose columns are all non-null text; returns its rows.
    async fn fetch_text(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<Vec<String>>, StoreError>;
    /// Runs a query returning one integer.
    async fn fetch_i64(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<i64, StoreError>;
    /// Inserts `args.len() / columns` rows: `head` is `INSERT INTO t (a, b) VALUES `, and
    /// `args` the rows' values one row after the other. One multi-row INSERT: one round
    /// trip to the database.
    async fn insert_rows(
        &mut self,
        head: &'static str,
        columns: usize,
        args: &[Arg<'_>],
    ) -> Result<(), StoreError> {
        let sql = super::multi_insert(head, args.len() / columns, columns);
        self.execute(&sql, args).await?;
        Ok(())
    }
}

fn bind_sqlx<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    args: &[Arg<'q>],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for arg in args {
        query = match *arg {
            Arg::Int(v) => query.bind(v),
            Arg::Bool(v) => query.bind(v),
            Arg::Text(v) => query.bind(v),
            Arg::Blob(v) => query.bind(v),
        };
    }
    query
}

impl Exec for Tx<'_> {
    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        let done = bind_sqlx(sqlx::query(sql), args)
            .execute(&mut **self)
            .await?;
        Ok(done.rows_affected())
    }

    async fn fetch_text(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<Vec<String>>, StoreError> {
        let rows = bind_sqlx(sqlx::query(sql), args)
            .fetch_all(&mut **self)
            .await?;
        rows.iter()
            .map(|r| (0..r.len()).map(|i| Ok(r.try_get(i)?)).collect())
            .collect()
    }

    async fn fetch_i64(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<i64, StoreError> {
        let row = bind_sqlx(sqlx::query(sql), args)
            .fetch_one(&mut **self)
            .await?;
        Ok(row.try_get(0)?)
    }
}

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Arg::Int(Some(v)) => ValueRef::Integer(v),
            Arg::Bool(v) => ValueRef::Integer(i64::from(v)),
            Arg::Text(Some(v)) => ValueRef::Text(v.as_bytes()),
            Arg::Blob(v) => ValueRef::Blob(v),
            Arg::Int(None) | Arg::Text(None) => ValueRef::Null,
        }))
    }
}

/// A connection of the SQLite writer thread, inside the transaction it has begun. Its
/// futures are ready at once: SQLite runs each statement in the call.
pub(crate) struct Direct<'c>(pub &'c rusqlite::Connection);

impl Direct<'_> {
    /// Prepares `sql` (cached by its text) and binds `$N` to `args[N - 1]` by the
    /// placeholders' names, since SQLite numbers parameters in order of first appearance.
    fn prepare(
        &self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<rusqlite::CachedStatement<'_>, StoreError> {
        let mut statement = self.0.prepare_cached(sql)?;
        for index in 1..=statement.parameter_count() {
            let n = statement
                .parameter_name(index)
                .and_then(|name| name.strip_prefix('$'))
                .and_then(|digits| digits.parse::<usize>().ok())
                .filter(|n| (1..=args.len()).contains(n))
                .ok_or(StoreError::Corrupt(
                    "a statement's $N placeholder has no argument",
                ))?;
            statement.raw_bind_parameter(index, args[n - 1])?;
        }
        Ok(statement)
    }

    /// Runs a query for at most one row and maps it (synchronously: for the readers).
    pub(crate) fn fetch_optional<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        map: impl FnOnce(&rusqlite::Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let mut statement = self.prepare(sql, args)?;
        let mut rows = statement.raw_query();
        rows.next()?.map(map).transpose()
    }
}

impl Exec for Direct<'_> {
    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        let mut statement = self.prepare(sql, args)?;
        Ok(statement.raw_execute()? as u64)
    }

    async fn fetch_text(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<Vec<String>>, StoreError> {
        let mut statement = self.prepare(sql, args)?;
        let columns = statement.column_count();
        let mut rows = statement.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(
                (0..columns)
                    .map(|i| row.get::<_, String>(i))
                    .collect::<Result<_, _>>()?,
            );
        }
        Ok(out)
    }

    async fn fetch_i64(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<i64, StoreError> {
        let mut statement = self.prepare(sql, args)?;
        let mut rows = statement.raw_query();
        match rows.next()? {
            Some(row) => Ok(row.get(0)?),
            None => Err(StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows)),
        }
    }

    /// One single-row INSERT run once a row. There is no round trip to save here, and
    /// SQLite keeps a statement journal (a copy of each page the statement changes, to undo
    /// it alone) for a multi-row INSERT with constraints, but not for a single row. The
    /// writer never needs to undo one statement alone: a failed write rolls its group back.
    async fn insert_rows(
        &mut self,
        head: &'static str,
        columns: usize,
        args: &[Arg<'_>],
    ) -> Result<(), StoreError> {
        let sql = super::multi_insert(head, 1, columns);
        for row in args.chunks(columns) {
            self.execute(&sql, row).await?;
        }
        Ok(())
    }
}

/// A row's columns by name, from either backend, so that a row is mapped to its type once.
pub(crate) trait Columns {
    fn text(&self, column: &str) -> Result<String, StoreError>;
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError>;
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    fn blob(&self, column: &str) -> Result<Vec<u8>, StoreError>;
    /// A boolean: PostgreSQL has the type, SQLite stores 0 or 1.
    fn flag(&self, column: &str) -> Result<bool, StoreError>;
}

impl Columns for sqlx::any::AnyRow {
    fn text(&self, column: &str) -> Result<String, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn blob(&self, column: &str) -> Result<Vec<u8>, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        match self.try_get::<bool, _>(column) {
            Ok(b) => Ok(b),
            Err(_) => Ok(self.try_get::<i64, _>(column)? != 0),
        }
    }
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, column: &str) -> Result<String, StoreError> {
        Ok(self.get(column)?)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        Ok(self.get(column)?)
    }
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        Ok(self.get(column)?)
    }
    fn blob(&self, column: &str) -> Result<Vec<u8>, StoreError> {
        Ok(self.get(column)?)
    }
    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        Ok(self.get::<_, i64>(column)? != 0)
    }
}

/// Runs a future that completes without waiting: the writer thread's statements.
pub(crate) fn run_ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => {
            unreachable!("the writer thread's statements complete synchronously")
        }
    }
}
