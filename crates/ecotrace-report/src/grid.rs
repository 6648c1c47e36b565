//! The grid around a run charged hour by hour (`ecotrace show`, the run's HTML page): the
//! intensity of each hour of the run and of the 12 h before and after it, and what the best start
//! within ±12 h of the actual one would have saved: the same run, with its own energy in each
//! hour, started whole hours earlier or later in the same zone (`ecotrace_core::plan::best_shift`).
//! The caller reads the hourly series ([`GridHours`]); this module only computes and writes.

use std::fmt::Write as _;

use chrono::{DateTime, Duration, Timelike, Utc};
use ecotrace_core::plan::{best_shift, saving_pct};
use ecotrace_core::{GridBasis, IntensityResolution, PowerSample, RunRecord};

use crate::html::esc;
use crate::svg::{self, colour, Series};
use crate::text::{co2, num, utc_second};

/// How far the best start is looked for, either side of the actual one.
pub const SHIFT_HOURS: usize = 12;

/// The hourly intensities of the zone a run was charged with, from 12 h before its first clock
/// hour to 12 h after its last ([`GridHours::span`]).
#[derive(Debug, Clone, PartialEq)]
pub struct GridHours {
    /// The zone of the series (`FR`, `SE-SE3`).
    pub zone: String,
    pub basis: Option<GridBasis>,
    /// Where the values come from (each series used, joined).
    pub source: String,
    /// Start of the first hour of `values`, UTC.
    pub first_hour: DateTime<Utc>,
    /// gCO2e/kWh, one per hour; NaN where the series has no value.
    pub values: Vec<f64>,
}

impl GridHours {
    /// The hours a [`GridHours`] for `r` must cover: its first hour and how many; `None` for a
    /// run not charged hour by hour.
    pub fn span(r: &RunRecord) -> Option<(DateTime<Utc>, usize)> {
        if r.intensity.resolution != IntensityResolution::Hourly {
            return None;
        }
        let (first, n) = run_clock_hours(r);
        Some((
            first - Duration::hours(SHIFT_HOURS as i64),
            n + 2 * SHIFT_HOURS,
        ))
    }
}

fn floor_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_minute(0))
        .unwrap_or(t)
}

/// The run's first clock hour and how many clock hours it touches.
fn run_clock_hours(r: &RunRecord) -> (DateTime<Utc>, usize) {
    let first = floor_hour(r.started_at);
    let end =
        r.started_at + Duration::milliseconds((r.duration.as_secs_f64() * 1000.0).round() as i64);
    let n = ((end - first).num_seconds().max(1) as f64 / 3600.0).ceil() as usize;
    (first, n.max(1))
}

/// The run's energy in each of its clock hours (Wh): each sample interval's to the hour of its
/// middle, as the run was charged; without samples, spread evenly over its duration (`false`).
fn energy_by_hour(r: &RunRecord, samples: &[PowerSample]) -> (Vec<f64>, bool) {
    let (first, n) = run_clock_hours(r);
    let mut w = vec![0.0; n];
    let offset = (r.started_at - first).num_milliseconds() as f64 / 1000.0;
    let mut last = 0.0;
    for s in samples {
        let dt = s.t_s - last;
        if dt > 0.0 {
            let k = (((offset + last + dt / 2.0) / 3600.0).floor() as usize).min(n - 1);
            w[k] += s.total().watts() * dt / 3600.0;
            last = s.t_s;
        }
    }
    if w.iter().sum::<f64>() > 0.0 {
        return (w, true);
    }
    let end = offset + r.duration.as_secs_f64();
    for (k, x) in w.iter_mut().enumerate() {
        let (a, b) = (k as f64 * 3600.0, (k + 1) as f64 * 3600.0);
        *x = (b.min(end) - a.max(offset)).max(0.0);
    }
    if w.iter().sum::<f64>() <= 0.0 {
        w[0] = 1.0;
    }
    (w, false)
}

/// A run charged hour by hour with its samples and the grid around it, for a report page over
/// several runs.
#[derive(Debug, Clone, PartialEq)]
pub struct RunGrid {
    pub run: RunRecord,
    pub samples: Vec<PowerSample>,
    pub grid: GridHours,
}

/// `show --json`'s `grid_by_hour`: the zone's intensity from 12 h before the run to 12 h after
/// (`g_per_kwh`, one per hour from `first_hour`, null where the series has none), the run's
/// hours in it, and what the best start within ±12 h would have saved (`best_start`, null when
/// the series does not cover the run's hours).
pub fn grid_json(r: &RunRecord, samples: &[PowerSample], g: &GridHours) -> serde_json::Value {
    let rfc = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let (first, n) = run_clock_hours(r);
    let best = best_start(r, samples, g).map(|b| {
        serde_json::json!({
            "start": rfc(b.best_start),
            "shift_hours": b.shift_hours,
            "actual_mean_g_per_kwh": b.actual_mean,
            "best_mean_g_per_kwh": b.best_mean,
            "saving_pct": b.saving_pct,
            "saving_kgco2e": b.saving_kg,
            "energy_per_hour": if b.from_samples { "samples" } else { "spread evenly" },
        })
    });
    serde_json::json!({
        "zone": g.zone,
        "basis": g.basis.map(GridBasis::as_str),
        "source": g.source,
        "first_hour": rfc(g.first_hour),
        "g_per_kwh": g.values.iter().map(|v| v.is_finite().then_some(*v)).collect::<Vec<_>>(),
        "run_first_hour": rfc(first),
        "run_hours": n,
        "shift_hours_searched": SHIFT_HOURS,
        "best_start": best,
    })
}

/// What the best start within ±12 h would have done.
#[derive(Debug, Clone, PartialEq)]
pub struct BestStart {
    /// The run's energy-weighted mean intensity at its actual hours, gCO2e/kWh.
    pub actual_mean: f64,
    /// The same at the best start.
    pub best_mean: f64,
    /// Hours later (negative: earlier) than the actual start.
    pub shift_hours: i64,
    pub best_start: DateTime<Utc>,
    pub saving_pct: f64,
    /// Operational CO2e saved, kg: the run's operational CO2e × the saving.
    pub saving_kg: f64,
    /// Whether the run's energy per hour came from its samples (else spread evenly).
    pub from_samples: bool,
}

/// The best start of `r` within ±12 h in `g`; `None` when the run's own hours are not covered.
pub fn best_start(r: &RunRecord, samples: &[PowerSample], g: &GridHours) -> Option<BestStart> {
    let (first, _) = run_clock_hours(r);
    let at = usize::try_from((first - g.first_hour).num_hours()).ok()?;
    let (w, from_samples) = energy_by_hour(r, samples);
    let (actual, best) = best_shift(&w, &g.values, at, SHIFT_HOURS, SHIFT_HOURS)?;
    let pct = saving_pct(actual, best.mean);
    Some(BestStart {
        actual_mean: actual,
        best_mean: best.mean,
        shift_hours: best.hours,
        best_start: r.started_at + Duration::hours(best.hours),
        saving_pct: pct,
        saving_kg: r.operational.kg() * pct / 100.0,
        from_samples,
    })
}

fn basis_name(g: &GridHours) -> &'static str {
    match g.basis {
        Some(GridBasis::Direct) => "direct",
        Some(GridBasis::Lifecycle) => "life-cycle",
        None => "basis not recorded",
    }
}

fn shift_words(h: i64) -> String {
    match h {
        0 => "the actual start".into(),
        h if h < 0 => format!("{} h earlier", -h),
        h => format!("{h} h later"),
    }
}

/// The sentence on the best start (or why there is none).
fn best_sentence(r: &RunRecord, samples: &[PowerSample], g: &GridHours) -> String {
    match best_start(r, samples, g) {
        None => "best start within ±12 h: the hourly data does not cover the run's hours".into(),
        Some(b) if b.shift_hours == 0 => format!(
            "best start within ±12 h of the actual one (same zone, same energy per hour): the actual start was the cleanest ({} gCO2e/kWh)",
            num(b.actual_mean)
        ),
        Some(b) => format!(
            "best start within ±12 h of the actual one (same zone, same energy per hour{}): {} ({}), {} instead of {} gCO2e/kWh: {:.1} % less, {} saved",
            if b.from_samples { "" } else { ", spread evenly: no samples stored" },
            utc_second(b.best_start),
            shift_words(b.shift_hours),
            num(b.best_mean),
            num(b.actual_mean),
            b.saving_pct,
            co2(b.saving_kg)
        ),
    }
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// `show`'s part for a run charged hour by hour: a sparkline of the 12 h before, the run's hours
/// and the 12 h after (the run's hours marked under it), the run's hours with their intensity
/// and energy share, and the best start within ±12 h. Empty for other runs.
pub fn grid_text(r: &RunRecord, samples: &[PowerSample], g: Option<&GridHours>) -> String {
    let Some(g) = g else {
        return String::new();
    };
    if r.intensity.resolution != IntensityResolution::Hourly {
        return String::new();
    }
    let mut out = String::new();
    let (first, n) = run_clock_hours(r);
    let at = (first - g.first_hour).num_hours().max(0) as usize;
    let finite = || g.values.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = (
        finite().fold(f64::INFINITY, f64::min),
        finite().fold(f64::NEG_INFINITY, f64::max),
    );
    let _ = writeln!(
        out,
        "\ngrid intensity by hour, zone {} ({}), {} UTC to {} UTC: {} to {} gCO2e/kWh",
        g.zone,
        basis_name(g),
        g.first_hour.format("%Y-%m-%d %H:00"),
        (g.first_hour + Duration::hours(g.values.len() as i64)).format("%Y-%m-%d %H:00"),
        num(lo),
        num(hi)
    );
    let spark: String = g
        .values
        .iter()
        .map(|v| {
            if !v.is_finite() {
                ' '
            } else if hi > lo {
                BARS[(((v - lo) / (hi - lo)) * 7.0).round() as usize]
            } else {
                BARS[3]
            }
        })
        .collect();
    let marks: String = (0..g.values.len())
        .map(|i| if (at..at + n).contains(&i) { '^' } else { ' ' })
        .collect();
    let _ = writeln!(
        out,
        "  {spark}\n  {}  (^: the run's hours)",
        marks.trim_end()
    );
    let (w, _) = energy_by_hour(r, samples);
    let total: f64 = w.iter().sum();
    let _ = writeln!(
        out,
        "  hour (UTC)          gCO2e/kWh  share of the run's energy"
    );
    const MAX_ROWS: usize = 48;
    for (k, wk) in w.iter().enumerate().take(MAX_ROWS) {
        let v = g.values.get(at + k).copied().unwrap_or(f64::NAN);
        let _ = writeln!(
            out,
            "  {}  {:>9}  {:.0} %",
            (first + Duration::hours(k as i64)).format("%Y-%m-%d %H:00"),
            if v.is_finite() { num(v) } else { "-".into() },
            100.0 * wk / total.max(f64::MIN_POSITIVE)
        );
    }
    if w.len() > MAX_ROWS {
        let _ = writeln!(out, "  ... {} more hours", w.len() - MAX_ROWS);
    }
    let _ = writeln!(out, "{}", best_sentence(r, samples, g));
    let _ = writeln!(out, "  series: {}", g.source);
    out
}

/// The run page's chart: the hourly intensity over the run and 12 h either side, the run's hours
/// and the best start's hours coloured, with the best-start sentence.
pub(crate) fn grid_html(
    out: &mut String,
    r: &RunRecord,
    samples: &[PowerSample],
    g: &GridHours,
    heading: &str,
) {
    if r.intensity.resolution != IntensityResolution::Hourly {
        return;
    }
    let (first, n) = run_clock_hours(r);
    let at = (first - g.first_hour).num_hours().max(0) as usize;
    let best = best_start(r, samples, g);
    let shifted = best
        .as_ref()
        .map(|b| (at as i64 + b.shift_hours) as usize)
        .unwrap_or(at);
    let categories: Vec<String> = (0..g.values.len())
        .map(|i| {
            (g.first_hour + Duration::hours(i as i64))
                .format("%m-%d %H:00")
                .to_string()
        })
        .collect();
    let pick = |f: &dyn Fn(usize) -> bool| -> Vec<Option<f64>> {
        g.values
            .iter()
            .enumerate()
            .map(|(i, v)| (f(i) && v.is_finite()).then_some(*v))
            .collect()
    };
    let in_run = |i: usize| (at..at + n).contains(&i);
    let in_best = |i: usize| best.is_some() && shifted != at && (shifted..shifted + n).contains(&i);
    let series = [
        Series {
            name: "the run's hours",
            colour: colour::OPERATIONAL,
            values: pick(&in_run),
        },
        Series {
            name: "best start's hours",
            colour: colour::RAM,
            values: pick(&|i| in_best(i) && !in_run(i)),
        },
        Series {
            name: "other hours",
            colour: colour::POINT,
            values: pick(&|i| !in_run(i) && !in_best(i)),
        },
    ];
    let chart = svg::bars(
        "Grid intensity by hour around the run",
        &categories,
        &series,
        true,
        "hour (UTC)",
        &format!("gCO2e/kWh ({})", basis_name(g)),
    );
    let mut items = vec![
        ("the run's hours", colour::OPERATIONAL),
        ("other hours", colour::POINT),
    ];
    if best.as_ref().is_some_and(|b| b.shift_hours != 0) {
        items.insert(1, ("best start's hours", colour::RAM));
    }
    let _ = writeln!(out, "<h2>{}</h2>", esc(heading));
    crate::html::figure(
        out,
        &chart,
        &items,
        &format!(
            "Hourly grid intensity of zone {}, 12 h before the run to 12 h after (gCO2e/kWh, {}). Series: {}.",
            g.zone,
            basis_name(g),
            g.source
        ),
    );
    let _ = writeln!(out, "<p>{}.</p>", esc(&best_sentence(r, samples, g)));
}
