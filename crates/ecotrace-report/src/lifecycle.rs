//! Life-cycle accounting of a project: per phase (data, experiment, tuning, training, inference,
//! other) the runs, energy, operational and embodied CO2e, water and cost, the share of that spent
//! on failed or repeated runs ("waste"), and estimated future phases beside the measured ones.
//!
//! Pure sums over the figures stored in each record, like [`crate::aggregate`]. Operational and
//! embodied CO2e are kept in separate columns; a run without an embodied (or water, or cost)
//! assessment adds nothing to that column, and the column says how many runs it covers.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use ecotrace_core::{
    CarbonMass, Energy, Phase, RecordKind, RunRecord, RunStatus, Scope, Usd, Water,
};
use serde::Serialize;

use crate::aggregate::is_failed;
use crate::projection::ServingLife;
use crate::report::Format;
use crate::table::{Align, Table};
use crate::text::{co2, energy, machine, num, plain, water};

/// Sums over a set of runs of one phase (or all).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhaseTotals {
    /// Runs counted (measured and estimated).
    pub runs: usize,
    /// Of which a-priori estimates (`kind` `estimated`): future or planned work.
    pub estimated_runs: usize,
    /// IT energy.
    pub energy: Energy,
    pub operational: CarbonMass,
    /// Sum of the runs' embodied CO2e, over the `embodied_runs` runs that have one.
    pub embodied: CarbonMass,
    pub embodied_runs: usize,
    pub water: Water,
    pub water_runs: usize,
    pub cost: Usd,
    pub cost_runs: usize,
    /// Failed, failed-to-start or interrupted runs.
    pub failed_runs: usize,
    /// Of the failed runs, those a tuner pruned (see [`is_pruned`]).
    pub pruned_runs: usize,
    /// Finished runs that repeat a later finished run (same command, tags but `trial`, and phase).
    pub repeated_runs: usize,
    /// Energy and CO2e of the failed and repeated runs.
    pub waste_energy: Energy,
    pub waste_operational: CarbonMass,
    pub waste_embodied: CarbonMass,
    /// The runs by the basis and signal of the intensity their CO2e was charged at.
    pub bases: crate::BasisMix,
}

impl PhaseTotals {
    pub(crate) fn add(&mut self, r: &RunRecord, share: f64, waste: bool) {
        self.runs += 1;
        self.bases.add(&crate::BasisMix::of_run(r));
        if r.kind == RecordKind::Estimated {
            self.estimated_runs += 1;
        }
        self.energy += r.energy_kwh.total * share;
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
        if waste {
            self.waste_energy += r.energy_kwh.total * share;
            self.waste_operational += r.operational * share;
            if let Some(e) = r.embodied {
                self.waste_embodied += e * share;
            }
        }
    }

    fn merge(&mut self, o: &PhaseTotals) {
        self.runs += o.runs;
        self.estimated_runs += o.estimated_runs;
        self.energy += o.energy;
        self.operational += o.operational;
        self.embodied += o.embodied;
        self.embodied_runs += o.embodied_runs;
        self.water += o.water;
        self.water_runs += o.water_runs;
        self.cost += o.cost;
        self.cost_runs += o.cost_runs;
        self.failed_runs += o.failed_runs;
        self.pruned_runs += o.pruned_runs;
        self.repeated_runs += o.repeated_runs;
        self.waste_energy += o.waste_energy;
        self.waste_operational += o.waste_operational;
        self.waste_embodied += o.waste_embodied;
        self.bases.add(&o.bases);
    }

    /// Share of the measured energy spent on failed and repeated runs (0 when nothing was spent).
    pub fn waste_share(&self) -> f64 {
        let e = self.energy.kwh();
        if e > 0.0 {
            self.waste_energy.kwh() / e
        } else {
            0.0
        }
    }
}

/// One project's life cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Lifecycle {
    /// Phases with at least one run, in life order (data, experiment, tuning, training,
    /// inference, other).
    pub phases: Vec<(Phase, PhaseTotals)>,
    /// Measured runs only.
    pub measured: PhaseTotals,
    /// Estimated (future or planned) runs only.
    pub estimated: PhaseTotals,
    pub total: PhaseTotals,
    /// Each served model's year of serving projected beside its training (see
    /// [`crate::projection`]); empty when no run of phase inference counted work.
    pub serving: Vec<ServingLife>,
}

/// The tag that numbers the tries of one configuration (a tuning trial's number), left out of
/// [`job_key`]: two trials that drew the same parameters are the same job.
pub const TRIAL_TAG: &str = "trial";

/// Key of "the same job": command, tags (but [`TRIAL_TAG`]) and phase (the config a run was given).
fn job_key(r: &RunRecord) -> String {
    let mut k = String::new();
    for a in &r.command {
        let _ = write!(k, "{}\u{1f}", a);
    }
    k.push('\u{1e}');
    for (t, v) in r.tags.iter().filter(|(t, _)| t.as_str() != TRIAL_TAG) {
        let _ = write!(k, "{t}={v}\u{1f}");
    }
    k.push_str(r.phase.as_str());
    k
}

/// A run a tuner stopped early for looking unpromising (Optuna's pruning): recorded as
/// `interrupted` with an error starting `pruned` (`ecotrace.integrations.optuna` does so).
pub fn is_pruned(r: &RunRecord) -> bool {
    r.status == RunStatus::Interrupted
        && r.error.as_deref().is_some_and(|e| e.starts_with("pruned"))
}

/// Accounts the runs of one project (callers filter by project). A finished measured run is
/// "repeated" when a later finished run has the same command, tags (but [`TRIAL_TAG`]) and phase:
/// only the last of such runs counts as useful. Failed, failed-to-start and interrupted runs are waste. Estimated
/// runs are never waste. Still-running runs count, with their figures so far. Machine-scope ranks
/// of one job on one node count their share of the node, as in [`crate::aggregate`].
pub fn lifecycle(rs: &[RunRecord]) -> Lifecycle {
    lifecycle_projected(rs, None)
}

/// [`lifecycle`] with the serving projection at `requests_per_day` (`--requests-per-day`; `None`:
/// the measured rate).
pub fn lifecycle_projected(rs: &[RunRecord], requests_per_day: Option<f64>) -> Lifecycle {
    let mut newest_first: Vec<&RunRecord> = rs.iter().collect();
    newest_first.sort_by(|a, b| (b.started_at, &b.id).cmp(&(a.started_at, &a.id)));
    let mut sums = LifecycleSums::default();
    for r in newest_first {
        sums.push(r.clone());
    }
    sums.finish(requests_per_day)
}

/// [`lifecycle_projected`] for runs read one at a time, newest first (by start, then id, as the
/// ledger lists them), without holding them: it keeps the keys of the jobs seen, the sums, and
/// the machine-scope runs of jobs (whose shares of a node need the set of them).
#[derive(Debug, Default)]
pub struct LifecycleSums {
    /// Job keys of the finished measured runs seen: a later one (already seen) makes this one
    /// repeated.
    seen: HashSet<String>,
    by_phase: BTreeMap<Phase, PhaseTotals>,
    measured: PhaseTotals,
    estimated: PhaseTotals,
    serving: crate::projection::ServingInputs,
    /// Machine-scope runs of a job, and their flags, added at the end with their shares.
    held: Vec<RunRecord>,
    held_flags: Vec<Flags>,
}

/// What a run counts as: failed, pruned, repeated.
#[derive(Debug, Clone, Copy)]
struct Flags {
    failed: bool,
    pruned: bool,
    repeated: bool,
}

impl LifecycleSums {
    /// Adds one run; runs must come newest first.
    pub fn push(&mut self, r: RunRecord) {
        let failed = r.kind == RecordKind::Measured && is_failed(r.status);
        let flags = Flags {
            failed,
            pruned: failed && is_pruned(&r),
            repeated: r.kind == RecordKind::Measured
                && r.status == RunStatus::Finished
                && !self.seen.insert(job_key(&r)),
        };
        if r.job.is_some() && r.scope == Scope::Machine {
            self.held.push(r);
            self.held_flags.push(flags);
        } else {
            self.add(&r, 1.0, flags);
        }
    }

    fn add(&mut self, r: &RunRecord, share: f64, f: Flags) {
        let waste = f.failed || f.repeated;
        self.serving.push(r, share);
        let p = self.by_phase.entry(r.phase).or_default();
        let side = if r.kind == RecordKind::Estimated {
            &mut self.estimated
        } else {
            &mut self.measured
        };
        for t in [p, side] {
            t.add(r, share, waste);
            t.failed_runs += usize::from(f.failed);
            t.pruned_runs += usize::from(f.pruned);
            t.repeated_runs += usize::from(f.repeated);
        }
    }

    /// The life cycle of the runs pushed, with the serving projection at `requests_per_day`
    /// (`None`: the measured rate).
    pub fn finish(mut self, requests_per_day: Option<f64>) -> Lifecycle {
        // Machine-scope ranks of one job on one node split the node's figures (see `aggregate`).
        let held = std::mem::take(&mut self.held);
        let flags = std::mem::take(&mut self.held_flags);
        let shares = crate::aggregate::shares(&held);
        for ((r, share), f) in held.iter().zip(shares).zip(flags) {
            self.add(r, share, f);
        }
        let mut total = PhaseTotals::default();
        total.merge(&self.measured);
        total.merge(&self.estimated);
        Lifecycle {
            phases: self.by_phase.into_iter().collect(),
            measured: self.measured,
            estimated: self.estimated,
            total,
            serving: self.serving.lives(requests_per_day),
        }
    }
}

#[derive(Serialize)]
struct TotalsJson {
    runs: usize,
    estimated_runs: usize,
    energy_kwh: f64,
    operational_kgco2e: f64,
    embodied_kgco2e: f64,
    embodied_runs: usize,
    water_l: f64,
    water_runs: usize,
    cost_usd: Option<f64>,
    cost_runs: usize,
    failed_runs: usize,
    pruned_runs: usize,
    repeated_runs: usize,
    waste_energy_kwh: f64,
    waste_operational_kgco2e: f64,
    waste_embodied_kgco2e: f64,
    waste_share: f64,
    /// `lifecycle`, `direct`, `marginal`, `unstated` or `mixed` (see [`crate::BasisMix`]).
    basis: &'static str,
}

fn totals_json(t: &PhaseTotals) -> TotalsJson {
    TotalsJson {
        runs: t.runs,
        estimated_runs: t.estimated_runs,
        energy_kwh: machine(t.energy.kwh()),
        operational_kgco2e: machine(t.operational.kg()),
        embodied_kgco2e: machine(t.embodied.kg()),
        embodied_runs: t.embodied_runs,
        water_l: machine(t.water.litres()),
        water_runs: t.water_runs,
        cost_usd: (t.cost_runs > 0).then(|| machine(t.cost.usd())),
        cost_runs: t.cost_runs,
        failed_runs: t.failed_runs,
        pruned_runs: t.pruned_runs,
        repeated_runs: t.repeated_runs,
        waste_energy_kwh: machine(t.waste_energy.kwh()),
        waste_operational_kgco2e: machine(t.waste_operational.kg()),
        waste_embodied_kgco2e: machine(t.waste_embodied.kg()),
        waste_share: machine(t.waste_share()),
        basis: t.bases.id(),
    }
}

fn covered(sum: String, n: usize, runs: usize) -> String {
    if n == runs {
        sum
    } else if n == 0 {
        "-".to_string()
    } else {
        format!("{sum} ({n}/{runs} runs)")
    }
}

fn pct(x: f64) -> String {
    format!("{:.0} %", x * 100.0)
}

/// Renders a project's life cycle. `project` is the heading. Table and Markdown show one row per
/// phase (an estimated phase marked `(estimated)`), then measured, estimated and total rows, then
/// what counts as waste. JSON has the same figures; CSV one row per phase and the three totals.
pub fn render_lifecycle(project: &str, l: &Lifecycle, format: Format) -> String {
    match format {
        Format::Json => {
            let mut phases = serde_json::Map::new();
            for (p, t) in &l.phases {
                phases.insert(
                    p.to_string(),
                    serde_json::to_value(totals_json(t)).expect("plain figures"),
                );
            }
            let doc = serde_json::json!({
                "project": project,
                "phases": phases,
                "measured": totals_json(&l.measured),
                "estimated": totals_json(&l.estimated),
                "total": totals_json(&l.total),
                "serving": l.serving.iter().map(crate::projection::to_json).collect::<Vec<_>>(),
                "basis_note": l.total.bases.statement(),
                "waste_rule": "waste = failed, failed-to-start and interrupted runs (pruned trials among them) + finished runs repeated later with the same command, tags (but trial) and phase (all but the last)",
            });
            let mut s = serde_json::to_string_pretty(&doc).expect("plain figures");
            s.push('\n');
            s
        }
        Format::Csv => {
            let mut o = String::from(
                "phase,runs,estimated_runs,energy_kwh,operational_kgco2e,embodied_kgco2e,embodied_runs,water_l,water_runs,cost_usd,cost_runs,failed_runs,repeated_runs,waste_energy_kwh,waste_share\n",
            );
            let mut line = |name: &str, t: &PhaseTotals| {
                let j = totals_json(t);
                o.push_str(&crate::text::csv_row(&[
                    name.to_string(),
                    j.runs.to_string(),
                    j.estimated_runs.to_string(),
                    plain(j.energy_kwh),
                    plain(j.operational_kgco2e),
                    plain(j.embodied_kgco2e),
                    j.embodied_runs.to_string(),
                    plain(j.water_l),
                    j.water_runs.to_string(),
                    j.cost_usd.map_or(String::new(), plain),
                    j.cost_runs.to_string(),
                    j.failed_runs.to_string(),
                    j.repeated_runs.to_string(),
                    plain(j.waste_energy_kwh),
                    plain(j.waste_share),
                ]));
                o.push('\n');
            };
            for (p, t) in &l.phases {
                line(p.as_str(), t);
            }
            line("measured", &l.measured);
            line("estimated", &l.estimated);
            line("total", &l.total);
            for s in &l.serving {
                if let Some(p) = &s.projection {
                    let name = match &s.model {
                        Some(m) => format!("serving year ({m})"),
                        None => "serving year".to_string(),
                    };
                    o.push_str(&crate::text::csv_row(&[
                        name,
                        String::new(),
                        String::new(),
                        plain(machine(p.energy.kwh())),
                        plain(machine(p.operational.kg())),
                        p.embodied.map_or(String::new(), |c| plain(machine(c.kg()))),
                        String::new(),
                        p.water
                            .map_or(String::new(), |w| plain(machine(w.litres()))),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]));
                    o.push('\n');
                }
            }
            o
        }
        Format::Html => crate::html::lifecycle_html(project, l, &lifecycle_table(l)),
        _ => {
            let t = lifecycle_table(l);
            let mut out = String::new();
            let title = format!("Life cycle of project {}", crate::text::inline(project));
            if format == Format::Markdown {
                let _ = writeln!(out, "## {title}\n");
                out.push_str(&t.markdown());
            } else {
                let _ = writeln!(out, "{title}");
                out.push_str(&t.text());
            }
            out.push('\n');
            for n in waste_notes(l) {
                out.push_str(&n);
                out.push_str(if format == Format::Markdown {
                    "\n\n"
                } else {
                    "\n"
                });
            }
            out.push_str(&crate::projection::text(
                &l.serving,
                format == Format::Markdown,
            ));
            out
        }
    }
}

/// The phases table of [`render_lifecycle`] (one row per phase, measured and estimated rows when
/// there are estimates, the total as footer).
pub(crate) fn lifecycle_table(l: &Lifecycle) -> Table {
    let label = |p: Phase, t: &PhaseTotals| -> String {
        if t.estimated_runs == t.runs && t.runs > 0 {
            format!("{p} (estimated)")
        } else if t.estimated_runs > 0 {
            format!("{p} (incl. {} estimated)", t.estimated_runs)
        } else {
            p.to_string()
        }
    };
    let mut t = Table::new(&[
        ("phase", Align::Left),
        ("runs", Align::Right),
        ("energy", Align::Right),
        ("operational", Align::Right),
        ("embodied", Align::Right),
        ("water", Align::Right),
        ("cost USD", Align::Right),
        ("failed", Align::Right),
        ("repeated", Align::Right),
        ("waste (energy)", Align::Right),
    ]);
    let row = |name: String, x: &PhaseTotals| -> Vec<String> {
        vec![
            name,
            x.runs.to_string(),
            energy(x.energy.kwh()),
            co2(x.operational.kg()),
            covered(co2(x.embodied.kg()), x.embodied_runs, x.runs),
            covered(water(x.water.litres()), x.water_runs, x.runs),
            covered(num(x.cost.usd()), x.cost_runs, x.runs),
            x.failed_runs.to_string(),
            x.repeated_runs.to_string(),
            pct(x.waste_share()),
        ]
    };
    for (p, x) in &l.phases {
        t.rows.push(row(label(*p, x), x));
    }
    if l.estimated.runs > 0 {
        t.rows.push(row("measured".into(), &l.measured));
        t.rows.push(row("estimated".into(), &l.estimated));
    }
    t.footer = Some(row("total".into(), &l.total));
    t
}

/// What counts as waste, and what the rows mean: the sentences under the phases table.
pub(crate) fn waste_notes(l: &Lifecycle) -> Vec<String> {
    let m = &l.measured;
    let pruned = if m.pruned_runs > 0 {
        format!(" (of which {} pruned)", m.pruned_runs)
    } else {
        String::new()
    };
    let mut out = vec![
        format!(
            "Waste: {} failed or interrupted{pruned} and {} repeated run(s) used {} ({} of the measured energy), {} operational and {} embodied.",
            m.failed_runs,
            m.repeated_runs,
            energy(m.waste_energy.kwh()),
            pct(m.waste_share()),
            co2(m.waste_operational.kg()),
            co2(m.waste_embodied.kg())
        ),
        "Repeated = a finished run with the same command, tags (but the trial number) and phase as a later finished run, e.g. a tuning trial that drew parameters already tried. Operational and embodied CO2e are separate columns, never summed; a figure with (n/m runs) covers only the runs that have it.".to_string(),
    ];
    if l.estimated.runs > 0 {
        out.push(
            "Rows marked estimated are a-priori estimates (ecotrace estimate --add-to-project), not measurements.".to_string(),
        );
    }
    out.push(l.total.bases.statement());
    out
}
