//! SQLite's hot reads (a session by id, on every frame request and confirm) on connections
//! of our own, run on the calling thread: a point read by primary key takes microseconds
//! from the page cache, less than handing it to a sqlx worker thread and back. WAL lets
//! them read beside the writer; each sees what was committed when its statement began.

use super::StoreError;
use super::exec::Direct;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Idle connections kept for reuse: one per core is enough, since a read never waits.
const MAX_IDLE: usize = 4;

pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub(crate) fn open(path: &Path) -> Result<Readers, StoreError> {
        let readers = Readers {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        };
        // Fails now, at start-up, if the file cannot be read.
        let first = readers.connect()?;
        readers.give_back(first);
        Ok(readers)
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.execute_batch("PRAGMA busy_timeout = 5000; PRAGMA query_only = ON;")?;
        Ok(conn)
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// Runs `read` on an idle connection (or a new one).
    pub(crate) fn read<T>(
        &self,
        read: impl FnOnce(&Direct<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.connect()?,
        };
        let result = read(&Direct(&conn));
        self.give_back(conn);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::exec::args;

    #[test]
    fn reads_what_another_connection_committed_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("readers.sqlite");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER);",
            )
            .unwrap();
        let readers = Readers::open(&path).unwrap();
        let get = |k: &str| {
            readers.read(|db| {
                db.fetch_optional("SELECT v FROM t WHERE k = $1", &args![k], |row| {
                    Ok(row.get::<_, i64>(0)?)
                })
            })
        };
        assert_eq!(get("a").unwrap(), None);
        writer.execute("INSERT INTO t VALUES ('a', 1)", []).unwrap();
        assert_eq!(get("a").unwrap(), Some(1));
        let refused = readers.read(|db| {
            db.fetch_optional(
                "INSERT INTO t VALUES ($1, 2) RETURNING v",
                &args!["b"],
                |row| Ok(row.get::<_, i64>(0)?),
            )
        });
        assert!(refused.is_err(), "a reader must not write");
        assert_eq!(get("b").unwrap(), None);
    }
}
