//! A latency histogram of fixed size for a long run's quantiles: values below a microsecond
//! are counted exactly; above, in logarithmic bins 1% wide, so a quantile read from it is
//! within 1% of the exact nearest-rank quantile (it is the geometric middle of its bin,
//! kept between the exact smallest and largest value counted). The count, the smallest and
//! the largest value are exact. This module must never draw or read files.

/// Values below this (ns) have a bin each.
const EXACT_BELOW: u64 = 1_000;
/// Each bin above [`EXACT_BELOW`] spans a factor of this.
const RATIO: f64 = 1.01;
/// Bins above [`EXACT_BELOW`]: up to about 10^13 ns (2.8 hours); longer values share the
/// last bin (the exact largest value is kept apart).
const LOG_BINS: usize = 2_320;

/// How far (relative) a quantile of a [`LogHistogram`] may be from the exact one.
pub(crate) const RELATIVE_ERROR: &str = "1%";

/// Counts of latencies (ns) in bins; see the module doc.
#[derive(Debug, Clone)]
pub(crate) struct LogHistogram {
    bins: Vec<u32>,
    count: u64,
    min: u64,
    max: u64,
}

impl Default for LogHistogram {
    fn default() -> Self {
        LogHistogram {
            bins: vec![0; EXACT_BELOW as usize + LOG_BINS],
            count: 0,
            min: u64::MAX,
            max: 0,
        }
    }
}

fn bin_of(v: u64) -> usize {
    if v < EXACT_BELOW {
        return v as usize;
    }
    let log = ((v as f64 / EXACT_BELOW as f64).ln() / RATIO.ln()) as usize;
    EXACT_BELOW as usize + log.min(LOG_BINS - 1)
}

/// The value a bin stands for: itself below [`EXACT_BELOW`], else its geometric middle.
fn value_of(bin: usize) -> u64 {
    if bin < EXACT_BELOW as usize {
        return bin as u64;
    }
    let log = (bin - EXACT_BELOW as usize) as f64 + 0.5;
    (EXACT_BELOW as f64 * RATIO.powf(log)).round() as u64
}

impl LogHistogram {
    pub(crate) fn add(&mut self, v: u64) {
        let b = bin_of(v);
        self.bins[b] = self.bins[b].saturating_add(1);
        self.count += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// The exact largest value; 0 when empty.
    pub(crate) fn max(&self) -> u64 {
        self.max
    }

    /// The nearest-rank quantile `q` (see the module doc for its error); `None` when empty.
    pub(crate) fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        if rank == self.count {
            return Some(self.max);
        }
        let mut seen = 0u64;
        for (b, &n) in self.bins.iter().enumerate() {
            seen += u64::from(n);
            if seen >= rank {
                return Some(value_of(b).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::quantile;

    #[test]
    fn quantiles_are_within_one_percent_of_the_exact_ones() {
        let mut values: Vec<u64> = Vec::new();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // From 200 ns to about 26 s, log-uniform.
            values.push(((x % 10_000) as f64 / 10_000.0 * 24.0).exp() as u64 + 200);
        }
        let mut h = LogHistogram::default();
        for &v in &values {
            h.add(v);
        }
        values.sort_unstable();
        for q in [0.0, 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            let exact = quantile(&values, q).unwrap() as f64;
            let approx = h.quantile(q).unwrap() as f64;
            assert!(
                (approx - exact).abs() <= exact * 0.01,
                "q {q}: {approx} vs {exact}"
            );
        }
        assert_eq!(h.max(), *values.last().unwrap());
        assert_eq!(h.count(), 50_000);
        assert_eq!(h.quantile(1.0), Some(h.max()));
    }

    #[test]
    fn small_and_single_values_are_exact() {
        let mut h = LogHistogram::default();
        assert_eq!(h.quantile(0.5), None);
        for v in [3, 5, 999] {
            h.add(v);
        }
        assert_eq!(h.quantile(0.5), Some(5));
        let mut one = LogHistogram::default();
        one.add(123_456_789);
        assert_eq!(one.quantile(0.5), Some(123_456_789));
        assert_eq!(one.quantile(0.99), Some(123_456_789));
    }
}
