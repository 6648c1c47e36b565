//! The estimator's output (`ecotrace estimate`, `estimate inference`, `compare`, `data
//! hardware`, `ecotrace.estimate()`): an estimate's text and JSON, a comparison's table, the
//! hardware catalog. Text uses the one number formatter (scaled units, three significant
//! digits); JSON keeps base units and full precision.

use std::fmt::Write as _;

use ecotrace_estimator::{Assumption, Estimated};
use serde_json::{json, Value};

use crate::text::{co2, energy, num, water};

/// A count or a catalog figure as given (`8`, `0.5`, `19.5`): not a measured quantity.
fn exact(x: f64) -> String {
    x.to_string()
}

fn assumption_json(a: &Assumption) -> Value {
    json!({ "name": a.name, "value": a.value, "unit": a.unit, "source": a.source })
}

/// The estimate as `ecotrace estimate --json` prints it.
pub fn to_json(e: &Estimated) -> Value {
    let f = &e.figures;
    // The devices' and the host's shares scale with their embodied figures: their ranges scale
    // the same way (none for a figure the user gave).
    let scaled =
        |share: f64,
         figure: f64,
         range: Option<(ecotrace_core::CarbonMass, ecotrace_core::CarbonMass)>| {
            range
                .filter(|_| figure > 0.0)
                .map(|(lo, hi)| (lo.kg() * share / figure, hi.kg() * share / figure))
        };
    let devices_range = e
        .device
        .as_ref()
        .and_then(|d| scaled(f.embodied_devices.kg(), d.embodied.kg(), d.embodied_range));
    let host_range = e.device.as_ref().and_then(|d| {
        scaled(
            f.embodied_host.kg(),
            d.host.embodied.kg(),
            d.host.embodied_range,
        )
    });
    let mut v = json!({
        "hardware": e.device.as_ref().map(|d| d.id.clone()),
        "devices": e.device.as_ref().map(|_| e.devices),
        "region": e.place.label,
        "grid_zone": e.place.grid_zone,
        "device_hours": e.device.as_ref().map(|_| f.device_hours),
        "wall_hours": e.device.as_ref().map(|_| f.wall_hours),
        "energy_kwh": f.energy.kwh(),
        "facility_energy_kwh": f.facility_energy.kwh(),
        "operational_kgco2e": f.operational.kg(),
        "intensity_basis": e.place.grid_basis().map(ecotrace_core::GridBasis::as_str),
        "embodied_kgco2e": e.embodied_known.then(|| f.embodied().kg()),
        "embodied": e.embodied_known.then(|| json!({
            "devices_kgco2e": f.embodied_devices.kg(),
            "devices_low_kgco2e": devices_range.map(|r| r.0),
            "devices_high_kgco2e": devices_range.map(|r| r.1),
            "host_kgco2e": f.embodied_host.kg(),
            "host_low_kgco2e": host_range.map(|r| r.0),
            "host_high_kgco2e": host_range.map(|r| r.1),
            "lifetime_years": e.lifetime.years(),
            "method": "SCI M: embodied × device-hours / lifetime (host: ÷ slots)",
        })),
        "water_l": f.water.total().litres(),
        "water": { "onsite_l": f.water.onsite.litres(), "offsite_l": f.water.offsite.litres() },
        "cost_usd": f.cost.map(|c| c.usd()),
        "cost": e.cost.as_ref().map(|c| json!({
            "basis": c.basis, "usd_per_hour": c.usd_per_hour, "usd_per_kwh": c.usd_per_kwh, "source": c.source,
        })),
        "assumptions": e.assumptions.iter().map(assumption_json).collect::<Vec<_>>(),
        "notes": e.notes,
    });
    if let Some(d) = &e.deployment {
        crate::serving::deployment_json(d, &mut v);
    }
    v
}

/// The estimate as `ecotrace estimate` prints it, under `title`.
pub fn to_text(e: &Estimated, title: &str) -> String {
    let f = &e.figures;
    let mut o = String::new();
    let _ = writeln!(o, "{title}");
    if e.device.is_some() {
        let _ = writeln!(
            o,
            "  device-hours  {} ({} device(s) × {} h)",
            num(f.device_hours),
            exact(e.devices),
            num(f.wall_hours)
        );
    }
    let _ = writeln!(
        o,
        "  energy        {} IT, {} at the meter (PUE {})",
        energy(f.energy.kwh()),
        energy(f.facility_energy.kwh()),
        e.place.pue.value.value()
    );
    let _ = writeln!(
        o,
        "  operational   {}  ({}, {} {})",
        co2(f.operational.kg()),
        e.place.label,
        num(e.place.intensity.value.g_per_kwh()),
        ecotrace_estimator::intensity_unit(&e.place)
    );
    if e.embodied_known {
        let _ = writeln!(
            o,
            "  embodied      {}  (SCI M: devices {} + host share {}; {}-year life) — not included in operational",
            co2(f.embodied().kg()),
            co2(f.embodied_devices.kg()),
            co2(f.embodied_host.kg()),
            exact(e.lifetime.years())
        );
    } else {
        let _ = writeln!(
            o,
            "  embodied      not estimated (no hardware given: pass --hardware)"
        );
    }
    let _ = writeln!(
        o,
        "  water         {}  (on-site {} + off-site {})",
        water(f.water.total().litres()),
        water(f.water.onsite.litres()),
        water(f.water.offsite.litres())
    );
    match (&e.cost, f.cost) {
        (Some(c), Some(usd)) => {
            let _ = writeln!(
                o,
                "  cost          {} USD  ({})",
                num(usd.usd()),
                if c.basis == "instance" {
                    "instance rental"
                } else {
                    "electricity only"
                }
            );
        }
        _ => {
            let _ = writeln!(o, "  cost          not shown (no price known)");
        }
    }
    if let Some(d) = &e.deployment {
        o.push_str(&crate::serving::deployment_text(d));
    }
    let _ = writeln!(o, "Assumptions:");
    for a in &e.assumptions {
        let v = match &a.value {
            Value::Number(n) => n.as_f64().map(num).unwrap_or_else(|| n.to_string()),
            other => other.to_string(),
        };
        let _ = writeln!(o, "  {:<26} {} {} — {}", a.name, v, a.unit, a.source);
    }
    for n in &e.notes {
        let _ = writeln!(o, "note: {n}");
    }
    o
}

/// The heading `to_text` gets from the CLI: what was estimated.
pub fn estimate_title(e: &Estimated) -> String {
    match &e.device {
        Some(d) => format!(
            "Estimate: {} × {} ({}) in {}",
            exact(e.devices),
            d.id,
            d.name,
            e.place.label
        ),
        None => format!("Estimate in {}", e.place.label),
    }
}

/// The comparison as `ecotrace compare` prints it: one row per choice.
/// What a table of figures says about their basis: `Grid intensity basis: life-cycle.` when all
/// rows share one, else the basis of each row that differs from the first (a table never mixes
/// bases without saying so). `rows` are (label, basis; `None` for a figure the user gave).
pub fn basis_line<'a>(
    rows: impl Iterator<Item = (&'a str, Option<ecotrace_core::GridBasis>)>,
) -> String {
    let name = |b: Option<ecotrace_core::GridBasis>| {
        b.map_or("as given by the user", ecotrace_core::GridBasis::label)
    };
    let rows: Vec<(&str, Option<ecotrace_core::GridBasis>)> = rows.collect();
    let Some(&(_, first)) = rows.first() else {
        return String::new();
    };
    let mut odd: Vec<String> = rows
        .iter()
        .filter(|(_, b)| *b != first)
        .map(|(l, b)| format!("{l}: {}", name(*b)))
        .collect();
    odd.dedup();
    if odd.is_empty() {
        format!("Grid intensity basis: {}.", name(first))
    } else {
        format!(
            "Grid intensity basis: {}, EXCEPT {} (no figure on the asked basis is bundled there): compare like with like.",
            name(first),
            odd.join(", ")
        )
    }
}

pub fn compare_text(rows: &[Estimated]) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<16} {:<22} {:>10} {:>10} {:>13} {:>13} {:>13} {:>10} {:>9}",
        "hardware",
        "region",
        "device-h",
        "energy",
        "operational",
        "embodied",
        "op.+emb.",
        "water",
        "cost USD"
    );
    let best = rows
        .first()
        .map(|r| r.figures.operational.kg() + r.figures.embodied().kg());
    for r in rows {
        let f = &r.figures;
        let _ = writeln!(
            o,
            "{:<16} {:<22} {:>10} {:>10} {:>13} {:>13} {:>13} {:>10} {:>9}",
            r.device.as_ref().map_or("-", |d| d.id.as_str()),
            r.place.label,
            num(f.device_hours),
            energy(f.energy.kwh()),
            co2(f.operational.kg()),
            co2(f.embodied().kg()),
            co2(f.operational.kg() + f.embodied().kg()),
            water(f.water.total().litres()),
            f.cost.map_or("-".to_string(), |c| num(c.usd())),
        );
    }
    if let (Some(best), Some(worst)) = (
        best,
        rows.last()
            .map(|r| r.figures.operational.kg() + r.figures.embodied().kg()),
    ) {
        if worst > 0.0 && rows.len() > 1 {
            let _ = writeln!(
                o,
                "\nSorted by operational + embodied CO2e (shown apart above). The first choice emits {:.0} % less than the last.",
                (1.0 - best / worst) * 100.0
            );
        }
    }
    let _ = writeln!(
        o,
        "{}",
        basis_line(
            rows.iter()
                .map(|r| (r.place.label.as_str(), r.place.grid_basis()))
        )
    );
    let _ = writeln!(o, "Cost is instance rental where a price is bundled for the region, else electricity if --electricity-price is given, else '-'.");
    let _ = writeln!(
        o,
        "Every assumption: ecotrace estimate --hardware H --region R ... --json"
    );
    o
}

/// The comparison as `ecotrace compare --json` prints it.
pub fn compare_json(rows: &[Estimated]) -> Value {
    Value::Array(rows.iter().map(to_json).collect())
}

// ---------------------------------------------------------------------------------------------
// `ecotrace data hardware`

fn opt(x: Option<f64>) -> String {
    x.map_or("-".to_string(), exact)
}

/// `ecotrace data hardware`: the hardware catalog as a table or JSON.
pub fn data_hardware(as_json: bool, with_cpus: bool) -> Result<String, serde_json::Error> {
    let accs = ecotrace_data::accelerators();
    let refs = ecotrace_data::embodied_refs();
    if as_json {
        let a: Vec<Value> = accs
            .iter()
            .map(|a| {
                json!({
                    "id": a.id, "aliases": a.aliases, "vendor": a.vendor, "name": a.name, "kind": a.kind,
                    "memory_gb": a.memory_gb, "memory_type": a.memory_type, "memory_source": a.memory_source,
                    "tdp_w": a.tdp.watts(), "tdp_source": a.tdp_source,
                    "tdp_range_w": a.tdp_range.map(|(l, h)| [l.watts(), h.watts()]),
                    "tflops_fp32": a.tflops_fp32, "tflops_fp16": a.tflops_fp16, "tflops_fp8": a.tflops_fp8,
                    "flops_source": a.flops_source, "die_area_mm2": a.die_area_mm2,
                    "process_nm": a.process_nm, "silicon_source": a.silicon_source,
                    "release_year": a.release_year, "spec_source": a.spec_source,
                    "embodied_kgco2e": a.embodied.kg(), "embodied_estimated": a.embodied_estimated,
                    "embodied_range_kgco2e": [a.embodied_range.0.kg(), a.embodied_range.1.kg()],
                    "embodied_low_kgco2e": a.embodied_range.0.kg(),
                    "embodied_high_kgco2e": a.embodied_range.1.kg(),
                    "embodied_basis": a.embodied_basis, "embodied_source": a.embodied_source,
                    "license": a.license, "notes": a.notes,
                })
            })
            .collect();
        let h: Vec<Value> = refs
            .iter()
            .map(|e| {
                json!({
                    "id": e.id, "name": e.name, "kind": e.kind, "slots": e.slots,
                    "embodied_kgco2e": e.embodied.kg(), "estimated": e.estimated,
                    "embodied_range_kgco2e": [e.embodied_range.0.kg(), e.embodied_range.1.kg()],
                    "embodied_low_kgco2e": e.embodied_range.0.kg(),
                    "embodied_high_kgco2e": e.embodied_range.1.kg(),
                    "source": e.source, "range_source": e.range_source,
                    "year": e.year, "license": e.license, "notes": e.notes,
                })
            })
            .collect();
        let mut obj = json!({ "accelerators": a, "hosts_and_cpus": h, "cpu_count": ecotrace_data::cpus().len() });
        if with_cpus {
            obj["cpus"] = Value::Array(
                ecotrace_data::cpus()
                    .iter()
                    .map(|c| json!({"name": c.name, "tdp_w": c.tdp.watts(), "cores": c.cores, "source": c.source, "year": c.year}))
                    .collect(),
            );
        }
        return serde_json::to_string_pretty(&obj);
    }
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<16} {:>7} {:>6} {:>10} {:>10} {:>12} {:>13}  embodied basis",
        "accelerator", "mem GB", "TDP W", "fp16 TF/s", "fp32 TF/s", "embodied kg", "range kg"
    );
    for a in accs {
        let _ = writeln!(
            o,
            "{:<16} {:>7} {:>6} {:>10} {:>10} {:>12} {:>13}  {}",
            a.id,
            exact(a.memory_gb),
            exact(a.tdp.watts()),
            opt(a.tflops_fp16),
            opt(a.tflops_fp32),
            exact(a.embodied.kg()),
            format!(
                "{}-{}",
                exact(a.embodied_range.0.kg()),
                exact(a.embodied_range.1.kg())
            ),
            if a.embodied_estimated {
                format!("{} (estimated)", a.embodied_basis)
            } else {
                a.embodied_basis.clone()
            }
        );
    }
    let _ = writeln!(
        o,
        "\n{:<12} {:>6} {:>12} {:>13}  name",
        "host / cpu", "slots", "embodied kg", "range kg"
    );
    for e in refs {
        let _ = writeln!(
            o,
            "{:<12} {:>6} {:>12} {:>13}  {}{}",
            e.id,
            e.slots,
            exact(e.embodied.kg()),
            format!(
                "{}-{}",
                exact(e.embodied_range.0.kg()),
                exact(e.embodied_range.1.kg())
            ),
            e.name,
            if e.estimated { " (estimated)" } else { "" }
        );
    }
    let cpus = ecotrace_data::cpus();
    let _ = writeln!(
        o,
        "\nCPUs: {} models with TDP ({} with core counts){}",
        cpus.len(),
        cpus.iter().filter(|c| c.cores.is_some()).count(),
        if with_cpus {
            ":"
        } else {
            "; list them with --cpus"
        }
    );
    if with_cpus {
        for c in cpus {
            let _ = writeln!(
                o,
                "  {:<48} {:>6} W {:>5}",
                c.name,
                exact(c.tdp.watts()),
                c.cores.map_or("-".into(), |n| n.to_string())
            );
        }
    }
    let _ = writeln!(o, "\nSources:");
    for a in accs {
        let _ = writeln!(
            o,
            "  {}: memory: {}; TDP: {}; FLOP/s: {}; embodied: {} [{}]",
            a.id,
            a.memory_source,
            a.tdp_source,
            a.flops_source,
            a.embodied_provenance(),
            a.license
        );
    }
    for e in refs {
        let _ = writeln!(o, "  {}: {} [{}]", e.id, e.embodied_provenance(), e.license);
    }
    let _ = writeln!(
        o,
        "\nLicences and choices: docs/data.md; models: docs/footprint.md"
    );
    Ok(o)
}
