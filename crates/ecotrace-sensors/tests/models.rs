//! The CPU and RAM power models.

use std::time::Duration;

use ecotrace_core::{ComponentKind, Energy, Method, Power, Scope};
use ecotrace_sensors::cpu_model::{
    CpuModelParams, CpuModelSensor, CpuSpec, DEFAULT_W_PER_CORE, IDLE_FRACTION,
};
use ecotrace_sensors::procfs::CpuInfo;
use ecotrace_sensors::ram::{RamModelSensor, W_PER_GB};
use ecotrace_sensors::{Sensor, Tick};

const GIB: u64 = 1 << 30;

fn tick(scope: Scope, secs: u64, util: f64, share: f64, charged: u64, used: u64) -> Tick<'static> {
    Tick {
        dt: Duration::from_secs(secs),
        scope,
        machine_util: util,
        cpu_share: share,
        charged_memory_bytes: charged,
        used_memory_bytes: used,
        pids: &[],
    }
}

fn one(s: &mut dyn Sensor, t: &Tick<'_>) -> f64 {
    let mut out = [Energy::ZERO];
    s.read(t, &mut out).unwrap();
    out[0].joules()
}

fn xeon_2s() -> CpuInfo {
    CpuInfo {
        model_name: "Intel(R) Xeon(R) CPU E5-2620 v3 @ 2.40GHz".into(),
        logical_cpus: 24,
        sockets: 2,
        physical_cores: 12,
        virtualized: false,
    }
}

#[test]
fn cpu_model_energy_and_figures() {
    let spec = CpuSpec {
        name: "Intel Xeon E5-2620 v3".into(),
        tdp: Power::from_watts(85.0),
        cores: Some(6),
        source: "CodeCarbon CPU table".into(),
        year: 2026,
    };
    let params = CpuModelParams::new(&xeon_2s(), None, Some(spec));
    let mut s = CpuModelSensor::new(params);
    assert_eq!(s.component(), ComponentKind::Cpu);
    assert_eq!(s.method(0), Method::CpuModel);
    assert_eq!(s.devices(), &["cpu"]);
    let max = 170.0;
    let idle = max * IDLE_FRACTION;

    // Process scope: 2 s at 50 % machine load, the tree using a quarter of the busy time.
    let e = one(&mut s, &tick(Scope::Process, 2, 0.5, 0.25, 0, 0));
    let p = idle + (max - idle) * 0.5;
    assert!((e - p * 2.0 * 0.25).abs() < 1e-9, "{e}");
    // 1 s idle machine, tree share 1: idle power.
    let e = one(&mut s, &tick(Scope::Process, 1, 0.0, 1.0, 0, 0));
    assert!((e - idle).abs() < 1e-9);
    // Machine scope ignores the share.
    let e = one(&mut s, &tick(Scope::Machine, 1, 1.0, 0.1, 0, 0));
    assert!((e - max).abs() < 1e-9);

    let f = s.figures(0);
    assert_eq!(f["tdp_w"], 85.0);
    assert_eq!(f["max_w"], 170.0);
    assert!((f["idle_w"] - idle).abs() < 1e-9);
    assert_eq!(f["sockets"], 2.0);
    // Time-weighted means over 4 s.
    assert!((f["util_mean"] - (0.5 * 2.0 + 0.0 + 1.0) / 4.0).abs() < 1e-9);
    assert!((f["cpu_share_mean"] - (0.25 * 2.0 + 1.0 + 1.0) / 4.0).abs() < 1e-9);
    assert_eq!(
        s.note(0),
        "Intel Xeon E5-2620 v3: TDP 85 W from CodeCarbon CPU table (2026) × 2 sockets; idle 11% of it"
    );
}

#[test]
fn cpu_model_with_the_bundled_table() {
    let spec = ecotrace_data::cpu_lookup(&xeon_2s().model_name).expect("E5-2620 v3 in the table");
    let p = CpuModelParams::new(&xeon_2s(), None, Some(spec));
    assert_eq!(p.max_w, 170.0);
    assert!(
        p.note.starts_with("Intel Xeon E5-2620 v3: TDP 85 W from "),
        "{}",
        p.note
    );
}

#[test]
fn cpu_model_unknown_cpu_and_user_figure() {
    let cpu = CpuInfo {
        model_name: "Weird CPU X".into(),
        logical_cpus: 16,
        sockets: 1,
        physical_cores: 8,
        virtualized: false,
    };
    let mut s = CpuModelSensor::new(CpuModelParams::new(&cpu, None, None));
    let max = DEFAULT_W_PER_CORE * 8.0;
    assert!((one(&mut s, &tick(Scope::Machine, 1, 1.0, 1.0, 0, 0)) - max).abs() < 1e-9);
    assert!(s
        .note(0)
        .starts_with("unknown CPU 'Weird CPU X': 8.75 W per core default"));
    assert_eq!(s.figures(0)["w_per_core"], DEFAULT_W_PER_CORE);

    let mut s = CpuModelSensor::new(CpuModelParams::new(
        &cpu,
        Some(Power::from_watts(45.0)),
        None,
    ));
    assert!(s.note(0).starts_with("user-given 45 W"));
    let e = one(&mut s, &tick(Scope::Process, 10, 0.0, 0.5, 0, 0));
    assert!((e - 45.0 * IDLE_FRACTION * 10.0 * 0.5).abs() < 1e-9);
    assert_eq!(s.figures(0)["max_w"], 45.0);
}

#[test]
fn cpu_model_never_negative_on_odd_ticks() {
    let mut s = CpuModelSensor::new(CpuModelParams::new(&xeon_2s(), None, None));
    for (u, sh) in [
        (f64::NAN, 0.5),
        (-1.0, -1.0),
        (2.0, 7.0),
        (0.5, f64::INFINITY),
    ] {
        let e = one(&mut s, &tick(Scope::Process, 1, u, sh, 0, 0));
        assert!(e.is_finite() && e >= 0.0, "{u} {sh} -> {e}");
    }
}

#[test]
fn ram_model_charges_watts_per_gb() {
    let mut s = RamModelSensor::model();
    assert_eq!(s.component(), ComponentKind::Ram);
    assert_eq!(s.method(0), Method::RamModel);
    assert_eq!(s.devices(), &["ram"]);
    assert_eq!(W_PER_GB, 0.375);
    // 8 GB charged for 2 s: 3 W × 2 s.
    let e = one(
        &mut s,
        &tick(Scope::Process, 2, 0.0, 0.0, 8 * GIB, 32 * GIB),
    );
    assert!((e - 6.0).abs() < 1e-9);
    // Machine scope: charged = used memory (the meter passes it).
    let e = one(
        &mut s,
        &tick(Scope::Machine, 2, 0.0, 0.0, 16 * GIB, 16 * GIB),
    );
    assert!((e - 12.0).abs() < 1e-9);
    let f = s.figures(0);
    assert_eq!(f["w_per_gb"], 0.375);
    assert!((f["charged_gb_mean"] - 12.0).abs() < 1e-9);
    assert!(s.note(0).contains("0.375 W per GB"));
}

#[test]
fn ram_user_figure_is_for_used_memory() {
    let mut s = RamModelSensor::user(Power::from_watts(10.0));
    // A quarter of used memory is the tree's: 2.5 W.
    let e = one(
        &mut s,
        &tick(Scope::Process, 4, 0.0, 0.0, 4 * GIB, 16 * GIB),
    );
    assert!((e - 10.0).abs() < 1e-9);
    // RSS above used (shared pages double counted): clamped to all of it.
    let e = one(
        &mut s,
        &tick(Scope::Process, 1, 0.0, 0.0, 20 * GIB, 16 * GIB),
    );
    assert!((e - 10.0).abs() < 1e-9);
    let e = one(
        &mut s,
        &tick(Scope::Machine, 1, 0.0, 0.0, 16 * GIB, 16 * GIB),
    );
    assert!((e - 10.0).abs() < 1e-9);
    assert_eq!(s.figures(0)["user_w"], 10.0);
    assert!(s.note(0).starts_with("user-given 10 W"));
}
