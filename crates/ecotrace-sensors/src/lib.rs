//! ecotrace-sensors: everything that reads hardware counters or OS statistics, and the meter that
//! samples them.
//!
//! Every path under /sys and /proc is read relative to a [`Roots`] value, so tests point the whole
//! crate at a fake tree. NVML is loaded at run time; its absence is not an error. This crate must not
//! touch the ledger, format reports, or read configuration files.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use ecotrace_core::{ComponentKind, Energy, Method, Scope};

pub mod amdsmi;
pub mod cpu_model;
pub mod discover;
pub mod gpu;
pub mod gpu_select;
pub mod meter;
pub mod pidns;
pub mod procfs;
pub mod ram;
pub mod rapl;
pub mod scrape;

/// Where /sys and /proc live. Tests replace them with fake trees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    pub sysfs: PathBuf,
    pub procfs: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Roots {
            sysfs: PathBuf::from("/sys"),
            procfs: PathBuf::from("/proc"),
        }
    }
}

impl Roots {
    /// `/sys` and `/proc`, unless `ECOTRACE_SYSFS_ROOT` / `ECOTRACE_PROCFS_ROOT` say otherwise.
    pub fn from_env() -> Self {
        let get = |k: &str, d: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(d))
        };
        Roots {
            sysfs: get("ECOTRACE_SYSFS_ROOT", "/sys"),
            procfs: get("ECOTRACE_PROCFS_ROOT", "/proc"),
        }
    }
}

/// What the meter tells every sensor each interval, so that a sensor can attribute the machine's
/// energy to the tracked work.
#[derive(Debug, Clone, Copy)]
pub struct Tick<'a> {
    /// Length of the interval just ended.
    pub dt: Duration,
    pub scope: Scope,
    /// Machine CPU utilisation over the interval, 0..=1 (busy / total CPU time from /proc/stat).
    pub machine_util: f64,
    /// Share of the machine's busy CPU time used by the tracked process tree over the interval,
    /// 0..=1. Always 1 in machine scope.
    pub cpu_share: f64,
    /// Memory charged: resident memory of the process tree (process scope) or used memory of the
    /// machine (machine scope), in bytes.
    pub charged_memory_bytes: u64,
    /// Memory in use on the whole machine (MemTotal - MemAvailable), in bytes.
    pub used_memory_bytes: u64,
    /// PIDs of the tracked process tree (empty in machine scope).
    pub pids: &'a [u32],
}

impl Tick<'_> {
    /// The share of the machine's CPU energy charged to the tracked work: 1 in machine scope, the
    /// tree's share of busy CPU time in process scope (clamped to 0..=1).
    pub fn charged_cpu_share(&self) -> f64 {
        match self.scope {
            Scope::Machine => 1.0,
            Scope::Process => clamp01(self.cpu_share),
        }
    }

    /// The share of the machine's memory energy charged: 1 in machine scope, charged / used
    /// memory in process scope (clamped to 0..=1; 0 when used memory is unknown).
    pub fn charged_memory_share(&self) -> f64 {
        match self.scope {
            Scope::Machine => 1.0,
            Scope::Process if self.used_memory_bytes == 0 => 0.0,
            Scope::Process => {
                clamp01(self.charged_memory_bytes as f64 / self.used_memory_bytes as f64)
            }
        }
    }
}

/// `x` clamped to 0..=1; anything not a number counts as 0.
pub(crate) fn clamp01(x: f64) -> f64 {
    if x.is_finite() {
        x.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// One source of energy readings for one kind of component (all RAPL packages, all GPUs, ...).
pub trait Sensor: Send {
    fn component(&self) -> ComponentKind;
    /// How device `device`'s energy is obtained (GPUs may differ: counter on one, power on another).
    fn method(&self, device: usize) -> Method;
    /// The devices this sensor reports, in a stable order. `read` fills one energy per device.
    fn devices(&self) -> &[String];
    /// Fills `out[i]` with the energy attributed to the tracked work on device `i` over the
    /// interval since the previous call (the constructor takes the first reading). Never negative.
    fn read(&mut self, tick: &Tick<'_>, out: &mut [Energy]) -> Result<(), SensorError>;
    /// The figures the method used (e.g. `tdp_w`, `idle_w`, `w_per_gb`), for the run record.
    fn figures(&self, device: usize) -> BTreeMap<String, f64>;
    /// One line saying how the figures were obtained and from which source.
    fn note(&self, device: usize) -> String;
}

/// One line of `ecotrace doctor`: whether a sensor works here, and if not why and how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// Short sensor name: `rapl`, `cpu-model`, `ram-model`, `nvml`, `procfs`.
    pub sensor: &'static str,
    pub ok: bool,
    pub detail: String,
    /// What the user can do about it, when something is missing.
    pub fix: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SensorError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("unexpected content in {path}: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("NVML error: {0}")]
    Nvml(String),
}
