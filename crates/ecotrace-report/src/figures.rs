//! Figures the published formats (HTML, LaTeX, model card) share: totals over a set of runs with
//! the life-cycle figures that may be missing (embodied carbon, water, cost), device-hours, the
//! hardware and grid used, figures by phase, the weekly trend, a metric against CO2e with its
//! Pareto front, downsampled power series and everyday equivalents.
//!
//! Pure sums over the figures stored in each record, like `aggregate` and with its shares (the ranks
//! of a job that measured one node together count once): nothing is recomputed from components or
//! factors. A figure that some runs lack is summed over the runs that have it and
//! says how many those are; it is never filled in. Rendering lives in `html`, `latex`, ...

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{Datelike, Duration as Days, NaiveDate};
use ecotrace_core::{
    ComponentKind, EnergyBreakdown, IntensityBasis, Phase, PowerSample, RunRecord,
};

use crate::aggregate::{is_failed, shares, Group};
use crate::text::{co2, num, push_wrapped};

/// Embodied CO2e charged to a run in kg, when it was assessed.
pub(crate) fn embodied_kg(r: &RunRecord) -> Option<f64> {
    r.embodied.map(|c| c.kg())
}

/// Water consumed by a run in litres, when it was assessed.
pub(crate) fn water_l(r: &RunRecord) -> Option<f64> {
    r.water.map(|w| w.litres())
}

/// Cost of a run in USD, when a price was known.
pub(crate) fn cost_usd(r: &RunRecord) -> Option<f64> {
    r.cost.map(|c| c.usd())
}

/// Floating-point operations of a run when it logged them: metric `flops`, else `total_flos`
/// (what the Hugging Face Trainer logs).
pub(crate) fn flops(r: &RunRecord) -> Option<(f64, &'static str)> {
    for key in ["flops", "total_flos"] {
        if let Some(v) = r.metrics.get(key) {
            if v.is_finite() && *v >= 0.0 {
                return Some((*v, key));
            }
        }
    }
    None
}

/// A sum over the runs that have a figure, with how many do.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Partial {
    pub sum: f64,
    /// Runs that have the figure.
    pub known: usize,
}

impl Partial {
    fn add(&mut self, v: Option<f64>) {
        if let Some(v) = v {
            self.sum += v;
            self.known += 1;
        }
    }
    /// The sum, or `None` when no run has the figure.
    pub fn value(&self) -> Option<f64> {
        (self.known > 0).then_some(self.sum)
    }
}

/// Sums over a set of runs, including the figures not every run has.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Totals {
    pub runs: usize,
    pub failed_runs: usize,
    pub estimated_runs: usize,
    pub duration: Duration,
    pub energy: EnergyBreakdown,
    pub operational_kg: f64,
    pub embodied_kg: Partial,
    pub water_l: Partial,
    pub cost_usd: Partial,
    pub flops: Partial,
    /// Σ duration × GPUs charged (GPU components).
    pub gpu_hours: f64,
    /// Σ duration × CPU devices charged (RAPL packages, or the one modelled CPU).
    pub cpu_hours: f64,
}

impl Totals {
    /// Adds `share` (see [`crate::aggregate::shares`]) of the run's energy, CO2e, water, cost and
    /// device-hours; the run and its wall time count whole, as in `aggregate`.
    pub fn add(&mut self, r: &RunRecord, share: f64) {
        self.runs += 1;
        if is_failed(r.status) {
            self.failed_runs += 1;
        }
        if r.kind == ecotrace_core::RecordKind::Estimated {
            self.estimated_runs += 1;
        }
        self.duration += r.duration;
        self.energy.cpu += r.energy_kwh.cpu * share;
        self.energy.gpu += r.energy_kwh.gpu * share;
        self.energy.ram += r.energy_kwh.ram * share;
        self.energy.total += r.energy_kwh.total * share;
        self.operational_kg += r.operational.kg() * share;
        self.embodied_kg.add(embodied_kg(r).map(|v| v * share));
        self.water_l.add(water_l(r).map(|v| v * share));
        self.cost_usd.add(cost_usd(r).map(|v| v * share));
        self.flops.add(flops(r).map(|f| f.0));
        let (gpu, cpu) = device_hours(r, share);
        self.gpu_hours += gpu;
        self.cpu_hours += cpu;
    }

    /// The sums a [`Group`] holds (summed by [`crate::aggregate`] or by the ledger's database);
    /// the figures it does not hold (estimated runs, FLOPs, device-hours) are left at zero.
    pub fn from_group(g: &Group) -> Self {
        let partial = |sum: f64, known: usize| Partial { sum, known };
        Totals {
            runs: g.runs,
            failed_runs: g.failed_runs,
            estimated_runs: 0,
            duration: g.duration,
            energy: g.energy,
            operational_kg: g.operational.kg(),
            embodied_kg: partial(g.embodied.kg(), g.embodied_runs),
            water_l: partial(g.water.litres(), g.water_runs),
            cost_usd: partial(g.cost.usd(), g.cost_runs),
            flops: Partial::default(),
            gpu_hours: 0.0,
            cpu_hours: 0.0,
        }
    }

    /// Totals of `rs`, with the shares that keep a node of a multi-rank job from counting twice.
    pub fn of(rs: &[RunRecord]) -> Self {
        let mut t = Totals::default();
        for (r, share) in rs.iter().zip(shares(rs)) {
            t.add(r, share);
        }
        t
    }
}

/// `share` of a run's GPU-hours and CPU device-hours: its wall time times the GPUs (CPU devices:
/// RAPL packages, or the one modelled CPU) it charged.
pub(crate) fn device_hours(r: &RunRecord, share: f64) -> (f64, f64) {
    let hours = r.duration.as_secs_f64() / 3600.0 * share;
    let count = |k: ComponentKind| r.components.iter().filter(|c| c.component == k).count();
    (
        hours * count(ComponentKind::Gpu) as f64,
        hours * count(ComponentKind::Cpu) as f64,
    )
}

/// Names counted by how many runs used them, most used first (ties by name).
pub(crate) fn ranked(m: BTreeMap<String, usize>) -> Vec<String> {
    let mut v: Vec<(String, usize)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.into_iter().map(|(s, _)| s).collect()
}

/// Counts one use of `name` (allocating it only the first time).
pub(crate) fn count_name(m: &mut BTreeMap<String, usize>, name: &str) {
    match m.get_mut(name) {
        Some(n) => *n += 1,
        None => {
            m.insert(name.to_string(), 1);
        }
    }
}

/// One machine configuration: GPUs grouped by name (`2 x NAME`), then the CPU model.
pub(crate) fn machine_name(r: &RunRecord) -> String {
    let mut parts = gpu_groups(&r.host.gpus);
    if !r.host.cpu_model.trim().is_empty() {
        parts.push(r.host.cpu_model.trim().to_string());
    }
    parts.join(" + ")
}

/// GPU names grouped in order of first appearance: `["2 x NVIDIA A100", "NVIDIA T4"]`.
pub(crate) fn gpu_groups(gpus: &[String]) -> Vec<String> {
    let mut groups: Vec<(String, usize)> = Vec::new();
    for g in gpus {
        match groups.iter_mut().find(|(n, _)| n == g) {
            Some((_, c)) => *c += 1,
            None => groups.push((g.clone(), 1)),
        }
    }
    groups
        .into_iter()
        .map(|(n, c)| if c > 1 { format!("{c} x {n}") } else { n })
        .collect()
}

/// How a set of runs turned energy into CO2e: the PUE and grid intensity used, and their sources.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Grid {
    pub pue_min: f64,
    pub pue_max: f64,
    pub pue_sources: Vec<String>,
    /// Energy-weighted mean intensity (facility energy), gCO2e/kWh; the plain mean when no run
    /// used energy.
    pub intensity_mean: f64,
    pub intensity_min: f64,
    pub intensity_max: f64,
    /// Distinct `zone, source year` descriptions, most runs first.
    pub intensity_sources: Vec<String>,
    /// The same with each source cut before its first parenthesis, for running text.
    pub intensity_sources_short: Vec<String>,
    /// Distinct zones (without `user`/`WORLD` markers removed: as recorded).
    pub zones: Vec<String>,
}

/// [`Grid`] gathered one run at a time.
#[derive(Debug, Clone)]
pub(crate) struct GridAcc {
    runs: usize,
    pue_min: f64,
    pue_max: f64,
    i_min: f64,
    i_max: f64,
    /// Σ intensity × facility energy, Σ facility energy, Σ intensity.
    wsum: f64,
    w: f64,
    plain: f64,
    pue_src: BTreeMap<String, usize>,
    i_src: BTreeMap<String, usize>,
    i_short: BTreeMap<String, usize>,
    zones: BTreeMap<String, usize>,
}

impl Default for GridAcc {
    fn default() -> Self {
        GridAcc {
            runs: 0,
            pue_min: f64::INFINITY,
            pue_max: f64::NEG_INFINITY,
            i_min: f64::INFINITY,
            i_max: f64::NEG_INFINITY,
            wsum: 0.0,
            w: 0.0,
            plain: 0.0,
            pue_src: BTreeMap::new(),
            i_src: BTreeMap::new(),
            i_short: BTreeMap::new(),
            zones: BTreeMap::new(),
        }
    }
}

impl GridAcc {
    pub fn push(&mut self, r: &RunRecord) {
        self.runs += 1;
        let p = r.pue.value.value();
        self.pue_min = self.pue_min.min(p);
        self.pue_max = self.pue_max.max(p);
        let g = r.intensity.value.g_per_kwh();
        self.i_min = self.i_min.min(g);
        self.i_max = self.i_max.max(g);
        let facility = r.energy_kwh.total.kwh() * p;
        if facility.is_finite() && facility > 0.0 {
            self.wsum += g * facility;
            self.w += facility;
        }
        self.plain += g;
        if !r.pue.source.is_empty() {
            count_name(&mut self.pue_src, &r.pue.source);
        }
        count_name(&mut self.i_src, &intensity_source(r));
        count_name(&mut self.i_short, &intensity_source_short(r));
        count_name(&mut self.zones, &r.intensity.zone);
    }

    /// `None` when no run was pushed.
    pub fn finish(self) -> Option<Grid> {
        if self.runs == 0 {
            return None;
        }
        Some(Grid {
            pue_min: self.pue_min,
            pue_max: self.pue_max,
            pue_sources: ranked(self.pue_src),
            intensity_mean: if self.w > 0.0 {
                self.wsum / self.w
            } else {
                self.plain / self.runs as f64
            },
            intensity_min: self.i_min,
            intensity_max: self.i_max,
            intensity_sources: ranked(self.i_src),
            intensity_sources_short: ranked(self.i_short),
            zones: ranked(self.zones),
        })
    }
}

/// `zone FR, Ember 2023` / `world average (WORLD), Ember 2023` / `given by the user (--intensity)`.
pub(crate) fn intensity_source(r: &RunRecord) -> String {
    describe_intensity(r, &r.intensity.source)
}

/// [`intensity_source`] with the source cut before its first parenthesis (the file it was read
/// from), for running text: `zone FR, Electricity Maps 2024 yearly average, life-cycle, zone FR 2024`.
pub(crate) fn intensity_source_short(r: &RunRecord) -> String {
    let s = &r.intensity.source;
    let cut = s.find(" (").map(|i| &s[..i]).unwrap_or(s);
    describe_intensity(r, cut)
}

fn describe_intensity(r: &RunRecord, source: &str) -> String {
    let i = &r.intensity;
    // Sources written by the factor resolver already name their year and basis.
    let year = i
        .year
        .filter(|y| !source.contains(&y.to_string()))
        .map(|y| format!(" {y}"))
        .unwrap_or_default();
    let basis = i
        .grid_basis
        .filter(|b| !source.contains(b.label()))
        .map(|b| format!(", {b}"))
        .unwrap_or_default();
    match i.basis {
        IntensityBasis::Zone => format!("zone {}, {source}{year}{basis}", i.zone),
        IntensityBasis::WorldDefault => {
            format!("world average ({}), {source}{year}{basis}", i.zone)
        }
        IntensityBasis::User => {
            let src = if source.is_empty() {
                "given by the user".to_string()
            } else {
                source.to_string()
            };
            if i.zone.is_empty() || i.zone == "user" {
                format!("{src}{year}")
            } else {
                format!("zone {}, {src}{year}", i.zone)
            }
        }
    }
}

/// One ISO week (Monday to Sunday, UTC) of the trend.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Week {
    /// The Monday the week starts on.
    pub start: NaiveDate,
    pub totals: Totals,
}

impl Week {
    /// `2024-W18`.
    pub fn label(&self) -> String {
        let w = self.start.iso_week();
        format!("{}-W{:02}", w.year(), w.week())
    }
}

/// Most weeks the trend shows; a longer history shows its last this many weeks.
pub(crate) const MAX_WEEKS: usize = 156;

/// Totals per ISO week from the first run's week to the last one's (weeks without runs included,
/// with zero runs), at most [`MAX_WEEKS`] (the latest ones), from the sums per UTC day (keys
/// `YYYY-MM-DD`, as [`crate::GroupBy::Day`] groups).
pub(crate) fn weeks_of_days(days: &[Group]) -> Vec<Week> {
    let mut m: BTreeMap<NaiveDate, Group> = BTreeMap::new();
    for g in days {
        let Ok(d) = NaiveDate::parse_from_str(&g.key, "%Y-%m-%d") else {
            continue;
        };
        let monday = d - Days::days(d.weekday().num_days_from_monday() as i64);
        m.entry(monday).or_default().merge(g);
    }
    let (Some(first), Some(last)) = (m.keys().next().copied(), m.keys().last().copied()) else {
        return Vec::new();
    };
    let mut weeks = Vec::new();
    let mut d = first;
    while d <= last {
        weeks.push(Week {
            start: d,
            totals: m
                .remove(&d)
                .map(|g| Totals::from_group(&g))
                .unwrap_or_default(),
        });
        d += Days::days(7);
    }
    if weeks.len() > MAX_WEEKS {
        weeks.drain(..weeks.len() - MAX_WEEKS);
    }
    weeks
}

/// Whether a higher value of a metric is better, guessed from its name: losses, errors and
/// perplexities are better low; anything else (accuracy, F1, BLEU, ...) high.
pub(crate) fn higher_is_better(metric: &str) -> bool {
    let m = metric.to_ascii_lowercase();
    ![
        "loss",
        "err",
        "perplexity",
        "ppl",
        "mse",
        "mae",
        "rmse",
        "wer",
        "cer",
        "latency",
    ]
    .iter()
    .any(|w| m.contains(w))
}

/// The metric a report plots when none was chosen: `val_accuracy` if any run logged it, else the
/// metric most runs logged (ties by name), from how many runs logged each (`flops` and
/// `total_flos` left out). `None` when no run logged any.
pub(crate) fn default_metric(counts: &BTreeMap<String, usize>) -> Option<String> {
    let counts = counts
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "flops" | "total_flos"));
    let mut best: Option<(&String, usize)> = None;
    for (k, &n) in counts {
        if k == "val_accuracy" {
            return Some(k.clone());
        }
        // Keys come in name order: the first of a tie in count is kept.
        if best.is_none_or(|(_, b)| n > b) {
            best = Some((k, n));
        }
    }
    best.map(|(k, _)| k.clone())
}

/// One run that logged the plotted metric, as the scatter and the front's table show it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plotted {
    /// Operational CO2e, kg.
    pub kg: f64,
    pub metric: f64,
    /// The run's short id, project and phase.
    pub id: String,
    pub project: String,
    pub phase: Phase,
}

/// One run in the metric-against-CO2e scatter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Point {
    /// Index of the run in the points given to [`pareto`].
    pub run: usize,
    /// Operational CO2e, kg.
    pub kg: f64,
    pub metric: f64,
    /// On the Pareto front: no other run is at least as good on the metric for no more CO2e
    /// (and strictly better on one of them).
    pub front: bool,
}

/// The points with the Pareto front of low operational CO2e and a good metric marked, sorted by
/// CO2e.
pub(crate) fn pareto(pts: &[Plotted], higher_better: bool) -> Vec<Point> {
    let mut out: Vec<Point> = pts
        .iter()
        .enumerate()
        .map(|(i, p)| Point {
            run: i,
            kg: p.kg,
            metric: p.metric,
            front: false,
        })
        .collect();
    let better = |a: f64, b: f64| if higher_better { a > b } else { a < b };
    // By CO2e, then best metric first, so the first of a tie in CO2e is the one that counts.
    out.sort_by(|a, b| {
        a.kg.total_cmp(&b.kg).then_with(|| {
            if higher_better {
                b.metric.total_cmp(&a.metric)
            } else {
                a.metric.total_cmp(&b.metric)
            }
        })
    });
    let mut best: Option<f64> = None;
    for p in &mut out {
        if best.is_none_or(|b| better(p.metric, b)) {
            p.front = true;
            best = Some(p.metric);
        }
    }
    out
}

/// Power samples reduced to at most `max` points for a chart: consecutive samples are merged into
/// buckets whose power is the time-weighted mean of the bucket (so the area under the curve, the
/// energy, is kept) and whose time is the bucket's end. Fewer samples than `max` come back as
/// they are. The ledger keeps every sample; this is for drawing only.
pub(crate) fn downsample(samples: &[PowerSample], max: usize) -> Vec<PowerSample> {
    let n = samples.len();
    if n <= max || max == 0 {
        return samples.to_vec();
    }
    let mut out = Vec::with_capacity(max);
    let mut prev_t = 0.0;
    for i in 0..max {
        let (a, b) = (i * n / max, (i + 1) * n / max);
        let part = &samples[a..b];
        let start = prev_t;
        let (mut c, mut g, mut m, mut wsum) = (0.0, 0.0, 0.0, 0.0);
        let mut t0 = start;
        for s in part {
            let dt = s.t_s - t0;
            let w = if dt.is_finite() && dt > 0.0 { dt } else { 0.0 };
            c += s.cpu_w.watts() * w;
            g += s.gpu_w.watts() * w;
            m += s.ram_w.watts() * w;
            wsum += w;
            t0 = s.t_s;
        }
        let mean = |x: f64, f: fn(&PowerSample) -> f64| {
            if wsum > 0.0 {
                x / wsum
            } else {
                part.iter().map(f).sum::<f64>() / part.len() as f64
            }
        };
        let last = part[part.len() - 1];
        out.push(PowerSample {
            t_s: last.t_s,
            cpu_w: ecotrace_core::Power::from_watts(mean(c, |s| s.cpu_w.watts())),
            gpu_w: ecotrace_core::Power::from_watts(mean(g, |s| s.gpu_w.watts())),
            ram_w: ecotrace_core::Power::from_watts(mean(m, |s| s.ram_w.watts())),
        });
        prev_t = last.t_s;
    }
    out
}

/// `kg` of CO2e as everyday equivalents, one phrase each with publisher and year:
/// `0.243 km driven by an average passenger car (US EPA, 2020)`.
pub(crate) fn equivalents(kg: f64) -> Vec<String> {
    ecotrace_data::equivalents()
        .iter()
        .map(|e| {
            format!(
                "{} {} {} ({}, {})",
                num(e.count(kg)),
                e.unit,
                e.label,
                ecotrace_data::publisher(e),
                e.year
            )
        })
        .collect()
}

/// The everyday equivalents of `kg` of operational CO2e as text under a table or summary:
/// wrapped at 80 columns for a terminal, one paragraph for Markdown. Starts by restating the real
/// figure, so the equivalents never stand alone.
pub(crate) fn equivalents_text(kg: f64, markdown: bool) -> String {
    let text = format!(
        "operational CO2e {} is about {}.",
        co2(kg),
        equivalents(kg).join("; ")
    );
    if markdown {
        let mut t = text;
        t[..1].make_ascii_uppercase();
        format!("{t}\n")
    } else {
        let mut out = String::new();
        push_wrapped(&mut out, "", &text, 2, 80);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecotrace_core::Power;

    fn s(t: f64, cpu: f64) -> PowerSample {
        PowerSample {
            t_s: t,
            cpu_w: Power::from_watts(cpu),
            gpu_w: Power::ZERO,
            ram_w: Power::ZERO,
        }
    }

    #[test]
    fn downsampling_keeps_the_energy() {
        let samples: Vec<PowerSample> = (1..=1000)
            .map(|i| s(i as f64 * 0.5, (i % 17) as f64 * 10.0))
            .collect();
        let energy = |v: &[PowerSample]| {
            let mut prev = 0.0;
            v.iter()
                .map(|x| {
                    let e = x.cpu_w.watts() * (x.t_s - prev);
                    prev = x.t_s;
                    e
                })
                .sum::<f64>()
        };
        let d = downsample(&samples, 100);
        assert_eq!(d.len(), 100);
        assert_eq!(d.last().unwrap().t_s, 500.0);
        assert!((energy(&d) - energy(&samples)).abs() < 1e-6);
        assert_eq!(downsample(&samples[..10], 100).len(), 10);
    }

    #[test]
    fn metric_direction_from_its_name() {
        assert!(higher_is_better("val_accuracy"));
        assert!(higher_is_better("bleu"));
        assert!(!higher_is_better("val_loss"));
        assert!(!higher_is_better("test_error_rate"));
        assert!(!higher_is_better("eval_perplexity"));
    }
}
