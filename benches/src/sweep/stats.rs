//! The arithmetic of the table: medians, percentiles, per-event figures and ratios taken
//! round by round.

use serde::{Deserialize, Serialize};

/// The `q`-quantile (0 to 1) of `values` by nearest rank on the sorted values; NaN when empty.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank]
}

/// The median of `values` (the middle sample; the upper middle one for an even count).
pub fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

/// Median and spread of a set of samples.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The median.
    pub median: f64,
    /// The 10th percentile.
    pub p10: f64,
    /// The 90th percentile.
    pub p90: f64,
}

impl Summary {
    /// The summary of `values`.
    pub fn of(values: &[f64]) -> Self {
        Self {
            median: median(values),
            p10: quantile(values, 0.1),
            p90: quantile(values, 0.9),
        }
    }

    /// The p10–p90 range as a fraction of the median.
    pub fn relative_spread(&self) -> f64 {
        (self.p90 - self.p10) / self.median
    }
}

/// Throughput figures of one contender from its frame-time samples.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Nanoseconds per event, at the median frame time.
    pub ns_per_event: f64,
    /// Million events per second, at the median frame time.
    pub million_events_per_s: f64,
    /// Milliseconds per frame: median and spread.
    pub ms_per_frame: Summary,
}

impl Throughput {
    /// The figures for `events` events per frame and frame times `ns_per_frame`.
    pub fn of(events: usize, ns_per_frame: &[f64]) -> Self {
        let frame = Summary::of(ns_per_frame);
        Self {
            ns_per_event: frame.median / events as f64,
            million_events_per_s: events as f64 / frame.median * 1e3,
            ms_per_frame: Summary {
                median: frame.median / 1e6,
                p10: frame.p10 / 1e6,
                p90: frame.p90 / 1e6,
            },
        }
    }
}

/// `numerator / denominator` of the samples of the same round, summarised over the rounds:
/// ratios of interleaved samples cancel out what disturbed a whole round.
pub fn round_ratios(numerator: &[f64], denominator: &[f64]) -> Summary {
    let ratios: Vec<f64> = numerator
        .iter()
        .zip(denominator)
        .map(|(n, d)| n / d)
        .collect();
    Summary::of(&ratios)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank_of_sorted_values() {
        let values = [5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(median(&values), 3.0);
        assert_eq!(quantile(&values, 0.0), 1.0);
        assert_eq!(quantile(&values, 1.0), 5.0);
        assert_eq!(quantile(&values, 0.1), 1.0);
        assert_eq!(quantile(&values, 0.9), 5.0);
        assert_eq!(quantile(&[10.0, 20.0, 30.0, 40.0], 0.5), 30.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn throughput_of_a_million_events_in_two_milliseconds() {
        let figures = Throughput::of(1_000_000, &[2e6, 1e6, 3e6]);
        assert_eq!(figures.ns_per_event, 2.0);
        assert_eq!(figures.million_events_per_s, 500.0);
        assert_eq!(figures.ms_per_frame.median, 2.0);
        assert_eq!(figures.ms_per_frame.p10, 1.0);
        assert_eq!(figures.ms_per_frame.p90, 3.0);
        assert_eq!(figures.ms_per_frame.relative_spread(), 1.0);
    }

    #[test]
    fn ratios_pair_samples_of_the_same_round() {
        // Round 2 was disturbed for both contenders: the paired ratio does not move.
        let bevy = [30.0, 300.0, 33.0];
        let tickbus = [10.0, 100.0, 11.0];
        let ratio = round_ratios(&bevy, &tickbus);
        assert_eq!((ratio.p10, ratio.median, ratio.p90), (3.0, 3.0, 3.0));
        // Sorting each side first would pair 300 with 11.
        assert_eq!(round_ratios(&[2.0, 8.0], &[4.0, 2.0]).median, 4.0);
    }
}
