//! Prometheus histograms of seconds: the request metrics' and the origin reads', one bucket set.

use std::fmt::Write;
use std::time::Duration;

/// Upper bounds of the buckets, in seconds.
pub const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Counts per bucket (made cumulative when written), their sum and count.
#[derive(Clone, Debug)]
pub struct Histogram {
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: vec![0; BUCKETS.len()],
            sum: 0.0,
            count: 0,
        }
    }
}

impl Histogram {
    pub fn observe(&mut self, took: Duration) {
        let seconds = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i] += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }

    /// The series of `name` in Prometheus' text format, with `labels` (`endpoint="/thumb"`, or
    /// empty) on each.
    pub fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let braced = |extra: &str| match (labels.is_empty(), extra.is_empty()) {
            (true, true) => String::new(),
            _ => format!(
                "{{{labels}{}{extra}}}",
                if extra.is_empty() { "" } else { sep }
            ),
        };
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += n;
            let le = format!("le=\"{bound}\"");
            let _ = writeln!(out, "{name}_bucket{} {cumulative}", braced(&le));
        }
        let (sum, count) = (self.sum, self.count);
        let _ = writeln!(out, "{name}_bucket{} {count}", braced("le=\"+Inf\""));
        let _ = writeln!(out, "{name}_sum{} {sum}", braced(""));
        let _ = writeln!(out, "{name}_count{} {count}", braced(""));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_labels_optional() {
        let mut h = Histogram::default();
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_millis(30));
        let mut out = String::new();
        h.write(&mut out, "t", "");
        assert!(out.contains("t_bucket{le=\"0.005\"} 1\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"0.05\"} 2\n"), "{out}");
        assert!(
            out.contains("t_bucket{le=\"+Inf\"} 2\nt_sum 0.033\nt_count 2\n"),
            "{out}"
        );
        let mut out = String::new();
        h.write(&mut out, "t", "endpoint=\"/thumb\"");
        assert!(
            out.contains("t_bucket{endpoint=\"/thumb\",le=\"0.005\"} 1\n"),
            "{out}"
        );
        assert!(out.contains("t_count{endpoint=\"/thumb\"} 2\n"), "{out}");
    }
}
