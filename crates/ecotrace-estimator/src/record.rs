//! An estimate stored as a run record of kind `estimated`, for `report --lifecycle`.

use crate::job::Estimated;

// ---------------------------------------------------------------------------------------------
// Storing an estimate as a project's future phase

fn random_id() -> String {
    // A version-4 UUID from the OS's random source (the ledger only needs uniqueness).
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    if b == [0u8; 16] {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        b = (t ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The estimate as a run record of kind `estimated`, so `report --lifecycle` can show a future
/// phase beside the measured ones. Its figures are recomputed from the stored factors and equal
/// the estimate's.
pub fn estimate_record(
    e: &Estimated,
    project: &str,
    phase: ecotrace_core::Phase,
    command: Vec<String>,
) -> ecotrace_core::RunRecord {
    use ecotrace_core::*;
    use std::collections::BTreeMap;
    let f = &e.figures;
    let now = chrono::Utc::now();
    let wall_h = if e.device.is_some() {
        f.wall_hours
    } else {
        0.0
    };
    let duration = std::time::Duration::from_secs_f64((wall_h * 3600.0).clamp(0.0, 1e15));
    let mut figures = BTreeMap::new();
    figures.insert("device_hours".to_string(), f.device_hours);
    if let Some(d) = &e.device {
        figures.insert("devices".to_string(), e.devices);
        figures.insert(
            "power_w".to_string(),
            f.energy.wh() / f.device_hours.max(f64::MIN_POSITIVE),
        );
        let _ = d;
    }
    let (kind, device_label) = match &e.device {
        Some(d) if d.accelerator.is_none() => {
            (ComponentKind::Cpu, format!("{} × {}", e.devices, d.id))
        }
        Some(d) => (ComponentKind::Gpu, format!("{} × {}", e.devices, d.id)),
        None => (ComponentKind::Gpu, "requests".to_string()),
    };
    let component = ComponentEnergy {
        component: kind,
        device: device_label,
        energy: f.energy,
        mean_power: f.energy / duration,
        peak_power: f.energy / duration,
        method: Method::Estimate,
        figures,
        note: "a-priori estimate (ecotrace estimate); its assumptions are in the notes".to_string(),
    };
    let mut items = Vec::new();
    if let (Some(d), true) = (&e.device, e.embodied_known) {
        let lifetime = e.lifetime;
        items.push(EmbodiedItem {
            component: if d.accelerator.is_some() {
                EmbodiedKind::Gpu
            } else {
                EmbodiedKind::Cpu
            },
            device: format!("{} × {}", e.devices, d.id),
            hardware: d.name.clone(),
            device_embodied: d.embodied * e.devices,
            // The catalog row's range, for as many devices as the figure (none for a given one).
            device_low: d.embodied_range.map(|r| r.0 * e.devices),
            device_high: d.embodied_range.map(|r| r.1 * e.devices),
            lifetime,
            share: Fraction::ONE,
            estimated: d.embodied_estimated,
            source: format!(
                "{} per device × {}: {}",
                ecotrace_core::human::co2(d.embodied.kg()),
                e.devices,
                d.embodied_source
            ),
            charged: CarbonMass::ZERO,
        });
        let hosts = e.devices / f64::from(d.host.slots.max(1));
        items.push(EmbodiedItem {
            component: EmbodiedKind::Host,
            device: "host".to_string(),
            hardware: d.host.name.clone(),
            device_embodied: d.host.embodied * hosts,
            device_low: d.host.embodied_range.map(|r| r.0 * hosts),
            device_high: d.host.embodied_range.map(|r| r.1 * hosts),
            lifetime,
            share: Fraction::ONE,
            estimated: d.host.estimated,
            source: format!(
                "{} per host × {} devices / {} slots: {}",
                ecotrace_core::human::co2(d.host.embodied.kg()),
                e.devices,
                d.host.slots,
                d.host.source
            ),
            charged: CarbonMass::ZERO,
        });
    }
    let cost_used = e.cost.as_ref().map(|c| CostUsed {
        basis: if c.basis == "instance" {
            ecotrace_core::CostBasis::Instance
        } else {
            ecotrace_core::CostBasis::Electricity
        },
        usd_per_hour: c.usd_per_hour,
        devices: c.usd_per_hour.map(|_| e.devices),
        usd_per_kwh: c.usd_per_kwh,
        source: c.source.clone(),
    });
    let mut notes =
        vec!["a-priori estimate stored with `--add-to-project`, not a measurement".to_string()];
    for a in &e.assumptions {
        notes.push(format!(
            "assumption {} = {} {} — {}",
            a.name, a.value, a.unit, a.source
        ));
    }
    notes.extend(e.notes.iter().cloned());
    let mut r = RunRecord {
        record_version: RECORD_VERSION,
        id: random_id(),
        project: project.to_string(),
        phase,
        tags: BTreeMap::new(),
        command,
        status: RunStatus::Running,
        exit_code: None,
        signal: None,
        error: None,
        started_at: now,
        ended_at: Some(now),
        duration,
        scope: Scope::Machine,
        host: Host {
            hostname: "estimate".to_string(),
            ..Host::default()
        },
        energy_kwh: EnergyBreakdown::default(),
        components: vec![component],
        mean_power: Power::ZERO,
        pue: e.place.pue_used(),
        intensity: e.place.intensity_used(),
        operational: CarbonMass::ZERO,
        embodied: None,
        embodied_items: items,
        water: None,
        water_used: Some(e.place.water_used()),
        cost: None,
        cost_used,
        kind: RecordKind::Estimated,
        job: None,
        notes,
        metrics: BTreeMap::new(),
        samples: SamplesSummary::default(),
        tracker: TrackerInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            interval_s: std::time::Duration::ZERO,
            pid: std::process::id(),
        },
        serving: None,
        windows: Vec::new(),
    };
    r.recompute();
    if e.device.is_none() {
        // No wall time for an energy-per-request estimate: keep the energy as given.
        r.mean_power = Power::ZERO;
    }
    r
}
