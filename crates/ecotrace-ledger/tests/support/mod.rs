//! Test fixtures: fully filled run records and samples, and fake liveness pieces. Test-only; must
//! not be used to check anything itself.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use ecotrace_core::*;
use ecotrace_ledger::{Liveness, ManualClock, PidState, TrackerProbe, DEFAULT_STALE_AFTER};

/// 2024-03-01T12:00:00Z plus `s` seconds.
pub fn t(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap() + chrono::Duration::seconds(s)
}

fn component(kind: ComponentKind, device: &str, kwh: f64, method: Method) -> ComponentEnergy {
    ComponentEnergy {
        component: kind,
        device: device.into(),
        energy: Energy::from_kwh(kwh),
        mean_power: Power::from_watts(kwh * 1000.0),
        peak_power: Power::from_watts(kwh * 1500.0),
        method,
        figures: BTreeMap::from([("tdp_w".to_string(), 125.0), ("idle_w".to_string(), 12.5)]),
        note: format!("{device}: fixture figures"),
    }
}

/// A running record with every field filled (options included), started at `started_at`.
pub fn record(id: &str, project: &str, phase: Phase, started_at: DateTime<Utc>) -> RunRecord {
    let mut r = RunRecord {
        record_version: RECORD_VERSION,
        id: id.into(),
        project: project.into(),
        phase,
        tags: BTreeMap::from([
            ("model".to_string(), "resnet50".to_string()),
            ("lr".to_string(), "0.001".to_string()),
        ]),
        command: vec!["python".into(), "train.py".into(), "--epochs=3".into()],
        status: RunStatus::Running,
        exit_code: Some(0),
        signal: Some(15),
        error: Some("fixture error text".into()),
        started_at,
        ended_at: Some(started_at + chrono::Duration::seconds(30)),
        duration: Duration::from_millis(30_250),
        scope: Scope::Machine,
        host: Host {
            hostname: "fixture-host".into(),
            cpu_model: "AMD EPYC 7763".into(),
            cpu_count: 64,
            memory_gb: 256.0,
            gpus: vec![
                "NVIDIA A100-SXM4-40GB".into(),
                "NVIDIA A100-SXM4-40GB".into(),
            ],
            os: "Linux 6.1".into(),
        },
        energy_kwh: EnergyBreakdown::default(),
        components: vec![
            component(ComponentKind::Cpu, "package-0", 0.012, Method::Rapl),
            component(ComponentKind::Gpu, "gpu0", 0.05, Method::NvmlCounter),
            component(ComponentKind::Ram, "ram", 0.001, Method::RamModel),
        ],
        mean_power: Power::ZERO,
        pue: PueUsed {
            value: Pue::new(1.2).unwrap(),
            source: "user".into(),
        },
        intensity: IntensityUsed {
            value: CarbonIntensity::from_g_per_kwh(56.0).unwrap(),
            zone: "FR".into(),
            source: "fixture table".into(),
            year: Some(2023),
            basis: IntensityBasis::Zone,
            grid_basis: None,
            resolution: Default::default(),
            series: None,
            signal: Default::default(),
            live: None,
        },
        operational: CarbonMass::ZERO,
        embodied: None,
        embodied_items: Vec::new(),
        water: None,
        water_used: None,
        cost: None,
        cost_used: None,
        kind: Default::default(),
        job: None,
        notes: vec!["RAM power is modelled".into()],
        metrics: BTreeMap::from([("val_accuracy".to_string(), 0.91)]),
        samples: SamplesSummary {
            count: 0,
            mean_power_w: Power::from_watts(250.0),
            peak_power_w: Power::from_watts(400.0),
        },
        tracker: TrackerInfo {
            version: "0.1.0".into(),
            interval_s: Duration::from_secs(1),
            pid: 4242,
        },
        serving: None,
        windows: Vec::new(),
    };
    r.recompute();
    r
}

/// The record as it comes back from JSON: what a ledger read can at best return.
pub fn rt(r: &RunRecord) -> RunRecord {
    serde_json::from_str(&serde_json::to_string(r).unwrap()).unwrap()
}

/// `n` samples numbered from `from`, at 1 s intervals.
pub fn samples(from: usize, n: usize) -> Vec<PowerSample> {
    (from..from + n)
        .map(|i| PowerSample {
            t_s: (i + 1) as f64,
            cpu_w: Power::from_watts(100.0 + i as f64),
            gpu_w: Power::from_watts(200.0 + 0.5 * i as f64),
            ram_w: Power::from_watts(5.0),
        })
        .collect()
}

/// A host named `hostname` on which only the pids in `alive` exist.
pub struct FakeHost {
    pub hostname: String,
    pub alive: HashSet<u32>,
}

impl TrackerProbe for FakeHost {
    fn local_hostname(&self) -> Option<String> {
        Some(self.hostname.clone())
    }
    fn pid_state(&self, pid: u32) -> PidState {
        if self.alive.contains(&pid) {
            PidState::Alive
        } else {
            PidState::Gone
        }
    }
}

/// Liveness on a fake host with a manual clock starting at `t(0)`.
pub fn fake_liveness(hostname: &str, alive: &[u32]) -> (Liveness, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(t(0)));
    let probe = Arc::new(FakeHost {
        hostname: hostname.into(),
        alive: alive.iter().copied().collect(),
    });
    (
        Liveness::new(clock.clone(), probe, DEFAULT_STALE_AFTER),
        clock,
    )
}
