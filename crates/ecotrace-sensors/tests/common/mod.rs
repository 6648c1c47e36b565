//! Fake /proc and /sys trees for the integration tests.
#![allow(dead_code)]

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ecotrace_sensors::rapl::{RealSysfs, SysfsRead};
use ecotrace_sensors::Roots;

pub struct FakeRoot {
    pub dir: tempfile::TempDir,
    /// Also keep `/proc/<pid>/task/<pid>/children` up to date, as Linux does with
    /// CONFIG_PROC_CHILDREN (the process tree then reads only the tree).
    pub children_files: bool,
}

impl FakeRoot {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("proc")).unwrap();
        fs::create_dir_all(dir.path().join("sys")).unwrap();
        FakeRoot {
            dir,
            children_files: false,
        }
    }

    /// The same fake tree, with `task/<tid>/children` files.
    pub fn with_children_files() -> Self {
        FakeRoot {
            children_files: true,
            ..FakeRoot::new()
        }
    }

    /// Rewrites every `task/<pid>/children` file from the stat files' parent pids.
    fn update_children(&self) {
        if !self.children_files {
            return;
        }
        let mut kids: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
        for entry in fs::read_dir(self.proc()).unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let Some(after) = stat.rsplit_once(')') else {
                continue;
            };
            if let Some(ppid) = after
                .1
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse().ok())
            {
                kids.entry(ppid).or_default().push(pid);
                kids.entry(pid).or_default();
            }
        }
        for (ppid, children) in kids {
            let list: Vec<String> = children.iter().map(|c| format!("{c} ")).collect();
            self.write(&format!("proc/{ppid}/task/{ppid}/children"), &list.concat());
        }
    }

    pub fn roots(&self) -> Roots {
        Roots {
            sysfs: self.dir.path().join("sys"),
            procfs: self.dir.path().join("proc"),
        }
    }

    pub fn proc(&self) -> PathBuf {
        self.dir.path().join("proc")
    }

    pub fn sys(&self) -> PathBuf {
        self.dir.path().join("sys")
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.dir.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }

    pub fn remove(&self, rel: &str) {
        let p = self.dir.path().join(rel);
        if p.is_dir() {
            fs::remove_dir_all(p).unwrap();
        } else if p.exists() {
            fs::remove_file(p).unwrap();
        }
    }

    /// A process: `/proc/<pid>/stat` and `statm`.
    #[allow(clippy::too_many_arguments)]
    pub fn process(&self, p: &Proc) {
        let stat = format!(
            "{} ({}) S {} {} {} 0 -1 4194560 100 0 0 0 {} {} {} {} 20 0 1 0 {} 1000000 {} 18446744073709551615\n",
            p.pid, p.comm, p.ppid, p.pid, p.pid, p.utime, p.stime, p.cutime, p.cstime, p.start, p.rss_pages
        );
        self.write(&format!("proc/{}/stat", p.pid), &stat);
        self.write(
            &format!("proc/{}/statm", p.pid),
            &format!("{} {} 10 1 0 20 0\n", p.rss_pages * 2, p.rss_pages),
        );
        self.update_children();
    }

    pub fn kill(&self, pid: u32) {
        self.remove(&format!("proc/{pid}"));
        self.update_children();
    }

    /// A RAPL zone under `class/powercap/<zone>`.
    pub fn rapl_zone(&self, zone: &str, name: &str, energy_uj: u64, max_uj: u64) {
        let base = format!("sys/class/powercap/{zone}");
        self.write(&format!("{base}/name"), &format!("{name}\n"));
        self.write(&format!("{base}/energy_uj"), &format!("{energy_uj}\n"));
        self.write(
            &format!("{base}/max_energy_range_uj"),
            &format!("{max_uj}\n"),
        );
        self.write(&format!("{base}/enabled"), "1\n");
    }

    pub fn set_energy(&self, zone: &str, energy_uj: u64) {
        self.write(
            &format!("sys/class/powercap/{zone}/energy_uj"),
            &format!("{energy_uj}\n"),
        );
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn exists(&self, rel: &str) -> bool {
        Path::new(&self.path(rel)).exists()
    }
}

#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    pub utime: u64,
    pub stime: u64,
    pub cutime: u64,
    pub cstime: u64,
    pub start: u64,
    pub rss_pages: u64,
}

impl Proc {
    pub fn new(pid: u32, ppid: u32) -> Self {
        Proc {
            pid,
            ppid,
            comm: format!("p{pid}"),
            utime: 0,
            stime: 0,
            cutime: 0,
            cstime: 0,
            start: 1000 + pid as u64,
            rss_pages: 10,
        }
    }
    pub fn times(mut self, utime: u64, stime: u64, cutime: u64, cstime: u64) -> Self {
        self.utime = utime;
        self.stime = stime;
        self.cutime = cutime;
        self.cstime = cstime;
        self
    }
    pub fn total(&self) -> u64 {
        self.utime + self.stime + self.cutime + self.cstime
    }
}

pub const X86_2S: &str = "processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) CPU E5-2620 v3 @ 2.40GHz
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu vme sse2
processor\t: 1
model name\t: Intel(R) Xeon(R) CPU E5-2620 v3 @ 2.40GHz
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu vme sse2
processor\t: 2
model name\t: Intel(R) Xeon(R) CPU E5-2620 v3 @ 2.40GHz
physical id\t: 1
core id\t\t: 0
flags\t\t: fpu vme sse2
processor\t: 3
model name\t: Intel(R) Xeon(R) CPU E5-2620 v3 @ 2.40GHz
physical id\t: 1
core id\t\t: 0
flags\t\t: fpu vme sse2
";

pub const ARM64: &str = "processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x3
CPU part\t: 0xd0c
CPU revision\t: 1

processor\t: 1
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x3
CPU part\t: 0xd0c
CPU revision\t: 1
";

pub const MEMINFO_16G: &str = "MemTotal:       16000000 kB
MemFree:         1000000 kB
MemAvailable:    8000000 kB
Buffers:          100000 kB
Cached:          5000000 kB
";

/// `/proc/stat` with the given aggregate busy (user) and idle ticks.
pub fn stat_line(user: u64, idle: u64) -> String {
    format!("cpu  {user} 0 0 {idle} 0 0 0 0 0 0\ncpu0 {user} 0 0 {idle} 0 0 0 0 0 0\nintr 0\n")
}

/// Reads the real (fake-tree) files, except that the paths in `deny` fail with EACCES,
/// as `energy_uj` does for non-root users since Linux 5.10. chmod cannot do this when the tests
/// run as root.
#[derive(Default, Clone)]
pub struct Denying {
    deny: Arc<Mutex<Vec<PathBuf>>>,
}

impl Denying {
    pub fn deny(&self, p: PathBuf) {
        self.deny.lock().unwrap().push(p);
    }
    pub fn allow_all(&self) {
        self.deny.lock().unwrap().clear();
    }
}

impl SysfsRead for Denying {
    fn read_string(&self, path: &Path) -> io::Result<String> {
        if self.deny.lock().unwrap().iter().any(|d| d == path) {
            return Err(io::Error::from(io::ErrorKind::PermissionDenied));
        }
        RealSysfs.read_string(path)
    }
}

/// A 2-second interval of the GPU tests.
pub fn gpu_tick(scope: ecotrace_core::Scope, pids: &[u32]) -> ecotrace_sensors::Tick<'_> {
    ecotrace_sensors::Tick {
        dt: std::time::Duration::from_secs(2),
        scope,
        machine_util: 0.5,
        cpu_share: 0.5,
        charged_memory_bytes: 0,
        used_memory_bytes: 0,
        pids,
    }
}

/// One read of a GPU sensor, in joules per device.
pub fn read_gpu(
    s: &mut ecotrace_sensors::gpu::GpuSensor,
    t: &ecotrace_sensors::Tick<'_>,
) -> Vec<f64> {
    use ecotrace_sensors::Sensor;
    let mut out = vec![ecotrace_core::Energy::from_joules(-1.0); s.devices().len()];
    s.read(t, &mut out).unwrap();
    out.iter().map(|e| e.joules()).collect()
}

/// Equal within 1e-6.
pub fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-6, "{a:?} vs {b:?}");
    }
}
