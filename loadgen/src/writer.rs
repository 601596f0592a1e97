//! The gateway's SQLite writer thread over the timed phase, read from the gateway's own
//! `/metrics` just before and just after it: how much of the phase the thread was busy
//! (running groups, their commit and sync included), and how many writes it committed in
//! how many group commits. A writer busy nearly all the time is the confirm path's limit.

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

/// What the writer did between two readings `wall` apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Share of the wall time the thread was busy, 0 to 1.
    pub busy: f64,
    pub writes: f64,
    pub commits: f64,
}

impl Usage {
    pub fn between(before: Counters, after: Counters, wall: Duration) -> Usage {
        Usage {
            busy: (after.busy_seconds - before.busy_seconds) / wall.as_secs_f64(),
            writes: after.writes - before.writes,
            commits: after.commits - before.commits,
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
        let usage = Usage::between(before, after, Duration::from_secs(2));
        assert_eq!(usage.busy, 0.75);
        assert_eq!(usage.writes_per_commit(), 20.0);
    }

    #[test]
    fn a_gateway_without_a_writer_thread_has_no_counters() {
        assert_eq!(parse("payframe_database_up 1\n# EOF\n"), None);
    }
}
