//! Serving: the work a model server did (requests, prompt and generated tokens), the energy it
//! drew per hour with idle intervals apart from active ones, named windows inside a run, and the
//! per-unit figures derived from them (per request, per 1,000 generated tokens). Pure data and
//! arithmetic; the counting itself (Prometheus scrapes, `tracker.count()`) is in
//! `ecotrace-tracker`. Field names are an interface: see `docs/run-record.md` and
//! `docs/serving.md`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::footprint;
use crate::units::{serde_as, CarbonIntensity, CarbonMass, Energy, Fraction, Power, Pue, Water};
use crate::EnergyBreakdown;

/// Units of work counted: requests served, prompt tokens read, tokens generated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkCounts {
    pub requests: u64,
    pub prompt_tokens: u64,
    pub generated_tokens: u64,
}

impl WorkCounts {
    pub fn is_zero(&self) -> bool {
        self.requests == 0 && self.prompt_tokens == 0 && self.generated_tokens == 0
    }
}

impl std::ops::AddAssign for WorkCounts {
    fn add_assign(&mut self, o: WorkCounts) {
        self.requests += o.requests;
        self.prompt_tokens += o.prompt_tokens;
        self.generated_tokens += o.generated_tokens;
    }
}

/// Figures per unit of work: per request and per 1,000 generated tokens. `None` where there was
/// no such work (never a division by zero).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PerUnit {
    /// IT energy (before PUE) per request, Wh.
    pub energy_wh_per_request: Option<f64>,
    /// IT energy per 1,000 generated tokens, Wh.
    pub energy_wh_per_1k_tokens: Option<f64>,
    /// Operational CO2e per request, kg.
    pub kgco2e_per_request: Option<f64>,
    pub kgco2e_per_1k_tokens: Option<f64>,
    /// Embodied CO2e (SCI M) per request, kg; `None` also when embodied carbon was not assessed.
    pub embodied_kgco2e_per_request: Option<f64>,
    pub embodied_kgco2e_per_1k_tokens: Option<f64>,
    /// Water (on-site + off-site) per request, litres; `None` also when water was not assessed.
    pub water_l_per_request: Option<f64>,
    pub water_l_per_1k_tokens: Option<f64>,
}

/// The footprint a unit figure is divided out of.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Footprint {
    pub energy: Energy,
    pub operational: CarbonMass,
    pub embodied: Option<CarbonMass>,
    pub water: Option<Water>,
}

impl PerUnit {
    /// `footprint` divided by the requests and by thousands of generated tokens.
    pub fn derive(footprint: Footprint, work: WorkCounts) -> PerUnit {
        PerUnit::per(
            footprint,
            work.requests as f64,
            work.generated_tokens as f64,
        )
    }

    /// [`PerUnit::derive`] for work given as numbers (an estimate's requests per day × days,
    /// which need not be whole); 0 or less (or not finite) gives no figure.
    pub fn per(footprint: Footprint, requests: f64, generated_tokens: f64) -> PerUnit {
        let per = |x: f64, n: f64, scale: f64| (n.is_finite() && n > 0.0).then(|| x * scale / n);
        let req = |x: f64| per(x, requests, 1.0);
        let tok = |x: f64| per(x, generated_tokens, 1000.0);
        let emb = footprint.embodied.map(|c| c.kg());
        let wat = footprint.water.map(|w| w.litres());
        PerUnit {
            energy_wh_per_request: req(footprint.energy.wh()),
            energy_wh_per_1k_tokens: tok(footprint.energy.wh()),
            kgco2e_per_request: req(footprint.operational.kg()),
            kgco2e_per_1k_tokens: tok(footprint.operational.kg()),
            embodied_kgco2e_per_request: emb.and_then(req),
            embodied_kgco2e_per_1k_tokens: emb.and_then(tok),
            water_l_per_request: wat.and_then(req),
            water_l_per_1k_tokens: wat.and_then(tok),
        }
    }
}

/// A provisioned deployment's power: devices draw `idle` with no request in flight and `busy`
/// while serving, busy `busy_fraction` of the time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Provisioned {
    pub idle: Power,
    pub busy: Power,
    pub busy_fraction: Fraction,
}

impl Provisioned {
    /// Mean power of one device: `idle × (1 − F) + busy × F`.
    pub fn mean_power(&self) -> Power {
        let f = self.busy_fraction.value();
        self.idle * (1.0 - f) + self.busy * f
    }

    /// Share of the energy drawn with no request in flight: `idle × (1 − F) / mean` (the same
    /// meaning as a measured run's `serving.idle_share`).
    pub fn idle_share(&self) -> Option<f64> {
        let mean = self.mean_power();
        (mean > Power::ZERO).then(|| (self.idle * (1.0 - self.busy_fraction.value())) / mean)
    }

    /// Share of the energy the deployment draws whether or not requests arrive: `idle / mean`.
    pub fn idle_floor_share(&self) -> Option<f64> {
        let mean = self.mean_power();
        (mean > Power::ZERO).then(|| (self.idle / mean).min(1.0))
    }

    /// Share of the energy drawn while serving requests: `busy × F / mean`; what an estimate
    /// from per-request energy alone would count.
    pub fn busy_share(&self) -> Option<f64> {
        let mean = self.mean_power();
        (mean > Power::ZERO).then(|| (self.busy * self.busy_fraction.value()) / mean)
    }
}

/// Energy of one generated token from a benchmark figure: power ÷ throughput.
pub fn energy_per_token(power: Power, tokens_per_second: f64) -> Energy {
    if tokens_per_second.is_finite() && tokens_per_second > 0.0 {
        Energy::from_joules(power.watts() / tokens_per_second)
    } else {
        Energy::ZERO
    }
}

/// Failed reads of a server's work counter in a row that make an outage, rather than a server
/// shutting down at the end of a run (its endpoint goes with it).
pub const OUTAGE_READS: u32 = 3;

/// What one read of a server's work counter gave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SourceRead {
    /// The counters were read; `reset` when they went down since the last good read (the
    /// server restarted).
    Ok {
        in_flight: Option<f64>,
        reset: bool,
    },
    Failed,
}

/// What a read did to the counts, beyond the work it counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Nothing to say: no failed reads before it, or it failed too.
    None,
    /// Back after failed (or too slow) reads, without a restart: the counters are cumulative,
    /// so the gap's work is counted by this read, late but not lost.
    Late,
    /// Back after failed reads, and the server restarted meanwhile: the work between the last
    /// good read and the restart is lost.
    Lost,
}

/// Whether the counts read from a server's cumulative counters are complete: the one rule
/// `ecotrace serve`/`attach` and the node agent both apply.
///
/// - Failed reads before the first good one are a server starting up: nothing was missed.
/// - Failed reads that end without a restart lose nothing (the gap's work is counted late).
/// - A restart (a counter reset) seen after failed reads loses the gap's work: from then on the
///   counts are incomplete.
/// - [`OUTAGE_READS`] or more failed reads in a row are an outage: the counts are incomplete
///   while it lasts (a run whose endpoint is still down at its end missed work); fewer, at the
///   end of a run, are the server shutting down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountHealth {
    seen_ok: bool,
    fail_streak: u32,
    lost: bool,
}

impl CountHealth {
    /// Takes one read into account.
    pub fn observe(&mut self, read: SourceRead) -> Recovery {
        match read {
            SourceRead::Ok { reset, .. } => {
                self.seen_ok = true;
                if std::mem::take(&mut self.fail_streak) == 0 {
                    Recovery::None
                } else if reset {
                    self.lost = true;
                    Recovery::Lost
                } else {
                    Recovery::Late
                }
            }
            SourceRead::Failed => {
                if self.seen_ok {
                    self.fail_streak += 1;
                }
                Recovery::None
            }
        }
    }

    /// Some read has succeeded (failures before it are a start-up, not a gap).
    pub fn seen_ok(&self) -> bool {
        self.seen_ok
    }

    /// Down for [`OUTAGE_READS`] reads or more now.
    pub fn in_outage(&self) -> bool {
        self.fail_streak >= OUTAGE_READS
    }

    /// The counts so far are complete: some read succeeded, no work was lost to a restart
    /// during a gap, and the counter is not in an outage now.
    pub fn complete(&self) -> bool {
        self.seen_ok && !self.lost && !self.in_outage()
    }
}

/// One hour of a serving run: the energy drawn in it, how much of it with no request in flight,
/// and the work done. Stored in the ledger (one row per run and hour), so a run of months keeps
/// a bounded record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourRow {
    /// Start of the hour (UTC, on the hour).
    pub hour: DateTime<Utc>,
    /// IT energy measured in the hour, by component.
    pub energy_kwh: EnergyBreakdown,
    /// Part of `energy_kwh.total` drawn in intervals with no request in flight.
    #[serde(with = "serde_as::kwh")]
    pub idle_energy_kwh: Energy,
    /// Seconds measured in the hour, and how many of them idle.
    pub measured_s: f64,
    pub idle_s: f64,
    #[serde(flatten)]
    pub work: WorkCounts,
    /// False when the work counter could not be read for part of the hour: the energy is whole,
    /// the counts may be short (or late, counted in the hour the counter answered again).
    pub counts_complete: bool,
}

impl HourRow {
    pub fn new(hour: DateTime<Utc>) -> HourRow {
        HourRow {
            hour,
            energy_kwh: EnergyBreakdown::default(),
            idle_energy_kwh: Energy::ZERO,
            measured_s: 0.0,
            idle_s: 0.0,
            work: WorkCounts::default(),
            counts_complete: true,
        }
    }

    /// Adds another row of the same hour (e.g. another run's).
    pub fn merge(&mut self, o: &HourRow) {
        self.energy_kwh = add_breakdown(self.energy_kwh, o.energy_kwh);
        self.idle_energy_kwh += o.idle_energy_kwh;
        self.measured_s += o.measured_s;
        self.idle_s += o.idle_s;
        self.work += o.work;
        self.counts_complete &= o.counts_complete;
    }

    /// The hour's footprint with the run's factors: operational CO2e from its energy, embodied
    /// carbon as the run's rate over the seconds measured in the hour, water from its energy.
    pub fn figures(&self, f: &Factors) -> HourFigures {
        let energy = self.energy_kwh.total;
        let operational = footprint::operational(energy, f.pue, f.intensity);
        let embodied = f.embodied_per_s.map(|c| c * self.measured_s);
        let water = f
            .water_l_per_kwh_it
            .map(|l| Water::from_litres(l * energy.kwh()));
        let per_unit = PerUnit::derive(
            Footprint {
                energy,
                operational,
                embodied,
                water,
            },
            self.work,
        );
        HourFigures {
            operational,
            embodied,
            water,
            idle_share: share(self.idle_energy_kwh, energy),
            requests_per_s: (self.measured_s > 0.0)
                .then(|| self.work.requests as f64 / self.measured_s),
            per_unit,
        }
    }
}

/// What an hour's figures are derived with: the run's PUE and intensity, its embodied carbon per
/// second measured, and its water per kWh of IT energy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Factors {
    pub pue: Pue,
    pub intensity: CarbonIntensity,
    pub embodied_per_s: Option<CarbonMass>,
    pub water_l_per_kwh_it: Option<f64>,
}

impl Factors {
    /// The factors of a run record.
    pub fn of(r: &crate::RunRecord) -> Factors {
        let secs = r.duration.as_secs_f64();
        Factors {
            pue: r.pue.value,
            intensity: r.intensity.value,
            embodied_per_s: r.embodied.filter(|_| secs > 0.0).map(|c| c * (1.0 / secs)),
            water_l_per_kwh_it: r
                .water_used
                .as_ref()
                .map(|w| w.wue.l_per_kwh() + r.pue.value.value() * w.offsite_factor.l_per_kwh()),
        }
    }
}

/// One hour summed over runs (`report --by hour`): the rows merged, each run's footprint
/// computed with its own factors and added, the per-unit figures derived from the sums.
#[derive(Debug, Clone, PartialEq)]
pub struct HourTotal {
    pub row: HourRow,
    pub operational: CarbonMass,
    pub embodied: Option<CarbonMass>,
    pub water: Option<Water>,
    /// How many runs had a row in this hour.
    pub runs: u32,
    pub idle_share: Option<f64>,
    pub per_unit: PerUnit,
}

/// Sums hourly rows of several runs (each with its run's factors) by hour, in time order.
pub fn hour_totals<'a>(rows: impl IntoIterator<Item = (&'a HourRow, Factors)>) -> Vec<HourTotal> {
    let mut sums = HourSums::default();
    for (row, f) in rows {
        sums.push(row, &f);
    }
    sums.finish()
}

/// [`hour_totals`] one row at a time: holds one total per distinct hour, however many runs and
/// rows are pushed.
#[derive(Debug, Clone, Default)]
pub struct HourSums {
    by: std::collections::BTreeMap<DateTime<Utc>, HourTotal>,
}

impl HourSums {
    /// Adds one hourly row of a run with the run's factors.
    pub fn push(&mut self, row: &HourRow, f: &Factors) {
        let x = row.figures(f);
        let t = self.by.entry(row.hour).or_insert_with(|| HourTotal {
            row: HourRow::new(row.hour),
            operational: CarbonMass::ZERO,
            embodied: None,
            water: None,
            runs: 0,
            idle_share: None,
            per_unit: PerUnit::default(),
        });
        t.row.merge(row);
        t.operational += x.operational;
        t.embodied = add_opt(t.embodied, x.embodied);
        t.water = add_opt(t.water, x.water);
        t.runs += 1;
    }

    /// The totals by hour, in time order.
    pub fn finish(self) -> Vec<HourTotal> {
        self.by
            .into_values()
            .map(|mut t| {
                t.idle_share = share(t.row.idle_energy_kwh, t.row.energy_kwh.total);
                t.per_unit = PerUnit::derive(
                    Footprint {
                        energy: t.row.energy_kwh.total,
                        operational: t.operational,
                        embodied: t.embodied,
                        water: t.water,
                    },
                    t.row.work,
                );
                t
            })
            .collect()
    }
}

/// An hour's derived figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HourFigures {
    pub operational: CarbonMass,
    pub embodied: Option<CarbonMass>,
    pub water: Option<Water>,
    /// Share of the energy drawn with no request in flight.
    pub idle_share: Option<f64>,
    pub requests_per_s: Option<f64>,
    pub per_unit: PerUnit,
}

/// The sum of two figures that may be absent (not assessed): absent only when both are.
fn add_opt<T: std::ops::Add<Output = T> + Default>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or_default() + b.unwrap_or_default()),
    }
}

fn share(part: Energy, whole: Energy) -> Option<f64> {
    (whole > Energy::ZERO).then(|| (part / whole).clamp(0.0, 1.0))
}

fn add_breakdown(a: EnergyBreakdown, b: EnergyBreakdown) -> EnergyBreakdown {
    EnergyBreakdown {
        cpu: a.cpu + b.cpu,
        gpu: a.gpu + b.gpu,
        ram: a.ram + b.ram,
        total: a.total + b.total,
    }
}

/// Component-wise difference of two cumulative breakdowns (never negative).
pub fn breakdown_since(now: EnergyBreakdown, then: EnergyBreakdown) -> EnergyBreakdown {
    let d = |a: Energy, b: Energy| (a - b).max(Energy::ZERO);
    EnergyBreakdown {
        cpu: d(now.cpu, then.cpu),
        gpu: d(now.gpu, then.gpu),
        ram: d(now.ram, then.ram),
        total: d(now.total, then.total),
    }
}

/// The record's `serving` object: the work counted over the whole run, the idle energy, and the
/// per-unit figures (derived in [`Serving::derive`], called by `RunRecord::recompute`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Serving {
    /// Where the counts come from, e.g. `vllm metrics at http://127.0.0.1:8000/metrics`,
    /// `tracker.count()`.
    pub source: String,
    #[serde(flatten)]
    pub work: WorkCounts,
    /// False when the counter could not be read for part of the run (see the hourly rows).
    pub counts_complete: bool,
    /// IT energy drawn in intervals with no request in flight, and in the others.
    #[serde(with = "serde_as::kwh")]
    pub idle_energy_kwh: Energy,
    #[serde(with = "serde_as::kwh")]
    pub active_energy_kwh: Energy,
    /// Seconds with no request in flight.
    pub idle_s: f64,
    /// `idle_energy_kwh` ÷ (idle + active energy).
    pub idle_share: Option<f64>,
    /// Number of hourly rows stored in the ledger for this run.
    pub hours: u32,
    #[serde(flatten)]
    pub per_unit: PerUnit,
}

impl Serving {
    pub fn new(source: String) -> Serving {
        Serving {
            source,
            work: WorkCounts::default(),
            counts_complete: true,
            idle_energy_kwh: Energy::ZERO,
            active_energy_kwh: Energy::ZERO,
            idle_s: 0.0,
            idle_share: None,
            hours: 0,
            per_unit: PerUnit::default(),
        }
    }

    /// Derives the shares and per-unit figures from the run's whole footprint.
    pub fn derive(&mut self, footprint: Footprint) {
        self.idle_share = share(
            self.idle_energy_kwh,
            self.idle_energy_kwh + self.active_energy_kwh,
        );
        self.per_unit = PerUnit::derive(footprint, self.work);
    }
}

/// A named window inside a run (`tracker.window("eval")`, or a line written to
/// `$ECOTRACE_WINDOWS`): its time span and the energy measured in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub name: String,
    pub started_at: DateTime<Utc>,
    /// `None` while the window is open (or when the run ended with it open).
    pub ended_at: Option<DateTime<Utc>>,
    /// Windows open around this one when it started (0 at the top level).
    pub depth: u32,
    /// IT energy measured between its start and end, by component, at the run's sampling
    /// resolution.
    pub energy_kwh: EnergyBreakdown,
    #[serde(rename = "operational_kgco2e", with = "serde_as::kg")]
    pub operational: CarbonMass,
}

impl Window {
    pub fn duration(&self) -> Option<Duration> {
        self.ended_at
            .map(|e| (e - self.started_at).to_std().unwrap_or_default())
    }
}

/// Recomputes each window's CO2e from its energy.
pub fn derive_windows(windows: &mut [Window], pue: Pue, intensity: CarbonIntensity) {
    for w in windows {
        w.operational = footprint::operational(w.energy_kwh.total, pue, intensity);
    }
}

/// Seconds in the year a projection covers (365 days).
pub const YEAR_S: f64 = 365.0 * 86_400.0;

/// What measured serving runs add up to, the input of [`project_year`]: time measured, energy
/// with its idle part, the work counted, and the footprint of that energy.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Measured {
    /// Seconds measured (the runs' durations, summed).
    pub measured_s: f64,
    /// Seconds with no request in flight.
    pub idle_s: f64,
    pub energy: Energy,
    pub idle_energy: Energy,
    pub active_energy: Energy,
    pub work: WorkCounts,
    pub operational: CarbonMass,
    /// Embodied CO2e charged to the runs, if assessed (charged by time held).
    pub embodied: Option<CarbonMass>,
    pub water: Option<Water>,
    /// Whether some run's counts are incomplete (its work counter could not always be read).
    pub counts_incomplete: bool,
}

impl Measured {
    /// Adds one serving run: its duration, energy, idle split, work and footprint.
    pub fn add(&mut self, r: &crate::RunRecord, s: &Serving) {
        self.measured_s += r.duration.as_secs_f64();
        self.idle_s += s.idle_s;
        self.energy += r.energy_kwh.total;
        self.idle_energy += s.idle_energy_kwh;
        self.active_energy += s.active_energy_kwh;
        self.work += s.work;
        self.operational += r.operational;
        self.embodied = add_opt(self.embodied, r.embodied);
        self.water = add_opt(self.water, r.water);
        self.counts_incomplete |= !s.counts_complete;
    }

    /// Requests a day at the measured rate; `None` with no time measured.
    pub fn requests_per_day(&self) -> Option<f64> {
        (self.measured_s > 0.0).then(|| self.work.requests as f64 / self.measured_s * 86_400.0)
    }
}

/// How a projection splits a year into serving and idle time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProjectionModel {
    /// The measured idle power all the time no request is in flight, plus the measured energy of
    /// the active intervals per request (busy time per request as measured).
    IdleAndActive,
    /// No idle/active split was measured: the measured energy per request times the requests
    /// (or, at the measured rate, the measured mean power all year).
    PerRequest,
}

/// A deployment's footprint over one year of serving, projected from measured runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Projection {
    pub requests_per_day: f64,
    pub requests: f64,
    pub generated_tokens: f64,
    pub model: ProjectionModel,
    /// IT energy over the year, and the part drawn with no request in flight.
    pub energy: Energy,
    pub idle_energy: Energy,
    pub operational: CarbonMass,
    pub embodied: Option<CarbonMass>,
    pub water: Option<Water>,
    pub idle_share: Option<f64>,
    /// True when the requests need more busy time than a year has at the measured busy time per
    /// request: the deployment as measured could not serve them (busy time is capped at the year).
    pub saturated: bool,
    pub per_unit: PerUnit,
}

/// Projects one year of serving from `m`, at `requests_per_day` (default: the measured rate).
/// With an idle/active split measured, the year is the measured idle power over the time no
/// request is in flight plus the measured active energy per request; so at the measured rate
/// it is the measured energy scaled to a year, and a lighter load still pays the idle floor.
/// Operational CO2e and water follow the measured figures per kWh; embodied CO2e is charged by
/// time (the hardware is held all year). `None` when nothing was measured or no request counted.
pub fn project_year(m: &Measured, requests_per_day: Option<f64>) -> Option<Projection> {
    let measured_rate = m.requests_per_day()?;
    if m.work.requests == 0 || m.energy <= Energy::ZERO {
        return None;
    }
    let rate = requests_per_day.unwrap_or(measured_rate).max(0.0);
    let n = m.work.requests as f64;
    let requests = rate * 365.0;
    let tokens = requests * m.work.generated_tokens as f64 / n;
    let split = m.idle_energy + m.active_energy;
    let (energy, idle_energy, model, saturated) = if m.idle_s > 0.0 && split > Energy::ZERO {
        let busy_s_per_request = (m.measured_s - m.idle_s).max(0.0) / n;
        let busy = busy_s_per_request * requests;
        let idle_power = m.idle_energy.joules() / m.idle_s;
        let idle_s = (YEAR_S - busy).max(0.0);
        let idle = Energy::from_joules(idle_power * idle_s);
        // The split may not add up to the total (rounding, a sample across an hour): scale it.
        let scale = m.energy / split;
        (
            (m.active_energy * (requests / n) + idle) * scale,
            idle * scale,
            ProjectionModel::IdleAndActive,
            busy > YEAR_S,
        )
    } else {
        let e = if requests_per_day.is_none() {
            m.energy * (YEAR_S / m.measured_s)
        } else {
            m.energy * (requests / n)
        };
        (e, Energy::ZERO, ProjectionModel::PerRequest, false)
    };
    let per_kwh = |x: f64| x / m.energy.kwh() * energy.kwh();
    let operational = CarbonMass::from_kg(per_kwh(m.operational.kg()));
    let embodied = m.embodied.map(|c| c * (YEAR_S / m.measured_s));
    let water = m.water.map(|w| Water::from_litres(per_kwh(w.litres())));
    Some(Projection {
        requests_per_day: rate,
        requests,
        generated_tokens: tokens,
        model,
        energy,
        idle_energy,
        operational,
        embodied,
        water,
        idle_share: (model == ProjectionModel::IdleAndActive)
            .then(|| share(idle_energy, energy))
            .flatten(),
        saturated,
        per_unit: PerUnit::per(
            Footprint {
                energy,
                operational,
                embodied,
                water,
            },
            requests,
            tokens,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_health_follows_the_one_rule() {
        const OK: SourceRead = SourceRead::Ok {
            in_flight: None,
            reset: false,
        };
        const RESET: SourceRead = SourceRead::Ok {
            in_flight: None,
            reset: true,
        };
        let mut h = CountHealth::default();
        // Failures before the first answer are a server starting up.
        assert_eq!(h.observe(SourceRead::Failed), Recovery::None);
        assert!(!h.complete() && !h.seen_ok());
        assert_eq!(h.observe(OK), Recovery::None);
        assert!(h.complete());
        // A gap that ends without a restart loses nothing.
        for _ in 0..5 {
            h.observe(SourceRead::Failed);
        }
        assert!(h.in_outage() && !h.complete());
        assert_eq!(h.observe(OK), Recovery::Late);
        assert!(h.complete());
        // A short trailing gap is a shutdown, not an outage.
        for _ in 1..OUTAGE_READS {
            h.observe(SourceRead::Failed);
        }
        assert!(h.complete());
        // A restart during a gap loses its work for good; a restart without a gap does not.
        assert_eq!(h.observe(RESET), Recovery::Lost);
        assert!(!h.complete());
        h.observe(OK);
        assert!(!h.complete());
        let mut h = CountHealth::default();
        h.observe(OK);
        assert_eq!(h.observe(RESET), Recovery::None);
        assert!(h.complete());
    }

    fn counts(r: u64, p: u64, g: u64) -> WorkCounts {
        WorkCounts {
            requests: r,
            prompt_tokens: p,
            generated_tokens: g,
        }
    }

    #[test]
    fn per_unit_divides_by_requests_and_thousands_of_tokens() {
        let f = Footprint {
            energy: Energy::from_wh(50.0),
            operational: CarbonMass::from_kg(0.02),
            embodied: Some(CarbonMass::from_kg(0.004)),
            water: None,
        };
        let u = PerUnit::derive(f, counts(10, 1000, 4000));
        assert!((u.energy_wh_per_request.unwrap() - 5.0).abs() < 1e-12);
        assert!((u.energy_wh_per_1k_tokens.unwrap() - 12.5).abs() < 1e-12);
        assert!((u.kgco2e_per_request.unwrap() - 0.002).abs() < 1e-15);
        assert!((u.embodied_kgco2e_per_1k_tokens.unwrap() - 0.001).abs() < 1e-15);
        assert_eq!(u.water_l_per_request, None);
        // No work: no figure rather than infinity.
        let none = PerUnit::derive(f, WorkCounts::default());
        assert_eq!(none.energy_wh_per_request, None);
        assert_eq!(none.energy_wh_per_1k_tokens, None);
    }

    #[test]
    fn an_hour_shares_idle_energy_and_charges_embodied_by_time() {
        let mut h = HourRow::new(Utc::now());
        h.energy_kwh = EnergyBreakdown {
            cpu: Energy::from_kwh(0.3),
            gpu: Energy::from_kwh(0.6),
            ram: Energy::from_kwh(0.1),
            total: Energy::from_kwh(1.0),
        };
        h.idle_energy_kwh = Energy::from_kwh(0.25);
        h.measured_s = 1800.0;
        h.work = counts(900, 0, 90_000);
        let f = Factors {
            pue: Pue::new(1.5).unwrap(),
            intensity: CarbonIntensity::from_g_per_kwh(400.0).unwrap(),
            embodied_per_s: Some(CarbonMass::from_grams(0.01)),
            water_l_per_kwh_it: Some(2.0),
        };
        let x = h.figures(&f);
        assert!((x.operational.kg() - 0.6).abs() < 1e-12);
        assert!((x.embodied.unwrap().grams() - 18.0).abs() < 1e-9);
        assert!((x.idle_share.unwrap() - 0.25).abs() < 1e-12);
        assert!((x.requests_per_s.unwrap() - 0.5).abs() < 1e-12);
        assert!((x.per_unit.energy_wh_per_1k_tokens.unwrap() - 1000.0 / 90.0).abs() < 1e-9);
        assert!((x.per_unit.water_l_per_request.unwrap() - 2.0 / 900.0).abs() < 1e-12);
        let mut two = h.clone();
        let mut other = h.clone();
        other.counts_complete = false;
        two.merge(&other);
        assert_eq!(two.work.requests, 1800);
        assert!(!two.counts_complete);
        assert!((two.energy_kwh.total.kwh() - 2.0).abs() < 1e-12);
    }

    #[test]
    fn a_provisioned_deployment_splits_idle_from_busy() {
        // Devices idling at 100 W, 300 W when serving, busy a quarter of the time.
        let p = Provisioned {
            idle: Power::from_watts(100.0),
            busy: Power::from_watts(300.0),
            busy_fraction: Fraction::new(0.25).unwrap(),
        };
        assert!((p.mean_power().watts() - 150.0).abs() < 1e-12);
        assert!((p.idle_share().unwrap() - 75.0 / 150.0).abs() < 1e-12);
        assert!((p.idle_floor_share().unwrap() - 100.0 / 150.0).abs() < 1e-12);
        assert!((p.busy_share().unwrap() - 75.0 / 150.0).abs() < 1e-12);
        // 700 W at 1,400 tokens/s: 0.5 J a token.
        assert!((energy_per_token(Power::from_watts(700.0), 1400.0).joules() - 0.5).abs() < 1e-12);
        assert_eq!(
            energy_per_token(Power::from_watts(700.0), 0.0),
            Energy::ZERO
        );
        let u = PerUnit::per(
            Footprint {
                energy: Energy::from_kwh(914.0),
                ..Default::default()
            },
            230_768.0,
            0.0,
        );
        assert!((u.energy_wh_per_request.unwrap() - 3.9607).abs() < 1e-4);
        assert_eq!(u.energy_wh_per_1k_tokens, None);
    }

    #[test]
    fn serving_derives_idle_share() {
        let mut s = Serving::new("test".into());
        s.idle_energy_kwh = Energy::from_kwh(1.7);
        s.active_energy_kwh = Energy::from_kwh(0.4);
        s.work = counts(100, 0, 0);
        s.derive(Footprint {
            energy: Energy::from_kwh(2.1),
            ..Default::default()
        });
        assert!((s.idle_share.unwrap() - 1.7 / 2.1).abs() < 1e-12);
        assert!((s.per_unit.energy_wh_per_request.unwrap() - 21.0).abs() < 1e-9);
        let json = serde_json::to_value(&s).unwrap();
        for k in [
            "requests",
            "prompt_tokens",
            "generated_tokens",
            "energy_wh_per_request",
            "energy_wh_per_1k_tokens",
            "kgco2e_per_request",
            "idle_energy_kwh",
            "counts_complete",
        ] {
            assert!(json.get(k).is_some(), "{k} missing from {json}");
        }
    }

    fn measured() -> Measured {
        // One day measured: 12 h idle at 100 W (1.2 kWh), 12 h serving 10,000 requests with
        // 2.4 kWh; 1,000,000 generated tokens.
        Measured {
            measured_s: 86_400.0,
            idle_s: 43_200.0,
            energy: Energy::from_kwh(3.6),
            idle_energy: Energy::from_kwh(1.2),
            active_energy: Energy::from_kwh(2.4),
            work: counts(10_000, 0, 1_000_000),
            operational: CarbonMass::from_kg(1.8),
            embodied: Some(CarbonMass::from_kg(0.1)),
            water: None,
            counts_incomplete: false,
        }
    }

    #[test]
    fn a_year_at_the_measured_rate_scales_the_measured_day() {
        let m = measured();
        assert!((m.requests_per_day().unwrap() - 10_000.0).abs() < 1e-9);
        let p = project_year(&m, None).unwrap();
        assert_eq!(p.model, ProjectionModel::IdleAndActive);
        assert!((p.energy.kwh() - 3.6 * 365.0).abs() < 1e-6);
        assert!((p.idle_share.unwrap() - 1.0 / 3.0).abs() < 1e-9);
        assert!((p.operational.kg() - 1.8 * 365.0).abs() < 1e-6);
        assert!((p.embodied.unwrap().kg() - 36.5).abs() < 1e-9);
        assert!((p.per_unit.energy_wh_per_request.unwrap() - 0.36).abs() < 1e-9);
        assert!((p.per_unit.energy_wh_per_1k_tokens.unwrap() - 3.6).abs() < 1e-9);
        assert!(!p.saturated);
    }

    #[test]
    fn a_lighter_load_still_pays_the_idle_floor() {
        let m = measured();
        // 1,000 requests a day: active 0.24 kWh, busy 1.2 h, idle 22.8 h at 100 W = 2.28 kWh.
        let p = project_year(&m, Some(1000.0)).unwrap();
        assert!((p.energy.kwh() - (0.24 + 2.28) * 365.0).abs() < 1e-6);
        assert!((p.idle_share.unwrap() - 2.28 / 2.52).abs() < 1e-9);
        // Per request it costs more than at the measured rate (0.36 Wh).
        assert!((p.per_unit.energy_wh_per_request.unwrap() - 2.52).abs() < 1e-9);
        // More than the measured deployment could serve: busy time capped, flagged.
        let p = project_year(&m, Some(30_000.0)).unwrap();
        assert!(p.saturated);
        assert_eq!(p.idle_energy, Energy::ZERO);
        // Without an idle split, energy follows the requests.
        let mut flat = measured();
        flat.idle_s = 0.0;
        let p = project_year(&flat, Some(20_000.0)).unwrap();
        assert_eq!(p.model, ProjectionModel::PerRequest);
        assert!((p.energy.kwh() - 7.2 * 365.0).abs() < 1e-6);
        assert_eq!(p.idle_share, None);
        // Nothing served: no projection.
        let mut none = measured();
        none.work = WorkCounts::default();
        assert_eq!(project_year(&none, None), None);
    }
}
