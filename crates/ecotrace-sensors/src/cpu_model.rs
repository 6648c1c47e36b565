//! CPU power model, for when no energy counter can be read (VMs, non-x86, RAPL root-only) or the
//! user gave the CPU's power:
//!
//! ```text
//! P_machine = idle + (max − idle) × machine_util        charged: P_machine × cpu_share × dt
//! ```
//!
//! `max` is the CPU's TDP × sockets from the CPU table (looked up by the `/proc/cpuinfo` model
//! name), or [`DEFAULT_W_PER_CORE`] × physical cores for a CPU the table does not know, or the
//! user's `--cpu-power` figure; `idle` is [`IDLE_FRACTION`] × `max`. In a virtual machine the
//! table's TDP is scaled to the share of the host CPU's cores the guest sees.
//!
//! This module is arithmetic over the [`Tick`] the meter gives: it reads no file and does not look
//! the CPU up itself (discovery passes the table row in), so it has no I/O to fail.

use std::collections::BTreeMap;
use std::time::Duration;

use ecotrace_core::{ComponentKind, Energy, Method, Power};

use crate::procfs::CpuInfo;
use crate::{clamp01, Sensor, SensorError, Tick};

/// Idle power as a fraction of full-load power (TDP × sockets).
///
/// Derived from CodeCarbon's RAPL-vs-load measurements on five machines
/// (`codecarbon/data/hardware/cpu_load_profiling/*`, commit b05965e4, 2025-01-14), taking the
/// package energy over each 30 s idle step ÷ its duration, ÷ TDP × sockets:
/// AMD EPYC 8024P 17.7 W / 90 W = 0.20; AMD Threadripper 1950X 44.4 W / 180 W = 0.25;
/// Xeon E3-1240 v2 5.7 W / 69 W = 0.08 and (second machine) 7.5 W / 69 W = 0.11;
/// 2 × Xeon E5-2620 v3 15.7 W / 170 W = 0.09. The median, 0.11, is used (mean 0.15; the two AMD
/// parts idle higher). See docs/sensors.md for the whole derivation.
pub const IDLE_FRACTION: f64 = 0.11;

/// Full-load power per physical core for CPUs not in the table, in watts.
///
/// The median TDP ÷ physical cores over the 2,837 rows of CodeCarbon's vendor datasets that give
/// both (Intel ARK 2,024 rows: 9.8 W; AMD server 201 rows: 8.1 W; AMD desktop 612 rows: 8.3 W;
/// pooled median 8.75 W, server parts alone also 8.75 W; `cpu_dataset_builder/*.csv`, commit
/// b05965e4).
pub const DEFAULT_W_PER_CORE: f64 = 8.75;

/// A row of the CPU table (the bundled one is `ecotrace_data::cpu_lookup`'s).
pub use ecotrace_data::CpuSpec;

/// Where the model's full-load power comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum CpuBasis {
    /// The CPU table's row for this model.
    Table(CpuSpec),
    /// `--cpu-power W`: the machine's CPU power at full load.
    User(Power),
    /// Not in the table (or no table): [`DEFAULT_W_PER_CORE`] × physical cores.
    Default,
}

/// The model's figures, worked out once at discovery.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuModelParams {
    pub basis: CpuBasis,
    /// TDP of one package (for the user and default bases: max_w ÷ sockets).
    pub tdp_w: f64,
    pub sockets: u32,
    /// Full-load power of the whole machine's CPUs.
    pub max_w: f64,
    pub idle_w: f64,
    /// In a VM with a table row: the share of the host package's cores the guest sees.
    pub vm_core_fraction: Option<f64>,
    /// One line saying where the figures come from.
    pub note: String,
}

impl CpuModelParams {
    /// Works out `max` and `idle` for this machine. `spec` is the table row for
    /// `cpu.model_name`, if the table has one; `user` the `--cpu-power` figure, which wins.
    pub fn new(cpu: &CpuInfo, user: Option<Power>, spec: Option<CpuSpec>) -> Self {
        let sockets = cpu.sockets.max(1);
        let cores = cpu.physical_cores.max(1);
        let idle_pct = format!("{:.0}%", IDLE_FRACTION * 100.0);
        let (basis, max_w, vm_core_fraction, note) = match (user, spec) {
            (Some(p), _) => {
                let w = finite_nonneg(p.watts());
                (
                    CpuBasis::User(p),
                    w,
                    None,
                    format!("user-given {w} W (--cpu-power) at full load; idle {idle_pct} of it"),
                )
            }
            (None, Some(spec)) => {
                let tdp = finite_nonneg(spec.tdp.watts());
                let origin = format!(
                    "{}: TDP {} W from {} ({})",
                    spec.name,
                    fmt_w(tdp),
                    spec.source,
                    spec.year
                );
                if cpu.virtualized {
                    // A guest sees a slice of the host: scale the package's TDP by the cores it
                    // sees (capped at the sockets it reports).
                    match spec.cores.filter(|&c| c > 0) {
                        Some(host_cores) => {
                            let f = (cores as f64 / host_cores as f64).min(sockets as f64);
                            let max = tdp * f;
                            (
                                CpuBasis::Table(spec),
                                max,
                                Some(f),
                                format!(
                                    "{origin}, × {cores}/{host_cores} cores visible to this VM = {} W; \
                                     idle {idle_pct} of it",
                                    fmt_w(max)
                                ),
                            )
                        }
                        None => {
                            let by_core = DEFAULT_W_PER_CORE * cores as f64;
                            let max = (tdp * sockets as f64).min(by_core);
                            (
                                CpuBasis::Table(spec),
                                max,
                                None,
                                format!(
                                    "{origin}; in a VM with {cores} cores and the host's core count \
                                     unknown: capped at {DEFAULT_W_PER_CORE} W per core = {} W; idle \
                                     {idle_pct} of it",
                                    fmt_w(max)
                                ),
                            )
                        }
                    }
                } else {
                    let max = tdp * sockets as f64;
                    let sock = if sockets > 1 {
                        format!(" × {sockets} sockets")
                    } else {
                        String::new()
                    };
                    (
                        CpuBasis::Table(spec),
                        max,
                        None,
                        format!("{origin}{sock}; idle {idle_pct} of it"),
                    )
                }
            }
            (None, None) => {
                let max = DEFAULT_W_PER_CORE * cores as f64;
                (
                    CpuBasis::Default,
                    max,
                    None,
                    format!(
                        "unknown CPU '{}': {DEFAULT_W_PER_CORE} W per core default (median TDP per \
                         core of the Intel ARK and AMD tables) × {cores} cores = {} W; idle \
                         {idle_pct} of it",
                        cpu.model_name,
                        fmt_w(max)
                    ),
                )
            }
        };
        let tdp_w = match &basis {
            CpuBasis::Table(s) => finite_nonneg(s.tdp.watts()),
            _ => max_w / sockets as f64,
        };
        CpuModelParams {
            basis,
            tdp_w,
            sockets,
            max_w,
            idle_w: max_w * IDLE_FRACTION,
            vm_core_fraction,
            note,
        }
    }

    /// Machine CPU power at utilisation `util` (0..=1).
    pub fn power_at(&self, util: f64) -> Power {
        let u = clamp01(util);
        Power::from_watts(self.idle_w + (self.max_w - self.idle_w) * u)
    }
}

fn finite_nonneg(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 {
        x
    } else {
        0.0
    }
}

/// Watts without a trailing `.0` for whole numbers.
fn fmt_w(w: f64) -> String {
    if (w - w.round()).abs() < 1e-9 {
        format!("{w:.0}")
    } else {
        format!("{w:.1}")
    }
}

/// The CPU power model as a sensor: one device, `cpu`, Method::CpuModel.
pub struct CpuModelSensor {
    params: CpuModelParams,
    devices: Vec<String>,
    util_secs: f64,
    share_secs: f64,
    secs: f64,
}

impl CpuModelSensor {
    pub fn new(params: CpuModelParams) -> Self {
        CpuModelSensor {
            params,
            devices: vec!["cpu".to_string()],
            util_secs: 0.0,
            share_secs: 0.0,
            secs: 0.0,
        }
    }

    pub fn params(&self) -> &CpuModelParams {
        &self.params
    }

    fn mean(&self, sum: f64) -> f64 {
        if self.secs > 0.0 {
            sum / self.secs
        } else {
            0.0
        }
    }
}

impl Sensor for CpuModelSensor {
    fn component(&self) -> ComponentKind {
        ComponentKind::Cpu
    }
    fn method(&self, _device: usize) -> Method {
        Method::CpuModel
    }
    fn devices(&self) -> &[String] {
        &self.devices
    }
    fn read(&mut self, tick: &Tick<'_>, out: &mut [Energy]) -> Result<(), SensorError> {
        let util = clamp01(tick.machine_util);
        let share = tick.charged_cpu_share();
        let dt: Duration = tick.dt;
        let s = dt.as_secs_f64();
        self.util_secs += util * s;
        self.share_secs += share * s;
        self.secs += s;
        if let Some(o) = out.first_mut() {
            *o = self.params.power_at(util) * dt * share;
        }
        Ok(())
    }
    fn figures(&self, _device: usize) -> BTreeMap<String, f64> {
        let p = &self.params;
        let mut f = BTreeMap::from([
            ("tdp_w".to_string(), p.tdp_w),
            ("idle_w".to_string(), p.idle_w),
            ("max_w".to_string(), p.max_w),
            ("sockets".to_string(), p.sockets as f64),
            ("idle_fraction".to_string(), IDLE_FRACTION),
            ("util_mean".to_string(), self.mean(self.util_secs)),
            ("cpu_share_mean".to_string(), self.mean(self.share_secs)),
        ]);
        if let Some(v) = p.vm_core_fraction {
            f.insert("vm_core_fraction".to_string(), v);
        }
        if matches!(p.basis, CpuBasis::Default) {
            f.insert("w_per_core".to_string(), DEFAULT_W_PER_CORE);
        }
        f
    }
    fn note(&self, _device: usize) -> String {
        self.params.note.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(model: &str, sockets: u32, cores: u32, vm: bool) -> CpuInfo {
        CpuInfo {
            model_name: model.into(),
            logical_cpus: cores * 2,
            sockets,
            physical_cores: cores,
            virtualized: vm,
        }
    }

    fn spec(tdp: f64, cores: Option<u32>) -> CpuSpec {
        CpuSpec {
            name: "Intel Xeon E5-2620 v3".into(),
            tdp: Power::from_watts(tdp),
            cores,
            source: "CodeCarbon CPU table".into(),
            year: 2026,
        }
    }

    #[test]
    fn table_row_times_sockets() {
        let p = CpuModelParams::new(&cpu("x", 2, 12, false), None, Some(spec(85.0, Some(6))));
        assert_eq!(p.max_w, 170.0);
        assert!((p.idle_w - 18.7).abs() < 1e-9);
        assert_eq!(p.tdp_w, 85.0);
        assert!(p.note.starts_with(
            "Intel Xeon E5-2620 v3: TDP 85 W from CodeCarbon CPU table (2026) × 2 sockets"
        ));
        assert_eq!(p.power_at(0.0).watts(), p.idle_w);
        assert_eq!(p.power_at(1.0).watts(), 170.0);
        assert_eq!(p.power_at(7.0).watts(), 170.0);
    }

    #[test]
    fn vm_scales_to_the_visible_cores() {
        let p = CpuModelParams::new(&cpu("x", 1, 4, true), None, Some(spec(280.0, Some(64))));
        assert!((p.max_w - 17.5).abs() < 1e-9);
        assert_eq!(p.vm_core_fraction, Some(4.0 / 64.0));
        assert!(
            p.note.contains("4/64 cores visible to this VM"),
            "{}",
            p.note
        );
        // Unknown host core count: capped by the per-core default.
        let p = CpuModelParams::new(&cpu("x", 1, 4, true), None, Some(spec(280.0, None)));
        assert_eq!(p.max_w, 4.0 * DEFAULT_W_PER_CORE);
    }

    #[test]
    fn user_wins_and_unknown_uses_the_default() {
        let p = CpuModelParams::new(
            &cpu("x", 2, 8, false),
            Some(Power::from_watts(45.0)),
            Some(spec(85.0, None)),
        );
        assert_eq!(p.max_w, 45.0);
        assert!(p.note.starts_with("user-given 45 W"));
        assert_eq!(p.tdp_w, 22.5);
        let p = CpuModelParams::new(&cpu("Mystery 9000", 1, 8, false), None, None);
        assert_eq!(p.max_w, 70.0);
        assert!(p
            .note
            .starts_with("unknown CPU 'Mystery 9000': 8.75 W per core default"));
    }
}
