//! CPU time of processes and of their threads, from Linux's `/proc` (empty or `None`
//! elsewhere). The benchmarks report CPU time per transaction by pipeline stage from it: on a
//! shared machine, other load distorts rates and latencies but not the CPU time a thread used.
//!
//! The node names its threads after their stage: [`THREAD_HTTP`] (tokio's workers and blocking
//! pool: HTTP, JSON and the admission path), [`THREAD_PRODUCER`] (ordering and execution, and
//! the journal write of each block it commits itself: every block unless the load is heavy),
//! [`THREAD_WRITER`] (the journal write, under heavy load) and [`THREAD_APPLIER`] (redb).

use std::collections::BTreeMap;
use std::time::Duration;

/// Name of the node's async and blocking-pool threads.
pub const THREAD_HTTP: &str = "vellum-http";
/// Name of the thread that orders and executes blocks.
pub const THREAD_PRODUCER: &str = "vellum-producer";
/// Name of the thread that commits blocks.
pub const THREAD_WRITER: &str = "vellum-writer";
/// The thread that writes acknowledged blocks into redb.
pub const THREAD_APPLIER: &str = "vellum-applier";

/// The kernel's USER_HZ, 100 on every Linux architecture Rust supports.
const TICKS_PER_SECOND: f64 = 100.0;

/// User + system CPU seconds from the text of a `stat` file (process or thread).
fn stat_cpu_seconds(stat: &str) -> Option<f64> {
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let mut fields = rest.split_whitespace();
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after the name.
    let utime: f64 = fields.nth(11)?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

/// `"self"` or a process id, as `/proc` names it.
fn proc_dir(pid: Option<u32>) -> String {
    pid.map_or_else(|| "/proc/self".to_string(), |p| format!("/proc/{p}"))
}

/// CPU time a process (this one with `None`) has used, children not included.
pub fn process_cpu(pid: Option<u32>) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("{}/stat", proc_dir(pid))).ok()?;
    stat_cpu_seconds(&stat).map(Duration::from_secs_f64)
}

/// CPU seconds of a process's live threads, summed by thread name.
pub fn thread_cpu_by_name(pid: Option<u32>) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("{}/task", proc_dir(pid))) else {
        return out;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let Some(seconds) = std::fs::read_to_string(path.join("stat"))
            .ok()
            .as_deref()
            .and_then(stat_cpu_seconds)
        else {
            continue;
        };
        *out.entry(name.trim().to_string()).or_insert(0.0) += seconds;
    }
    out
}

/// CPU time the calling thread has used (`CLOCK_THREAD_CPUTIME_ID`); `None` off Linux.
pub fn this_thread_cpu() -> Option<Duration> {
    #[cfg(target_os = "linux")]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        Some(Duration::new(
            u64::try_from(t.tv_sec).ok()?,
            u32::try_from(t.tv_nsec).ok()?,
        ))
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Appends `key value` to the file named by `VELLUM_PERF_FIGURES`, where the benchmark suite
/// (bench/run.sh) collects figures for its summary; nothing when it is not set. Used by the
/// node's benchmark binaries (loadgen, scale-bench).
pub fn record_figure(key: &str, value: f64) {
    let Some(path) = std::env::var_os("VELLUM_PERF_FIGURES") else {
        return;
    };
    use std::io::Write as _;
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| writeln!(f, "{key} {value}"));
    if let Err(e) = written {
        eprintln!("recording {key} in {}: {e}", path.to_string_lossy());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utime_and_stime_after_a_name_with_spaces() {
        let stat = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1";
        assert_eq!(stat_cpu_seconds(stat), Some(3.0));
        assert_eq!(stat_cpu_seconds("garbage"), None);
    }

    #[test]
    fn this_process_and_thread_have_used_cpu() {
        // Burn 50 ms of this thread's CPU time (not wall time: the machine may be busy).
        let start = this_thread_cpu().unwrap();
        let mut x = 0u64;
        while this_thread_cpu().unwrap() - start < Duration::from_millis(50) {
            for _ in 0..10_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
        }
        assert_ne!(x, 1);
        // /proc counts in 10 ms ticks.
        let process = process_cpu(None).unwrap();
        assert!(process >= Duration::from_millis(30), "{process:?}");
        let threads = thread_cpu_by_name(None);
        assert!(threads.values().sum::<f64>() >= 0.03, "{threads:?}");
    }
}
