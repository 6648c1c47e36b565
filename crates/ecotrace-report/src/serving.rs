//! Serving runs and windows: the work counted and the per-unit figures (per request, per 1,000
//! generated tokens) of a run, its hourly rows, the hours of many runs (`report --by hour`), and
//! a run's named windows. Every figure shown is derived in `ecotrace_core::serving`; this module
//! only lays them out.

use std::fmt::Write as _;

use ecotrace_core::serving::{hour_totals, Factors, HourRow, HourTotal, PerUnit};
use ecotrace_core::RunRecord;
use ecotrace_estimator::deployment::Deployment;
use serde_json::json;

use crate::report::Format;
use crate::table::{Align, Table};
use crate::text::{
    co2, csv_row, duration, energy, inline, machine, num, plain, rfc3339, short_id, utc_second,
    water,
};

fn opt(x: Option<f64>) -> String {
    x.map_or("-".to_string(), num)
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".to_string(), |s| format!("{:.0}%", s * 100.0))
}

/// `X Wh IT energy, Y gCO2e operational, Z gCO2e embodied, W L water` for one unit of work,
/// each scaled by the one formatter.
fn per_unit_line(u: &PerUnit, per_request: bool) -> String {
    let (e, c, m, w) = if per_request {
        (
            u.energy_wh_per_request,
            u.kgco2e_per_request,
            u.embodied_kgco2e_per_request,
            u.water_l_per_request,
        )
    } else {
        (
            u.energy_wh_per_1k_tokens,
            u.kgco2e_per_1k_tokens,
            u.embodied_kgco2e_per_1k_tokens,
            u.water_l_per_1k_tokens,
        )
    };
    let Some(e) = e else {
        return "-".to_string();
    };
    let mut s = format!("{} IT energy", energy(e / 1000.0));
    if let Some(c) = c {
        let _ = write!(s, ", {} operational", co2(c));
    }
    if let Some(m) = m {
        let _ = write!(s, ", {} embodied", co2(m));
    }
    if let Some(w) = w {
        let _ = write!(s, ", {} water", water(w));
    }
    s
}

/// The lines the end-of-run summary and `show` print for a run that counted work.
pub fn serving_lines(r: &RunRecord) -> String {
    let Some(s) = &r.serving else {
        return String::new();
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "serving          {} requests, {} prompt tokens, {} generated tokens  ({})",
        s.work.requests,
        s.work.prompt_tokens,
        s.work.generated_tokens,
        inline(&s.source)
    );
    let _ = writeln!(out, "  per request    {}", per_unit_line(&s.per_unit, true));
    let _ = writeln!(
        out,
        "  per 1k tokens  {}",
        per_unit_line(&s.per_unit, false)
    );
    let _ = writeln!(
        out,
        "  idle           {} of the energy ({}) with no request in flight, {} of {}",
        pct(s.idle_share),
        energy(s.idle_energy_kwh.kwh()),
        duration(std::time::Duration::from_secs_f64(s.idle_s.max(0.0))),
        duration(r.duration)
    );
    if !s.counts_complete {
        out.push_str(
            "  counts incomplete: the work counter could not be read for part of the run (see the hourly rows)\n",
        );
    }
    out
}

fn hours_table(totals: &[HourTotal], with_runs: bool) -> Table {
    let mut cols = vec![
        ("hour (UTC)", Align::Left),
        ("requests", Align::Right),
        ("gen. tokens", Align::Right),
        ("req/s", Align::Right),
        ("Wh", Align::Right),
        ("idle", Align::Right),
        ("Wh/request", Align::Right),
        ("Wh/1k tok", Align::Right),
        ("gCO2e/1k tok", Align::Right),
        ("counts", Align::Left),
    ];
    if with_runs {
        cols.insert(1, ("runs", Align::Right));
    }
    let mut t = Table::new(&cols);
    t.rows = totals
        .iter()
        .map(|h| {
            let secs = h.row.measured_s;
            let mut row = vec![
                h.row.hour.format("%Y-%m-%d %H:00").to_string(),
                h.row.work.requests.to_string(),
                h.row.work.generated_tokens.to_string(),
                opt((secs > 0.0).then(|| h.row.work.requests as f64 / secs)),
                num(h.row.energy_kwh.total.wh()),
                pct(h.idle_share),
                opt(h.per_unit.energy_wh_per_request),
                opt(h.per_unit.energy_wh_per_1k_tokens),
                opt(h.per_unit.kgco2e_per_1k_tokens.map(|k| k * 1000.0)),
                if h.row.counts_complete {
                    "complete".to_string()
                } else {
                    "incomplete".to_string()
                },
            ];
            if with_runs {
                row.insert(1, h.runs.to_string());
            }
            row
        })
        .collect();
    t
}

/// One run's hourly rows, totals with the run's own factors.
pub fn run_hours(r: &RunRecord, hours: &[HourRow]) -> Vec<HourTotal> {
    let f = Factors::of(r);
    hour_totals(hours.iter().map(|h| (h, f)))
}

/// `show`'s serving part, after the run's summary: the hourly table and the windows.
pub fn serving_text(r: &RunRecord, hours: &[HourRow]) -> String {
    let mut out = String::new();
    // The work and per-unit figures are in the summary `show` starts with.
    if r.serving.is_some() && !hours.is_empty() {
        out.push('\n');
        out.push_str(&hours_table(&run_hours(r, hours), false).text());
    }
    out.push_str(&windows_text(r));
    out
}

/// The run's named windows: name (indented by depth), start, end, duration, energy by
/// component, operational CO2e.
pub fn windows_text(r: &RunRecord) -> String {
    if r.windows.is_empty() {
        return String::new();
    }
    let mut t = Table::new(&[
        ("window", Align::Left),
        ("start (UTC)", Align::Left),
        ("end (UTC)", Align::Left),
        ("duration", Align::Right),
        ("cpu Wh", Align::Right),
        ("gpu Wh", Align::Right),
        ("ram Wh", Align::Right),
        ("total Wh", Align::Right),
        ("gCO2e", Align::Right),
    ]);
    t.rows = r
        .windows
        .iter()
        .map(|w| {
            vec![
                format!("{}{}", "  ".repeat(w.depth as usize), inline(&w.name)),
                utc_second(w.started_at),
                w.ended_at.map_or("open".to_string(), utc_second),
                w.duration().map_or("-".to_string(), duration),
                num(w.energy_kwh.cpu.wh()),
                num(w.energy_kwh.gpu.wh()),
                num(w.energy_kwh.ram.wh()),
                num(w.energy_kwh.total.wh()),
                num(w.operational.grams()),
            ]
        })
        .collect();
    format!("\nwindows ({})\n{}", r.windows.len(), t.text())
}

/// `runs`: a line per serving run under the table, with its work and figures so far.
pub fn serving_runs_lines(rs: &[RunRecord]) -> String {
    let mut out = String::new();
    for r in rs {
        let Some(s) = &r.serving else { continue };
        if out.is_empty() {
            out.push_str("\nserving (so far for running runs):\n");
        }
        let _ = writeln!(
            out,
            "  {}  {} {}: {} requests, {} generated tokens, {} Wh/request, {} Wh/1k tokens, idle {}",
            short_id(&r.id),
            r.status,
            duration(r.duration),
            s.work.requests,
            s.work.generated_tokens,
            opt(s.per_unit.energy_wh_per_request),
            opt(s.per_unit.energy_wh_per_1k_tokens),
            pct(s.idle_share),
        );
    }
    out
}

/// The hourly rows of several runs summed by hour, each with its run's factors.
pub fn runs_hours(runs: &[(RunRecord, Vec<HourRow>)]) -> Vec<HourTotal> {
    hour_totals(
        runs.iter()
            .flat_map(|(r, hs)| hs.iter().map(move |h| (h, Factors::of(r)))),
    )
}

/// `report --by hour`: the hours of the given runs' hourly rows, summed over runs.
pub fn hours_report(runs: &[(RunRecord, Vec<HourRow>)], format: Format) -> String {
    hour_totals_report(&runs_hours(runs), format)
}

/// [`hours_report`] of rows already summed by hour (`ecotrace_core::serving::HourSums`).
pub fn hour_totals_report(totals: &[HourTotal], format: Format) -> String {
    match format {
        Format::Json => {
            let rows: Vec<_> = totals.iter().map(hour_json).collect();
            serde_json::to_string_pretty(&rows).expect("plain JSON") + "\n"
        }
        Format::Csv => {
            let mut out = csv_row(&[
                "hour",
                "runs",
                "requests",
                "prompt_tokens",
                "generated_tokens",
                "energy_kwh",
                "idle_energy_kwh",
                "operational_kgco2e",
                "energy_wh_per_request",
                "energy_wh_per_1k_tokens",
                "counts_complete",
            ]);
            for h in totals {
                let o = |x: Option<f64>| x.map_or(String::new(), plain);
                out.push_str(&csv_row(&[
                    rfc3339(h.row.hour),
                    h.runs.to_string(),
                    h.row.work.requests.to_string(),
                    h.row.work.prompt_tokens.to_string(),
                    h.row.work.generated_tokens.to_string(),
                    plain(h.row.energy_kwh.total.kwh()),
                    plain(h.row.idle_energy_kwh.kwh()),
                    plain(h.operational.kg()),
                    o(h.per_unit.energy_wh_per_request),
                    o(h.per_unit.energy_wh_per_1k_tokens),
                    h.row.counts_complete.to_string(),
                ]));
            }
            out
        }
        Format::Markdown => hours_table(totals, true).markdown(),
        _ => {
            if totals.is_empty() {
                return "no hourly rows: they are kept for runs that count work (ecotrace serve, \
                        ecotrace attach, tracker.count())\n"
                    .to_string();
            }
            hours_table(totals, true).text()
        }
    }
}

fn hour_json(h: &HourTotal) -> serde_json::Value {
    let m = |x: Option<f64>| x.map(machine);
    json!({
        "hour": rfc3339(h.row.hour),
        "runs": h.runs,
        "requests": h.row.work.requests,
        "prompt_tokens": h.row.work.prompt_tokens,
        "generated_tokens": h.row.work.generated_tokens,
        "measured_s": machine(h.row.measured_s),
        "idle_s": machine(h.row.idle_s),
        "energy_kwh": machine(h.row.energy_kwh.total.kwh()),
        "idle_energy_kwh": machine(h.row.idle_energy_kwh.kwh()),
        "idle_share": m(h.idle_share),
        "operational_kgco2e": machine(h.operational.kg()),
        "embodied_kgco2e": m(h.embodied.map(|c| c.kg())),
        "water_l": m(h.water.map(|w| w.litres())),
        "energy_wh_per_request": m(h.per_unit.energy_wh_per_request),
        "energy_wh_per_1k_tokens": m(h.per_unit.energy_wh_per_1k_tokens),
        "kgco2e_per_request": m(h.per_unit.kgco2e_per_request),
        "kgco2e_per_1k_tokens": m(h.per_unit.kgco2e_per_1k_tokens),
        "counts_complete": h.row.counts_complete,
    })
}

/// The deployment lines of `estimate inference`'s text (a provisioned deployment).
pub(crate) fn deployment_text(d: &Deployment) -> String {
    let mut o = String::new();
    let u = &d.per_unit;
    let _ = writeln!(
        o,
        "  requests      {}{}",
        num(d.requests),
        d.generated_tokens
            .map(|t| format!(", {} generated tokens", num(t)))
            .unwrap_or_default()
    );
    let _ = writeln!(o, "  per request   {}", per_unit_line(u, true));
    if u.energy_wh_per_1k_tokens.is_some() {
        let _ = writeln!(o, "  per 1k tokens {}", per_unit_line(u, false));
    }
    if let (Some(idle), Some(floor)) = (d.idle_share, d.idle_floor_share) {
        let _ = writeln!(
            o,
            "  idle          {} of the energy with no request in flight; {} drawn whether or not requests arrive",
            pct(Some(idle)),
            pct(Some(floor))
        );
    }
    if let (Some(busy), Some(all)) = (d.busy_only_wh_per_request, u.energy_wh_per_request) {
        let _ = writeln!(
            o,
            "  vs per-request-only  {} a request counting only the energy drawn while serving ({} with idle time)",
            energy(busy / 1000.0),
            energy(all / 1000.0)
        );
    }
    o
}

/// Adds the deployment figures to `estimate inference --json`: the per-unit figures and the idle
/// share at the top level, the rest under `deployment`.
pub(crate) fn deployment_json(d: &Deployment, v: &mut serde_json::Value) {
    let u = &d.per_unit;
    if let serde_json::Value::Object(m) = v {
        m.insert(
            "energy_wh_per_request".into(),
            json!(u.energy_wh_per_request),
        );
        m.insert(
            "energy_wh_per_1k_tokens".into(),
            json!(u.energy_wh_per_1k_tokens),
        );
        m.insert("kgco2e_per_request".into(), json!(u.kgco2e_per_request));
        m.insert("kgco2e_per_1k_tokens".into(), json!(u.kgco2e_per_1k_tokens));
        m.insert("idle_share".into(), json!(d.idle_share));
        m.insert(
            "deployment".into(),
            json!({
                "mode": d.mode,
                "requests": d.requests,
                "generated_tokens": d.generated_tokens,
                "idle_share": d.idle_share,
                "idle_floor_share": d.idle_floor_share,
                "busy_only_energy_wh_per_request": d.busy_only_wh_per_request,
                "energy_j_per_token": d.joules_per_token,
                "per_unit": u,
            }),
        );
    }
}
