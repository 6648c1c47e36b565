//! Projection of a whole training run from its first epochs (the carbontracker idea): the run so
//! far is assumed to go on at the same mean power per device, and the epochs still planned to take
//! as long as the mean epoch so far. Everything else follows from the record's own factors (PUE,
//! intensity, embodied items, water factors, price), through [`RunRecord::recompute`].
//!
//! Pure: the caller passes the record as measured so far and the wall time at the last epoch end.

use std::time::Duration;

use crate::record::{RunRecord, RunStatus};

/// Where a run stands: how many epochs are done, how long they took in all, how many are planned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Epochs completed so far (at least 1 for a projection).
    pub epochs_done: u32,
    /// Wall time from the start of measurement to the end of the last completed epoch.
    pub elapsed_at_last_epoch: Duration,
    /// Epochs the run is planned to have in all; a smaller number than `epochs_done` is read as
    /// `epochs_done` (the run is past its plan).
    pub planned_epochs: u32,
}

impl Progress {
    /// Projected wall time of the whole run: the mean epoch so far × the planned epochs.
    pub fn projected_duration(&self) -> Option<Duration> {
        if self.epochs_done == 0 || self.elapsed_at_last_epoch.is_zero() {
            return None;
        }
        let planned = self.planned_epochs.max(self.epochs_done);
        let secs = self.elapsed_at_last_epoch.as_secs_f64() * f64::from(planned)
            / f64::from(self.epochs_done);
        secs.is_finite().then(|| Duration::from_secs_f64(secs))
    }
}

/// The projected record of the whole run, or `None` while nothing can be projected (no epoch done,
/// no time measured yet, or no planned count).
///
/// `so_far` is the record as last measured (its `duration` and per-device energies must belong
/// together, as in a checkpoint). Each device's mean power so far is kept; the duration becomes
/// [`Progress::projected_duration`]; energy, operational and embodied carbon, water and cost are
/// recomputed from the record's own factors. The result has status `running` and no end time: it
/// is a forecast, not a run.
pub fn project(so_far: &RunRecord, progress: Progress) -> Option<RunRecord> {
    if progress.planned_epochs == 0 || so_far.duration.is_zero() {
        return None;
    }
    let total = progress.projected_duration()?;
    let scale = total.as_secs_f64() / so_far.duration.as_secs_f64();
    if !scale.is_finite() {
        return None;
    }
    let mut r = so_far.clone();
    for c in &mut r.components {
        c.energy = c.energy * scale;
    }
    r.duration = total;
    r.status = RunStatus::Running;
    r.ended_at = None;
    r.exit_code = None;
    r.signal = None;
    r.error = None;
    r.recompute();
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::*;
    use crate::units::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn record(cpu_w: f64, ram_w: f64, secs: f64, g_per_kwh: f64, pue: f64) -> RunRecord {
        let d = Duration::from_secs_f64(secs);
        let comp = |kind, device: &str, w: f64| ComponentEnergy {
            component: kind,
            device: device.into(),
            energy: Energy::from_joules(w * secs),
            mean_power: Power::from_watts(w),
            peak_power: Power::from_watts(w),
            method: Method::CpuModel,
            figures: BTreeMap::new(),
            note: String::new(),
        };
        let json = serde_json::json!({
            "record_version": 1, "id": "x", "project": "p", "phase": "training", "command": [],
            "status": "running", "exit_code": null, "signal": null, "error": null,
            "started_at": "2024-05-01T09:00:00Z", "ended_at": null, "duration_s": 0.0,
            "scope": "machine",
            "host": {"hostname": "h", "cpu_model": "c", "cpu_count": 1, "memory_gb": 1.0,
                     "gpus": [], "os": "linux"},
            "energy_kwh": {"cpu": 0.0, "gpu": 0.0, "ram": 0.0, "total": 0.0},
            "components": [], "mean_power_w": 0.0,
            "pue": {"value": pue, "source": "t"},
            "intensity": {"g_per_kwh": g_per_kwh, "zone": "FR", "source": "t", "year": 2023,
                          "basis": "zone"},
            "operational_kgco2e": 0.0,
            "tracker": {"version": "0", "interval_s": 1.0, "pid": 1}
        });
        let mut r: RunRecord = serde_json::from_value(json).unwrap();
        r.components = vec![
            comp(ComponentKind::Cpu, "cpu", cpu_w),
            comp(ComponentKind::Ram, "ram", ram_w),
        ];
        r.duration = d;
        r.recompute();
        r
    }

    #[test]
    fn nothing_to_project_before_the_first_epoch_or_without_a_plan() {
        let r = record(50.0, 5.0, 10.0, 50.0, 1.0);
        let p = |done, secs, planned| Progress {
            epochs_done: done,
            elapsed_at_last_epoch: Duration::from_secs_f64(secs),
            planned_epochs: planned,
        };
        assert!(project(&r, p(0, 0.0, 10)).is_none());
        assert!(project(&r, p(1, 10.0, 0)).is_none());
        assert!(project(&r, p(1, 0.0, 10)).is_none());
        let mut empty = r.clone();
        empty.duration = Duration::ZERO;
        assert!(project(&empty, p(1, 10.0, 10)).is_none());
    }

    #[test]
    fn ten_epochs_of_ten_seconds_at_55_watts() {
        // 2 epochs done in 20 s at 50 W CPU + 5 W RAM, 10 planned: 100 s at 55 W.
        let r = record(50.0, 5.0, 20.0, 100.0, 1.5);
        let p = project(
            &r,
            Progress {
                epochs_done: 2,
                elapsed_at_last_epoch: Duration::from_secs(20),
                planned_epochs: 10,
            },
        )
        .unwrap();
        assert!((p.duration.as_secs_f64() - 100.0).abs() < 1e-9);
        assert!((p.energy_kwh.total.joules() - 5500.0).abs() < 1e-6);
        assert!((p.energy_kwh.cpu.joules() - 5000.0).abs() < 1e-6);
        assert!((p.mean_power.watts() - 55.0).abs() < 1e-9);
        // 5500 J = 1.5278e-3 kWh × 1.5 × 100 g/kWh = 0.2292 g.
        assert!((p.operational.grams() - 5500.0 / 3.6e6 * 1.5 * 100.0).abs() < 1e-9);
        assert_eq!(p.status, RunStatus::Running);
    }

    #[test]
    fn a_run_past_its_plan_projects_to_where_it_is() {
        let r = record(40.0, 0.0, 30.0, 100.0, 1.0);
        let p = project(
            &r,
            Progress {
                epochs_done: 3,
                elapsed_at_last_epoch: Duration::from_secs(30),
                planned_epochs: 2,
            },
        )
        .unwrap();
        assert!((p.energy_kwh.total.joules() - r.energy_kwh.total.joules()).abs() < 1e-6);
    }

    proptest! {
        /// Energy and operational carbon grow linearly with the planned epochs, and the projection
        /// at the point where the epochs end equals what has been measured.
        #[test]
        fn projection_is_linear_in_the_plan(
            cpu_w in 1.0f64..500.0, ram_w in 0.0f64..50.0, epoch_s in 0.1f64..5000.0,
            done in 1u32..50, extra in 0u32..500, g in 1.0f64..900.0, pue in 1.0f64..2.0,
        ) {
            let secs = epoch_s * f64::from(done);
            let r = record(cpu_w, ram_w, secs, g, pue);
            let at = |planned| project(&r, Progress {
                epochs_done: done,
                elapsed_at_last_epoch: Duration::from_secs_f64(secs),
                planned_epochs: planned,
            }).unwrap();
            let now = at(done);
            prop_assert!((now.energy_kwh.total / r.energy_kwh.total - 1.0).abs() < 1e-9);
            let planned = done + extra;
            let later = at(planned);
            let k = f64::from(planned) / f64::from(done);
            prop_assert!((later.energy_kwh.total / r.energy_kwh.total - k).abs() < 1e-6 * k);
            prop_assert!((later.operational / r.operational - k).abs() < 1e-6 * k);
            prop_assert!((later.duration.as_secs_f64() / secs - k).abs() < 1e-6 * k);
            // Mean power is unchanged by the projection.
            prop_assert!((later.mean_power.watts() - (cpu_w + ram_w)).abs() < 1e-6 * (cpu_w + ram_w));
        }
    }
}
