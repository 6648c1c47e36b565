//! Sensor discovery: works out, once at start, which sensors this machine supports and builds
//! them, with one [`Diagnostic`] per sensor (`procfs`, `rapl`, `cpu-model`, `ram-model`, `nvml`)
//! saying what was found, what is used and how to fix what is missing (`ecotrace doctor` prints
//! them; `ecotrace run` records the failed ones as notes).
//!
//! Order of preference:
//! - CPU: an explicit `--cpu-power` wins over everything (the user asked; the `rapl` diagnostic
//!   says RAPL was not used because of it); else RAPL package counters if readable; else the CPU
//!   power model (CPU table row, or the per-core default).
//! - RAM: an explicit `--ram-power` wins; else RAPL dram counters if present and readable; else
//!   the RAM model.
//! - GPU: NVML if a library and at least one NVIDIA GPU are found; otherwise no GPU component.
//!
//! Discovery never fails: anything that cannot be read degrades to a model or an absent component,
//! with a diagnostic. It does not sample (the sensors take their first reading when built) and
//! does not print.

use std::path::PathBuf;
use std::sync::Arc;

use ecotrace_core::{Power, Scope};

use crate::cpu_model::{CpuBasis, CpuModelParams, CpuModelSensor, CpuSpec};
use crate::gpu::{GpuBackend, GpuSensor, NvmlBackend, NvmlLibrary, NvmlLoadError, NVML_ENV};
use crate::procfs::{self, CpuInfo};
use crate::ram::RamModelSensor;
use crate::rapl::{self, RaplCpuSensor, RaplRamSensor, RaplStatus, RealSysfs, SysfsRead};
use crate::{Diagnostic, Roots, Sensor};

/// Finds the CPU table row for a `/proc/cpuinfo` model name.
pub type CpuLookup = fn(&str) -> Option<CpuSpec>;

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct SensorConfig {
    pub scope: Scope,
    /// `--cpu-power W`: the machine's CPU power at full load. Wins over RAPL.
    pub cpu_power: Option<Power>,
    /// `--ram-power W`: the power of the machine's used memory. Wins over RAPL dram.
    pub ram_power: Option<Power>,
    /// NVML library to load; None: `ECOTRACE_NVML_LIBRARY`, else `libnvidia-ml.so.1`. A value of
    /// `none` disables NVML.
    pub nvml_library: Option<PathBuf>,
    /// CPU table lookup; None: every CPU is "unknown" (per-core default).
    pub cpu_lookup: Option<CpuLookup>,
}

impl SensorConfig {
    /// The bundled CPU table (`ecotrace_data::cpu_lookup`) and NVML from the environment.
    pub fn new(scope: Scope, cpu_power: Option<Power>, ram_power: Option<Power>) -> Self {
        SensorConfig {
            scope,
            cpu_power,
            ram_power,
            nvml_library: None,
            cpu_lookup: Some(ecotrace_data::cpu_lookup),
        }
    }
}

/// What discovery found and built.
pub struct Discovery {
    /// In order: the CPU sensor, the RAM sensor, the GPU sensor (if any).
    pub sensors: Vec<Box<dyn Sensor>>,
    /// One per sensor, in order: procfs, rapl, cpu-model, ram-model, nvml.
    pub diagnostics: Vec<Diagnostic>,
    pub cpu: CpuInfo,
    /// NVIDIA GPU names, one per NVML device (empty without NVML).
    pub gpus: Vec<String>,
}

/// Where discovery reads hardware through. The default reads the real sysfs and loads NVML as
/// configured; tests substitute a sysfs reader that fails like a non-root 5.10+ kernel, and a
/// fake GPU backend.
pub struct Probes {
    pub sysfs: Arc<dyn SysfsRead>,
    /// None: load NVML per [`SensorConfig::nvml_library`] / `ECOTRACE_NVML_LIBRARY`.
    pub gpu: Option<Box<dyn GpuBackend>>,
}

impl Default for Probes {
    fn default() -> Self {
        Probes {
            sysfs: Arc::new(RealSysfs),
            gpu: None,
        }
    }
}

/// Discovers the sensors of this machine.
pub fn discover(cfg: &SensorConfig, roots: &Roots) -> Discovery {
    discover_with(cfg, roots, Probes::default())
}

/// [`discover`], reading hardware through `probes`.
pub fn discover_with(cfg: &SensorConfig, roots: &Roots, probes: Probes) -> Discovery {
    let mut sensors: Vec<Box<dyn Sensor>> = Vec::new();

    // procfs: needed for utilisation, the process tree and memory.
    let (cpu, procfs_diag) = probe_procfs(roots);

    // RAPL.
    let rapl_probe = rapl::probe(roots, probes.sysfs.as_ref());
    let mut rapl_diag = rapl_probe.diagnostic;
    let rapl_unreadable = matches!(rapl_probe.status, RaplStatus::Unreadable { .. });
    let topo = match rapl_probe.status {
        RaplStatus::Ready(t) => Some(t),
        _ => None,
    };

    // CPU.
    let mut rapl_cpu_used = false;
    let mut rapl_cpu_error = None;
    if let (Some(t), None) = (&topo, cfg.cpu_power) {
        match RaplCpuSensor::new(t, Arc::clone(&probes.sysfs)) {
            Ok(s) => {
                sensors.push(Box::new(s));
                rapl_cpu_used = true;
            }
            Err(e) => rapl_cpu_error = Some(e.to_string()),
        }
    }
    let cpu_diag = if rapl_cpu_used {
        Diagnostic {
            sensor: "cpu-model",
            ok: true,
            detail: format!(
                "not needed: RAPL measures the CPU ({}, {} logical CPUs)",
                cpu.model_name, cpu.logical_cpus
            ),
            fix: None,
        }
    } else {
        let spec = match cfg.cpu_power {
            Some(_) => None,
            None => cfg.cpu_lookup.and_then(|f| f(&cpu.model_name)),
        };
        let params = CpuModelParams::new(&cpu, cfg.cpu_power, spec);
        let why = if cfg.cpu_power.is_some() {
            String::new()
        } else if let Some(e) = &rapl_cpu_error {
            format!("RAPL failed at start ({e}); ")
        } else if rapl_unreadable {
            "RAPL unreadable; ".to_string()
        } else {
            "no RAPL; ".to_string()
        };
        let fix = match params.basis {
            CpuBasis::Default => Some(format!(
                "'{}' is not in the CPU table: give the CPU's full-load power with --cpu-power W \
                 (e.g. its TDP × sockets) for a better estimate",
                cpu.model_name
            )),
            _ => None,
        };
        let d = Diagnostic {
            sensor: "cpu-model",
            ok: true,
            detail: format!(
                "{why}CPU power model: {} (max {:.1} W, idle {:.1} W)",
                params.note, params.max_w, params.idle_w
            ),
            fix,
        };
        sensors.push(Box::new(CpuModelSensor::new(params)));
        d
    };
    if let (Some(_), Some(p)) = (&topo, cfg.cpu_power) {
        rapl_diag.detail.push_str(&format!(
            "; readable, but not used for the CPU: --cpu-power {} W given (explicit figures win)",
            p.watts()
        ));
    }
    if let Some(e) = &rapl_cpu_error {
        rapl_diag.ok = false;
        rapl_diag
            .detail
            .push_str(&format!("; failed at start: {e}"));
    }

    // RAM.
    let mut ram_diag = None;
    if let Some(p) = cfg.ram_power {
        sensors.push(Box::new(RamModelSensor::user(p)));
        ram_diag = Some(Diagnostic {
            sensor: "ram-model",
            ok: true,
            detail: format!(
                "user-given {} W (--ram-power) for the machine's used memory",
                p.watts()
            ),
            fix: None,
        });
        if topo.as_ref().is_some_and(|t| t.has_dram()) {
            rapl_diag.detail.push_str(&format!(
                "; dram counters not used for the RAM: --ram-power {} W given",
                p.watts()
            ));
        }
    } else if let Some(t) = topo.as_ref().filter(|t| t.has_dram()) {
        match RaplRamSensor::new(t, Arc::clone(&probes.sysfs)) {
            Ok(Some(s)) => {
                let n = s.devices().len();
                sensors.push(Box::new(s));
                ram_diag = Some(Diagnostic {
                    sensor: "ram-model",
                    ok: true,
                    detail: format!(
                        "not needed: RAPL dram counters measure the RAM ({n} domain{})",
                        if n == 1 { "" } else { "s" }
                    ),
                    fix: None,
                });
            }
            Ok(None) => {}
            Err(e) => rapl_diag
                .detail
                .push_str(&format!("; dram counters failed at start: {e}")),
        }
    }
    let ram_diag = match ram_diag {
        Some(d) => d,
        None => {
            sensors.push(Box::new(RamModelSensor::model()));
            Diagnostic {
                sensor: "ram-model",
                ok: true,
                detail: format!(
                    "RAM model: {} W per GB of memory charged (no RAPL dram counter)",
                    crate::ram::W_PER_GB
                ),
                fix: Some(
                    "give the power of the machine's used memory with --ram-power W for a \
                     measured figure"
                        .to_string(),
                ),
            }
        }
    };

    // GPU.
    let backend: Result<Box<dyn GpuBackend>, NvmlLoadError> = match probes.gpu {
        Some(b) => Ok(b),
        None => NvmlBackend::load(&NvmlLibrary::resolve(cfg.nvml_library.as_deref()))
            .map(|b| Box::new(b) as Box<dyn GpuBackend>),
    };
    let mut gpus = Vec::new();
    let nvml_diag = match backend {
        Err(NvmlLoadError::Disabled) => Diagnostic {
            sensor: "nvml",
            ok: false,
            detail: format!("NVML disabled ({NVML_ENV}=none): NVIDIA GPUs are not measured"),
            fix: Some(format!("unset {NVML_ENV} to measure NVIDIA GPUs")),
        },
        Err(e @ NvmlLoadError::NotFound { .. }) => Diagnostic {
            sensor: "nvml",
            ok: false,
            detail: e.to_string(),
            fix: Some(format!(
                "nothing to do if this machine has no NVIDIA GPU; otherwise install the NVIDIA \
                 driver, or set {NVML_ENV}=/path/libnvidia-ml.so.1"
            )),
        },
        Err(e) => Diagnostic {
            sensor: "nvml",
            ok: false,
            detail: e.to_string(),
            fix: Some(
                "check `nvidia-smi`; inside a container, run it with the NVIDIA runtime \
                 (`--gpus all`)"
                    .to_string(),
            ),
        },
        Ok(b) if b.device_count() == 0 => Diagnostic {
            sensor: "nvml",
            ok: true,
            detail: "NVML loaded; no NVIDIA GPU found".to_string(),
            fix: None,
        },
        Ok(b) => {
            let s = GpuSensor::new(b);
            gpus = s.names();
            let described = s.describe();
            let mut detail = format!(
                "{} GPU{}: {}",
                gpus.len(),
                if gpus.len() == 1 { "" } else { "s" },
                described.join(", ")
            );
            let ok = !described.is_empty();
            if !s.skipped().is_empty() {
                detail.push_str(&format!(
                    "; not measured (no energy counter, no power reading): {}",
                    s.skipped().join(", ")
                ));
            }
            if cfg.scope == Scope::Process {
                detail.push_str(
                    "; process scope: a GPU is charged while the tracked processes have a context \
                     on it",
                );
            }
            if !s.devices().is_empty() {
                sensors.push(Box::new(s));
            }
            Diagnostic {
                sensor: "nvml",
                ok,
                detail,
                fix: (!ok).then(|| {
                    "this GPU reports neither energy nor power through NVML; its energy is not \
                     counted"
                        .to_string()
                }),
            }
        }
    };

    Discovery {
        sensors,
        diagnostics: vec![procfs_diag, rapl_diag, cpu_diag, ram_diag, nvml_diag],
        cpu,
        gpus,
    }
}

fn probe_procfs(roots: &Roots) -> (CpuInfo, Diagnostic) {
    let mut problems = Vec::new();
    let cpu = match procfs::read_cpuinfo(roots) {
        Ok(c) => c,
        Err(e) => {
            problems.push(e.to_string());
            CpuInfo {
                model_name: "unknown".to_string(),
                logical_cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
                sockets: 1,
                physical_cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
                virtualized: false,
            }
        }
    };
    let mem = procfs::read_meminfo(roots).map_err(|e| problems.push(e.to_string()));
    let _ = procfs::read_cpu_times(roots).map_err(|e| problems.push(e.to_string()));
    let mut detail = format!(
        "{}: {} logical CPUs ({} cores, {} socket{}{})",
        cpu.model_name,
        cpu.logical_cpus,
        cpu.physical_cores,
        cpu.sockets,
        if cpu.sockets == 1 { "" } else { "s" },
        if cpu.virtualized {
            ", virtual machine"
        } else {
            ""
        }
    );
    if let Ok(m) = mem {
        detail.push_str(&format!(
            ", {:.1} GiB memory",
            m.total_bytes as f64 / (1u64 << 30) as f64
        ));
    }
    detail.push_str(&format!(", clock {} Hz", procfs::clock_ticks_per_sec()));
    let ok = problems.is_empty();
    if !ok {
        detail.push_str(&format!("; {}", problems.join("; ")));
    }
    (
        cpu,
        Diagnostic {
            sensor: "procfs",
            ok,
            detail,
            fix: (!ok).then(|| {
                "ecotrace needs Linux /proc for CPU utilisation, the process tree and memory: \
                 set ECOTRACE_PROCFS_ROOT if it is mounted elsewhere"
                    .to_string()
            }),
        },
    )
}
