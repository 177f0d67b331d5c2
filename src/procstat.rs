//! What the kernel says about this process: CPU time, per-thread CPU
//! time by name, peak memory, and the machine.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::Serialize;

use crate::bench::report::round;

/// One thread's (or one kind of threads') share of a CPU.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ThreadLoad {
    pub name: String,
    pub cpu_cores: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
}

/// CPU time (user + system) of the whole process so far, exited threads
/// included.
pub fn process_cpu() -> Duration {
    // SAFETY: getrusage writes into the struct it is given, nothing else.
    let usage = unsafe {
        let mut u = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// CPU time (user + system) of another process so far, from
/// `/proc/<pid>/stat`; `None` if it is gone.
pub fn other_process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // SAFETY: sysconf only reads a system setting.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    stat_cpu_ticks(&stat).map(|t| Duration::from_nanos(t * 1_000_000_000 / ticks))
}

/// utime + stime, in clock ticks, from a `/proc/<pid>/stat` line (fields
/// 14 and 15, counted after the parenthesised name, which may hold
/// spaces).
fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Each live thread's name and CPU time so far, by thread id.
pub fn threads() -> HashMap<u32, (String, Duration)> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(tid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let path = entry.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let cpu = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| schedstat_cpu(&s));
        if let Some(cpu) = cpu {
            out.insert(tid, (name.trim().to_string(), cpu));
        }
    }
    out
}

/// The on-CPU time in a `/proc/.../schedstat` line (its first field, in
/// nanoseconds).
fn schedstat_cpu(line: &str) -> Option<Duration> {
    line.split_whitespace()
        .next()?
        .parse()
        .ok()
        .map(Duration::from_nanos)
}

/// Each thread's load between two [`threads`] readings `window` apart,
/// unrounded. Threads that started in between count from zero.
fn loads(
    before: &HashMap<u32, (String, Duration)>,
    after: &HashMap<u32, (String, Duration)>,
    window: Duration,
) -> Vec<ThreadLoad> {
    after
        .iter()
        .map(|(tid, (name, cpu))| {
            let start = before.get(tid).map_or(Duration::ZERO, |(_, c)| *c);
            ThreadLoad {
                name: name.clone(),
                cpu_cores: cpu.saturating_sub(start).as_secs_f64() / window.as_secs_f64(),
            }
        })
        .collect()
}

/// The `top` busiest threads between two [`threads`] readings `window`
/// apart, busiest first.
pub fn busiest(
    before: &HashMap<u32, (String, Duration)>,
    after: &HashMap<u32, (String, Duration)>,
    window: Duration,
    top: usize,
) -> Vec<ThreadLoad> {
    let mut loads = loads(before, after, window);
    loads.sort_by(|a, b| b.cpu_cores.total_cmp(&a.cpu_cores));
    loads.truncate(top);
    for l in &mut loads {
        l.cpu_cores = round(l.cpu_cores, 3);
    }
    loads
}

/// The same load summed over threads of the same kind: the same name but
/// for its numbers (each track's `cam:p<n>`, each peer's network on
/// `queue<n>:src` and `nicesrc<n>:src`; x264's threads all carry its
/// queue's name), busiest first, each with how many threads it sums.
pub fn by_name(
    before: &HashMap<u32, (String, Duration)>,
    after: &HashMap<u32, (String, Duration)>,
    window: Duration,
    top: usize,
) -> Vec<(ThreadLoad, usize)> {
    let mut groups: HashMap<String, (f64, usize)> = HashMap::new();
    for load in loads(before, after, window) {
        let g = groups.entry(kind(&load.name)).or_default();
        g.0 += load.cpu_cores;
        g.1 += 1;
    }
    let mut out: Vec<(ThreadLoad, usize)> = groups
        .into_iter()
        .map(|(name, (cpu_cores, n))| {
            let cpu_cores = round(cpu_cores, 3);
            (ThreadLoad { name, cpu_cores }, n)
        })
        .collect();
    out.sort_by(|a, b| b.0.cpu_cores.total_cmp(&a.0.cpu_cores));
    out.truncate(top);
    out
}

/// A thread's name with each run of digits as `<n>`.
fn kind(name: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in name.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push_str("<n>");
            }
            in_number = true;
        } else {
            out.push(c);
            in_number = false;
        }
    }
    out
}

/// Peak resident memory of the process, in MB.
pub fn rss_peak_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| status_kb(&s, "VmHWM"))
        .map_or(0.0, |kb| kb as f64 / 1024.0)
}

/// The process as a whole, for the health figures.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ProcessStats {
    pub cpu_seconds: f64,
    pub rss_mb: f64,
    /// CPU time of the live threads, summed by name.
    pub threads: Vec<ThreadCpu>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ThreadCpu {
    pub name: String,
    /// How many live threads have that name.
    pub threads: usize,
    pub cpu_seconds: f64,
}

pub fn process_stats() -> ProcessStats {
    ProcessStats {
        cpu_seconds: process_cpu().as_secs_f64(),
        rss_mb: round(rss_mb(), 1),
        threads: cpu_by_name(&threads())
            .into_iter()
            .map(|(name, (threads, cpu))| ThreadCpu {
                name,
                threads,
                cpu_seconds: cpu.as_secs_f64(),
            })
            .collect(),
    }
}

/// Resident memory of the process now, in MB.
pub fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| status_kb(&s, "VmRSS"))
        .map_or(0.0, |kb| kb as f64 / 1024.0)
}

/// CPU time so far summed over the live threads of each name, with how
/// many threads share it (x264's workers all carry their queue's name).
pub fn cpu_by_name(
    threads: &HashMap<u32, (String, Duration)>,
) -> BTreeMap<String, (usize, Duration)> {
    let mut out: BTreeMap<String, (usize, Duration)> = BTreeMap::new();
    for (name, cpu) in threads.values() {
        let e = out.entry(name.clone()).or_default();
        e.0 += 1;
        e.1 += *cpu;
    }
    out
}

/// A `kB` field of `/proc/.../status`.
fn status_kb(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model: cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown".into(), |(_, m)| m.trim().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        assert_eq!(
            schedstat_cpu("59889334 1200189 125\n"),
            Some(Duration::from_nanos(59_889_334))
        );
        assert_eq!(schedstat_cpu(""), None);
        let stat = "4242 (call cast) S 1 4242 4242 0 -1 4194560 5000 0 0 0 1234 56 0 0 20 0 30 0";
        assert_eq!(stat_cpu_ticks(stat), Some(1290));
        let status = "Name:\tcallcast\nVmPeak:\t  900 kB\nVmHWM:\t  123456 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(status_kb(status, "VmHWM"), Some(123_456));
        assert_eq!(status_kb(status, "VmSwap"), None);
    }

    #[test]
    fn busiest_threads_over_a_window() {
        let s = |ms| Duration::from_millis(ms);
        let before = HashMap::from([(1, ("main".into(), s(100))), (2, ("enc".into(), s(0)))]);
        let after = HashMap::from([
            (1, ("main".into(), s(150))),
            (2, ("enc".into(), s(1000))),
            (3, ("new".into(), s(200))),
        ]);
        assert_eq!(kind("queue12:src"), "queue<n>:src");
        assert_eq!(kind("rtpjitterbuffer"), "rtpjitterbuffer");
        let groups = by_name(&before, &after, s(2000), 5);
        assert_eq!(groups.len(), 3);
        assert_eq!((groups[0].0.name.as_str(), groups[0].1), ("enc", 1));
        let top = busiest(&before, &after, s(2000), 2);
        assert_eq!(
            top,
            vec![
                ThreadLoad {
                    name: "enc".into(),
                    cpu_cores: 0.5
                },
                ThreadLoad {
                    name: "new".into(),
                    cpu_cores: 0.1
                },
            ]
        );
    }

    #[test]
    fn this_process_is_measurable() {
        assert!(rss_peak_mb() > 1.0);
        assert!(!threads().is_empty());
        assert!(machine().cpus >= 1);
    }
}
