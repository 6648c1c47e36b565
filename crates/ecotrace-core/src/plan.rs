//! The carbon-aware planner's search, pure: given hourly grid intensities, find the start hour
//! whose window (the job's duration, in whole hours) has the lowest mean intensity. One pass of
//! sliding sums per series (O(hours)), not a rescan of the window for every start.
//!
//! Hours are indices into a series; the caller maps them to clock time (see the CLI's `plan`).

/// The best window found in one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Index of the first hour.
    pub start: usize,
    /// Mean intensity over the window's hours, gCO2e/kWh.
    pub mean: f64,
}

/// Why a search has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("the job's duration must be at least one hour")]
    ZeroLength,
    #[error("no window of {len} h fits between start {first} and the series' end ({hours} h)")]
    DoesNotFit {
        len: usize,
        first: usize,
        hours: usize,
    },
}

/// The mean intensity of every window of `len` hours starting at `first..=last`, by sliding sums:
/// `means[i]` is the window starting at `first + i`. `last` is clamped to the last start that fits.
pub fn window_means(
    values: &[f64],
    len: usize,
    first: usize,
    last: usize,
) -> Result<Vec<f64>, WindowError> {
    if len == 0 {
        return Err(WindowError::ZeroLength);
    }
    let hours = values.len();
    if first + len > hours || first > last {
        return Err(WindowError::DoesNotFit { len, first, hours });
    }
    let last = last.min(hours - len);
    let mut sum: f64 = values[first..first + len].iter().sum();
    let mut out = Vec::with_capacity(last - first + 1);
    let n = len as f64;
    out.push(sum / n);
    for s in first + 1..=last {
        sum += values[s + len - 1] - values[s - 1];
        out.push(sum / n);
    }
    Ok(out)
}

/// The window of `len` hours, starting at `first..=last`, with the lowest mean; the earliest one
/// on ties (a difference below 1e-9 g/kWh counts as a tie, so rounding in the sliding sums
/// cannot reorder equal windows).
pub fn best_window(
    values: &[f64],
    len: usize,
    first: usize,
    last: usize,
) -> Result<Window, WindowError> {
    let means = window_means(values, len, first, last)?;
    let mut best = Window {
        start: first,
        mean: means[0],
    };
    for (i, &m) in means.iter().enumerate().skip(1) {
        if m < best.mean - 1e-9 {
            best = Window {
                start: first + i,
                mean: m,
            };
        }
    }
    Ok(best)
}

/// The `k` best windows that do not overlap one another, best first (the first is
/// [`best_window`]'s): the alternatives a user can pick from in one series.
pub fn best_windows(
    values: &[f64],
    len: usize,
    first: usize,
    last: usize,
    k: usize,
) -> Result<Vec<Window>, WindowError> {
    let means = window_means(values, len, first, last)?;
    // k passes for the lowest (mean, start) not overlapping a window already taken: the same as
    // taking the windows in sorted order, without sorting all of them.
    let mut out: Vec<Window> = Vec::with_capacity(k);
    while out.len() < k {
        let free = |start: usize| {
            out.iter()
                .all(|w| start + len <= w.start || w.start + len <= start)
        };
        let mut best: Option<usize> = None;
        for (i, m) in means.iter().enumerate() {
            if best.is_none_or(|b| m.total_cmp(&means[b]).is_lt()) && free(first + i) {
                best = Some(i);
            }
        }
        let Some(i) = best else { break };
        out.push(Window {
            start: first + i,
            mean: means[i],
        });
    }
    Ok(out)
}

/// The saving of `best` against `baseline`, in % of the baseline (0 when the baseline is 0).
pub fn saving_pct(baseline: f64, best: f64) -> f64 {
    if baseline > 0.0 {
        (1.0 - best / baseline) * 100.0
    } else {
        0.0
    }
}

/// A job moved by whole hours, and the energy-weighted mean intensity its hours would have had.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shift {
    /// Hours later (negative: earlier) than the job actually started.
    pub hours: i64,
    /// gCO2e/kWh, weighted by the job's energy in each of its hours.
    pub mean: f64,
}

/// The same job started whole hours earlier or later: `weights[k]` is its energy in its k-th
/// clock hour (any unit), `values` the grid's hourly intensities with the job's first hour at
/// index `at`. Every shift in `-before..=after` whose hours all have a finite value is tried;
/// returns the actual mean (shift 0) and the lowest (ties, within 1e-9: the smallest shift in
/// absolute value, then the earlier). `None` when the job's own hours are not all covered or it
/// used no energy.
pub fn best_shift(
    weights: &[f64],
    values: &[f64],
    at: usize,
    before: usize,
    after: usize,
) -> Option<(f64, Shift)> {
    let total: f64 = weights.iter().sum();
    if weights.is_empty() || total <= 0.0 {
        return None;
    }
    let mean_at = |first: usize| -> Option<f64> {
        let hours = values.get(first..first + weights.len())?;
        let mut sum = 0.0;
        for (w, v) in weights.iter().zip(hours) {
            if !v.is_finite() {
                return None;
            }
            sum += w * v;
        }
        Some(sum / total)
    };
    let actual = mean_at(at)?;
    let mut best = Shift {
        hours: 0,
        mean: actual,
    };
    for s in -(before.min(at) as i64)..=after as i64 {
        let Some(m) = mean_at((at as i64 + s) as usize) else {
            continue;
        };
        let closer = s.abs() < best.hours.abs() || (s.abs() == best.hours.abs() && s < best.hours);
        if m < best.mean - 1e-9 || ((m - best.mean).abs() <= 1e-9 && closer) {
            best = Shift { hours: s, mean: m };
        }
    }
    Some((actual, best))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute(values: &[f64], len: usize, first: usize, last: usize) -> Option<Window> {
        let mut best: Option<Window> = None;
        for s in first..=last {
            if s + len > values.len() {
                break;
            }
            let mean = values[s..s + len].iter().sum::<f64>() / len as f64;
            if best.is_none_or(|b| mean < b.mean - 1e-9) {
                best = Some(Window { start: s, mean });
            }
        }
        best
    }

    #[test]
    fn finds_the_cleanest_window() {
        let v = [5.0, 4.0, 1.0, 1.0, 9.0, 0.5, 0.5, 0.5];
        assert_eq!(best_window(&v, 2, 0, 6).unwrap().start, 5);
        assert_eq!(best_window(&v, 2, 0, 3).unwrap().start, 2);
        let w = best_window(&v, 3, 0, 100).unwrap();
        assert_eq!(w.start, 5);
        assert!((w.mean - 0.5).abs() < 1e-12);
        // Ties go to the earliest start.
        assert_eq!(best_window(&[1.0; 10], 3, 2, 7).unwrap().start, 2);
        assert_eq!(best_window(&v, 0, 0, 3), Err(WindowError::ZeroLength));
        assert!(matches!(
            best_window(&v, 9, 0, 3),
            Err(WindowError::DoesNotFit { .. })
        ));
        let alts = best_windows(&v, 2, 0, 6, 3).unwrap();
        assert_eq!(alts[0].start, 5);
        assert_eq!(alts[1].start, 2);
        assert!(alts.windows(2).all(|p| p[0].mean <= p[1].mean));
        assert!((saving_pct(200.0, 50.0) - 75.0).abs() < 1e-12);
    }

    proptest! {
        /// The sliding-sum search equals a brute-force search over every start.
        #[test]
        fn equals_brute_force(
            values in proptest::collection::vec(0.0f64..1000.0, 1..400),
            len in 1usize..48,
            first in 0usize..400,
            span in 0usize..400,
        ) {
            let last = first + span;
            let got = best_window(&values, len, first, last).ok();
            let want = brute(&values, len, first, last);
            match (got, want) {
                (Some(g), Some(w)) => {
                    prop_assert_eq!(g.start, w.start);
                    prop_assert!((g.mean - w.mean).abs() < 1e-6);
                }
                (None, None) => {}
                (g, w) => prop_assert!(false, "sliding {g:?} vs brute {w:?}"),
            }
        }
    }

    /// Brute force: every shift, the mean written out.
    fn brute_shift(
        w: &[f64],
        v: &[f64],
        at: usize,
        before: usize,
        after: usize,
    ) -> Option<(f64, Shift)> {
        let total: f64 = w.iter().sum();
        let mean = |f: i64| -> Option<f64> {
            if f < 0 || f as usize + w.len() > v.len() {
                return None;
            }
            let xs = &v[f as usize..f as usize + w.len()];
            xs.iter()
                .all(|x| x.is_finite())
                .then(|| w.iter().zip(xs).map(|(a, b)| a * b).sum::<f64>() / total)
        };
        let actual = mean(at as i64)?;
        let mut all: Vec<Shift> = (-(before as i64)..=after as i64)
            .filter_map(|s| mean(at as i64 + s).map(|m| Shift { hours: s, mean: m }))
            .collect();
        all.sort_by(|a, b| {
            a.mean
                .total_cmp(&b.mean)
                .then(a.hours.abs().cmp(&b.hours.abs()))
                .then(a.hours.cmp(&b.hours))
        });
        Some((actual, all[0]))
    }

    #[test]
    fn the_best_shift_is_the_lowest_weighted_mean() {
        // Hours 0..6; the job's 2 hours start at 3 with its energy mostly in the second.
        let v = [50.0, 10.0, 40.0, 80.0, 100.0, 20.0, f64::NAN];
        let w = [1.0, 3.0];
        let (actual, best) = best_shift(&w, &v, 3, 3, 3).unwrap();
        assert_eq!(actual, (80.0 + 300.0) / 4.0);
        // Starting at 0: (50 + 30) / 4 = 20; at 4: (100 + 60) / 4 = 40; at 5 the NaN hour.
        assert_eq!(
            best,
            Shift {
                hours: -3,
                mean: 20.0
            }
        );
        assert_eq!(best_shift(&w, &v, 3, 3, 3), brute_shift(&w, &v, 3, 3, 3));
        // Not covered, no energy.
        assert_eq!(best_shift(&w, &v, 5, 1, 1), None);
        assert_eq!(best_shift(&[0.0], &v, 1, 1, 1), None);
        // A tie keeps the actual start.
        let flat = [7.0; 10];
        assert_eq!(best_shift(&w, &flat, 4, 4, 4).unwrap().1.hours, 0);
        // Pseudo-random series against the brute force.
        let mut x = 12345u64;
        let mut rnd = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as f64 / (1u64 << 31) as f64
        };
        for _ in 0..200 {
            let v: Vec<f64> = (0..40).map(|_| (rnd() * 20.0).round() * 10.0).collect();
            let w: Vec<f64> = (0..1 + (rnd() * 5.0) as usize).map(|_| rnd()).collect();
            let at = 12 + (rnd() * 10.0) as usize;
            let got = best_shift(&w, &v, at, 12, 12);
            let want = brute_shift(&w, &v, at, 12, 12);
            let (got, want) = (got.unwrap(), want.unwrap());
            assert_eq!(got.0, want.0);
            assert!((got.1.mean - want.1.mean).abs() < 1e-9, "{v:?} {w:?} {at}");
        }
    }

    /// `best_windows` equals taking every window in (mean, start) order and keeping those that do
    /// not overlap one already kept.
    #[test]
    fn best_windows_equal_the_sorted_greedy_choice() {
        let mut x = 987654321u64;
        let mut rnd = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as f64 / (1u64 << 31) as f64
        };
        for _ in 0..300 {
            let n = 2 + (rnd() * 60.0) as usize;
            // Few distinct values, so ties are common.
            let v: Vec<f64> = (0..n).map(|_| (rnd() * 5.0).floor() * 10.0).collect();
            let len = 1 + (rnd() * (n as f64 / 2.0)) as usize;
            let k = 1 + (rnd() * 4.0) as usize;
            let last = n - len;
            let means = window_means(&v, len, 0, last).unwrap();
            let mut order: Vec<usize> = (0..means.len()).collect();
            order.sort_by(|&a, &b| means[a].total_cmp(&means[b]).then(a.cmp(&b)));
            let mut want: Vec<Window> = Vec::new();
            for i in order {
                if want.len() < k
                    && want
                        .iter()
                        .all(|w| i + len <= w.start || w.start + len <= i)
                {
                    want.push(Window {
                        start: i,
                        mean: means[i],
                    });
                }
            }
            assert_eq!(
                best_windows(&v, len, 0, last, k).unwrap(),
                want,
                "{v:?} {len} {k}"
            );
        }
    }
}
