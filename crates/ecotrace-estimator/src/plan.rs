//! `ecotrace plan` (and `ecotrace.plan()` in Python, `run --when-green`): the region and start
//! hour whose window has the lowest mean grid intensity, finishing by a deadline.
//!
//! Each region is resolved on one basis; a region whose grid zone has an hourly series (bundled,
//! or imported by the user and passed in as [`UserSeries`]) is searched hour by hour with
//! `ecotrace_core::plan`'s sliding sums; one without is compared on its yearly average and marked
//! as not time-shifted. When the requested hours are not all covered by data, the same calendar
//! hours of a profile year are used and the plan says so. Pure apart from the bundled tables: the
//! caller passes the clock and any user series.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use ecotrace_core::plan::{best_windows, saving_pct, Window};
use ecotrace_core::GridBasis;
use serde::Serialize;
use serde_json::Value;

use crate::{parse_basis, EstimateError, Result};

/// What a plan is asked for; `None` means not given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanOptions {
    /// How long the job runs: `6h`, `90m`, `2d` (rounded up to whole hours).
    pub duration: Option<String>,
    /// Regions to choose from; the first is the baseline.
    pub regions: Vec<String>,
    /// RFC 3339 time (`2023-01-01T00:00Z`) [default: the next full hour].
    pub start_after: Option<String>,
    /// RFC 3339 time, or a duration after `start_after` (`24h`, `3d`) [default: start-after +
    /// duration + 24 h].
    pub deadline: Option<String>,
    /// The year whose same calendar hours stand in for dates without data.
    pub profile_year: Option<i32>,
    /// `lifecycle` (default) or `direct`.
    pub basis: Option<String>,
    /// Hardware from the catalog, with `devices`, to state the saving in kgCO2e.
    pub hardware: Option<String>,
    pub devices: Option<f64>,
    /// Energy of the job in kWh, to state the saving in kgCO2e.
    pub energy_kwh: Option<f64>,
}

pub use ecotrace_data::UserSeries;

/// A window in a region, as reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedWindow {
    pub region: String,
    /// RFC 3339, UTC.
    pub start: String,
    pub end: String,
    pub mean_g_per_kwh: f64,
    /// False for a region compared on its yearly average (every start is the same to it).
    pub time_shifted: bool,
    #[serde(skip)]
    pub start_time: DateTime<Utc>,
}

/// The series a region was planned on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesUsed {
    pub region: String,
    /// The grid zone whose data was used.
    pub zone: String,
    /// `hourly` (the requested dates), `profile` (the same hours of `year`) or `yearly-average`.
    pub kind: &'static str,
    pub year: Option<i32>,
    pub source: String,
    pub license: String,
    pub note: Option<String>,
}

/// The baseline: the first region, starting as early as allowed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    pub region: String,
    pub start: String,
    pub mean_g_per_kwh: f64,
}

/// A plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub region: String,
    pub start: String,
    pub end: String,
    pub mean_g_per_kwh: f64,
    pub time_shifted: bool,
    /// `lifecycle` or `direct`.
    pub basis: &'static str,
    /// `average` (every bundled series, Electricity Maps, UK Carbon Intensity) or `marginal`
    /// (WattTime's MOER, when every region was planned on it): never a mix.
    pub signal: &'static str,
    pub duration_hours: usize,
    pub start_after: String,
    pub deadline: String,
    pub baseline: Baseline,
    pub saving_pct: f64,
    /// Energy of the job and the CO2e of the plan and the baseline, when hardware or energy was
    /// given.
    pub energy_kwh: Option<f64>,
    pub kgco2e: Option<f64>,
    pub baseline_kgco2e: Option<f64>,
    pub saving_kgco2e: Option<f64>,
    pub alternatives: Vec<PlannedWindow>,
    /// `null` when planned on the requested dates; else the year whose same calendar hours were
    /// used.
    pub profile_year: Option<i32>,
    pub data: Vec<SeriesUsed>,
    pub notes: Vec<String>,
    #[serde(skip)]
    pub start_time: DateTime<Utc>,
}

fn usage<T>(msg: impl Into<String>) -> Result<T> {
    Err(EstimateError::Usage(msg.into()))
}

/// `6h`, `90m`, `3d`, `1.5h`, `2w`: a positive duration.
pub fn parse_span(s: &str) -> Option<Duration> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))?;
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        "w" => n * 7.0 * 86400.0,
        _ => return None,
    };
    secs.is_finite()
        .then(|| Duration::milliseconds((secs * 1000.0).round() as i64))
}

/// RFC 3339 with or without seconds (`2023-01-01T00:00Z`, `2023-01-01T00:00:00+02:00`).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let t = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    // Without seconds: insert `:00` before the offset.
    let (head, tail) = match t.rfind(['Z', 'z', '+', '-']) {
        Some(i) if i > 10 => t.split_at(i),
        _ => return None,
    };
    DateTime::parse_from_rfc3339(&format!("{head}:00{tail}"))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn ceil_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = t
        .with_nanosecond(0)
        .and_then(|x| x.with_second(0))
        .and_then(|x| x.with_minute(0))
        .expect("valid time");
    if floor == t {
        t
    } else {
        floor + Duration::hours(1)
    }
}

/// The hour of `t` in its year mapped onto `year`: same month, day and hour (29 February becomes
/// the 28th), as an index from 1 January 00:00 of `year`.
fn profile_index(t: DateTime<Utc>, year: i32) -> usize {
    let (m, mut d) = (t.month(), t.day());
    if m == 2 && d == 29 && NaiveDate::from_ymd_opt(year, 2, 29).is_none() {
        d = 28;
    }
    let day = NaiveDate::from_ymd_opt(year, m, d).expect("valid day");
    (day.ordinal0() as usize) * 24 + t.hour() as usize
}

fn hours_in_year(year: i32) -> usize {
    if NaiveDate::from_ymd_opt(year, 2, 29).is_some() {
        8784
    } else {
        8760
    }
}

/// One source of hourly values for a zone: a bundled or imported series. A bundled series is
/// decoded the first time one of its hours is read, so only the years a plan touches are.
struct Source<'a> {
    first: DateTime<Utc>,
    hours: usize,
    values: std::cell::OnceCell<std::borrow::Cow<'a, [f64]>>,
    bundled: Option<(&'static ecotrace_data::HourlySeries, GridBasis)>,
    year: i32,
    source: String,
    license: String,
    full_year: bool,
}

impl Source<'_> {
    fn values(&self) -> &[f64] {
        self.values.get_or_init(|| {
            let (s, basis) = self.bundled.expect("an imported series holds its values");
            std::borrow::Cow::Owned(s.values(basis))
        })
    }

    /// The value of hour `i` of the series, if it has one (nothing is decoded for an hour
    /// outside it).
    fn get(&self, i: i64) -> Option<f64> {
        usize::try_from(i)
            .ok()
            .filter(|&i| i < self.hours)
            .map(|i| self.values()[i])
            .filter(|v| v.is_finite())
    }
}

/// The hourly sources of one grid zone, imported ones first.
fn sources<'a>(zone: &str, basis: GridBasis, user: &'a [UserSeries]) -> Vec<Source<'a>> {
    let mut out: Vec<Source<'a>> = user
        .iter()
        .filter(|u| u.zone.eq_ignore_ascii_case(zone) && u.basis == basis)
        .map(|u| {
            let y = u.first_hour.year();
            let full_year = u.first_hour == Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0).unwrap()
                && u.values.len() >= hours_in_year(y)
                && u.values[..hours_in_year(y)].iter().all(|v| v.is_finite());
            // A live provider's series (`live: ...`, see `ecotrace_tracker::live`) says so.
            let (source, license) = if u.source.starts_with("live:") {
                (u.source.clone(), "the provider's terms of use".into())
            } else {
                (
                    format!("imported: {}", u.source),
                    "as imported by the user".into(),
                )
            };
            Source {
                first: u.first_hour,
                hours: u.values.len(),
                values: std::borrow::Cow::Borrowed(&u.values[..]).into(),
                bundled: None,
                year: y,
                source,
                license,
                full_year,
            }
        })
        .collect();
    for s in ecotrace_data::hourly_series()
        .iter()
        .filter(|s| s.zone.eq_ignore_ascii_case(zone))
    {
        out.push(Source {
            first: s.first_hour,
            hours: s.hours,
            values: std::cell::OnceCell::new(),
            bundled: Some((s, basis)),
            year: s.year,
            source: s.source.clone(),
            license: s.license.clone(),
            full_year: true,
        });
    }
    out
}

struct Candidate {
    region: String,
    zone: String,
    hourly: Option<String>,
    yearly: f64,
    yearly_year: i32,
    yearly_source: String,
    note: Option<String>,
}

/// Makes the plan. `now` is the clock (the default start-after is the next full hour);
/// `user` the imported hourly series.
pub fn plan(opts: &PlanOptions, now: DateTime<Utc>, user: &[UserSeries]) -> Result<Plan> {
    let basis = parse_basis(opts.basis.as_deref())?;
    let Some(dur) = opts.duration.as_deref() else {
        return usage("--duration is required: how long the job runs, e.g. --duration 6h");
    };
    let dur = parse_span(dur).ok_or_else(|| {
        EstimateError::Usage(format!(
            "--duration {dur:?} is not a duration: write e.g. 6h, 90m or 2d"
        ))
    })?;
    if dur <= Duration::zero() {
        return usage(format!(
            "--duration must be positive, got {}",
            opts.duration.as_deref().unwrap_or_default()
        ));
    }
    let len = ((dur.num_seconds() as f64) / 3600.0).ceil().max(1.0) as usize;
    let start_after = match opts.start_after.as_deref() {
        Some(s) => parse_time(s).ok_or_else(|| {
            EstimateError::Usage(format!(
                "--start-after {s:?} is not an RFC 3339 time: write e.g. 2023-01-01T00:00Z"
            ))
        })?,
        None => now,
    };
    let start_after = ceil_hour(start_after);
    let deadline = match opts.deadline.as_deref() {
        None => start_after + Duration::hours(len as i64 + 24),
        Some(s) => match parse_time(s) {
            Some(t) => t,
            None => match parse_span(s) {
                Some(d) => start_after + d,
                None => {
                    return usage(format!(
                        "--deadline {s:?} is neither an RFC 3339 time (2023-01-02T00:00Z) nor a duration after --start-after (24h, 3d)"
                    ))
                }
            },
        },
    };
    let earliest_end = start_after + Duration::hours(len as i64);
    if deadline < earliest_end {
        return usage(format!(
            "--deadline {} is before the earliest end {} (start-after {} + {len} h): give a later deadline or a shorter --duration",
            rfc3339(deadline),
            rfc3339(earliest_end),
            rfc3339(start_after)
        ));
    }
    if opts.regions.is_empty() {
        return usage("--region is required: one or more regions to choose from, e.g. --region FR,DE,aws:eu-north-1");
    }
    // Hours the job may occupy: [start_after, start_after + span).
    let span = ((deadline - start_after).num_seconds() / 3600) as usize;
    let last_start = span - len;

    let mut cands = Vec::new();
    for r in &opts.regions {
        let res = ecotrace_data::resolve_region_on(r, basis)
            .map_err(|e| EstimateError::Usage(e.to_string()))?;
        let user_zone = [res.grid_zone.as_str(), res.zone.as_str()]
            .into_iter()
            .find(|z| {
                user.iter()
                    .any(|u| u.zone.eq_ignore_ascii_case(z) && u.basis == basis)
            })
            .map(str::to_string);
        let (hourly, note) = match user_zone {
            Some(z) => (Some(z), None),
            None => match ecotrace_data::hourly_zone(&res.grid_zone)
                .or_else(|| ecotrace_data::hourly_zone(&res.zone))
            {
                Some((z, why)) => (Some(z.to_string()), why.map(str::to_string)),
                None => (None, None),
            },
        };
        cands.push(Candidate {
            region: res.zone.clone(),
            zone: res.grid_zone.clone(),
            hourly,
            yearly: res.intensity.g_per_kwh(),
            yearly_year: res.year,
            yearly_source: res.source.clone(),
            note: note.or(res.note.clone()),
        });
    }

    // The hourly values of each time-shiftable region over the requested hours, if covered.
    let srcs: Vec<Option<Vec<Source>>> = cands
        .iter()
        .map(|c| c.hourly.as_deref().map(|z| sources(z, basis, user)))
        .collect();
    let covered = |ss: &[Source]| -> Option<(Vec<f64>, Vec<usize>)> {
        let mut used = Vec::new();
        let mut v = Vec::with_capacity(span);
        // Hour k of the span is hour k + offset of a source.
        let offsets: Vec<i64> = ss
            .iter()
            .map(|s| (start_after - s.first).num_hours())
            .collect();
        for k in 0..span as i64 {
            let (i, x) = ss
                .iter()
                .zip(&offsets)
                .enumerate()
                .find_map(|(i, (s, off))| s.get(k + off).map(|x| (i, x)))?;
            if !used.contains(&i) {
                used.push(i);
            }
            v.push(x);
        }
        Some((v, used))
    };
    let actual: Vec<Option<(Vec<f64>, Vec<usize>)>> = srcs
        .iter()
        .map(|s| s.as_ref().and_then(|ss| covered(ss)))
        .collect();
    let all_actual = srcs
        .iter()
        .zip(&actual)
        .all(|(s, a)| s.is_none() || a.is_some());
    let mut notes = Vec::new();
    let mut data = Vec::new();
    let mut values: Vec<Vec<f64>> = Vec::with_capacity(cands.len());
    let profile_year = if all_actual {
        None
    } else {
        // Years in which every time-shiftable region has a full year of data.
        let full = |ss: &Vec<Source>, y: i32| ss.iter().any(|s| s.year == y && s.full_year);
        let shiftable: Vec<(&Candidate, &Vec<Source>)> = cands
            .iter()
            .zip(&srcs)
            .filter_map(|(c, s)| s.as_ref().map(|s| (c, s)))
            .collect();
        let year = match opts.profile_year {
            Some(y) => {
                let missing: Vec<String> = shiftable
                    .iter()
                    .filter(|(_, s)| !full(s, y))
                    .map(|(c, s)| {
                        let mut ys: Vec<i32> =
                            s.iter().filter(|x| x.full_year).map(|x| x.year).collect();
                        ys.sort_unstable();
                        ys.dedup();
                        format!(
                            "{} (years with data: {})",
                            c.region,
                            ys.iter()
                                .map(|y| y.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    })
                    .collect();
                if !missing.is_empty() {
                    return usage(format!(
                        "--profile-year {y} has no hourly data for {}: pick a year with data, or import one (ecotrace data import-hourly)",
                        missing.join("; ")
                    ));
                }
                y
            }
            None => {
                let mut years: Vec<i32> = shiftable
                    .iter()
                    .flat_map(|(_, s)| s.iter().filter(|x| x.full_year).map(|x| x.year))
                    .collect();
                years.sort_unstable();
                years.dedup();
                match years.into_iter().rev().find(|&y| shiftable.iter().all(|(_, s)| full(s, y))) {
                    Some(y) => y,
                    None => {
                        return usage(format!(
                            "no year has hourly data for every region ({}): give --profile-year, or fewer regions",
                            shiftable.iter().map(|(c, _)| c.region.as_str()).collect::<Vec<_>>().join(", ")
                        ))
                    }
                }
            }
        };
        notes.push(format!(
            "the requested dates are not covered by hourly data: planned on a typical profile, the same calendar hours of {year}"
        ));
        Some(year)
    };

    for (i, c) in cands.iter().enumerate() {
        match (&srcs[i], profile_year) {
            (Some(ss), None) => {
                let (v, used) = actual[i].clone().expect("checked above");
                for u in used {
                    data.push(SeriesUsed {
                        region: c.region.clone(),
                        zone: c.hourly.clone().unwrap_or_default(),
                        kind: "hourly",
                        year: Some(ss[u].year),
                        source: ss[u].source.clone(),
                        license: ss[u].license.clone(),
                        note: c.note.clone(),
                    });
                }
                values.push(v);
            }
            (Some(ss), Some(y)) => {
                let s = ss
                    .iter()
                    .find(|s| s.year == y && s.full_year)
                    .expect("checked above");
                let n = hours_in_year(y);
                let base = profile_index(start_after, y);
                let sv = s.values();
                values.push((0..span).map(|k| sv[(base + k) % n]).collect());
                data.push(SeriesUsed {
                    region: c.region.clone(),
                    zone: c.hourly.clone().unwrap_or_default(),
                    kind: "profile",
                    year: Some(y),
                    source: s.source.clone(),
                    license: s.license.clone(),
                    note: c.note.clone(),
                });
            }
            (None, _) => {
                values.push(vec![c.yearly; span]);
                notes.push(format!(
                    "{}: no hourly data for grid zone {}: compared on its yearly average ({} g/kWh, {}), not time-shifted",
                    c.region,
                    c.zone,
                    ecotrace_core::human::num(c.yearly),
                    c.yearly_year
                ));
                data.push(SeriesUsed {
                    region: c.region.clone(),
                    zone: c.zone.clone(),
                    kind: "yearly-average",
                    year: Some(c.yearly_year),
                    source: c.yearly_source.clone(),
                    license: String::new(),
                    note: c.note.clone(),
                });
            }
        }
    }

    let window = |ci: usize, w: Window| {
        let t = start_after + Duration::hours(w.start as i64);
        PlannedWindow {
            region: cands[ci].region.clone(),
            start: rfc3339(t),
            end: rfc3339(t + Duration::hours(len as i64)),
            mean_g_per_kwh: w.mean,
            time_shifted: srcs[ci].is_some(),
            start_time: t,
        }
    };
    let mut all: Vec<(usize, Window)> = Vec::new();
    for (ci, v) in values.iter().enumerate() {
        let k = if srcs[ci].is_some() { 3 } else { 1 };
        for w in best_windows(v, len, 0, last_start, k)
            .map_err(|e| EstimateError::Usage(e.to_string()))?
        {
            all.push((ci, w));
        }
    }
    // Best first; ties: the earlier region in the list, then the earlier start.
    all.sort_by(|a, b| {
        a.1.mean
            .total_cmp(&b.1.mean)
            .then(a.0.cmp(&b.0))
            .then(a.1.start.cmp(&b.1.start))
    });
    let (bci, bw) = all[0];
    let best = window(bci, bw);
    let baseline_mean = values[0][..len].iter().sum::<f64>() / len as f64;
    let baseline = Baseline {
        region: cands[0].region.clone(),
        start: rfc3339(start_after),
        mean_g_per_kwh: baseline_mean,
    };
    let alternatives: Vec<PlannedWindow> = all[1..]
        .iter()
        .take(5)
        .map(|&(ci, w)| window(ci, w))
        .collect();
    let energy_kwh = match (opts.energy_kwh, opts.hardware.as_deref()) {
        (Some(e), _) if !(e.is_finite() && e > 0.0) => {
            return usage(format!("--energy-kwh must be a positive number, got {e}"))
        }
        (Some(e), _) => Some(e),
        (None, Some(h)) => {
            let devices = opts.devices.unwrap_or(1.0);
            if !(devices.is_finite() && devices > 0.0) {
                return usage(format!("--devices must be positive, got {devices}"));
            }
            let a =
                ecotrace_data::accelerator(h).map_err(|e| EstimateError::Usage(e.to_string()))?;
            notes.push(format!(
                "energy: {} × {} at its rated {} W for {len} h (IT energy, no PUE)",
                ecotrace_core::human::num(devices),
                a.id,
                ecotrace_core::human::num(a.tdp.watts())
            ));
            Some(a.tdp.watts() * devices * len as f64 / 1000.0)
        }
        (None, None) => None,
    };
    let kg = |g: f64| energy_kwh.map(|e| e * g / 1000.0);
    Ok(Plan {
        region: best.region.clone(),
        start: best.start.clone(),
        end: best.end.clone(),
        mean_g_per_kwh: best.mean_g_per_kwh,
        time_shifted: best.time_shifted,
        basis: basis.as_str(),
        signal: "average",
        duration_hours: len,
        start_after: rfc3339(start_after),
        deadline: rfc3339(deadline),
        saving_pct: saving_pct(baseline_mean, best.mean_g_per_kwh),
        kgco2e: kg(best.mean_g_per_kwh),
        baseline_kgco2e: kg(baseline_mean),
        saving_kgco2e: kg(baseline_mean - best.mean_g_per_kwh),
        energy_kwh,
        baseline,
        alternatives,
        profile_year,
        data,
        notes,
        start_time: best.start_time,
    })
}

/// The plan with a live provider's series: `live(from, to, basis)` fetches them (the caller's
/// network code, e.g. `ecotrace_tracker::live::plan_series`) for the window the options ask for.
/// They come before the imported and bundled series; without a `--deadline`, the end of the live
/// data is the deadline. A plan that could not use them says why; one planned on marginal series
/// has `signal: marginal`.
pub fn plan_with_live(
    opts: &PlanOptions,
    now: DateTime<Utc>,
    user: &[UserSeries],
    live: impl FnOnce(DateTime<Utc>, DateTime<Utc>, GridBasis) -> ecotrace_data::LiveSeries,
) -> Result<Plan> {
    // The window the planner searches, from the same options.
    let base = plan(opts, now, user)?;
    let (from, to) = (base.start_time_after(), base.deadline_time());
    let basis = parse_basis(opts.basis.as_deref())?;
    let live = live(from, to, basis);
    let mut opts = opts.clone();
    let mut notes = live.notes.clone();
    let len = Duration::hours(base.duration_hours as i64);
    if let Some(end) = live.end.filter(|e| *e < to && *e >= from + len) {
        if opts.deadline.is_none() {
            opts.deadline = Some(rfc3339(end));
            notes.push(format!(
                "no --deadline given: the end of the live data ({}) is the deadline",
                rfc3339(end)
            ));
        }
    }
    let series: Vec<UserSeries> = live.series.iter().chain(user).cloned().collect();
    let mut p = plan(&opts, now, &series)?;
    let planned_live = p.profile_year.is_none() && !live.series.is_empty();
    if !live.series.is_empty() && !planned_live {
        notes.push(format!(
            "the live data ends at {}, before the deadline: planned on the typical profile (give a \
             deadline within the live data to plan on it)",
            live.end.map(rfc3339).unwrap_or_default()
        ));
    }
    if planned_live && live.signal == ecotrace_core::EmissionSignal::Marginal {
        p.signal = "marginal";
    }
    p.notes.extend(notes);
    Ok(p)
}

impl Plan {
    fn start_time_after(&self) -> DateTime<Utc> {
        parse_time(&self.start_after).expect("a plan's own time")
    }

    fn deadline_time(&self) -> DateTime<Utc> {
        parse_time(&self.deadline).expect("a plan's own time")
    }
}

/// The plan as JSON.
pub fn plan_json(p: &Plan) -> Value {
    serde_json::to_value(p).expect("a plan serialises")
}

/// The plan as `ecotrace plan` prints it.
pub fn plan_text(p: &Plan) -> String {
    let mut o = String::new();
    let basis = if p.basis == "direct" {
        "direct"
    } else {
        "life-cycle"
    };
    let basis = if p.signal == "marginal" {
        "marginal emissions (MOER), not comparable with average intensities"
    } else {
        basis
    };
    let _ = writeln!(
        o,
        "Best: {} from {} to {}, mean {} gCO2e/kWh ({basis}){}",
        p.region,
        p.start,
        p.end,
        ecotrace_core::human::num(p.mean_g_per_kwh),
        if p.time_shifted {
            ""
        } else {
            " [yearly average, not time-shifted]"
        }
    );
    let _ = writeln!(
        o,
        "Baseline: {} at {}, mean {} gCO2e/kWh: the best window emits {:.1} % less{}",
        p.baseline.region,
        p.baseline.start,
        ecotrace_core::human::num(p.baseline.mean_g_per_kwh),
        p.saving_pct,
        match (p.saving_kgco2e, p.energy_kwh) {
            (Some(s), Some(e)) => format!(
                ", {} kgCO2e saved on {} kWh ({} instead of {} kgCO2e)",
                ecotrace_core::human::num(s),
                ecotrace_core::human::num(e),
                ecotrace_core::human::num(p.kgco2e.unwrap_or_default()),
                ecotrace_core::human::num(p.baseline_kgco2e.unwrap_or_default())
            ),
            _ => String::new(),
        }
    );
    if !p.alternatives.is_empty() {
        let _ = writeln!(o, "\nAlternatives:");
        for a in &p.alternatives {
            let _ = writeln!(
                o,
                "  {:<22} {} → {}  {:>8} gCO2e/kWh{}",
                a.region,
                a.start,
                a.end,
                ecotrace_core::human::num(a.mean_g_per_kwh),
                if a.time_shifted {
                    ""
                } else {
                    "  (yearly average, not time-shifted)"
                }
            );
        }
    }
    let _ = writeln!(
        o,
        "\nWindow: {} h starting on the hour, between {} and {}; basis {basis}.",
        p.duration_hours, p.start_after, p.deadline
    );
    let _ = writeln!(o, "Data:");
    for d in &p.data {
        let _ = writeln!(
            o,
            "  {:<22} {} {}{}: {}",
            d.region,
            d.kind,
            d.zone,
            d.year.map(|y| format!(" {y}")).unwrap_or_default(),
            d.source
        );
    }
    for n in &p.notes {
        let _ = writeln!(o, "note: {n}");
    }
    o
}

/// The `sbatch` line that starts the job at the plan's start: `--begin` in the cluster's local
/// time, as Slurm reads it; `local` is that time zone's offset.
pub fn plan_slurm(p: &Plan, local: chrono::FixedOffset) -> String {
    let t = p.start_time.with_timezone(&local);
    format!(
        "sbatch --begin={} --time={}:00:00  # {} in {} ({}), {} gCO2e/kWh\n",
        t.format("%Y-%m-%dT%H:%M:%S"),
        p.duration_hours,
        p.start,
        p.region,
        p.basis,
        ecotrace_core::human::num(p.mean_g_per_kwh)
    )
}

/// `1h 02m 05s`, `2m 05s`, `5s`: a wait, to the second.
pub fn wait_text(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s:02}s"),
        _ => format!("{h}h {m:02}m {s:02}s"),
    }
}

/// What `ecotrace run --when-green` says before it waits or runs, one line each: the chosen
/// start and why, or why it runs now; the plan's notes. `now` is the planner's clock;
/// `assumed_duration` is set when the job's duration was not given.
pub fn when_green_text(p: &Plan, now: DateTime<Utc>, assumed_duration: bool) -> Vec<String> {
    let basis = if p.basis == "direct" {
        "direct"
    } else {
        "life-cycle"
    };
    let g = ecotrace_core::human::num;
    let mut o = Vec::new();
    if assumed_duration {
        o.push(format!(
            "no --duration given: planned for a {} h job (give --duration for the command's length)",
            p.duration_hours
        ));
    }
    if !p.time_shifted {
        o.push(format!(
            "when green: {} has no hourly grid data, so no start is cleaner than another: running now ({} gCO2e/kWh, yearly average, {basis})",
            p.region,
            g(p.mean_g_per_kwh)
        ));
    } else if p.start_time <= now {
        o.push(format!(
            "when green: now is the cleanest start in {} before {}: {} gCO2e/kWh over the next {} h ({basis}); running now",
            p.region,
            p.deadline,
            g(p.mean_g_per_kwh),
            p.duration_hours
        ));
    } else {
        let wait = (p.start_time - now).num_seconds().max(0) as u64;
        let baseline = match parse_time(&p.baseline.start) {
            Some(t) if t <= now => "starting now".to_string(),
            _ => format!("starting at {}", p.baseline.start),
        };
        o.push(format!(
            "when green: starting at {} in {} (in {}): {} gCO2e/kWh over {} h ({basis}), {:.1} % less than {baseline} ({} gCO2e/kWh); Ctrl-C cancels and records nothing",
            p.start,
            p.region,
            wait_text(wait),
            g(p.mean_g_per_kwh),
            p.duration_hours,
            p.saving_pct,
            g(p.baseline.mean_g_per_kwh)
        ));
    }
    o.extend(p.notes.iter().map(|n| format!("note: {n}")));
    o
}

/// The note a run started by `--when-green` keeps in its record.
pub fn when_green_note(p: &Plan) -> String {
    let g = ecotrace_core::human::num;
    format!(
        "started by --when-green: planned start {} in {} ({} h window, {} gCO2e/kWh {}; {} gCO2e/kWh starting at {}, {:.1} % less){}",
        p.start,
        p.region,
        p.duration_hours,
        g(p.mean_g_per_kwh),
        if p.signal == "marginal" {
            "marginal"
        } else {
            p.basis
        },
        g(p.baseline.mean_g_per_kwh),
        p.baseline.start,
        p.saving_pct,
        match (p.profile_year, p.time_shifted) {
            (_, false) => " (no hourly data: not time-shifted)".to_string(),
            (Some(y), true) => format!(" on a typical profile, the same calendar hours of {y}"),
            (None, true) => p
                .data
                .iter()
                .find(|d| d.source.starts_with("live:"))
                .map(|d| format!(" on {}", d.source))
                .unwrap_or_default(),
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_spans() {
        let t = Utc.with_ymd_and_hms(2023, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(parse_time("2023-01-01T00:00Z"), Some(t));
        assert_eq!(parse_time("2023-01-01T00:00:00Z"), Some(t));
        assert_eq!(parse_time("2023-01-01T02:00+02:00"), Some(t));
        assert_eq!(parse_time("2023-01-01T01:00:00+01:00"), Some(t));
        assert_eq!(parse_time("tomorrow"), None);
        assert_eq!(parse_span("24h"), Some(Duration::hours(24)));
        assert_eq!(parse_span("3d"), Some(Duration::hours(72)));
        assert_eq!(parse_span("90m"), Some(Duration::minutes(90)));
        assert_eq!(parse_span("-2h"), Some(Duration::hours(-2)));
        assert_eq!(parse_span("2023-01-01T00:00Z"), None);
        assert_eq!(ceil_hour(t + Duration::minutes(1)), t + Duration::hours(1));
        assert_eq!(ceil_hour(t), t);
        // 29 February maps to the 28th of a common year.
        let leap = Utc.with_ymd_and_hms(2024, 2, 29, 5, 0, 0).unwrap();
        assert_eq!(profile_index(leap, 2022), (31 + 27) * 24 + 5);
        assert_eq!(profile_index(leap, 2024), (31 + 28) * 24 + 5);
        assert_eq!(wait_text(5), "5s");
        assert_eq!(wait_text(125), "2m 05s");
        assert_eq!(wait_text(3725), "1h 02m 05s");
    }
}
