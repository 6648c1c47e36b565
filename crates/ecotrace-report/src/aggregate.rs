//! Aggregation of runs into groups (by phase, project, day or status) with totals.
//!
//! Pure sums over the figures stored in each record: nothing is recomputed from components or
//! factors here, so a group's numbers are exactly the sum of the runs' own numbers. Rendering of the
//! groups lives in `report`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use ecotrace_core::{CarbonMass, EnergyBreakdown, ParseEnumError, RunRecord, RunStatus};

/// What to group runs by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupBy {
    /// The run's phase (`training`, `inference`, ...).
    Phase,
    /// The run's project name.
    Project,
    /// The UTC day the run started, `YYYY-MM-DD`.
    Day,
    /// The run's status (`finished`, `failed`, ...).
    Status,
}

impl GroupBy {
    pub const ALL: &'static [GroupBy] = &[
        GroupBy::Phase,
        GroupBy::Project,
        GroupBy::Day,
        GroupBy::Status,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Phase => "phase",
            GroupBy::Project => "project",
            GroupBy::Day => "day",
            GroupBy::Status => "status",
        }
    }

    /// The group key of one run.
    pub fn key(self, r: &RunRecord) -> String {
        match self {
            GroupBy::Phase => r.phase.as_str().to_string(),
            GroupBy::Project => r.project.clone(),
            GroupBy::Day => r.started_at.format("%Y-%m-%d").to_string(),
            GroupBy::Status => r.status.as_str().to_string(),
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
}

impl Group {
    fn empty(key: String) -> Self {
        Group {
            key,
            ..Group::default()
        }
    }

    fn add(&mut self, r: &RunRecord) {
        self.runs += 1;
        if is_failed(r.status) {
            self.failed_runs += 1;
        }
        self.duration += r.duration;
        self.energy.cpu += r.energy_kwh.cpu;
        self.energy.gpu += r.energy_kwh.gpu;
        self.energy.ram += r.energy_kwh.ram;
        self.energy.total += r.energy_kwh.total;
        self.operational += r.operational;
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

/// Groups runs by `by` and sums each group. Groups are sorted by key (byte order, so days sort
/// chronologically); the second value is the total over all runs, with key `total`. Every run is
/// counted, including failed and still-running ones.
pub fn aggregate(rs: &[RunRecord], by: GroupBy) -> (Vec<Group>, Group) {
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut total = Group::empty("total".to_string());
    for r in rs {
        let key = by.key(r);
        groups
            .entry(key.clone())
            .or_insert_with(|| Group::empty(key))
            .add(r);
        total.add(r);
    }
    (groups.into_values().collect(), total)
}
