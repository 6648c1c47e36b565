//! PID namespaces, for GPU attribution in containers. The GPU drivers (NVML, AMD SMI) report the
//! PIDs of the processes holding a context as the host sees them; a container with its own PID
//! namespace numbers its processes differently, so without help a run in a container would never
//! find its own processes among the GPU's and be charged no GPU energy.
//!
//! The kernel writes each process's PID in every namespace it belongs to on the `NSpid:` line of
//! `/proc/PID/status`, outermost first. Read in the host's procfs (mounted into the container,
//! e.g. `-v /proc:/host/proc:ro`, and named by `ECOTRACE_HOST_PROCFS_ROOT`), the line of a host
//! PID ends with the PID the container knows the process by: [`HostPids::to_ours`].
//!
//! Every path is read under the roots given (the container's procfs from [`Roots`], the host's
//! from the configuration), so tests use fake trees. Nothing here writes or signals anything.

use std::path::{Path, PathBuf};

use crate::Roots;

/// Environment variable naming where the host's procfs is mounted inside a container.
pub const HOST_PROCFS_ENV: &str = "ECOTRACE_HOST_PROCFS_ROOT";

/// The link `/proc/PID/ns/pid` of a process in the initial (host) PID namespace
/// (`PROC_PID_INIT_INO` in the kernel).
pub const INIT_PID_NS: &str = "pid:[4026531836]";

/// Which PID namespace ecotrace runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PidNamespace {
    /// The host's: the drivers' PIDs are ours.
    Host,
    /// A namespace of its own (a container without `--pid=host`), named by its link.
    Own(String),
    /// Not readable (no procfs, or a fake tree without `self`).
    Unknown,
}

/// The namespace of the process reading `roots.procfs/self`.
pub fn own_namespace(roots: &Roots) -> PidNamespace {
    match ns_link(&roots.procfs.join("self")) {
        Some(l) if l == INIT_PID_NS => PidNamespace::Host,
        Some(l) => PidNamespace::Own(l),
        None => PidNamespace::Unknown,
    }
}

fn ns_link(proc_dir: &Path) -> Option<String> {
    std::fs::read_link(proc_dir.join("ns/pid"))
        .ok()
        .map(|l| l.to_string_lossy().into_owned())
}

/// The `NSpid:` line of `proc_dir/status`: the PID in each namespace, outermost first.
pub fn nspids(proc_dir: &Path) -> Option<Vec<u32>> {
    let status = std::fs::read_to_string(proc_dir.join("status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    let pids: Option<Vec<u32>> = line.split_whitespace().map(|p| p.parse().ok()).collect();
    pids.filter(|p| !p.is_empty())
}

/// Maps the host PIDs the GPU drivers report to the PIDs of this namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPids {
    /// Where the host's procfs is readable; None: not available.
    host_procfs: Option<PathBuf>,
    namespace: PidNamespace,
}

impl HostPids {
    /// `host_procfs`: the host's procfs as mounted here, if it is.
    pub fn new(roots: &Roots, host_procfs: Option<PathBuf>) -> Self {
        HostPids {
            host_procfs,
            namespace: own_namespace(roots),
        }
    }

    /// [`HOST_PROCFS_ENV`] from the environment.
    pub fn host_procfs_from_env() -> Option<PathBuf> {
        std::env::var_os(HOST_PROCFS_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    }

    pub fn namespace(&self) -> &PidNamespace {
        &self.namespace
    }

    pub fn host_procfs(&self) -> Option<&Path> {
        self.host_procfs.as_deref()
    }

    /// Whether the host's procfs is there to read (its init process has a status file).
    pub fn host_procfs_readable(&self) -> bool {
        self.host_procfs
            .as_ref()
            .is_some_and(|p| p.join("1/status").is_file())
    }

    /// The PID in this namespace of the process the host knows as `host_pid`, when the host's
    /// procfs says it lives in a nested namespace (its `NSpid:` has more than one entry) and, where
    /// the links are readable, that namespace is ours.
    pub fn to_ours(&self, host_pid: u32) -> Option<u32> {
        let dir = self.host_procfs.as_ref()?.join(host_pid.to_string());
        let pids = nspids(&dir)?;
        if pids.len() < 2 || pids[0] != host_pid {
            return None;
        }
        if let (PidNamespace::Own(ours), Some(theirs)) = (&self.namespace, ns_link(&dir)) {
            if &theirs != ours {
                return None;
            }
        }
        pids.last().copied()
    }

    /// What another workload holding a GPU is grouped by for the equal split: its cgroup as the
    /// host (or, in the host namespace, this procfs) shows it, else the PID alone.
    pub fn workload_key(&self, roots: &Roots, host_pid: u32) -> String {
        let dir = match (&self.host_procfs, &self.namespace) {
            (Some(h), _) => h.join(host_pid.to_string()),
            (None, PidNamespace::Own(_)) => return format!("pid {host_pid}"),
            (None, _) => roots.procfs.join(host_pid.to_string()),
        };
        match std::fs::read_to_string(dir.join("cgroup")) {
            Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
            _ => format!("pid {host_pid}"),
        }
    }
}
