//! The gateway's SQLite writer thread over the timed phase, read from the gateway's own
//! `/metrics` just before and just after it: how much of the phase the thread was busy
//! (running groups, their commit and sync included), and how many writes it committed in
//! how many group commits. A writer busy nearly all the time is the confirm path's limit.
//! Where the gateway runs on this machine, the thread's own scheduler counters
//! (`/proc/PID/task/TID/schedstat`) split that busy time: on a core, waiting for a core
//! (runnable, but the cores were taken), and the rest asleep (the commit's sync, among
//! other things).

use std::time::Duration;

/// The writer's counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counters {
    pub writes: f64,
    pub commits: f64,
    pub busy_seconds: f64,
}

/// The counters in a `/metrics` answer, or `None` where the gateway has no writer thread
/// (PostgreSQL).
pub fn parse(text: &str) -> Option<Counters> {
    let value = |name: &str| {
        text.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(' ')?;
            rest.split(' ').next()?.parse::<f64>().ok()
        })
    };
    Some(Counters {
        writes: value("payframe_sqlite_writer_writes_total")?,
        commits: value("payframe_sqlite_writer_commits_total")?,
        busy_seconds: value("payframe_sqlite_writer_busy_seconds_total")?,
    })
}

/// The writer thread's name as Linux keeps it (`comm`: the first 15 bytes of
/// `payframe-sqlite-writer`).
const THREAD_COMM: &str = "payframe-sqlite";

/// The scheduler's counters of one thread, in nanoseconds since it started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sched {
    pub on_cpu: u64,
    pub waiting_for_cpu: u64,
}

/// `/proc/PID/task/TID/schedstat`: time on a CPU, time runnable on a run queue, time slices.
fn parse_schedstat(text: &str) -> Option<Sched> {
    let mut fields = text.split_whitespace().map(str::parse::<u64>);
    Some(Sched {
        on_cpu: fields.next()?.ok()?,
        waiting_for_cpu: fields.next()?.ok()?,
    })
}

/// The writer thread's counters in the gateway process `pid`, if it runs on this machine
/// and has one.
pub fn sched(pid: u32) -> Option<Sched> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    tasks.filter_map(Result::ok).find_map(|task| {
        let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
        if comm.trim_end() != THREAD_COMM {
            return None;
        }
        parse_schedstat(&std::fs::read_to_string(task.path().join("schedstat")).ok()?)
    })
}

/// What the writer did between two readings `wall` apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Share of the wall time the thread was busy, 0 to 1.
    pub busy: f64,
    pub writes: f64,
    pub commits: f64,
    /// Where the scheduler's counters could be read: how the thread spent the wall time.
    pub sched: Option<SchedShares>,
}

/// Shares of the wall time (0 to 1) the thread ran on a core and waited for one: all it
/// did, busy or not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SchedShares {
    pub on_cpu: f64,
    pub waiting_for_cpu: f64,
}

impl Usage {
    pub fn between(
        before: Counters,
        after: Counters,
        sched: Option<(Sched, Sched)>,
        wall: Duration,
    ) -> Usage {
        let share = |ns: u64| ns as f64 / wall.as_nanos() as f64;
        Usage {
            busy: (after.busy_seconds - before.busy_seconds) / wall.as_secs_f64(),
            writes: after.writes - before.writes,
            commits: after.commits - before.commits,
            sched: sched.map(|(b, a)| SchedShares {
                on_cpu: share(a.on_cpu.saturating_sub(b.on_cpu)),
                waiting_for_cpu: share(a.waiting_for_cpu.saturating_sub(b.waiting_for_cpu)),
            }),
        }
    }

    pub fn writes_per_commit(&self) -> f64 {
        if self.commits > 0.0 {
            self.writes / self.commits
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRAPE: &str = "# TYPE payframe_sqlite_writer_writes counter\n\
        payframe_sqlite_writer_writes_total 1400\n\
        payframe_sqlite_writer_commits_total 100\n\
        payframe_sqlite_writer_busy_seconds_total 2.5\n\
        # EOF\n";

    #[test]
    fn the_writer_counters_are_read_and_compared() {
        let before = parse(SCRAPE).unwrap();
        assert_eq!(before.writes, 1400.0);
        let after = Counters {
            writes: 3400.0,
            commits: 200.0,
            busy_seconds: 4.0,
        };
        let sched = (
            Sched {
                on_cpu: 1_000_000_000,
                waiting_for_cpu: 0,
            },
            Sched {
                on_cpu: 2_000_000_000,
                waiting_for_cpu: 500_000_000,
            },
        );
        let usage = Usage::between(before, after, Some(sched), Duration::from_secs(2));
        assert_eq!(usage.busy, 0.75);
        assert_eq!(usage.writes_per_commit(), 20.0);
        assert_eq!(
            usage.sched,
            Some(SchedShares {
                on_cpu: 0.5,
                waiting_for_cpu: 0.25
            })
        );
    }

    #[test]
    fn a_threads_schedstat_line_gives_its_time_on_and_waiting_for_a_cpu() {
        assert_eq!(
            parse_schedstat("232391603 11772815 368\n"),
            Some(Sched {
                on_cpu: 232_391_603,
                waiting_for_cpu: 11_772_815
            })
        );
        assert_eq!(parse_schedstat("12\n"), None);
    }

    #[test]
    fn the_writer_thread_is_found_by_its_name() {
        let pid = std::process::id();
        assert_eq!(sched(pid), None);
        let (started, wait_start) = std::sync::mpsc::channel();
        let (stop, wait_stop) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("payframe-sqlite-writer".into())
            .spawn(move || {
                started.send(()).unwrap();
                let _ = wait_stop.recv();
            })
            .unwrap();
        wait_start.recv().unwrap();
        assert!(sched(pid).is_some());
        drop(stop);
        thread.join().unwrap();
    }

    #[test]
    fn a_gateway_without_a_writer_thread_has_no_counters() {
        assert_eq!(parse("payframe_database_up 1\n# EOF\n"), None);
    }
}
