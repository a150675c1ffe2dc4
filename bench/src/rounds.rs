//! Aggregating a measurement over the rounds of a comparison. chatecho-compare runs every
//! load against every server once per round; a table cell or a bar is the median of the
//! rounds (robust to one round hit by a noisy neighbour), with the rounds' range beside it.

use crate::latency::Point;

/// The median of `values`; the mean of the middle two when their count is even.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    })
}

/// A measurement over rounds: the median, and the lowest and highest round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The median round.
    pub median: f64,
    /// The lowest round.
    pub min: f64,
    /// The highest round.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Self> {
        Some(Self {
            median: median(values)?,
            min: values.iter().copied().reduce(f64::min)?,
            max: values.iter().copied().reduce(f64::max)?,
        })
    }
}

/// How far apart two percentiles may be and still count as the same grid point: the grid's
/// percentiles are rounded to 6 decimals, and a JSON round trip may move a float by an ulp.
const SAME_PERCENTILE: f64 = 1e-7;

/// The per-percentile median of several rounds' latency distributions: at each percentile
/// that every round has, the median over the rounds of the latency there. A round with fewer
/// round trips resolves fewer nines, so the result stops where the shortest round does.
///
/// This is the typical round's curve, point by point; one slow round moves no point (with
/// three rounds or more). It is not the distribution of all rounds pooled together.
pub fn median_by_percentile(rounds: &[Vec<Point>]) -> Vec<Point> {
    let Some(first) = rounds.first() else {
        return Vec::new();
    };
    first
        .iter()
        .map_while(|point| {
            let at_this: Vec<f64> = rounds
                .iter()
                .map(|round| {
                    round
                        .iter()
                        .find(|p| (p.percentile - point.percentile).abs() < SAME_PERCENTILE)
                        .map(|p| p.us)
                })
                .collect::<Option<_>>()?;
            Some(Point {
                percentile: point.percentile,
                us: median(&at_this)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn spread_keeps_the_extremes() {
        assert_eq!(Spread::of(&[]), None);
        assert_eq!(
            Spread::of(&[5.0, 9.0, 1.0]),
            Some(Spread {
                median: 5.0,
                min: 1.0,
                max: 9.0
            })
        );
    }

    fn curve(points: &[(f64, f64)]) -> Vec<Point> {
        points
            .iter()
            .map(|&(percentile, us)| Point { percentile, us })
            .collect()
    }

    #[test]
    fn median_at_each_percentile_not_of_whole_rounds() {
        // Each round is slowest somewhere else: the median curve takes the middle at each
        // point, which no single round has.
        let rounds = [
            curve(&[(0.0, 10.0), (90.0, 50.0), (99.0, 100.0)]),
            curve(&[(0.0, 30.0), (90.0, 20.0), (99.0, 300.0)]),
            curve(&[(0.0, 20.0), (90.0, 40.0), (99.0, 200.0)]),
        ];
        assert_eq!(
            median_by_percentile(&rounds),
            curve(&[(0.0, 20.0), (90.0, 40.0), (99.0, 200.0)])
        );
    }

    #[test]
    fn median_stops_where_the_shortest_round_does() {
        let rounds = [
            curve(&[(0.0, 10.0), (90.0, 50.0), (99.0, 100.0)]),
            curve(&[(0.0, 30.0), (90.0, 20.0)]),
        ];
        assert_eq!(
            median_by_percentile(&rounds),
            curve(&[(0.0, 20.0), (90.0, 35.0)])
        );
    }

    #[test]
    fn percentiles_match_within_rounding_only() {
        let rounds = [
            curve(&[(0.0, 10.0), (90.0, 50.0)]),
            curve(&[(0.0, 30.0), (90.000_000_000_01, 70.0)]),
        ];
        assert_eq!(median_by_percentile(&rounds).len(), 2);
        let apart = [
            curve(&[(0.0, 10.0), (90.0, 50.0)]),
            curve(&[(0.0, 30.0), (90.1, 70.0)]),
        ];
        assert_eq!(median_by_percentile(&apart), curve(&[(0.0, 20.0)]));
    }

    #[test]
    fn median_of_no_rounds_is_empty() {
        assert!(median_by_percentile(&[]).is_empty());
    }
}
