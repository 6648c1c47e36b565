//! RAPL (Running Average Power Limit) energy counters through the Linux powercap interface:
//! `<sysfs>/class/powercap/intel-rapl:N` (one zone per CPU package, `name` = `package-N`) and its
//! subzones `intel-rapl:N:M` (`dram`, `core`, `uncore`). AMD Zen CPUs expose the same
//! `intel-rapl` interface (package and core domains, no dram).
//!
//! Which zones count:
//! - package zones, for the CPU (they already contain their `core` and `uncore` subzones, which
//!   are therefore not added);
//! - `dram` subzones, for the RAM, when present (Intel servers);
//! - NOT `psys` (the whole platform on client parts: it contains the packages, so adding it would
//!   count them twice), and NOT `intel-rapl-mmio:*` (the same package counter read through MMIO
//!   on recent Intel client parts: a duplicate);
//! - a package exposed several times under the same name with identical counters (some multi-die
//!   AMD CPUs) counts once.
//!
//! Counters are in microjoules and wrap at `max_energy_range_uj`. Since Linux 5.10 `energy_uj` is
//! readable by root only (CVE-2020-8694, the Platypus power side channel); [`probe`] says so once,
//! with the fix, and discovery falls back to the CPU power model.
//!
//! This module only reads sysfs, through [`SysfsRead`] so that tests can fake an unreadable file
//! even when they run as root. It never writes a powercap file (no limits are set) and never
//! decides on a fallback itself.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ecotrace_core::{ComponentKind, Energy, Method};

use crate::{Diagnostic, Roots, Sensor, SensorError, Tick};

/// How RAPL files are read. [`RealSysfs`] reads them; tests substitute a reader that fails the way
/// a 5.10+ kernel does for non-root users (chmod cannot fake that when tests run as root).
pub trait SysfsRead: Send + Sync {
    fn read_string(&self, path: &Path) -> io::Result<String>;

    /// A file holding one unsigned integer (`energy_uj`, `max_energy_range_uj`).
    fn read_u64(&self, path: &Path) -> io::Result<u64> {
        let s = self.read_string(path)?;
        parse_u64_text(&s)
    }
}

fn parse_u64_text(s: &str) -> io::Result<u64> {
    s.trim().parse::<u64>().map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("expected an unsigned integer, got {:?}: {e}", s.trim()),
        )
    })
}

/// Reads the real files; `read_u64` reads into a stack buffer (no allocation on the hot path).
#[derive(Debug, Clone, Copy, Default)]
pub struct RealSysfs;

impl SysfsRead for RealSysfs {
    fn read_string(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn read_u64(&self, path: &Path) -> io::Result<u64> {
        let mut f = std::fs::File::open(path)?;
        let mut buf = [0u8; 32];
        let mut n = 0;
        loop {
            let k = f.read(&mut buf[n..])?;
            if k == 0 || n + k == buf.len() {
                n += k;
                break;
            }
            n += k;
        }
        let s = std::str::from_utf8(&buf[..n])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        parse_u64_text(s)
    }
}

/// Energy between two readings of a counter that wraps at `max` (µJ). A counter that went
/// backwards wrapped: delta = max − prev + now. Without a known range a backwards step counts
/// only `now` (a lower bound). Never negative.
pub fn counter_delta(prev: u64, now: u64, max: Option<u64>) -> u64 {
    if now >= prev {
        now - prev
    } else {
        match max {
            Some(m) if m >= prev => (m - prev).saturating_add(now),
            _ => now,
        }
    }
}

/// One powercap zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaplZone {
    /// Directory name, e.g. `intel-rapl:0` or `intel-rapl:0:2`.
    pub zone: String,
    /// Contents of `name`, e.g. `package-0`, `dram`.
    pub name: String,
    pub dir: PathBuf,
    /// `max_energy_range_uj`, where readable.
    pub max_energy_range_uj: Option<u64>,
}

impl RaplZone {
    pub fn energy_path(&self) -> PathBuf {
        self.dir.join("energy_uj")
    }
}

/// A package zone with its dram subzone, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaplPackage {
    /// Device name used in the record: the zone's `name` (`package-0`), made unique with the zone
    /// directory when two different packages share a name.
    pub device: String,
    pub zone: RaplZone,
    pub dram: Option<RaplZone>,
}

/// The usable RAPL zones of this machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RaplTopology {
    pub packages: Vec<RaplPackage>,
    /// Zones not counted, with why (for the diagnostic).
    pub skipped: Vec<String>,
}

impl RaplTopology {
    pub fn has_dram(&self) -> bool {
        self.packages.iter().any(|p| p.dram.is_some())
    }
}

/// What [`probe`] found.
#[derive(Debug)]
pub enum RaplStatus {
    /// No powercap RAPL zones: a VM, a non-x86 CPU, or the driver is not loaded.
    Absent,
    /// Zones exist but `energy_uj` cannot be read.
    Unreadable {
        path: PathBuf,
        error: io::Error,
        zones: usize,
    },
    Ready(RaplTopology),
}

/// Probe result plus the one `rapl` line for `ecotrace doctor`.
#[derive(Debug)]
pub struct RaplProbe {
    pub status: RaplStatus,
    pub diagnostic: Diagnostic,
}

/// How long discovery waits before re-reading same-name packages whose counters were identical,
/// to tell a mirrored zone (still identical) from two packages that happened to match.
const MIRROR_RECHECK: Duration = Duration::from_millis(30);

/// The fix shown when `energy_uj` is root-only.
pub const UNREADABLE_FIX: &str = "run `sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj \
/sys/class/powercap/intel-rapl:*:*/energy_uj` (lasts until reboot), or add a udev rule that does \
the same at boot (docs/sensors.md), or run ecotrace as root; or give the CPU's power with \
--cpu-power W";

fn zone_index(name: &str, prefix: &str) -> Option<Vec<u32>> {
    let rest = name.strip_prefix(prefix)?.strip_prefix(':')?;
    rest.split(':').map(|p| p.parse::<u32>().ok()).collect()
}

/// Finds the RAPL zones under `<sysfs>/class/powercap`, reads every counter once, and checks that
/// they can be read.
pub fn probe(roots: &Roots, fs: &dyn SysfsRead) -> RaplProbe {
    let base = roots.sysfs.join("class/powercap");
    let absent = |detail: String| RaplProbe {
        status: RaplStatus::Absent,
        diagnostic: Diagnostic {
            sensor: "rapl",
            ok: false,
            detail,
            fix: Some(
                "nothing to do on a VM or a non-x86 machine: the CPU power model is used instead; \
                 on bare-metal x86 Linux, load the driver with `sudo modprobe intel_rapl_msr`"
                    .to_string(),
            ),
        },
    };
    let Ok(dir) = std::fs::read_dir(&base) else {
        return absent(format!(
            "no RAPL (VM or non-x86): {} does not exist",
            base.display()
        ));
    };
    let mut top: Vec<(Vec<u32>, String)> = Vec::new();
    let mut subs: Vec<(Vec<u32>, String)> = Vec::new();
    let mut skipped = Vec::new();
    let mut mmio = Vec::new();
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(idx) = zone_index(&name, "intel-rapl") {
            match idx.len() {
                1 => top.push((idx, name)),
                2 => subs.push((idx, name)),
                _ => {}
            }
        } else if zone_index(&name, "intel-rapl-mmio").is_some() {
            mmio.push(name);
        }
    }
    top.sort();
    subs.sort();
    mmio.sort();
    for z in mmio {
        skipped.push(format!("{z} (MMIO copy of a package counter)"));
    }
    if top.is_empty() {
        return absent(format!(
            "no RAPL (VM or non-x86): no intel-rapl zones in {}",
            base.display()
        ));
    }

    let zone = |dir_name: &str| -> RaplZone {
        let dir = base.join(dir_name);
        let name = fs
            .read_string(&dir.join("name"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let max_energy_range_uj = fs
            .read_u64(&dir.join("max_energy_range_uj"))
            .ok()
            .filter(|&m| m > 0);
        RaplZone {
            zone: dir_name.to_string(),
            name,
            dir,
            max_energy_range_uj,
        }
    };

    // Packages (and the zones we skip), with a first reading of every counter we will use.
    let mut packages: Vec<(RaplPackage, u64)> = Vec::new();
    for (idx, dir_name) in &top {
        let z = zone(dir_name);
        if z.name == "psys" {
            skipped.push(format!(
                "psys ({dir_name}: whole platform, contains the packages: would double count)"
            ));
            continue;
        }
        if !z.name.starts_with("package") {
            skipped.push(format!("{} ({dir_name}: not a package zone)", z.name));
            continue;
        }
        let first = match fs.read_u64(&z.energy_path()) {
            Ok(v) => v,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                skipped.push(format!("{} ({dir_name}: no energy_uj)", z.name));
                continue;
            }
            Err(error) => return unreadable(z.energy_path(), error, top.len() + subs.len()),
        };
        let dram = subs
            .iter()
            .filter(|(sidx, _)| sidx[0] == idx[0])
            .map(|(_, n)| zone(n))
            .find(|s| s.name == "dram");
        let dram = match dram {
            Some(d) => match fs.read_u64(&d.energy_path()) {
                Ok(_) => Some(d),
                Err(error) => return unreadable(d.energy_path(), error, top.len() + subs.len()),
            },
            None => None,
        };
        packages.push((
            RaplPackage {
                device: z.name.clone(),
                zone: z,
                dram,
            },
            first,
        ));
    }

    // Mirrored zones: same name and the same counter value now and a moment later.
    let mut keep = vec![true; packages.len()];
    let mut recheck_pairs = Vec::new();
    for i in 0..packages.len() {
        for j in (i + 1)..packages.len() {
            let (a, va) = &packages[i];
            let (b, vb) = &packages[j];
            if keep[j] && a.zone.name == b.zone.name && va == vb {
                recheck_pairs.push((i, j));
            }
        }
    }
    if !recheck_pairs.is_empty() {
        std::thread::sleep(MIRROR_RECHECK);
        let again: Vec<Option<u64>> = packages
            .iter()
            .map(|(p, _)| fs.read_u64(&p.zone.energy_path()).ok())
            .collect();
        let mut mirrored: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (i, j) in recheck_pairs {
            if keep[i] && keep[j] && again[i].is_some() && again[i] == again[j] {
                keep[j] = false;
                mirrored
                    .entry(format!(
                        "{} ({})",
                        packages[i].0.zone.name, packages[i].0.zone.zone
                    ))
                    .or_default()
                    .push(packages[j].0.zone.zone.clone());
            }
        }
        for (kept, dups) in mirrored {
            skipped.push(format!(
                "{} (mirror of {kept}: same name, identical counter; counted once)",
                dups.join(", ")
            ));
        }
    }
    let mut packages: Vec<RaplPackage> = packages
        .into_iter()
        .zip(keep)
        .filter_map(|((p, _), k)| k.then_some(p))
        .collect();
    // Different packages sharing a name get the zone directory in their device name.
    let names: Vec<String> = packages.iter().map(|p| p.zone.name.clone()).collect();
    for p in &mut packages {
        if names.iter().filter(|n| **n == p.zone.name).count() > 1 {
            p.device = format!("{} ({})", p.zone.name, p.zone.zone);
        }
    }

    if packages.is_empty() {
        return absent(format!(
            "no usable RAPL package zone in {}{}",
            base.display(),
            if skipped.is_empty() {
                String::new()
            } else {
                format!("; skipped: {}", skipped.join("; "))
            }
        ));
    }

    let topo = RaplTopology { packages, skipped };
    let names: Vec<&str> = topo.packages.iter().map(|p| p.device.as_str()).collect();
    let mut detail = format!(
        "{} package{}: {} (dram: {})",
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        if topo.has_dram() { "yes" } else { "no" }
    );
    if !topo.skipped.is_empty() {
        detail.push_str(&format!("; skipped: {}", topo.skipped.join("; ")));
    }
    RaplProbe {
        status: RaplStatus::Ready(topo),
        diagnostic: Diagnostic {
            sensor: "rapl",
            ok: true,
            detail,
            fix: None,
        },
    }
}

fn unreadable(path: PathBuf, error: io::Error, zones: usize) -> RaplProbe {
    let why = if error.kind() == io::ErrorKind::PermissionDenied {
        "permission denied: energy_uj is readable by root only since Linux 5.10 (CVE-2020-8694)"
            .to_string()
    } else {
        format!("{error}")
    };
    let diagnostic = Diagnostic {
        sensor: "rapl",
        ok: false,
        detail: format!(
            "RAPL present ({zones} zones) but {} cannot be read: {why}; using the CPU power model instead",
            path.display()
        ),
        fix: Some(UNREADABLE_FIX.to_string()),
    };
    RaplProbe {
        status: RaplStatus::Unreadable { path, error, zones },
        diagnostic,
    }
}

/// One counter being followed.
#[derive(Debug, Clone)]
struct Counter {
    path: PathBuf,
    max: Option<u64>,
    prev: u64,
}

impl Counter {
    fn start(fs: &dyn SysfsRead, zone: &RaplZone) -> Result<Self, SensorError> {
        let path = zone.energy_path();
        let prev = fs.read_u64(&path).map_err(|source| SensorError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(Counter {
            path,
            max: zone.max_energy_range_uj,
            prev,
        })
    }

    fn read(&self, fs: &dyn SysfsRead) -> Result<u64, SensorError> {
        fs.read_u64(&self.path).map_err(|source| SensorError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

/// Reads every counter of a sensor, all or nothing: if one fails, none advances, so the next
/// successful read covers the whole span and no energy is lost.
fn advance_all(
    fs: &dyn SysfsRead,
    counters: &mut [Counter],
    deltas: &mut [u64],
) -> Result<(), SensorError> {
    for (c, d) in counters.iter().zip(deltas.iter_mut()) {
        let now = c.read(fs)?;
        *d = now;
    }
    for (c, d) in counters.iter_mut().zip(deltas.iter_mut()) {
        let now = *d;
        *d = counter_delta(c.prev, now, c.max);
        c.prev = now;
    }
    Ok(())
}

/// Time-weighted mean of a 0..=1 factor.
#[derive(Debug, Clone, Copy, Default)]
struct Mean {
    sum: f64,
    secs: f64,
}

impl Mean {
    fn add(&mut self, x: f64, dt: Duration) {
        let s = dt.as_secs_f64();
        if x.is_finite() && s > 0.0 {
            self.sum += x * s;
            self.secs += s;
        }
    }
    fn get(&self) -> f64 {
        if self.secs > 0.0 {
            self.sum / self.secs
        } else {
            0.0
        }
    }
}

/// A set of followed RAPL counters with what they measured: the part the CPU and the DRAM
/// sensors share.
struct Followed {
    fs: Arc<dyn SysfsRead>,
    devices: Vec<String>,
    zones: Vec<String>,
    counters: Vec<Counter>,
    deltas: Vec<u64>,
    /// Whole-domain energy measured so far, per device (before attribution).
    measured: Vec<Energy>,
    /// Time-weighted mean of the share charged.
    share: Mean,
}

impl Followed {
    fn new(
        fs: Arc<dyn SysfsRead>,
        devices: Vec<String>,
        zones: Vec<String>,
        counters: Vec<Counter>,
    ) -> Self {
        let n = counters.len();
        Followed {
            fs,
            devices,
            zones,
            counters,
            deltas: vec![0; n],
            measured: vec![Energy::ZERO; n],
            share: Mean::default(),
        }
    }

    /// Advances every counter and charges `share` of each domain's energy to `out`.
    fn read(&mut self, share: f64, dt: Duration, out: &mut [Energy]) -> Result<(), SensorError> {
        advance_all(self.fs.as_ref(), &mut self.counters, &mut self.deltas)?;
        self.share.add(share, dt);
        for (i, (d, o)) in self.deltas.iter().zip(out.iter_mut()).enumerate() {
            let e = Energy::from_microjoules(*d);
            self.measured[i] += e;
            *o = e * share;
        }
        Ok(())
    }

    fn figures(&self, share_name: &str, energy_name: &str, device: usize) -> BTreeMap<String, f64> {
        BTreeMap::from([
            (share_name.to_string(), self.share.get()),
            (
                energy_name.to_string(),
                self.measured.get(device).map_or(0.0, |e| e.joules()),
            ),
        ])
    }

    fn zone(&self, device: usize) -> &str {
        self.zones.get(device).map_or("?", String::as_str)
    }
}

/// CPU energy from RAPL package counters: each package's energy over the interval × the tracked
/// work's CPU share (1 in machine scope). Devices `package-0`, `package-1`, …
pub struct RaplCpuSensor(Followed);

impl RaplCpuSensor {
    /// Takes the first reading of every package counter.
    pub fn new(topo: &RaplTopology, fs: Arc<dyn SysfsRead>) -> Result<Self, SensorError> {
        let counters = topo
            .packages
            .iter()
            .map(|p| Counter::start(fs.as_ref(), &p.zone))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RaplCpuSensor(Followed::new(
            fs,
            topo.packages.iter().map(|p| p.device.clone()).collect(),
            topo.packages.iter().map(|p| p.zone.zone.clone()).collect(),
            counters,
        )))
    }
}

impl Sensor for RaplCpuSensor {
    fn component(&self) -> ComponentKind {
        ComponentKind::Cpu
    }
    fn method(&self, _device: usize) -> Method {
        Method::Rapl
    }
    fn devices(&self) -> &[String] {
        &self.0.devices
    }
    fn read(&mut self, tick: &Tick<'_>, out: &mut [Energy]) -> Result<(), SensorError> {
        self.0.read(tick.charged_cpu_share(), tick.dt, out)
    }
    fn figures(&self, device: usize) -> BTreeMap<String, f64> {
        self.0.figures("cpu_share_mean", "package_energy_j", device)
    }
    fn note(&self, device: usize) -> String {
        format!(
            "RAPL package counter {} (powercap {}), × the tracked work's share of busy CPU time",
            self.0.devices.get(device).map_or("?", String::as_str),
            self.0.zone(device)
        )
    }
}

/// RAM energy from RAPL dram counters: each dram domain's energy × charged / used memory (clamped
/// to 0..=1; 1 in machine scope). Devices `dram-0`, `dram-1`, … (numbered by package).
pub struct RaplRamSensor(Followed);

impl RaplRamSensor {
    /// None when no package has a dram subzone.
    pub fn new(topo: &RaplTopology, fs: Arc<dyn SysfsRead>) -> Result<Option<Self>, SensorError> {
        let mut devices = Vec::new();
        let mut zones = Vec::new();
        let mut counters = Vec::new();
        for (k, p) in topo.packages.iter().enumerate() {
            if let Some(d) = &p.dram {
                let n = zone_index(&p.zone.zone, "intel-rapl")
                    .and_then(|v| v.first().copied())
                    .map_or(k as u32, |n| n);
                devices.push(format!("dram-{n}"));
                zones.push(d.zone.clone());
                counters.push(Counter::start(fs.as_ref(), d)?);
            }
        }
        if counters.is_empty() {
            return Ok(None);
        }
        Ok(Some(RaplRamSensor(Followed::new(
            fs, devices, zones, counters,
        ))))
    }
}

impl Sensor for RaplRamSensor {
    fn component(&self) -> ComponentKind {
        ComponentKind::Ram
    }
    fn method(&self, _device: usize) -> Method {
        Method::Rapl
    }
    fn devices(&self) -> &[String] {
        &self.0.devices
    }
    fn read(&mut self, tick: &Tick<'_>, out: &mut [Energy]) -> Result<(), SensorError> {
        self.0.read(tick.charged_memory_share(), tick.dt, out)
    }
    fn figures(&self, device: usize) -> BTreeMap<String, f64> {
        self.0.figures("memory_share_mean", "dram_energy_j", device)
    }
    fn note(&self, device: usize) -> String {
        format!(
            "RAPL dram counter (powercap {}), × the tracked work's share of used memory (RSS / used)",
            self.0.zone(device)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_and_wraps() {
        assert_eq!(counter_delta(100, 250, Some(1000)), 150);
        assert_eq!(counter_delta(900, 50, Some(1000)), 150);
        assert_eq!(counter_delta(900, 50, None), 50);
        // A bogus range smaller than the previous value: lower bound, never negative.
        assert_eq!(counter_delta(900, 50, Some(800)), 50);
        assert_eq!(counter_delta(7, 7, Some(10)), 0);
    }

    #[test]
    fn zone_names() {
        assert_eq!(zone_index("intel-rapl:0", "intel-rapl"), Some(vec![0]));
        assert_eq!(zone_index("intel-rapl:1:2", "intel-rapl"), Some(vec![1, 2]));
        assert_eq!(zone_index("intel-rapl", "intel-rapl"), None);
        assert_eq!(zone_index("intel-rapl-mmio:0", "intel-rapl"), None);
        assert_eq!(
            zone_index("intel-rapl-mmio:0", "intel-rapl-mmio"),
            Some(vec![0])
        );
    }
}
