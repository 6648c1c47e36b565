//! Fixed run records and power samples for the renderer and aggregation tests.
//!
//! Energies are chosen as sums of powers of two (in kWh) so that sums are exact in `f64` and the
//! expected group totals in `aggregate.rs` can be worked out by hand. Test-only: no I/O.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use ecotrace_core::*;

pub fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

/// Recomputes the derived figures, and the samples' mean power as `ecotrace run` writes it
/// (energy / duration, like the record's `mean_power_w`).
fn settle(r: &mut RunRecord) {
    r.recompute();
    if r.samples.count > 0 {
        r.samples.mean_power_w = r.mean_power;
    }
}

/// The note the RAPL sensor writes.
pub fn rapl_note(device: &str, zone: u32) -> String {
    format!(
        "RAPL package counter {device} (powercap intel-rapl:{zone}), × the tracked work's share of busy CPU time"
    )
}

pub fn comp(
    component: ComponentKind,
    device: &str,
    kwh: f64,
    method: Method,
    note: &str,
    run: Duration,
) -> ComponentEnergy {
    let energy = Energy::from_kwh(kwh);
    let mean = energy / run;
    ComponentEnergy {
        component,
        device: device.to_string(),
        energy,
        mean_power: mean,
        peak_power: mean * 1.5,
        method,
        figures: BTreeMap::new(),
        note: note.to_string(),
    }
}

fn tags(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn ember(zone: &str, g: f64) -> IntensityUsed {
    IntensityUsed {
        value: CarbonIntensity::from_g_per_kwh(g).unwrap(),
        zone: zone.to_string(),
        source: "Ember".to_string(),
        year: Some(2023),
        basis: IntensityBasis::Zone,
        grid_basis: Some(GridBasis::Lifecycle),
        resolution: Default::default(),
        series: None,
        signal: Default::default(),
        live: None,
    }
}

fn pue(x: f64, source: &str) -> PueUsed {
    PueUsed {
        value: Pue::new(x).unwrap(),
        source: source.to_string(),
    }
}

/// One embodied-carbon item over a 5-year life (the charge is filled in by `recompute`).
pub fn embodied_item(
    component: EmbodiedKind,
    device: &str,
    hardware: &str,
    kg: f64,
    share: f64,
    estimated: bool,
) -> EmbodiedItem {
    EmbodiedItem {
        component,
        device: device.to_string(),
        hardware: hardware.to_string(),
        device_embodied: CarbonMass::from_kg(kg),
        device_low: None,
        device_high: None,
        lifetime: Lifetime::from_years(5.0).unwrap(),
        share: Fraction::new(share).unwrap(),
        estimated,
        source: format!("fixture figure for {hardware}"),
        charged: CarbonMass::ZERO,
    }
}

fn tracker(pid: u32) -> TrackerInfo {
    TrackerInfo {
        version: "0.1.0".to_string(),
        interval_s: Duration::from_secs(1),
        pid,
    }
}

/// A finished training run on a GPU box: two RAPL packages, two GPUs by NVML energy counter,
/// modelled RAM. 0.8828125 kWh IT energy, PUE 1.25, 56 g/kWh: 61.796875 g.
pub fn finished() -> RunRecord {
    let d = Duration::from_secs(3723);
    let mut r = RunRecord {
        record_version: RECORD_VERSION,
        id: "3f9a2c1e-5b7d-4c2a-9e8f-0123456789ab".to_string(),
        project: "vision".to_string(),
        phase: Phase::Training,
        tags: tags(&[
            ("lr", "0.01"),
            ("note", "a, \"quoted\" value"),
            ("team", "ml,platform"),
        ]),
        command: args(&["python", "train.py", "--epochs", "3", "--data", "my data/"]),
        status: RunStatus::Finished,
        exit_code: Some(0),
        signal: None,
        error: None,
        started_at: at(2024, 5, 1, 9, 0, 0),
        ended_at: Some(at(2024, 5, 1, 10, 2, 3)),
        duration: d,
        scope: Scope::Process,
        host: Host {
            hostname: "gpu-box-1".to_string(),
            cpu_model: "AMD EPYC 7543 32-Core Processor".to_string(),
            cpu_count: 64,
            memory_gb: 256.0,
            gpus: vec![
                "NVIDIA A100-SXM4-80GB".to_string(),
                "NVIDIA A100-SXM4-80GB".to_string(),
            ],
            os: "Linux 6.5.0".to_string(),
        },
        energy_kwh: EnergyBreakdown::default(),
        components: vec![
            comp(
                ComponentKind::Cpu,
                "package-0",
                0.0625,
                Method::Rapl,
                &rapl_note("package-0", 0),
                d,
            ),
            comp(
                ComponentKind::Cpu,
                "package-1",
                0.0625,
                Method::Rapl,
                &rapl_note("package-1", 1),
                d,
            ),
            comp(
                ComponentKind::Gpu,
                "gpu0",
                0.5,
                Method::NvmlCounter,
                "NVML total energy counter (nvmlDeviceGetTotalEnergyConsumption), whole device",
                d,
            ),
            comp(
                ComponentKind::Gpu,
                "gpu1",
                0.25,
                Method::NvmlCounter,
                "NVML total energy counter (nvmlDeviceGetTotalEnergyConsumption), whole device",
                d,
            ),
            comp(
                ComponentKind::Ram,
                "ram",
                0.0078125,
                Method::RamModel,
                "0.375 W/GB x resident memory, mean 20.1 GB",
                d,
            ),
        ],
        mean_power: Power::ZERO,
        pue: pue(1.25, "given by the user (--pue)"),
        intensity: ember("FR", 56.0),
        operational: CarbonMass::ZERO,
        embodied: None,
        embodied_items: vec![
            embodied_item(
                EmbodiedKind::Gpu,
                "gpu0",
                "NVIDIA A100 SXM4 80 GB",
                150.0,
                1.0,
                true,
            ),
            embodied_item(
                EmbodiedKind::Gpu,
                "gpu1",
                "NVIDIA A100 SXM4 80 GB",
                150.0,
                1.0,
                true,
            ),
            embodied_item(EmbodiedKind::Cpu, "cpu", "AMD EPYC 7543", 32.0, 0.25, true),
            embodied_item(
                EmbodiedKind::Host,
                "host",
                "GPU server without GPUs",
                2500.0,
                0.25,
                false,
            ),
        ],
        water: None,
        water_used: Some(WaterUsed {
            wue: WaterIntensity::from_l_per_kwh(0.5).unwrap(),
            wue_source: "default on-site WUE (no facility given)".to_string(),
            offsite_factor: WaterIntensity::from_l_per_kwh(2.0).unwrap(),
            offsite_source: "default off-site water per kWh generated".to_string(),
            onsite: Water::ZERO,
            offsite: Water::ZERO,
        }),
        cost: None,
        cost_used: Some(CostUsed {
            basis: CostBasis::Electricity,
            usd_per_hour: None,
            devices: None,
            usd_per_kwh: Some(0.25),
            source: "given by the user (--electricity-price)".to_string(),
        }),
        kind: RecordKind::Measured,
        job: None,
        notes: vec![],
        metrics: [("val_accuracy".to_string(), 0.913)].into_iter().collect(),
        samples: SamplesSummary {
            count: 124,
            mean_power_w: Power::from_watts(807.4),
            peak_power_w: Power::from_watts(943.5),
        },
        tracker: tracker(4242),
        serving: None,
        windows: Vec::new(),
    };
    let figs = |kv: &[(&str, f64)]| {
        kv.iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect::<BTreeMap<_, _>>()
    };
    // As the sensors write them: RAPL package energy × the run's CPU share = its energy.
    for c in &mut r.components[..2] {
        c.figures = figs(&[
            ("cpu_share_mean", 0.9),
            ("package_energy_j", 250_000.0),
            ("util_mean", 0.93),
        ]);
    }
    r.components[4].figures = figs(&[("memory_gb_mean", 20.1), ("w_per_gb", 0.375)]);
    settle(&mut r);
    r
}

/// A failed experiment (exit 2) on a machine without RAPL access: CPU from the TDP model, no
/// region given. 0.001220703125 kWh, PUE 1, 481 g/kWh: 0.587158203125 g.
pub fn failed() -> RunRecord {
    let d = Duration::from_secs(95);
    let mut r = finished();
    r.id = "7c1d9e20-0000-4000-8000-000000000002".to_string();
    r.phase = Phase::Experiment;
    r.tags = BTreeMap::new();
    r.command = args(&["python", "sweep.py", "--trial", "7"]);
    r.status = RunStatus::Failed;
    r.exit_code = Some(2);
    r.started_at = at(2024, 5, 1, 14, 30, 0);
    r.ended_at = Some(at(2024, 5, 1, 14, 31, 35));
    r.duration = d;
    r.host = Host {
        hostname: "ci-runner-3".to_string(),
        cpu_model: "Intel(R) Xeon(R) CPU E5-2620 v3 @ 2.40GHz".to_string(),
        cpu_count: 24,
        memory_gb: 64.0,
        gpus: vec![],
        os: "Linux 5.15.0".to_string(),
    };
    r.components = vec![
        comp(
            ComponentKind::Cpu,
            "cpu",
            0.0009765625,
            Method::CpuModel,
            "Intel Xeon E5-2620 v3, TDP 85 W from CodeCarbon table",
            d,
        ),
        comp(
            ComponentKind::Ram,
            "ram",
            0.000244140625,
            Method::RamModel,
            "0.375 W/GB x resident memory",
            d,
        ),
    ];
    r.pue = pue(1.0, "default: no facility given");
    r.intensity = IntensityUsed {
        value: CarbonIntensity::from_g_per_kwh(481.0).unwrap(),
        zone: "WORLD".to_string(),
        source: "Ember".to_string(),
        year: Some(2023),
        basis: IntensityBasis::WorldDefault,
        grid_basis: None,
        resolution: Default::default(),
        series: None,
        signal: Default::default(),
        live: None,
    };
    r.notes = vec![
        "no region given: the world average (481 gCO2e/kWh) was used; pass --region (e.g. FR, US-CA, aws:eu-west-3) for the grid you run on".to_string(),
        "RAPL not readable (permission denied): CPU energy modelled from TDP".to_string(),
    ];
    r.metrics = BTreeMap::new();
    r.samples = SamplesSummary {
        count: 95,
        mean_power_w: Power::from_watts(46.3),
        peak_power_w: Power::from_watts(70.1),
    };
    r.tracker = tracker(5151);
    // As a record written before embodied carbon, water and cost were assessed.
    r.embodied_items = vec![];
    r.water_used = None;
    r.cost_used = None;
    r.components[0].figures = [("tdp_w".to_string(), 85.0), ("util_mean".to_string(), 0.41)]
        .into_iter()
        .collect();
    settle(&mut r);
    r
}

/// A command that could not be started (exit 127, as a shell reports it): zero energy, zero
/// duration.
pub fn failed_to_start() -> RunRecord {
    let mut r = failed();
    r.id = "9c0d1e2f-0000-4000-8000-000000000003".to_string();
    r.project = "nlp".to_string();
    r.phase = Phase::Data;
    r.command = args(&["pyhton", "prep.py"]);
    r.status = RunStatus::FailedToStart;
    r.exit_code = Some(127);
    r.error = Some("command not found: pyhton (check the name and your PATH)".to_string());
    r.started_at = at(2024, 5, 2, 8, 15, 0);
    r.ended_at = Some(at(2024, 5, 2, 8, 15, 0));
    r.duration = Duration::ZERO;
    r.components = vec![];
    r.pue = pue(1.0, "default: no facility given");
    r.intensity = ember("DE", 381.0);
    r.notes = vec![];
    r.samples = SamplesSummary::default();
    settle(&mut r);
    r
}

/// An inference run stopped by Ctrl-C (SIGINT, exit 130), GPU energy from NVML power readings, intensity
/// given by the user. 0.0205078125 kWh, PUE 1.1, 100 g/kWh: 2.255859375 g.
pub fn interrupted() -> RunRecord {
    let d = Duration::from_secs(245);
    let mut r = finished();
    r.id = "b2e4f6a8-0000-4000-8000-000000000004".to_string();
    r.project = "nlp".to_string();
    r.phase = Phase::Inference;
    r.tags = tags(&[("a;b", "c=d"), ("model", "bert-base")]);
    r.command = args(&["python", "serve.py", "--batch", "32"]);
    r.status = RunStatus::Interrupted;
    r.exit_code = Some(130);
    r.signal = Some(2);
    r.started_at = at(2024, 5, 3, 22, 47, 10);
    r.ended_at = Some(at(2024, 5, 3, 22, 51, 15));
    r.duration = d;
    r.host.gpus = vec!["NVIDIA T4".to_string()];
    r.embodied_items = vec![embodied_item(
        EmbodiedKind::Gpu,
        "gpu0",
        "NVIDIA T4",
        40.0,
        1.0,
        true,
    )];
    r.cost_used = Some(CostUsed {
        basis: CostBasis::Instance,
        usd_per_hour: Some(0.526),
        devices: Some(1.0),
        usd_per_kwh: None,
        source: "AWS g4dn.xlarge on-demand, us-east-1, 2026-01-21".to_string(),
    });
    r.components = vec![
        comp(
            ComponentKind::Cpu,
            "package-0",
            0.00390625,
            Method::Rapl,
            &rapl_note("package-0", 0),
            d,
        ),
        comp(
            ComponentKind::Gpu,
            "gpu0",
            0.015625,
            Method::NvmlPower,
            "NVML power reading x interval (no energy counter on this GPU)",
            d,
        ),
        comp(
            ComponentKind::Ram,
            "ram",
            0.0009765625,
            Method::RamModel,
            "0.375 W/GB x resident memory",
            d,
        ),
    ];
    r.pue = pue(1.1, "ECOTRACE_PUE");
    r.intensity = IntensityUsed {
        value: CarbonIntensity::from_g_per_kwh(100.0).unwrap(),
        zone: "user".to_string(),
        source: "given by the user (--intensity)".to_string(),
        year: None,
        basis: IntensityBasis::User,
        grid_basis: None,
        resolution: Default::default(),
        series: None,
        signal: Default::default(),
        live: None,
    };
    r.metrics = BTreeMap::new();
    r.samples = SamplesSummary {
        count: 245,
        mean_power_w: Power::from_watts(301.3),
        peak_power_w: Power::from_watts(355.0),
    };
    r.tracker = tracker(6161);
    settle(&mut r);
    r
}

/// A tiny finished run whose text fields hold commas, quotes, newlines, pipes, `<`, `;`, `=` and an
/// ANSI escape, for the escaping and quoting tests. 0.0000123 kWh.
pub fn hostile() -> RunRecord {
    let d = Duration::from_millis(12_500);
    let mut r = finished();
    r.id = "e5e5e5e5-0000-4000-8000-000000000005".to_string();
    r.project = "team \"a\", b\nc|d".to_string();
    r.phase = Phase::Other;
    r.tags = tags(&[("k,1", "v \"q\"\nnext"), ("x=y", "1;2")]);
    r.command = args(&["sh", "-c", "echo 'a|b' <x>\n\u{1b}[31mred"]);
    r.started_at = at(2024, 5, 2, 23, 59, 59);
    r.ended_at = Some(at(2024, 5, 3, 0, 0, 11));
    r.duration = d;
    r.host.hostname = "host,with\"quote".to_string();
    r.host.gpus = vec!["GPU;one".to_string()];
    r.components = vec![comp(
        ComponentKind::Cpu,
        "package-0\u{1b}[2J",
        0.0000123,
        Method::Rapl,
        "measured counter",
        d,
    )];
    r.pue = pue(1.0, "default: no facility given");
    r.intensity = ember("GB", 238.0);
    r.notes = vec!["line one\nline two".to_string()];
    r.metrics = BTreeMap::new();
    r.samples = SamplesSummary::default();
    settle(&mut r);
    r
}

/// All fixtures, in the order runs are listed.
pub fn all() -> Vec<RunRecord> {
    vec![
        finished(),
        failed(),
        failed_to_start(),
        hostile(),
        interrupted(),
    ]
}

/// 124 power samples of the finished run: a GPU warm-up, then steady training with an evaluation
/// dip every 20 samples; 30 s apart, the last one short (the run ends at 3723 s).
pub fn samples() -> Vec<PowerSample> {
    (0..124u32)
        .map(|i| {
            let t = if i == 123 { 3723 } else { 30 * (i + 1) };
            let gpu = if i < 4 {
                60 + 80 * i
            } else if i % 20 >= 17 {
                90
            } else {
                380 + (i % 5) * 6
            };
            PowerSample {
                t_s: t as f64,
                cpu_w: Power::from_watts((110 + (i % 7) * 3) as f64),
                gpu_w: Power::from_watts(2.0 * gpu as f64),
                ram_w: Power::from_watts(7.5),
            }
        })
        .collect()
}
