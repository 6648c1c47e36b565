//! Accelerators beyond one NVIDIA GPU per process, on fake backends and fake trees: AMD GPUs
//! (counter and power), which GPUs a run is charged (`--gpus` and every runtime variable), MIG
//! shares, shared-GPU splits, and host PIDs mapped into a container's PID namespace.

mod common;

use std::collections::BTreeMap;

use common::{close, gpu_tick as tick, read_gpu as read, FakeRoot};
use ecotrace_core::{ComponentKind, Method, Scope};
use ecotrace_sensors::amdsmi::{
    hwmon_dir, hwmon_power_mw, AmdSmiBackend, AmdSmiLibrary, AmdSmiLoadError,
};
use ecotrace_sensors::discover::{discover_with, Discovery, Probes, SensorConfig};
use ecotrace_sensors::gpu::{
    FakeGpu, FakeGpuBackend, GpuCharging, GpuSensor, MigInstance, MigLayout,
};
use ecotrace_sensors::gpu_select::{
    select, Decision, DeviceIdent, GpuRequest, GpuVendor, Selection,
};
use ecotrace_sensors::pidns::{HostPids, PidNamespace};
use ecotrace_sensors::{Diagnostic, Roots, Sensor};

/// A charging plan on a fake tree (hermetic: no pid is looked up in the real /proc).
fn charging(f: &FakeRoot, selection: Selection, host_procfs: Option<&str>) -> GpuCharging {
    let roots = f.roots();
    GpuCharging {
        base: 0,
        selection,
        host_pids: Some(HostPids::new(
            &roots,
            host_procfs.map(|h| f.dir.path().join(h)),
        )),
        roots,
    }
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| m.get(k).cloned()
}

// ---------------------------------------------------------------- AMD

#[test]
fn amd_gpus_by_energy_counter_or_power() {
    let fake = FakeGpuBackend::amd(vec![
        FakeGpu::with_counter("AMD Instinct MI250X", 1_000_000, 400_000),
        FakeGpu::power_only("AMD Radeon RX 7900 XTX", 200_000),
    ]);
    let mut s = GpuSensor::new(Box::new(fake.clone()));
    assert_eq!(s.method(0), Method::AmdSmiCounter);
    assert_eq!(s.method(1), Method::AmdSmiPower);
    fake.add_energy_mj(0, 900_000); // 900 J
    fake.set_power_mw(1, Some(300_000)); // 200 W -> 300 W: mean 250 W over 2 s
    close(&read(&mut s, &tick(Scope::Machine, &[])), &[900.0, 500.0]);
    // The counter is the driver's total: a fall means the driver restarted; what it shows counts.
    fake.update(0, |g| g.energy_mj = Some(40_000));
    close(&read(&mut s, &tick(Scope::Machine, &[])), &[40.0, 600.0]);
    assert!(
        s.note(0).contains("AMD SMI energy accumulator"),
        "{}",
        s.note(0)
    );
    assert!(
        s.note(1).contains("AMD SMI power readings"),
        "{}",
        s.note(1)
    );
    assert_eq!(Method::AmdSmiCounter.to_string(), "amdsmi-counter");
    assert_eq!(Method::AmdSmiPower.to_string(), "amdsmi-power");
}

#[test]
fn an_mi250x_reports_on_its_first_die_and_each_die_is_charged_half() {
    // Two MI250X cards: four devices. As the amdgpu driver does, the card's energy and power
    // are reported on its primary die, 0 on the other. One MI210 after them reads on its own.
    let f = FakeRoot::new();
    let fake = FakeGpuBackend::amd(vec![
        FakeGpu::with_counter("AMD Instinct MI250X", 1_000_000, 90_000),
        FakeGpu::with_counter("AMD Instinct MI250X", 0, 0),
        FakeGpu::with_counter("AMD Instinct MI250X", 2_000_000, 95_000),
        FakeGpu::with_counter("AMD Instinct MI250X", 0, 0),
        FakeGpu::with_counter("AMD Instinct MI210", 3_000_000, 50_000),
    ]);
    let mut s = GpuSensor::with_charging(
        Box::new(fake.clone()),
        charging(&f, Selection::default(), None),
    );
    assert_eq!(s.devices().len(), 5);
    // 400 J on the first card, 200 J on the second, 100 J on the MI210.
    fake.add_energy_mj(0, 400_000);
    fake.add_energy_mj(2, 200_000);
    fake.add_energy_mj(4, 100_000);
    // Machine scope: the cards' energy once each, half on each die; nothing counted twice.
    let e = read(&mut s, &tick(Scope::Machine, &[]));
    close(&e, &[200.0, 200.0, 100.0, 100.0, 100.0]);
    assert!(s.note(1).contains("one of the 2 dies"), "{}", s.note(1));
    assert!(s.note(1).contains("gpu0"), "{}", s.note(1));
    assert_eq!(s.figures(3).get("card_dies"), Some(&2.0));
    assert_eq!(s.figures(4).get("card_dies"), None);
    // Process scope: a run on the second die of the first card (the one that reads 0) is
    // charged its die's half of the card, not nothing; one on the first die, not the whole card.
    fake.set_pids(1, &[7]);
    fake.set_pids(2, &[8]);
    fake.add_energy_mj(0, 600_000);
    fake.add_energy_mj(2, 600_000);
    close(
        &read(&mut s, &tick(Scope::Process, &[7])),
        &[0.0, 300.0, 0.0, 0.0, 0.0],
    );
    // Only the second die given to the run (--gpus 1): still read through its card's first die.
    let sel = select(
        &(0..5)
            .map(|g| amd(g, &format!("GPU-{g}")))
            .collect::<Vec<_>>(),
        Some(&GpuRequest::parse("1", "--gpus").unwrap()),
        Scope::Process,
        &env(&[]),
    );
    let mut s = GpuSensor::with_charging(Box::new(fake.clone()), charging(&f, sel, None));
    assert_eq!(s.devices(), ["gpu1"]);
    assert_eq!(s.method(0), Method::AmdSmiCounter);
    fake.add_energy_mj(0, 80_000);
    close(&read(&mut s, &tick(Scope::Process, &[7])), &[40.0]);
    // A driver that reports on every die is read die by die.
    let per_die = FakeGpuBackend::amd(vec![
        FakeGpu::with_counter("AMD Instinct MI250X", 1_000, 90_000),
        FakeGpu::with_counter("AMD Instinct MI250X", 1_000, 90_000),
    ]);
    let mut s = GpuSensor::new(Box::new(per_die.clone()));
    per_die.add_energy_mj(0, 10_000);
    per_die.add_energy_mj(1, 30_000);
    close(&read(&mut s, &tick(Scope::Machine, &[])), &[10.0, 30.0]);
    assert_eq!(s.figures(0).get("card_dies"), None);
}

#[test]
fn amd_process_attribution_uses_the_process_list() {
    let f = FakeRoot::new();
    let fake = FakeGpuBackend::amd(vec![FakeGpu::with_counter("AMD Instinct MI300X", 0, 0)]);
    let mut s = GpuSensor::with_charging(
        Box::new(fake.clone()),
        charging(&f, Selection::default(), None),
    );
    fake.add_energy_mj(0, 2_000_000);
    close(&read(&mut s, &tick(Scope::Process, &[7])), &[0.0]);
    fake.set_pids(0, &[7]);
    fake.add_energy_mj(0, 2_000_000);
    close(&read(&mut s, &tick(Scope::Process, &[7])), &[2000.0]);
}

#[test]
fn amd_gpus_are_numbered_after_nvidia_ones_and_doctor_shows_both() {
    let f = FakeRoot::new();
    let nv = FakeGpuBackend::new(vec![FakeGpu::with_counter("NVIDIA H100 80GB HBM3", 0, 0)]);
    let amd = FakeGpuBackend::amd(vec![
        FakeGpu::with_counter("AMD Instinct MI210", 0, 0).uuid("GPU-4b2f1a0c9d8e7f60")
    ]);
    let d = discover(&f, cfg(Scope::Machine), Some(nv), Some(amd));
    assert_eq!(d.gpus, vec!["NVIDIA H100 80GB HBM3", "AMD Instinct MI210"]);
    let gpu: Vec<(Vec<String>, Method)> = d
        .sensors
        .iter()
        .filter(|s| s.component() == ComponentKind::Gpu)
        .map(|s| (s.devices().to_vec(), s.method(0)))
        .collect();
    assert_eq!(
        gpu,
        vec![
            (vec!["gpu0".to_string()], Method::NvmlCounter),
            (vec!["gpu1".to_string()], Method::AmdSmiCounter)
        ]
    );
    let a = diag(&d, "amdsmi");
    assert!(a.ok);
    assert_eq!(a.detail, "1 GPU: gpu1 AMD Instinct MI210 (energy counter)");
    assert!(diag(&d, "gpus")
        .detail
        .contains("gpu1 = GPU-4b2f1a0c9d8e7f60"));
}

#[test]
fn amd_smi_absent_or_disabled_is_not_an_error() {
    let f = FakeRoot::new();
    let roots = f.roots();
    assert!(matches!(
        AmdSmiBackend::load(&AmdSmiLibrary::Disabled, &roots),
        Err(AmdSmiLoadError::Disabled)
    ));
    let missing = AmdSmiLibrary::Path("/nonexistent/libamd_smi.so".into());
    match AmdSmiBackend::load(&missing, &roots) {
        Err(e @ AmdSmiLoadError::NotFound { .. }) => {
            assert!(e.to_string().contains("ECOTRACE_AMDSMI_LIBRARY="), "{e}")
        }
        Err(e) => panic!("expected NotFound, got {e}"),
        Ok(_) => panic!("loaded a library that does not exist"),
    }
    // A library that is not AMD SMI (libc) is refused for its missing symbols.
    let libc = AmdSmiLibrary::Path("libc.so.6".into());
    match AmdSmiBackend::load(&libc, &roots) {
        Err(AmdSmiLoadError::NotFound { detail, .. }) => {
            assert!(detail.contains("missing amdsmi_init"), "{detail}")
        }
        Err(e) => panic!("expected NotFound, got {e}"),
        Ok(_) => panic!("libc taken for AMD SMI"),
    }
    assert_eq!(
        AmdSmiLibrary::resolve(Some(std::path::Path::new("None"))),
        AmdSmiLibrary::Disabled
    );

    // Discovery: the AMD row says what to do; no GPU component, nothing fails.
    let mut c = cfg(Scope::Process);
    c.amdsmi_library = Some("/nonexistent/libamd_smi.so".into());
    let d = discover_with(&c, &roots, Probes::default());
    let a = diag(&d, "amdsmi");
    assert!(!a.ok && a.detail.starts_with("AMD SMI not found"), "{a:?}");
    assert!(a.fix.as_deref().unwrap().contains("no AMD GPU"));
    assert!(d
        .sensors
        .iter()
        .all(|s| s.component() != ComponentKind::Gpu));
}

#[test]
fn amd_power_comes_from_the_devices_hwmon() {
    let f = FakeRoot::new();
    // amdsmi_bdf_t for 0000:c1:00.0: bus 0xc1 in bits 8-15.
    let bdf: u64 = 0xc1 << 8;
    f.write(
        "sys/bus/pci/devices/0000:c1:00.0/hwmon/hwmon3/power1_average",
        "287000000\n",
    );
    let dir = hwmon_dir(&f.roots(), bdf).expect("hwmon found");
    assert!(dir.ends_with("hwmon3"));
    assert_eq!(hwmon_power_mw(&dir), Some(287_000));
    // Only the instantaneous reading (newer kernels on MI300): used instead.
    f.write(
        "sys/bus/pci/devices/0000:c2:00.0/hwmon/hwmon4/power1_input",
        "150500000\n",
    );
    let dir = hwmon_dir(&f.roots(), 0xc2 << 8).unwrap();
    assert_eq!(hwmon_power_mw(&dir), Some(150_500));
    assert_eq!(hwmon_dir(&f.roots(), 0xc3 << 8), None);
}

// ---------------------------------------------------------------- which GPUs

fn nv(global: usize, uuid: &str) -> DeviceIdent {
    DeviceIdent {
        vendor: GpuVendor::Nvidia,
        global,
        uuid: Some(uuid.to_string()),
        mig_uuids: Vec::new(),
    }
}

fn amd(global: usize, uuid: &str) -> DeviceIdent {
    DeviceIdent {
        vendor: GpuVendor::Amd,
        ..nv(global, uuid)
    }
}

/// Four NVIDIA GPUs.
fn four() -> Vec<DeviceIdent> {
    (0..4)
        .map(|i| nv(i, &format!("GPU-{i}aaa1111-2222-3333-4444-55556666777{i}")))
        .collect()
}

fn selected(sel: &Selection) -> Vec<usize> {
    sel.decisions
        .iter()
        .filter(|(_, d)| matches!(d, Decision::Selected { .. }))
        .map(|(g, _)| *g)
        .collect()
}

fn chosen(devs: &[DeviceIdent], vars: &[(&str, &str)]) -> (Vec<usize>, Selection) {
    let sel = select(devs, None, Scope::Process, &env(vars));
    (selected(&sel), sel)
}

#[test]
fn gpus_option_syntax() {
    assert!(GpuRequest::parse("0,2", "--gpus").is_ok());
    assert!(GpuRequest::parse("GPU-12ab-cd", "--gpus").is_ok());
    for bad in ["0,,2", "", "first"] {
        let e = GpuRequest::parse(bad, "--gpus").unwrap_err();
        assert!(e.contains("doctor"), "{bad:?}: {e}");
    }
}

#[test]
fn cuda_visible_devices_by_index_uuid_and_prefix() {
    let d = four();
    let (s, sel) = chosen(&d, &[("CUDA_VISIBLE_DEVICES", "0,2")]);
    assert_eq!(s, [0, 2]);
    assert_eq!(sel.decision(1), &Decision::Excluded);
    assert_eq!(sel.reasons, ["CUDA_VISIBLE_DEVICES=0,2"]);
    assert!(sel
        .describe(Scope::Process)
        .contains("gpu0, gpu2 given to the run by CUDA_VISIBLE_DEVICES=0,2"));
    // UUIDs, whole or a unique prefix, in any case.
    let (s, _) = chosen(
        &d,
        &[(
            "CUDA_VISIBLE_DEVICES",
            "GPU-3aaa1111-2222-3333-4444-555566667773",
        )],
    );
    assert_eq!(s, [3]);
    let (s, _) = chosen(&d, &[("CUDA_VISIBLE_DEVICES", "gpu-1AAA")]);
    assert_eq!(s, [1]);
    // CUDA stops at the first entry it cannot use: 0 only.
    let (s, _) = chosen(&d, &[("CUDA_VISIBLE_DEVICES", "0,-1,2")]);
    assert_eq!(s, [0]);
    let (s, _) = chosen(&d, &[("CUDA_VISIBLE_DEVICES", "0,9,2")]);
    assert_eq!(s, [0]);
    // An ambiguous prefix is unusable, like an unknown one: nothing after it either.
    let (s, _) = chosen(&d, &[("CUDA_VISIBLE_DEVICES", "GPU-")]);
    assert!(s.is_empty());
    // Empty, and -1: no GPU at all.
    for v in ["", "-1"] {
        let (s, sel) = chosen(&d, &[("CUDA_VISIBLE_DEVICES", v)]);
        assert!(s.is_empty(), "{v:?}");
        assert!(
            sel.decisions.values().all(|x| *x == Decision::Excluded),
            "{v:?}"
        );
    }
    // Unset: by context.
    let (s, sel) = chosen(&d, &[]);
    assert!(s.is_empty());
    assert!(sel.decisions.values().all(|x| *x == Decision::ByContext));
}

#[test]
fn nvidia_visible_devices_as_the_container_runtime_reads_it() {
    let d = four();
    // all: no restriction of its own.
    let (s, sel) = chosen(&d, &[("NVIDIA_VISIBLE_DEVICES", "all")]);
    assert!(s.is_empty());
    assert!(sel.decisions.values().all(|x| *x == Decision::ByContext));
    // none, void, empty: no GPU given.
    for v in ["none", "void", ""] {
        let (_, sel) = chosen(&d, &[("NVIDIA_VISIBLE_DEVICES", v)]);
        assert!(
            sel.decisions.values().all(|x| *x == Decision::Excluded),
            "{v:?}"
        );
    }
    // On a host (NVML sees 4 GPUs), indices name GPUs.
    let (s, _) = chosen(&d, &[("NVIDIA_VISIBLE_DEVICES", "1,3")]);
    assert_eq!(s, [1, 3]);
    // In a container given GPUs 5 and 6 of the host, NVML sees 2 GPUs numbered 0 and 1:
    // the runtime applied the variable already, both are given.
    let two = &d[..2];
    let (s, _) = chosen(two, &[("NVIDIA_VISIBLE_DEVICES", "5,6")]);
    assert_eq!(s, [0, 1]);
    // UUIDs name GPUs anywhere.
    let (s, _) = chosen(
        &d,
        &[(
            "NVIDIA_VISIBLE_DEVICES",
            "GPU-2aaa1111-2222-3333-4444-555566667772",
        )],
    );
    assert_eq!(s, [2]);
    // CUDA_VISIBLE_DEVICES numbers the GPUs NVIDIA_VISIBLE_DEVICES left: its 1 is gpu3.
    let (s, sel) = chosen(
        &d,
        &[
            ("NVIDIA_VISIBLE_DEVICES", "1,3"),
            ("CUDA_VISIBLE_DEVICES", "1"),
        ],
    );
    assert_eq!(s, [3]);
    assert_eq!(
        sel.reasons,
        ["NVIDIA_VISIBLE_DEVICES=1,3", "CUDA_VISIBLE_DEVICES=1"]
    );
}

#[test]
fn rocr_then_hip_visible_devices_for_amd_gpus() {
    let d: Vec<DeviceIdent> = (0..4)
        .map(|i| amd(i, &format!("GPU-{i}f00d00d00d00d0{i}")))
        .collect();
    let (s, _) = chosen(&d, &[("ROCR_VISIBLE_DEVICES", "0,2,3")]);
    assert_eq!(s, [0, 2, 3]);
    let (s, _) = chosen(&d, &[("ROCR_VISIBLE_DEVICES", "GPU-2f00d00d00d00d02")]);
    assert_eq!(s, [2]);
    let (s, _) = chosen(&d, &[("HIP_VISIBLE_DEVICES", "3")]);
    assert_eq!(s, [3]);
    // HIP numbers what ROCr left: 1 of (0, 2, 3) is gpu2.
    let (s, sel) = chosen(
        &d,
        &[
            ("ROCR_VISIBLE_DEVICES", "0,2,3"),
            ("HIP_VISIBLE_DEVICES", "1"),
        ],
    );
    assert_eq!(s, [2]);
    assert!(sel.reasons.contains(&"HIP_VISIBLE_DEVICES=1".to_string()));
    // HIP reads CUDA_VISIBLE_DEVICES when HIP_VISIBLE_DEVICES is unset...
    let (s, _) = chosen(&d, &[("CUDA_VISIBLE_DEVICES", "1")]);
    assert_eq!(s, [1]);
    // ... and not when it is set.
    let (s, _) = chosen(
        &d,
        &[("CUDA_VISIBLE_DEVICES", "1"), ("HIP_VISIBLE_DEVICES", "0")],
    );
    assert_eq!(s, [0]);
    let (_, sel) = chosen(&d, &[("ROCR_VISIBLE_DEVICES", "")]);
    assert!(sel.decisions.values().all(|x| *x == Decision::Excluded));
}

#[test]
fn each_vendor_follows_its_own_variables() {
    // gpu0, gpu1 NVIDIA; gpu2, gpu3 AMD.
    let d = vec![
        nv(0, "GPU-n0"),
        nv(1, "GPU-n1"),
        amd(2, "GPU-a2"),
        amd(3, "GPU-a3"),
    ];
    let (s, sel) = chosen(
        &d,
        &[
            ("NVIDIA_VISIBLE_DEVICES", "1"),
            ("ROCR_VISIBLE_DEVICES", "1"),
        ],
    );
    assert_eq!(s, [1, 3]);
    // AMD GPUs with no variable of theirs stay charged by context.
    let (_, sel2) = chosen(&d, &[("NVIDIA_VISIBLE_DEVICES", "0")]);
    assert_eq!(sel2.decision(2), &Decision::ByContext);
    assert_eq!(sel.decision(0), &Decision::Excluded);
}

#[test]
fn gpus_option_wins_and_names_gpus_by_ecotrace_number_or_uuid() {
    let d = vec![nv(0, "GPU-n0x"), nv(1, "GPU-n1x"), amd(2, "GPU-a2x")];
    let req = GpuRequest::parse("0,GPU-a2x", "--gpus").unwrap();
    let sel = select(
        &d,
        Some(&req),
        Scope::Process,
        &env(&[("CUDA_VISIBLE_DEVICES", "1")]),
    );
    assert_eq!(selected(&sel), [0, 2]);
    assert_eq!(sel.decision(1), &Decision::Excluded);
    assert_eq!(sel.reasons, ["--gpus 0,GPU-a2x"]);
    // In machine scope too; the runtime variables alone do not narrow machine scope.
    let sel = select(&d, Some(&req), Scope::Machine, &env(&[]));
    assert_eq!(selected(&sel), [0, 2]);
    let sel = select(
        &d,
        None,
        Scope::Machine,
        &env(&[("CUDA_VISIBLE_DEVICES", "1")]),
    );
    assert!(sel.decisions.values().all(|x| *x == Decision::ByContext));
    // all; and an entry that names nothing is reported.
    let all = GpuRequest::parse("all", "ECOTRACE_GPUS").unwrap();
    assert_eq!(
        selected(&select(&d, Some(&all), Scope::Process, &env(&[]))),
        [0, 1, 2]
    );
    let bad = GpuRequest::parse("7,1", "--gpus").unwrap();
    let sel = select(&d, Some(&bad), Scope::Process, &env(&[]));
    assert_eq!(selected(&sel), [1]);
    assert_eq!(sel.unmatched, ["7"]);
}

#[test]
fn a_selected_gpu_is_charged_without_a_context_and_the_others_are_not_measured() {
    let f = FakeRoot::new();
    let fake = FakeGpuBackend::new(vec![
        FakeGpu::with_counter("A", 0, 0).uuid("GPU-aa"),
        FakeGpu::with_counter("B", 0, 0).uuid("GPU-bb"),
    ]);
    let devs = vec![nv(0, "GPU-aa"), nv(1, "GPU-bb")];
    let sel = select(
        &devs,
        None,
        Scope::Process,
        &env(&[("CUDA_VISIBLE_DEVICES", "1")]),
    );
    let mut s = GpuSensor::with_charging(Box::new(fake.clone()), charging(&f, sel, None));
    assert_eq!(s.devices(), &["gpu1"]);
    assert_eq!(s.excluded(), &["gpu0 A"]);
    fake.add_energy_mj(0, 5_000_000);
    fake.add_energy_mj(1, 1_000_000);
    close(&read(&mut s, &tick(Scope::Process, &[10])), &[1000.0]);
    assert!(
        s.note(0)
            .contains("given to the run by CUDA_VISIBLE_DEVICES=1"),
        "{}",
        s.note(0)
    );
}

#[test]
fn discovery_applies_the_variables_and_says_why() {
    let f = FakeRoot::new();
    let fake = FakeGpuBackend::new(vec![
        FakeGpu::with_counter("A", 0, 0).uuid("GPU-aa"),
        FakeGpu::with_counter("B", 0, 0).uuid("GPU-bb"),
        FakeGpu::with_counter("C", 0, 0).uuid("GPU-cc"),
    ]);
    let mut c = cfg(Scope::Process);
    c.gpu_env = BTreeMap::from([("CUDA_VISIBLE_DEVICES".to_string(), "2,0".to_string())]);
    let d = discover(&f, c, Some(fake), None);
    let g = d
        .sensors
        .iter()
        .find(|s| s.component() == ComponentKind::Gpu)
        .unwrap();
    assert_eq!(g.devices(), &["gpu0", "gpu2"]);
    let sel = diag(&d, "gpus");
    assert!(sel.ok);
    assert_eq!(
        sel.detail,
        "gpu0 = GPU-aa, gpu1 = GPU-bb, gpu2 = GPU-cc; gpu0, gpu2 given to the run by \
         CUDA_VISIBLE_DEVICES=2,0; gpu1 not charged"
    );
    assert!(diag(&d, "nvml")
        .detail
        .contains("not given to the run: gpu1 B"));

    // A --gpus entry that names no GPU: the row says so and how to fix it.
    let mut c = cfg(Scope::Process);
    c.gpus = Some(GpuRequest::parse("GPU-zz", "--gpus").unwrap());
    let fake = FakeGpuBackend::new(vec![FakeGpu::with_counter("A", 0, 0).uuid("GPU-aa")]);
    let d = discover(&f, c, Some(fake), None);
    let sel = diag(&d, "gpus");
    assert!(
        !sel.ok && sel.detail.contains("GPU-zz names no GPU here"),
        "{sel:?}"
    );
}

// ---------------------------------------------------------------- MIG

/// An A100 in MIG mode: 7 slices, instances 3g (3 slices), 2g (2), 1g (1).
fn mig_gpu() -> FakeGpu {
    let inst = |uuid: &str, slices| MigInstance {
        uuid: uuid.to_string(),
        slices,
        pids: Vec::new(),
    };
    FakeGpu {
        mig: Some(MigLayout {
            total_slices: 7,
            instances: vec![inst("MIG-3g", 3), inst("MIG-2g", 2), inst("MIG-1g", 1)],
        }),
        ..FakeGpu::with_counter("NVIDIA A100-SXM4-40GB", 0, 0).uuid("GPU-a100")
    }
}

#[test]
fn a_run_on_a_mig_instance_is_charged_its_share_of_the_slices() {
    let f = FakeRoot::new();
    let fake = FakeGpuBackend::new(vec![mig_gpu()]);
    let mut s = GpuSensor::with_charging(
        Box::new(fake.clone()),
        charging(&f, Selection::default(), None),
    );
    fake.set_mig_pids(0, 0, &[10]); // the run, on the 3g instance
    fake.set_mig_pids(0, 1, &[99]); // someone else, on the 2g instance: isolated, no split
    fake.add_energy_mj(0, 7_000_000); // 7 kJ for the whole GPU
    close(&read(&mut s, &tick(Scope::Process, &[10])), &[3000.0]);
    // It takes the 1g instance too: 4 of 7 slices.
    fake.set_mig_pids(0, 2, &[11]);
    fake.add_energy_mj(0, 7_000_000);
    close(&read(&mut s, &tick(Scope::Process, &[10, 11])), &[4000.0]);
    let f = s.figures(0);
    assert_eq!(f["mig_slices"], 4.0);
    assert_eq!(f["mig_total_slices"], 7.0);
    let note = s.note(0);
    assert!(
        note.contains("MIG: charged the parent GPU's energy × the share of its 7 slices"),
        "{note}"
    );
    assert!(note.contains("not shared with other workloads"), "{note}");
}

#[test]
fn a_mig_instance_given_by_uuid_is_charged_without_a_context() {
    let f = FakeRoot::new();
    let fake = FakeGpuBackend::new(vec![mig_gpu()]);
    let devs = vec![DeviceIdent {
        mig_uuids: vec!["MIG-3g".into(), "MIG-2g".into(), "MIG-1g".into()],
        ..nv(0, "GPU-a100")
    }];
    let sel = select(
        &devs,
        None,
        Scope::Process,
        &env(&[("CUDA_VISIBLE_DEVICES", "MIG-2g")]),
    );
    assert_eq!(
        sel.decision(0),
        &Decision::Selected {
            mig: vec!["MIG-2g".into()]
        }
    );
    let mut s = GpuSensor::with_charging(Box::new(fake.clone()), charging(&f, sel, None));
    fake.add_energy_mj(0, 7_000_000);
    close(&read(&mut s, &tick(Scope::Process, &[10])), &[2000.0]);
    assert!(s
        .note(0)
        .contains("MIG instance MIG-2g given to the run by CUDA_VISIBLE_DEVICES=MIG-2g"));
    // Two workloads on one instance split it.
    fake.set_mig_pids(0, 1, &[10, 99]);
    fake.add_energy_mj(0, 7_000_000);
    close(&read(&mut s, &tick(Scope::Process, &[10])), &[1000.0]);
}

// ---------------------------------------------------------------- shared GPUs

#[test]
fn a_shared_gpu_is_split_by_utilization_where_the_driver_gives_it() {
    let f = FakeRoot::new();
    let fake = FakeGpuBackend::new(vec![FakeGpu::with_counter("H100", 0, 0)]);
    let mut s = GpuSensor::with_charging(
        Box::new(fake.clone()),
        charging(&f, Selection::default(), None),
    );
    fake.set_pids(0, &[10, 20, 30]);
    fake.set_utilization(0, Some(&[(10, 60), (20, 15), (30, 5)]));
    fake.add_energy_mj(0, 1_000_000);
    close(&read(&mut s, &tick(Scope::Process, &[10])), &[750.0]);
    // No utilization samples this interval: equal shares among the workloads instead.
    fake.set_utilization(0, Some(&[]));
    fake.add_energy_mj(0, 900_000);
    close(&read(&mut s, &tick(Scope::Process, &[10])), &[300.0]);
    let note = s.note(0);
    assert!(
        note.contains("by per-process SM utilization (NVML) for 50%"),
        "{note}"
    );
    assert!(
        note.contains("in equal shares among the workloads holding a context (up to 3"),
        "{note}"
    );
    let fig = s.figures(0);
    assert_eq!(fig["shared_fraction"], 1.0);
    assert!((fig["charged_share_mean"] - (0.75 + 1.0 / 3.0) / 2.0).abs() < 1e-9);
}

#[test]
fn other_processes_are_grouped_by_cgroup_for_equal_shares() {
    let f = FakeRoot::new();
    // Two ranks of one other job (same cgroup) and a third process elsewhere.
    f.write(
        "proc/20/cgroup",
        "0::/system.slice/slurmstepd.scope/job_77\n",
    );
    f.write(
        "proc/21/cgroup",
        "0::/system.slice/slurmstepd.scope/job_77\n",
    );
    f.write("proc/30/cgroup", "0::/user.slice/user-1000.slice\n");
    let fake = FakeGpuBackend::new(vec![FakeGpu::with_counter("H100", 0, 0)]);
    let mut s = GpuSensor::with_charging(
        Box::new(fake.clone()),
        charging(&f, Selection::default(), None),
    );
    fake.set_pids(0, &[10, 20, 21]);
    fake.add_energy_mj(0, 1_000_000);
    close(&read(&mut s, &tick(Scope::Process, &[10])), &[500.0]);
    fake.set_pids(0, &[10, 20, 21, 30]);
    fake.add_energy_mj(0, 900_000);
    close(&read(&mut s, &tick(Scope::Process, &[10])), &[300.0]);
    assert_eq!(s.figures(0)["workloads_max"], 3.0);
}

// ---------------------------------------------------------------- containers

/// A container: its procfs (`proc`, our namespace) and the host's (`host/proc`) where our
/// processes 1 and 12 are 50100 and 50123.
fn container() -> FakeRoot {
    let f = FakeRoot::new();
    let ns = "pid:[4026532999]";
    std::fs::create_dir_all(f.dir.path().join("proc/self/ns")).unwrap();
    std::os::unix::fs::symlink(ns, f.dir.path().join("proc/self/ns/pid")).unwrap();
    for (host, ours) in [(50100, 1), (50123, 12)] {
        f.write(
            &format!("host/proc/{host}/status"),
            &format!("Name:\tpython\nPid:\t{host}\nNSpid:\t{host}\t{ours}\n"),
        );
        std::fs::create_dir_all(f.dir.path().join(format!("host/proc/{host}/ns"))).unwrap();
        std::os::unix::fs::symlink(ns, f.dir.path().join(format!("host/proc/{host}/ns/pid")))
            .unwrap();
    }
    // Another container's process 12 (same inner pid, other namespace), and a host process.
    f.write("host/proc/61012/status", "NSpid:\t61012\t12\n");
    std::fs::create_dir_all(f.dir.path().join("host/proc/61012/ns")).unwrap();
    std::os::unix::fs::symlink(
        "pid:[4026533111]",
        f.dir.path().join("host/proc/61012/ns/pid"),
    )
    .unwrap();
    f.write("host/proc/1/status", "NSpid:\t1\n");
    f
}

#[test]
fn host_pids_are_mapped_into_the_container_through_nspid() {
    let f = container();
    let h = HostPids::new(&f.roots(), Some(f.dir.path().join("host/proc")));
    assert!(matches!(h.namespace(), PidNamespace::Own(_)));
    assert_eq!(h.to_ours(50123), Some(12));
    assert_eq!(h.to_ours(61012), None, "another namespace's 12");
    assert_eq!(h.to_ours(1), None, "a host process");
    assert_eq!(h.to_ours(4), None, "no such process");

    // The driver reports 50123 and 61012; the run's tree is (12) in the container.
    let fake = FakeGpuBackend::new(vec![FakeGpu::with_counter("A100", 0, 0)]);
    let mut s = GpuSensor::with_charging(
        Box::new(fake.clone()),
        charging(&f, Selection::default(), Some("host/proc")),
    );
    fake.set_pids(0, &[50123]);
    fake.add_energy_mj(0, 1_000_000);
    close(&read(&mut s, &tick(Scope::Process, &[12])), &[1000.0]);
    // Without the host's procfs, nothing matches: not charged.
    let mut s = GpuSensor::with_charging(
        Box::new(fake.clone()),
        charging(&f, Selection::default(), None),
    );
    fake.add_energy_mj(0, 1_000_000);
    close(&read(&mut s, &tick(Scope::Process, &[12])), &[0.0]);
}

#[test]
fn doctor_says_when_container_pids_cannot_be_mapped_and_what_to_do() {
    let f = container();
    let fake = || FakeGpuBackend::new(vec![FakeGpu::with_counter("A100", 0, 0)]);
    let d = discover(&f, cfg(Scope::Process), Some(fake()), None);
    let p = diag(&d, "pid-namespace");
    assert!(!p.ok, "{p:?}");
    assert!(p.detail.contains("cannot be matched"), "{}", p.detail);
    let fix = p.fix.as_deref().unwrap();
    assert!(
        fix.contains("-v /proc:/host/proc:ro") && fix.contains("ECOTRACE_HOST_PROCFS_ROOT"),
        "{fix}"
    );
    assert!(fix.contains("--pid=host"), "{fix}");

    let mut c = cfg(Scope::Process);
    c.host_procfs = Some(f.dir.path().join("host/proc"));
    let d = discover(&f, c, Some(fake()), None);
    let p = diag(&d, "pid-namespace");
    assert!(
        p.ok && p.detail.contains("matched to this container's processes"),
        "{p:?}"
    );
}

// ---------------------------------------------------------------- helpers

fn cfg(scope: Scope) -> SensorConfig {
    SensorConfig {
        scope,
        cpu_power: None,
        ram_power: None,
        nvml_library: Some("none".into()),
        cpu_lookup: None,
        amdsmi_library: Some("none".into()),
        gpus: None,
        gpu_env: BTreeMap::new(),
        host_procfs: None,
    }
}

fn discover(
    f: &FakeRoot,
    c: SensorConfig,
    nv: Option<FakeGpuBackend>,
    amd: Option<FakeGpuBackend>,
) -> Discovery {
    let roots: Roots = f.roots();
    discover_with(
        &c,
        &roots,
        Probes {
            gpu: nv.map(|b| Box::new(b) as _),
            amd: amd.map(|b| Box::new(b) as _),
            ..Probes::default()
        },
    )
}

fn diag<'a>(d: &'a Discovery, sensor: &str) -> &'a Diagnostic {
    d.diagnostics
        .iter()
        .find(|x| x.sensor == sensor)
        .unwrap_or_else(|| panic!("no {sensor} diagnostic in {:?}", d.diagnostics))
}
