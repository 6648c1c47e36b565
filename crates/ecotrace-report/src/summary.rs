//! The human run summary printed at the end of `ecotrace run`, and the one-line live status shown
//! while a run is measured.
//!
//! Both read only the record (or the figures passed in); they never recompute a footprint, so what
//! is printed is what was stored.

use std::fmt::Write as _;
use std::time::Duration;

use ecotrace_core::{CarbonMass, CostBasis, Energy, IntensityBasis, Power, RunRecord, RunStatus};

use crate::text::{
    clock, co2, duration, energy, inline, num, push_wrapped, short_id, signal, truncate, water,
    watts, watts_value, width,
};

/// Terminal width the summary is laid out for.
const COLS: usize = 80;
/// Width of the label column (`total IT energy`, `PUE`, ...).
const LABEL: usize = 18;
/// Longest device name shown before it is cut.
const DEVICE_MAX: usize = 16;
/// The live line is cut to stay shorter than this.
const LIVE_MAX: usize = 70;

/// The status of a run in words, with its exit code or signal and its duration:
/// `finished (exit 0) after 1h02m03s`, `interrupted by SIGINT (exit 130) after 4m05s`.
pub(crate) fn status_line(r: &RunRecord) -> String {
    let d = duration(r.duration);
    if r.kind == ecotrace_core::RecordKind::Estimated {
        return format!("a-priori estimate over {d} (ecotrace estimate), not a measurement");
    }
    let exit = r.exit_code.map(|c| format!("exit {c}"));
    let how = match (r.signal, &exit) {
        (Some(s), Some(e)) => format!(" (killed by {}, {e})", signal(s)),
        (Some(s), None) => format!(" (killed by {})", signal(s)),
        (None, Some(e)) => format!(" ({e})"),
        (None, None) => String::new(),
    };
    match r.status {
        RunStatus::Running => format!("running, {d} so far (figures up to the last checkpoint)"),
        RunStatus::Finished => format!("finished{how} after {d}"),
        RunStatus::Failed => format!("failed{how} after {d}"),
        RunStatus::FailedToStart => match &exit {
            Some(e) => format!("failed to start ({e})"),
            None => "failed to start".to_string(),
        },
        RunStatus::Interrupted => match (r.signal, &exit, &r.error) {
            (Some(s), Some(e), _) => format!("interrupted by {} ({e}) after {d}", signal(s)),
            (Some(s), None, _) => format!("interrupted by {} after {d}", signal(s)),
            (None, Some(e), _) => format!("interrupted ({e}) after {d}"),
            // Set on read by the ledger: the tracker itself vanished; a note says when and why.
            (None, None, None) => format!("interrupted after {d} (the tracker stopped reporting)"),
            (None, None, Some(_)) => format!("interrupted after {d}"),
        },
    }
}

fn labelled(out: &mut String, label: &str, text: &str) {
    let first = format!("{label:<LABEL$}");
    push_wrapped(out, &first, &inline(text), LABEL, COLS);
}

fn intensity_text(r: &RunRecord) -> String {
    let i = &r.intensity;
    let mut parts = vec![match (i.grid_basis, i.signal) {
        (_, ecotrace_core::EmissionSignal::Marginal) => {
            format!("{} gCO2e/kWh (marginal)", num(i.value.g_per_kwh()))
        }
        (Some(b), _) => format!("{} gCO2e/kWh ({b})", num(i.value.g_per_kwh())),
        (None, _) => format!("{} gCO2e/kWh", num(i.value.g_per_kwh())),
    }];
    // Sources written by the factor resolver already name their year.
    let year = i
        .year
        .filter(|y| !i.source.contains(&y.to_string()))
        .map(|y| format!(", {y}"))
        .unwrap_or_default();
    match i.basis {
        IntensityBasis::Zone => {
            parts.push(format!("zone {}", i.zone));
            parts.push(format!("source: {}{year}", i.source));
        }
        IntensityBasis::WorldDefault => {
            parts.push(format!("zone {} (world default)", i.zone));
            parts.push(format!("source: {}{year}", i.source));
        }
        IntensityBasis::User => {
            // The CLI writes zone `user` when no zone was given with the number.
            if !i.zone.is_empty() && i.zone != "user" {
                parts.push(format!("zone {}", i.zone));
            }
            parts.push(if i.source.is_empty() {
                format!("source: given by the user{year}")
            } else {
                format!("source: {}{year}", i.source)
            });
        }
    }
    parts.join("  ")
}

/// The embodied, water and cost lines of a summary: embodied CO2e apart from operational (never
/// summed with it) with one line per device charged, water on site and off site, and the cost
/// with its basis. A record without an assessment says so; an unknown cost is left out.
fn footprint_lines(out: &mut String, r: &RunRecord) {
    match r.embodied {
        Some(e) => {
            let parts: Vec<String> = r
                .embodied_items
                .iter()
                .map(|i| format!("{} {}", i.device, co2(i.charged.kg())))
                .collect();
            let estimated: Vec<&str> = r
                .embodied_items
                .iter()
                .filter(|i| i.estimated)
                .map(|i| i.device.as_str())
                .collect();
            let lives: Vec<f64> = r
                .embodied_items
                .iter()
                .map(|i| i.lifetime.years())
                .collect();
            let life = match lives.first() {
                Some(l) if lives.iter().all(|x| x == l) => format!(" over a {l}-year life"),
                _ => String::new(),
            };
            let mut text = format!(
                "{} (SCI M, not in the operational figure): {}{life}",
                co2(e.kg()),
                parts.join(", ")
            );
            if !estimated.is_empty() {
                text.push_str(&format!("; estimated figures for {}", estimated.join(", ")));
            }
            labelled(out, "embodied CO2e", &text);
        }
        None => labelled(
            out,
            "embodied CO2e",
            "not assessed (record from an earlier ecotrace)",
        ),
    }
    if let (Some(w), Some(u)) = (r.water, &r.water_used) {
        labelled(
            out,
            "water",
            &format!(
                "{} = on-site {} (WUE {} L/kWh) + off-site {} ({} L/kWh generated)",
                water(w.litres()),
                water(u.onsite.litres()),
                num(u.wue.l_per_kwh()),
                water(u.offsite.litres()),
                num(u.offsite_factor.l_per_kwh())
            ),
        );
    }
    if let (Some(c), Some(u)) = (r.cost, &r.cost_used) {
        let basis = match (u.basis, u.usd_per_hour, u.usd_per_kwh) {
            (CostBasis::Instance, Some(p), _) => {
                let n = u.devices.unwrap_or(1.0);
                // A count of devices, written as counted (`2`, not `2.00`).
                let count = if n.fract() == 0.0 {
                    format!("{n:.0}")
                } else {
                    num(n)
                };
                format!(
                    "instance rental at {} USD per device-hour × {count} device{}",
                    num(p),
                    if n == 1.0 { "" } else { "s" }
                )
            }
            (CostBasis::Electricity, _, Some(p)) => {
                format!("electricity only at {} USD/kWh", num(p))
            }
            (b, _, _) => b.to_string(),
        };
        labelled(
            out,
            "cost",
            &format!("{} USD ({basis}; {})", num(c.usd()), u.source),
        );
    }
}

/// The end-of-run summary: status, energy by device with how each figure was obtained, total IT
/// energy, PUE, grid intensity and operational CO2e with their sources, embodied CO2e (apart),
/// water and cost, and the record's notes. About a dozen lines, laid out for 80 columns.
pub fn run_summary(r: &RunRecord) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "ecotrace run {}: {}",
        inline(&short_id(&r.id)),
        status_line(r)
    );
    if let Some(e) = &r.error {
        push_wrapped(&mut out, "error: ", &inline(e), 7, COLS);
    }

    if r.components.is_empty() {
        out.push_str("energy by device: none measured\n");
    } else {
        out.push_str("energy by device (IT energy, before PUE):\n");
        let rows: Vec<[String; 5]> = r
            .components
            .iter()
            .map(|c| {
                [
                    truncate(&inline(&c.device), DEVICE_MAX),
                    energy(c.energy.kwh()),
                    watts_value(c.mean_power.watts()),
                    c.method.to_string(),
                    inline(&c.note),
                ]
            })
            .collect();
        let w = |i: usize| rows.iter().map(|r| width(&r[i])).max().unwrap_or(0);
        let (dw, ew, pw) = (w(0), w(1), w(2));
        for [device, energy, power, method, note] in rows {
            let line = format!("  {device:<dw$}  {energy:>ew$}  mean {power:>pw$} W  {method}");
            if note.is_empty() {
                let _ = writeln!(out, "{line}");
            } else {
                // A long note flows on under the device, indented.
                push_wrapped(&mut out, &format!("{line} "), &format!("({note})"), 4, COLS);
            }
        }
    }

    let total_kwh = r.energy_kwh.total.kwh();
    labelled(
        &mut out,
        "total IT energy",
        &format!(
            "{}  mean {}",
            energy(total_kwh),
            watts(r.mean_power.watts())
        ),
    );
    let pue = r.pue.value.value();
    let pue_text = if r.pue.source.is_empty() {
        format!("{pue:.2}")
    } else {
        format!("{pue:.2}  source: {}", r.pue.source)
    };
    labelled(&mut out, "PUE", &pue_text);
    labelled(&mut out, "grid intensity", &intensity_text(r));
    labelled(
        &mut out,
        "operational CO2e",
        &format!(
            "{} = {} x PUE {pue:.2} x {} gCO2e/kWh",
            co2(r.operational.kg()),
            energy(total_kwh),
            num(r.intensity.value.g_per_kwh()),
        ),
    );
    footprint_lines(&mut out, r);
    out.push_str(&crate::serving::serving_lines(r));
    for n in &r.notes {
        push_wrapped(&mut out, "note: ", &inline(n), 6, COLS);
    }
    out
}

/// One status line for a run being measured, without a newline, shorter than 70 characters:
/// `ecotrace 00:01:23  142.3 W  3.21 Wh  1.52 gCO2e` (elapsed time, current power, energy and CO2e
/// so far, each with its unit).
pub fn live_line(elapsed: Duration, power: Power, used: Energy, emitted: CarbonMass) -> String {
    let line = format!(
        "ecotrace {}  {}  {}  {}",
        clock(elapsed),
        watts(power.watts()),
        energy(used.kwh()),
        co2(emitted.kg()),
    );
    truncate(&line, LIVE_MAX - 1)
}
