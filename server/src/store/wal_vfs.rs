//! The writer's SQLite VFS: the operating system's own (`unix`), except that a WAL file
//! gathers the contiguous writes SQLite makes to it and hands them to the OS in one
//! `pwrite` when something needs them: a sync, a read, any other call on that file.
//!
//! Why: SQLite writes each WAL frame as two calls, its 24-byte header and then its page, at
//! offsets that straddle the kernel's pages. A group commit of a few dozen dirty pages made
//! about sixty system calls, each page touching two page-cache pages and its header a third:
//! `pwrite64` was a fifth of the writer thread's CPU (BENCHMARKS.md, "The WAL's writes
//! gathered into one").
//!
//! Why it is safe: nothing is reordered or skipped. The writes reach the file in the order
//! SQLite made them, and every call through which SQLite, or this file handle, could see
//! the file's content or make it durable (read, sync, size, truncate, lock, file control,
//! close) first writes out what is held. Other connections learn of new frames
//! only from the WAL index, which SQLite updates after the commit's sync, by then written
//! out. A crash loses only what had not been synced, as without the buffer: SQLite never
//! counted on those frames.
//!
//! This holds only with `synchronous = FULL` (or `EXTRA`), where every commit syncs the WAL
//! before the WAL index shows it. Below that, another connection could read a committed frame
//! that is still held here; the writer refuses to start so.
//!
//! Only WAL files are wrapped; the database file and everything else open as `unix` opens
//! them. Only the writer thread's connection uses this VFS.

use rusqlite::ffi;
use std::ffi::{CStr, c_int, c_void};
use std::sync::OnceLock;
#[cfg(test)]
use std::sync::atomic::{AtomicU64, Ordering};

/// The name the writer's connection opens the database with.
pub(crate) const NAME: &str = "payframe-wal";
const NAME_C: &CStr = c"payframe-wal";

/// Held writes are written out beyond this, so a huge transaction cannot grow the buffer
/// without bound (a group commit writes a few hundred KiB).
const MAX_HELD: usize = 8 << 20;

/// The most one OS write is given: `unix` writes at most 128 KiB − 1 bytes a call (its
/// `seekAndWriteFd` masks the length), and a longer one fails as a full disk.
const MAX_WRITE: usize = 124 << 10;

/// Writes SQLite made to WAL files, and writes this VFS made to the OS for them: counted
/// for the tests only, the writer's hot path has no use for them.
#[cfg(test)]
static WRITES_IN: AtomicU64 = AtomicU64::new(0);
#[cfg(test)]
static WRITES_OUT: AtomicU64 = AtomicU64::new(0);

/// A WAL file as SQLite sees it: our methods first (SQLite reads `pMethods` there), the
/// held writes, and the `unix` VFS's own file structure after it, in the same allocation.
#[repr(C)]
struct WalFile {
    base: ffi::sqlite3_file,
    /// The OS file: points at the bytes after this struct.
    real: *mut ffi::sqlite3_file,
    /// Contiguous bytes not yet written, to start at `held_at`.
    held: Vec<u8>,
    held_at: i64,
}

struct Registered {
    /// The `unix` VFS, whose `xOpen` opens every file.
    os: *mut ffi::sqlite3_vfs,
}
// SAFETY: the pointer is to SQLite's static `unix` VFS, which is never freed or changed
// after registration and which SQLite itself shares between threads.
unsafe impl Send for Registered {}
unsafe impl Sync for Registered {}

static REGISTERED: OnceLock<Result<Registered, String>> = OnceLock::new();

/// Registers the VFS (once per process; not as the default) so that a connection can be
/// opened with [`NAME`].
pub(crate) fn register() -> Result<(), String> {
    REGISTERED
        .get_or_init(|| {
            // SAFETY: sqlite3_vfs_find initialises SQLite and returns its static default VFS
            // or null. The copy made from it is leaked: SQLite keeps the pointer for good.
            unsafe {
                let os = ffi::sqlite3_vfs_find(std::ptr::null());
                if os.is_null() {
                    return Err("SQLite has no default VFS".to_owned());
                }
                let mut vfs = *os;
                vfs.zName = NAME_C.as_ptr();
                vfs.pNext = std::ptr::null_mut();
                vfs.szOsFile = (std::mem::size_of::<WalFile>() as c_int)
                    .checked_add((*os).szOsFile)
                    .ok_or("the VFS file size overflows")?;
                vfs.xOpen = Some(open);
                let rc = ffi::sqlite3_vfs_register(Box::into_raw(Box::new(vfs)), 0);
                if rc != ffi::SQLITE_OK {
                    return Err(format!("sqlite3_vfs_register failed: {rc}"));
                }
                Ok(Registered { os })
            }
        })
        .as_ref()
        .map(|_| ())
        .map_err(Clone::clone)
}

fn os_vfs() -> *mut ffi::sqlite3_vfs {
    match REGISTERED.get() {
        Some(Ok(registered)) => registered.os,
        // `open` is only reachable through the registered VFS.
        _ => unreachable!("the WAL VFS is used before it is registered"),
    }
}

/// How many writes SQLite made to WAL files, and how many reached the OS (for tests).
#[cfg(test)]
pub(crate) fn writes() -> (u64, u64) {
    (
        WRITES_IN.load(Ordering::Relaxed),
        WRITES_OUT.load(Ordering::Relaxed),
    )
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let os = os_vfs();
    // SAFETY: SQLite hands us `szOsFile` bytes at `file`, as many as `WalFile` plus the
    // OS file; `os` is the static `unix` VFS, called as SQLite would call it.
    unsafe {
        let os_open = (*os).xOpen.expect("the unix VFS opens files");
        if flags & ffi::SQLITE_OPEN_WAL == 0 {
            // Not a WAL: the OS file is the whole file; our methods never see it.
            return os_open(os, name, file, flags, out_flags);
        }
        let wal = file.cast::<WalFile>();
        let real = file
            .cast::<u8>()
            .add(std::mem::size_of::<WalFile>())
            .cast::<ffi::sqlite3_file>();
        let rc = os_open(os, name, real, flags, out_flags);
        if rc != ffi::SQLITE_OK || (*real).pMethods.is_null() {
            // SQLite will not call our xClose: close what the OS opened here.
            if !(*real).pMethods.is_null()
                && let Some(os_close) = (*(*real).pMethods).xClose
            {
                os_close(real);
            }
            (*wal).base.pMethods = std::ptr::null();
            return if rc == ffi::SQLITE_OK {
                ffi::SQLITE_CANTOPEN
            } else {
                rc
            };
        }
        std::ptr::write(
            wal,
            WalFile {
                base: ffi::sqlite3_file { pMethods: &METHODS },
                real,
                held: Vec::new(),
                held_at: 0,
            },
        );
        rc
    }
}

/// Our methods. Version 1: SQLite asks a WAL file for nothing newer. Shared memory and
/// memory-mapped reads are the database file's, which is never wrapped.
static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 1,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

/// The OS file behind `file` and its methods.
///
/// SAFETY: `file` must be a `WalFile` that `open` initialised and `close` has not dropped.
unsafe fn os_file(
    file: *mut ffi::sqlite3_file,
) -> (*mut ffi::sqlite3_file, ffi::sqlite3_io_methods) {
    unsafe {
        let real = (*file.cast::<WalFile>()).real;
        (real, *(*real).pMethods)
    }
}

/// Writes out what is held; SQLITE_OK if nothing was.
///
/// SAFETY: as [`os_file`].
unsafe fn flush(file: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        let wal = &mut *file.cast::<WalFile>();
        if wal.held.is_empty() {
            return ffi::SQLITE_OK;
        }
        let (real, m) = os_file(file);
        let os_write = m.xWrite.expect("unix files write");
        let mut rc = ffi::SQLITE_OK;
        let mut at = wal.held_at;
        for chunk in wal.held.chunks(MAX_WRITE) {
            #[cfg(test)]
            WRITES_OUT.fetch_add(1, Ordering::Relaxed);
            // MAX_WRITE fits a c_int.
            rc = os_write(real, chunk.as_ptr().cast(), chunk.len() as c_int, at);
            if rc != ffi::SQLITE_OK {
                break;
            }
            at += chunk.len() as i64;
        }
        // Written or failed, the bytes are not held any more: SQLite learns of a failure here
        // and rolls the transaction back, as if the write itself had failed.
        wal.held.clear();
        rc
    }
}

/// Flushes, then runs `then` on the OS file unless the flush failed.
///
/// SAFETY: as [`os_file`].
unsafe fn flushed(
    file: *mut ffi::sqlite3_file,
    then: impl FnOnce(*mut ffi::sqlite3_file, ffi::sqlite3_io_methods) -> c_int,
) -> c_int {
    unsafe {
        let rc = flush(file);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        let (real, m) = os_file(file);
        then(real, m)
    }
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amt: c_int,
    at: i64,
) -> c_int {
    #[cfg(test)]
    WRITES_IN.fetch_add(1, Ordering::Relaxed);
    // SAFETY: SQLite passes an open WalFile and `amt` readable bytes at `buf`.
    unsafe {
        let wal = &mut *file.cast::<WalFile>();
        let Ok(len) = usize::try_from(amt) else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let follows = at == wal.held_at + wal.held.len() as i64;
        if !wal.held.is_empty() && !follows {
            let rc = flush(file);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        let wal = &mut *file.cast::<WalFile>();
        if wal.held.is_empty() {
            wal.held_at = at;
        }
        wal.held
            .extend_from_slice(std::slice::from_raw_parts(buf.cast::<u8>(), len));
        if wal.held.len() >= MAX_HELD {
            return flush(file);
        }
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes an open WalFile once; after this it is never used again.
    unsafe {
        let flushed_rc = flush(file);
        let (real, m) = os_file(file);
        let rc = m.xClose.expect("unix files close")(real);
        std::ptr::drop_in_place(&mut (*file.cast::<WalFile>()).held);
        if flushed_rc != ffi::SQLITE_OK {
            flushed_rc
        } else {
            rc
        }
    }
}

unsafe extern "C" fn read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amt: c_int,
    at: i64,
) -> c_int {
    // SAFETY (this and the methods below): SQLite passes an open WalFile and the arguments
    // the OS method expects, which are passed on unchanged.
    unsafe {
        flushed(file, |real, m| {
            m.xRead.expect("unix files read")(real, buf, amt, at)
        })
    }
}

unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    unsafe {
        flushed(file, |real, m| {
            m.xTruncate.expect("unix files truncate")(real, size)
        })
    }
}

unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    unsafe {
        flushed(file, |real, m| {
            m.xSync.expect("unix files sync")(real, flags)
        })
    }
}

unsafe extern "C" fn file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    unsafe {
        flushed(file, |real, m| {
            m.xFileSize.expect("unix files have a size")(real, size)
        })
    }
}

unsafe extern "C" fn lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    unsafe {
        flushed(file, |real, m| {
            m.xLock.expect("unix files lock")(real, level)
        })
    }
}

unsafe extern "C" fn unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    unsafe {
        flushed(file, |real, m| {
            m.xUnlock.expect("unix files unlock")(real, level)
        })
    }
}

unsafe extern "C" fn check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    unsafe {
        let (real, m) = os_file(file);
        m.xCheckReservedLock.expect("unix files check locks")(real, out)
    }
}

unsafe extern "C" fn file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    unsafe {
        flushed(file, |real, m| {
            m.xFileControl.expect("unix files take file controls")(real, op, arg)
        })
    }
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        let (real, m) = os_file(file);
        m.xSectorSize.expect("unix files have a sector size")(real)
    }
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        let (real, m) = os_file(file);
        m.xDeviceCharacteristics
            .expect("unix files describe their device")(real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OpenFlags};

    fn open(path: &std::path::Path) -> Connection {
        register().unwrap();
        let conn = Connection::open_with_flags_and_vfs(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
            NAME,
        )
        .unwrap();
        // A tiny page cache makes the big transaction below spill frames into the WAL before
        // its commit and read them back: reads in the middle of held writes.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = 8;
             PRAGMA wal_autocheckpoint = 0;",
        )
        .unwrap();
        conn
    }

    fn rows(conn: &Connection) -> Vec<(i64, Vec<u8>)> {
        let mut statement = conn.prepare("SELECT n, b FROM t ORDER BY n").unwrap();
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn every_commit_is_seen_by_a_plain_connection_with_fewer_os_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.sqlite");
        let writer = open(&path);
        writer
            .execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY, b BLOB NOT NULL)")
            .unwrap();
        // Another connection through the OS's own VFS, as the gateway's readers are.
        let reader = Connection::open(&path).unwrap();
        let (in_before, out_before) = writes();
        let mut expected = Vec::new();
        for round in 0..40i64 {
            writer.execute_batch("BEGIN IMMEDIATE").unwrap();
            // Every tenth round is big enough to spill, the others are a group commit's size.
            let count = if round % 10 == 9 { 400 } else { 12 };
            for i in 0..count {
                let n = round * 1000 + i;
                let blob = vec![(n % 251) as u8; 300 + (n % 700) as usize];
                writer
                    .execute("INSERT INTO t (n, b) VALUES (?1, ?2)", (n, &blob))
                    .unwrap();
                expected.push((n, blob));
            }
            // Rows changed again in the same transaction: pages already written to the WAL.
            let changed = vec![round as u8; 2000];
            writer
                .execute("UPDATE t SET b = ?2 WHERE n % 97 = ?1", (round, &changed))
                .unwrap();
            for (n, blob) in &mut expected {
                if *n % 97 == round {
                    blob.clone_from(&changed);
                }
            }
            if round % 7 == 3 {
                // A rolled-back transaction's frames must not show up.
                writer.execute_batch("COMMIT; BEGIN IMMEDIATE").unwrap();
                writer.execute("DELETE FROM t", []).unwrap();
                writer.execute_batch("ROLLBACK").unwrap();
            } else {
                writer.execute_batch("COMMIT").unwrap();
            }
            assert_eq!(rows(&reader), expected, "after round {round}");
            if round % 13 == 12 {
                writer
                    .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    .unwrap();
            }
        }
        let (in_after, out_after) = writes();
        let (made, passed) = (in_after - in_before, out_after - out_before);
        assert!(made > 0, "no WAL writes went through the VFS");
        assert!(
            passed * 2 <= made,
            "{passed} OS writes for {made} WAL writes: the writes were not gathered"
        );
        drop(writer);
        let check: String = reader
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        assert_eq!(rows(&reader), expected);
    }

    #[test]
    fn a_database_reopened_after_the_writer_closed_holds_every_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reopen.sqlite");
        {
            let writer = open(&path);
            writer
                .execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY, b BLOB NOT NULL)")
                .unwrap();
            for n in 0..500i64 {
                writer
                    .execute("INSERT INTO t (n, b) VALUES (?1, ?2)", (n, vec![7u8; 100]))
                    .unwrap();
            }
        }
        let conn = Connection::open(&path).unwrap();
        let count: i64 = conn
            .query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(count, 500);
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }
}
