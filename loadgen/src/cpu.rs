//! Where the CPU went during a timed phase, read from Linux's `/proc`: the whole machine
//! (`/proc/stat`: busy, iowait, and time stolen by the hypervisor), the gateway
//! (`/proc/PID/stat`, all its threads) and this process. Subtracting both from the machine's
//! busy time shows what else was running. Every other process is read too, so the report
//! can name what else used the CPU. On a virtual machine, "steal" is time a virtual CPU was
//! ready to run while the host ran something else: the cores were not all ours, one reason
//! the same binary's throughput can drift between runs. It is reported apart and not
//! counted as busy.
//! Everywhere else (no `/proc`) the readings are absent and the report says so.

use std::collections::HashMap;
use std::time::Duration;

/// `/proc` counts in USER_HZ ticks, which Linux fixes at 100 per second in its user ABI.
const TICKS_PER_SECOND: u64 = 100;

/// Cumulative counters at one instant, in ticks.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The whole machine; absent where `/proc/stat` cannot be read, and then nothing is.
    machine: Option<Machine>,
    gateway: Option<u64>,
    own: Option<u64>,
    /// Every process: pid → (command name, ticks).
    processes: HashMap<u32, (String, u64)>,
}

/// Averages over an interval, in cores (1.0 = one core fully busy).
#[derive(Debug, Clone)]
pub struct Usage {
    pub cores: usize,
    pub machine_busy: f64,
    pub machine_iowait: f64,
    /// Time the hypervisor gave the machine's CPUs to someone else while they were ready.
    pub machine_steal: f64,
    pub gateway: Option<f64>,
    pub loadgen: f64,
    /// Busy time that was neither the gateway nor this process (kernel threads, other work).
    pub other: Option<f64>,
    /// The biggest other consumers by command name (kernel threads included), in cores,
    /// largest first. Processes that both started and ended within the interval are missed.
    pub top_others: Vec<(String, f64)>,
}

/// `utime + stime` of a process, from `/proc/PID/stat` (fields 14 and 15; the command name
/// in field 2 may hold spaces, so fields are counted after its closing parenthesis).
fn process_ticks(pid: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_process_ticks(&text)
}

fn parse_process_ticks(text: &str) -> Option<u64> {
    parse_process(text).map(|(_, ticks)| ticks)
}

/// (command name, utime + stime) of one `/proc/PID/stat` line.
fn parse_process(text: &str) -> Option<(String, u64)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

fn all_processes() -> HashMap<u32, (String, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    dir.filter_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        Some((pid, parse_process(&text)?))
    })
    .collect()
}

/// The aggregate `cpu` line of `/proc/stat`, in ticks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// Every state but idle, iowait and steal.
    busy: u64,
    iowait: u64,
    steal: u64,
    total: u64,
}

fn parse_machine(text: &str) -> Option<Machine> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8) // user nice system idle iowait irq softirq steal (guest is inside user)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    if v.len() < 5 {
        return None;
    }
    let total: u64 = v.iter().sum();
    let (idle, iowait) = (v[3], v[4]);
    let steal = v.get(7).copied().unwrap_or(0);
    Some(Machine {
        busy: total - idle - iowait - steal,
        iowait,
        steal,
        total,
    })
}

/// The machine's counters now, without the per-process readings of [`snapshot`].
pub fn machine() -> Option<Machine> {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| parse_machine(&t))
}

/// `ticks` of the machine's CPUs as cores, out of the `total` ticks all of them counted over
/// the same interval (so it needs no clock of its own).
fn as_machine_cores(ticks: u64, total: u64) -> f64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    ticks as f64 / total.max(1) as f64 * cores as f64
}

/// How many cores one of the machine's counters used between two readings; /proc/stat's
/// aggregate counts ticks of all CPUs, and its own total gives the true interval.
fn cores_between(before: &Machine, after: &Machine, counter: fn(&Machine) -> u64) -> f64 {
    as_machine_cores(
        counter(after).saturating_sub(counter(before)),
        after.total.saturating_sub(before.total),
    )
}

/// Cores stolen by the hypervisor between two readings.
pub fn steal_between(before: Option<&Machine>, after: Option<&Machine>) -> Option<f64> {
    Some(cores_between(before?, after?, |m| m.steal))
}

pub fn snapshot(gateway_pid: Option<u32>) -> Snapshot {
    let Some(machine) = machine() else {
        return Snapshot::default();
    };
    Snapshot {
        machine: Some(machine),
        gateway: gateway_pid.and_then(|pid| process_ticks(&pid.to_string())),
        own: process_ticks("self"),
        processes: all_processes(),
    }
}

pub fn usage(
    before: &Snapshot,
    after: &Snapshot,
    wall: Duration,
    gateway_pid: Option<u32>,
) -> Option<Usage> {
    let (Some(m0), Some(m1)) = (&before.machine, &after.machine) else {
        return None;
    };
    if wall.is_zero() {
        return None;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let seconds = wall.as_secs_f64();
    let as_cores = |ticks: u64| ticks as f64 / TICKS_PER_SECOND as f64 / seconds;
    let machine_busy = cores_between(m0, m1, |m| m.busy);
    let machine_iowait = cores_between(m0, m1, |m| m.iowait);
    let machine_steal = cores_between(m0, m1, |m| m.steal);
    let gateway = match (before.gateway, after.gateway) {
        (Some(b), Some(a)) => Some(as_cores(a.saturating_sub(b))),
        _ => None,
    };
    let loadgen = match (before.own, after.own) {
        (Some(b), Some(a)) => as_cores(a.saturating_sub(b)),
        _ => 0.0,
    };
    let other = gateway.map(|g| (machine_busy - g - loadgen).max(0.0));
    let own_pid = std::process::id();
    let mut by_name: HashMap<&str, u64> = HashMap::new();
    for (pid, (name, ticks)) in &after.processes {
        if *pid == own_pid || Some(*pid) == gateway_pid {
            continue;
        }
        let start = before.processes.get(pid).map_or(0, |(_, t)| *t);
        *by_name.entry(name).or_insert(0) += ticks.saturating_sub(start);
    }
    let mut top_others: Vec<(String, f64)> = by_name
        .into_iter()
        .filter(|(_, ticks)| *ticks > 0)
        .map(|(name, ticks)| (name.to_owned(), as_cores(ticks)))
        .collect();
    top_others.sort_by(|a, b| b.1.total_cmp(&a.1));
    top_others.truncate(5);
    Some(Usage {
        cores,
        machine_busy,
        machine_iowait,
        machine_steal,
        gateway,
        loadgen,
        other,
        top_others,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_ticks_survive_spaces_and_parentheses_in_the_name() {
        let line = "4242 (pay (frame) x) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 3 0";
        assert_eq!(parse_process_ticks(line), Some(300));
        assert_eq!(parse_process(line), Some(("pay (frame) x".to_owned(), 300)));
    }

    #[test]
    fn machine_line_splits_busy_from_idle_iowait_and_steal() {
        let text = "cpu  100 5 50 1000 40 3 2 30 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n";
        let expected = Machine {
            busy: 160,
            iowait: 40,
            steal: 30,
            total: 1230,
        };
        assert_eq!(parse_machine(text), Some(expected));
        // A kernel too old to count steal has five to seven fields.
        let old = "cpu  100 5 50 1000 40\n";
        assert_eq!(
            parse_machine(old).map(|m| (m.busy, m.steal)),
            Some((155, 0))
        );
    }

    #[test]
    fn steal_is_a_share_of_the_interval_and_absent_without_readings() {
        let at = |steal, total| Machine {
            busy: 0,
            iowait: 0,
            steal,
            total,
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        // A tenth of every CPU's ticks stolen over the interval: a tenth of each core.
        let stolen = steal_between(Some(&at(10, 1000)), Some(&at(30, 1200))).unwrap();
        assert!((stolen - 0.1 * cores).abs() < 1e-9, "{stolen}");
        assert_eq!(
            steal_between(Some(&at(5, 100)), Some(&at(5, 300))),
            Some(0.0)
        );
        assert_eq!(steal_between(None, Some(&at(5, 300))), None);
    }

    #[test]
    fn usage_needs_the_machine_in_both_readings_and_splits_its_time() {
        let at = |busy, steal, total| Snapshot {
            machine: Some(Machine {
                busy,
                iowait: 0,
                steal,
                total,
            }),
            ..Snapshot::default()
        };
        let wall = Duration::from_secs(1);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let u = usage(&at(100, 0, 1000), &at(400, 100, 2000), wall, None).unwrap();
        assert!(
            (u.machine_busy - 0.3 * cores).abs() < 1e-9,
            "{}",
            u.machine_busy
        );
        assert!(
            (u.machine_steal - 0.1 * cores).abs() < 1e-9,
            "{}",
            u.machine_steal
        );
        assert!(usage(&Snapshot::default(), &at(400, 100, 2000), wall, None).is_none());
        assert!(usage(&at(100, 0, 1000), &Snapshot::default(), wall, None).is_none());
        assert!(usage(&at(100, 0, 1000), &at(400, 100, 2000), Duration::ZERO, None).is_none());
    }
}
