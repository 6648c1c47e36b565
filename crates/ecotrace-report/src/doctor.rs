//! `ecotrace doctor`'s page: the machine, each sensor's check and its fix, what a run would use,
//! and every factor of the place with its provenance, rendered exactly as `estimate` and the run
//! record write it (one renderer: `ecotrace_factors::Provenance`'s `Display`).

use std::fmt::Write as _;

use ecotrace_factors::{Factor, Place};

use crate::text::num;

/// One sensor check.
#[derive(Debug, Clone, PartialEq)]
pub struct DoctorCheck {
    pub sensor: String,
    pub ok: bool,
    pub detail: String,
    pub fix: Option<String>,
}

/// One device a run would measure, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct DoctorDevice {
    pub component: String,
    pub device: String,
    pub method: String,
    pub note: String,
}

/// What `doctor` found, gathered by the CLI.
#[derive(Debug, Clone)]
pub struct Doctor<'a> {
    pub version: &'a str,
    pub cpu_model: String,
    pub logical_cpus: u32,
    pub sockets: u32,
    pub gpus: Vec<String>,
    pub checks: Vec<DoctorCheck>,
    /// What scope a run would charge (`process`, `machine`).
    pub scope: String,
    pub in_use: Vec<DoctorDevice>,
    pub place: &'a Place,
    pub notes: &'a [String],
    /// The live grid-intensity provider configured, if any, and whether it answered.
    pub live: Option<DoctorLive>,
}

/// A live provider as `doctor` found it.
#[derive(Debug, Clone, PartialEq)]
pub struct DoctorLive {
    /// The provider's name (`Electricity Maps API v3`).
    pub provider: String,
    /// Its zone asked, when one could be named.
    pub zone: Option<String>,
    /// What it answered (`88 gCO2e/kWh for ...`), or why it gave nothing.
    pub answer: Result<String, String>,
}

/// Every factor of a place, one per line: `  NAME  VALUE UNIT — PROVENANCE`.
pub fn factor_lines(p: &Place) -> String {
    fn line<T>(o: &mut String, name: &str, f: &Factor<T>, value: String) {
        let _ = writeln!(o, "  {name:<14} {value} — {}", f.provenance);
    }
    let mut o = String::new();
    line(
        &mut o,
        "intensity",
        &p.intensity,
        format!("{} gCO2e/kWh", num(p.intensity.value.g_per_kwh())),
    );
    line(&mut o, "pue", &p.pue, num(p.pue.value.value()));
    line(
        &mut o,
        "wue",
        &p.wue,
        format!("{} L/kWh", num(p.wue.value.l_per_kwh())),
    );
    line(
        &mut o,
        "offsite water",
        &p.offsite_water,
        format!("{} L/kWh", num(p.offsite_water.value.l_per_kwh())),
    );
    if let Some(e) = &p.electricity_price() {
        line(
            &mut o,
            "electricity",
            e,
            format!("{} USD/kWh", num(e.value)),
        );
    }
    o
}

/// The doctor's page.
pub fn doctor(d: &Doctor<'_>) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "ecotrace {} doctor", d.version);
    let _ = writeln!(
        o,
        "CPU: {} ({} logical CPUs, {} socket(s))",
        d.cpu_model, d.logical_cpus, d.sockets
    );
    let _ = writeln!(
        o,
        "GPUs: {}",
        if d.gpus.is_empty() {
            "none found".to_string()
        } else {
            d.gpus.join(", ")
        }
    );
    let _ = writeln!(o, "\nSensors:");
    for c in &d.checks {
        let _ = writeln!(
            o,
            "  [{}] {:<10} {}",
            if c.ok { " ok " } else { "FAIL" },
            c.sensor,
            c.detail
        );
        if let Some(fix) = &c.fix {
            let _ = writeln!(o, "         {:<10} fix: {}", "", fix);
        }
    }
    let _ = writeln!(o, "\nIn use for a run (scope {}):", d.scope);
    if d.in_use.is_empty() {
        let _ = writeln!(
            o,
            "  no sensor: energy cannot be measured or estimated here"
        );
    }
    for u in &d.in_use {
        let _ = writeln!(
            o,
            "  {:<4} {:<12} {:<13} {}",
            u.component, u.device, u.method, u.note
        );
    }
    if let Some(l) = &d.live {
        let _ = writeln!(o, "\nLive grid intensity (--grid-provider):");
        let zone = l
            .zone
            .as_deref()
            .map(|z| format!(", zone {z}"))
            .unwrap_or_default();
        match &l.answer {
            Ok(a) => {
                let _ = writeln!(o, "  [ ok ] {}{zone}: answers: {a}", l.provider);
            }
            Err(e) => {
                let _ = writeln!(
                    o,
                    "  [FAIL] {}{zone}: no usable answer: {e}\n         runs and plans use the bundled data",
                    l.provider
                );
            }
        }
    }
    let p = d.place;
    let zone = if p.grid_zone != p.label && !p.name.contains(&p.grid_zone) {
        format!(", grid zone {}", p.grid_zone)
    } else {
        String::new()
    };
    let _ = writeln!(o, "\nFactors for {} ({}){zone}:", p.label, p.name);
    o.push_str(&factor_lines(d.place));
    for n in d.notes {
        let _ = writeln!(o, "note: {n}");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecotrace_factors::{resolve_place, FactorArgs, Origins};

    #[test]
    fn factor_lines_carry_each_provenance() {
        let f = FactorArgs {
            pue: Some(1.0),
            ..Default::default()
        };
        let p = resolve_place(Some("FR"), &f, &Origins::default()).unwrap();
        let text = factor_lines(&p);
        assert!(
            text.contains("  pue            1.00 — given by the user (--pue)\n"),
            "{text}"
        );
        assert!(text.contains("[zones table, row FR, "), "{text}");
        assert!(
            text.contains("  wue            0 L/kWh — default 0: "),
            "{text}"
        );
    }
}
