//! SQLite's group commit: one thread with its own connection runs the hot path's write
//! transactions (a confirm's session claim, every payment save) for all requests. It takes
//! whatever writes are waiting and commits them in one transaction: one fsync for the group
//! instead of one per write, and no statement crosses a thread. A write that fails (rare: a
//! constraint, a lost idempotency key) fails alone: the group is rolled back and run again
//! without it — cheaper than a savepoint around every write, which copies each page it
//! touches first. A request hears back only once its group is committed (or has failed),
//! so an answer never runs ahead of what is on disk.
//!
//! The thread queues at the store's write gate like every other SQLite write of this
//! process, so it never polls SQLite's write lock.
//!
//! The writer also copies the WAL back into the database file (a checkpoint), every few
//! dozen commits and after answering, not inside a commit as SQLite's automatic checkpoint
//! would: no request waits for it, a page changed by many groups is copied once, and with
//! nothing appended meanwhile the WAL is fully copied, so the next commit starts it over.

use super::StoreError;
use super::exec::Direct;
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// Writes committed together at most: bounds how long the write lock is held at once.
const MAX_GROUP: usize = 256;
/// Commits between checkpoints: a few thousand WAL pages under load (SQLite's automatic
/// checkpoint comes at 1,000 pages).
const CHECKPOINT_EVERY: u64 = 64;

/// A write waiting for the thread: run (again, if its group had to be rolled back), then
/// told how the commit went.
trait Job: Send {
    /// Runs the write; false if it failed.
    fn run(&mut self, db: &mut Direct<'_>) -> bool;
    /// Whether its last run failed: it is left out when the group runs again.
    fn failed(&self) -> bool;
    /// Answers the request: its result if the group committed, else why not.
    fn finish(self: Box<Self>, committed: Result<(), &str>);
}

struct Pending<T, F> {
    work: F,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnMut(&mut Direct<'_>) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, db: &mut Direct<'_>) -> bool {
        // A panicking write must not take the thread, and every later write, with it.
        let result = catch_unwind(AssertUnwindSafe(|| (self.work)(db)))
            .unwrap_or_else(|_| Err(StoreError::Writer("a write panicked".into())));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn failed(&self) -> bool {
        matches!(self.result, Some(Err(_)))
    }

    fn finish(self: Box<Self>, committed: Result<(), &str>) {
        let answer = match (self.result, committed) {
            (Some(Err(err)), _) => Err(err),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(why)) => Err(StoreError::Writer(why.to_owned())),
            (None, Ok(())) => Err(StoreError::Writer("the write did not run".into())),
        };
        // The request may have gone away meanwhile; what was committed stays committed.
        let _ = self.reply.send(answer);
    }
}

enum Message {
    Job(Box<dyn Job>),
    /// Finish what is queued, close the connection, then acknowledge.
    Stop(oneshot::Sender<()>),
}

/// How many writes were committed in how many groups, and how long the thread was busy
/// with them (for the operator's metrics and the benchmark).
#[derive(Debug, Default)]
pub struct WriterStats {
    pub writes: AtomicU64,
    pub commits: AtomicU64,
    /// Nanoseconds spent running groups: statements, commit and its sync, retries.
    pub busy_nanos: AtomicU64,
}

pub(crate) struct Writer {
    queue: mpsc::UnboundedSender<Message>,
    stats: Arc<WriterStats>,
}

impl Writer {
    /// Opens the thread's own connection to the database file at `path` (already created
    /// and migrated) with the pool's durability settings, and starts the thread.
    pub(crate) fn start(path: &Path, gate: Arc<Semaphore>) -> Result<Writer, StoreError> {
        // The OS's VFS with the WAL's writes gathered into one per commit (see wal_vfs).
        super::wal_vfs::register().map_err(StoreError::Writer)?;
        let conn = Connection::open_with_flags_and_vfs(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            super::wal_vfs::NAME,
        )?;
        // The pool's settings, the statement journal in memory (it copies every page a
        // statement changes, and a temporary file made that a write system call each),
        // checkpoints of its own (see `run`), and a page cache of 64 MiB: this connection
        // alone writes, so its cache stays valid, and at SQLite's 2 MiB default the hot
        // path's pages were read back from the kernel.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
             PRAGMA busy_timeout = 5000; PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY; \
             PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -65536;",
        )?;
        // The WAL VFS holds a commit's writes until its sync: without a sync at each commit,
        // a reader could see a frame not yet written.
        let synchronous: i64 = conn.query_row("PRAGMA synchronous", [], |row| row.get(0))?;
        if synchronous < 2 {
            return Err(StoreError::Writer(format!(
                "the writer needs synchronous = FULL, not {synchronous}"
            )));
        }
        // Room for every statement of the hot path, including the multi-row INSERTs' few
        // shapes.
        conn.set_prepared_statement_cache_capacity(64);
        let (queue, jobs) = mpsc::unbounded_channel();
        let stats = Arc::new(WriterStats::default());
        let handle = tokio::runtime::Handle::current();
        let thread_stats = Arc::clone(&stats);
        std::thread::Builder::new()
            .name("payframe-sqlite-writer".into())
            .spawn(move || run(conn, jobs, gate, handle, &thread_stats))
            .map_err(|err| StoreError::Writer(format!("cannot start the writer thread: {err}")))?;
        Ok(Writer { queue, stats })
    }

    /// Runs `work` in the next group commit and answers once the group is on disk. `work`
    /// returning an error rolls back its own statements only; it may be run more than once
    /// (each run in a fresh transaction), so it must only write through `db`.
    pub(crate) async fn submit<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut Direct<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.queue(work)?
            .await
            .map_err(|_| StoreError::Writer("the writer stopped before answering".into()))?
    }

    /// Queues `work` at once; the receiver gets its answer.
    fn queue<T, F>(&self, work: F) -> Result<oneshot::Receiver<Result<T, StoreError>>, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut Direct<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Pending {
            work,
            result: None,
            reply,
        };
        self.queue
            .send(Message::Job(Box::new(job)))
            .map_err(|_| StoreError::Writer("the store is closed".into()))?;
        Ok(answer)
    }

    /// Lets the queued writes finish, then stops the thread.
    pub(crate) async fn stop(&self) {
        let (done, stopped) = oneshot::channel();
        if self.queue.send(Message::Stop(done)).is_ok() {
            let _ = stopped.await;
        }
    }

    pub(crate) fn stats(&self) -> &Arc<WriterStats> {
        &self.stats
    }
}

// Never inlined into the thread's closure: scripts/confirm-instructions.sh counts the
// writer thread's instructions as this function's.
#[inline(never)]
fn run(
    conn: Connection,
    mut queue: mpsc::UnboundedReceiver<Message>,
    gate: Arc<Semaphore>,
    runtime: tokio::runtime::Handle,
    stats: &WriterStats,
) {
    let mut group: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_GROUP);
    let mut stop = None;
    let mut next_checkpoint = CHECKPOINT_EVERY;
    while stop.is_none() {
        match queue.blocking_recv() {
            None => break,
            Some(Message::Stop(done)) => stop = Some(done),
            Some(Message::Job(job)) => group.push(job),
        }
        while stop.is_none() && group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(Message::Job(job)) => group.push(job),
                Ok(Message::Stop(done)) => stop = Some(done),
                Err(_) => break,
            }
        }
        if group.is_empty() {
            continue;
        }
        let permit = runtime.block_on(gate.acquire());
        let started = std::time::Instant::now();
        let committed = commit_group(&conn, &mut group);
        let busy = started.elapsed();
        drop(permit);
        stats
            .busy_nanos
            .fetch_add(busy.as_nanos() as u64, Ordering::Relaxed);
        if committed.is_ok() {
            stats.commits.fetch_add(1, Ordering::Relaxed);
            let written = group.iter().filter(|job| !job.failed()).count();
            stats.writes.fetch_add(written as u64, Ordering::Relaxed);
        } else if let Err(why) = &committed {
            tracing::error!(writes = group.len(), error = %why, "a group of writes could not be committed");
        }
        let committed = committed.as_ref().map(|_| ()).map_err(String::as_str);
        for job in group.drain(..) {
            job.finish(committed);
        }
        if stats.commits.load(Ordering::Relaxed) >= next_checkpoint {
            next_checkpoint += CHECKPOINT_EVERY;
            // Passive: it never waits for a writer or reader; what a reader still needs is
            // copied next time.
            if let Err(err) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %err, "a WAL checkpoint failed");
            }
        }
    }
    drop(conn);
    if let Some(done) = stop {
        let _ = done.send(());
    }
}

/// One transaction for the whole group. If a write fails, the transaction is rolled back
/// and the group run again without it; each round leaves out at least one more write, so
/// this ends.
fn commit_group(conn: &Connection, group: &mut [Box<dyn Job>]) -> Result<(), String> {
    loop {
        let mut failed = false;
        let mut attempt = || -> Result<(), rusqlite::Error> {
            conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
            let mut db = Direct(conn);
            for job in group.iter_mut().filter(|job| !job.failed()) {
                if !job.run(&mut db) {
                    failed = true;
                    conn.prepare_cached("ROLLBACK")?.execute([])?;
                    return Ok(());
                }
            }
            conn.prepare_cached("COMMIT")?.execute([])?;
            Ok(())
        };
        let attempted = attempt();
        match attempted {
            Ok(()) if failed => continue,
            Ok(()) => return Ok(()),
            Err(err) => {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                return Err(err.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::exec::{Exec, args, run_ready};
    use std::sync::mpsc as std_mpsc;

    /// A database with a table of unique numbers, a child table whose foreign key is
    /// checked only at commit, and a table of blobs.
    fn database() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("writer.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE numbers (n INTEGER PRIMARY KEY);
             CREATE TABLE children (parent INTEGER REFERENCES numbers (n) DEFERRABLE INITIALLY DEFERRED);
             CREATE TABLE blobs (b BLOB);",
        )
        .unwrap();
        (dir, path)
    }

    fn stored(path: &Path) -> Vec<i64> {
        let conn = Connection::open(path).unwrap();
        let mut statement = conn.prepare("SELECT n FROM numbers ORDER BY n").unwrap();
        statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn insert(n: i64) -> impl FnMut(&mut Direct<'_>) -> Result<u64, StoreError> + Send {
        move |db| run_ready(db.execute("INSERT INTO numbers (n) VALUES ($1)", &args![n]))
    }

    /// Queues a write of `n` that holds the thread, once running, until `release` is sent,
    /// so that the writes queued meanwhile make up the next group.
    fn hold(
        writer: &Writer,
        n: i64,
    ) -> (
        std_mpsc::Sender<()>,
        oneshot::Receiver<Result<u64, StoreError>>,
    ) {
        let (running, started) = std_mpsc::channel();
        let (release, released) = std_mpsc::channel::<()>();
        let first = writer
            .queue(move |db: &mut Direct<'_>| {
                running.send(()).unwrap();
                released.recv().unwrap();
                insert(n)(db)
            })
            .unwrap();
        started.recv().unwrap();
        (release, first)
    }

    #[tokio::test]
    async fn queued_writes_commit_together_and_failing_ones_are_left_out() {
        let (_dir, path) = database();
        let writer = Writer::start(&path, Arc::new(Semaphore::new(1))).unwrap();
        let (release, first) = hold(&writer, 1);
        let two = writer.queue(insert(2)).unwrap();
        // Inserts 3, then fails on a duplicate: its 3 must not be committed either.
        let failing = writer
            .queue(|db: &mut Direct<'_>| {
                insert(3)(db)?;
                insert(2)(db)
            })
            .unwrap();
        let panicking = writer
            .queue(|db: &mut Direct<'_>| -> Result<u64, StoreError> {
                insert(5)(db)?;
                panic!("a bug in a write")
            })
            .unwrap();
        let four = writer.queue(insert(4)).unwrap();
        release.send(()).unwrap();

        assert_eq!(first.await.unwrap().unwrap(), 1);
        assert_eq!(two.await.unwrap().unwrap(), 1);
        assert!(matches!(failing.await.unwrap(), Err(StoreError::Sqlite(_))));
        assert!(matches!(
            panicking.await.unwrap(),
            Err(StoreError::Writer(_))
        ));
        assert_eq!(four.await.unwrap().unwrap(), 1);
        assert_eq!(stored(&path), [1, 2, 4]);
        // The held write alone, then the two good ones queued behind it in one commit.
        assert_eq!(writer.stats().commits.load(Ordering::Relaxed), 2);
        assert_eq!(writer.stats().writes.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn when_the_commit_fails_no_write_of_the_group_is_answered_as_done() {
        let (_dir, path) = database();
        let writer = Writer::start(&path, Arc::new(Semaphore::new(1))).unwrap();
        let (release, first) = hold(&writer, 1);
        let six = writer.queue(insert(6)).unwrap();
        // Its foreign key is checked at COMMIT, which it makes fail for the whole group.
        let orphan = writer
            .queue(|db: &mut Direct<'_>| {
                run_ready(db.execute("INSERT INTO children (parent) VALUES ($1)", &args![99_i64]))
            })
            .unwrap();
        release.send(()).unwrap();

        assert_eq!(first.await.unwrap().unwrap(), 1);
        assert!(matches!(six.await.unwrap(), Err(StoreError::Writer(_))));
        assert!(matches!(orphan.await.unwrap(), Err(StoreError::Writer(_))));
        assert_eq!(stored(&path), [1]);
        // The thread goes on after a failed group.
        assert_eq!(writer.submit(insert(7)).await.unwrap(), 1);
        assert_eq!(stored(&path), [1, 7]);
    }

    #[tokio::test]
    async fn the_writer_waits_its_turn_at_the_write_gate() {
        let (_dir, path) = database();
        let gate = Arc::new(Semaphore::new(1));
        let writer = Writer::start(&path, Arc::clone(&gate)).unwrap();
        let held = gate.acquire().await.unwrap();
        let mut write = writer.queue(insert(8)).unwrap();
        // Nothing is written while another writer of this process holds the gate.
        tokio::task::yield_now().await;
        assert!(write.try_recv().is_err());
        assert!(stored(&path).is_empty());
        drop(held);
        assert_eq!(write.await.unwrap().unwrap(), 1);
        assert_eq!(stored(&path), [8]);

        // And while its group runs, the writer holds the gate: no other writer of this
        // process can take it.
        let (release, write) = hold(&writer, 9);
        assert!(gate.try_acquire().is_err(), "the writer must hold the gate");
        release.send(()).unwrap();
        assert_eq!(write.await.unwrap().unwrap(), 1);
        assert!(gate.try_acquire().is_ok(), "the writer gives the gate back");
    }

    #[tokio::test]
    async fn the_writer_copies_the_wal_into_the_database_file_every_few_dozen_commits() {
        let (_dir, path) = database();
        let writer = Writer::start(&path, Arc::new(Semaphore::new(1))).unwrap();
        let file_size = || std::fs::metadata(&path).unwrap().len();
        let big_row = |db: &mut Direct<'_>| {
            let blob = vec![7u8; 16 * 1024];
            run_ready(db.execute("INSERT INTO blobs (b) VALUES ($1)", &args![&blob]))
        };
        // One commit each: the rows are in the WAL, not yet in the database file.
        for _ in 1..CHECKPOINT_EVERY {
            writer.submit(big_row).await.unwrap();
        }
        let before = file_size();
        assert!(before < 64 * 1024, "checkpointed too early: {before} bytes");
        writer.submit(big_row).await.unwrap();
        // The checkpoint follows the answer; the next write runs after it on the same thread.
        writer.submit(insert(1_000)).await.unwrap();
        let after = file_size();
        assert!(
            after > CHECKPOINT_EVERY * 16 * 1024,
            "no checkpoint after {CHECKPOINT_EVERY} commits: {after} bytes"
        );
    }

    #[tokio::test]
    async fn stopping_finishes_the_queued_writes_then_refuses_new_ones() {
        let (_dir, path) = database();
        let writer = Writer::start(&path, Arc::new(Semaphore::new(1))).unwrap();
        let (release, first) = hold(&writer, 1);
        let queued = writer.queue(insert(9)).unwrap();
        release.send(()).unwrap();
        writer.stop().await;
        assert_eq!(first.await.unwrap().unwrap(), 1);
        assert_eq!(queued.await.unwrap().unwrap(), 1);
        assert!(matches!(
            writer.submit(insert(10)).await,
            Err(StoreError::Writer(_))
        ));
        assert_eq!(stored(&path), [1, 9]);
    }
}
