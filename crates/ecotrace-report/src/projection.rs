//! `report --lifecycle`'s serving part: each served model's yearly footprint projected from its
//! measured serving runs (at the measured rate or `--requests-per-day`), beside the training that
//! produced it. The projection itself is `ecotrace_core::serving::project_year`; this module picks
//! the runs and lays the figures out.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ecotrace_core::serving::{project_year, Measured, Projection, ProjectionModel};
use ecotrace_core::{Phase, RecordKind, RunRecord};
use serde_json::json;

use crate::lifecycle::PhaseTotals;
use crate::table::{Align, Table};
use crate::text::{co2, energy, inline, machine, num, water};

/// The tag that names the model a run trained or served; runs without it belong to the project's
/// one unnamed model.
pub const MODEL_TAG: &str = "model";

/// One served model of a project: its measured serving, the year projected from it, and the
/// training runs of the same model (same `model` tag; all of the project's training runs when
/// the serving runs have no such tag).
#[derive(Debug, Clone, PartialEq)]
pub struct ServingLife {
    pub model: Option<String>,
    /// Measured serving runs (runs of phase `inference` that counted work).
    pub runs: usize,
    pub measured: Measured,
    /// `None` when the runs counted no request.
    pub projection: Option<Projection>,
    /// The rate was given (`--requests-per-day`), not measured.
    pub rate_given: bool,
    pub training: PhaseTotals,
}

impl ServingLife {
    /// Days of serving (at the projected rate) whose operational CO2e equals the training's.
    pub fn days_to_match_training(&self) -> Option<f64> {
        let p = self.projection.as_ref()?;
        let per_day = p.operational.kg() / 365.0;
        (per_day > 0.0 && self.training.runs > 0).then(|| self.training.operational.kg() / per_day)
    }

    /// A year of serving as a multiple of the training's operational CO2e.
    pub fn year_over_training(&self) -> Option<f64> {
        let p = self.projection.as_ref()?;
        let t = self.training.operational.kg();
        (t > 0.0).then(|| p.operational.kg() / t)
    }
}

fn model_of(r: &RunRecord) -> Option<&str> {
    r.tags.get(MODEL_TAG).map(String::as_str)
}

/// What the serving projections of a project need, gathered one run at a time: the work and
/// energy of its serving runs per model, and its training per model (and in all).
#[derive(Debug, Default)]
pub(crate) struct ServingInputs {
    served: BTreeMap<Option<String>, (usize, Measured)>,
    training: BTreeMap<String, PhaseTotals>,
    all_training: PhaseTotals,
}

impl ServingInputs {
    /// Adds one run, counting `share` of its figures (see `aggregate::shares`).
    pub(crate) fn push(&mut self, r: &RunRecord, share: f64) {
        if let (Some(s), Phase::Inference, RecordKind::Measured) = (&r.serving, r.phase, r.kind) {
            let e = self
                .served
                .entry(model_of(r).map(str::to_string))
                .or_default();
            e.0 += 1;
            e.1.add(r, s);
        }
        if r.phase == Phase::Training {
            self.all_training.add(r, share, false);
            if let Some(m) = model_of(r) {
                self.training
                    .entry(m.to_string())
                    .or_default()
                    .add(r, share, false);
            }
        }
    }

    /// The served models with their projections at `requests_per_day` (`None`: the measured
    /// rate).
    pub(crate) fn lives(self, requests_per_day: Option<f64>) -> Vec<ServingLife> {
        let ServingInputs {
            served,
            mut training,
            all_training,
        } = self;
        served
            .into_iter()
            .map(|(model, (runs, measured))| {
                let training = match &model {
                    None => all_training.clone(),
                    Some(m) => training.remove(m).unwrap_or_default(),
                };
                ServingLife {
                    model,
                    runs,
                    measured,
                    projection: project_year(&measured, requests_per_day),
                    rate_given: requests_per_day.is_some(),
                    training,
                }
            })
            .collect()
    }
}

fn name(l: &ServingLife) -> String {
    l.model
        .as_deref()
        .map_or("the served model".to_string(), |m| {
            format!("model {}", inline(m))
        })
}

fn rate_text(l: &ServingLife, p: &Projection) -> String {
    if l.rate_given {
        format!("{} requests/day (given)", num(p.requests_per_day))
    } else {
        format!("{} requests/day (as measured)", num(p.requests_per_day))
    }
}

/// The rows of the side-by-side table: training, one year of serving.
pub(crate) fn side_by_side(l: &ServingLife) -> Table {
    let mut t = Table::new(&[
        ("", Align::Left),
        ("runs", Align::Right),
        ("energy", Align::Right),
        ("operational", Align::Right),
        ("embodied", Align::Right),
        ("water", Align::Right),
    ]);
    let tr = &l.training;
    t.rows.push(vec![
        if tr.estimated_runs > 0 {
            format!("training (incl. {} estimated)", tr.estimated_runs)
        } else {
            "training".to_string()
        },
        tr.runs.to_string(),
        energy(tr.energy.kwh()),
        co2(tr.operational.kg()),
        if tr.embodied_runs > 0 {
            co2(tr.embodied.kg())
        } else {
            "-".into()
        },
        if tr.water_runs > 0 {
            water(tr.water.litres())
        } else {
            "-".into()
        },
    ]);
    let m = &l.measured;
    t.rows.push(vec![
        "serving, measured".to_string(),
        l.runs.to_string(),
        energy(m.energy.kwh()),
        co2(m.operational.kg()),
        m.embodied.map_or("-".into(), |c| co2(c.kg())),
        m.water.map_or("-".into(), |w| water(w.litres())),
    ]);
    if let Some(p) = &l.projection {
        t.rows.push(vec![
            "serving, one year".to_string(),
            String::new(),
            energy(p.energy.kwh()),
            co2(p.operational.kg()),
            p.embodied.map_or("-".into(), |c| co2(c.kg())),
            p.water.map_or("-".into(), |w| water(w.litres())),
        ]);
    }
    t
}

/// The sentences under the table: rate, idle share, per-unit figures, training comparison.
pub(crate) fn notes(l: &ServingLife) -> Vec<String> {
    let mut out = Vec::new();
    let m = &l.measured;
    let Some(p) = &l.projection else {
        out.push(format!(
            "{} measured serving run(s) counted no request: no yearly projection.",
            l.runs
        ));
        return out;
    };
    let mut s = format!(
        "Measured {} h over {} run(s): {} requests, {} generated tokens. Projected at {}: {} requests and {} generated tokens a year",
        num(m.measured_s / 3600.0),
        l.runs,
        m.work.requests,
        m.work.generated_tokens,
        rate_text(l, p),
        num(p.requests),
        num(p.generated_tokens)
    );
    match (p.model, p.idle_share) {
        (ProjectionModel::IdleAndActive, Some(i)) => {
            let _ = write!(
                s,
                "; {:.0}% of the energy drawn with no request in flight (the measured idle power, paid whatever the load).",
                i * 100.0
            );
        }
        _ => s.push_str("; no idle time was measured, so the energy follows the requests."),
    }
    out.push(s);
    if p.saturated {
        out.push(
            "At that rate the deployment as measured would be busy all year and could not serve every request: more replicas are needed, which this projection does not add.".to_string(),
        );
    }
    let u = &p.per_unit;
    let mut per = String::new();
    if let Some(e) = u.energy_wh_per_request {
        let _ = write!(per, "Per request {}", energy(e / 1000.0));
        if let Some(c) = u.kgco2e_per_request {
            let _ = write!(per, ", {} operational", co2(c));
        }
    }
    if let Some(e) = u.energy_wh_per_1k_tokens {
        let _ = write!(per, "; per 1,000 generated tokens {}", energy(e / 1000.0));
        if let Some(c) = u.kgco2e_per_1k_tokens {
            let _ = write!(per, ", {} operational", co2(c));
        }
    }
    if !per.is_empty() {
        per.push('.');
        out.push(per);
    }
    match (l.year_over_training(), l.days_to_match_training()) {
        (Some(x), Some(d)) => out.push(format!(
            "A year of serving emits {} × the training's operational CO2e; serving matches the training after {} days.",
            num(x),
            num(d)
        )),
        _ if l.training.runs == 0 => out.push(format!(
            "No training runs of {} in this project to set beside it (tag them {MODEL_TAG}=NAME, or store an estimate with `ecotrace estimate --add-to-project`).",
            name(l)
        )),
        _ => {}
    }
    if m.counts_incomplete {
        out.push("Some counts are incomplete (the work counter could not always be read): the measured rate, and so the projection, may be low.".to_string());
    }
    out
}

/// Text (or Markdown with `markdown`) of every served model's projection.
pub(crate) fn text(lives: &[ServingLife], markdown: bool) -> String {
    let mut out = String::new();
    for l in lives {
        let title = format!(
            "Serving {}: one year projected beside its training",
            name(l)
        );
        let t = side_by_side(l);
        if markdown {
            let _ = writeln!(out, "\n### {title}\n");
            out.push_str(&t.markdown());
            out.push('\n');
            for n in notes(l) {
                let _ = writeln!(out, "{n}\n");
            }
        } else {
            let _ = writeln!(out, "\n{title}");
            out.push_str(&t.text());
            for n in notes(l) {
                let _ = writeln!(out, "{n}");
            }
        }
    }
    out
}

/// The JSON of one served model (`serving` in `report --lifecycle --format json`).
pub(crate) fn to_json(l: &ServingLife) -> serde_json::Value {
    let m = &l.measured;
    let opt = |x: Option<f64>| x.map(machine);
    let projection = l.projection.as_ref().map(|p| {
        json!({
            "requests_per_day": machine(p.requests_per_day),
            "rate": if l.rate_given { "given" } else { "measured" },
            "requests": machine(p.requests),
            "generated_tokens": machine(p.generated_tokens),
            "model": p.model,
            "energy_kwh": machine(p.energy.kwh()),
            "idle_energy_kwh": machine(p.idle_energy.kwh()),
            "idle_share": opt(p.idle_share),
            "operational_kgco2e": machine(p.operational.kg()),
            "embodied_kgco2e": opt(p.embodied.map(|c| c.kg())),
            "water_l": opt(p.water.map(|w| w.litres())),
            "saturated": p.saturated,
            "energy_wh_per_request": opt(p.per_unit.energy_wh_per_request),
            "energy_wh_per_1k_tokens": opt(p.per_unit.energy_wh_per_1k_tokens),
            "kgco2e_per_request": opt(p.per_unit.kgco2e_per_request),
            "kgco2e_per_1k_tokens": opt(p.per_unit.kgco2e_per_1k_tokens),
        })
    });
    json!({
        "model": l.model,
        "measured": {
            "runs": l.runs,
            "seconds": machine(m.measured_s),
            "idle_s": machine(m.idle_s),
            "requests": m.work.requests,
            "prompt_tokens": m.work.prompt_tokens,
            "generated_tokens": m.work.generated_tokens,
            "requests_per_day": opt(m.requests_per_day()),
            "energy_kwh": machine(m.energy.kwh()),
            "idle_energy_kwh": machine(m.idle_energy.kwh()),
            "operational_kgco2e": machine(m.operational.kg()),
            "counts_complete": !m.counts_incomplete,
        },
        "year": projection,
        "training": {
            "runs": l.training.runs,
            "estimated_runs": l.training.estimated_runs,
            "energy_kwh": machine(l.training.energy.kwh()),
            "operational_kgco2e": machine(l.training.operational.kg()),
            "embodied_kgco2e": (l.training.embodied_runs > 0).then(|| machine(l.training.embodied.kg())),
        },
        "year_over_training": opt(l.year_over_training()),
        "days_to_match_training": opt(l.days_to_match_training()),
    })
}
