//! The whole footprint of a measured run beyond its operational carbon: the embodied carbon of the
//! hardware it used (SCI "M"), the water (on site and off site), and the cost when a price is
//! known. Resolved once from the settings and the hardware found; the shares charged follow the
//! components as they are measured. See docs/footprint.md.

use ecotrace_factors::{FactorArgs, FactorError, Origins, Place};

use ecotrace_core::{
    footprint::host_share, CarbonMass, ComponentKind, CostBasis, CostUsed, EmbodiedItem,
    EmbodiedKind, Fraction, Host, Lifetime, RunRecord, Scope, Water, WaterIntensity, WaterUsed,
};

/// Footprint factors beyond grid intensity and PUE, resolved from flags, files and the region.
#[derive(Debug, Clone, PartialEq)]
pub struct FootprintSettings {
    pub lifetime: Lifetime,
    pub wue: WaterIntensity,
    pub wue_source: String,
    pub offsite: WaterIntensity,
    pub offsite_source: String,
    pub cost: Option<CostUsed>,
}

impl FootprintSettings {
    /// The water factors and their sources as the record stores them (derived litres at zero
    /// until [`RunRecord::recompute`]).
    pub fn water_used(&self) -> WaterUsed {
        WaterUsed {
            wue: self.wue,
            wue_source: self.wue_source.clone(),
            offsite_factor: self.offsite,
            offsite_source: self.offsite_source.clone(),
            onsite: Water::ZERO,
            offsite: Water::ZERO,
        }
    }
}

/// Default expected service life of hardware (docs/footprint.md).
pub const DEFAULT_LIFETIME_YEARS: f64 = ecotrace_core::estimate::DEFAULT_LIFETIME_YEARS;

/// The footprint factors of a run in `place`: lifetime, water, and the cost basis when the user
/// gave a price (a run is charged a price the user gives: per hour of the machine, or per kWh).
pub fn resolve(
    place: &Place,
    f: &FactorArgs,
    origins: &Origins,
) -> Result<FootprintSettings, FactorError> {
    let lifetime = ecotrace_factors::resolve_lifetime(f, origins)?.value;
    let water = place.water_used();
    let cost = match (
        ecotrace_factors::price_per_hour(f, origins)?,
        place.electricity_price_given.as_ref(),
    ) {
        (Some(p), _) => Some(CostUsed {
            basis: CostBasis::Instance,
            usd_per_hour: Some(p.value),
            // Set from the devices the run uses ([`update_shares`]).
            devices: Some(1.0),
            usd_per_kwh: None,
            source: format!("{}, USD per device-hour", p.provenance),
        }),
        (None, Some(p)) => Some(CostUsed {
            basis: CostBasis::Electricity,
            usd_per_hour: None,
            devices: None,
            usd_per_kwh: Some(p.value),
            source: format!("{}; electricity only", p.provenance),
        }),
        (None, None) => None,
    };
    Ok(FootprintSettings {
        lifetime,
        wue: water.wue,
        wue_source: water.wue_source,
        offsite: water.offsite_factor,
        offsite_source: water.offsite_source,
        cost,
    })
}

/// A price per device-hour (`--price-per-hour`) is charged for each accelerator the run uses
/// (`accelerators`), or once for the machine when it uses none.
fn charge_devices(r: &mut RunRecord, accelerators: usize) {
    if let Some(c) = r
        .cost_used
        .as_mut()
        .filter(|c| c.basis == CostBasis::Instance)
    {
        c.devices = Some(accelerators.max(1) as f64);
    }
}

/// The embodied-carbon items of the hardware a run found: each GPU the catalog knows, the CPU
/// packages, and the host (the rest of the server). Shares start at 1; [`update_shares`] sets
/// them from what the run used. Also returns notes for hardware without a figure.
///
/// A card the driver lists as several devices (an MI250X: AMD SMI lists each of its two dies) is
/// charged per device: each is `1 / devices_per_card` of the card's figure, so a card is never
/// counted twice; the host is pro-rated by cards, not devices.
pub fn embodied_items(
    host: &Host,
    sockets: u32,
    lifetime: Lifetime,
) -> (Vec<EmbodiedItem>, Vec<String>) {
    let mut items = Vec::new();
    let mut notes = Vec::new();
    // Cards: a device of a multi-device card counts as its share of one.
    let mut cards = 0.0;
    for (i, name) in host.gpus.iter().enumerate() {
        let a = ecotrace_data::accelerator_for_device(name);
        cards += a.map_or(1.0, |a| a.per_device());
        match a {
            Some(a) => {
                let provenance = ecotrace_factors::hardware::accelerator_embodied(a)
                    .provenance
                    .to_string();
                let (device_embodied, source) = match a.devices_per_card {
                    0 | 1 => (a.embodied, provenance),
                    n => (
                        a.embodied * a.per_device(),
                        format!(
                            "one of the {n} devices the driver lists for one {} (one die each): 1/{n} of the card's {}; {provenance}",
                            a.name,
                            ecotrace_core::human::co2(a.embodied.kg()),
                        ),
                    ),
                };
                items.push(EmbodiedItem {
                    component: EmbodiedKind::Gpu,
                    device: format!("gpu{i}"),
                    hardware: a.name.clone(),
                    device_embodied,
                    device_low: Some(a.embodied_range.0 * a.per_device()),
                    device_high: Some(a.embodied_range.1 * a.per_device()),
                    lifetime,
                    share: Fraction::ONE,
                    estimated: a.embodied_estimated,
                    source,
                    charged: CarbonMass::ZERO,
                })
            }
            None => notes.push(format!(
                "embodied carbon: no catalog figure for GPU {name:?} (gpu{i}); it is not counted (`ecotrace data hardware` lists the catalog)"
            )),
        }
    }
    let sockets = sockets.max(1);
    if let Some(cpu) = ecotrace_data::embodied_ref("cpu") {
        items.push(EmbodiedItem {
            component: EmbodiedKind::Cpu,
            device: "cpu".into(),
            hardware: if host.cpu_model.is_empty() {
                cpu.name.clone()
            } else {
                host.cpu_model.clone()
            },
            device_embodied: cpu.embodied * f64::from(sockets),
            device_low: Some(cpu.embodied_range.0 * f64::from(sockets)),
            device_high: Some(cpu.embodied_range.1 * f64::from(sockets)),
            lifetime,
            share: Fraction::ONE,
            estimated: cpu.estimated,
            source: format!(
                "{} per package × {sockets} socket(s): {}",
                ecotrace_core::human::co2(cpu.embodied.kg()),
                ecotrace_factors::hardware::reference_embodied(cpu).provenance
            ),
            charged: CarbonMass::ZERO,
        });
    }
    let gpus = host.gpus.len() as u32;
    let (id, units) = if gpus > 0 {
        ("gpu-server", cards)
    } else {
        ("cpu-server", f64::from(sockets))
    };
    if let Some(h) = ecotrace_data::embodied_ref(id) {
        let fraction = units / f64::from(h.slots.max(1));
        items.push(EmbodiedItem {
            component: EmbodiedKind::Host,
            device: "host".into(),
            hardware: h.name.clone(),
            device_embodied: h.embodied * fraction,
            device_low: Some(h.embodied_range.0 * fraction),
            device_high: Some(h.embodied_range.1 * fraction),
            lifetime,
            share: Fraction::ONE,
            estimated: h.estimated,
            source: format!(
                "{} for a {}-slot host, pro-rated to this machine's {units} {}: {}",
                ecotrace_core::human::co2(h.embodied.kg()),
                h.slots,
                if gpus > 0 { "GPU card(s)" } else { "socket(s)" },
                ecotrace_factors::hardware::reference_embodied(h).provenance
            ),
            charged: CarbonMass::ZERO,
        });
    }
    (items, notes)
}

/// Sets each embodied item's share from what the run used so far: in machine scope everything is
/// charged whole; in process scope a GPU is charged when the run's tree used it (its component has
/// energy), the CPU by the tree's mean share of busy CPU time, and the host by the share of the
/// machine's GPUs used (or, without GPUs, like the CPU).
pub fn update_shares(r: &mut RunRecord) {
    if r.scope == Scope::Machine {
        for i in &mut r.embodied_items {
            i.share = Fraction::ONE;
        }
        charge_devices(r, r.host.gpus.len());
        return;
    }
    let gpu_used = |dev: &str| {
        r.components.iter().any(|c| {
            c.component == ComponentKind::Gpu && c.device == dev && c.energy.joules() > 0.0
        })
    };
    let shares: Vec<f64> = r
        .components
        .iter()
        .filter(|c| c.component == ComponentKind::Cpu)
        .filter_map(|c| c.figures.get("cpu_share_mean").copied())
        .filter(|x| x.is_finite())
        .collect();
    let cpu_share = if shares.is_empty() {
        1.0
    } else {
        (shares.iter().sum::<f64>() / shares.len() as f64).clamp(0.0, 1.0)
    };
    let gpu_items: Vec<(usize, bool)> = r
        .embodied_items
        .iter()
        .enumerate()
        .filter(|(_, i)| i.component == EmbodiedKind::Gpu)
        .map(|(n, i)| (n, gpu_used(&i.device)))
        .collect();
    let total_gpus = r.host.gpus.len() as u32;
    let used = gpu_items.iter().filter(|(_, u)| *u).count() as u32;
    for (n, u) in &gpu_items {
        r.embodied_items[*n].share = if *u { Fraction::ONE } else { Fraction::ZERO };
    }
    let used_gpus = r
        .components
        .iter()
        .filter(|c| c.component == ComponentKind::Gpu && c.energy.joules() > 0.0)
        .map(|c| c.device.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    charge_devices(r, used_gpus);
    for i in &mut r.embodied_items {
        match i.component {
            EmbodiedKind::Cpu => i.share = Fraction::new(cpu_share).unwrap_or(Fraction::ONE),
            EmbodiedKind::Host if total_gpus > 0 => i.share = host_share(used, total_gpus),
            EmbodiedKind::Host => i.share = Fraction::new(cpu_share).unwrap_or(Fraction::ONE),
            EmbodiedKind::Gpu => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecotrace_core::{ComponentEnergy, Energy, Method, Power};
    use std::collections::BTreeMap;

    fn host(gpus: &[&str]) -> Host {
        Host {
            hostname: "h".into(),
            cpu_model: "AMD EPYC 7543 32-Core Processor".into(),
            cpu_count: 64,
            memory_gb: 256.0,
            gpus: gpus.iter().map(|s| s.to_string()).collect(),
            os: String::new(),
        }
    }

    #[test]
    fn items_for_a_gpu_server() {
        let l = Lifetime::from_years(5.0).unwrap();
        let (items, notes) = embodied_items(
            &host(&[
                "NVIDIA A100-SXM4-80GB",
                "NVIDIA A100-SXM4-80GB",
                "Mystery GPU",
            ]),
            2,
            l,
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("Mystery GPU"));
        let kinds: Vec<_> = items
            .iter()
            .map(|i| (i.component, i.device.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (EmbodiedKind::Gpu, "gpu0"),
                (EmbodiedKind::Gpu, "gpu1"),
                (EmbodiedKind::Cpu, "cpu"),
                (EmbodiedKind::Host, "host")
            ]
        );
        let server = ecotrace_data::embodied_ref("gpu-server").unwrap();
        // Three GPUs of an eight-slot host.
        assert!((items[3].device_embodied.kg() - server.embodied.kg() * 3.0 / 8.0).abs() < 1e-9);
        assert!((items[2].device_embodied.kg() - 200.0).abs() < 1e-9);
        // Every item carries its table row's range as numbers, scaled as its figure: the
        // accelerator per device, the CPU per socket, the host by the share of its slots.
        let a100 = ecotrace_data::accelerator_for_device("NVIDIA A100-SXM4-80GB").unwrap();
        assert_eq!(items[0].device_low, Some(a100.embodied_range.0));
        assert_eq!(items[0].device_high, Some(a100.embodied_range.1));
        let cpu = ecotrace_data::embodied_ref("cpu").unwrap();
        assert!((items[2].device_low.unwrap().kg() - cpu.embodied_range.0.kg() * 2.0).abs() < 1e-9);
        assert!(
            (items[2].device_high.unwrap().kg() - cpu.embodied_range.1.kg() * 2.0).abs() < 1e-9
        );
        assert!(
            (items[3].device_low.unwrap().kg() - server.embodied_range.0.kg() * 3.0 / 8.0).abs()
                < 1e-9
        );
        assert!(
            (items[3].device_high.unwrap().kg() - server.embodied_range.1.kg() * 3.0 / 8.0).abs()
                < 1e-9
        );
        for i in &items {
            assert!(i.device_low.unwrap() <= i.device_embodied, "{}", i.device);
            assert!(i.device_embodied <= i.device_high.unwrap(), "{}", i.device);
            assert!(
                i.source.contains("uncertainty range"),
                "{}: {}",
                i.device,
                i.source
            );
        }
        // A real range, not the figure twice.
        assert!(items[2].device_low.unwrap() < items[2].device_high.unwrap());
        assert!(items[3].device_low.unwrap() < items[3].device_high.unwrap());
    }

    #[test]
    fn an_mi250x_listed_as_two_devices_is_one_card() {
        use ecotrace_sensors::discover::{discover_with, Probes, SensorConfig};
        use ecotrace_sensors::gpu::{FakeGpu, FakeGpuBackend};
        // AMD SMI lists each of an MI250X's two dies (GCDs) as a device of its own: two cards
        // are four devices, as a node with two MI250X shows them.
        let dir = tempfile::tempdir().unwrap();
        let roots = ecotrace_sensors::Roots {
            sysfs: dir.path().join("sys"),
            procfs: dir.path().join("proc"),
        };
        let amd = FakeGpuBackend::amd(vec![
            FakeGpu::with_counter("AMD Instinct MI250X", 0, 90_000);
            4
        ]);
        let d = discover_with(
            &SensorConfig::new(Scope::Machine, None, None),
            &roots,
            Probes {
                gpu: Some(Box::new(FakeGpuBackend::new(Vec::new()))),
                amd: Some(Box::new(amd)),
                ..Probes::default()
            },
        );
        assert_eq!(d.gpus.len(), 4, "{:?}", d.gpus);
        let l = Lifetime::from_years(5.0).unwrap();
        let mut h = host(&[]);
        h.gpus = d.gpus.clone();
        let (items, notes) = embodied_items(&h, 1, l);
        assert!(notes.is_empty(), "{notes:?}");
        let card = ecotrace_data::accelerator("MI250X").unwrap();
        assert_eq!(card.devices_per_card, 2);
        let gpus: Vec<&EmbodiedItem> = items
            .iter()
            .filter(|i| i.component == EmbodiedKind::Gpu)
            .collect();
        assert_eq!(gpus.len(), 4);
        for g in &gpus {
            assert!((g.device_embodied.kg() - card.embodied.kg() / 2.0).abs() < 1e-9);
            assert!(g.source.contains("1/2 of the card's"), "{}", g.source);
        }
        // Four devices are two cards: twice the card's figure, and two slots of the host.
        let total: f64 = gpus.iter().map(|g| g.device_embodied.kg()).sum();
        assert!((total - 2.0 * card.embodied.kg()).abs() < 1e-9);
        let server = ecotrace_data::embodied_ref("gpu-server").unwrap();
        let host_item = items
            .iter()
            .find(|i| i.component == EmbodiedKind::Host)
            .unwrap();
        assert!(
            (host_item.device_embodied.kg() - server.embodied.kg() * 2.0 / f64::from(server.slots))
                .abs()
                < 1e-9
        );
        assert!(
            host_item.source.contains("2 GPU card(s)"),
            "{}",
            host_item.source
        );
        // A one-die card keeps its whole figure.
        let (items, _) = embodied_items(&host(&["AMD Instinct MI210"]), 1, l);
        let mi210 = ecotrace_data::accelerator("MI210").unwrap();
        assert_eq!(items[0].device_embodied, mi210.embodied);
    }

    #[test]
    fn shares_follow_what_the_run_used() {
        let l = Lifetime::from_years(5.0).unwrap();
        let h = host(&["NVIDIA H100 80GB HBM3"; 4]);
        let (items, _) = embodied_items(&h, 2, l);
        let comp = |kind, dev: &str, kwh: f64, share: Option<f64>| ComponentEnergy {
            component: kind,
            device: dev.into(),
            energy: Energy::from_kwh(kwh),
            mean_power: Power::ZERO,
            peak_power: Power::ZERO,
            method: Method::Rapl,
            figures: share
                .map(|s| BTreeMap::from([("cpu_share_mean".to_string(), s)]))
                .unwrap_or_default(),
            note: String::new(),
        };
        let mut r: RunRecord = serde_json::from_value(serde_json::json!({
            "record_version": 1, "id": "r", "project": "p", "phase": "training",
            "command": ["x"], "status": "running", "exit_code": null, "signal": null, "error": null,
            "started_at": "2024-01-01T00:00:00Z", "ended_at": null, "duration_s": 3600.0,
            "scope": "process",
            "host": {"hostname": "h", "cpu_model": "", "cpu_count": 1, "memory_gb": 1.0, "gpus": h.gpus, "os": ""},
            "energy_kwh": {"cpu": 0.0, "gpu": 0.0, "ram": 0.0, "total": 0.0},
            "components": [], "mean_power_w": 0.0,
            "pue": {"value": 1.0, "source": ""},
            "intensity": {"g_per_kwh": 1.0, "zone": "", "source": "", "year": null, "basis": "user"},
            "operational_kgco2e": 0.0,
            "tracker": {"version": "0", "interval_s": 1.0, "pid": 1}
        }))
        .unwrap();
        r.embodied_items = items;
        r.components = vec![
            comp(ComponentKind::Cpu, "package-0", 0.1, Some(0.5)),
            comp(ComponentKind::Gpu, "gpu0", 0.3, None),
            comp(ComponentKind::Gpu, "gpu1", 0.0, None),
        ];
        update_shares(&mut r);
        fn share(r: &RunRecord, d: &str) -> f64 {
            r.embodied_items
                .iter()
                .find(|i| i.device == d)
                .unwrap()
                .share
                .value()
        }
        assert_eq!(share(&r, "gpu0"), 1.0);
        assert_eq!(share(&r, "gpu1"), 0.0);
        assert_eq!(share(&r, "gpu3"), 0.0);
        assert_eq!(share(&r, "cpu"), 0.5);
        assert_eq!(share(&r, "host"), 0.25);
        r.recompute();
        let e = r.embodied.unwrap();
        assert!(e.kg() > 0.0);
        // A price per device-hour is charged for each GPU used (gpu0 here), for one hour.
        let given = FactorArgs {
            price_per_hour: Some(2.5),
            ..Default::default()
        };
        let o = Origins::default();
        let place = ecotrace_factors::resolve_place(None, &given, &o).unwrap();
        r.cost_used = resolve(&place, &given, &o).unwrap().cost;
        update_shares(&mut r);
        r.recompute();
        assert_eq!(r.cost.unwrap().usd(), 2.5);
        r.components[2].energy = Energy::from_kwh(0.2);
        update_shares(&mut r);
        r.recompute();
        assert_eq!(r.cost.unwrap().usd(), 5.0);
        // No accelerator used: the machine is the one device.
        r.components.retain(|c| c.component != ComponentKind::Gpu);
        update_shares(&mut r);
        r.recompute();
        assert_eq!(r.cost.unwrap().usd(), 2.5);
        // Machine scope charges everything: the four GPUs.
        r.scope = Scope::Machine;
        update_shares(&mut r);
        assert_eq!(share(&r, "gpu1"), 1.0);
        assert_eq!(share(&r, "host"), 1.0);
        r.recompute();
        assert_eq!(r.cost.unwrap().usd(), 10.0);
    }

    #[test]
    fn factors_resolve_with_defaults_and_sources() {
        let o = Origins::default();
        let fr = FactorArgs {
            region: Some("FR".into()),
            ..Default::default()
        };
        let place = ecotrace_factors::resolve_place(Some("FR"), &fr, &o).unwrap();
        let f = resolve(&place, &fr, &o).unwrap();
        assert_eq!(f.lifetime.years(), 5.0);
        assert_eq!(f.wue, WaterIntensity::ZERO);
        assert!(f.offsite.l_per_kwh() > 0.0);
        assert!(f.offsite_source.contains("row FR"), "{}", f.offsite_source);
        // A bundled electricity price is not charged to a run; a given one is.
        assert!(f.cost.is_none());
        let given = FactorArgs {
            lifetime_years: Some(4.0),
            wue: Some(0.3),
            price_per_hour: Some(2.5),
            electricity_price: Some(0.1),
            ..Default::default()
        };
        let place = ecotrace_factors::resolve_place(None, &given, &o).unwrap();
        let c = resolve(&place, &given, &o).unwrap();
        assert_eq!(c.wue.l_per_kwh(), 0.3);
        assert_eq!(c.lifetime.years(), 4.0);
        assert_eq!(c.cost.unwrap().basis, CostBasis::Instance);
        let bad = FactorArgs {
            lifetime_years: Some(0.0),
            ..Default::default()
        };
        assert!(resolve(&place, &bad, &o).is_err());
    }
}
