//! Readers for the few /proc files ecotrace needs: machine CPU time (`stat`), memory (`meminfo`),
//! the CPU model and topology (`cpuinfo`), the host name, and the CPU time and resident memory of
//! a tracked process tree (`[pid]/stat`, `[pid]/statm`).
//!
//! Every path is read below [`Roots::procfs`], so tests point this module at a fake tree. This
//! module only reads: it never signals, waits for or otherwise touches the processes it watches
//! (reaping is the caller's job; see [`ProcessTree::reaped_ticks`]). The sampling path
//! ([`ProcessTree::sample`], [`CpuClock::advance`], [`MemInfoReader::read`]) reuses its buffers
//! and allocates little. On a real procfs of ecotrace's own PID namespace ([`is_own_procfs`]) it
//! keeps the files it reads every interval open and reads them again from the start with
//! `pread(2)` (no path lookup, no open/close per reading), and searches the process tree again
//! only when a task was created on the machine since the last search (`/proc/loadavg`'s last
//! PID): a sampler that runs for months costs a few system calls a second.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::{Roots, SensorError};

fn io_err(path: &Path, source: io::Error) -> SensorError {
    SensorError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn parse_err(path: &Path, detail: impl Into<String>) -> SensorError {
    SensorError::Parse {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// Cumulative CPU time of the whole machine, in clock ticks (see [`clock_ticks_per_sec`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// user + nice + system + irq + softirq + steal (guest time is already inside user).
    pub busy: u64,
    /// busy + idle + iowait.
    pub total: u64,
}

/// Whether `dir` is a mounted procfs (not a fake tree) whose `self` is this process: then its
/// files can be kept open and read again with `pread(2)`, and its `loadavg`'s last PID counts
/// the tasks created in ecotrace's own PID namespace.
pub fn is_own_procfs(dir: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statfs is plain data; the path is NUL-terminated and outlives the call.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to a C string and to a local struct.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return false;
    }
    // The field's and the constant's types differ between architectures.
    #[allow(clippy::unnecessary_cast)]
    let procfs = st.f_type as i64 == libc::PROC_SUPER_MAGIC as i64;
    if !procfs {
        return false;
    }
    std::fs::read_link(dir.join("self"))
        .ok()
        .and_then(|p| p.to_str()?.parse::<u32>().ok())
        == Some(std::process::id())
}

/// Reads `f` from its start into `buf` with one `pread(2)`: a procfs file kept open shows the
/// current figures at every such read.
fn pread_start(f: &File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match f.read_at(buf, 0) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Reads all of `f` into `buf` (cleared first) until a read returns less than asked: a procfs
/// file gives all it has in one `read(2)` when the buffer holds it, so a small file costs one
/// system call (`read_to_end` adds an `fstat`, an `lseek` and a read of the end).
fn read_all(mut f: File, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let n = match f.read(&mut chunk) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => r?,
        };
        buf.extend_from_slice(&chunk[..n]);
        if n < chunk.len() {
            return Ok(());
        }
    }
}

/// A procfs file of the machine (`stat`, `meminfo`, `loadavg`) read every interval: kept open
/// on a real procfs of our namespace, opened each time otherwise (a fake tree's files are
/// replaced by tests).
#[derive(Debug)]
struct MachineFile {
    path: PathBuf,
    kept: Option<File>,
}

impl MachineFile {
    fn new(procfs: &Path, name: &str, keep: bool) -> Self {
        let path = procfs.join(name);
        let kept = if keep { File::open(&path).ok() } else { None };
        MachineFile { path, kept }
    }

    /// The file's first `buf.len()` bytes (enough for the lines read from it), cut after the
    /// last complete line.
    fn read<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], SensorError> {
        let n = match &self.kept {
            Some(f) => pread_start(f, buf).map_err(|e| io_err(&self.path, e))?,
            None => {
                let mut f = File::open(&self.path).map_err(|e| io_err(&self.path, e))?;
                let mut n = 0;
                while n < buf.len() {
                    let k = f.read(&mut buf[n..]).map_err(|e| io_err(&self.path, e))?;
                    if k == 0 {
                        break;
                    }
                    n += k;
                }
                n
            }
        };
        let text = &buf[..n];
        Ok(match text.iter().rposition(|&b| b == b'\n') {
            Some(i) if n == buf.len() => &text[..=i],
            _ => text,
        })
    }
}

/// Machine CPU time between successive readings of `/proc/stat`: what the meter and the agent
/// both need each interval.
#[derive(Debug)]
pub struct CpuClock {
    prev: Option<CpuTimes>,
    file: MachineFile,
}

/// Busy and total CPU ticks of the interval just ended, and the machine utilisation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuDelta {
    pub busy: u64,
    pub total: u64,
    /// busy / total, 0..=1 (0 when nothing could be read).
    pub util: f64,
}

impl CpuClock {
    /// Takes the first reading.
    pub fn start(roots: &Roots) -> Self {
        let keep = is_own_procfs(&roots.procfs);
        let mut c = CpuClock {
            prev: None,
            file: MachineFile::new(&roots.procfs, "stat", keep),
        };
        c.prev = c.read().ok();
        c
    }

    fn read(&self) -> Result<CpuTimes, SensorError> {
        // The aggregate line is the first; the buffer holds it with room to spare.
        let mut buf = [0u8; 512];
        cpu_times_of(self.file.read(&mut buf)?, &self.file.path)
    }

    /// Reads `/proc/stat` again and returns the interval since the previous reading. A failed read
    /// gives an empty interval and keeps the previous reading, so nothing is lost.
    pub fn advance(&mut self) -> CpuDelta {
        let now = self.read().ok();
        let (busy, total) = match (self.prev, now) {
            (Some(a), Some(b)) => (
                b.busy.saturating_sub(a.busy),
                b.total.saturating_sub(a.total),
            ),
            _ => (0, 0),
        };
        if now.is_some() {
            self.prev = now;
        }
        let util = if total > 0 {
            (busy as f64 / total as f64).clamp(0.0, 1.0)
        } else {
            0.0
        };
        CpuDelta { busy, total, util }
    }
}

/// Reads the aggregate `cpu ` line of `<procfs>/stat`. Allocation-free: the line is read into a
/// stack buffer.
pub fn read_cpu_times(roots: &Roots) -> Result<CpuTimes, SensorError> {
    let f = MachineFile::new(&roots.procfs, "stat", false);
    let mut buf = [0u8; 512];
    cpu_times_of(f.read(&mut buf)?, &f.path)
}

fn cpu_times_of(text: &[u8], path: &Path) -> Result<CpuTimes, SensorError> {
    let line = text.split(|&b| b == b'\n').next().unwrap_or(&[]);
    parse_cpu_line(line).ok_or_else(|| {
        parse_err(
            path,
            "no aggregate `cpu ` line as the first line; is ECOTRACE_PROCFS_ROOT pointing at a /proc?",
        )
    })
}

fn parse_cpu_line(line: &[u8]) -> Option<CpuTimes> {
    let mut it = line
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|t| !t.is_empty());
    if it.next()? != b"cpu" {
        return None;
    }
    let mut v = [0u64; 8];
    let mut got = 0;
    for (slot, tok) in v.iter_mut().zip(it) {
        *slot = parse_u64(tok)?;
        got += 1;
    }
    if got < 4 {
        return None;
    }
    let [user, nice, system, idle, iowait, irq, softirq, steal] = v;
    let busy = user + nice + system + irq + softirq + steal;
    Some(CpuTimes {
        busy,
        total: busy + idle + iowait,
    })
}

fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(n)
}

/// Signed fields (`cutime`, `cstime` are `%ld` in proc(5)); negative values read as 0.
fn parse_i64_clamped(b: &[u8]) -> Option<u64> {
    match b.split_first() {
        Some((b'-', rest)) => parse_u64(rest).map(|_| 0),
        _ => parse_u64(b),
    }
}

/// Machine memory from `<procfs>/meminfo`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemInfo {
    pub total_bytes: u64,
    /// `MemAvailable` (or `MemFree + Buffers + Cached` on kernels older than 3.14).
    pub available_bytes: u64,
}

impl MemInfo {
    /// Memory in use: total − available.
    pub fn used_bytes(&self) -> u64 {
        self.total_bytes.saturating_sub(self.available_bytes)
    }
}

pub fn read_meminfo(roots: &Roots) -> Result<MemInfo, SensorError> {
    MemInfoReader::new(roots, false).read()
}

/// `<procfs>/meminfo` read every interval (kept open on a real procfs of our namespace).
#[derive(Debug)]
pub struct MemInfoReader {
    file: MachineFile,
}

impl MemInfoReader {
    pub fn new(roots: &Roots, keep: bool) -> Self {
        MemInfoReader {
            file: MachineFile::new(&roots.procfs, "meminfo", keep),
        }
    }

    /// For a sampler: kept open when `roots.procfs` is a real procfs of our namespace.
    pub fn for_sampling(roots: &Roots) -> Self {
        Self::new(roots, is_own_procfs(&roots.procfs))
    }

    pub fn read(&self) -> Result<MemInfo, SensorError> {
        // The lines read are among the first few; the whole file is some 1.5 KB.
        let mut buf = [0u8; 4096];
        let text = self.file.read(&mut buf)?;
        parse_meminfo(&String::from_utf8_lossy(text)).ok_or_else(|| {
            parse_err(
                &self.file.path,
                "no `MemTotal:` line; is ECOTRACE_PROCFS_ROOT pointing at a /proc?",
            )
        })
    }
}

fn parse_meminfo(text: &str) -> Option<MemInfo> {
    let (mut total, mut avail, mut free, mut buffers, mut cached) = (None, None, 0, 0, 0);
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let mut parts = rest.split_whitespace();
        let Some(n) = parts.next().and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        let bytes = match parts.next() {
            Some("kB") | Some("KB") => n.saturating_mul(1024),
            _ => n,
        };
        match key {
            "MemTotal" => total = Some(bytes),
            "MemAvailable" => avail = Some(bytes),
            "MemFree" => free = bytes,
            "Buffers" => buffers = bytes,
            "Cached" => cached = bytes,
            _ => {}
        }
    }
    let total_bytes = total?;
    let available_bytes = avail.unwrap_or(free + buffers + cached).min(total_bytes);
    Some(MemInfo {
        total_bytes,
        available_bytes,
    })
}

/// The CPU model and topology, from `<procfs>/cpuinfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuInfo {
    /// `model name` on x86; on ARM (which has none) a name built from `CPU implementer` and
    /// `CPU part` (e.g. `ARM Neoverse-N1`), else `Hardware`, else `cpu` (POWER), else `unknown`.
    pub model_name: String,
    /// `processor` entries: logical CPUs the OS sees (at least 1).
    pub logical_cpus: u32,
    /// Distinct `physical id`s; 1 when the file has none (ARM, most VMs show 1 as well).
    pub sockets: u32,
    /// Physical cores: distinct (`physical id`, `core id`) pairs, or `logical_cpus` when the file
    /// does not say (ARM has no SMT, so the two are equal there).
    pub physical_cores: u32,
    /// The `hypervisor` CPU flag is set: a virtual machine, whose vCPUs are a slice of the host's
    /// sockets.
    pub virtualized: bool,
}

pub fn read_cpuinfo(roots: &Roots) -> Result<CpuInfo, SensorError> {
    let path = roots.procfs.join("cpuinfo");
    let text = std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
    Ok(parse_cpuinfo(&text))
}

fn parse_cpuinfo(text: &str) -> CpuInfo {
    let mut model = None::<String>;
    let mut hardware = None::<String>;
    let mut cpu_line = None::<String>;
    let mut mips_model = None::<String>;
    let mut implementer = None::<String>;
    let mut part = None::<String>;
    let mut logical = 0u32;
    let mut sockets: Vec<String> = Vec::new();
    let mut cores: Vec<(String, String)> = Vec::new();
    let mut cur_phys = String::new();
    let mut virtualized = false;
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "processor" => {
                logical += 1;
                cur_phys.clear();
            }
            "model name" if model.is_none() && !v.is_empty() => model = Some(v.to_string()),
            "cpu model" if mips_model.is_none() => mips_model = Some(v.to_string()),
            "Hardware" if hardware.is_none() => hardware = Some(v.to_string()),
            "cpu" if cpu_line.is_none() => cpu_line = Some(v.to_string()),
            "CPU implementer" if implementer.is_none() => implementer = Some(v.to_string()),
            "CPU part" if part.is_none() => part = Some(v.to_string()),
            "physical id" => {
                cur_phys = v.to_string();
                if !sockets.iter().any(|s| s == v) {
                    sockets.push(v.to_string());
                }
            }
            "core id" => {
                let key = (cur_phys.clone(), v.to_string());
                if !cores.contains(&key) {
                    cores.push(key);
                }
            }
            "flags" | "Features" if v.split_whitespace().any(|f| f == "hypervisor") => {
                virtualized = true;
            }
            _ => {}
        }
    }
    let arm = implementer
        .as_deref()
        .map(|i| arm_cpu_name(i, part.as_deref()));
    let model_name = model
        .or(mips_model)
        .or(arm)
        .or(hardware)
        .or(cpu_line)
        .unwrap_or_else(|| "unknown".to_string());
    let logical_cpus = logical.max(1);
    CpuInfo {
        model_name,
        logical_cpus,
        sockets: (sockets.len() as u32).max(1),
        physical_cores: if cores.is_empty() {
            logical_cpus
        } else {
            cores.len() as u32
        },
        virtualized,
    }
}

/// A readable name for an ARM core from the `CPU implementer` / `CPU part` codes of cpuinfo
/// (values from the Linux kernel's `arch/arm64/include/asm/cputype.h`).
fn arm_cpu_name(implementer: &str, part: Option<&str>) -> String {
    let hex = |s: &str| u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok();
    let imp = hex(implementer);
    let vendor = match imp {
        Some(0x41) => "ARM",
        Some(0x42) => "Broadcom",
        Some(0x43) => "Cavium",
        Some(0x46) => "Fujitsu",
        Some(0x48) => "HiSilicon",
        Some(0x4e) => "NVIDIA",
        Some(0x50) => "APM",
        Some(0x51) => "Qualcomm",
        Some(0x61) => "Apple",
        Some(0xc0) => "Ampere",
        _ => "",
    };
    let p = part.and_then(hex);
    let core = match (imp, p) {
        (Some(0x41), Some(0xd03)) => Some("Cortex-A53"),
        (Some(0x41), Some(0xd04)) => Some("Cortex-A35"),
        (Some(0x41), Some(0xd05)) => Some("Cortex-A55"),
        (Some(0x41), Some(0xd07)) => Some("Cortex-A57"),
        (Some(0x41), Some(0xd08)) => Some("Cortex-A72"),
        (Some(0x41), Some(0xd09)) => Some("Cortex-A73"),
        (Some(0x41), Some(0xd0a)) => Some("Cortex-A75"),
        (Some(0x41), Some(0xd0b)) => Some("Cortex-A76"),
        (Some(0x41), Some(0xd0c)) => Some("Neoverse-N1"),
        (Some(0x41), Some(0xd0d)) => Some("Cortex-A77"),
        (Some(0x41), Some(0xd40)) => Some("Neoverse-V1"),
        (Some(0x41), Some(0xd41)) => Some("Cortex-A78"),
        (Some(0x41), Some(0xd49)) => Some("Neoverse-N2"),
        (Some(0x41), Some(0xd4f)) => Some("Neoverse-V2"),
        _ => None,
    };
    match (vendor, core, part) {
        (v, Some(c), _) => format!("{v} {c}"),
        ("", None, Some(p)) => format!("CPU implementer {implementer} part {p}"),
        (v, None, Some(p)) => format!("{v} CPU part {p}"),
        ("", None, None) => format!("CPU implementer {implementer}"),
        (v, None, None) => format!("{v} CPU"),
    }
}

/// The host name: `<procfs>/sys/kernel/hostname`, else `gethostname(2)`, else `unknown`.
pub fn hostname(roots: &Roots) -> String {
    if let Ok(s) = std::fs::read_to_string(roots.procfs.join("sys/kernel/hostname")) {
        let s = s.trim();
        if !s.is_empty() {
            return s.to_string();
        }
    }
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success when the
    // name fits, and we stop at the first NUL or at the end of the buffer.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        let s = String::from_utf8_lossy(&buf[..end]).trim().to_string();
        if !s.is_empty() {
            return s;
        }
    }
    "unknown".to_string()
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, the unit of /proc CPU times); 100 if unknown.
pub fn clock_ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if v > 0 {
        v as u64
    } else {
        100
    }
}

/// Memory page size in bytes (`sysconf(_SC_PAGESIZE)`, the unit of `statm`); 4096 if unknown.
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if v > 0 {
        v as u64
    } else {
        4096
    }
}

/// CPU time (user + system) in a `rusage` from `wait4(2)`, in clock ticks, rounded to the nearest
/// tick. `wait4` reports the reaped child's own time plus that of the descendants it reaped, the
/// same quantity /proc shows as utime + stime + cutime + cstime, so it is what the reaper adds to
/// [`ProcessTree::reaped_ticks`]. Rounding to nearest (rather than down) keeps many short-lived
/// processes from being systematically under-counted.
pub fn rusage_to_ticks(ru: &libc::rusage, ticks_per_sec: u64) -> u64 {
    let us = |tv: libc::timeval| tv.tv_sec.max(0) as u64 * 1_000_000 + tv.tv_usec.max(0) as u64;
    let total = us(ru.ru_utime) + us(ru.ru_stime);
    (total * ticks_per_sec + 500_000) / 1_000_000
}

/// CPU time and resident memory of a process tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeSample {
    /// Cumulative CPU time of the tree, in clock ticks, counted from an arbitrary origin: use the
    /// difference between two samples. Never goes down.
    pub cpu_ticks: u64,
    /// Resident memory of the live processes, summed (pages shared between processes, e.g. by
    /// forked workers, count once per process).
    pub rss_bytes: u64,
}

/// One process: identity (pid + start time, so a reused pid is not mistaken for the old process),
/// parent, and CPU ticks (own + reaped children).
#[derive(Debug, Clone, Copy)]
struct Proc {
    pid: u32,
    ppid: u32,
    start: u64,
    ticks: u64,
}

/// The fields of `/proc/[pid]/stat` ecotrace uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StatFields {
    ppid: u32,
    /// utime + stime + cutime + cstime.
    ticks: u64,
    start: u64,
    /// Resident pages (field 24; the kernel's `get_mm_rss`, the same figure as `statm`'s second
    /// field and `VmRSS`). 0 for a kernel thread or a zombie.
    rss_pages: u64,
}

/// Parses `/proc/[pid]/stat`. The command name (field 2) is in parentheses and may itself contain
/// spaces and parentheses, so parsing starts after the LAST `)`.
fn parse_stat(buf: &[u8]) -> Option<StatFields> {
    let close = buf.iter().rposition(|&b| b == b')')?;
    let mut ppid = None;
    let mut times = [0u64; 4];
    let mut have_times = 0;
    let mut start = 0;
    let mut rss_pages = 0;
    // Index 0 is field 3 (state) of proc(5).
    for (i, tok) in buf[close + 1..]
        .split(|&b| b == b' ' || b == b'\n')
        .filter(|t| !t.is_empty())
        .enumerate()
    {
        match i {
            1 => ppid = Some(u32::try_from(parse_u64(tok)?).ok()?),
            11..=14 => {
                times[i - 11] = parse_i64_clamped(tok)?;
                have_times += 1;
            }
            19 => start = parse_u64(tok).unwrap_or(0),
            21 => {
                rss_pages = parse_i64_clamped(tok).unwrap_or(0);
                break;
            }
            _ => {}
        }
    }
    if have_times < 4 {
        return None;
    }
    Some(StatFields {
        ppid: ppid?,
        ticks: times.iter().sum(),
        start,
        rss_pages,
    })
}

/// Appends the decimal digits of `n` without allocating.
fn push_u32(path: &mut OsString, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // The digits are ASCII.
    path.push(std::str::from_utf8(&digits[i..]).unwrap_or("0"));
}

/// Member stat files kept open at most (two-thirds of the common 1024 open-file limit is left).
const MAX_KEPT_FILES: usize = 256;

/// Tracks the CPU time and memory of a process tree: `root_pid`'s descendants (by parent pid),
/// plus the root itself when `include_root`.
///
/// `cpu_ticks` = Σ over live tree processes of (utime + stime + cutime + cstime) + ticks the
/// caller reaped itself ([`ProcessTree::reaped_ticks`]) + ticks of processes that left the tree
/// in a way no tree member could account for. A child's time moves into its parent's cutime when
/// the parent reaps it, so processes that already exited count once, not twice.
///
/// How the races are handled:
/// - Each sample finds the tree (on a real procfs only when a task was created since the last
///   search: otherwise the tree can only have lost members), then reads the members' stat files
///   parents first: a child reaped between the two reads is then missed for one sample at worst
///   (a dip), never counted in both the child and the parent.
/// - The reaped counter is loaded before /proc is read, for the same reason.
/// - A member that is re-parented out of the tree (an orphan adopted by init when no subreaper is
///   set) stays tracked while it lives; when it vanishes and its last parent was not a member, its
///   last seen ticks are kept.
/// - The returned value is clamped to the previous maximum, so a transient dip never shows.
pub struct ProcessTree {
    procfs: PathBuf,
    root_pid: u32,
    include_root: bool,
    reaped: Arc<AtomicU64>,
    page_size: u64,
    /// Ticks of members that vanished with no member to account for them.
    departed: u64,
    /// Highest value returned so far.
    max_ticks: u64,
    /// Members at the last sample, sorted by pid.
    members: Vec<Proc>,
    /// Live member pids at the last sample, sorted.
    pids: Vec<u32>,
    // Reused buffers.
    all: Vec<Proc>,
    next: Vec<Proc>,
    order: Vec<u32>,
    seen: HashSet<u32>,
    tids: Vec<u32>,
    path: OsString,
    buf: Vec<u8>,
    /// Whether `/proc/[pid]/task/[tid]/children` can be read (Linux ≥ 3.5 with
    /// CONFIG_PROC_CHILDREN, the common case): then only the tree is read each sample, not every
    /// process on the machine. Decided at the first sample.
    children_files: Option<bool>,
    /// A real procfs of our PID namespace ([`is_own_procfs`]): stat files are kept open and
    /// the tree is searched only when a task was created. Decided at the first sample.
    own_procfs: Option<bool>,
    /// Members' `stat` files, kept open (at most [`MAX_KEPT_FILES`]).
    kept: HashMap<u32, File>,
    /// `<procfs>/loadavg`, whose last field is the last PID handed out.
    loadavg: Option<MachineFile>,
    /// That PID when the tree was last searched.
    searched_at_pid: Option<u64>,
    /// How many entries of `order` descended from the root at the last search.
    reachable: usize,
}

impl ProcessTree {
    /// No I/O happens until [`ProcessTree::sample`].
    pub fn new(roots: &Roots, root_pid: u32, include_root: bool) -> Self {
        ProcessTree {
            procfs: roots.procfs.clone(),
            root_pid,
            include_root,
            reaped: Arc::new(AtomicU64::new(0)),
            page_size: page_size(),
            departed: 0,
            max_ticks: 0,
            members: Vec::new(),
            pids: Vec::new(),
            all: Vec::new(),
            next: Vec::new(),
            order: Vec::new(),
            seen: HashSet::new(),
            tids: Vec::new(),
            path: OsString::new(),
            buf: Vec::with_capacity(512),
            children_files: None,
            own_procfs: None,
            kept: HashMap::new(),
            loadavg: None,
            searched_at_pid: None,
            reachable: 0,
        }
    }

    /// The counter, in clock ticks, that whoever reaps tree processes outside the tree adds their
    /// CPU time to. The CLI, which is the command's parent (and, as a child subreaper, the
    /// adopter of orphaned descendants) but is not itself in the tree, adds
    /// [`rusage_to_ticks`] of every `wait4` it does. With `include_root` the root's own `cutime`
    /// covers its reaped children, so nothing needs adding.
    pub fn reaped_ticks(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.reaped)
    }

    /// Live tree pids at the last sample, sorted ascending.
    pub fn pids(&self) -> &[u32] {
        &self.pids
    }

    pub fn root_pid(&self) -> u32 {
        self.root_pid
    }

    /// Reads the tree. Processes that vanish mid-read are skipped; only an unreadable procfs
    /// directory is an error.
    pub fn sample(&mut self) -> Result<TreeSample, SensorError> {
        // Load the reaped counter first: a process reaped after this point is either still in
        // /proc below (counted there) or missed for this one sample; never counted twice.
        let reaped = self.reaped.load(Ordering::SeqCst);

        let children_files = match self.children_files {
            Some(ok) => ok,
            None => {
                let root = self.root_pid;
                self.set_task_path(root, root, "children");
                let ok = Path::new(&self.path).is_file();
                self.children_files = Some(ok);
                ok
            }
        };
        // How many entries of `order` descend from the root; the rest are earlier members that
        // left the tree, kept only while they are the same process (same start time). With no
        // task created since the last search, its order still holds (less the members that
        // ended, whose stat files can no longer be read).
        if self.search_needed() {
            self.reachable = if children_files {
                self.find_tree_by_children()
            } else {
                self.find_tree_by_scan()?
            };
        }
        let reachable = self.reachable;

        // Pass 2: the members' CPU time and memory, parents first.
        self.next.clear();
        let mut rss_pages = 0u64;
        for i in 0..self.order.len() {
            let pid = self.order[i];
            let Some(st) = self.read_stat(pid) else {
                continue;
            };
            if i >= reachable && !self.was_member(pid, st.start) {
                continue; // the pid now belongs to another process
            }
            rss_pages += st.rss_pages;
            self.next.push(Proc {
                pid,
                ppid: st.ppid,
                start: st.start,
                ticks: st.ticks,
            });
        }
        self.next.sort_unstable_by_key(|p| p.pid);

        // Members that vanished since the last sample: their time is in a member's cutime if
        // their parent was a member (or the root, whose reaping is counted either in its cutime
        // or in the reaped counter); otherwise keep what was last seen of them.
        for m in &self.members {
            let still = self
                .next
                .binary_search_by_key(&m.pid, |p| p.pid)
                .is_ok_and(|i| self.next[i].start == m.start);
            if still {
                continue;
            }
            let parent_accounts = m.ppid == self.root_pid
                || self
                    .members
                    .binary_search_by_key(&m.ppid, |p| p.pid)
                    .is_ok();
            if !parent_accounts {
                self.departed += m.ticks;
            }
        }
        std::mem::swap(&mut self.members, &mut self.next);

        self.pids.clear();
        self.pids.extend(self.members.iter().map(|p| p.pid));
        let pids = &self.pids;
        self.kept.retain(|pid, _| pids.binary_search(pid).is_ok());

        let live: u64 = self.members.iter().map(|p| p.ticks).sum();
        let total = live + self.departed + reaped;
        self.max_ticks = self.max_ticks.max(total);
        Ok(TreeSample {
            cpu_ticks: self.max_ticks,
            rss_bytes: rss_pages * self.page_size,
        })
    }

    /// Whether the tree must be searched again: always on a fake tree, else when the machine's
    /// last PID moved since the last search (a process or thread was created: maybe a new member,
    /// or a reused PID). Tasks that only ended need no search: their stat files stop answering.
    fn search_needed(&mut self) -> bool {
        let own = *self
            .own_procfs
            .get_or_insert_with(|| is_own_procfs(&self.procfs));
        if !own {
            return true;
        }
        let f = self
            .loadavg
            .get_or_insert_with(|| MachineFile::new(&self.procfs, "loadavg", true));
        let mut buf = [0u8; 128];
        // `0.52 0.58 0.59 1/467 12345`: the last field is the last PID handed out.
        let last = f.read(&mut buf).ok().and_then(|t| {
            let t = t.split(|&b| b == b'\n').next()?;
            parse_u64(t.rsplit(|&b| b == b' ').next()?)
        });
        match last {
            Some(pid) if self.searched_at_pid == Some(pid) => false,
            _ => {
                self.searched_at_pid = last;
                true
            }
        }
    }

    /// Finds the tree by reading every process's stat file (when children files are missing).
    /// Fills `order` (root-reachable members first) and returns how many are root-reachable.
    fn find_tree_by_scan(&mut self) -> Result<usize, SensorError> {
        // Pass 1: every process's parent and start time.
        self.all.clear();
        let dir = std::fs::read_dir(&self.procfs).map_err(|e| io_err(&self.procfs, e))?;
        for entry in dir {
            let Ok(entry) = entry else { continue };
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|s| parse_u64(s.as_bytes()))
                .and_then(|p| u32::try_from(p).ok())
            else {
                continue;
            };
            if let Some(st) = self
                .read_file(pid, "stat")
                .and_then(|()| parse_stat(&self.buf))
            {
                self.all.push(Proc {
                    pid,
                    ppid: st.ppid,
                    start: st.start,
                    ticks: st.ticks,
                });
            }
        }
        // Sorted by parent, to find children by binary search.
        self.all.sort_unstable_by_key(|p| (p.ppid, p.pid));

        // The tree, breadth first from the root (parents before children), then the previous
        // members that are still alive but no longer descend from the root, with their subtrees.
        self.order.clear();
        self.seen.clear();
        if self.include_root && self.all.iter().any(|p| p.pid == self.root_pid) {
            self.seen.insert(self.root_pid);
            self.order.push(self.root_pid);
        }
        self.bfs_children_of(self.root_pid);
        for i in 0..self.members.len() {
            let m = self.members[i];
            if self.seen.contains(&m.pid) {
                continue;
            }
            let alive = self
                .all
                .iter()
                .any(|p| p.pid == m.pid && p.start == m.start);
            if alive {
                self.seen.insert(m.pid);
                self.order.push(m.pid);
                self.bfs_children_of(m.pid);
            }
        }
        Ok(self.order.len())
    }

    /// Finds the tree from the root through `/proc/[pid]/task/[tid]/children`, reading only tree
    /// members. Fills `order` and returns how many entries are reachable from the root.
    fn find_tree_by_children(&mut self) -> usize {
        self.order.clear();
        self.seen.clear();
        if self.include_root {
            self.set_path(self.root_pid, "stat");
            if Path::new(&self.path).exists() {
                self.seen.insert(self.root_pid);
                self.order.push(self.root_pid);
            }
        }
        let mut head = self.order.len();
        let mut parent = self.root_pid;
        loop {
            self.push_children_of(parent);
            if head >= self.order.len() {
                break;
            }
            parent = self.order[head];
            head += 1;
        }
        let reachable = self.order.len();
        // Earlier members no longer below the root (adopted elsewhere), with their subtrees.
        for i in 0..self.members.len() {
            let pid = self.members[i].pid;
            if self.seen.insert(pid) {
                self.order.push(pid);
                let mut head = self.order.len() - 1;
                while head < self.order.len() {
                    let p = self.order[head];
                    self.push_children_of(p);
                    head += 1;
                }
            }
        }
        reachable
    }

    /// Appends the children of every thread of `pid` not seen yet to `order`.
    fn push_children_of(&mut self, pid: u32) {
        self.set_path(pid, "task");
        self.tids.clear();
        if let Ok(dir) = std::fs::read_dir(Path::new(&self.path)) {
            for entry in dir.flatten() {
                if let Some(tid) = entry
                    .file_name()
                    .to_str()
                    .and_then(|s| s.parse::<u32>().ok())
                {
                    self.tids.push(tid);
                }
            }
        }
        for i in 0..self.tids.len() {
            let tid = self.tids[i];
            self.set_task_path(pid, tid, "children");
            let Ok(f) = File::open(Path::new(&self.path)) else {
                continue;
            };
            if read_all(f, &mut self.buf).is_err() {
                continue;
            }
            for tok in self.buf.split(|&b| b == b' ' || b == b'\n') {
                if let Some(child) = parse_u64(tok).and_then(|c| u32::try_from(c).ok()) {
                    if child != 0 && self.seen.insert(child) {
                        self.order.push(child);
                    }
                }
            }
        }
    }

    /// Whether `pid` with this start time was a member at the last sample.
    fn was_member(&self, pid: u32, start: u64) -> bool {
        self.members
            .binary_search_by_key(&pid, |p| p.pid)
            .is_ok_and(|i| self.members[i].start == start)
    }

    /// `<procfs>/<pid>/task/<tid>/<file>`.
    fn set_task_path(&mut self, pid: u32, tid: u32, file: &str) {
        self.set_path(pid, "task/");
        push_u32(&mut self.path, tid);
        self.path.push("/");
        self.path.push(file);
    }

    /// Appends the descendants of `pid` (from `self.all`) to `self.order`, breadth first,
    /// starting at the current end of `order`.
    fn bfs_children_of(&mut self, pid: u32) {
        let mut head = self.order.len();
        let mut parent = pid;
        loop {
            let lo = self.all.partition_point(|p| p.ppid < parent);
            let hi = self.all.partition_point(|p| p.ppid <= parent);
            for k in lo..hi {
                let child = self.all[k].pid;
                // pid 0 is the kernel's idle task's parent id: never part of a tree.
                if child != 0 && self.seen.insert(child) {
                    self.order.push(child);
                }
            }
            if head >= self.order.len() {
                break;
            }
            parent = self.order[head];
            head += 1;
        }
    }

    fn set_path(&mut self, pid: u32, file: &str) {
        self.path.clear();
        self.path.push(self.procfs.as_os_str());
        self.path.push("/");
        push_u32(&mut self.path, pid);
        self.path.push("/");
        self.path.push(file);
    }

    fn read_file(&mut self, pid: u32, file: &str) -> Option<()> {
        self.set_path(pid, file);
        let f = File::open(Path::new(&self.path)).ok()?;
        read_all(f, &mut self.buf).ok()
    }

    /// Reads `pid`'s stat file: with the file kept open when it can be (a member's), so that
    /// a reading is one `pread(2)`. A kept file of a process that ended answers ESRCH (never
    /// another process's figures, even if its PID was reused): it is dropped, and the path is
    /// tried, which finds the PID's new owner if there is one.
    fn read_stat(&mut self, pid: u32) -> Option<StatFields> {
        // /proc/PID/stat is far shorter than this: a single read gets it all.
        let mut buf = [0u8; 1024];
        if let Some(f) = self.kept.get(&pid) {
            match pread_start(f, &mut buf) {
                Ok(n) if n > 0 => return parse_stat(&buf[..n]),
                _ => {
                    self.kept.remove(&pid);
                }
            }
        }
        if self.own_procfs == Some(true) && self.kept.len() < MAX_KEPT_FILES {
            self.set_path(pid, "stat");
            let f = File::open(Path::new(&self.path)).ok()?;
            let n = pread_start(&f, &mut buf).ok()?;
            let st = parse_stat(&buf[..n])?;
            self.kept.insert(pid, f);
            return Some(st);
        }
        self.read_file(pid, "stat")?;
        parse_stat(&self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_line_sums_the_documented_fields() {
        // user nice system idle iowait irq softirq steal guest guest_nice
        let t = parse_cpu_line(b"cpu  10 1 5 100 7 2 3 4 50 9").unwrap();
        assert_eq!(t.busy, 10 + 1 + 5 + 2 + 3 + 4);
        assert_eq!(t.total, t.busy + 100 + 7);
        // Old kernels have only four fields.
        let t = parse_cpu_line(b"cpu 1 2 3 4").unwrap();
        assert_eq!((t.busy, t.total), (6, 10));
        assert!(parse_cpu_line(b"cpu0 1 2 3 4").is_none());
        assert!(parse_cpu_line(b"intr 1 2 3").is_none());
    }

    #[test]
    fn meminfo_falls_back_without_memavailable() {
        let m =
            parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n")
                .unwrap();
        assert_eq!(m.total_bytes, 1000 * 1024);
        assert_eq!(m.available_bytes, 400 * 1024);
        assert_eq!(m.used_bytes(), 600 * 1024);
        assert!(parse_meminfo("MemFree: 1 kB\n").is_none());
    }

    #[test]
    fn stat_parses_after_the_last_paren() {
        let line = b"123 (a (b) c) R 45 1 1 0 -1 0 0 0 0 0 10 20 30 40 20 0 1 0 777 0 66 0\n";
        let s = parse_stat(line).unwrap();
        assert_eq!(
            s,
            StatFields {
                ppid: 45,
                ticks: 100,
                start: 777,
                rss_pages: 66,
            }
        );
        // Negative cutime (never seen, but %ld) reads as 0; truncated lines are rejected.
        let s = parse_stat(b"1 (x) S 0 1 1 0 -1 0 0 0 0 0 5 5 -1 0 20").unwrap();
        assert_eq!(s.ticks, 10);
        assert!(parse_stat(b"1 (x) S 0 1 1 0").is_none());
        assert!(parse_stat(b"garbage").is_none());
    }

    #[test]
    fn arm_names() {
        assert_eq!(arm_cpu_name("0x41", Some("0xd0c")), "ARM Neoverse-N1");
        assert_eq!(arm_cpu_name("0x61", Some("0x022")), "Apple CPU part 0x022");
        assert_eq!(
            arm_cpu_name("0x99", Some("0x001")),
            "CPU implementer 0x99 part 0x001"
        );
    }

    #[test]
    fn rusage_rounds_to_the_nearest_tick() {
        // SAFETY: rusage is plain data.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        ru.ru_utime.tv_sec = 1;
        ru.ru_stime.tv_usec = 506_000;
        assert_eq!(rusage_to_ticks(&ru, 100), 151);
        ru.ru_stime.tv_usec = 4_000;
        assert_eq!(rusage_to_ticks(&ru, 100), 100);
    }
}
