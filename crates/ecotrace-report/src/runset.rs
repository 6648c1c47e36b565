//! A set of runs as the published formats (HTML, LaTeX, model card) show it, gathered without
//! holding the runs in memory.
//!
//! Two parts make a [`RunSet`]:
//! - the sums per group ([`Summed`]): per the report's grouping, per phase and per UTC day (the
//!   weekly trend is made from the days). `ecotrace report` has the ledger's database add them up
//!   (`Ledger::group_sums`, with [`crate::aggregate_with`] for the runs it leaves apart);
//!   [`RunSet::of`] adds them up here with [`crate::aggregate`];
//! - one pass over the runs ([`RunDigest`]) for what no sum holds, keeping a bounded amount
//!   whatever the number of runs: counts of distinct names (hardware, methods, grid sources,
//!   zones, projects, metrics), the newest [`MAX_LISTED_RUNS`] runs, the machine-scope ranks of
//!   jobs (their device-hours are shared, as in `aggregate`), and the points of the metric
//!   scatter: every point until [`MAX_KEPT_POINTS`] per metric, then the Pareto front and every
//!   other run of the rest, so that the front is always exact.
//!
//! Both ways give the same set for the same runs; `report_html`, `latex` and `model_card` render a
//! slice of runs through [`RunSet::of`].

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use ecotrace_core::{IntensityBasis, Phase, RecordKind, RunRecord, Scope};

use crate::aggregate::{aggregate, shares, Group, GroupBy};
use crate::figures::{
    self, count_name, default_metric, device_hours, flops, higher_is_better, pareto, GridAcc,
    Partial, Plotted, Point, Totals, Week,
};
use crate::html::{MAX_LISTED_RUNS, MAX_SCATTER_POINTS};
use crate::text::short_id;

/// Most points of one metric kept for the scatter while reading runs; past it the points off
/// the Pareto front are thinned to every other one (the caption says how many runs logged it).
pub const MAX_KEPT_POINTS: usize = 2 * MAX_SCATTER_POINTS;

/// Sums per group of the runs of a set, each as [`crate::aggregate`] returns them (groups sorted by
/// key) for all the runs: by the report's grouping (with the total), by phase and by UTC day.
#[derive(Debug, Clone, Default)]
pub struct Summed {
    pub by: GroupBy,
    pub groups: Vec<Group>,
    pub total: Group,
    pub phases: Vec<Group>,
    pub days: Vec<Group>,
}

/// The points of one metric read so far.
#[derive(Debug, Clone, Default)]
struct MetricPoints {
    /// Runs that logged it (finite value and CO2e).
    seen: usize,
    pts: Vec<Plotted>,
}

impl MetricPoints {
    fn push(&mut self, p: Plotted, higher: bool) {
        self.seen += 1;
        self.pts.push(p);
        if self.pts.len() > MAX_KEPT_POINTS {
            // A run off the front now is never on it later (what beats it stays or is beaten by a
            // newer run), so dropping some of them keeps the front exact.
            let marked = pareto(&self.pts, higher);
            let mut other = 0usize;
            let mut keep: Vec<Plotted> = Vec::with_capacity(marked.len() / 2 + 1);
            for m in marked {
                if !m.front {
                    other += 1;
                    if other.is_multiple_of(2) {
                        continue;
                    }
                }
                keep.push(self.pts[m.run].clone());
            }
            self.pts = keep;
        }
    }
}

/// The metric the scatter plots, with its points.
#[derive(Debug, Clone)]
pub(crate) struct MetricPlot {
    pub name: String,
    pub higher: bool,
    /// Runs that logged it.
    pub runs: usize,
    /// The points kept ([`MAX_KEPT_POINTS`]), and them marked and sorted by [`pareto`].
    pub kept: Vec<Plotted>,
    pub marked: Vec<Point>,
}

/// One pass over the runs of a set (see the module text). Push every run, in any order; then
/// [`RunDigest::finish`] with the sums.
#[derive(Debug, Clone, Default)]
pub struct RunDigest {
    /// The metric to plot (`--metric`); `None`: chosen from the runs.
    metric: Option<String>,
    runs: usize,
    estimated: usize,
    flops: Partial,
    gpu_hours: f64,
    cpu_hours: f64,
    /// Machine-scope runs of a job: their device-hours count with their [`shares`].
    shared: Vec<RunRecord>,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    hardware: BTreeMap<String, usize>,
    methods: BTreeSet<String>,
    grid: GridAcc,
    facility_kwh: f64,
    projects: BTreeSet<String>,
    first_id: Option<String>,
    newest: Vec<RunRecord>,
    metric_counts: BTreeMap<String, usize>,
    points: BTreeMap<String, MetricPoints>,
    /// Distinct `training_type` tags (at most two are kept: only "exactly one" matters).
    training_types: BTreeSet<Option<String>>,
    /// Distinct (basis, zone) of the grid intensities, in the order first seen.
    zones: Vec<(IntensityBasis, String)>,
}

impl RunDigest {
    /// `metric`: the one the scatter plots (`--metric`), else the one chosen from the runs.
    pub fn new(metric: Option<&str>) -> Self {
        RunDigest {
            metric: metric.map(str::to_string),
            ..RunDigest::default()
        }
    }

    pub fn push(&mut self, r: &RunRecord) {
        self.runs += 1;
        if r.kind == RecordKind::Estimated {
            self.estimated += 1;
        }
        if let Some((f, _)) = flops(r) {
            self.flops.sum += f;
            self.flops.known += 1;
        }
        if r.job.is_some() && r.scope == Scope::Machine {
            self.shared.push(r.clone());
        } else {
            let (g, c) = device_hours(r, 1.0);
            self.gpu_hours += g;
            self.cpu_hours += c;
        }
        self.first = Some(self.first.map_or(r.started_at, |t| t.min(r.started_at)));
        self.last = Some(self.last.map_or(r.started_at, |t| t.max(r.started_at)));
        let machine = figures::machine_name(r);
        if !machine.is_empty() {
            count_name(&mut self.hardware, &machine);
        }
        for c in &r.components {
            if !self.methods.contains(c.method.as_str()) {
                self.methods.insert(c.method.as_str().to_string());
            }
        }
        self.grid.push(r);
        self.facility_kwh += r.energy_kwh.total.kwh() * r.pue.value.value();
        if !self.projects.contains(&r.project) {
            self.projects.insert(r.project.clone());
        }
        if self.first_id.is_none() {
            self.first_id = Some(r.id.clone());
        }
        self.keep_newest(r);
        self.push_metrics(r);
        if self.training_types.len() < 2 {
            self.training_types
                .insert(r.tags.get("training_type").cloned());
        }
        let i = &r.intensity;
        if !self
            .zones
            .iter()
            .any(|(b, z)| *b == i.basis && *z == i.zone)
        {
            self.zones.push((i.basis, i.zone.clone()));
        }
    }

    /// Keeps the newest [`MAX_LISTED_RUNS`] runs by start, the first pushed first among equal
    /// starts (runs come newest first from the ledger, so this is cheap there).
    fn keep_newest(&mut self, r: &RunRecord) {
        let at = self
            .newest
            .partition_point(|x| x.started_at >= r.started_at);
        if at < MAX_LISTED_RUNS {
            self.newest.insert(at, r.clone());
            self.newest.truncate(MAX_LISTED_RUNS);
        }
    }

    fn push_metrics(&mut self, r: &RunRecord) {
        let kg = r.operational.kg();
        for (k, &v) in &r.metrics {
            if !matches!(k.as_str(), "flops" | "total_flos") {
                count_name(&mut self.metric_counts, k);
            }
            let wanted = match &self.metric {
                Some(m) => m == k,
                None => !matches!(k.as_str(), "flops" | "total_flos"),
            };
            if !(wanted && v.is_finite() && kg.is_finite()) {
                continue;
            }
            let p = Plotted {
                kg,
                metric: v,
                id: short_id(&r.id),
                project: r.project.clone(),
                phase: r.phase,
            };
            let higher = higher_is_better(k);
            match self.points.get_mut(k) {
                Some(m) => m.push(p, higher),
                None => {
                    let mut m = MetricPoints::default();
                    m.push(p, higher);
                    self.points.insert(k.clone(), m);
                }
            }
        }
    }

    /// The set: `sums` of the same runs, and what this pass gathered.
    pub fn finish(mut self, sums: Summed) -> RunSet {
        let shared = std::mem::take(&mut self.shared);
        for (r, share) in shared.iter().zip(shares(&shared)) {
            let (g, c) = device_hours(r, share);
            self.gpu_hours += g;
            self.cpu_hours += c;
        }
        let mut totals = Totals::from_group(&sums.total);
        totals.estimated_runs = self.estimated;
        totals.flops = self.flops;
        totals.gpu_hours = self.gpu_hours;
        totals.cpu_hours = self.cpu_hours;
        let phases = Phase::ALL
            .iter()
            .filter_map(|p| {
                let g = sums.phases.iter().find(|g| g.key == p.as_str())?;
                Some((*p, Totals::from_group(g)))
            })
            .collect();
        let chosen = self
            .metric
            .clone()
            .or_else(|| default_metric(&self.metric_counts));
        let metric = chosen.map(|name| {
            let higher = higher_is_better(&name);
            let points = self.points.remove(&name).unwrap_or_default();
            let marked = pareto(&points.pts, higher);
            MetricPlot {
                name,
                higher,
                runs: points.seen,
                kept: points.pts,
                marked,
            }
        });
        let locations = self.zones.iter().fold(Vec::new(), |mut seen, (b, z)| {
            let text = crate::model_card::location_text(*b, z);
            if !seen.contains(&text) {
                seen.push(text);
            }
            seen
        });
        RunSet {
            weeks: figures::weeks_of_days(&sums.days),
            by: sums.by,
            groups: sums.groups,
            total: sums.total,
            totals,
            phases,
            first: self.first,
            last: self.last,
            hardware: figures::ranked(self.hardware),
            methods: self.methods.into_iter().collect(),
            grid: self.grid.finish(),
            facility_kwh: self.facility_kwh,
            projects: self.projects,
            single_id: (self.runs == 1).then_some(self.first_id).flatten(),
            newest: self.newest,
            metric,
            training_types: self.training_types,
            locations,
        }
    }
}

/// A set of runs, summed and described, for the published formats (see the module text).
#[derive(Debug, Clone)]
pub struct RunSet {
    pub(crate) by: GroupBy,
    /// Per the grouping, and over all runs (key `total`).
    pub(crate) groups: Vec<Group>,
    pub(crate) total: Group,
    pub(crate) totals: Totals,
    /// In the life-cycle order of [`Phase::ALL`]; phases without runs left out.
    pub(crate) phases: Vec<(Phase, Totals)>,
    pub(crate) weeks: Vec<Week>,
    pub(crate) first: Option<DateTime<Utc>>,
    pub(crate) last: Option<DateTime<Utc>>,
    pub(crate) hardware: Vec<String>,
    pub(crate) methods: Vec<String>,
    pub(crate) grid: Option<figures::Grid>,
    /// Σ IT energy × PUE, kWh (each run with its own PUE).
    pub(crate) facility_kwh: f64,
    pub(crate) projects: BTreeSet<String>,
    /// The id of the run when the set holds exactly one.
    pub(crate) single_id: Option<String>,
    /// The newest [`MAX_LISTED_RUNS`] runs, newest first.
    pub(crate) newest: Vec<RunRecord>,
    pub(crate) metric: Option<MetricPlot>,
    pub(crate) training_types: BTreeSet<Option<String>>,
    /// Where the runs ran, as the model card names it, each once in the order first seen.
    pub(crate) locations: Vec<String>,
}

impl RunSet {
    /// The newest runs kept (at most [`MAX_LISTED_RUNS`]), newest first.
    pub fn newest(&self) -> &[RunRecord] {
        &self.newest
    }

    /// The set of `rs`, summed here (grouped `by`), with `metric` plotted (`None`: chosen).
    pub fn of(rs: &[RunRecord], by: GroupBy, metric: Option<&str>) -> RunSet {
        let mut d = RunDigest::new(metric);
        for r in rs {
            d.push(r);
        }
        d.finish(Summed::of(rs, by))
    }

    /// How many runs the set holds.
    pub fn runs(&self) -> usize {
        self.totals.runs
    }
}

impl Summed {
    /// The sums of `rs`, added up here.
    pub fn of(rs: &[RunRecord], by: GroupBy) -> Summed {
        let (groups, total) = aggregate(rs, by);
        Summed {
            by,
            groups,
            total,
            phases: aggregate(rs, GroupBy::Phase).0,
            days: aggregate(rs, GroupBy::Day).0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::tests::run;
    use ecotrace_core::{ComponentEnergy, ComponentKind, Energy, Method, Power};

    fn gpu(r: &mut RunRecord, n: usize) {
        for i in 0..n {
            r.components.push(ComponentEnergy {
                component: ComponentKind::Gpu,
                device: format!("gpu{i}"),
                energy: Energy::from_kwh(0.1),
                mean_power: Power::ZERO,
                peak_power: Power::ZERO,
                method: Method::Rapl,
                figures: Default::default(),
                note: String::new(),
            });
        }
    }

    /// Ranks of a job sharing nodes, runs outside jobs, estimates and logged FLOPs, pushed in no
    /// particular order.
    fn mixed() -> Vec<RunRecord> {
        let mut rs = Vec::new();
        for i in 0..240i64 {
            let job = (i % 3 == 0).then_some("slurm:7");
            let scope = if i % 2 == 0 { "machine" } else { "process" };
            let start = (i * 7919) % 5000 + (i % 4) * 30;
            let mut r = run(job, &format!("n{}", i % 2), scope, start, 600.0, 0.5);
            r.id = format!("run-{i:04}");
            gpu(&mut r, 1 + (i % 2) as usize);
            if i % 5 == 0 {
                r.kind = RecordKind::Estimated;
            }
            if i % 4 == 0 {
                r.metrics.insert("flops".into(), 1e15 * i as f64);
            }
            rs.push(r);
        }
        rs
    }

    #[test]
    fn totals_are_those_of_every_run_with_shares() {
        let rs = mixed();
        let set = RunSet::of(&rs, GroupBy::Job, None);
        let want = Totals::of(&rs);
        let t = &set.totals;
        assert_eq!(
            (t.runs, t.failed_runs, t.estimated_runs, t.flops.known),
            (
                want.runs,
                want.failed_runs,
                want.estimated_runs,
                want.flops.known
            )
        );
        assert!(want.gpu_hours > 0.0 && want.flops.sum > 0.0);
        for (a, b) in [
            (t.gpu_hours, want.gpu_hours),
            (t.cpu_hours, want.cpu_hours),
            (t.flops.sum, want.flops.sum),
            (t.operational_kg, want.operational_kg),
            (t.energy.total.kwh(), want.energy.total.kwh()),
        ] {
            assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} != {b}");
        }
        // Shared ranks count for their share: the whole-run sum is larger.
        let whole: f64 = rs.iter().map(|r| figures::device_hours(r, 1.0).0).sum();
        assert!(t.gpu_hours < whole - 1.0, "{} vs {whole}", t.gpu_hours);
        // The newest runs, newest first, the earlier of equal starts first.
        let mut sorted: Vec<&RunRecord> = rs.iter().collect();
        sorted.sort_by_key(|r| std::cmp::Reverse(r.started_at));
        let ids = |v: Vec<&RunRecord>| v.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(set.newest.iter().collect()),
            ids(sorted[..MAX_LISTED_RUNS].to_vec())
        );
    }

    #[test]
    fn the_front_stays_exact_when_points_are_thinned() {
        let n = 5 * MAX_KEPT_POINTS + 17;
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut d = RunDigest::new(Some("val_accuracy"));
        let mut all = Vec::new();
        let template = run(None, "n", "process", 0, 60.0, 1.0);
        for i in 0..n {
            let mut r = template.clone();
            r.id = format!("{i:08}");
            r.operational = ecotrace_core::CarbonMass::from_kg(next());
            let m = next();
            r.metrics.insert("val_accuracy".into(), m * m);
            d.push(&r);
            all.push(Plotted {
                kg: r.operational.kg(),
                metric: m * m,
                id: r.id.clone(),
                project: r.project.clone(),
                phase: r.phase,
            });
        }
        let set = d.finish(Summed::default());
        let plot = set.metric.unwrap();
        assert_eq!(plot.runs, n);
        assert!(plot.kept.len() <= MAX_KEPT_POINTS, "{}", plot.kept.len());
        let front = |pts: &[Plotted], marked: &[Point]| {
            marked
                .iter()
                .filter(|p| p.front)
                .map(|p| pts[p.run].id.clone())
                .collect::<Vec<_>>()
        };
        let want = front(&all, &pareto(&all, true));
        assert!(want.len() > 3);
        assert_eq!(front(&plot.kept, &plot.marked), want);
    }
}
