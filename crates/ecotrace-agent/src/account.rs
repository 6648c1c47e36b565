//! The agent's books: machine energy per device, split each interval into idle and active, and
//! charged to workloads by their share of what the machine did.
//!
//! For every device and interval: `E = E_idle + E_active`, where `E_idle = min(E, P_idle × dt)`.
//! `P_idle` is the model's own idle power where there is one (`idle_w` of the CPU model) and
//! otherwise the lowest interval power seen in the last [`IDLE_WINDOW`] intervals (the device's
//! floor). A workload is charged `share × E_active` as *active* and, labelled apart,
//! `share × E_idle` as *idle*, where `share` is its part of the machine's busy CPU time (CPU
//! devices) or of its used memory (RAM devices). A GPU's share is split equally among the holders
//! of a context on it over the interval ([`GpuContexts`]): each workload holding one is a holder
//! (however many of its processes do), and processes in no workload together are one more holder,
//! whose part stays unattributed; a GPU without any context is wholly unattributed. What no
//! workload accounts for (the kernel, processes outside any workload, processes that exited
//! between two reads) stays *unattributed*, so the workloads and the unattributed part always add
//! up to the device's energy.
//!
//! Pure arithmetic on what the caller read: no I/O, no clock. Workloads that end keep their totals.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use ecotrace_core::{ComponentKind, Method};

use crate::cgroups::WorkloadId;

/// Intervals over which the floor (idle power) of a device without an idle model is taken.
pub const IDLE_WINDOW: usize = 600;

/// At most this many ended workloads are kept (the oldest are dropped first).
pub const MAX_ENDED_WORKLOADS: usize = 5_000;

/// One device as the sensors describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    pub component: ComponentKind,
    pub device: String,
    pub method: Method,
    /// The model's idle power, when the method has one.
    pub idle_w: Option<f64>,
    /// The sensor's note on where the figures come from.
    pub note: String,
}

/// What one workload did over one interval.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WorkloadUsage {
    /// CPU time used over the interval, µs.
    pub cpu_usec: f64,
    /// Memory it holds now, bytes.
    pub memory_bytes: f64,
}

/// What the machine did over one interval, for the shares.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MachineUsage {
    /// Busy CPU time of the whole machine over the interval, µs.
    pub busy_cpu_usec: f64,
    /// Memory in use on the machine, bytes.
    pub used_memory_bytes: f64,
}

/// Who held a context on one GPU over an interval.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GpuContexts {
    /// Workloads with at least one process holding a context (the number of processes does not
    /// matter: the GPU is split equally per workload).
    pub workloads: BTreeSet<WorkloadId>,
    /// Whether a process in no workload (or one no longer booked) held a context: it counts as
    /// one more holder, whose part stays unattributed.
    pub outside: bool,
}

impl GpuContexts {
    /// Nobody held a context.
    pub fn is_empty(&self) -> bool {
        self.workloads.is_empty() && !self.outside
    }

    /// Both intervals' holders (a context seen at either end of an interval counts for it).
    pub fn union(&self, other: &GpuContexts) -> GpuContexts {
        GpuContexts {
            workloads: self.workloads.union(&other.workloads).cloned().collect(),
            outside: self.outside || other.outside,
        }
    }

    /// The share of the GPU each holder is charged: `1 / holders`, 0 with no holder.
    pub fn share(&self) -> f64 {
        let holders = self.workloads.len() + usize::from(self.outside);
        if holders == 0 {
            0.0
        } else {
            1.0 / holders as f64
        }
    }
}

/// Energy totals, in joules, split into active and idle.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Split {
    pub active_j: f64,
    pub idle_j: f64,
}

impl Split {
    pub fn total(&self) -> f64 {
        self.active_j + self.idle_j
    }
}

/// One device's books.
#[derive(Debug, Clone)]
pub struct DeviceBook {
    pub info: DeviceInfo,
    /// Energy since the agent started.
    pub energy: Split,
    /// Mean power over the last interval.
    pub power_w: f64,
    /// Idle power used for the last interval.
    pub idle_power_w: f64,
    floor: VecDeque<f64>,
}

/// One workload's books: per device (in the order of [`Books::devices`]), plus its CO2e.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadBook {
    pub per_device: Vec<Split>,
    /// Operational emissions (energy × PUE × intensity) of the active and idle parts, in grams
    /// (the fields are named for joules but hold grams here).
    pub grams: Split,
    /// Intervals it has been seen in.
    pub intervals: u64,
    /// Whether it was present in the last interval.
    pub live: bool,
    /// Extra labels (e.g. `project` for a run registered through the socket).
    pub project: Option<String>,
}

impl WorkloadBook {
    fn new(devices: usize) -> Self {
        WorkloadBook {
            per_device: vec![Split::default(); devices],
            grams: Split::default(),
            intervals: 0,
            live: false,
            project: None,
        }
    }

    /// Energy over every device.
    pub fn energy(&self) -> Split {
        let mut s = Split::default();
        for d in &self.per_device {
            s.active_j += d.active_j;
            s.idle_j += d.idle_j;
        }
        s
    }
}

/// The agent's books.
#[derive(Debug, Clone)]
pub struct Books {
    pub devices: Vec<DeviceBook>,
    pub workloads: BTreeMap<WorkloadId, WorkloadBook>,
    /// Energy no workload accounts for, per device.
    pub unattributed: Vec<Split>,
    /// Operational emissions of the whole machine, grams.
    pub grams_total: f64,
    pub intensity_g_per_kwh: f64,
    pub pue: f64,
    /// Time accounted so far.
    pub elapsed: Duration,
    ended_order: VecDeque<WorkloadId>,
}

const J_PER_KWH: f64 = 3.6e6;

impl Books {
    pub fn new(devices: Vec<DeviceInfo>, intensity_g_per_kwh: f64, pue: f64) -> Self {
        let n = devices.len();
        Books {
            devices: devices
                .into_iter()
                .map(|info| DeviceBook {
                    info,
                    energy: Split::default(),
                    power_w: 0.0,
                    idle_power_w: 0.0,
                    floor: VecDeque::new(),
                })
                .collect(),
            workloads: BTreeMap::new(),
            unattributed: vec![Split::default(); n],
            grams_total: 0.0,
            intensity_g_per_kwh,
            pue,
            elapsed: Duration::ZERO,
            ended_order: VecDeque::new(),
        }
    }

    /// Operational CO2e of `joules` of IT energy, grams (× PUE × intensity).
    pub fn grams(&self, joules: f64) -> f64 {
        joules / J_PER_KWH * self.pue * self.intensity_g_per_kwh
    }

    /// Books one interval of length `dt`: `energy_j[i]` is device `i`'s energy over it (machine
    /// scope), `machine` what the machine did, `usage` what each workload present did. GPU
    /// devices are all unattributed (see [`Books::step_with_gpus`]).
    pub fn step(
        &mut self,
        dt: Duration,
        energy_j: &[f64],
        machine: MachineUsage,
        usage: &BTreeMap<WorkloadId, WorkloadUsage>,
    ) {
        self.step_with_gpus(dt, energy_j, machine, usage, &BTreeMap::new());
    }

    /// [`Books::step`], where `gpus[i]` says who held a context on GPU device `i` (an index of
    /// [`Books::devices`]) over the interval: each holder is charged an equal part of that
    /// device's active and idle energy. A GPU device without an entry, or with no holder, is
    /// unattributed; so is the part of holders that are not in `usage`.
    pub fn step_with_gpus(
        &mut self,
        dt: Duration,
        energy_j: &[f64],
        machine: MachineUsage,
        usage: &BTreeMap<WorkloadId, WorkloadUsage>,
        gpus: &BTreeMap<usize, GpuContexts>,
    ) {
        let secs = dt.as_secs_f64();
        if secs <= 0.0 {
            return;
        }
        self.elapsed += dt;
        let n = self.devices.len();
        for w in self.workloads.values_mut() {
            w.live = false;
        }
        for id in usage.keys() {
            if !self.workloads.contains_key(id) {
                self.workloads.insert(id.clone(), WorkloadBook::new(n));
            }
            let w = self.workloads.get_mut(id).expect("inserted above");
            w.live = true;
            w.intervals += 1;
        }
        // Denominators: the machine's totals, or the workloads' sum when that is larger (reads
        // taken a moment apart), so shares never add up past 1.
        let sum_cpu: f64 = usage.values().map(|u| u.cpu_usec.max(0.0)).sum();
        let sum_mem: f64 = usage.values().map(|u| u.memory_bytes.max(0.0)).sum();
        let cpu_den = machine.busy_cpu_usec.max(sum_cpu);
        let mem_den = machine.used_memory_bytes.max(sum_mem);
        for i in 0..n {
            let e = energy_j.get(i).copied().unwrap_or(0.0);
            let e = if e.is_finite() && e > 0.0 { e } else { 0.0 };
            let p = e / secs;
            let dev = &mut self.devices[i];
            dev.power_w = p;
            let idle_w = match dev.info.idle_w {
                Some(w) => w,
                None => {
                    dev.floor.push_back(p);
                    if dev.floor.len() > IDLE_WINDOW {
                        dev.floor.pop_front();
                    }
                    dev.floor.iter().copied().fold(f64::INFINITY, f64::min)
                }
            };
            dev.idle_power_w = idle_w;
            let idle = e.min(idle_w.max(0.0) * secs);
            let active = e - idle;
            dev.energy.active_j += active;
            dev.energy.idle_j += idle;
            let mut charged = Split::default();
            let component = dev.info.component;
            let gpu = gpus.get(&i).filter(|_| component == ComponentKind::Gpu);
            let gpu_share = gpu.map_or(0.0, GpuContexts::share);
            for (id, u) in usage {
                let share = match component {
                    ComponentKind::Cpu if cpu_den > 0.0 => u.cpu_usec.max(0.0) / cpu_den,
                    ComponentKind::Ram if mem_den > 0.0 => u.memory_bytes.max(0.0) / mem_den,
                    ComponentKind::Gpu if gpu.is_some_and(|g| g.workloads.contains(id)) => {
                        gpu_share
                    }
                    _ => 0.0,
                };
                if share <= 0.0 {
                    continue;
                }
                let add = Split {
                    active_j: active * share,
                    idle_j: idle * share,
                };
                charged.active_j += add.active_j;
                charged.idle_j += add.idle_j;
                let w = self.workloads.get_mut(id).expect("present");
                w.per_device[i].active_j += add.active_j;
                w.per_device[i].idle_j += add.idle_j;
            }
            self.unattributed[i].active_j += (active - charged.active_j).max(0.0);
            self.unattributed[i].idle_j += (idle - charged.idle_j).max(0.0);
            self.grams_total += self.grams(e);
        }
        // Emissions per workload, from its energy so far.
        let (pue, intensity) = (self.pue, self.intensity_g_per_kwh);
        for id in usage.keys() {
            let w = self.workloads.get_mut(id).expect("present");
            let e = w.energy();
            w.grams = Split {
                active_j: e.active_j / J_PER_KWH * pue * intensity,
                idle_j: e.idle_j / J_PER_KWH * pue * intensity,
            };
        }
        self.forget_old_ended(usage);
    }

    /// Keeps at most [`MAX_ENDED_WORKLOADS`] ended workloads (the most recently ended).
    fn forget_old_ended(&mut self, usage: &BTreeMap<WorkloadId, WorkloadUsage>) {
        let just_ended: Vec<WorkloadId> = self
            .workloads
            .iter()
            .filter(|(id, w)| !w.live && !usage.contains_key(*id) && !self.ended_order.contains(id))
            .map(|(id, _)| id.clone())
            .collect();
        self.ended_order.extend(just_ended);
        // A workload that came back is live again.
        let workloads = &self.workloads;
        self.ended_order
            .retain(|id| workloads.get(id).is_some_and(|w| !w.live));
        while self.ended_order.len() > MAX_ENDED_WORKLOADS {
            if let Some(id) = self.ended_order.pop_front() {
                self.workloads.remove(&id);
            }
        }
    }

    /// Sets the project label of a workload (runs registered through the socket).
    pub fn set_project(&mut self, id: &WorkloadId, project: &str) {
        let n = self.devices.len();
        self.workloads
            .entry(id.clone())
            .or_insert_with(|| WorkloadBook::new(n))
            .project = Some(project.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::WorkloadKind;

    fn dev(c: ComponentKind, idle: Option<f64>) -> DeviceInfo {
        DeviceInfo {
            component: c,
            device: format!("{c}"),
            method: Method::Rapl,
            idle_w: idle,
            note: String::new(),
        }
    }

    fn wid(n: &str) -> WorkloadId {
        WorkloadId {
            name: n.into(),
            kind: WorkloadKind::SlurmJob,
        }
    }

    #[test]
    fn active_and_idle_are_charged_apart_and_everything_adds_up() {
        // CPU with a 20 W idle model; RAM measured (floor taken from what is seen).
        let mut b = Books::new(
            vec![
                dev(ComponentKind::Cpu, Some(20.0)),
                dev(ComponentKind::Ram, None),
            ],
            400.0,
            1.5,
        );
        let usage = BTreeMap::from([
            (
                wid("a"),
                WorkloadUsage {
                    cpu_usec: 600_000.0,
                    memory_bytes: 2e9,
                },
            ),
            (
                wid("b"),
                WorkloadUsage {
                    cpu_usec: 200_000.0,
                    memory_bytes: 1e9,
                },
            ),
        ]);
        let machine = MachineUsage {
            busy_cpu_usec: 1_000_000.0,
            used_memory_bytes: 4e9,
        };
        // 1 s at 100 W CPU, 8 W RAM.
        b.step(Duration::from_secs(1), &[100.0, 8.0], machine, &usage);
        let a = &b.workloads[&wid("a")];
        // CPU: idle 20 J, active 80 J; a has 60% of the busy time.
        assert!((a.per_device[0].active_j - 48.0).abs() < 1e-9);
        assert!((a.per_device[0].idle_j - 12.0).abs() < 1e-9);
        // RAM: the first interval sets the floor at 8 W: all idle; a holds half the used memory.
        assert!((a.per_device[1].idle_j - 4.0).abs() < 1e-9);
        assert_eq!(a.per_device[1].active_j, 0.0);
        // Workloads + unattributed = device energy.
        for i in 0..2 {
            let sum: f64 = b
                .workloads
                .values()
                .map(|w| w.per_device[i].total())
                .sum::<f64>()
                + b.unattributed[i].total();
            assert!((sum - b.devices[i].energy.total()).abs() < 1e-9);
        }
        // CO2e: 108 J = 0.00003 kWh × 1.5 × 400 g.
        assert!((b.grams_total - 108.0 / 3.6e6 * 1.5 * 400.0).abs() < 1e-12);
        // Second interval: RAM at 10 W, its floor stays 8: 2 J active.
        b.step(Duration::from_secs(1), &[20.0, 10.0], machine, &usage);
        assert!((b.devices[1].energy.active_j - 2.0).abs() < 1e-9);
        assert!((b.devices[1].idle_power_w - 8.0).abs() < 1e-9);
        // CPU at idle: all idle.
        assert!((b.devices[0].energy.active_j - 80.0).abs() < 1e-9);
    }

    #[test]
    fn a_gpu_is_split_equally_among_its_holders_and_the_rest_is_unattributed() {
        // One GPU with no idle model; 1 s at 40 W sets its floor at 40 W: all idle.
        let mut b = Books::new(vec![dev(ComponentKind::Gpu, None)], 100.0, 1.0);
        let u = WorkloadUsage {
            cpu_usec: 1.0,
            memory_bytes: 1.0,
        };
        let usage = BTreeMap::from([(wid("a"), u), (wid("b"), u)]);
        // a and a process outside any workload: a half, the other half unattributed; b nothing.
        let gpus = BTreeMap::from([(
            0,
            GpuContexts {
                workloads: BTreeSet::from([wid("a")]),
                outside: true,
            },
        )]);
        b.step_with_gpus(
            Duration::from_secs(1),
            &[40.0],
            MachineUsage::default(),
            &usage,
            &gpus,
        );
        assert!((b.workloads[&wid("a")].per_device[0].idle_j - 20.0).abs() < 1e-9);
        assert_eq!(b.workloads[&wid("b")].per_device[0].total(), 0.0);
        assert!((b.unattributed[0].idle_j - 20.0).abs() < 1e-9);
        // a and a workload that is gone (not booked): a half, the gone one's half unattributed.
        let gpus = BTreeMap::from([(
            0,
            GpuContexts {
                workloads: BTreeSet::from([wid("a"), wid("gone")]),
                outside: false,
            },
        )]);
        b.step_with_gpus(
            Duration::from_secs(1),
            &[100.0],
            MachineUsage::default(),
            &usage,
            &gpus,
        );
        let a = b.workloads[&wid("a")].per_device[0];
        assert!(
            (a.idle_j - 40.0).abs() < 1e-9 && (a.active_j - 30.0).abs() < 1e-9,
            "{a:?}"
        );
        // Without holders (or with plain `step`) it is all unattributed.
        b.step(
            Duration::from_secs(1),
            &[40.0],
            MachineUsage::default(),
            &usage,
        );
        assert!((b.unattributed[0].total() - 20.0 - 50.0 - 40.0).abs() < 1e-9);
        let sum: f64 = b.workloads.values().map(|w| w.per_device[0].total()).sum();
        assert!((sum + b.unattributed[0].total() - b.devices[0].energy.total()).abs() < 1e-9);
    }

    #[test]
    fn ended_workloads_keep_their_totals() {
        let mut b = Books::new(vec![dev(ComponentKind::Cpu, Some(0.0))], 100.0, 1.0);
        let m = MachineUsage {
            busy_cpu_usec: 1e6,
            used_memory_bytes: 1.0,
        };
        let u = BTreeMap::from([(
            wid("x"),
            WorkloadUsage {
                cpu_usec: 1e6,
                memory_bytes: 0.0,
            },
        )]);
        b.step(Duration::from_secs(1), &[50.0], m, &u);
        b.step(Duration::from_secs(1), &[50.0], m, &BTreeMap::new());
        let x = &b.workloads[&wid("x")];
        assert!(!x.live);
        assert!((x.energy().total() - 50.0).abs() < 1e-9);
        assert!((b.unattributed[0].total() - 50.0).abs() < 1e-9);
    }
}
