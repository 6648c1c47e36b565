//! The GPU sensor with the fake backend, and NVML loading when there is no library.

use std::path::Path;
use std::time::Duration;

use ecotrace_core::{ComponentKind, Energy, Method, Scope};
use ecotrace_sensors::gpu::{
    FakeGpu, FakeGpuBackend, GpuBackend, GpuSensor, NvmlBackend, NvmlLibrary, NvmlLoadError,
};
use ecotrace_sensors::Sensor;

mod common;
use common::{close, gpu_tick as tick, read_gpu as read};

#[test]
fn counter_where_there_is_one_else_power() {
    let fake = FakeGpuBackend::new(vec![
        FakeGpu::with_counter("NVIDIA A100-SXM4-80GB", 5_000_000, 300_000),
        FakeGpu::power_only("Tesla P100", 100_000),
    ]);
    let mut s = GpuSensor::new(Box::new(fake.clone()));
    assert_eq!(s.component(), ComponentKind::Gpu);
    assert_eq!(s.devices(), &["gpu0", "gpu1"]);
    assert_eq!(s.method(0), Method::NvmlCounter);
    assert_eq!(s.method(1), Method::NvmlPower);
    assert_eq!(s.names(), vec!["NVIDIA A100-SXM4-80GB", "Tesla P100"]);

    fake.add_energy_mj(0, 600_000); // 600 J
    fake.set_power_mw(1, Some(200_000)); // 100 W -> 200 W: mean 150 W over 2 s
    close(&read(&mut s, &tick(Scope::Machine, &[])), &[600.0, 300.0]);
    // Counter unchanged: zero. Power steady at 200 W.
    close(&read(&mut s, &tick(Scope::Machine, &[])), &[0.0, 400.0]);
    assert!((s.figures(0)["device_energy_j"] - 600.0).abs() < 1e-9);
    assert!(s.note(0).contains("NVML total energy counter"));
    assert!(s.note(1).contains("power readings"));
}

#[test]
fn process_scope_charges_only_the_gpus_the_tree_uses() {
    let fake = FakeGpuBackend::new(vec![
        FakeGpu::with_counter("gpu a", 0, 0),
        FakeGpu::with_counter("gpu b", 0, 0),
    ]);
    let mut s = GpuSensor::new(Box::new(fake.clone()));
    let tree = [10, 11];
    fake.set_pids(0, &[10, 4242]);
    fake.set_pids(1, &[99]); // someone else's job
    fake.add_energy_mj(0, 1_000_000);
    fake.add_energy_mj(1, 2_000_000);
    // gpu a is shared with pid 4242 (another workload): half each, as NVML gives no utilization.
    close(&read(&mut s, &tick(Scope::Process, &tree)), &[500.0, 0.0]);

    // The tree starts using gpu b during the next interval: charged, shared with pid 99.
    fake.set_pids(1, &[99, 11]);
    fake.add_energy_mj(1, 500_000);
    close(&read(&mut s, &tick(Scope::Process, &tree)), &[0.0, 250.0]);
    // It lets go of gpu b during the next: still charged (it had a context at the start).
    fake.set_pids(1, &[99]);
    fake.add_energy_mj(1, 300_000);
    close(&read(&mut s, &tick(Scope::Process, &tree)), &[0.0, 150.0]);
    // Then not any more.
    fake.add_energy_mj(1, 700_000);
    close(&read(&mut s, &tick(Scope::Process, &tree)), &[0.0, 0.0]);

    // Machine scope charges everything.
    fake.add_energy_mj(1, 100_000);
    close(&read(&mut s, &tick(Scope::Machine, &[])), &[0.0, 100.0]);

    // The whole device's energy is kept as a figure, and the share of time it was charged.
    let f = s.figures(1);
    assert!((f["device_energy_j"] - 3600.0).abs() < 1e-9);
    assert!((f["in_use_fraction"] - 3.0 / 5.0).abs() < 1e-9);
    assert!(s.note(1).contains("in equal shares"), "{}", s.note(1));
}

#[test]
fn a_failed_counter_read_loses_nothing() {
    let fake = FakeGpuBackend::new(vec![FakeGpu::with_counter("g", 1_000, 0)]);
    let mut s = GpuSensor::new(Box::new(fake.clone()));
    fake.update(0, |g| g.energy_mj = None);
    close(&read(&mut s, &tick(Scope::Machine, &[])), &[0.0]);
    fake.update(0, |g| g.energy_mj = Some(51_000));
    close(&read(&mut s, &tick(Scope::Machine, &[])), &[50.0]);
    assert_eq!(s.figures(0)["failed_reads"], 1.0);
}

#[test]
fn a_gpu_without_energy_or_power_is_skipped() {
    let fake = FakeGpuBackend::new(vec![
        FakeGpu {
            name: "mute".into(),
            energy_mj: None,
            power_mw: None,
            ..FakeGpu::default()
        },
        FakeGpu::power_only("ok", 50_000),
    ]);
    let s = GpuSensor::new(Box::new(fake));
    assert_eq!(s.devices(), &["gpu1"]);
    assert_eq!(s.skipped(), &["gpu0 mute"]);
    assert_eq!(s.names().len(), 2);
}

#[test]
fn the_fake_backend_answers_like_nvml() {
    let fake = FakeGpuBackend::new(vec![FakeGpu::with_counter("g", 7, 8)]);
    assert_eq!(fake.device_count(), 1);
    assert_eq!(fake.total_energy_mj(0), Some(7));
    assert_eq!(fake.power_mw(0), Some(8));
    assert_eq!(fake.total_energy_mj(3), None);
    assert!(fake.pids(3).is_empty());
}

#[test]
fn nvml_absent_is_a_clear_error_not_a_panic() {
    match NvmlBackend::load(&NvmlLibrary::Disabled) {
        Err(NvmlLoadError::Disabled) => {}
        other => panic!("{:?}", other.err()),
    }
    let missing = NvmlLibrary::Path("/nonexistent/libnvidia-ml.so.1".into());
    match NvmlBackend::load(&missing) {
        Err(e @ NvmlLoadError::NotFound { .. }) => {
            let m = e.to_string();
            assert!(m.contains("NVML not found"), "{m}");
            assert!(
                m.contains("ECOTRACE_NVML_LIBRARY=/path/libnvidia-ml.so.1"),
                "{m}"
            );
        }
        other => panic!("{:?}", other.err()),
    }
    // A file that is not a shared library at all.
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("libnvidia-ml.so.1");
    std::fs::write(&bogus, "not an ELF file").unwrap();
    assert!(matches!(
        NvmlBackend::load(&NvmlLibrary::Path(bogus)),
        Err(NvmlLoadError::NotFound { .. })
    ));
}

#[test]
fn library_choice() {
    // A configured value wins over the environment (which this test leaves alone).
    assert_eq!(
        NvmlLibrary::resolve(Some(Path::new("none"))),
        NvmlLibrary::Disabled
    );
    assert_eq!(
        NvmlLibrary::resolve(Some(Path::new("NONE"))),
        NvmlLibrary::Disabled
    );
    assert_eq!(
        NvmlLibrary::resolve(Some(Path::new("/opt/nv/libnvidia-ml.so.1"))),
        NvmlLibrary::Path("/opt/nv/libnvidia-ml.so.1".into())
    );
}

/// On a machine with an NVIDIA driver (a GPU CI runner), the real backend lists the GPUs and
/// reads them; elsewhere NVML is simply not found. Never fails for lack of a GPU.
#[test]
fn real_nvml_when_present() {
    let lib = NvmlLibrary::resolve(None);
    let backend = match NvmlBackend::load(&lib) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("no NVML here ({e}); skipping the real-GPU checks");
            return;
        }
    };
    let n = backend.device_count();
    for i in 0..n {
        assert!(!backend.name(i).is_empty());
        assert!(
            backend.total_energy_mj(i).is_some() || backend.power_mw(i).is_some(),
            "GPU {i} reports neither energy nor power"
        );
        let _ = backend.pids(i);
    }
    let mut s = GpuSensor::new(Box::new(backend));
    std::thread::sleep(Duration::from_millis(200));
    let mut out = vec![Energy::ZERO; s.devices().len()];
    s.read(&tick(Scope::Machine, &[]), &mut out).unwrap();
    assert!(out.iter().all(|e| e.is_finite() && e.joules() >= 0.0));
    eprintln!("{n} GPUs: {:?}", s.describe());
}
