//! RAM power model, for when no RAPL dram counter can be read: a constant power per GB of memory
//! charged ([`W_PER_GB`]), or the user's `--ram-power` figure for the machine's used memory.
//!
//! Charged memory is the tracked process tree's resident memory in process scope, and the
//! machine's used memory in machine scope ([`Tick::charged_memory_bytes`]).
//!
//! This module is arithmetic over the [`Tick`]: it reads nothing and never fails.

use std::collections::BTreeMap;

use ecotrace_core::{ComponentKind, Energy, Method, Power};

use crate::{Sensor, SensorError, Tick};

/// Power of memory per GB, in W (GB here = GiB, 2^30 bytes, as memory modules are sized).
///
/// 3 W per 8 GB, the figure CodeCarbon uses. Its origin is a measurement, not a vendor rating:
/// Tom's Hardware measured Crucial DDR4-2133 modules at 2.98 W for one 8 GB module and 11.85 W for
/// four (32 GB), ≈ 0.37 W/GB ("Intel Core i7-5960X Haswell-E review", 2014, page 13). Crucial's
/// own FAQ ("How much power does memory use?") publishes no figure beyond a deliberately high
/// 5 W per module for power-supply sizing. Cloud Carbon Footprint's memory coefficient,
/// 0.392 W/GB, and Green Algorithms' 0.3725 W/GB rest on the same measurement.
pub const W_PER_GB: f64 = 3.0 / 8.0;

const BYTES_PER_GB: f64 = (1u64 << 30) as f64;

/// The RAM model as a sensor: one device, `ram`, Method::RamModel.
pub struct RamModelSensor {
    user: Option<Power>,
    devices: Vec<String>,
    secs: f64,
    charged_gb_secs: f64,
    used_gb_secs: f64,
    share_secs: f64,
}

impl RamModelSensor {
    /// [`W_PER_GB`] × charged GB.
    pub fn model() -> Self {
        Self::with_user(None)
    }

    /// `--ram-power W`: the power of the machine's whole used memory; in process scope charged
    /// × charged / used.
    pub fn user(power: Power) -> Self {
        Self::with_user(Some(power))
    }

    fn with_user(user: Option<Power>) -> Self {
        RamModelSensor {
            user: user.map(|p| {
                if p.is_finite() && p.watts() > 0.0 {
                    p
                } else {
                    Power::ZERO
                }
            }),
            devices: vec!["ram".to_string()],
            secs: 0.0,
            charged_gb_secs: 0.0,
            used_gb_secs: 0.0,
            share_secs: 0.0,
        }
    }

    fn mean(&self, sum: f64) -> f64 {
        if self.secs > 0.0 {
            sum / self.secs
        } else {
            0.0
        }
    }
}

impl Sensor for RamModelSensor {
    fn component(&self) -> ComponentKind {
        ComponentKind::Ram
    }
    fn method(&self, _device: usize) -> Method {
        Method::RamModel
    }
    fn devices(&self) -> &[String] {
        &self.devices
    }
    fn read(&mut self, tick: &Tick<'_>, out: &mut [Energy]) -> Result<(), SensorError> {
        let s = tick.dt.as_secs_f64();
        let charged_gb = tick.charged_memory_bytes as f64 / BYTES_PER_GB;
        let share = tick.charged_memory_share();
        self.secs += s;
        self.charged_gb_secs += charged_gb * s;
        self.used_gb_secs += tick.used_memory_bytes as f64 / BYTES_PER_GB * s;
        self.share_secs += share * s;
        let power = match self.user {
            Some(p) => p * share,
            None => Power::from_watts(W_PER_GB * charged_gb),
        };
        if let Some(o) = out.first_mut() {
            *o = power * tick.dt;
        }
        Ok(())
    }
    fn figures(&self, _device: usize) -> BTreeMap<String, f64> {
        let mut f = BTreeMap::from([
            (
                "charged_gb_mean".to_string(),
                self.mean(self.charged_gb_secs),
            ),
            ("used_gb_mean".to_string(), self.mean(self.used_gb_secs)),
        ]);
        match self.user {
            Some(p) => {
                f.insert("user_w".to_string(), p.watts());
                f.insert("memory_share_mean".to_string(), self.mean(self.share_secs));
            }
            None => {
                f.insert("w_per_gb".to_string(), W_PER_GB);
            }
        }
        f
    }
    fn note(&self, _device: usize) -> String {
        match self.user {
            Some(p) => format!(
                "user-given {} W (--ram-power) for the machine's used memory, × the tracked \
                 work's share of it (RSS / used)",
                p.watts()
            ),
            None => "0.375 W per GB of memory charged (3 W per 8 GB: CodeCarbon's figure, from \
                     Tom's Hardware's measurement of Crucial DDR4 modules)"
                .to_string(),
        }
    }
}
