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
//! - GPU: NVML if a library and at least one NVIDIA GPU are found, AMD SMI if a library and at
//!   least one AMD GPU are; otherwise no GPU component. Which GPUs are charged: see
//!   [`crate::gpu_select`].
//!
//! Discovery never fails: anything that cannot be read degrades to a model or an absent component,
//! with a diagnostic. It does not sample (the sensors take their first reading when built) and
//! does not print.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use ecotrace_core::{Power, Scope};

use crate::amdsmi::{AmdSmiBackend, AmdSmiLibrary, AmdSmiLoadError, AMDSMI_ENV};
use crate::cpu_model::{CpuBasis, CpuModelParams, CpuModelSensor, CpuSpec};
use crate::gpu::{
    GpuBackend, GpuCharging, GpuSensor, NvmlBackend, NvmlLibrary, NvmlLoadError, NVML_ENV,
};
use crate::gpu_select::{select, DeviceIdent, GpuRequest, Selection, RUNTIME_VARS};
use crate::pidns::{HostPids, PidNamespace, HOST_PROCFS_ENV};
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
    /// AMD SMI library to load; None: `ECOTRACE_AMDSMI_LIBRARY`, else `libamd_smi.so`. `none`
    /// disables AMD SMI.
    pub amdsmi_library: Option<PathBuf>,
    /// `--gpus`: the GPUs given to the run; None: the runtime variables, else contexts.
    pub gpus: Option<GpuRequest>,
    /// The runtimes' visible-device variables that are set ([`RUNTIME_VARS`]), as the command
    /// will see them.
    pub gpu_env: BTreeMap<String, String>,
    /// Where the host's procfs is mounted, in a container ([`HOST_PROCFS_ENV`]).
    pub host_procfs: Option<PathBuf>,
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
            amdsmi_library: None,
            gpus: None,
            gpu_env: RUNTIME_VARS
                .iter()
                .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
                .collect(),
            host_procfs: HostPids::host_procfs_from_env(),
        }
    }
}

/// What discovery found and built.
pub struct Discovery {
    /// In order: the CPU sensor, the RAM sensor, the GPU sensor (if any).
    pub sensors: Vec<Box<dyn Sensor>>,
    /// One per sensor, in order: procfs, rapl, cpu-model, ram-model, nvml, amdsmi; then, when
    /// there are GPUs, gpus (which are charged and why) and pid-namespace (whether the drivers'
    /// PIDs can be matched to the run's).
    pub diagnostics: Vec<Diagnostic>,
    pub cpu: CpuInfo,
    /// GPU names, one per device: NVIDIA GPUs (NVML order), then AMD GPUs (AMD SMI order); the
    /// index is the `N` of `gpuN`.
    pub gpus: Vec<String>,
}

/// Where discovery reads hardware through. The default reads the real sysfs and loads NVML as
/// configured; tests substitute a sysfs reader that fails like a non-root 5.10+ kernel, and a
/// fake GPU backend.
pub struct Probes {
    pub sysfs: Arc<dyn SysfsRead>,
    /// None: load NVML per [`SensorConfig::nvml_library`] / `ECOTRACE_NVML_LIBRARY`.
    pub gpu: Option<Box<dyn GpuBackend>>,
    /// None: load AMD SMI per [`SensorConfig::amdsmi_library`] / `ECOTRACE_AMDSMI_LIBRARY`.
    pub amd: Option<Box<dyn GpuBackend>>,
}

impl Default for Probes {
    fn default() -> Self {
        Probes {
            sysfs: Arc::new(RealSysfs),
            gpu: None,
            amd: None,
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

    // GPUs: NVIDIA through NVML, AMD through AMD SMI; then which of them the run is charged.
    let nvml = match probes.gpu {
        Some(b) => Ok(b),
        None => NvmlBackend::load(&NvmlLibrary::resolve(cfg.nvml_library.as_deref()))
            .map(|b| Box::new(b) as Box<dyn GpuBackend>),
    };
    let amd = match probes.amd {
        Some(b) => Ok(b),
        None => AmdSmiBackend::load(
            &AmdSmiLibrary::resolve(cfg.amdsmi_library.as_deref()),
            roots,
        )
        .map(|b| Box::new(b) as Box<dyn GpuBackend>),
    };
    let (nvml, nvml_diag) = nvml_probe(nvml);
    let (amd, amd_diag) = amd_probe(amd);
    let mut vendors: Vec<(&'static str, Box<dyn GpuBackend>, usize)> = Vec::new();
    let mut base = 0;
    for (sensor, b) in [("nvml", nvml), ("amdsmi", amd)] {
        if let Some(b) = b {
            let n = b.device_count();
            vendors.push((sensor, b, base));
            base += n;
        }
    }
    let idents: Vec<DeviceIdent> = vendors
        .iter()
        .flat_map(|(_, b, base)| {
            (0..b.device_count()).map(move |i| DeviceIdent {
                vendor: b.vendor(),
                global: base + i,
                uuid: b.uuid(i),
                mig_uuids: b
                    .mig(i)
                    .map(|l| l.instances.into_iter().map(|m| m.uuid).collect())
                    .unwrap_or_default(),
            })
        })
        .collect();
    let env = |k: &str| cfg.gpu_env.get(k).cloned();
    let selection = select(&idents, cfg.gpus.as_ref(), cfg.scope, &env);
    let host_pids = HostPids::new(roots, cfg.host_procfs.clone());
    let mut gpus = Vec::new();
    let mut gpu_diags = vec![nvml_diag, amd_diag];
    for (sensor, b, base) in vendors {
        let s = GpuSensor::with_charging(
            b,
            GpuCharging {
                base,
                selection: selection.clone(),
                host_pids: Some(host_pids.clone()),
                roots: roots.clone(),
            },
        );
        let names = s.names();
        let described = s.describe();
        let mut detail = format!(
            "{} GPU{}: {}",
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            described.join(", ")
        );
        gpus.extend(names);
        let ok = !described.is_empty() || !s.excluded().is_empty();
        if !s.skipped().is_empty() {
            detail.push_str(&format!(
                "; not measured (no energy counter, no power reading): {}",
                s.skipped().join(", ")
            ));
        }
        if !s.excluded().is_empty() {
            detail.push_str(&format!(
                "; not given to the run: {}",
                s.excluded().join(", ")
            ));
        }
        if !s.devices().is_empty() {
            sensors.push(Box::new(s));
        }
        let d = Diagnostic {
            sensor,
            ok,
            detail,
            fix: (!ok).then(|| {
                format!(
                    "this GPU reports neither energy nor power through {}; its energy is not \
                     counted",
                    if sensor == "nvml" { "NVML" } else { "AMD SMI" }
                )
            }),
        };
        let slot = if sensor == "nvml" { 0 } else { 1 };
        gpu_diags[slot] = d;
    }
    if !idents.is_empty() {
        gpu_diags.push(selection_diag(&selection, &idents, cfg));
        gpu_diags.push(pid_namespace_diag(&host_pids));
    }

    Discovery {
        sensors,
        diagnostics: [procfs_diag, rapl_diag, cpu_diag, ram_diag]
            .into_iter()
            .chain(gpu_diags)
            .collect(),
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

/// The `nvml` diagnostic when NVML gave no GPU, or the backend when it did.
fn nvml_probe(
    r: Result<Box<dyn GpuBackend>, NvmlLoadError>,
) -> (Option<Box<dyn GpuBackend>>, Diagnostic) {
    let d = |ok: bool, detail: String, fix: Option<String>| Diagnostic {
        sensor: "nvml",
        ok,
        detail,
        fix,
    };
    match r {
        Err(NvmlLoadError::Disabled) => (
            None,
            d(
                false,
                format!("NVML disabled ({NVML_ENV}=none): NVIDIA GPUs are not measured"),
                Some(format!("unset {NVML_ENV} to measure NVIDIA GPUs")),
            ),
        ),
        Err(e @ NvmlLoadError::NotFound { .. }) => (
            None,
            d(
                false,
                e.to_string(),
                Some(format!(
                    "nothing to do if this machine has no NVIDIA GPU; otherwise install the \
                     NVIDIA driver, or set {NVML_ENV}=/path/libnvidia-ml.so.1"
                )),
            ),
        ),
        Err(e) => (
            None,
            d(
                false,
                e.to_string(),
                Some(
                    "check `nvidia-smi`; inside a container, run it with the NVIDIA runtime \
                     (`--gpus all`)"
                        .to_string(),
                ),
            ),
        ),
        Ok(b) if b.device_count() == 0 => (
            None,
            d(true, "NVML loaded; no NVIDIA GPU found".to_string(), None),
        ),
        Ok(b) => (Some(b), d(true, String::new(), None)),
    }
}

/// The `amdsmi` diagnostic when AMD SMI gave no GPU, or the backend when it did.
fn amd_probe(
    r: Result<Box<dyn GpuBackend>, AmdSmiLoadError>,
) -> (Option<Box<dyn GpuBackend>>, Diagnostic) {
    let d = |ok: bool, detail: String, fix: Option<String>| Diagnostic {
        sensor: "amdsmi",
        ok,
        detail,
        fix,
    };
    match r {
        Err(AmdSmiLoadError::Disabled) => (
            None,
            d(
                false,
                format!("AMD SMI disabled ({AMDSMI_ENV}=none): AMD GPUs are not measured"),
                Some(format!("unset {AMDSMI_ENV} to measure AMD GPUs")),
            ),
        ),
        Err(e @ AmdSmiLoadError::NotFound { .. }) => (
            None,
            d(
                false,
                e.to_string(),
                Some(format!(
                    "nothing to do if this machine has no AMD GPU; otherwise install ROCm's AMD \
                     SMI (package amd-smi-lib), or set {AMDSMI_ENV}=/opt/rocm/lib/libamd_smi.so"
                )),
            ),
        ),
        Err(e) => (
            None,
            d(
                false,
                e.to_string(),
                Some(
                    "check `amd-smi list`; inside a container, pass the GPUs in (`--device \
                     /dev/kfd --device /dev/dri`) and add the user to the video and render groups"
                        .to_string(),
                ),
            ),
        ),
        Ok(b) if b.device_count() == 0 => (
            None,
            d(true, "AMD SMI loaded; no AMD GPU found".to_string(), None),
        ),
        Ok(b) => (Some(b), d(true, String::new(), None)),
    }
}

/// The `gpus` diagnostic: each GPU's number and UUID, which are charged and why.
fn selection_diag(sel: &Selection, idents: &[DeviceIdent], cfg: &SensorConfig) -> Diagnostic {
    let ids: Vec<String> = idents
        .iter()
        .map(|d| match &d.uuid {
            Some(u) => format!("gpu{} = {u}", d.global),
            None => format!("gpu{}", d.global),
        })
        .collect();
    let ok = sel.unmatched.is_empty();
    let mut detail = format!("{}; {}", ids.join(", "), sel.describe(cfg.scope));
    if cfg.scope == crate::Scope::Machine && cfg.gpus.is_none() && !cfg.gpu_env.is_empty() {
        detail.push_str(&format!(
            "; {} ignored in machine scope (use --gpus to narrow it)",
            cfg.gpu_env.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if !ok {
        detail.push_str(&format!("; {} names no GPU here", sel.unmatched.join(", ")));
    }
    Diagnostic {
        sensor: "gpus",
        ok,
        detail,
        fix: (!ok).then(|| {
            "give --gpus the indices (gpuN) or UUIDs listed here (`ecotrace doctor`)".to_string()
        }),
    }
}

/// The `pid-namespace` diagnostic: whether the GPU drivers' PIDs can be matched to the run's.
fn pid_namespace_diag(h: &HostPids) -> Diagnostic {
    let d = |ok: bool, detail: String, fix: Option<String>| Diagnostic {
        sensor: "pid-namespace",
        ok,
        detail,
        fix,
    };
    match (h.namespace(), h.host_procfs_readable()) {
        (PidNamespace::Own(_), true) => {
            d(
                true,
                format!(
                "own PID namespace (a container): the GPU drivers' host PIDs are matched to this \
                 container's processes through NSpid in {}",
                h.host_procfs().map(|p| p.display().to_string()).unwrap_or_default()
            ),
                None,
            )
        }
        (PidNamespace::Own(_), false) => d(
            false,
            "own PID namespace (a container without --pid=host): the GPU drivers report host \
             PIDs, which cannot be matched to this container's processes, so a GPU is charged \
             only when given to the run (--gpus, CUDA_VISIBLE_DEVICES, ...)"
                .to_string(),
            Some(format!(
                "mount the host's /proc read-only and name it: docker run -v /proc:/host/proc:ro \
                 -e {HOST_PROCFS_ENV}=/host/proc (Kubernetes: a hostPath volume of /proc); or run \
                 the container with --pid=host (hostPID: true); or give the GPUs with --gpus"
            )),
        ),
        (PidNamespace::Host, _) => d(
            true,
            "host PID namespace: the GPU drivers' PIDs are this machine's".to_string(),
            None,
        ),
        (PidNamespace::Unknown, _) => d(
            true,
            "PID namespace unknown (no /proc/self/ns/pid): the drivers' PIDs are compared as \
             they are"
                .to_string(),
            None,
        ),
    }
}
