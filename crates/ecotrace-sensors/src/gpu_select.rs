//! Which GPUs a run is charged, and why: the user's `--gpus` list (option, `ECOTRACE_GPUS` or the
//! config file's `gpus`), else the variables the GPU runtimes read (`NVIDIA_VISIBLE_DEVICES` and
//! `CUDA_VISIBLE_DEVICES` for NVIDIA GPUs, `ROCR_VISIBLE_DEVICES` then `HIP_VISIBLE_DEVICES` — or
//! `CUDA_VISIBLE_DEVICES`, which HIP also reads — for AMD GPUs), else the GPUs the run's processes
//! hold a context on.
//!
//! Pure: it takes the devices found and the variables' values, and returns a decision per device
//! with the reason in words. It reads no environment itself (the caller snapshots it).
//!
//! How each variable is read, as the runtimes read it:
//! - entries are comma-separated indices or UUIDs (`GPU-…`, a unique prefix is enough as CUDA
//!   allows; `MIG-…` names one MIG instance); CUDA stops at the first entry it cannot use (an
//!   index out of range, `-1`, an unknown UUID), and so does this;
//! - an empty value hides every device of that runtime;
//! - `NVIDIA_VISIBLE_DEVICES` is the NVIDIA container runtime's: `all` leaves the choice to the
//!   next rule, `none`, `void` and empty mean no NVIDIA GPU was given. When NVML already sees
//!   exactly as many GPUs as it lists indices, the runtime has applied it (a container's GPUs are
//!   renumbered from 0) and every visible GPU is given;
//! - `CUDA_VISIBLE_DEVICES` indices count the GPUs left after `NVIDIA_VISIBLE_DEVICES`, in NVML's
//!   order (PCI bus order; CUDA agrees when `CUDA_DEVICE_ORDER=PCI_BUS_ID`, or use UUIDs);
//! - `HIP_VISIBLE_DEVICES` (or `CUDA_VISIBLE_DEVICES` when it is unset) indices count the AMD GPUs
//!   left after `ROCR_VISIBLE_DEVICES`.
//!
//! `--gpus` indices are ecotrace's device numbers (`gpuN`: NVIDIA GPUs first, then AMD GPUs).
//! In machine scope only `--gpus` narrows the devices; the runtime variables are for process scope.

use std::collections::BTreeMap;

use ecotrace_core::Scope;

/// The runtime variables, in the order they apply.
pub const RUNTIME_VARS: [&str; 4] = [
    "NVIDIA_VISIBLE_DEVICES",
    "CUDA_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES",
    "HIP_VISIBLE_DEVICES",
];

/// Environment variable for `--gpus`.
pub const GPUS_ENV: &str = "ECOTRACE_GPUS";

/// Who made a GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GpuVendor {
    Nvidia,
    Amd,
}

/// One GPU as selection sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdent {
    pub vendor: GpuVendor,
    /// ecotrace's device number: the `N` of `gpuN`.
    pub global: usize,
    pub uuid: Option<String>,
    /// UUIDs of its MIG instances (empty without MIG).
    pub mig_uuids: Vec<String>,
}

/// The user's `--gpus` list and where it came from (`--gpus`, `ECOTRACE_GPUS`, a config file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuRequest {
    pub entries: Vec<String>,
    pub source: String,
}

impl GpuRequest {
    /// Parses `0,2`, `GPU-8e4c…,MIG-…` or `all` (every GPU found, whether or not the run holds a
    /// context on it). Empty entries and an empty list are errors (say which devices, or leave
    /// the option out).
    pub fn parse(value: &str, source: &str) -> Result<Self, String> {
        if value.trim().eq_ignore_ascii_case("all") {
            return Ok(GpuRequest {
                entries: vec!["all".to_string()],
                source: source.to_string(),
            });
        }
        let entries: Vec<String> = value.split(',').map(|e| e.trim().to_string()).collect();
        if entries.iter().any(|e| e.is_empty()) {
            return Err(format!(
                "{source} {value:?}: expected GPU indices or UUIDs separated by commas, e.g. \
                 --gpus 0,2 or --gpus GPU-8e4c0d1a (`ecotrace doctor` lists them)"
            ));
        }
        for e in &entries {
            let is_index = e.parse::<usize>().is_ok();
            let is_uuid = e.len() > 4 && e.contains('-');
            if !is_index && !is_uuid {
                return Err(format!(
                    "{source}: {e:?} is neither a GPU index (0, 1, ...) nor a UUID (GPU-..., \
                     MIG-...); `ecotrace doctor` lists this machine's GPUs"
                ));
            }
        }
        Ok(GpuRequest {
            entries,
            source: source.to_string(),
        })
    }
}

/// What a run does with one GPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Given to the run: charged for every interval (shared with other workloads by the split
    /// rule). `mig`: the MIG instances given, when only instances were named.
    Selected { mig: Vec<String> },
    /// Not given to the run: not measured.
    Excluded,
    /// Charged while the run's processes hold a context on it.
    ByContext,
}

/// The decision for every GPU, with the reason in words.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    /// By `global` device number.
    pub decisions: BTreeMap<usize, Decision>,
    /// Why, e.g. `CUDA_VISIBLE_DEVICES=0,2` or `--gpus 1`; one per rule that applied.
    pub reasons: Vec<String>,
    /// Entries that named no GPU here (user input, for a warning).
    pub unmatched: Vec<String>,
}

impl Selection {
    pub fn decision(&self, global: usize) -> &Decision {
        self.decisions.get(&global).unwrap_or(&Decision::ByContext)
    }

    /// One line: which devices are charged and why.
    pub fn describe(&self, scope: Scope) -> String {
        let mut selected = Vec::new();
        let mut by_context = Vec::new();
        let mut excluded = Vec::new();
        for (g, d) in &self.decisions {
            match d {
                Decision::Selected { mig } if mig.is_empty() => selected.push(format!("gpu{g}")),
                Decision::Selected { mig } => {
                    selected.push(format!("gpu{g} (MIG {})", mig.join(", ")))
                }
                Decision::Excluded => excluded.push(format!("gpu{g}")),
                Decision::ByContext => by_context.push(format!("gpu{g}")),
            }
        }
        let mut parts = Vec::new();
        if !selected.is_empty() {
            parts.push(format!(
                "{} given to the run by {}",
                selected.join(", "),
                self.reasons.join(" and ")
            ));
        }
        if !by_context.is_empty() {
            parts.push(match scope {
                Scope::Machine => {
                    format!("{} charged whole (machine scope)", by_context.join(", "))
                }
                Scope::Process => format!(
                    "{} charged while the run's processes hold a context on them",
                    by_context.join(", ")
                ),
            });
        }
        if !excluded.is_empty() {
            parts.push(format!("{} not charged", excluded.join(", ")));
        }
        if selected.is_empty() && !self.reasons.is_empty() {
            parts.push(format!("({})", self.reasons.join(" and ")));
        }
        parts.join("; ")
    }
}

/// Decides, for every device, whether the run is charged for it. `env` gives the runtime
/// variables' values (None: unset).
pub fn select(
    devices: &[DeviceIdent],
    request: Option<&GpuRequest>,
    scope: Scope,
    env: &dyn Fn(&str) -> Option<String>,
) -> Selection {
    let mut sel = Selection {
        decisions: devices
            .iter()
            .map(|d| (d.global, Decision::ByContext))
            .collect(),
        reasons: Vec::new(),
        unmatched: Vec::new(),
    };
    if let Some(req) = request {
        let all: Vec<&DeviceIdent> = devices.iter().collect();
        // A GPU named whole wins over instances of it named as well.
        let mut chosen: BTreeMap<usize, Option<Vec<String>>> = BTreeMap::new();
        for e in &req.entries {
            if e == "all" {
                for d in devices {
                    chosen.insert(d.global, None);
                }
                continue;
            }
            match resolve_entry(e, &all, true) {
                Some((g, None)) => {
                    chosen.insert(g, None);
                }
                Some((g, Some(m))) => {
                    if let Some(list) = chosen.entry(g).or_insert_with(|| Some(Vec::new())) {
                        list.push(m);
                    }
                }
                None => sel.unmatched.push(e.clone()),
            }
        }
        let chosen: BTreeMap<usize, Vec<String>> = chosen
            .into_iter()
            .map(|(g, m)| (g, m.unwrap_or_default()))
            .collect();
        for d in devices {
            let decision = match chosen.get(&d.global) {
                Some(mig) => Decision::Selected { mig: mig.clone() },
                None => Decision::Excluded,
            };
            sel.decisions.insert(d.global, decision);
        }
        sel.reasons
            .push(format!("{} {}", req.source, req.entries.join(",")));
        return sel;
    }
    if scope == Scope::Machine {
        return sel;
    }
    for vendor in [GpuVendor::Nvidia, GpuVendor::Amd] {
        let mine: Vec<&DeviceIdent> = devices.iter().filter(|d| d.vendor == vendor).collect();
        if mine.is_empty() {
            continue;
        }
        let (outer, inner): (&str, &[&str]) = match vendor {
            GpuVendor::Nvidia => ("NVIDIA_VISIBLE_DEVICES", &["CUDA_VISIBLE_DEVICES"]),
            GpuVendor::Amd => (
                "ROCR_VISIBLE_DEVICES",
                &["HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES"],
            ),
        };
        // The outer variable narrows which devices the inner one numbers.
        let mut visible: Vec<(&DeviceIdent, Vec<String>)> =
            mine.iter().map(|d| (*d, Vec::new())).collect();
        let mut restricted = false;
        if let Some(v) = env(outer) {
            let t = v.trim();
            if t.eq_ignore_ascii_case("all") {
                // Every GPU the runtime sees: no restriction of its own.
            } else if t.is_empty()
                || t.eq_ignore_ascii_case("none")
                || t.eq_ignore_ascii_case("void")
            {
                visible.clear();
                restricted = true;
                sel.reasons.push(format!("{outer}={v}"));
            } else {
                let entries: Vec<&str> = t.split(',').map(str::trim).collect();
                let applied_by_runtime = vendor == GpuVendor::Nvidia
                    && entries.iter().all(|e| e.parse::<usize>().is_ok())
                    && entries.len() == mine.len();
                if !applied_by_runtime {
                    visible = narrow(&visible, &entries);
                }
                restricted = true;
                sel.reasons.push(format!("{outer}={v}"));
            }
        }
        // HIP reads CUDA_VISIBLE_DEVICES only when HIP_VISIBLE_DEVICES is unset.
        if let Some((name, v)) = inner.iter().find_map(|n| env(n).map(|v| (*n, v))) {
            let t = v.trim();
            let entries: Vec<&str> = if t.is_empty() {
                Vec::new()
            } else {
                t.split(',').map(str::trim).collect()
            };
            visible = narrow(&visible, &entries);
            restricted = true;
            let reason = format!("{name}={v}");
            if !sel.reasons.contains(&reason) {
                sel.reasons.push(reason);
            }
        }
        if restricted {
            for d in &mine {
                let decision = match visible.iter().find(|(v, _)| v.global == d.global) {
                    Some((_, mig)) => Decision::Selected { mig: mig.clone() },
                    None => Decision::Excluded,
                };
                sel.decisions.insert(d.global, decision);
            }
        }
    }
    sel
}

/// The devices among `visible` the entries name, in the order named, stopping at the first
/// entry that names none (as CUDA does). Indices count `visible`.
fn narrow<'a>(
    visible: &[(&'a DeviceIdent, Vec<String>)],
    entries: &[&str],
) -> Vec<(&'a DeviceIdent, Vec<String>)> {
    let devs: Vec<&DeviceIdent> = visible.iter().map(|(d, _)| *d).collect();
    let mut out: Vec<(&DeviceIdent, Vec<String>)> = Vec::new();
    for e in entries {
        let Some((g, mig)) = resolve_entry(e, &devs, false) else {
            break;
        };
        let prior: Vec<String> = visible
            .iter()
            .find(|(d, _)| d.global == g)
            .map(|(_, m)| m.clone())
            .unwrap_or_default();
        let dev = devs.iter().find(|d| d.global == g).copied();
        let Some(dev) = dev else { break };
        let mig: Vec<String> = match mig {
            Some(m) => vec![m],
            None => prior,
        };
        match out.iter_mut().find(|(d, _)| d.global == g) {
            Some((_, m)) => m.extend(mig),
            None => out.push((dev, mig)),
        }
    }
    out
}

/// The device (global number) an entry names, and the MIG instance when it names one. Indices
/// count `devices` (`global_index`: they are ecotrace's `gpuN` numbers instead).
fn resolve_entry(
    entry: &str,
    devices: &[&DeviceIdent],
    global_index: bool,
) -> Option<(usize, Option<String>)> {
    let e = entry.trim();
    if let Ok(i) = e.parse::<usize>() {
        return if global_index {
            devices
                .iter()
                .find(|d| d.global == i)
                .map(|d| (d.global, None))
        } else {
            devices.get(i).map(|d| (d.global, None))
        };
    }
    let lower = e.to_ascii_lowercase();
    if lower.starts_with("mig-") {
        // `MIG-<uuid>`, or the older `MIG-GPU-<uuid>/<gi>/<ci>`: the parent GPU.
        if let Some(parent) = lower.strip_prefix("mig-").filter(|r| r.starts_with("gpu-")) {
            let parent = parent.split('/').next().unwrap_or(parent);
            return unique(devices, |d| {
                d.uuid
                    .as_deref()
                    .is_some_and(|u| u.to_ascii_lowercase() == parent)
            })
            .map(|d| (d.global, None));
        }
        let mut found = None;
        for d in devices {
            for m in &d.mig_uuids {
                if m.to_ascii_lowercase().starts_with(&lower) {
                    if found.is_some() {
                        return None;
                    }
                    found = Some((d.global, Some(m.clone())));
                }
            }
        }
        return found;
    }
    unique(devices, |d| {
        d.uuid.as_deref().is_some_and(|u| uuid_matches(u, &lower))
    })
    .map(|d| (d.global, None))
}

/// A UUID given as the full UUID or a unique prefix of it, with or without the `GPU-` prefix
/// (ROCm writes `GPU-` + 16 hex digits; NVIDIA `GPU-` + a dashed UUID).
fn uuid_matches(uuid: &str, lower_entry: &str) -> bool {
    let u = uuid.to_ascii_lowercase();
    let bare = |s: &str| s.strip_prefix("gpu-").unwrap_or(s).to_string();
    let (u, e) = (bare(&u), bare(lower_entry));
    !e.is_empty() && u.starts_with(&e)
}

fn unique<'a>(
    devices: &[&'a DeviceIdent],
    pred: impl Fn(&DeviceIdent) -> bool,
) -> Option<&'a DeviceIdent> {
    let mut it = devices.iter().filter(|d| pred(d));
    let first = it.next()?;
    it.next().is_none().then_some(*first)
}
