//! Aggregation of runs into groups (by phase, project, day, month, status or job) with totals.
//!
//! Pure sums over the figures stored in each record: nothing is recomputed from components or
//! factors here, so a group's numbers are the sum of the runs' own numbers — with one exception,
//! so that a node is never counted twice: machine-scope runs of the same job on the same node that
//! overlap in time each measured the whole node, so each counts for its share (see [`shares`]).
//! Rendering of the groups lives in `report`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use ecotrace_core::{
    CarbonMass, EmissionSignal, EnergyBreakdown, GridBasis, ParseEnumError, RunRecord, RunStatus,
    Scope, Usd, Water,
};

/// What to group runs by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GroupBy {
    /// The run's phase (`training`, `inference`, ...).
    Phase,
    /// The run's project name (the default).
    #[default]
    Project,
    /// The UTC day the run started, `YYYY-MM-DD`.
    Day,
    /// The UTC month the run started, `YYYY-MM`.
    Month,
    /// The run's status (`finished`, `failed`, ...).
    Status,
    /// The distributed job (`slurm:123`, `torchrun:...`, `--job`), summed over all its nodes and
    /// ranks; runs outside any job are grouped as `-`.
    Job,
}

impl GroupBy {
    pub const ALL: &'static [GroupBy] = &[
        GroupBy::Phase,
        GroupBy::Project,
        GroupBy::Day,
        GroupBy::Month,
        GroupBy::Status,
        GroupBy::Job,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Phase => "phase",
            GroupBy::Project => "project",
            GroupBy::Day => "day",
            GroupBy::Month => "month",
            GroupBy::Status => "status",
            GroupBy::Job => "job",
        }
    }

    /// The group key of one run.
    pub fn key(self, r: &RunRecord) -> String {
        match self {
            GroupBy::Phase => r.phase.as_str().to_string(),
            GroupBy::Project => r.project.clone(),
            GroupBy::Day => r.started_at.format("%Y-%m-%d").to_string(),
            GroupBy::Month => r.started_at.format("%Y-%m").to_string(),
            GroupBy::Status => r.status.as_str().to_string(),
            GroupBy::Job => r
                .job
                .as_ref()
                .map_or_else(|| "-".to_string(), |j| j.id.clone()),
        }
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GroupBy {
    type Err = ParseEnumError;
    /// Case-insensitive, surrounding spaces ignored; the error lists the valid names.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        GroupBy::ALL
            .iter()
            .copied()
            .find(|g| g.as_str() == t)
            .ok_or_else(|| ParseEnumError {
                what: "group-by",
                got: s.to_string(),
                expected: GroupBy::ALL
                    .iter()
                    .map(|g| g.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// How many runs were charged at each kind of grid intensity. CO2e figures on different bases
/// (life-cycle, direct) or signals (average, marginal) are not comparable: a report that adds up
/// runs says which one its totals are on, and names the mix when there are several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BasisMix {
    /// Average intensity, life-cycle emissions.
    pub lifecycle: usize,
    /// Average intensity, direct (combustion) emissions.
    pub direct: usize,
    /// Marginal emission rates (WattTime's MOER).
    pub marginal: usize,
    /// No stated basis: an intensity the user gave as a number.
    pub unstated: usize,
}

impl BasisMix {
    /// `runs` runs charged on `basis` and `signal`.
    pub fn of(basis: Option<GridBasis>, signal: EmissionSignal, runs: usize) -> Self {
        let mut m = BasisMix::default();
        *match (signal, basis) {
            (EmissionSignal::Marginal, _) => &mut m.marginal,
            (_, Some(GridBasis::Lifecycle)) => &mut m.lifecycle,
            (_, Some(GridBasis::Direct)) => &mut m.direct,
            (_, None) => &mut m.unstated,
        } += runs;
        m
    }

    /// The run's.
    pub fn of_run(r: &RunRecord) -> Self {
        BasisMix::of(r.intensity.grid_basis, r.intensity.signal, 1)
    }

    /// The runs'.
    pub fn of_runs(rs: &[RunRecord]) -> Self {
        let mut m = BasisMix::default();
        for r in rs {
            m.add(&BasisMix::of_run(r));
        }
        m
    }

    pub fn add(&mut self, o: &BasisMix) {
        self.lifecycle += o.lifecycle;
        self.direct += o.direct;
        self.marginal += o.marginal;
        self.unstated += o.unstated;
    }

    /// Each kind with its runs: (id, label, runs).
    fn parts(&self) -> [(&'static str, &'static str, usize); 4] {
        [
            ("lifecycle", "life-cycle", self.lifecycle),
            ("direct", "direct", self.direct),
            ("marginal", "marginal", self.marginal),
            ("unstated", "user-given", self.unstated),
        ]
    }

    /// `lifecycle`, `direct`, `marginal` or `unstated` when every run is on it, `mixed` when
    /// they are on several, `none` without runs.
    pub fn id(&self) -> &'static str {
        let mut on = self.parts().into_iter().filter(|p| p.2 > 0);
        match (on.next(), on.next()) {
            (None, _) => "none",
            (Some(p), None) => p.0,
            (Some(_), Some(_)) => "mixed",
        }
    }

    /// The kind in words (`life-cycle`, `direct`, `marginal`, `user-given`), or
    /// `mixed` / `-`.
    pub fn label(&self) -> &'static str {
        match self.id() {
            "none" => "-",
            "mixed" => "mixed",
            id => self
                .parts()
                .into_iter()
                .find(|p| p.0 == id)
                .map_or("-", |p| p.1),
        }
    }

    /// `3 life-cycle, 2 direct, 1 marginal`.
    pub fn describe(&self) -> String {
        self.parts()
            .into_iter()
            .filter(|p| p.2 > 0)
            .map(|p| format!("{} {}", p.2, p.1))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The line a report prints under its totals: the basis they are on, or the mix they add up.
    pub fn statement(&self) -> String {
        match self.id() {
            "none" => "Grid intensity basis: no runs.".to_string(),
            "mixed" => format!(
                "Mixed grid intensities: these totals add up CO2e charged on different bases or \
                 signals ({}), which are not comparable with each other.",
                self.describe()
            ),
            "marginal" => "Grid intensity: marginal emission rates (every run), not comparable \
                           with average intensities."
                .to_string(),
            _ => format!("Grid intensity basis: {} (every run).", self.label()),
        }
    }
}

/// Sums over a set of runs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Group {
    /// The group key (`training`, `vision`, `2024-05-01`, `failed`); `total` for the total.
    pub key: String,
    /// Runs in the group, whatever their status.
    pub runs: usize,
    /// Runs that did not finish: `failed`, `failed-to-start` or `interrupted` (see [`is_failed`]).
    /// Their energy and CO2e are included in the sums: that energy was spent.
    pub failed_runs: usize,
    /// Sum of the runs' wall times.
    pub duration: Duration,
    /// Sum of the runs' IT energy (before PUE), by component kind.
    pub energy: EnergyBreakdown,
    /// Sum of the runs' operational CO2e (each run with its own PUE and grid intensity).
    pub operational: CarbonMass,
    /// Sum of the runs' embodied CO2e (SCI M), over the `embodied_runs` runs that have one. Kept
    /// apart from `operational`, never added to it.
    pub embodied: CarbonMass,
    pub embodied_runs: usize,
    /// Sum of the runs' water, over the `water_runs` runs that have a figure.
    pub water: Water,
    pub water_runs: usize,
    /// Sum of the runs' cost, over the `cost_runs` runs with a known price.
    pub cost: Usd,
    pub cost_runs: usize,
    /// The runs by the basis and signal of the intensity their CO2e was charged at.
    pub bases: BasisMix,
}

impl Group {
    fn empty(key: String) -> Self {
        Group {
            key,
            ..Group::default()
        }
    }

    /// Adds the sums of `o` (a part of the same group).
    pub fn merge(&mut self, o: &Group) {
        self.runs += o.runs;
        self.failed_runs += o.failed_runs;
        self.duration += o.duration;
        self.energy.cpu += o.energy.cpu;
        self.energy.gpu += o.energy.gpu;
        self.energy.ram += o.energy.ram;
        self.energy.total += o.energy.total;
        self.operational += o.operational;
        self.embodied += o.embodied;
        self.embodied_runs += o.embodied_runs;
        self.water += o.water;
        self.water_runs += o.water_runs;
        self.cost += o.cost;
        self.cost_runs += o.cost_runs;
        self.bases.add(&o.bases);
    }

    /// Adds `share` (0..=1) of the run's energy and CO2e; the run and its wall time count whole.
    fn add(&mut self, r: &RunRecord, share: f64) {
        self.runs += 1;
        self.bases.add(&BasisMix::of_run(r));
        if is_failed(r.status) {
            self.failed_runs += 1;
        }
        self.duration += r.duration;
        self.energy.cpu += r.energy_kwh.cpu * share;
        self.energy.gpu += r.energy_kwh.gpu * share;
        self.energy.ram += r.energy_kwh.ram * share;
        self.energy.total += r.energy_kwh.total * share;
        self.operational += r.operational * share;
        if let Some(e) = r.embodied {
            self.embodied += e * share;
            self.embodied_runs += 1;
        }
        if let Some(w) = r.water {
            self.water += w * share;
            self.water_runs += 1;
        }
        if let Some(c) = r.cost {
            self.cost += c * share;
            self.cost_runs += 1;
        }
    }
}

/// Whether a status counts as a failed run in reports: `failed`, `failed-to-start`, `interrupted`.
/// `running` and `finished` do not.
pub fn is_failed(s: RunStatus) -> bool {
    matches!(
        s,
        RunStatus::Failed | RunStatus::FailedToStart | RunStatus::Interrupted
    )
}

/// The share of each run's energy and CO2e that sums count, in the order of `rs`.
///
/// 1 for every run, except machine-scope runs of one job on one node (`job.id`, `job.node`) whose
/// times overlap: each of them measured the whole node over the same time (several ranks, one
/// `ecotrace run` each), so the node's energy is split among them — each counts `1/k` for a
/// cluster of `k` runs linked by overlapping times — rather than repeated `k` times.
/// Process-scope runs charge disjoint process trees and always count whole.
pub fn shares(rs: &[RunRecord]) -> Vec<f64> {
    let mut out = vec![1.0; rs.len()];
    let mut by_node: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, r) in rs.iter().enumerate() {
        if let (Some(j), Scope::Machine) = (&r.job, r.scope) {
            by_node.entry((&j.id, &j.node)).or_default().push(i);
        }
    }
    let span = |r: &RunRecord| {
        let start = r.started_at;
        let end = start + chrono::Duration::from_std(r.duration).unwrap_or(chrono::Duration::MAX);
        (start, end.max(start))
    };
    for mut idx in by_node.into_values() {
        idx.sort_by_key(|&i| span(&rs[i]).0);
        // Sweep in start order: a run joins the current cluster if it starts before the cluster
        // has ended.
        let mut cluster: Vec<usize> = Vec::new();
        let mut cluster_end = None;
        let mut flush = |cluster: &mut Vec<usize>| {
            let k = cluster.len() as f64;
            for &i in cluster.iter() {
                out[i] = 1.0 / k;
            }
            cluster.clear();
        };
        for i in idx {
            let (start, end) = span(&rs[i]);
            match cluster_end {
                Some(e) if start < e => {
                    cluster.push(i);
                    cluster_end = Some(e.max(end));
                }
                _ => {
                    flush(&mut cluster);
                    cluster.push(i);
                    cluster_end = Some(end);
                }
            }
        }
        flush(&mut cluster);
    }
    out
}

/// Groups runs by `by` and sums each group. Groups are sorted by key (byte order, so days sort
/// chronologically); the second value is the total over all runs, with key `total`. Every run is
/// counted, including failed and still-running ones; energy and CO2e with the [`shares`] that keep
/// a node of a multi-rank job from being counted twice.
pub fn aggregate(rs: &[RunRecord], by: GroupBy) -> (Vec<Group>, Group) {
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut total = Group::empty("total".to_string());
    for (r, share) in rs.iter().zip(shares(rs)) {
        let key = by.key(r);
        groups
            .entry(key.clone())
            .or_insert_with(|| Group::empty(key))
            .add(r, share);
        total.add(r, share);
    }
    (groups.into_values().collect(), total)
}

/// [`aggregate`] for groups summed elsewhere (by the ledger's database): `summed` are partial
/// groups (any order, a key may come more than once), `rest` the runs not in them, which are
/// grouped here with their [`shares`]. Returns what [`aggregate`] returns for all the runs.
pub fn aggregate_with(summed: Vec<Group>, rest: &[RunRecord], by: GroupBy) -> (Vec<Group>, Group) {
    let (rest_groups, _) = aggregate(rest, by);
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut total = Group::empty("total".to_string());
    for g in summed.iter().chain(&rest_groups) {
        total.merge(g);
        groups
            .entry(g.key.clone())
            .or_insert_with(|| Group::empty(g.key.clone()))
            .merge(g);
    }
    (groups.into_values().collect(), total)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A finished run of `kwh` on `node` of `job`, `scope`, started at second `start` for `secs`.
    pub(crate) fn run(
        job: Option<&str>,
        node: &str,
        scope: &str,
        start: i64,
        secs: f64,
        kwh: f64,
    ) -> RunRecord {
        let started = chrono::DateTime::from_timestamp(1_700_000_000 + start, 0).unwrap();
        let job =
            job.map(|j| serde_json::json!({"id": j, "source": "slurm", "node": node, "rank": 0}));
        serde_json::from_value(serde_json::json!({
            "record_version": 1, "id": format!("{node}-{start}"), "project": "p", "phase": "training",
            "command": ["x"], "status": "finished", "exit_code": 0, "signal": null, "error": null,
            "started_at": started, "ended_at": null, "duration_s": secs, "scope": scope,
            "host": {"hostname": node, "cpu_model": "c", "cpu_count": 8, "memory_gb": 16.0, "gpus": [], "os": "linux"},
            "energy_kwh": {"cpu": kwh, "gpu": 0.0, "ram": 0.0, "total": kwh},
            "components": [], "mean_power_w": 0.0,
            "pue": {"value": 1.0, "source": "t"},
            "intensity": {"g_per_kwh": 100.0, "zone": "FR", "source": "t", "year": 2023, "basis": "zone"},
            "operational_kgco2e": kwh * 0.1,
            "tracker": {"version": "0", "interval_s": 1.0, "pid": 1},
            "job": job,
        }))
        .unwrap()
    }

    #[test]
    fn ranks_on_one_node_split_the_node_instead_of_repeating_it() {
        let rs = vec![
            // Job A: 4 ranks on node n1 at the same time, each measured the whole node (1 kWh).
            run(Some("slurm:1"), "n1", "machine", 0, 100.0, 1.0),
            run(Some("slurm:1"), "n1", "machine", 1, 100.0, 1.0),
            run(Some("slurm:1"), "n1", "machine", 2, 100.0, 1.0),
            run(Some("slurm:1"), "n1", "machine", 3, 100.0, 1.0),
            // ... and 2 ranks on node n2: 3 kWh for that node.
            run(Some("slurm:1"), "n2", "machine", 0, 100.0, 3.0),
            run(Some("slurm:1"), "n2", "machine", 0, 100.0, 3.0),
            // Later on n1, after the first ranks ended: a new step, counted whole.
            run(Some("slurm:1"), "n1", "machine", 500, 100.0, 2.0),
            // Process-scope ranks charge their own trees: summed as they are.
            run(Some("slurm:2"), "n1", "process", 0, 100.0, 0.25),
            run(Some("slurm:2"), "n1", "process", 0, 100.0, 0.5),
            // No job: never split, even in machine scope.
            run(None, "n1", "machine", 0, 100.0, 7.0),
            run(None, "n1", "machine", 0, 100.0, 7.0),
        ];
        let s = shares(&rs);
        assert_eq!(&s[..7], &[0.25, 0.25, 0.25, 0.25, 0.5, 0.5, 1.0]);
        assert_eq!(&s[7..], &[1.0; 4]);
        let (groups, total) = aggregate(&rs, GroupBy::Job);
        let keys: Vec<&str> = groups.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, ["-", "slurm:1", "slurm:2"]);
        let kwh = |g: &Group| g.energy.total.kwh();
        assert!((kwh(&groups[1]) - (1.0 + 3.0 + 2.0)).abs() < 1e-12);
        assert_eq!(groups[1].runs, 7);
        assert!((kwh(&groups[2]) - 0.75).abs() < 1e-12);
        assert!((kwh(&groups[0]) - 14.0).abs() < 1e-12);
        assert!((groups[1].operational.kg() - 0.6).abs() < 1e-12);
        assert!((kwh(&total) - 20.75).abs() < 1e-12);
        // Every grouping counts the node once.
        let (_, by_project) = aggregate(&rs, GroupBy::Project);
        assert!((kwh(&by_project) - 20.75).abs() < 1e-12);
    }
}
