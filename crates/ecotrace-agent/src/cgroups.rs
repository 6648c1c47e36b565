//! Workloads found in the cgroup tree: SLURM jobs, Kubernetes pods, containers (Docker, Podman),
//! systemd services and user sessions, with their CPU time and memory.
//!
//! Reads `<sysfs>/fs/cgroup` (the unified v2 hierarchy; with v1, the `cpuacct` and `memory`
//! controllers), so tests point it at a fake tree through [`Roots`]. A workload is the first
//! directory on a path that names one (a pod, not its containers; a SLURM job, not its steps), so
//! nested cgroups are never counted twice. Must not attribute energy: it only reads usage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ecotrace_sensors::Roots;

/// What kind of thing a workload is; the `kind` label of the agent's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkloadKind {
    /// A SLURM job (all its steps): `slurm:JOBID`, the same key `ecotrace run` records.
    SlurmJob,
    /// A Kubernetes pod: `pod:UID`.
    Pod,
    /// A container outside Kubernetes: `docker:ID12`, `podman:ID12`.
    Container,
    /// A systemd system service: `NAME.service`.
    Service,
    /// A user's session: `uid:N`.
    User,
    /// A process tree registered by `ecotrace run` through the agent's socket: the run id.
    Run,
}

impl WorkloadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::SlurmJob => "slurm-job",
            WorkloadKind::Pod => "pod",
            WorkloadKind::Container => "container",
            WorkloadKind::Service => "service",
            WorkloadKind::User => "user",
            WorkloadKind::Run => "run",
        }
    }
}

/// A workload's identity: its name (the `workload` label) and kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkloadId {
    pub name: String,
    pub kind: WorkloadKind,
}

/// Usage of one cgroup workload at one instant (cumulative CPU time, current memory).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CgroupUsage {
    /// CPU time used by the cgroup since it was created (exited processes included), in µs.
    pub cpu_usec: u64,
    /// Memory charged to it now, in bytes.
    pub memory_bytes: u64,
}

/// Classifies one cgroup directory path (relative to the hierarchy root, `/`-separated, no leading
/// slash). `Some` when this directory *is* a workload; its parents were not.
pub fn classify(rel: &str) -> Option<WorkloadId> {
    let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    let last = *parts.last()?;
    let id = |name: String, kind| Some(WorkloadId { name, kind });
    // SLURM, cgroup v2: system.slice/slurmstepd.scope/job_123; v1: slurm/uid_1000/job_123.
    if let Some(job) = last.strip_prefix("job_") {
        let under_slurm = parts.iter().any(|p| p.starts_with("slurm"));
        if under_slurm && !job.is_empty() && job.chars().all(|c| c.is_ascii_digit()) {
            return id(format!("slurm:{job}"), WorkloadKind::SlurmJob);
        }
    }
    // Kubernetes, systemd driver: kubepods-burstable-pod<uid with _>.slice; cgroupfs driver:
    // kubepods/burstable/pod<uid>.
    if parts.iter().any(|p| p.starts_with("kubepods")) {
        let uid = last
            .strip_suffix(".slice")
            .and_then(|s| s.rsplit_once("-pod").map(|(_, u)| u.replace('_', "-")))
            .or_else(|| last.strip_prefix("pod").map(str::to_string));
        if let Some(uid) = uid.filter(|u| u.len() >= 8) {
            return id(format!("pod:{uid}"), WorkloadKind::Pod);
        }
        return None;
    }
    for (prefix, runtime) in [("docker-", "docker"), ("libpod-", "podman")] {
        if let Some(cid) = last
            .strip_prefix(prefix)
            .and_then(|s| s.strip_suffix(".scope"))
        {
            if cid.len() >= 12 && cid.chars().all(|c| c.is_ascii_hexdigit()) {
                return id(format!("{runtime}:{}", &cid[..12]), WorkloadKind::Container);
            }
        }
    }
    // cgroupfs-driver Docker: docker/<64 hex>.
    if parts.len() == 2
        && parts[0] == "docker"
        && last.len() >= 12
        && last.chars().all(|c| c.is_ascii_hexdigit())
    {
        return id(format!("docker:{}", &last[..12]), WorkloadKind::Container);
    }
    if parts.len() == 2 && parts[0] == "system.slice" && last.ends_with(".service") {
        return id(last.to_string(), WorkloadKind::Service);
    }
    if parts.len() == 2 && parts[0] == "user.slice" {
        if let Some(uid) = last
            .strip_prefix("user-")
            .and_then(|s| s.strip_suffix(".slice"))
            .filter(|u| u.chars().all(|c| c.is_ascii_digit()))
        {
            return id(format!("uid:{uid}"), WorkloadKind::User);
        }
    }
    None
}

/// The workload a cgroup path (as `/proc/PID/cgroup` shows it, leading slash or not) lies in: the
/// first directory on the path that names one, as [`Hierarchy::scan`] finds them.
pub fn workload_of_path(path: &str) -> Option<WorkloadId> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    (1..=parts.len()).find_map(|k| classify(&parts[..k].join("/")))
}

/// Whether a directory can still hold workloads further down (so the walk goes on).
fn worth_descending(rel: &str, depth: usize) -> bool {
    if depth == 0 {
        return true;
    }
    let top = rel.split('/').next().unwrap_or("");
    let interesting = [
        "system.slice",
        "user.slice",
        "kubepods",
        "slurm",
        "docker",
        "machine.slice",
    ];
    depth < 8 && interesting.iter().any(|p| top.starts_with(p))
}

/// Which cgroup hierarchy this machine has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// The unified hierarchy (`cgroup.controllers` at its root): `cpu.stat` usage_usec, `memory.current`.
    V2(PathBuf),
    /// Legacy controllers: `cpuacct/…/cpuacct.usage` (ns) and `memory/…/memory.usage_in_bytes`.
    V1 { cpuacct: PathBuf, memory: PathBuf },
    /// No cgroup filesystem readable.
    None,
}

impl Hierarchy {
    pub fn detect(roots: &Roots) -> Hierarchy {
        let root = roots.sysfs.join("fs/cgroup");
        if root.join("cgroup.controllers").is_file() {
            return Hierarchy::V2(root);
        }
        for name in ["cpuacct", "cpu,cpuacct"] {
            let c = root.join(name);
            if c.join("cpuacct.usage").is_file() {
                return Hierarchy::V1 {
                    cpuacct: c,
                    memory: root.join("memory"),
                };
            }
        }
        Hierarchy::None
    }

    /// Every workload below the root with its usage now.
    pub fn scan(&self) -> BTreeMap<WorkloadId, CgroupUsage> {
        let mut out = BTreeMap::new();
        let base = match self {
            Hierarchy::V2(root) => root,
            Hierarchy::V1 { cpuacct, .. } => cpuacct,
            Hierarchy::None => return out,
        };
        let mut stack: Vec<(PathBuf, String, usize)> = vec![(base.clone(), String::new(), 0)];
        while let Some((dir, rel, depth)) = stack.pop() {
            if depth > 0 {
                if let Some(id) = classify(&rel) {
                    if let Some(u) = self.usage(&rel) {
                        // Two directories may map to one workload (v1 and v2 SLURM layouts):
                        // add them up.
                        let e = out.entry(id).or_insert_with(CgroupUsage::default);
                        e.cpu_usec += u.cpu_usec;
                        e.memory_bytes += u.memory_bytes;
                    }
                    continue;
                }
            }
            if !worth_descending(&rel, depth) {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                if !e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    continue;
                }
                let name = e.file_name().to_string_lossy().into_owned();
                let child_rel = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                stack.push((e.path(), child_rel, depth + 1));
            }
        }
        out
    }

    /// The workload process `pid` belongs to, from `<procfs>/PID/cgroup`: the unified line
    /// (`0::/path`) with v2, the `cpuacct` controller's line with v1. None when the process is
    /// gone or in no workload.
    pub fn workload_of_pid(&self, roots: &Roots, pid: u32) -> Option<WorkloadId> {
        let text =
            std::fs::read_to_string(roots.procfs.join(pid.to_string()).join("cgroup")).ok()?;
        self.workload_of_proc_cgroup(&text)
    }

    /// [`Hierarchy::workload_of_pid`] on the text of a `/proc/PID/cgroup` file.
    pub fn workload_of_proc_cgroup(&self, text: &str) -> Option<WorkloadId> {
        let path = text.lines().find_map(|line| {
            let mut f = line.splitn(3, ':');
            let (id, controllers, path) = (f.next()?, f.next()?, f.next()?);
            let wanted = match self {
                Hierarchy::V2(_) => id == "0" && controllers.is_empty(),
                Hierarchy::V1 { .. } => controllers.split(',').any(|c| c == "cpuacct"),
                Hierarchy::None => false,
            };
            wanted.then_some(path)
        })?;
        workload_of_path(path)
    }

    fn usage(&self, rel: &str) -> Option<CgroupUsage> {
        match self {
            Hierarchy::V2(root) => {
                let dir = root.join(rel);
                let stat = std::fs::read_to_string(dir.join("cpu.stat")).ok()?;
                let cpu_usec = stat
                    .lines()
                    .find_map(|l| l.strip_prefix("usage_usec "))
                    .and_then(|v| v.trim().parse().ok())?;
                let memory_bytes = read_u64(&dir.join("memory.current")).unwrap_or(0);
                Some(CgroupUsage {
                    cpu_usec,
                    memory_bytes,
                })
            }
            Hierarchy::V1 { cpuacct, memory } => {
                let ns = read_u64(&cpuacct.join(rel).join("cpuacct.usage"))?;
                let memory_bytes =
                    read_u64(&memory.join(rel).join("memory.usage_in_bytes")).unwrap_or(0);
                Some(CgroupUsage {
                    cpu_usec: ns / 1000,
                    memory_bytes,
                })
            }
            Hierarchy::None => None,
        }
    }
}

fn read_u64(p: &Path) -> Option<u64> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(rel: &str) -> Option<(String, &'static str)> {
        classify(rel).map(|w| (w.name, w.kind.as_str()))
    }

    #[test]
    fn classifies_the_usual_layouts() {
        let s = |n: &str, k| Some((n.to_string(), k));
        assert_eq!(
            c("system.slice/slurmstepd.scope/job_4242"),
            s("slurm:4242", "slurm-job")
        );
        assert_eq!(c("slurm/uid_1000/job_77"), s("slurm:77", "slurm-job"));
        assert_eq!(c("system.slice/slurmstepd.scope"), None);
        assert_eq!(
            c("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b3c4d_5e6f_7a8b_9c0d_112233445566.slice"),
            s("pod:1a2b3c4d-5e6f-7a8b-9c0d-112233445566", "pod")
        );
        assert_eq!(c("kubepods.slice/kubepods-burstable.slice"), None);
        assert_eq!(
            c("kubepods/besteffort/pod1a2b3c4d-5e6f-7a8b-9c0d-112233445566"),
            s("pod:1a2b3c4d-5e6f-7a8b-9c0d-112233445566", "pod")
        );
        let hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            c(&format!("system.slice/docker-{hex}.scope")),
            s("docker:0123456789ab", "container")
        );
        assert_eq!(
            c(&format!("docker/{hex}")),
            s("docker:0123456789ab", "container")
        );
        assert_eq!(
            c(&format!("machine.slice/libpod-{hex}.scope")),
            s("podman:0123456789ab", "container")
        );
        assert_eq!(c("system.slice/sshd.service"), s("sshd.service", "service"));
        assert_eq!(c("user.slice/user-1000.slice"), s("uid:1000", "user"));
        assert_eq!(c("init.scope"), None);
        assert_eq!(c(""), None);
    }

    #[test]
    fn finds_the_workload_of_a_process() {
        let v2 = Hierarchy::V2(PathBuf::from("/sys/fs/cgroup"));
        let job = WorkloadId {
            name: "slurm:7".into(),
            kind: WorkloadKind::SlurmJob,
        };
        assert_eq!(
            v2.workload_of_proc_cgroup(
                "0::/system.slice/slurmstepd.scope/job_7/step_0/user/task_0\n"
            ),
            Some(job.clone())
        );
        assert_eq!(v2.workload_of_proc_cgroup("0::/init.scope\n"), None);
        let v1 = Hierarchy::V1 {
            cpuacct: PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"),
            memory: PathBuf::from("/sys/fs/cgroup/memory"),
        };
        assert_eq!(
            v1.workload_of_proc_cgroup(
                "12:memory:/slurm/uid_1000/job_7/step_0\n4:cpu,cpuacct:/slurm/uid_1000/job_7/step_0\n0::/\n"
            ),
            Some(job)
        );
        assert_eq!(
            workload_of_path("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1a2b3c4d_5e6f.slice/cri-containerd-0123.scope")
                .map(|w| w.name),
            Some("pod:1a2b3c4d-5e6f".into())
        );
    }

    #[test]
    fn scans_a_v2_tree_without_counting_nested_groups_twice() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("sys/fs/cgroup");
        let mk = |rel: &str, usec: u64, mem: u64| {
            let p = root.join(rel);
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(
                p.join("cpu.stat"),
                format!("usage_usec {usec}\nuser_usec 1\n"),
            )
            .unwrap();
            std::fs::write(p.join("memory.current"), format!("{mem}\n")).unwrap();
        };
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("cgroup.controllers"), "cpu memory\n").unwrap();
        mk("system.slice/slurmstepd.scope/job_9", 5_000_000, 1 << 30);
        mk(
            "system.slice/slurmstepd.scope/job_9/step_0",
            4_000_000,
            1 << 29,
        );
        mk("system.slice/cron.service", 10, 100);
        mk("user.slice/user-1000.slice", 2_000, 300);
        let roots = Roots {
            sysfs: d.path().join("sys"),
            procfs: d.path().join("proc"),
        };
        let h = Hierarchy::detect(&roots);
        assert!(matches!(h, Hierarchy::V2(_)));
        let got = h.scan();
        let names: Vec<&str> = got.keys().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["cron.service", "slurm:9", "uid:1000"]);
        let job = &got[&WorkloadId {
            name: "slurm:9".into(),
            kind: WorkloadKind::SlurmJob,
        }];
        assert_eq!(job.cpu_usec, 5_000_000);
        assert_eq!(job.memory_bytes, 1 << 30);
    }
}
