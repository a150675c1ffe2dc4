//! Round-trip latencies: a fixed-size log-linear histogram shared by every connection.
//!
//! Storing every sample would cost gigabytes in long lockstep runs; buckets with 128
//! sub-buckets per power of two keep percentiles within 1% in a few tens of KiB, and atomic
//! counters let all connection tasks record into one histogram without locks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Sub-buckets per power of two (as a power of two): 2^7 = 128, under 1% relative error.
const SUB_BITS: u32 = 7;
const SUB: usize = 1 << SUB_BITS;
/// Enough buckets for any u64 of nanoseconds.
const BUCKETS: usize = (64 - SUB_BITS as usize) * SUB + SUB;

/// Latency counts in nanoseconds.
pub struct Histogram {
    counts: Vec<AtomicU64>,
    max: AtomicU64,
}

fn index(value: u64) -> usize {
    if value < SUB as u64 * 2 {
        return value as usize;
    }
    let exp = 63 - value.leading_zeros();
    let shift = exp - SUB_BITS;
    (shift as usize) * SUB + (value >> shift) as usize
}

/// The smallest value that falls in bucket `i`.
fn lower_bound(i: usize) -> u64 {
    if i < SUB * 2 {
        return i as u64;
    }
    let shift = (i / SUB - 1) as u32;
    ((i - shift as usize * SUB) as u64) << shift
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            max: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Records one sample.
    pub fn record(&self, sample: Duration) {
        let nanos = u64::try_from(sample.as_nanos()).unwrap_or(u64::MAX);
        self.counts[index(nanos)].fetch_add(1, Ordering::Relaxed);
        self.max.fetch_max(nanos, Ordering::Relaxed);
    }

    /// Samples recorded.
    pub fn len(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// The value at quantile `q` (0..=1), as the lower bound of its bucket; `None` if empty.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.len();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count.load(Ordering::Relaxed);
            if seen >= rank {
                return Some(Duration::from_nanos(lower_bound(i)));
            }
        }
        None
    }

    /// The largest sample, exactly.
    pub fn max(&self) -> Option<Duration> {
        (self.len() > 0).then(|| Duration::from_nanos(self.max.load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        for v in (0..100_000u64).chain([u64::MAX / 3, u64::MAX]) {
            let i = index(v);
            assert!(i < BUCKETS);
            assert!(lower_bound(i) <= v, "{v}");
            assert!(v - lower_bound(i) <= v / SUB as u64, "{v}");
        }
    }

    #[test]
    fn quantiles() {
        let h = Histogram::default();
        for us in 1..=100 {
            h.record(Duration::from_micros(us));
        }
        let p50 = h.quantile(0.5).unwrap().as_nanos() as f64;
        assert!((p50 - 50_000.0).abs() / 50_000.0 < 0.01);
        assert_eq!(h.max(), Some(Duration::from_micros(100)));
    }
}
