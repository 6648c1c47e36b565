//! GPU energy: NVIDIA GPUs through NVML, loaded at run time (the `nvml-wrapper` crate dlopens
//! `libnvidia-ml.so.1`), AMD GPUs through AMD SMI ([`crate::amdsmi`]), both behind the small
//! [`GpuBackend`] trait so that the sensor and the meter can be tested with [`FakeGpuBackend`].
//!
//! Per device, the energy over an interval is the delta of the driver's total energy counter
//! (`nvmlDeviceGetTotalEnergyConsumption`, Volta and newer: [`Method::NvmlCounter`];
//! `amdsmi_get_energy_count`: [`Method::AmdSmiCounter`]), or, on GPUs without one, the mean of
//! the power readings at both ends × the interval ([`Method::NvmlPower`], [`Method::AmdSmiPower`]).
//!
//! Which GPUs, and how much of each, a run is charged ([`GpuCharging`]):
//! - the GPUs given to the run ([`crate::gpu_select`]: `--gpus`, else the runtimes' visible-device
//!   variables) are charged for every interval; GPUs not given are not measured; without a
//!   selection, in process scope a GPU is charged for an interval when a process of the tracked
//!   tree had a context on it at the start or the end of the interval; in machine scope every GPU;
//! - a GPU in MIG mode is charged the parent GPU's energy × the share of its slices held by the
//!   instances the run uses (NVML gives no energy or power per MIG instance);
//! - a GPU (or MIG instance) on which other workloads hold contexts too is split: by per-process
//!   SM utilization where the driver gives it (NVML), else equally among the workloads (other
//!   processes grouped by cgroup); the split rule is in the component's note;
//! - the drivers report host PIDs: in a container with its own PID namespace they are mapped to
//!   the container's through `NSpid` ([`crate::pidns`]).
//!
//! No library, or no GPU, is not an error: the component is simply absent and discovery reports
//! why. `ECOTRACE_NVML_LIBRARY` names the NVML library to load (`none` disables NVML). This module
//! only reads: it never changes a GPU setting (clocks, power limits, persistence mode, MIG).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ecotrace_core::{ComponentKind, Energy, Method, Power, Scope};

pub use crate::gpu_select::GpuVendor;
use crate::gpu_select::{Decision, Selection};
use crate::pidns::HostPids;
use crate::{Roots, Sensor, SensorError, Tick};

/// Environment variable naming the NVML library to load; `none` disables NVML.
pub const NVML_ENV: &str = "ECOTRACE_NVML_LIBRARY";

/// A GPU in MIG mode: its slices and instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigLayout {
    /// Slices of the whole GPU (7 on an A100 or H100).
    pub total_slices: u32,
    pub instances: Vec<MigInstance>,
}

/// One MIG instance (a MIG device, in NVML's words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigInstance {
    /// `MIG-…`, as `CUDA_VISIBLE_DEVICES` names it.
    pub uuid: String,
    /// GPU slices the instance holds (its profile: 1 for `1g.10gb`, 3 for `3g.40gb`, ...).
    pub slices: u32,
    /// Host pids with a context on the instance.
    pub pids: Vec<u32>,
}

/// What discovery reads GPUs through. Indexes are the driver's device indexes, `0..device_count()`.
pub trait GpuBackend: Send {
    /// Whose driver this is (NVIDIA unless said otherwise).
    fn vendor(&self) -> GpuVendor {
        GpuVendor::Nvidia
    }
    fn device_count(&self) -> usize;
    fn name(&self, i: usize) -> String;
    /// Energy since the driver was loaded, in mJ; None where the GPU has no counter (pre-Volta)
    /// or the read failed.
    fn total_energy_mj(&self, i: usize) -> Option<u64>;
    /// Current power draw in mW; None where unsupported or the read failed.
    fn power_mw(&self, i: usize) -> Option<u64>;
    /// Pids with a compute or graphics context on the GPU (host pids, as the driver sees them).
    fn pids(&self, i: usize) -> Vec<u32>;
    /// The GPU's UUID (`GPU-…`), where the driver gives it.
    fn uuid(&self, _i: usize) -> Option<String> {
        None
    }
    /// The MIG layout, when the GPU is in MIG mode.
    fn mig(&self, _i: usize) -> Option<MigLayout> {
        None
    }
    /// Per pid, its SM (compute) utilization summed over the driver's samples since the previous
    /// call; None where the driver does not give per-process utilization.
    fn process_utilization(&self, _i: usize) -> Option<Vec<(u32, u32)>> {
        None
    }
}

/// Which NVML library to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NvmlLibrary {
    /// `none`: do not use NVML.
    Disabled,
    /// The default name, `libnvidia-ml.so.1`, found by the dynamic loader.
    Default,
    /// A path given by the user.
    Path(PathBuf),
}

impl NvmlLibrary {
    /// From a configured path (wins) or [`NVML_ENV`]; `none` (any case) disables NVML.
    pub fn resolve(configured: Option<&Path>) -> Self {
        match choose_library(configured, NVML_ENV) {
            None => NvmlLibrary::Default,
            Some(None) => NvmlLibrary::Disabled,
            Some(Some(p)) => NvmlLibrary::Path(p),
        }
    }
}

/// The library a configured path (wins) or environment variable names: None when neither says
/// (the default library), `Some(None)` for `none` (any case: disabled), else the path.
pub(crate) fn choose_library(configured: Option<&Path>, env: &str) -> Option<Option<PathBuf>> {
    let chosen = configured
        .map(|p| p.as_os_str().to_os_string())
        .or_else(|| std::env::var_os(env).filter(|v| !v.is_empty()))?;
    if chosen
        .to_str()
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("none"))
    {
        return Some(None);
    }
    Some(Some(PathBuf::from(chosen)))
}

/// Why NVML could not be used. Each message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum NvmlLoadError {
    #[error("NVML disabled ({NVML_ENV}=none)")]
    Disabled,
    #[error(
        "NVML not found ({lib}: {detail}): no NVIDIA driver, or set \
         {NVML_ENV}=/path/libnvidia-ml.so.1"
    )]
    NotFound { lib: String, detail: String },
    #[error(
        "NVML found ({lib}) but could not start: {detail}; check that the NVIDIA driver is loaded \
         (`nvidia-smi` works) and that this user may use the GPU"
    )]
    Init { lib: String, detail: String },
}

/// The real backend: NVML through `nvml-wrapper`.
pub struct NvmlBackend {
    nvml: nvml_wrapper::Nvml,
    names: Vec<String>,
    /// Per device, the driver timestamp of the last utilization sample read.
    last_util: Mutex<Vec<u64>>,
}

impl NvmlBackend {
    /// Loads NVML and lists the GPUs (zero GPUs is not an error here).
    pub fn load(lib: &NvmlLibrary) -> Result<Self, NvmlLoadError> {
        use nvml_wrapper::error::NvmlError;
        let (nvml, lib_name) = match lib {
            NvmlLibrary::Disabled => return Err(NvmlLoadError::Disabled),
            NvmlLibrary::Default => (nvml_wrapper::Nvml::init(), "libnvidia-ml.so.1".to_string()),
            NvmlLibrary::Path(p) => (
                nvml_wrapper::Nvml::builder()
                    .lib_path(OsStr::new(p.as_os_str()))
                    .init(),
                p.display().to_string(),
            ),
        };
        let nvml = nvml.map_err(|e| match e {
            NvmlError::LibloadingError(e) => NvmlLoadError::NotFound {
                lib: lib_name.clone(),
                detail: e.to_string(),
            },
            NvmlError::FailedToLoadSymbol(s) => NvmlLoadError::NotFound {
                lib: lib_name.clone(),
                detail: format!("not an NVML library (missing {s})"),
            },
            other => NvmlLoadError::Init {
                lib: lib_name.clone(),
                detail: other.to_string(),
            },
        })?;
        let count = nvml.device_count().unwrap_or(0) as usize;
        let names: Vec<String> = (0..count)
            .map(|i| {
                nvml.device_by_index(i as u32)
                    .and_then(|d| d.name())
                    .unwrap_or_else(|_| format!("NVIDIA GPU {i}"))
            })
            .collect();
        let last_util = Mutex::new(vec![0; names.len()]);
        Ok(NvmlBackend {
            nvml,
            names,
            last_util,
        })
    }

    fn device(&self, i: usize) -> Option<nvml_wrapper::Device<'_>> {
        self.nvml.device_by_index(u32::try_from(i).ok()?).ok()
    }
}

impl GpuBackend for NvmlBackend {
    fn device_count(&self) -> usize {
        self.names.len()
    }
    fn name(&self, i: usize) -> String {
        self.names.get(i).cloned().unwrap_or_default()
    }
    fn total_energy_mj(&self, i: usize) -> Option<u64> {
        self.device(i)?.total_energy_consumption().ok()
    }
    fn power_mw(&self, i: usize) -> Option<u64> {
        self.device(i)?.power_usage().ok().map(u64::from)
    }
    fn pids(&self, i: usize) -> Vec<u32> {
        let Some(d) = self.device(i) else {
            return Vec::new();
        };
        let compute = d
            .running_compute_processes()
            .or_else(|_| d.running_compute_processes_v2())
            .unwrap_or_default();
        let graphics = d
            .running_graphics_processes()
            .or_else(|_| d.running_graphics_processes_v2())
            .unwrap_or_default();
        let mut pids: Vec<u32> = compute.iter().chain(&graphics).map(|p| p.pid).collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }
    fn uuid(&self, i: usize) -> Option<String> {
        self.device(i)?.uuid().ok()
    }
    fn mig(&self, i: usize) -> Option<MigLayout> {
        let d = self.device(i)?;
        if d.mig_mode().ok()?.current != 1 {
            return None;
        }
        let max = d.mig_device_count().ok()?;
        let mut instances = Vec::new();
        for m in 0..max {
            // Slots without an instance answer NotFound.
            let Ok(md) = d.mig_device_by_index(m) else {
                continue;
            };
            let Ok(uuid) = md.uuid() else { continue };
            let slices = md.attributes().map_or(0, |a| a.gpu_instance_slice_count);
            let mut pids: Vec<u32> = md
                .running_compute_processes()
                .unwrap_or_default()
                .iter()
                .map(|p| p.pid)
                .collect();
            pids.sort_unstable();
            pids.dedup();
            instances.push(MigInstance { uuid, slices, pids });
        }
        Some(MigLayout {
            total_slices: max,
            instances,
        })
    }
    fn process_utilization(&self, i: usize) -> Option<Vec<(u32, u32)>> {
        let d = self.device(i)?;
        let mut last = self.last_util.lock().unwrap_or_else(|e| e.into_inner());
        let since = last.get(i).copied().unwrap_or(0);
        let samples = d.process_utilization_stats(since).ok()?;
        let mut per_pid: BTreeMap<u32, u32> = BTreeMap::new();
        for s in &samples {
            *per_pid.entry(s.pid).or_default() += s.sm_util;
            if let Some(t) = last.get_mut(i) {
                *t = (*t).max(s.timestamp);
            }
        }
        Some(per_pid.into_iter().collect())
    }
}

/// One scripted GPU of [`FakeGpuBackend`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FakeGpu {
    pub name: String,
    pub energy_mj: Option<u64>,
    pub power_mw: Option<u64>,
    pub pids: Vec<u32>,
    pub uuid: Option<String>,
    pub mig: Option<MigLayout>,
    /// Per-process SM utilization the driver reports; None: not supported.
    pub utilization: Option<Vec<(u32, u32)>>,
}

impl FakeGpu {
    /// A Volta-or-newer GPU: energy counter and power.
    pub fn with_counter(name: &str, energy_mj: u64, power_mw: u64) -> Self {
        FakeGpu {
            name: name.to_string(),
            energy_mj: Some(energy_mj),
            power_mw: Some(power_mw),
            ..FakeGpu::default()
        }
    }
    /// An older GPU: power only.
    pub fn power_only(name: &str, power_mw: u64) -> Self {
        FakeGpu {
            name: name.to_string(),
            energy_mj: None,
            power_mw: Some(power_mw),
            ..FakeGpu::default()
        }
    }
    /// With a UUID.
    pub fn uuid(mut self, uuid: &str) -> Self {
        self.uuid = Some(uuid.to_string());
        self
    }
}

/// A scriptable backend for tests (the sensor's and the meter's). Clones share their GPUs, so a
/// test keeps one clone to change readings while the sensor owns another.
#[derive(Debug, Clone)]
pub struct FakeGpuBackend {
    gpus: Arc<Mutex<Vec<FakeGpu>>>,
    vendor: GpuVendor,
}

impl Default for FakeGpuBackend {
    fn default() -> Self {
        FakeGpuBackend::new(Vec::new())
    }
}

impl FakeGpuBackend {
    /// NVIDIA GPUs, as NVML would show them.
    pub fn new(gpus: Vec<FakeGpu>) -> Self {
        FakeGpuBackend {
            gpus: Arc::new(Mutex::new(gpus)),
            vendor: GpuVendor::Nvidia,
        }
    }
    /// AMD GPUs, as AMD SMI would show them (energy in mJ after the counter's resolution).
    pub fn amd(gpus: Vec<FakeGpu>) -> Self {
        FakeGpuBackend {
            gpus: Arc::new(Mutex::new(gpus)),
            vendor: GpuVendor::Amd,
        }
    }
    /// Changes GPU `i` (panics if there is none: a test bug).
    pub fn update(&self, i: usize, f: impl FnOnce(&mut FakeGpu)) {
        let mut g = self.gpus.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g[i]);
    }
    /// Advances GPU `i`'s energy counter by `mj`.
    pub fn add_energy_mj(&self, i: usize, mj: u64) {
        self.update(i, |g| g.energy_mj = g.energy_mj.map(|e| e + mj));
    }
    pub fn set_power_mw(&self, i: usize, mw: Option<u64>) {
        self.update(i, |g| g.power_mw = mw);
    }
    pub fn set_pids(&self, i: usize, pids: &[u32]) {
        self.update(i, |g| g.pids = pids.to_vec());
    }
    /// Sets the pids of MIG instance `m` of GPU `i` (and adds them to the GPU's own list).
    pub fn set_mig_pids(&self, i: usize, m: usize, pids: &[u32]) {
        self.update(i, |g| {
            if let Some(l) = g.mig.as_mut() {
                l.instances[m].pids = pids.to_vec();
                let mut all: Vec<u32> = l.instances.iter().flat_map(|x| x.pids.clone()).collect();
                all.sort_unstable();
                all.dedup();
                g.pids = all;
            }
        });
    }
    pub fn set_utilization(&self, i: usize, util: Option<&[(u32, u32)]>) {
        self.update(i, |g| g.utilization = util.map(<[_]>::to_vec));
    }
    fn with<T>(&self, i: usize, f: impl FnOnce(&FakeGpu) -> T) -> Option<T> {
        let g = self.gpus.lock().unwrap_or_else(|e| e.into_inner());
        g.get(i).map(f)
    }
}

impl GpuBackend for FakeGpuBackend {
    fn vendor(&self) -> GpuVendor {
        self.vendor
    }
    fn device_count(&self) -> usize {
        self.gpus.lock().map(|g| g.len()).unwrap_or(0)
    }
    fn name(&self, i: usize) -> String {
        self.with(i, |g| g.name.clone()).unwrap_or_default()
    }
    fn total_energy_mj(&self, i: usize) -> Option<u64> {
        self.with(i, |g| g.energy_mj).flatten()
    }
    fn power_mw(&self, i: usize) -> Option<u64> {
        self.with(i, |g| g.power_mw).flatten()
    }
    fn pids(&self, i: usize) -> Vec<u32> {
        self.with(i, |g| g.pids.clone()).unwrap_or_default()
    }
    fn uuid(&self, i: usize) -> Option<String> {
        self.with(i, |g| g.uuid.clone()).flatten()
    }
    fn mig(&self, i: usize) -> Option<MigLayout> {
        self.with(i, |g| g.mig.clone()).flatten()
    }
    fn process_utilization(&self, i: usize) -> Option<Vec<(u32, u32)>> {
        self.with(i, |g| g.utilization.clone()).flatten()
    }
}

/// How a [`GpuSensor`] decides what it charges: its device numbers, the GPUs given to the run,
/// and how the drivers' host PIDs map to the run's.
#[derive(Debug, Clone, Default)]
pub struct GpuCharging {
    /// ecotrace's number of the backend's device 0: devices are named `gpu<base + index>`
    /// (NVIDIA GPUs first, then AMD GPUs).
    pub base: usize,
    /// Which GPUs were given to the run (by `global` number); empty: by context.
    pub selection: Selection,
    /// Maps host PIDs to this PID namespace's; None: the drivers' PIDs are compared as they are.
    pub host_pids: Option<HostPids>,
    /// For grouping other workloads by cgroup.
    pub roots: Roots,
}

/// How an interval's charge of a shared GPU was split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rule {
    /// No other workload held a context: the whole GPU (or instance).
    Whole,
    /// Equal shares among this many workloads.
    Equal(usize),
    /// By per-process SM utilization.
    Utilization,
}

/// Per-device state of [`GpuSensor`].
#[derive(Debug, Clone)]
struct Dev {
    index: usize,
    /// The driver device whose energy (or power) is read for this one: itself, or, for a die of
    /// a card that reports on one die only (see [`shared_readings`]), that die.
    read_index: usize,
    /// How many devices share the reading at `read_index` (1: its own): each is charged
    /// `1 / dies` of it.
    dies: usize,
    global: usize,
    name: String,
    method: Method,
    decision: Decision,
    prev_energy_mj: Option<u64>,
    prev_power_mw: Option<u64>,
    /// Whether the tree held a context at the previous read.
    in_use: bool,
    /// MIG instances the tree held a context on at the previous read.
    mig_in_use: Vec<String>,
    measured: Energy,
    charged_secs: f64,
    /// Σ share × seconds over the charged intervals.
    share_secs: f64,
    equal_secs: f64,
    util_secs: f64,
    max_workloads: usize,
    /// (slices, total slices) of the last interval charged through MIG.
    mig_share: Option<(f64, u32)>,
    failed_reads: u64,
}

/// GPU energy from a [`GpuBackend`]. Devices are named `gpu<number>` ([`GpuCharging::base`] +
/// the driver's index).
pub struct GpuSensor {
    backend: Box<dyn GpuBackend>,
    charging: GpuCharging,
    devices: Vec<String>,
    devs: Vec<Dev>,
    /// GPUs that have neither an energy counter nor a power reading: not measured.
    skipped: Vec<String>,
    /// GPUs not given to the run: not measured.
    excluded: Vec<String>,
    secs: f64,
    /// The scope of the last read.
    scope: Option<Scope>,
}

impl GpuSensor {
    /// Every GPU of `backend`, numbered from 0, charged by context in process scope.
    pub fn new(backend: Box<dyn GpuBackend>) -> Self {
        Self::with_charging(backend, GpuCharging::default())
    }

    /// Takes the first reading of every GPU given to the run. A GPU with an energy counter uses
    /// it; one with only power uses power × time; one with neither is skipped (see
    /// [`GpuSensor::skipped`]).
    pub fn with_charging(backend: Box<dyn GpuBackend>, charging: GpuCharging) -> Self {
        let mut devices = Vec::new();
        let mut devs = Vec::new();
        let mut skipped = Vec::new();
        let mut excluded = Vec::new();
        let amd = backend.vendor() == GpuVendor::Amd;
        let shared = shared_readings(backend.as_ref());
        for i in 0..backend.device_count() {
            let global = charging.base + i;
            let name = backend.name(i);
            let decision = charging.selection.decision(global).clone();
            if decision == Decision::Excluded {
                excluded.push(format!("gpu{global} {name}"));
                continue;
            }
            let (read_index, dies) = shared.get(i).copied().flatten().unwrap_or((i, 1));
            let energy = backend.total_energy_mj(read_index);
            let power = backend.power_mw(read_index);
            let method = match (energy, power, amd) {
                (Some(_), _, false) => Method::NvmlCounter,
                (None, Some(_), false) => Method::NvmlPower,
                (Some(_), _, true) => Method::AmdSmiCounter,
                (None, Some(_), true) => Method::AmdSmiPower,
                (None, None, _) => {
                    skipped.push(format!("gpu{global} {name}"));
                    continue;
                }
            };
            devices.push(format!("gpu{global}"));
            devs.push(Dev {
                index: i,
                read_index,
                dies,
                global,
                name,
                method,
                decision,
                prev_energy_mj: energy,
                prev_power_mw: power,
                in_use: false,
                mig_in_use: Vec::new(),
                measured: Energy::ZERO,
                charged_secs: 0.0,
                share_secs: 0.0,
                equal_secs: 0.0,
                util_secs: 0.0,
                max_workloads: 1,
                mig_share: None,
                failed_reads: 0,
            });
        }
        GpuSensor {
            backend,
            charging,
            devices,
            devs,
            skipped,
            excluded,
            secs: 0.0,
            scope: None,
        }
    }

    /// GPUs not measured (no counter, no power reading), as `gpuN name`.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// GPUs not given to the run, as `gpuN name`.
    pub fn excluded(&self) -> &[String] {
        &self.excluded
    }

    /// `gpuN name (method)` per measured GPU, for the diagnostic.
    pub fn describe(&self) -> Vec<String> {
        self.devs
            .iter()
            .map(|d| {
                format!(
                    "gpu{} {} ({})",
                    d.global,
                    d.name,
                    match d.method {
                        Method::NvmlCounter | Method::AmdSmiCounter => "energy counter",
                        _ => "power × time",
                    }
                )
            })
            .collect()
    }

    /// The GPU names, one per driver device (measured or not).
    pub fn names(&self) -> Vec<String> {
        (0..self.backend.device_count())
            .map(|i| self.backend.name(i))
            .collect()
    }

    /// The energy the device's driver reports for the interval just ended (its share of it, for a
    /// die of a card that reports on one die only).
    fn measure(backend: &dyn GpuBackend, d: &mut Dev, dt: std::time::Duration) -> Energy {
        let whole = Self::measure_reading(backend, d, dt);
        if d.dies > 1 {
            whole * (1.0 / d.dies as f64)
        } else {
            whole
        }
    }

    fn measure_reading(backend: &dyn GpuBackend, d: &mut Dev, dt: std::time::Duration) -> Energy {
        match d.method {
            Method::NvmlCounter | Method::AmdSmiCounter => {
                match backend.total_energy_mj(d.read_index) {
                    Some(now) => {
                        let prev = d.prev_energy_mj.unwrap_or(now);
                        // The counter only resets with the driver: count what it shows since.
                        let mj = if now >= prev { now - prev } else { now };
                        d.prev_energy_mj = Some(now);
                        Energy::from_millijoules(mj)
                    }
                    None => {
                        // Keep the previous reading: the next success covers this interval too.
                        d.failed_reads += 1;
                        Energy::ZERO
                    }
                }
            }
            _ => {
                let now = backend.power_mw(d.read_index);
                if now.is_none() {
                    d.failed_reads += 1;
                }
                let mw = match (d.prev_power_mw, now) {
                    (Some(a), Some(b)) => (a + b) as f64 / 2.0,
                    (Some(a), None) => a as f64,
                    (None, Some(b)) => b as f64,
                    (None, None) => 0.0,
                };
                if now.is_some() {
                    d.prev_power_mw = now;
                }
                Power::from_watts(mw / 1000.0) * dt
            }
        }
    }
}

/// Cards whose driver lists each die as a device but reports the card's power and energy on one
/// die only: an MI250/MI250X (two CDNA2 dies, `devices_per_card` 2 in the catalog). The amdgpu
/// driver gives the package's socket power and energy accumulator on the primary die and 0 on the
/// other ("valid power data is available only from primary die", `aldebaran_get_gpu_metrics`).
/// Per device: `Some((the die that reports, dies per card))` when it is such a die, else None.
///
/// The dies of a card are consecutive devices of the same name, in the driver's order (AMD SMI
/// lists a card's two dies one after the other). In each group, the die that reports is the one
/// with a non-zero energy or power reading (the first when none has one yet); when every die of
/// the group reports, each is read on its own (a driver that reports per die).
fn shared_readings(backend: &dyn GpuBackend) -> Vec<Option<(usize, usize)>> {
    let n = backend.device_count();
    let mut out = vec![None; n];
    if backend.vendor() != GpuVendor::Amd {
        return out;
    }
    let names: Vec<String> = (0..n).map(|i| backend.name(i)).collect();
    let per_card = |name: &str| {
        ecotrace_data::accelerator_for_device(name).map_or(1, |a| a.devices_per_card as usize)
    };
    let mut i = 0;
    while i < n {
        let k = per_card(&names[i]);
        let run = names[i..].iter().take_while(|m| **m == names[i]).count();
        if k > 1 {
            for group in (i..i + run).collect::<Vec<_>>().chunks_exact(k) {
                let reports: Vec<usize> = group
                    .iter()
                    .copied()
                    .filter(|&j| {
                        backend.total_energy_mj(j).unwrap_or(0) > 0
                            || backend.power_mw(j).unwrap_or(0) > 0
                    })
                    .collect();
                if reports.len() == k {
                    continue;
                }
                let primary = reports.first().copied().unwrap_or(group[0]);
                for &j in group {
                    out[j] = Some((primary, k));
                }
            }
        }
        i += run.max(1);
    }
    out
}

/// Whether a host pid the driver reports is one of the tracked tree's.
fn is_ours(pid: u32, tree: &[u32], map: Option<&HostPids>) -> bool {
    tree.contains(&pid)
        || map
            .and_then(|m| m.to_ours(pid))
            .is_some_and(|p| tree.contains(&p))
}

/// The run's share of a GPU (or MIG instance) on which `ours` and `others` hold contexts.
fn split(
    ours: &[u32],
    others: &[u32],
    util: Option<&[(u32, u32)]>,
    key: &dyn Fn(u32) -> String,
) -> (f64, Rule) {
    if others.is_empty() {
        return (1.0, Rule::Whole);
    }
    if let Some(util) = util {
        let of = |p: &u32| -> f64 {
            util.iter()
                .filter(|(q, _)| q == p)
                .map(|(_, u)| f64::from(*u))
                .sum()
        };
        let mine: f64 = ours.iter().map(of).sum();
        let theirs: f64 = others.iter().map(of).sum();
        if mine + theirs > 0.0 {
            return (mine / (mine + theirs), Rule::Utilization);
        }
    }
    let workloads: std::collections::BTreeSet<String> = others.iter().map(|p| key(*p)).collect();
    let n = 1 + workloads.len();
    (1.0 / n as f64, Rule::Equal(n))
}

/// The run's share of device `d` for this interval in process scope (None: not charged), and
/// the split rule used.
fn process_share(
    backend: &dyn GpuBackend,
    charging: &GpuCharging,
    d: &mut Dev,
    tree: &[u32],
) -> Option<(f64, Rule)> {
    let map = charging.host_pids.as_ref();
    let roots = &charging.roots;
    let key = |p: u32| match map {
        Some(m) => m.workload_key(roots, p),
        None => match std::fs::read_to_string(roots.procfs.join(format!("{p}/cgroup"))) {
            Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
            _ => format!("pid {p}"),
        },
    };
    let (selected, selected_mig): (bool, &[String]) = match &d.decision {
        Decision::Selected { mig } => (true, mig),
        _ => (false, &[]),
    };
    let mig = backend
        .mig(d.index)
        .filter(|l| l.total_slices > 0 && !(selected && selected_mig.is_empty()));
    let mut util: Option<Option<Vec<(u32, u32)>>> = None;
    let mut util_for = |backend: &dyn GpuBackend| -> Option<Vec<(u32, u32)>> {
        util.get_or_insert_with(|| backend.process_utilization(d.index))
            .clone()
    };
    if let Some(layout) = mig {
        let mut slices = 0.0;
        let mut used_now = Vec::new();
        let mut rule = Rule::Whole;
        for inst in &layout.instances {
            let (ours, others): (Vec<u32>, Vec<u32>) =
                inst.pids.iter().partition(|p| is_ours(**p, tree, map));
            if !ours.is_empty() {
                used_now.push(inst.uuid.clone());
            }
            let on = selected_mig.contains(&inst.uuid)
                || !ours.is_empty()
                || d.mig_in_use.contains(&inst.uuid);
            if on {
                let u = if others.is_empty() {
                    None
                } else {
                    util_for(backend)
                };
                let (s, r) = split(&ours, &others, u.as_deref(), &key);
                slices += f64::from(inst.slices) * s;
                rule = rule.max(r);
            }
        }
        d.mig_in_use = used_now;
        if slices <= 0.0 {
            return None;
        }
        d.mig_share = Some((slices, layout.total_slices));
        return Some((slices / f64::from(layout.total_slices), rule));
    }
    let (ours, others): (Vec<u32>, Vec<u32>) = backend
        .pids(d.index)
        .into_iter()
        .partition(|p| is_ours(*p, tree, map));
    let in_use_now = !ours.is_empty();
    let charged = selected || in_use_now || d.in_use;
    d.in_use = in_use_now;
    if !charged {
        return None;
    }
    let u = if others.is_empty() {
        None
    } else {
        util_for(backend)
    };
    Some(split(&ours, &others, u.as_deref(), &key))
}

impl Sensor for GpuSensor {
    fn component(&self) -> ComponentKind {
        ComponentKind::Gpu
    }
    fn method(&self, device: usize) -> Method {
        self.devs
            .get(device)
            .map_or(Method::NvmlPower, |d| d.method)
    }
    fn devices(&self) -> &[String] {
        &self.devices
    }
    fn read(&mut self, tick: &Tick<'_>, out: &mut [Energy]) -> Result<(), SensorError> {
        let secs = tick.dt.as_secs_f64();
        self.secs += secs;
        self.scope = Some(tick.scope);
        let backend = self.backend.as_ref();
        for (d, o) in self.devs.iter_mut().zip(out.iter_mut()) {
            let share = match tick.scope {
                Scope::Machine => Some((1.0, Rule::Whole)),
                Scope::Process => process_share(backend, &self.charging, d, tick.pids),
            };
            let e = Self::measure(backend, d, tick.dt);
            d.measured += e;
            *o = match share {
                Some((share, rule)) => {
                    let share = crate::clamp01(share);
                    d.charged_secs += secs;
                    d.share_secs += share * secs;
                    match rule {
                        Rule::Whole => {}
                        Rule::Equal(n) => {
                            d.equal_secs += secs;
                            d.max_workloads = d.max_workloads.max(n);
                        }
                        Rule::Utilization => d.util_secs += secs,
                    }
                    e * share
                }
                None => Energy::ZERO,
            };
        }
        Ok(())
    }
    fn figures(&self, device: usize) -> BTreeMap<String, f64> {
        let Some(d) = self.devs.get(device) else {
            return BTreeMap::new();
        };
        let frac = |x: f64, of: f64| if of > 0.0 { x / of } else { 0.0 };
        let mut f = BTreeMap::from([
            ("device_energy_j".to_string(), d.measured.joules()),
            (
                "in_use_fraction".to_string(),
                frac(d.charged_secs, self.secs),
            ),
            (
                "charged_share_mean".to_string(),
                frac(d.share_secs, d.charged_secs),
            ),
        ]);
        if let Some((slices, total)) = d.mig_share {
            f.insert("mig_slices".to_string(), slices);
            f.insert("mig_total_slices".to_string(), f64::from(total));
        }
        if d.equal_secs + d.util_secs > 0.0 {
            f.insert(
                "shared_fraction".to_string(),
                frac(d.equal_secs + d.util_secs, d.charged_secs),
            );
        }
        if d.equal_secs > 0.0 {
            f.insert("workloads_max".to_string(), d.max_workloads as f64);
        }
        if d.failed_reads > 0 {
            f.insert("failed_reads".to_string(), d.failed_reads as f64);
        }
        if d.dies > 1 {
            f.insert("card_dies".to_string(), d.dies as f64);
        }
        f
    }
    fn note(&self, device: usize) -> String {
        let Some(d) = self.devs.get(device) else {
            return String::new();
        };
        let how = match d.method {
            Method::NvmlCounter => "NVML total energy counter",
            Method::AmdSmiCounter => "AMD SMI energy accumulator",
            Method::AmdSmiPower => "AMD SMI power readings × time (no energy counter on this GPU)",
            _ => "NVML power readings × time (no energy counter on this GPU)",
        };
        let mut parts = vec![format!("{}: {how}", d.name)];
        if d.dies > 1 {
            parts.push(format!(
                "one of the {} dies of its card, whose driver reports the card's energy on one die \
                 only (gpu{}): each die is charged 1/{} of it",
                d.dies,
                self.charging.base + d.read_index,
                d.dies
            ));
        }
        let reasons = self.charging.selection.reasons.join(" and ");
        parts.push(match &d.decision {
            Decision::Selected { mig } if mig.is_empty() => {
                format!("given to the run by {reasons}: charged for the whole run")
            }
            Decision::Selected { mig } => format!(
                "MIG instance{} {} given to the run by {reasons}",
                if mig.len() == 1 { "" } else { "s" },
                mig.join(", "),
            ),
            _ if self.scope == Some(Scope::Machine) => "machine scope: charged whole".to_string(),
            _ => "charged while the tracked processes hold a context on it".to_string(),
        });
        if let Some((slices, total)) = d.mig_share {
            parts.push(format!(
                "MIG: charged the parent GPU's energy × the share of its {total} slices held by \
                 the run's instances ({} of {total} at the last charged interval); NVML gives no \
                 energy or power per instance",
                num(slices)
            ));
        }
        if d.equal_secs + d.util_secs > 0.0 {
            let pct = |x: f64| {
                if d.charged_secs > 0.0 {
                    100.0 * x / d.charged_secs
                } else {
                    0.0
                }
            };
            let mut how = Vec::new();
            if d.util_secs > 0.0 {
                how.push(format!(
                    "by per-process SM utilization (NVML) for {:.0}% of the charged time",
                    pct(d.util_secs)
                ));
            }
            if d.equal_secs > 0.0 {
                how.push(format!(
                    "in equal shares among the workloads holding a context (up to {}, other \
                     processes grouped by cgroup) for {:.0}%",
                    d.max_workloads,
                    pct(d.equal_secs)
                ));
            }
            parts.push(format!(
                "shared with other workloads: split {}",
                how.join(", ")
            ));
        } else {
            parts.push("not shared with other workloads".to_string());
        }
        parts.join("; ")
    }
}

/// A figure without trailing zeros (3, 2.5).
fn num(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
