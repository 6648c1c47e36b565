//! RAPL through a fake powercap tree.

mod common;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use common::{Denying, FakeRoot};
use ecotrace_core::{ComponentKind, Energy, Method, Scope};
use ecotrace_sensors::rapl::{
    probe, RaplCpuSensor, RaplRamSensor, RaplStatus, RaplTopology, RealSysfs,
};
use ecotrace_sensors::{Sensor, Tick};

const MAX: u64 = 262_143_328_850;

fn tick(scope: Scope, cpu_share: f64, charged: u64, used: u64) -> Tick<'static> {
    Tick {
        dt: Duration::from_secs(2),
        scope,
        machine_util: 0.5,
        cpu_share,
        charged_memory_bytes: charged,
        used_memory_bytes: used,
        pids: &[],
    }
}

fn ready(f: &FakeRoot) -> RaplTopology {
    let p = probe(&f.roots(), &RealSysfs);
    assert!(p.diagnostic.ok, "{:?}", p.diagnostic);
    match p.status {
        RaplStatus::Ready(t) => t,
        other => panic!("not ready: {other:?}"),
    }
}

fn read(s: &mut dyn Sensor, t: &Tick<'_>) -> Vec<f64> {
    let mut out = vec![Energy::ZERO; s.devices().len()];
    s.read(t, &mut out).unwrap();
    out.iter().map(|e| e.joules()).collect()
}

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-9, "{a:?} vs {b:?}");
    }
}

#[test]
fn package_deltas_are_charged_by_cpu_share() {
    let f = FakeRoot::new();
    f.rapl_zone("intel-rapl:0", "package-0", 1_000_000, MAX);
    let topo = ready(&f);
    let mut s = RaplCpuSensor::new(&topo, Arc::new(RealSysfs)).unwrap();
    assert_eq!(s.devices(), &["package-0".to_string()]);
    assert_eq!(s.component(), ComponentKind::Cpu);
    assert_eq!(s.method(0), Method::Rapl);
    f.set_energy("intel-rapl:0", 3_000_000);
    close(&read(&mut s, &tick(Scope::Process, 0.25, 0, 0)), &[0.5]);
    f.set_energy("intel-rapl:0", 5_000_000);
    close(&read(&mut s, &tick(Scope::Machine, 0.25, 0, 0)), &[2.0]);
    // No change: zero, not negative.
    close(&read(&mut s, &tick(Scope::Machine, 1.0, 0, 0)), &[0.0]);
    let fig = s.figures(0);
    assert!((fig["package_energy_j"] - 4.0).abs() < 1e-9);
    assert!((fig["cpu_share_mean"] - (0.25 + 1.0 + 1.0) / 3.0).abs() < 1e-9);
    assert!(s.note(0).contains("intel-rapl:0"));
}

#[test]
fn a_counter_that_goes_backwards_wrapped() {
    let f = FakeRoot::new();
    f.rapl_zone("intel-rapl:0", "package-0", 9_000_000, 10_000_000);
    let topo = ready(&f);
    let mut s = RaplCpuSensor::new(&topo, Arc::new(RealSysfs)).unwrap();
    f.set_energy("intel-rapl:0", 500_000);
    // 10 J − 9 J + 0.5 J.
    close(&read(&mut s, &tick(Scope::Machine, 1.0, 0, 0)), &[1.5]);
}

#[test]
fn two_packages_with_dram() {
    let f = FakeRoot::new();
    f.rapl_zone("intel-rapl:0", "package-0", 0, MAX);
    f.rapl_zone("intel-rapl:0:0", "core", 0, MAX);
    f.rapl_zone("intel-rapl:0:1", "dram", 0, MAX);
    f.rapl_zone("intel-rapl:1", "package-1", 10, MAX);
    f.rapl_zone("intel-rapl:1:0", "dram", 20, MAX);
    f.write("sys/class/powercap/intel-rapl/enabled", "1\n");
    let p = probe(&f.roots(), &RealSysfs);
    assert_eq!(
        p.diagnostic.detail,
        "2 packages: package-0, package-1 (dram: yes)"
    );
    let RaplStatus::Ready(topo) = p.status else {
        panic!()
    };
    let mut cpu = RaplCpuSensor::new(&topo, Arc::new(RealSysfs)).unwrap();
    let mut ram = RaplRamSensor::new(&topo, Arc::new(RealSysfs))
        .unwrap()
        .unwrap();
    assert_eq!(cpu.devices(), &["package-0", "package-1"]);
    assert_eq!(ram.devices(), &["dram-0", "dram-1"]);
    assert_eq!(ram.component(), ComponentKind::Ram);
    f.set_energy("intel-rapl:0", 4_000_000);
    f.set_energy("intel-rapl:1", 2_000_010);
    f.set_energy("intel-rapl:0:0", 999_000_000); // core: inside the package, not added
    f.set_energy("intel-rapl:0:1", 1_000_000);
    f.set_energy("intel-rapl:1:0", 3_000_020);
    // Process scope: half the CPU, a quarter of used memory.
    let t = tick(Scope::Process, 0.5, 1 << 30, 4 << 30);
    close(&read(&mut cpu, &t), &[2.0, 1.0]);
    close(&read(&mut ram, &t), &[0.25, 0.75]);
    assert!((ram.figures(1)["dram_energy_j"] - 3.0).abs() < 1e-9);
    // Charged memory above used (RSS double counts shared pages): clamped to all of it.
    f.set_energy("intel-rapl:0:1", 2_000_000);
    let t = tick(Scope::Process, 0.5, 8 << 30, 4 << 30);
    close(&read(&mut ram, &t), &[1.0, 0.0]);
}

#[test]
fn no_dram_no_ram_sensor() {
    let f = FakeRoot::new();
    f.rapl_zone("intel-rapl:0", "package-0", 0, MAX);
    f.rapl_zone("intel-rapl:0:0", "core", 0, MAX);
    let topo = ready(&f);
    assert!(!topo.has_dram());
    assert!(RaplRamSensor::new(&topo, Arc::new(RealSysfs))
        .unwrap()
        .is_none());
}

#[test]
fn psys_and_mmio_are_skipped() {
    let f = FakeRoot::new();
    f.rapl_zone("intel-rapl:0", "package-0", 0, MAX);
    f.rapl_zone("intel-rapl:1", "psys", 0, MAX);
    f.rapl_zone("intel-rapl-mmio:0", "package-0", 0, MAX);
    let p = probe(&f.roots(), &RealSysfs);
    assert!(p
        .diagnostic
        .detail
        .starts_with("1 package: package-0 (dram: no); skipped: "));
    assert!(
        p.diagnostic.detail.contains("psys"),
        "{}",
        p.diagnostic.detail
    );
    assert!(p.diagnostic.detail.contains("intel-rapl-mmio:0"));
    let RaplStatus::Ready(topo) = p.status else {
        panic!()
    };
    let mut s = RaplCpuSensor::new(&topo, Arc::new(RealSysfs)).unwrap();
    f.set_energy("intel-rapl:0", 1_000_000);
    f.set_energy("intel-rapl:1", 50_000_000);
    f.set_energy("intel-rapl-mmio:0", 1_000_000);
    close(&read(&mut s, &tick(Scope::Machine, 1.0, 0, 0)), &[1.0]);
}

#[test]
fn mirrored_amd_zones_count_once() {
    let f = FakeRoot::new();
    // Four dies, one package: the same `package-0` with the same counter four times.
    for z in 0..4 {
        f.rapl_zone(&format!("intel-rapl:{z}"), "package-0", 123_456_789, MAX);
        f.rapl_zone(&format!("intel-rapl:{z}:0"), "core", 5, MAX);
    }
    let p = probe(&f.roots(), &RealSysfs);
    assert!(
        p.diagnostic
            .detail
            .starts_with("1 package: package-0 (dram: no)"),
        "{}",
        p.diagnostic.detail
    );
    assert!(p.diagnostic.detail.contains("counted once"));
    let RaplStatus::Ready(topo) = p.status else {
        panic!()
    };
    let mut s = RaplCpuSensor::new(&topo, Arc::new(RealSysfs)).unwrap();
    for z in 0..4 {
        f.set_energy(&format!("intel-rapl:{z}"), 133_456_789);
    }
    close(&read(&mut s, &tick(Scope::Machine, 1.0, 0, 0)), &[10.0]);
}

#[test]
fn same_name_different_counters_are_two_devices() {
    let f = FakeRoot::new();
    f.rapl_zone("intel-rapl:0", "package-0", 1_000, MAX);
    f.rapl_zone("intel-rapl:1", "package-0", 2_000, MAX);
    let topo = ready(&f);
    let s = RaplCpuSensor::new(&topo, Arc::new(RealSysfs)).unwrap();
    assert_eq!(
        s.devices(),
        &["package-0 (intel-rapl:0)", "package-0 (intel-rapl:1)"]
    );
}

#[test]
fn unreadable_energy_says_why_once_with_the_fix() {
    let f = FakeRoot::new();
    f.rapl_zone("intel-rapl:0", "package-0", 0, MAX);
    f.rapl_zone("intel-rapl:1", "package-1", 0, MAX);
    let fs = Denying::default();
    for z in ["intel-rapl:0", "intel-rapl:1"] {
        fs.deny(f.path(&format!("sys/class/powercap/{z}/energy_uj")));
    }
    let p = probe(&f.roots(), &fs);
    assert!(!p.diagnostic.ok);
    assert!(matches!(
        p.status,
        RaplStatus::Unreadable { ref error, .. } if error.kind() == io::ErrorKind::PermissionDenied
    ));
    let d = &p.diagnostic.detail;
    assert!(d.contains("CVE-2020-8694") && d.contains("5.10"), "{d}");
    let fix = p.diagnostic.fix.as_deref().unwrap();
    assert!(fix.contains("sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj"));
    assert!(fix.contains("udev") && fix.contains("--cpu-power"));
}

#[test]
fn no_powercap_means_no_rapl() {
    let f = FakeRoot::new();
    let p = probe(&f.roots(), &RealSysfs);
    assert!(matches!(p.status, RaplStatus::Absent));
    assert!(p.diagnostic.detail.contains("no RAPL (VM or non-x86)"));
    // A powercap dir with only non-RAPL zones is the same.
    f.write("sys/class/powercap/dtpm/name", "dtpm\n");
    let p = probe(&f.roots(), &RealSysfs);
    assert!(matches!(p.status, RaplStatus::Absent));
}

#[test]
fn a_failed_read_loses_no_energy() {
    let f = FakeRoot::new();
    f.rapl_zone("intel-rapl:0", "package-0", 0, MAX);
    f.rapl_zone("intel-rapl:1", "package-1", 0, MAX);
    let fs = Denying::default();
    let topo = ready(&f);
    let mut s = RaplCpuSensor::new(&topo, Arc::new(fs.clone())).unwrap();
    f.set_energy("intel-rapl:0", 1_000_000);
    f.set_energy("intel-rapl:1", 1_000_000);
    fs.deny(f.path("sys/class/powercap/intel-rapl:1/energy_uj"));
    let mut out = vec![Energy::ZERO; 2];
    assert!(s.read(&tick(Scope::Machine, 1.0, 0, 0), &mut out).is_err());
    fs.allow_all();
    f.set_energy("intel-rapl:0", 3_000_000);
    f.set_energy("intel-rapl:1", 2_000_000);
    close(&read(&mut s, &tick(Scope::Machine, 1.0, 0, 0)), &[3.0, 2.0]);
}
