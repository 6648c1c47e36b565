//! The meter: the sampling loop that reads every sensor each interval, works out what share of the
//! machine the tracked work used, integrates energy per device, and keeps per-interval power samples.
//!
//! It must not touch the ledger or format anything: checkpointing is a callback the caller gives,
//! and the live status is a small struct the caller formats. The hot path ([`Meter::step`]) reuses
//! its buffers; it allocates only when the samples buffer grows.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ecotrace_core::{
    ComponentEnergy, ComponentKind, Energy, EnergyBreakdown, Method, Power, PowerSample, Scope,
};

use crate::procfs::{CpuClock, CpuDelta, MemInfoReader, ProcessTree};
use crate::{Roots, Sensor, SensorError, Tick};

/// What the meter measures.
#[derive(Debug, Clone)]
pub struct MeterConfig {
    pub scope: Scope,
    /// In process scope: the root of the tracked process tree.
    pub root_pid: u32,
    /// Whether the root process itself is tracked (the Python tracker) or only its descendants
    /// (the CLI, which is the parent of the command).
    pub include_root: bool,
}

/// Running totals for one device of one sensor.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    energy: Energy,
    peak: Power,
}

/// Latest figures for a live status line.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Live {
    pub elapsed: Duration,
    /// Mean IT power over the last interval.
    pub power: Power,
    /// IT energy so far.
    pub energy: Energy,
    /// IT energy so far by component kind (`total` equals `energy`).
    pub by_kind: EnergyBreakdown,
}

/// Integrates sensor readings into per-device energy totals.
pub struct Meter {
    scope: Scope,
    sensors: Vec<Box<dyn Sensor>>,
    /// Flattened (sensor, device) totals; `offsets[i]` is sensor i's first slot.
    slots: Vec<Slot>,
    offsets: Vec<usize>,
    scratch: Vec<Energy>,
    tree: Option<ProcessTree>,
    cpu_clock: CpuClock,
    meminfo: MemInfoReader,
    prev_tree_ticks: u64,
    elapsed: Duration,
    last: Live,
    samples: Vec<PowerSample>,
    /// Time-weighted sums for the figures: machine utilisation and the tree's CPU share.
    util_secs: f64,
    share_secs: f64,
    /// Sensor errors, each reported once.
    errors: Vec<String>,
}

impl Meter {
    /// Takes the first readings (of the process tree and /proc/stat). The sensors have taken
    /// theirs when they were built.
    pub fn new(cfg: &MeterConfig, roots: Roots, sensors: Vec<Box<dyn Sensor>>) -> Self {
        let mut offsets = Vec::with_capacity(sensors.len());
        let mut n = 0;
        for s in &sensors {
            offsets.push(n);
            n += s.devices().len();
        }
        let max_devices = sensors.iter().map(|s| s.devices().len()).max().unwrap_or(0);
        let mut tree = match cfg.scope {
            Scope::Process => Some(ProcessTree::new(&roots, cfg.root_pid, cfg.include_root)),
            Scope::Machine => None,
        };
        let prev_tree_ticks = tree
            .as_mut()
            .and_then(|t| t.sample().ok())
            .map_or(0, |s| s.cpu_ticks);
        let cpu_clock = CpuClock::start(&roots);
        let meminfo = MemInfoReader::for_sampling(&roots);
        Meter {
            scope: cfg.scope,
            sensors,
            slots: vec![Slot::default(); n],
            offsets,
            scratch: vec![Energy::ZERO; max_devices],
            tree,
            cpu_clock,
            meminfo,
            prev_tree_ticks,
            elapsed: Duration::ZERO,
            last: Live::default(),
            samples: Vec::with_capacity(64),
            util_secs: 0.0,
            share_secs: 0.0,
            errors: Vec::new(),
        }
    }

    /// A handle the CLI adds the CPU time of processes it reaps itself to (see
    /// [`ProcessTree::reaped_ticks`]). None in machine scope.
    pub fn reaped_ticks(&self) -> Option<Arc<std::sync::atomic::AtomicU64>> {
        self.tree.as_ref().map(|t| t.reaped_ticks())
    }

    /// Reads every sensor for the interval `dt` that just ended and integrates it.
    pub fn step(&mut self, dt: Duration) {
        self.elapsed += dt;
        // Machine utilisation and the tracked tree's share of the machine's busy CPU time.
        let CpuDelta {
            busy: d_busy,
            util: machine_util,
            ..
        } = self.cpu_clock.advance();
        let mem = self.meminfo.read().ok();
        let used_memory_bytes = mem.map_or(0, |m| m.used_bytes());
        let (cpu_share, charged_memory_bytes) = match self.tree.as_mut() {
            None => (1.0, used_memory_bytes),
            Some(tree) => match tree.sample() {
                Ok(s) => {
                    let d_tree = s.cpu_ticks.saturating_sub(self.prev_tree_ticks);
                    self.prev_tree_ticks = self.prev_tree_ticks.max(s.cpu_ticks);
                    let share = if d_busy > 0 {
                        (d_tree as f64 / d_busy as f64).clamp(0.0, 1.0)
                    } else if d_tree > 0 {
                        1.0
                    } else {
                        0.0
                    };
                    (share, s.rss_bytes)
                }
                Err(e) => {
                    self.note_error("procfs", &e);
                    (0.0, 0)
                }
            },
        };
        let secs = dt.as_secs_f64();
        self.util_secs += machine_util * secs;
        self.share_secs += cpu_share * secs;

        let pids: &[u32] = match &self.tree {
            Some(t) => t.pids(),
            None => &[],
        };
        let tick = Tick {
            dt,
            scope: self.scope,
            machine_util,
            cpu_share,
            charged_memory_bytes,
            used_memory_bytes,
            pids,
        };

        let mut sample = PowerSample {
            t_s: self.elapsed.as_secs_f64(),
            cpu_w: Power::ZERO,
            gpu_w: Power::ZERO,
            ram_w: Power::ZERO,
        };
        let mut interval_energy = Energy::ZERO;
        let mut failed: Option<(usize, SensorError)> = None;
        for (i, sensor) in self.sensors.iter_mut().enumerate() {
            let n = sensor.devices().len();
            let out = &mut self.scratch[..n];
            out.fill(Energy::ZERO);
            if let Err(e) = sensor.read(&tick, out) {
                // Keep going with the other sensors; this one contributes nothing this interval.
                failed.get_or_insert((i, e));
                continue;
            }
            let base = self.offsets[i];
            let mut kind_energy = Energy::ZERO;
            for (d, e) in out.iter().enumerate() {
                let e = if e.is_finite() && *e > Energy::ZERO {
                    *e
                } else {
                    Energy::ZERO
                };
                let slot = &mut self.slots[base + d];
                slot.energy += e;
                slot.peak = slot.peak.max(e / dt);
                kind_energy += e;
            }
            interval_energy += kind_energy;
            let p = kind_energy / dt;
            match sensor.component() {
                ComponentKind::Cpu => sample.cpu_w += p,
                ComponentKind::Gpu => sample.gpu_w += p,
                ComponentKind::Ram => sample.ram_w += p,
            }
        }
        if let Some((i, e)) = failed {
            let name = sensor_label(self.sensors[i].as_ref());
            self.note_error(&name, &e);
        }
        self.samples.push(sample);
        let mut by_kind = self.last.by_kind;
        by_kind.cpu += sample.cpu_w * dt;
        by_kind.gpu += sample.gpu_w * dt;
        by_kind.ram += sample.ram_w * dt;
        by_kind.total += interval_energy;
        self.last = Live {
            elapsed: self.elapsed,
            power: interval_energy / dt,
            energy: self.last.energy + interval_energy,
            by_kind,
        };
    }

    fn note_error(&mut self, what: &str, e: &dyn std::fmt::Display) {
        if !self.errors.iter().any(|m| m.starts_with(what)) {
            self.errors.push(format!("{what}: {e}"));
        }
    }

    /// Latest figures, for a live status line.
    pub fn live(&self) -> Live {
        self.last
    }

    /// Time measured so far (the sum of the intervals stepped).
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Samples taken since the last call, handed over for storage.
    pub fn drain_samples(&mut self) -> Vec<PowerSample> {
        std::mem::take(&mut self.samples)
    }

    /// Sensor errors met so far, one line each.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// Energy per device so far, with methods, figures and notes, for the run record.
    pub fn components(&self) -> Vec<ComponentEnergy> {
        let secs = self.elapsed.as_secs_f64();
        let util_mean = if secs > 0.0 {
            self.util_secs / secs
        } else {
            0.0
        };
        let share_mean = if secs > 0.0 {
            self.share_secs / secs
        } else {
            0.0
        };
        let mut out = Vec::with_capacity(self.slots.len());
        for (i, sensor) in self.sensors.iter().enumerate() {
            for (d, device) in sensor.devices().iter().enumerate() {
                let slot = self.slots[self.offsets[i] + d];
                let mut figures: BTreeMap<String, f64> = sensor.figures(d);
                if sensor.component() == ComponentKind::Cpu {
                    figures.entry("util_mean".into()).or_insert(util_mean);
                    if self.scope == Scope::Process {
                        figures.entry("cpu_share_mean".into()).or_insert(share_mean);
                    }
                }
                out.push(ComponentEnergy {
                    component: sensor.component(),
                    device: device.clone(),
                    energy: slot.energy,
                    mean_power: slot.energy / self.elapsed,
                    peak_power: slot.peak,
                    method: sensor.method(d),
                    figures,
                    note: sensor.note(d),
                });
            }
        }
        out
    }
}

fn sensor_label(s: &dyn Sensor) -> String {
    match s.devices().first() {
        Some(_) => format!("{} ({})", s.component(), s.method(0)),
        None => s.component().to_string(),
    }
}

/// Something that is told, at least every `checkpoint_every`, what has been measured so far.
pub trait Checkpoint: Send + 'static {
    fn checkpoint(&mut self, meter: &Meter, new_samples: Vec<PowerSample>);
    /// Called on the meter thread after every step, with the figures it just produced (for work
    /// accounting at the sampling interval). Must be cheap; the default does nothing.
    fn stepped(&mut self, _live: &Live) {}
    /// Called on the meter thread once it is told to stop, before its last (partial) step.
    fn stopping(&mut self) {}
}

impl<F: FnMut(&Meter, Vec<PowerSample>) + Send + 'static> Checkpoint for F {
    fn checkpoint(&mut self, meter: &Meter, new_samples: Vec<PowerSample>) {
        self(meter, new_samples)
    }
}

struct Shared {
    stop: Mutex<bool>,
    wake: Condvar,
    live: Mutex<Live>,
}

/// A meter running on its own thread.
pub struct MeterThread<C: Checkpoint> {
    shared: Arc<Shared>,
    handle: JoinHandle<(Meter, C)>,
}

impl<C: Checkpoint> MeterThread<C> {
    /// Starts sampling every `interval`; calls `checkpoint` at least every `checkpoint_every`
    /// (between samples too, when the interval is longer).
    pub fn spawn(
        mut meter: Meter,
        interval: Duration,
        checkpoint_every: Duration,
        mut checkpoint: C,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            stop: Mutex::new(false),
            wake: Condvar::new(),
            live: Mutex::new(Live::default()),
        });
        let sh = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("ecotrace-meter".into())
            .spawn(move || {
                let mut last_step = Instant::now();
                let mut last_checkpoint = last_step;
                let mut stopped = sh.stop.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    let now = Instant::now();
                    let next_step = last_step + interval;
                    let next_cp = last_checkpoint + checkpoint_every;
                    let wake_at = next_step.min(next_cp);
                    if !*stopped && now < wake_at {
                        stopped = sh
                            .wake
                            .wait_timeout(stopped, wake_at - now)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                        continue;
                    }
                    let now = Instant::now();
                    if *stopped {
                        checkpoint.stopping();
                    }
                    if *stopped || now >= next_step {
                        meter.step(now - last_step);
                        last_step = now;
                        let live = meter.live();
                        if let Ok(mut l) = sh.live.lock() {
                            *l = live;
                        }
                        checkpoint.stepped(&live);
                    }
                    if *stopped {
                        break;
                    }
                    if now >= next_cp {
                        drop(stopped);
                        let s = meter.drain_samples();
                        checkpoint.checkpoint(&meter, s);
                        last_checkpoint = Instant::now();
                        stopped = sh.stop.lock().unwrap_or_else(|e| e.into_inner());
                    }
                }
                drop(stopped);
                (meter, checkpoint)
            })?;
        Ok(MeterThread { shared, handle })
    }

    /// Latest live figures.
    pub fn live(&self) -> Live {
        self.shared.live.lock().map(|l| *l).unwrap_or_default()
    }

    /// Takes a last reading for the partial interval, stops the thread, and hands back the meter
    /// (with its undrained samples) and the checkpoint sink.
    pub fn stop(self) -> (Meter, C) {
        *self.shared.stop.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.shared.wake.notify_all();
        match self.handle.join() {
            Ok(x) => x,
            Err(p) => std::panic::resume_unwind(p),
        }
    }
}

/// A sensor reporting a fixed power per device; for tests and for user-given figures.
#[derive(Debug, Clone)]
pub struct ConstantPowerSensor {
    pub kind: ComponentKind,
    pub method: Method,
    pub devices: Vec<String>,
    pub power: Power,
    /// Scale by the tick's CPU share (as a CPU sensor would).
    pub by_cpu_share: bool,
}

impl Sensor for ConstantPowerSensor {
    fn component(&self) -> ComponentKind {
        self.kind
    }
    fn method(&self, _device: usize) -> Method {
        self.method
    }
    fn devices(&self) -> &[String] {
        &self.devices
    }
    fn read(&mut self, tick: &Tick<'_>, out: &mut [Energy]) -> Result<(), SensorError> {
        let k = if self.by_cpu_share {
            tick.cpu_share
        } else {
            1.0
        };
        for e in out.iter_mut() {
            *e = self.power * tick.dt * k;
        }
        Ok(())
    }
    fn figures(&self, _device: usize) -> BTreeMap<String, f64> {
        BTreeMap::from([("power_w".to_string(), self.power.watts())])
    }
    fn note(&self, _device: usize) -> String {
        format!("constant {}", self.power)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn fake_proc(dir: &std::path::Path, busy: u64, idle: u64) {
        fs::create_dir_all(dir.join("proc")).unwrap();
        fs::write(
            dir.join("proc/stat"),
            format!("cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\ncpu0 {busy} 0 0 {idle} 0 0 0 0 0 0\n"),
        )
        .unwrap();
        fs::write(
            dir.join("proc/meminfo"),
            "MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:    8000000 kB\n",
        )
        .unwrap();
    }

    fn roots(dir: &std::path::Path) -> Roots {
        Roots {
            sysfs: dir.join("sys"),
            procfs: dir.join("proc"),
        }
    }

    fn constant(kind: ComponentKind, watts: f64, by_share: bool) -> Box<dyn Sensor> {
        Box::new(ConstantPowerSensor {
            kind,
            method: Method::CpuModel,
            devices: vec!["d0".into(), "d1".into()],
            power: Power::from_watts(watts),
            by_cpu_share: by_share,
        })
    }

    #[test]
    fn machine_scope_integrates_energy_and_samples() {
        let dir = tempfile::tempdir().unwrap();
        fake_proc(dir.path(), 100, 100);
        let cfg = MeterConfig {
            scope: Scope::Machine,
            root_pid: 1,
            include_root: false,
        };
        let mut m = Meter::new(
            &cfg,
            roots(dir.path()),
            vec![
                constant(ComponentKind::Cpu, 10.0, true),
                constant(ComponentKind::Gpu, 100.0, false),
            ],
        );
        fake_proc(dir.path(), 150, 150);
        m.step(Duration::from_secs(2));
        fake_proc(dir.path(), 250, 150);
        m.step(Duration::from_secs(1));
        let comps = m.components();
        assert_eq!(comps.len(), 4);
        // 10 W × 3 s per CPU device, 100 W × 3 s per GPU device.
        assert!((comps[0].energy.joules() - 30.0).abs() < 1e-9);
        assert!((comps[2].energy.joules() - 300.0).abs() < 1e-9);
        assert!((comps[0].mean_power.watts() - 10.0).abs() < 1e-9);
        // Utilisation 50 % for 2 s then 100 % for 1 s: time-weighted mean 2/3.
        assert!((comps[0].figures["util_mean"] - 2.0 / 3.0).abs() < 1e-9);
        let s = m.drain_samples();
        assert_eq!(s.len(), 2);
        assert!((s[0].cpu_w.watts() - 20.0).abs() < 1e-9);
        assert!((s[0].gpu_w.watts() - 200.0).abs() < 1e-9);
        assert_eq!(s[1].t_s, 3.0);
        assert!(m.drain_samples().is_empty());
        assert!((m.live().energy.joules() - 660.0).abs() < 1e-9);
    }

    #[test]
    fn process_scope_charges_the_tree_share() {
        let dir = tempfile::tempdir().unwrap();
        fake_proc(dir.path(), 100, 100);
        // A tree of one process (pid 42, child of 7) that uses 25 of the 100 busy ticks.
        let write_pid = |utime: u64| {
            let p = dir.path().join("proc/42");
            fs::create_dir_all(&p).unwrap();
            fs::write(
                p.join("stat"),
                format!("42 (python) R 7 42 42 0 -1 0 0 0 0 0 {utime} 0 0 0 20 0 1 0 0 0 0"),
            )
            .unwrap();
            fs::write(p.join("statm"), "100 50 0 0 0 0 0").unwrap();
        };
        write_pid(10);
        let cfg = MeterConfig {
            scope: Scope::Process,
            root_pid: 7,
            include_root: false,
        };
        let mut m = Meter::new(
            &cfg,
            roots(dir.path()),
            vec![constant(ComponentKind::Cpu, 40.0, true)],
        );
        fake_proc(dir.path(), 200, 200);
        write_pid(35);
        m.step(Duration::from_secs(1));
        let c = &m.components()[0];
        // 40 W × 1 s × 25/100.
        assert!(
            (c.energy.joules() - 10.0).abs() < 1e-9,
            "{}",
            c.energy.joules()
        );
        assert!((c.figures["cpu_share_mean"] - 0.25).abs() < 1e-9);
    }

    #[test]
    fn thread_checkpoints_and_stops_with_a_final_step() {
        let dir = tempfile::tempdir().unwrap();
        fake_proc(dir.path(), 100, 100);
        let cfg = MeterConfig {
            scope: Scope::Machine,
            root_pid: 1,
            include_root: false,
        };
        let m = Meter::new(
            &cfg,
            roots(dir.path()),
            vec![constant(ComponentKind::Cpu, 50.0, false)],
        );
        // Each checkpoint: when the thread made it, and the samples it handed over.
        type Seen = Vec<(Instant, Vec<PowerSample>)>;
        let seen = Arc::new(Mutex::new(Seen::new()));
        let seen2 = Arc::clone(&seen);
        let spawned_at = Instant::now();
        let t = MeterThread::spawn(
            m,
            Duration::from_millis(20),
            Duration::from_millis(50),
            move |_m: &Meter, s: Vec<PowerSample>| seen2.lock().unwrap().push((Instant::now(), s)),
        )
        .unwrap();
        // Wait for what the thread guarantees (checkpoints, samples) instead of a fixed sleep:
        // a loaded machine may run it late, never wrongly.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (n, stored) = {
                let s = seen.lock().unwrap();
                (s.len(), s.iter().map(|(_, v)| v.len()).sum::<usize>())
            };
            if n >= 2 && stored >= 5 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "after 60 s: {n} checkpoints, {stored} samples"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let stop_asked = Instant::now();
        let (mut m, _cp) = t.stop();
        let stopped = Instant::now();
        let seen = std::mem::take(&mut *seen.lock().unwrap());
        let first_checkpoint = seen[0].0;
        let mut samples: Vec<PowerSample> = seen.into_iter().flat_map(|(_, v)| v).collect();
        let tail = m.drain_samples();
        assert!(!tail.is_empty(), "stop takes a final step");
        samples.extend(tail);
        assert!(
            samples.windows(2).all(|w| w[0].t_s <= w[1].t_s),
            "samples in order: {:?}",
            samples.iter().map(|s| s.t_s).collect::<Vec<_>>()
        );
        // The meter's clock: it started in the thread (after the spawn, before its first
        // checkpoint) and its last step came after the stop was asked, ending at the last sample.
        let wall = m.elapsed().as_secs_f64();
        let last = samples.last().unwrap().t_s;
        assert!((last - wall).abs() < 1e-9, "last sample {last} vs {wall}");
        let lower = (stop_asked - first_checkpoint).as_secs_f64();
        let upper = (stopped - spawned_at).as_secs_f64();
        assert!(
            lower <= wall && wall <= upper,
            "wall {wall} outside [{lower}, {upper}]"
        );
        // Energy integrates over the meter's time, final partial interval included.
        let e = m.components()[0].energy.joules();
        assert!((e - 50.0 * wall).abs() < 1e-6);
    }
}
