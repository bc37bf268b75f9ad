//! What every part of the benchmark suite shares (`bench/README.md`): a small timer that
//! reports medians, the smoke/full switch, the figures file through which parts hand numbers
//! to the suite's summary, and Markdown formatting. Used by the CosmWasm part (outside the
//! workspace) too.
//!
//! [`measure`] reads two clocks per sample: the wall clock and the CPU time of the whole
//! process (all its threads). On a shared machine the wall clock also counts the time other
//! processes held the core; the CPU time does not, so the suite reports CPU-time medians for
//! work that runs on one thread and keeps the wall-clock medians beside them. On a quiet
//! machine the two agree for single-threaded work.

use std::fmt::Write as _;
use std::hint::black_box;
use std::io::Write as _;
use std::time::{Duration, Instant};

/// The process CPU-time clock [`measure`] uses, for parts that time loops of their own.
pub use cpu_time::ProcessTime;

/// How long a part measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A few samples of everything: proves each measurement still runs (CI).
    Smoke,
    /// Enough samples for a stable median.
    Full,
}

impl Mode {
    /// `--smoke` anywhere in the arguments, or `VELLUM_BENCH_SMOKE=1`, selects smoke mode.
    pub fn from_args() -> Self {
        let smoke = std::env::args().any(|a| a == "--smoke")
            || std::env::var("VELLUM_BENCH_SMOKE").is_ok_and(|v| v == "1");
        if smoke { Self::Smoke } else { Self::Full }
    }

    /// The time budget of one measurement.
    pub fn budget(self) -> Duration {
        match self {
            Self::Smoke => Duration::from_millis(20),
            Self::Full => Duration::from_millis(1500),
        }
    }

    /// Picks `smoke` or `full`.
    pub fn pick<T>(self, smoke: T, full: T) -> T {
        match self {
            Self::Smoke => smoke,
            Self::Full => full,
        }
    }
}

/// The result of one measurement: nanoseconds per operation.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Median of the samples (process CPU time when from [`measure`]).
    pub median_ns: f64,
    /// 99th percentile of the samples.
    pub p99_ns: f64,
    /// Number of samples.
    pub samples: usize,
    /// Median wall-clock time of the samples (equal to `median_ns` where only one clock was
    /// read).
    pub wall_median_ns: f64,
}

/// Times `f` repeatedly within `mode`'s budget (at least `min_samples` samples). Each sample
/// times `batch` calls, so operations far below a microsecond are not lost in the timer's own
/// cost; the median and p99 are per call.
pub fn measure<R>(
    mode: Mode,
    batch: usize,
    min_samples: usize,
    mut f: impl FnMut() -> R,
) -> Timing {
    let batch = batch.max(1);
    // Warm-up: caches, lazy initialisation, page faults.
    for _ in 0..batch.min(16) {
        black_box(f());
    }
    let budget = mode.budget();
    let started = Instant::now();
    let mut cpu = Vec::new();
    let mut wall = Vec::new();
    while cpu.len() < min_samples.max(1) || (started.elapsed() < budget && cpu.len() < 100_000) {
        let c = cpu_time::ProcessTime::now();
        let t = Instant::now();
        for _ in 0..batch {
            black_box(f());
        }
        wall.push(t.elapsed().as_nanos() as f64 / batch as f64);
        cpu.push(c.elapsed().as_nanos() as f64 / batch as f64);
    }
    let wall = summarize(&mut wall);
    Timing {
        wall_median_ns: wall.median_ns,
        ..summarize(&mut cpu)
    }
}

/// Median and p99 of per-operation samples (sorts them).
pub fn summarize(samples: &mut [f64]) -> Timing {
    samples.sort_by(f64::total_cmp);
    let median_ns = percentile(samples, 0.50);
    Timing {
        median_ns,
        p99_ns: percentile(samples, 0.99),
        samples: samples.len(),
        wall_median_ns: median_ns,
    }
}

/// The `q` quantile (0..=1) of sorted samples, nearest rank; 0 for none.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Formats a duration given in nanoseconds with a unit a reader takes in at a glance.
pub fn fmt_ns(ns: f64) -> String {
    if !ns.is_finite() {
        "n/a".into()
    } else if ns < 1_000.0 {
        format!("{ns:.1} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// A table cell for a timing: the CPU-time median, and the wall-clock median after it when the
/// two differ by more than 10 % (other processes held the core).
pub fn cell(t: &Timing) -> String {
    let (cpu, wall) = (t.median_ns, t.wall_median_ns);
    if (wall - cpu).abs() > 0.1 * cpu {
        format!("{} (wall {})", fmt_ns(cpu), fmt_ns(wall))
    } else {
        fmt_ns(cpu)
    }
}

/// Formats a rate with thousands separators.
pub fn fmt_rate(per_s: f64) -> String {
    let n = per_s.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A Markdown table built row by row.
#[derive(Debug, Default)]
pub struct Table {
    text: String,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Self {
        let mut text = format!("| {} |\n|", headers.join(" | "));
        for _ in headers {
            text.push_str(" --- |");
        }
        text.push('\n');
        Self { text }
    }

    /// Adds a row.
    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) {
        let cells: Vec<&str> = cells.iter().map(AsRef::as_ref).collect();
        let _ = writeln!(self.text, "| {} |", cells.join(" | "));
    }

    /// The Markdown text.
    pub fn finish(self) -> String {
        self.text
    }
}

/// Records a figure for the suite's summary: appends `key value` to the file named by
/// `VELLUM_PERF_FIGURES`, if set. Keys are dotted names such as
/// `vm.vellum.store.instantiate_call_ns`.
pub fn record(key: &str, value: f64) {
    let Some(path) = std::env::var_os("VELLUM_PERF_FIGURES") else {
        return;
    };
    let line = format!("{key} {value}\n");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("could not record {key} in {}: {e}", path.to_string_lossy());
    }
}

/// Reads a figures file written by [`record`]; the last value of a key wins.
pub fn read_figures(text: &str) -> std::collections::BTreeMap<String, f64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_formats() {
        let mut s = vec![5.0, 1.0, 3.0, 2.0, 4.0];
        let t = summarize(&mut s);
        assert_eq!(t.median_ns, 3.0);
        assert_eq!(t.p99_ns, 5.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
        assert_eq!(fmt_ns(1500.0), "1.50 µs");
        assert_eq!(fmt_ns(12.0), "12.0 ns");
        assert_eq!(fmt_rate(1234567.4), "1,234,567");
        let f = read_figures("a.b 1.5\nbad\na.b 2\nc 3e3\n");
        assert_eq!(f["a.b"], 2.0);
        assert_eq!(f["c"], 3000.0);
        let mut t = Table::new(&["x", "y"]);
        t.row(&["1", "2"]);
        assert_eq!(t.finish(), "| x | y |\n| --- | --- |\n| 1 | 2 |\n");
    }

    #[test]
    fn measure_takes_at_least_the_minimum_samples() {
        let mut calls = 0u64;
        let t = measure(Mode::Smoke, 4, 7, || calls += 1);
        assert!(t.samples >= 7);
        assert!(calls >= 7 * 4);
        assert!(t.median_ns >= 0.0 && t.p99_ns >= t.median_ns);
    }
}
