//! The agent's loop: every interval, read the machine's sensors (machine scope), the machine's CPU
//! time and memory, the cgroup workloads, the processes holding a context on each GPU (mapped to
//! their workloads through `/proc/PID/cgroup`) and the registered process trees; book it all
//! ([`crate::account`]); render the metrics page the HTTP thread serves.
//!
//! Must not write anything but its metrics page and its socket answers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ecotrace_core::{ComponentKind, Energy, Method, Power, Scope};
use ecotrace_sensors::amdsmi::{AmdSmiBackend, AmdSmiLibrary};
use ecotrace_sensors::discover::{discover_with, Probes, SensorConfig};
use ecotrace_sensors::gpu::{GpuBackend, NvmlBackend, NvmlLibrary};
use ecotrace_sensors::gpu_select::GpuRequest;
use ecotrace_sensors::procfs::{self, ProcessTree};
use ecotrace_sensors::{Roots, Sensor, Tick};

use crate::account::{Books, DeviceInfo, GpuContexts, MachineUsage, WorkloadUsage};
use crate::cgroups::{CgroupUsage, Hierarchy, WorkloadId, WorkloadKind};
use crate::exposition::{self, AgentInfo};

/// Where the agent listens by default (loopback only: pass `--listen 0.0.0.0:9464` to expose it).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

/// What the agent is asked to do.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub interval: Duration,
    pub listen: SocketAddr,
    /// The Unix socket unprivileged `ecotrace run` asks (None: no socket).
    pub socket: Option<PathBuf>,
    /// File mode of the socket: who may ask (0o666: every local user, each about their own
    /// processes only).
    pub socket_mode: u32,
    /// What each socket client may hold (idle timeout, connections per uid, request size).
    pub socket_limits: crate::socket::SocketLimits,
    /// The GPUs measured (`--gpus`, `ECOTRACE_GPUS`, the config's `gpus`); None: every GPU.
    pub gpus: Option<GpuRequest>,
    pub roots: Roots,
    pub cpu_power: Option<Power>,
    pub ram_power: Option<Power>,
    pub intensity_g_per_kwh: f64,
    pub pue: f64,
    pub zone: String,
    /// Model servers whose work is counted, each under a workload label (`--serving`).
    pub serving: Vec<crate::serving::ServingTarget>,
}

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot listen on {addr}: {source}; pass another address with --listen (e.g. 127.0.0.1:9465)")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the socket {}: {reason}", path.display())]
    Socket { path: PathBuf, reason: String },
    #[error("no sensor can measure this machine: {0}")]
    NoSensor(String),
    #[error("cannot start a thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// A process tree registered through the socket (an unprivileged `ecotrace run`).
pub(crate) struct RunTree {
    pub tree: ProcessTree,
    pub prev_ticks: u64,
}

/// State shared by the loop, the HTTP thread and the socket thread.
pub struct Shared {
    /// Cgroup workloads: they partition the machine.
    pub books: Books,
    /// Registered runs (process trees): they overlap the cgroup workloads, so they are booked apart.
    pub runs: Books,
    pub(crate) trees: BTreeMap<String, RunTree>,
    /// The uid that registered each run id, for as long as the id is known (see
    /// [`crate::socket`]): only that uid may register it again or read it.
    pub(crate) owners: BTreeMap<String, u32>,
    pub page: crate::http::Page,
    pub info: AgentInfo,
    pub interval: Duration,
    pub roots: Roots,
    /// The work counted for each `--serving` workload label.
    pub serving: BTreeMap<String, crate::serving::ServingBook>,
}

/// Run ids whose owner is remembered beyond those still in the books.
const MAX_FORGOTTEN_OWNERS: usize = 1024;

impl Shared {
    /// Records `uid` as the owner of run id `id`. Owners of ids the books no longer know (dropped
    /// after [`crate::account::MAX_ENDED_WORKLOADS`] ended runs) are forgotten when they pile up.
    pub(crate) fn own(&mut self, id: &str, uid: u32) {
        self.owners.insert(id.to_string(), uid);
        let known = self.runs.workloads.len() + self.trees.len();
        if self.owners.len() > known + MAX_FORGOTTEN_OWNERS {
            let (runs, trees) = (&self.runs, &self.trees);
            self.owners.retain(|id, _| {
                trees.contains_key(id)
                    || runs.workloads.contains_key(&WorkloadId {
                        name: id.clone(),
                        kind: WorkloadKind::Run,
                    })
            });
        }
    }
}

pub(crate) fn lock(s: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// One GPU backend used twice: by the GPU sensor (energy) and by the agent (who holds a context).
#[derive(Clone)]
struct SharedGpu(Arc<Mutex<Box<dyn GpuBackend>>>);

impl SharedGpu {
    fn get(&self) -> MutexGuard<'_, Box<dyn GpuBackend>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl GpuBackend for SharedGpu {
    fn device_count(&self) -> usize {
        self.get().device_count()
    }
    fn name(&self, i: usize) -> String {
        self.get().name(i)
    }
    fn total_energy_mj(&self, i: usize) -> Option<u64> {
        self.get().total_energy_mj(i)
    }
    fn power_mw(&self, i: usize) -> Option<u64> {
        self.get().power_mw(i)
    }
    fn pids(&self, i: usize) -> Vec<u32> {
        self.get().pids(i)
    }
    fn vendor(&self) -> ecotrace_sensors::gpu::GpuVendor {
        self.get().vendor()
    }
    fn uuid(&self, i: usize) -> Option<String> {
        self.get().uuid(i)
    }
    fn mig(&self, i: usize) -> Option<ecotrace_sensors::gpu::MigLayout> {
        self.get().mig(i)
    }
    fn process_utilization(&self, i: usize) -> Option<Vec<(u32, u32)>> {
        self.get().process_utilization(i)
    }
}

/// The GPU backends the agent reads, each used twice: by the GPU sensors (energy) and by the
/// agent (who holds a context). None: not loaded (the sensors' discovery tries the library named
/// by the environment, as `ecotrace run` does).
#[derive(Default)]
pub struct GpuBackends {
    /// NVIDIA GPUs (NVML).
    pub nvidia: Option<Box<dyn GpuBackend>>,
    /// AMD GPUs (AMD SMI); their processes come from AMD SMI's process list (the KFD's).
    pub amd: Option<Box<dyn GpuBackend>>,
}

/// The sensors of this machine in machine scope, with what the books need to know of them.
fn sensors(
    cfg: &AgentConfig,
    nvidia: Option<SharedGpu>,
    amd: Option<SharedGpu>,
) -> (Vec<Box<dyn Sensor>>, Vec<DeviceInfo>) {
    let boxed = |g: SharedGpu| Box::new(g) as Box<dyn GpuBackend>;
    let probes = Probes {
        gpu: nvidia.map(boxed),
        amd: amd.map(boxed),
        ..Probes::default()
    };
    let mut sc = SensorConfig::new(Scope::Machine, cfg.cpu_power, cfg.ram_power);
    sc.gpus = cfg.gpus.clone();
    let d = discover_with(&sc, &cfg.roots, probes);
    let mut infos = Vec::new();
    for s in &d.sensors {
        for (i, dev) in s.devices().iter().enumerate() {
            let method = s.method(i);
            let idle_w = match method {
                Method::CpuModel => s.figures(i).get("idle_w").copied(),
                _ => None,
            };
            infos.push(DeviceInfo {
                component: s.component(),
                device: dev.clone(),
                method,
                idle_w,
                note: s.note(i),
            });
        }
    }
    (d.sensors, infos)
}

/// The running agent: call [`Agent::step`] every interval (or let [`run`] do it).
pub struct Agent {
    cfg: AgentConfig,
    sensors: Vec<Box<dyn Sensor>>,
    scratch: Vec<Energy>,
    energies: Vec<f64>,
    hierarchy: Hierarchy,
    prev_cgroups: Option<BTreeMap<WorkloadId, CgroupUsage>>,
    cpu_clock: procfs::CpuClock,
    meminfo: procfs::MemInfoReader,
    ticks_per_sec: f64,
    /// The GPU backends, to see who holds a context: NVIDIA's, AMD's.
    gpu: [Option<SharedGpu>; 2],
    /// Per device of the books: its backend (0 NVIDIA, 1 AMD) and index there; None for other
    /// devices.
    gpu_index: Vec<Option<(usize, usize)>>,
    /// Who held a context on each GPU device at the previous read.
    prev_gpu: BTreeMap<usize, GpuContexts>,
    pub shared: Arc<Mutex<Shared>>,
}

impl Agent {
    /// Discovers the sensors and takes the first readings. GPUs are read through NVML
    /// (`ECOTRACE_NVML_LIBRARY`) and AMD SMI (`ECOTRACE_AMDSMI_LIBRARY`), as `ecotrace run` does.
    pub fn new(cfg: AgentConfig) -> Result<Agent, AgentError> {
        let nvidia = NvmlBackend::load(&NvmlLibrary::resolve(None))
            .ok()
            .map(|b| Box::new(b) as Box<dyn GpuBackend>);
        let amd = AmdSmiBackend::load(&AmdSmiLibrary::resolve(None), &cfg.roots)
            .ok()
            .map(|b| Box::new(b) as Box<dyn GpuBackend>);
        Self::with_gpu_backends(cfg, GpuBackends { nvidia, amd })
    }

    /// [`Agent::new`], reading the NVIDIA GPUs through `gpu` instead of NVML (tests pass a
    /// `FakeGpuBackend`).
    pub fn with_gpu_backend(
        cfg: AgentConfig,
        gpu: Box<dyn GpuBackend>,
    ) -> Result<Agent, AgentError> {
        Self::with_gpu_backends(
            cfg,
            GpuBackends {
                nvidia: Some(gpu),
                amd: None,
            },
        )
    }

    /// [`Agent::new`], reading the GPUs through `gpus` (tests pass fake NVML and AMD SMI
    /// backends).
    pub fn with_gpu_backends(cfg: AgentConfig, gpus: GpuBackends) -> Result<Agent, AgentError> {
        let share = |b: Box<dyn GpuBackend>| SharedGpu(Arc::new(Mutex::new(b)));
        let gpu = [gpus.nvidia.map(share), gpus.amd.map(share)];
        let (sensors, infos) = sensors(&cfg, gpu[0].clone(), gpu[1].clone());
        if sensors.is_empty() {
            return Err(AgentError::NoSensor(
                "run `ecotrace doctor` to see why, or pass --cpu-power W".into(),
            ));
        }
        let max = sensors.iter().map(|s| s.devices().len()).max().unwrap_or(0);
        let n = infos.len();
        let hierarchy = Hierarchy::detect(&cfg.roots);
        let prev_cgroups = Some(hierarchy.scan());
        let cpu_clock = procfs::CpuClock::start(&cfg.roots);
        let meminfo = procfs::MemInfoReader::for_sampling(&cfg.roots);
        // The GPU sensors name their devices `gpu<number>`, NVIDIA GPUs first, then AMD GPUs
        // (as `ecotrace run` and `--gpus` number them): the contexts are read from NVML for the
        // former, from AMD SMI's process list for the latter. GPUs left out by `--gpus` are not
        // among the devices.
        let counts = gpu
            .each_ref()
            .map(|g| g.as_ref().map_or(0, |g| g.device_count()));
        let gpu_index: Vec<Option<(usize, usize)>> = infos
            .iter()
            .map(|d| match d.component {
                ComponentKind::Gpu => d
                    .device
                    .strip_prefix("gpu")
                    .and_then(|n| n.parse::<usize>().ok())
                    .and_then(|n| match n.checked_sub(counts[0]) {
                        None => Some((0, n)),
                        Some(a) if a < counts[1] => Some((1, a)),
                        Some(_) => None,
                    }),
                _ => None,
            })
            .collect();
        let info = AgentInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            node: procfs::hostname(&cfg.roots),
            zone: cfg.zone.clone(),
        };
        let shared = Shared {
            books: Books::new(infos.clone(), cfg.intensity_g_per_kwh, cfg.pue),
            runs: Books::new(infos, cfg.intensity_g_per_kwh, cfg.pue),
            trees: BTreeMap::new(),
            owners: BTreeMap::new(),
            page: Arc::new(Mutex::new(Arc::from(""))),
            info,
            interval: cfg.interval,
            roots: cfg.roots.clone(),
            serving: BTreeMap::new(),
        };
        let mut agent = Agent {
            ticks_per_sec: procfs::clock_ticks_per_sec().max(1) as f64,
            cfg,
            sensors,
            scratch: vec![Energy::ZERO; max],
            energies: vec![0.0; n],
            hierarchy,
            prev_cgroups,
            cpu_clock,
            meminfo,
            gpu,
            gpu_index,
            prev_gpu: BTreeMap::new(),
            shared: Arc::new(Mutex::new(shared)),
        };
        let present = agent.prev_cgroups.clone().unwrap_or_default();
        agent.prev_gpu = agent.gpu_contexts(|id| present.contains_key(id));
        agent.render();
        Ok(agent)
    }

    /// Who holds a context on each GPU device of the books now: the workloads of the processes
    /// the backend lists (`booked` says which workloads the books charge this interval); a
    /// process in none of them makes the GPU `outside`.
    fn gpu_contexts(&self, booked: impl Fn(&WorkloadId) -> bool) -> BTreeMap<usize, GpuContexts> {
        let mut out = BTreeMap::new();
        for (dev, index) in self.gpu_index.iter().enumerate() {
            let Some((backend, index)) = *index else {
                continue;
            };
            let Some(gpu) = &self.gpu[backend] else {
                continue;
            };
            let mut c = GpuContexts::default();
            for pid in gpu.pids(index) {
                match self.hierarchy.workload_of_pid(&self.cfg.roots, pid) {
                    Some(id) if booked(&id) => {
                        c.workloads.insert(id);
                    }
                    _ => c.outside = true,
                }
            }
            out.insert(dev, c);
        }
        out
    }

    /// Reads and books the interval `dt` that just ended.
    pub fn step(&mut self, dt: Duration) {
        let procfs::CpuDelta {
            busy: d_busy,
            util: machine_util,
            ..
        } = self.cpu_clock.advance();
        let used = self.meminfo.read().map_or(0, |m| m.used_bytes());
        let tick = Tick {
            dt,
            scope: Scope::Machine,
            machine_util,
            cpu_share: 1.0,
            charged_memory_bytes: used,
            used_memory_bytes: used,
            pids: &[],
        };
        let mut k = 0;
        for s in self.sensors.iter_mut() {
            let n = s.devices().len();
            let out = &mut self.scratch[..n];
            out.fill(Energy::ZERO);
            let ok = s.read(&tick, out).is_ok();
            for e in out.iter() {
                self.energies[k] = if ok { e.joules() } else { 0.0 };
                k += 1;
            }
        }
        let machine = MachineUsage {
            busy_cpu_usec: d_busy as f64 * 1e6 / self.ticks_per_sec,
            used_memory_bytes: used as f64,
        };

        // Cgroup workloads: CPU time since the last scan (all of it for a cgroup that appeared).
        let now = self.hierarchy.scan();
        let mut usage = BTreeMap::new();
        if let Some(prev) = &self.prev_cgroups {
            for (id, u) in &now {
                let before = prev.get(id).map_or(0, |p| p.cpu_usec);
                usage.insert(
                    id.clone(),
                    WorkloadUsage {
                        cpu_usec: u.cpu_usec.saturating_sub(before) as f64,
                        memory_bytes: u.memory_bytes as f64,
                    },
                );
            }
        }
        self.prev_cgroups = Some(now);

        // GPUs: who held a context at either end of the interval.
        let gpu_now = self.gpu_contexts(|id| usage.contains_key(id));
        let mut gpus = BTreeMap::new();
        for (dev, now) in &gpu_now {
            // A workload seen only at the start and gone now is not booked: the books leave its
            // part unattributed.
            let c = match self.prev_gpu.get(dev) {
                Some(prev) => now.union(prev),
                None => now.clone(),
            };
            gpus.insert(*dev, c);
        }
        self.prev_gpu = gpu_now;

        let mut sh = lock(&self.shared);
        // Registered runs: their process trees.
        let mut run_usage = BTreeMap::new();
        let ticks_per_sec = self.ticks_per_sec;
        for (id, t) in sh.trees.iter_mut() {
            if let Ok(s) = t.tree.sample() {
                let d = s.cpu_ticks.saturating_sub(t.prev_ticks);
                t.prev_ticks = t.prev_ticks.max(s.cpu_ticks);
                run_usage.insert(
                    WorkloadId {
                        name: id.clone(),
                        kind: WorkloadKind::Run,
                    },
                    WorkloadUsage {
                        cpu_usec: d as f64 * 1e6 / ticks_per_sec,
                        memory_bytes: s.rss_bytes as f64,
                    },
                );
            }
        }
        let energies = self.energies.clone();
        sh.books
            .step_with_gpus(dt, &energies, machine, &usage, &gpus);
        sh.runs.step(dt, &energies, machine, &run_usage);
        drop(sh);
        self.render();
    }

    fn render(&self) {
        let sh = lock(&self.shared);
        let mut page = exposition::render(&sh.books, &sh.runs, &sh.info);
        crate::serving::render(&mut page, &sh.serving, &sh.books, &sh.runs);
        let page: Arc<str> = page.into();
        // Swapped in whole: a scrape holds this lock only to clone the `Arc`.
        *sh.page.lock().unwrap_or_else(|e| e.into_inner()) = page;
    }

    pub fn config(&self) -> &AgentConfig {
        &self.cfg
    }
}

/// Tells [`run`] to stop. The sampling loop waits for its next interval on a condition variable
/// that [`Stop::stop`] signals, so it sleeps the whole interval (no periodic wake-up to look at a
/// flag) and still stops at once.
#[derive(Clone, Default)]
pub struct Stop {
    flag: Arc<AtomicBool>,
    wake: Arc<(Mutex<()>, Condvar)>,
}

impl Stop {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the agent to stop; safe to call from any thread (not from a signal handler: see
    /// `ecotrace agent`, which waits for signals on a thread of its own).
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let _held = self.wake.0.lock().unwrap_or_else(|e| e.into_inner());
        self.wake.1.notify_all();
    }

    pub fn is_stopped(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Waits up to `d`, or until [`Stop::stop`]. True when stopped.
    pub(crate) fn wait(&self, d: Duration) -> bool {
        let held = self.wake.0.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_stopped() {
            return true;
        }
        let _ = self
            .wake
            .1
            .wait_timeout(held, d)
            .unwrap_or_else(|e| e.into_inner());
        self.is_stopped()
    }
}

/// Runs the agent until `stop`: the HTTP server on its own thread, the socket (if any) on
/// another, the sampling loop on this one. `ready` is called once everything listens. Every thread
/// blocks (in `accept`, `read`, or waiting for the next interval) when there is nothing to do.
pub fn run(cfg: AgentConfig, stop: Stop, ready: impl FnOnce(SocketAddr)) -> Result<(), AgentError> {
    let listener = crate::http::bind(cfg.listen).map_err(|source| AgentError::Bind {
        addr: cfg.listen,
        source,
    })?;
    let addr = listener.local_addr().unwrap_or(cfg.listen);
    let mut agent = Agent::new(cfg)?;
    let page = lock(&agent.shared).page.clone();
    let http_stop = stop.flag.clone();
    let http = std::thread::Builder::new()
        .name("ecotrace-http".into())
        .spawn(move || crate::http::serve(listener, page, http_stop))
        .map_err(AgentError::Thread)?;
    let socket = match &agent.cfg.socket {
        Some(path) => Some(crate::socket::start(
            path,
            agent.shared.clone(),
            stop.flag.clone(),
            agent.cfg.socket_mode,
            agent.cfg.socket_limits,
        )?),
        None => None,
    };
    let serving = if agent.cfg.serving.is_empty() {
        None
    } else {
        Some(
            crate::serving::spawn(
                agent.cfg.serving.clone(),
                agent.cfg.interval,
                agent.shared.clone(),
                stop.clone(),
            )
            .map_err(AgentError::Thread)?,
        )
    };
    ready(addr);
    let interval = agent.cfg.interval;
    let mut last = Instant::now();
    let mut next = last + interval;
    while !stop.is_stopped() {
        let now = Instant::now();
        if now < next {
            if stop.wait(next - now) {
                break;
            }
            continue;
        }
        agent.step(now - last);
        last = now;
        next += interval;
        if next < now {
            next = now + interval;
        }
    }
    // The server threads block in accept: one connection each wakes them to see `stop`.
    crate::http::wake(addr);
    let _ = http.join();
    if let Some(s) = serving {
        let _ = s.join();
    }
    if let (Some(s), Some(path)) = (socket, &agent.cfg.socket) {
        crate::socket::wake(path);
        let _ = s.join();
    }
    Ok(())
}
