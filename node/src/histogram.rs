//! A lock-free latency histogram with fixed buckets, rendered in Prometheus' text format: what
//! `/metrics` exposes for the journal's flush and redb's commit, so that an operator (or a
//! benchmark) sees their tails and stalls, not only their means.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in microseconds (the last bucket, `+Inf`, is implicit).
pub const BUCKETS_MICROS: [u64; 12] = [
    100, 250, 500, 1_000, 2_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
];

/// See the module documentation.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Observations at or below each bound (not cumulative), then above the last.
    counts: [AtomicU64; BUCKETS_MICROS.len() + 1],
    sum_micros: AtomicU64,
}

impl LatencyHistogram {
    /// Records one observation.
    pub fn record(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let bucket = BUCKETS_MICROS
            .iter()
            .position(|&bound| micros <= bound)
            .unwrap_or(BUCKETS_MICROS.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Appends the histogram `name` (in seconds) to `out`.
    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = BUCKETS_MICROS
                .get(i)
                .map_or("+Inf".to_string(), |&b| format!("{}", b as f64 / 1e6));
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {cumulative}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_cumulative_buckets_with_their_sum() {
        let h = LatencyHistogram::default();
        for micros in [50, 100, 101, 3_000, 2_000_000] {
            h.record(Duration::from_micros(micros));
        }
        let mut out = String::new();
        h.render(&mut out, "x_seconds", "X.");
        assert!(out.starts_with("# HELP x_seconds X.\n# TYPE x_seconds histogram\n"));
        assert!(out.contains("x_seconds_bucket{le=\"0.0001\"} 2\n"), "{out}");
        assert!(
            out.contains("x_seconds_bucket{le=\"0.00025\"} 3\n"),
            "{out}"
        );
        assert!(out.contains("x_seconds_bucket{le=\"0.002\"} 3\n"), "{out}");
        assert!(out.contains("x_seconds_bucket{le=\"0.005\"} 4\n"), "{out}");
        assert!(out.contains("x_seconds_bucket{le=\"1\"} 4\n"), "{out}");
        assert!(out.contains("x_seconds_bucket{le=\"+Inf\"} 5\n"), "{out}");
        assert!(
            out.contains("x_seconds_sum 2.003251\nx_seconds_count 5\n"),
            "{out}"
        );
    }
}
