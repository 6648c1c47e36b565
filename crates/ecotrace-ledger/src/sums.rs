//! Sums of stored runs computed by the database (`GROUP BY`), for `ecotrace report`.
//!
//! Every run row carries, besides its record, typed copies of the figures a report adds up
//! (schema version 3): wall time, energy per component, operational and embodied CO2e, water,
//! cost, the job; and (schema version 5) the basis and signal of the grid intensity its CO2e was
//! charged at. [`Ledger::group_sums`] sums them per group and per basis and signal in SQL, so a
//! report over millions of runs reads a few rows instead of every record, and never adds up
//! figures on different bases without knowing it. Two kinds of runs are not summed in SQL and come
//! back as records instead, for the caller to add:
//!
//! - stored `running` rows: whether one is still running or `interrupted` (a dead tracker) is
//!   judged per row (see [`crate::liveness`]);
//! - machine-scope runs of a job: ranks on one node that overlap in time measured the same node,
//!   and their shares are worked out from the set of them (`ecotrace_report::aggregate`).
//!
//! This module copies figures out of a record; it computes none.
//!
//! [`Ledger::group_sums`]: crate::Ledger::group_sums

use std::time::Duration;

use ecotrace_core::{
    CarbonMass, EmissionSignal, Energy, EnergyBreakdown, GridBasis, RunRecord, RunStatus, Scope,
    Usd, Water,
};

/// What [`crate::Ledger::group_sums`] groups runs by: a stored column or a part of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SumKey {
    Project,
    Phase,
    /// The status as stored (rows summed in SQL are never `running`).
    Status,
    /// The UTC day the run started, `YYYY-MM-DD`.
    Day,
    /// The UTC month the run started, `YYYY-MM`.
    Month,
    /// The job id, `-` for a run outside any job.
    Job,
}

impl SumKey {
    /// The group key of one run, as the SQL of both backends computes it.
    pub fn key(self, r: &RunRecord) -> String {
        match self {
            SumKey::Project => r.project.clone(),
            SumKey::Phase => r.phase.as_str().to_string(),
            SumKey::Status => r.status.as_str().to_string(),
            SumKey::Day => r.started_at.format("%Y-%m-%d").to_string(),
            SumKey::Month => r.started_at.format("%Y-%m").to_string(),
            SumKey::Job => r
                .job
                .as_ref()
                .map_or_else(|| "-".to_string(), |j| j.id.clone()),
        }
    }
}

/// The sums of one group of runs on one intensity basis and signal, as the database added them
/// up: a group whose runs were charged on several comes back as one `RunSums` for each.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunSums {
    pub key: String,
    /// The basis of the intensity the runs were charged at; `None` for a number the user gave
    /// (and for marginal rates, which have no life-cycle/direct basis).
    pub grid_basis: Option<GridBasis>,
    /// Average or marginal intensity.
    pub signal: EmissionSignal,
    pub runs: u64,
    /// Runs stored as `failed`, `failed-to-start` or `interrupted`.
    pub failed_runs: u64,
    pub duration: Duration,
    pub energy: EnergyBreakdown,
    pub operational: CarbonMass,
    /// Over the `embodied_runs` runs that have a figure (likewise water and cost).
    pub embodied: CarbonMass,
    pub embodied_runs: u64,
    pub water: Water,
    pub water_runs: u64,
    pub cost: Usd,
    pub cost_runs: u64,
}

/// What [`crate::Ledger::group_sums`] returns: the groups the database summed, and the runs it left
/// for the caller (stored `running` rows, as reads show them, and machine-scope runs of a job), in
/// `list` order.
#[derive(Debug, Clone, Default)]
pub struct GroupedSums {
    pub groups: Vec<RunSums>,
    pub apart: Vec<RunRecord>,
}

/// The typed columns of one run row (schema version 3).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Figures {
    pub duration_ns: i64,
    pub cpu_j: f64,
    pub gpu_j: f64,
    pub ram_j: f64,
    pub total_j: f64,
    pub operational_g: f64,
    pub embodied_g: Option<f64>,
    pub water_l: Option<f64>,
    pub cost_usd: Option<f64>,
    pub job_id: Option<String>,
    /// 1: read this run as a record rather than summing it in SQL; 0: sum it.
    pub sum_apart: i64,
    /// `lifecycle`, `direct`, or NULL (a number the user gave; marginal rates) (schema 5).
    pub grid_basis: Option<&'static str>,
    /// `average` or `marginal` (schema 5).
    pub signal: &'static str,
}

impl Figures {
    pub fn of(r: &RunRecord) -> Figures {
        let e = &r.energy_kwh;
        let mut f = Figures {
            duration_ns: i64::try_from(r.duration.as_nanos()).unwrap_or(i64::MAX),
            cpu_j: e.cpu.joules(),
            gpu_j: e.gpu.joules(),
            ram_j: e.ram.joules(),
            total_j: e.total.joules(),
            operational_g: r.operational.grams(),
            embodied_g: r.embodied.map(CarbonMass::grams),
            water_l: r.water.map(Water::litres),
            cost_usd: r.cost.map(Usd::usd),
            job_id: r.job.as_ref().map(|j| j.id.clone()),
            sum_apart: 0,
            grid_basis: r.intensity.grid_basis.map(GridBasis::as_str),
            signal: r.intensity.signal.as_str(),
        };
        let numbers = [f.cpu_j, f.gpu_j, f.ram_j, f.total_j, f.operational_g];
        let optional = [f.embodied_g, f.water_l, f.cost_usd];
        // A machine-scope rank of a job shares its node; a non-finite figure (which SQL would
        // store as NULL and leave out of a sum) must reach the sum as it is.
        let odd = numbers
            .iter()
            .chain(optional.iter().flatten())
            .any(|x| !x.is_finite())
            || f.duration_ns == i64::MAX;
        if (r.job.is_some() && r.scope == Scope::Machine) || odd {
            f.sum_apart = 1;
        }
        f
    }

    /// For a row whose record cannot be read: summed apart, so that reading it reports the error.
    pub fn unreadable() -> Figures {
        Figures {
            duration_ns: 0,
            cpu_j: 0.0,
            gpu_j: 0.0,
            ram_j: 0.0,
            total_j: 0.0,
            operational_g: 0.0,
            embodied_g: None,
            water_l: None,
            cost_usd: None,
            job_id: None,
            sum_apart: 1,
            grid_basis: None,
            signal: EmissionSignal::Average.as_str(),
        }
    }
}

/// The SQL select list of a group query (after the key), shared by both backends, which spell
/// the sum of a float column (`fsum`: 0 for no value) and of an integer one (`isum`). The
/// duration is summed as whole seconds and nanoseconds apart, so that the sum is exact and never
/// overflows 64 bits.
pub(crate) fn sum_columns(fsum: impl Fn(&str) -> String, isum: impl Fn(&str) -> String) -> String {
    let failed = [
        RunStatus::Failed,
        RunStatus::FailedToStart,
        RunStatus::Interrupted,
    ]
    .map(|s| format!("'{}'", s.as_str()))
    .join(", ");
    format!(
        "COUNT(*), {}, {}, {}, {}, {}, {}, {}, {}, {}, COUNT(embodied_g), {}, COUNT(water_l), {}, \
         COUNT(cost_usd)",
        isum(&format!("CASE WHEN status IN ({failed}) THEN 1 ELSE 0 END")),
        isum("duration_ns / 1000000000"),
        isum("duration_ns % 1000000000"),
        fsum("cpu_j"),
        fsum("gpu_j"),
        fsum("ram_j"),
        fsum("total_j"),
        fsum("operational_g"),
        fsum("embodied_g"),
        fsum("water_l"),
        fsum("cost_usd"),
    )
}

/// The SQL of a group key; `day` and `month` spell the UTC date of `started_at` to the day or
/// the month in the backend's SQL.
pub(crate) fn key_sql(by: SumKey, day: &'static str, month: &'static str) -> &'static str {
    match by {
        SumKey::Project => "project",
        SumKey::Phase => "phase",
        SumKey::Status => "status",
        SumKey::Day => day,
        SumKey::Month => month,
        SumKey::Job => "COALESCE(job_id, '-')",
    }
}

/// The SQL condition, on a row of `runs`, of a run with hourly rows (both backends).
pub(crate) const WITH_HOURS: &str = "EXISTS (SELECT 1 FROM run_hours h WHERE h.run_id = runs.id)";

/// `filter` without its page (limit and offset): a report covers every run it selects.
pub(crate) fn unpaged(filter: &crate::RunFilter) -> crate::RunFilter {
    crate::RunFilter {
        limit: None,
        offset: 0,
        ..filter.clone()
    }
}

/// The columns a group query selects after its key and sums, and groups by after its key.
pub(crate) const BASIS_COLUMNS: &str = "grid_basis, signal";

/// One result row of `SELECT key, {sum_columns}, {BASIS_COLUMNS}` as read by either backend:
/// `int(i)`, `float(i)` and `text(i)` read column `i`.
pub(crate) fn read_sums<E>(
    key: String,
    int: impl Fn(usize) -> Result<i64, E>,
    float: impl Fn(usize) -> Result<f64, E>,
    text: impl Fn(usize) -> Result<Option<String>, E>,
) -> Result<RunSums, E> {
    let mut ints = [0i64; 7];
    let mut floats = [0f64; 8];
    for (k, i) in [1, 2, 3, 4, 11, 13, 15].into_iter().enumerate() {
        ints[k] = int(i)?;
    }
    for (k, i) in [5, 6, 7, 8, 9, 10, 12, 14].into_iter().enumerate() {
        floats[k] = float(i)?;
    }
    let mut s = sums_from(key, ints, floats);
    s.grid_basis = text(16)?.and_then(|b| b.parse().ok());
    s.signal = match text(17)?.as_deref() {
        Some("marginal") => EmissionSignal::Marginal,
        _ => EmissionSignal::Average,
    };
    Ok(s)
}

/// The sums of one group from its integer and float columns.
fn sums_from(key: String, ints: [i64; 7], floats: [f64; 8]) -> RunSums {
    let [runs, failed, secs, nanos, embodied_runs, water_runs, cost_runs] = ints;
    let [cpu, gpu, ram, total, operational, embodied, water, cost] = floats;
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    RunSums {
        key,
        runs: n(runs),
        failed_runs: n(failed),
        duration: Duration::from_secs(n(secs)) + Duration::from_nanos(n(nanos)),
        energy: EnergyBreakdown {
            cpu: Energy::from_joules(cpu),
            gpu: Energy::from_joules(gpu),
            ram: Energy::from_joules(ram),
            total: Energy::from_joules(total),
        },
        operational: CarbonMass::from_grams(operational),
        embodied: CarbonMass::from_grams(embodied),
        embodied_runs: n(embodied_runs),
        water: Water::from_litres(water),
        water_runs: n(water_runs),
        cost: Usd::from_usd(cost),
        cost_runs: n(cost_runs),
        ..RunSums::default()
    }
}
