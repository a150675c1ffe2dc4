//! Round-trip latency distributions: the percentile → latency points that chatecho-bench's
//! `--json` summary carries for a lockstep run, and the "nines" scale that chatecho-compare
//! plots them on.
//!
//! The points sit on a fixed grid of percentiles, evenly spaced in nines (0 %, 90 %, 99 %,
//! 99.9 % … are 0, 1, 2, 3 … nines, with [`STEPS_PER_NINE`] points per nine), so that the
//! distributions of several rounds share their percentiles and can be aggregated point by
//! point (see [`crate::rounds::median_by_percentile`]). The grid stops at the last
//! percentile the run's round trips can resolve: with `n` round trips, 1 − 1/n, beyond which
//! every percentile is the maximum (which the summary gives apart, as `max_us`).

use hdrhistogram::Histogram;

/// Points of the grid per nine: 0 %, 20.6 %, 36.9 % … 90 %, 92.1 % … 99 %, and so on.
pub const STEPS_PER_NINE: u32 = 20;

/// Decimals a percentile keeps: enough for 99.9999 %, and no float noise from the grid's
/// arithmetic (`100 × (1 − 10^−1)` is not exactly 90).
const PERCENTILE_DECIMALS: i32 = 6;

/// One point of a distribution: `us` microseconds or less for `percentile` % of the round
/// trips.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Point {
    /// Percent of round trips, 0 to below 100.
    pub percentile: f64,
    /// Latency in microseconds.
    pub us: f64,
}

/// Where `percentile` (in %, below 100) lies on the nines scale: −log10(1 − p/100), so 0 % is
/// 0, 90 % is 1, 99 % is 2, 99.9 % is 3. This is the x axis of an HDR percentile plot: the
/// log of 1/(1 − p), with the tail spread out.
pub fn nines(percentile: f64) -> f64 {
    -(1.0 - percentile / 100.0).log10()
}

/// The percentile (in %) at `nines` on the nines scale: the inverse of [`nines`], rounded to
/// [`PERCENTILE_DECIMALS`] decimals.
pub fn percentile_at(nines: f64) -> f64 {
    let scale = 10f64.powi(PERCENTILE_DECIMALS);
    (100.0 * (1.0 - 10f64.powf(-nines)) * scale).round() / scale
}

/// The label of a whole number of nines on the x axis: 0 → `0%`, 1 → `90%`, 2 → `99%`,
/// 3 → `99.9%`.
pub fn nines_label(nines: u32) -> String {
    match nines {
        0 => "0%".to_owned(),
        1 => "90%".to_owned(),
        2 => "99%".to_owned(),
        n => format!("99.{}%", "9".repeat(n as usize - 2)),
    }
}

/// The distribution of the round trips recorded in `histogram` (in nanoseconds) on the grid,
/// in microseconds; empty when nothing was recorded.
pub fn distribution(histogram: &Histogram<u64>) -> Vec<Point> {
    let count = histogram.len();
    if count == 0 {
        return Vec::new();
    }
    // The last grid step at or below log10(count) nines, i.e. percentile 1 − 1/count.
    let last = (((count as f64).log10() * f64::from(STEPS_PER_NINE)) + 1e-9).floor() as u32;
    (0..=last)
        .map(|step| {
            let percentile = percentile_at(f64::from(step) / f64::from(STEPS_PER_NINE));
            let nanos = histogram.value_at_quantile(percentile / 100.0);
            Point {
                percentile,
                us: nanos as f64 / 1e3,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_of_the_usual_percentiles() {
        for (percentile, expected) in [(0.0, 0.0), (90.0, 1.0), (99.0, 2.0), (99.9, 3.0)] {
            assert!(
                (nines(percentile) - expected).abs() < 1e-9,
                "nines({percentile}) = {}",
                nines(percentile)
            );
        }
        assert!((nines(50.0) - 2f64.log10()).abs() < 1e-12);
    }

    #[test]
    fn percentile_at_inverts_nines_without_float_noise() {
        assert_eq!(percentile_at(0.0), 0.0);
        assert_eq!(percentile_at(1.0), 90.0);
        assert_eq!(percentile_at(2.0), 99.0);
        assert_eq!(percentile_at(4.0), 99.99);
        for step in 0..=100 {
            let x = f64::from(step) / 20.0;
            assert!((nines(percentile_at(x)) - x).abs() < 1e-3, "at {x} nines");
        }
    }

    #[test]
    fn labels_of_whole_nines() {
        let labels: Vec<String> = (0..=5).map(nines_label).collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]);
    }

    fn histogram_of(nanos: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut histogram = Histogram::new(3).unwrap();
        for value in nanos {
            histogram.record(value).unwrap();
        }
        histogram
    }

    #[test]
    fn distribution_of_nothing_is_empty() {
        assert!(distribution(&histogram_of([])).is_empty());
    }

    #[test]
    fn distribution_stops_where_the_count_resolves() {
        // 1000 round trips resolve 3 nines (99.9 %): 3 × 20 steps and the one at 0.
        let points = distribution(&histogram_of(1..=1000));
        assert_eq!(points.len(), 61);
        assert_eq!(points[0].percentile, 0.0);
        assert_eq!(points[20].percentile, 90.0);
        assert_eq!(points[60].percentile, 99.9);
        // 999 round trips do not quite resolve 99.9 %.
        assert_eq!(distribution(&histogram_of(1..=999)).len(), 60);
        // One round trip: only the 0th percentile.
        assert_eq!(distribution(&histogram_of([5000])).len(), 1);
    }

    #[test]
    fn distribution_reads_the_histogram_in_microseconds() {
        // 1 µs, 2 µs … 1000 µs, recorded in nanoseconds.
        let points = distribution(&histogram_of((1..=1000).map(|us| us * 1000)));
        let at = |percentile: f64| {
            points
                .iter()
                .find(|p| p.percentile == percentile)
                .map(|p| p.us)
                .unwrap()
        };
        // Three significant digits: within 0.1 % of the value at that rank, or of the next
        // (whether 99.9 % of 1000 is the 999th or the 1000th is up to float rounding).
        for (percentile, exact) in [(0.0, 1.0), (90.0, 900.0), (99.0, 990.0), (99.9, 999.0)] {
            let got = at(percentile);
            assert!(
                got >= exact * (1.0 - 1e-3) && got <= (exact + 1.0) * (1.0 + 1e-3),
                "{percentile} %: {got} µs, expected {exact}"
            );
        }
        assert!(points.windows(2).all(|w| w[0].us <= w[1].us));
        assert!(points.windows(2).all(|w| w[0].percentile < w[1].percentile));
    }

    #[test]
    fn points_survive_json() {
        let points = distribution(&histogram_of((1..=500).map(|us| us * 1000)));
        let text = serde_json::to_string(&points).unwrap();
        assert!(text.starts_with(r#"[{"percentile":0.0,"us":"#), "{text}");
        let back: Vec<Point> = serde_json::from_str(&text).unwrap();
        assert_eq!(back.len(), points.len());
        for (a, b) in back.iter().zip(&points) {
            assert!((a.percentile - b.percentile).abs() < 1e-9);
            assert!((a.us - b.us).abs() < 1e-9);
        }
    }
}
