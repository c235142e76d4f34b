//! A lock-free latency histogram with power-of-two buckets, for p50 and p99 on the status page.
//!
//! Recording is one atomic add, so it costs announces nothing measurable; the price is that a
//! quantile is known only to within a factor of two, which is plenty to tell 40 µs from 4 ms.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bucket `i` holds durations under `2^i` microseconds (and at least half that); the last
/// one, everything from about 4.2 s up.
const BUCKETS: usize = 24;

#[derive(Default)]
pub struct LatencyHistogram {
    counts: [AtomicU64; BUCKETS],
}

impl LatencyHistogram {
    pub fn record(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        // The number of bits `micros` needs: 0 µs and 1 µs land in buckets 0 and 1.
        let bucket = (u64::BITS - micros.leading_zeros()) as usize;
        self.counts[bucket.min(BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
    }

    /// The bucket bound under which at least `quantile` (0 to 1) of the recordings fall, in
    /// microseconds; none before anything was recorded.
    pub fn quantile_micros(&self, quantile: f64) -> Option<u64> {
        let counts: Vec<u64> = self.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let wanted = ((total as f64) * quantile).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (bucket, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                return Some(1u64 << bucket);
            }
        }
        Some(1u64 << (BUCKETS - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_bucket_they_fall_in() {
        let histogram = LatencyHistogram::default();
        assert_eq!(histogram.quantile_micros(0.5), None);
        for _ in 0..98 {
            histogram.record(Duration::from_micros(40)); // under 64
        }
        histogram.record(Duration::from_millis(3)); // under 4096
        histogram.record(Duration::from_secs(100)); // the last bucket
        assert_eq!(histogram.quantile_micros(0.5), Some(64));
        assert_eq!(histogram.quantile_micros(0.99), Some(4096));
        assert_eq!(histogram.quantile_micros(1.0), Some(1 << 23));
    }
}
