//! NVIDIA GPU energy through NVML, loaded at run time (the `nvml-wrapper` crate dlopens
//! `libnvidia-ml.so.1`), behind the small [`GpuBackend`] trait so that the sensor and the meter can
//! be tested with [`FakeGpuBackend`].
//!
//! Per device, the energy over an interval is the delta of NVML's total energy counter
//! (`nvmlDeviceGetTotalEnergyConsumption`, Volta and newer: [`Method::NvmlCounter`]), or, on
//! GPUs without one, the mean of the power readings at both ends × the interval
//! ([`Method::NvmlPower`]).
//!
//! Attribution: in machine scope every GPU is charged. In process scope a GPU is charged the
//! whole device's energy for an interval when a process of the tracked tree had a context on it
//! (compute or graphics) at the start or the end of the interval; other GPUs are not charged. A GPU
//! shared with other users' jobs is charged whole; NVML gives no per-process energy.
//!
//! No NVML library, or no GPU, is not an error: the component is simply absent and discovery
//! reports why. `ECOTRACE_NVML_LIBRARY` names the library to load (`none` disables NVML). This
//! module only reads: it never changes a GPU setting (clocks, power limits, persistence mode).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ecotrace_core::{ComponentKind, Energy, Method, Power, Scope};

use crate::{Sensor, SensorError, Tick};

/// Environment variable naming the NVML library to load; `none` disables NVML.
pub const NVML_ENV: &str = "ECOTRACE_NVML_LIBRARY";

/// What discovery reads GPUs through. Indexes are NVML device indexes, `0..device_count()`.
pub trait GpuBackend: Send {
    fn device_count(&self) -> usize;
    fn name(&self, i: usize) -> String;
    /// Energy since the driver was loaded, in mJ; None where the GPU has no counter (pre-Volta)
    /// or the read failed.
    fn total_energy_mj(&self, i: usize) -> Option<u64>;
    /// Current power draw in mW; None where unsupported or the read failed.
    fn power_mw(&self, i: usize) -> Option<u64>;
    /// Pids with a compute or graphics context on the GPU (host pids, as the driver sees them).
    fn pids(&self, i: usize) -> Vec<u32>;
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
        let from_env = std::env::var_os(NVML_ENV).filter(|v| !v.is_empty());
        let chosen = configured
            .map(|p| p.as_os_str().to_os_string())
            .or(from_env);
        match chosen {
            None => NvmlLibrary::Default,
            Some(v)
                if v.to_str()
                    .is_some_and(|s| s.trim().eq_ignore_ascii_case("none")) =>
            {
                NvmlLibrary::Disabled
            }
            Some(v) => NvmlLibrary::Path(PathBuf::from(v)),
        }
    }
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
        let names = (0..count)
            .map(|i| {
                nvml.device_by_index(i as u32)
                    .and_then(|d| d.name())
                    .unwrap_or_else(|_| format!("NVIDIA GPU {i}"))
            })
            .collect();
        Ok(NvmlBackend { nvml, names })
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
}

/// One scripted GPU of [`FakeGpuBackend`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeGpu {
    pub name: String,
    pub energy_mj: Option<u64>,
    pub power_mw: Option<u64>,
    pub pids: Vec<u32>,
}

impl FakeGpu {
    /// A Volta-or-newer GPU: energy counter and power.
    pub fn with_counter(name: &str, energy_mj: u64, power_mw: u64) -> Self {
        FakeGpu {
            name: name.to_string(),
            energy_mj: Some(energy_mj),
            power_mw: Some(power_mw),
            pids: Vec::new(),
        }
    }
    /// An older GPU: power only.
    pub fn power_only(name: &str, power_mw: u64) -> Self {
        FakeGpu {
            name: name.to_string(),
            energy_mj: None,
            power_mw: Some(power_mw),
            pids: Vec::new(),
        }
    }
}

/// A scriptable backend for tests (the sensor's and the meter's). Clones share their GPUs, so a
/// test keeps one clone to change readings while the sensor owns another.
#[derive(Debug, Clone, Default)]
pub struct FakeGpuBackend {
    gpus: Arc<Mutex<Vec<FakeGpu>>>,
}

impl FakeGpuBackend {
    pub fn new(gpus: Vec<FakeGpu>) -> Self {
        FakeGpuBackend {
            gpus: Arc::new(Mutex::new(gpus)),
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
    fn with<T>(&self, i: usize, f: impl FnOnce(&FakeGpu) -> T) -> Option<T> {
        let g = self.gpus.lock().unwrap_or_else(|e| e.into_inner());
        g.get(i).map(f)
    }
}

impl GpuBackend for FakeGpuBackend {
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
}

/// Per-device state of [`GpuSensor`].
#[derive(Debug, Clone)]
struct Dev {
    index: usize,
    name: String,
    method: Method,
    prev_energy_mj: Option<u64>,
    prev_power_mw: Option<u64>,
    in_use: bool,
    measured: Energy,
    charged_secs: f64,
    failed_reads: u64,
}

/// GPU energy from a [`GpuBackend`]. Devices are named `gpu<NVML index>`.
pub struct GpuSensor {
    backend: Box<dyn GpuBackend>,
    devices: Vec<String>,
    devs: Vec<Dev>,
    /// GPUs that have neither an energy counter nor a power reading: not measured.
    skipped: Vec<String>,
    secs: f64,
}

impl GpuSensor {
    /// Takes the first reading of every GPU. A GPU with an energy counter uses it; one with only
    /// power uses power × time; one with neither is skipped (see [`GpuSensor::skipped`]).
    pub fn new(backend: Box<dyn GpuBackend>) -> Self {
        let mut devices = Vec::new();
        let mut devs = Vec::new();
        let mut skipped = Vec::new();
        for i in 0..backend.device_count() {
            let name = backend.name(i);
            let energy = backend.total_energy_mj(i);
            let power = backend.power_mw(i);
            let method = match (energy, power) {
                (Some(_), _) => Method::NvmlCounter,
                (None, Some(_)) => Method::NvmlPower,
                (None, None) => {
                    skipped.push(format!("gpu{i} {name}"));
                    continue;
                }
            };
            devices.push(format!("gpu{i}"));
            devs.push(Dev {
                index: i,
                name,
                method,
                prev_energy_mj: energy,
                prev_power_mw: power,
                in_use: false,
                measured: Energy::ZERO,
                charged_secs: 0.0,
                failed_reads: 0,
            });
        }
        GpuSensor {
            backend,
            devices,
            devs,
            skipped,
            secs: 0.0,
        }
    }

    /// GPUs not measured (no counter, no power reading), as `gpuN name`.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// `name (method)` per measured GPU, for the diagnostic.
    pub fn describe(&self) -> Vec<String> {
        self.devs
            .iter()
            .map(|d| {
                format!(
                    "gpu{} {} ({})",
                    d.index,
                    d.name,
                    match d.method {
                        Method::NvmlCounter => "energy counter",
                        _ => "power × time",
                    }
                )
            })
            .collect()
    }

    /// The GPU names, one per NVML device (measured or not).
    pub fn names(&self) -> Vec<String> {
        (0..self.backend.device_count())
            .map(|i| self.backend.name(i))
            .collect()
    }
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
        for (d, o) in self.devs.iter_mut().zip(out.iter_mut()) {
            let in_use_now = match tick.scope {
                Scope::Machine => true,
                Scope::Process => {
                    let pids = self.backend.pids(d.index);
                    pids.iter().any(|p| tick.pids.contains(p))
                }
            };
            let charged = in_use_now || d.in_use;
            d.in_use = in_use_now;

            let e = match d.method {
                Method::NvmlCounter => match self.backend.total_energy_mj(d.index) {
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
                },
                _ => {
                    let now = self.backend.power_mw(d.index);
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
                    Power::from_watts(mw / 1000.0) * tick.dt
                }
            };
            d.measured += e;
            if charged {
                d.charged_secs += secs;
                *o = e;
            } else {
                *o = Energy::ZERO;
            }
        }
        Ok(())
    }
    fn figures(&self, device: usize) -> BTreeMap<String, f64> {
        let Some(d) = self.devs.get(device) else {
            return BTreeMap::new();
        };
        let mut f = BTreeMap::from([
            ("device_energy_j".to_string(), d.measured.joules()),
            (
                "in_use_fraction".to_string(),
                if self.secs > 0.0 {
                    d.charged_secs / self.secs
                } else {
                    0.0
                },
            ),
        ]);
        if d.failed_reads > 0 {
            f.insert("failed_reads".to_string(), d.failed_reads as f64);
        }
        f
    }
    fn note(&self, device: usize) -> String {
        let Some(d) = self.devs.get(device) else {
            return String::new();
        };
        let how = match d.method {
            Method::NvmlCounter => "NVML total energy counter",
            _ => "NVML power readings × time (no energy counter on this GPU)",
        };
        format!(
            "{}: {how}; in process scope the whole GPU is charged while the tracked processes \
             have a context on it",
            d.name
        )
    }
}
