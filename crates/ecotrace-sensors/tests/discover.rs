//! Discovery on fake machines: which sensors are chosen, and what the diagnostics say.

mod common;

use std::sync::{Arc, Mutex};

use common::{Denying, FakeRoot, MEMINFO_16G, X86_2S};
use ecotrace_core::{ComponentKind, Method, Power, Scope};
use ecotrace_sensors::cpu_model::CpuSpec;
use ecotrace_sensors::discover::{discover, discover_with, Discovery, Probes, SensorConfig};
use ecotrace_sensors::gpu::{FakeGpu, FakeGpuBackend};
use ecotrace_sensors::rapl::RealSysfs;
use ecotrace_sensors::Diagnostic;

/// Tests that read or change ECOTRACE_NVML_LIBRARY hold this.
static ENV: Mutex<()> = Mutex::new(());

const MAX: u64 = 262_143_328_850;

fn machine(rapl: bool, dram: bool) -> FakeRoot {
    let f = FakeRoot::new();
    f.write("proc/cpuinfo", X86_2S);
    f.write("proc/meminfo", MEMINFO_16G);
    f.write("proc/stat", &common::stat_line(100, 900));
    if rapl {
        for n in 0..2 {
            f.rapl_zone(
                &format!("intel-rapl:{n}"),
                &format!("package-{n}"),
                1000,
                MAX,
            );
            if dram {
                f.rapl_zone(&format!("intel-rapl:{n}:0"), "dram", 50, MAX);
            }
        }
    }
    f
}

fn table(name: &str) -> Option<CpuSpec> {
    name.contains("E5-2620 v3").then(|| CpuSpec {
        name: "Intel Xeon E5-2620 v3".into(),
        tdp: Power::from_watts(85.0),
        cores: Some(6),
        source: "test table".into(),
        year: 2026,
    })
}

fn cfg() -> SensorConfig {
    SensorConfig {
        scope: Scope::Process,
        cpu_power: None,
        ram_power: None,
        nvml_library: Some("none".into()),
        cpu_lookup: Some(table),
        amdsmi_library: Some("none".into()),
        gpus: None,
        gpu_env: Default::default(),
        host_procfs: None,
    }
}

fn diag<'a>(d: &'a Discovery, sensor: &str) -> &'a Diagnostic {
    d.diagnostics
        .iter()
        .find(|x| x.sensor == sensor)
        .unwrap_or_else(|| panic!("no {sensor} diagnostic in {:?}", d.diagnostics))
}

fn kinds(d: &Discovery) -> Vec<(ComponentKind, Method, Vec<String>)> {
    d.sensors
        .iter()
        .map(|s| (s.component(), s.method(0), s.devices().to_vec()))
        .collect()
}

fn one_per_sensor(d: &Discovery) {
    let names: Vec<&str> = d.diagnostics.iter().map(|x| x.sensor).collect();
    let gpus = d.gpus.is_empty();
    let expected: &[&str] = if gpus {
        &["procfs", "rapl", "cpu-model", "ram-model", "nvml", "amdsmi"]
    } else {
        &[
            "procfs",
            "rapl",
            "cpu-model",
            "ram-model",
            "nvml",
            "amdsmi",
            "gpus",
            "pid-namespace",
        ]
    };
    assert_eq!(names, expected);
}

#[test]
fn rapl_readable_measures_cpu_and_ram() {
    let f = machine(true, true);
    let fake = FakeGpuBackend::new(vec![FakeGpu::with_counter("NVIDIA H100", 0, 0)]);
    let d = discover_with(
        &cfg(),
        &f.roots(),
        Probes {
            sysfs: Arc::new(RealSysfs),
            gpu: Some(Box::new(fake)),
            amd: None,
        },
    );
    one_per_sensor(&d);
    assert_eq!(
        kinds(&d),
        vec![
            (
                ComponentKind::Cpu,
                Method::Rapl,
                vec!["package-0".into(), "package-1".into()]
            ),
            (
                ComponentKind::Ram,
                Method::Rapl,
                vec!["dram-0".into(), "dram-1".into()]
            ),
            (ComponentKind::Gpu, Method::NvmlCounter, vec!["gpu0".into()]),
        ]
    );
    assert_eq!(d.gpus, vec!["NVIDIA H100"]);
    assert_eq!(d.cpu.sockets, 2);
    let r = diag(&d, "rapl");
    assert!(r.ok);
    assert_eq!(r.detail, "2 packages: package-0, package-1 (dram: yes)");
    assert!(diag(&d, "cpu-model").detail.starts_with("not needed: RAPL"));
    assert!(diag(&d, "ram-model")
        .detail
        .starts_with("not needed: RAPL dram"));
    let n = diag(&d, "nvml");
    assert!(
        n.ok && n
            .detail
            .starts_with("1 GPU: gpu0 NVIDIA H100 (energy counter)")
    );
    let p = diag(&d, "procfs");
    assert!(p.ok, "{p:?}");
    assert!(
        p.detail.contains("4 logical CPUs (2 cores, 2 sockets)"),
        "{}",
        p.detail
    );
}

#[test]
fn rapl_unreadable_falls_back_to_the_cpu_model_and_says_why() {
    let f = machine(true, true);
    let fs = Denying::default();
    fs.deny(f.path("sys/class/powercap/intel-rapl:0/energy_uj"));
    let d = discover_with(
        &cfg(),
        &f.roots(),
        Probes {
            sysfs: Arc::new(fs),
            gpu: None,
            amd: None,
        },
    );
    one_per_sensor(&d);
    let k = kinds(&d);
    assert_eq!(k[0].0, ComponentKind::Cpu);
    assert_eq!(k[0].1, Method::CpuModel);
    assert_eq!(k[1].1, Method::RamModel);
    assert_eq!(k.len(), 2, "no GPU sensor with NVML disabled");
    let r = diag(&d, "rapl");
    assert!(!r.ok);
    assert!(r.detail.contains("CVE-2020-8694"), "{}", r.detail);
    assert!(r.fix.as_deref().unwrap().contains("sudo chmod a+r"));
    // Said once: only the rapl line carries it.
    let mentions = d
        .diagnostics
        .iter()
        .filter(|x| x.detail.contains("CVE-2020-8694"))
        .count();
    assert_eq!(mentions, 1);
    let c = diag(&d, "cpu-model");
    assert!(c.detail.starts_with("RAPL unreadable; CPU power model: Intel Xeon E5-2620 v3: TDP 85 W from test table (2026) × 2 sockets"), "{}", c.detail);
    assert!(c.fix.is_none());
    let fig = d.sensors[0].figures(0);
    assert_eq!(fig["max_w"], 170.0);
}

#[test]
fn explicit_user_figures_win_over_rapl() {
    let f = machine(true, true);
    let mut c = cfg();
    c.cpu_power = Some(Power::from_watts(45.0));
    c.ram_power = Some(Power::from_watts(6.0));
    let d = discover_with(&c, &f.roots(), Probes::default());
    let k = kinds(&d);
    assert_eq!(k[0].1, Method::CpuModel);
    assert_eq!(k[1].1, Method::RamModel);
    assert!(d.sensors[0].note(0).starts_with("user-given 45 W"));
    assert!(d.sensors[1].note(0).starts_with("user-given 6 W"));
    let r = diag(&d, "rapl");
    assert!(r.ok);
    assert!(
        r.detail
            .contains("not used for the CPU: --cpu-power 45 W given (explicit figures win)"),
        "{}",
        r.detail
    );
    assert!(r.detail.contains("--ram-power 6 W given"));
}

#[test]
fn only_cpu_power_given_keeps_rapl_dram_for_ram() {
    let f = machine(true, true);
    let mut c = cfg();
    c.cpu_power = Some(Power::from_watts(45.0));
    let d = discover_with(&c, &f.roots(), Probes::default());
    let k = kinds(&d);
    assert_eq!(k[0].1, Method::CpuModel);
    assert_eq!((k[1].0, k[1].1), (ComponentKind::Ram, Method::Rapl));
}

#[test]
fn rapl_without_dram_uses_the_ram_model() {
    let f = machine(true, false);
    let d = discover_with(&cfg(), &f.roots(), Probes::default());
    let k = kinds(&d);
    assert_eq!(k[0].1, Method::Rapl);
    assert_eq!(k[1].1, Method::RamModel);
    assert!(diag(&d, "rapl").detail.ends_with("(dram: no)"));
}

#[test]
fn no_rapl_unknown_cpu_uses_the_default_and_suggests_cpu_power() {
    let f = machine(false, false);
    let mut c = cfg();
    c.cpu_lookup = None;
    let d = discover_with(&c, &f.roots(), Probes::default());
    let r = diag(&d, "rapl");
    assert!(!r.ok && r.detail.contains("no RAPL (VM or non-x86)"));
    let cm = diag(&d, "cpu-model");
    assert!(
        cm.detail.contains("no RAPL; CPU power model: unknown CPU"),
        "{}",
        cm.detail
    );
    assert!(cm.fix.as_deref().unwrap().contains("--cpu-power"));
    assert_eq!(d.sensors[0].figures(0)["max_w"], 2.0 * 8.75);
}

#[test]
fn nvml_absent_is_not_an_error() {
    let _g = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let f = machine(false, false);
    // Through the config: disabled, and a path that does not exist.
    let d = discover_with(&cfg(), &f.roots(), Probes::default());
    assert!(d.gpus.is_empty());
    assert!(d
        .sensors
        .iter()
        .all(|s| s.component() != ComponentKind::Gpu));
    let n = diag(&d, "nvml");
    assert!(!n.ok && n.detail.contains("NVML disabled"), "{}", n.detail);

    let mut c = cfg();
    c.nvml_library = Some("/nonexistent/libnvidia-ml.so.1".into());
    let d = discover_with(&c, &f.roots(), Probes::default());
    let n = diag(&d, "nvml");
    assert!(
        n.detail.starts_with("NVML not found") && n.detail.contains("ECOTRACE_NVML_LIBRARY="),
        "{}",
        n.detail
    );
    assert!(n.fix.as_deref().unwrap().contains("no NVIDIA GPU"));
    assert_eq!(d.sensors.len(), 2);

    // Through the environment, as `ecotrace run` sees it.
    std::env::set_var("ECOTRACE_NVML_LIBRARY", "none");
    let mut c = cfg();
    c.nvml_library = None;
    let d = discover(&c, &f.roots());
    std::env::remove_var("ECOTRACE_NVML_LIBRARY");
    assert!(d.gpus.is_empty());
    assert!(diag(&d, "nvml").detail.contains("NVML disabled"));
    assert_eq!(d.sensors.len(), 2);
}

#[test]
fn a_machine_with_gpus_in_machine_scope() {
    let f = machine(false, false);
    let fake = FakeGpuBackend::new(vec![
        FakeGpu::with_counter("A", 0, 0),
        FakeGpu::power_only("B", 1),
    ]);
    let mut c = cfg();
    c.scope = Scope::Machine;
    let d = discover_with(
        &c,
        &f.roots(),
        Probes {
            sysfs: Arc::new(RealSysfs),
            gpu: Some(Box::new(fake)),
            amd: None,
        },
    );
    let gpu = d.sensors.last().unwrap();
    assert_eq!(gpu.devices(), &["gpu0", "gpu1"]);
    assert_eq!(gpu.method(1), Method::NvmlPower);
    assert_eq!(
        diag(&d, "nvml").detail,
        "2 GPUs: gpu0 A (energy counter), gpu1 B (power × time)"
    );
}

#[test]
fn no_proc_at_all_still_discovers_with_a_diagnostic() {
    let f = FakeRoot::new();
    let d = discover_with(&cfg(), &f.roots(), Probes::default());
    let p = diag(&d, "procfs");
    assert!(!p.ok);
    assert!(p.fix.as_deref().unwrap().contains("ECOTRACE_PROCFS_ROOT"));
    assert_eq!(d.cpu.model_name, "unknown");
    assert_eq!(d.sensors.len(), 2);
}

#[test]
fn the_default_config_uses_the_bundled_table() {
    let c = SensorConfig::new(Scope::Process, None, None);
    let f = machine(false, false);
    let mut c2 = c.clone();
    c2.nvml_library = Some("none".into());
    let d = discover_with(&c2, &f.roots(), Probes::default());
    assert_eq!(d.sensors[0].figures(0)["tdp_w"], 85.0);
}
