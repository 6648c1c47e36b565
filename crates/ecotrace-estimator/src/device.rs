//! The device an estimate runs on: an accelerator of the catalog or a CPU of the TDP table, with
//! the host it sits in.

use ecotrace_core::{CarbonMass, Power};
use ecotrace_data::{Accelerator, EmbodiedRef};

use ecotrace_factors::hardware;

use crate::{usage, Result};

// ---------------------------------------------------------------------------------------------
// Hardware

/// The host a device sits in: everything but its devices, shared by `slots` devices.
#[derive(Debug, Clone)]
pub struct HostRef {
    pub name: String,
    pub slots: u32,
    pub embodied: CarbonMass,
    /// The table row's uncertainty range (low, high); `None` for a figure the user gave.
    pub embodied_range: Option<(CarbonMass, CarbonMass)>,
    pub estimated: bool,
    pub source: String,
}

impl From<&EmbodiedRef> for HostRef {
    fn from(e: &EmbodiedRef) -> Self {
        HostRef {
            name: e.name.clone(),
            slots: e.slots,
            embodied: e.embodied,
            embodied_range: Some(e.embodied_range),
            estimated: e.estimated,
            source: hardware::reference_embodied(e).provenance.to_string(),
        }
    }
}

/// A device the estimate runs on, from the catalog (an accelerator) or the CPU table.
#[derive(Debug, Clone)]
pub struct Device {
    pub id: String,
    pub name: String,
    pub rated_power: Power,
    pub power_source: String,
    /// Peak FLOP/s and a description of which precision.
    pub peak: Option<(f64, String)>,
    pub embodied: CarbonMass,
    /// The catalog row's uncertainty range of `embodied` (low, high), per device; `None` for a
    /// figure the user gave.
    pub embodied_range: Option<(CarbonMass, CarbonMass)>,
    pub embodied_estimated: bool,
    pub embodied_source: String,
    pub host: HostRef,
    /// Catalog accelerator id, for instance prices.
    pub accelerator: Option<&'static Accelerator>,
}

/// A device of the catalog (accelerator, or CPU from the TDP table) by id or alias.
pub fn resolve_device(name: &str) -> Result<Device> {
    match ecotrace_data::accelerator(name) {
        Ok(a) => {
            let host = ecotrace_data::embodied_ref("gpu-server")
                .expect("bundled gpu-server row")
                .into();
            Ok(Device {
                id: a.id.clone(),
                name: a.name.clone(),
                rated_power: a.tdp,
                power_source: hardware::accelerator_power(a).provenance.to_string(),
                peak: hardware::accelerator_peak(a).map(|f| (f.value, f.provenance.to_string())),
                embodied: a.embodied,
                embodied_range: Some(a.embodied_range),
                embodied_estimated: a.embodied_estimated,
                embodied_source: hardware::accelerator_embodied(a).provenance.to_string(),
                host,
                accelerator: Some(a),
            })
        }
        Err(e) => {
            // A CPU model the TDP table knows is accepted too.
            if let Some(c) = ecotrace_data::cpu_lookup(name) {
                let cpu = ecotrace_data::embodied_ref("cpu").expect("bundled cpu row");
                let host = ecotrace_data::embodied_ref("cpu-server")
                    .expect("bundled cpu-server row")
                    .into();
                return Ok(Device {
                    id: c.name.clone(),
                    name: c.name.clone(),
                    rated_power: c.tdp,
                    power_source: hardware::cpu_power(&c).provenance.to_string(),
                    peak: None,
                    embodied: cpu.embodied,
                    embodied_range: Some(cpu.embodied_range),
                    embodied_estimated: cpu.estimated,
                    embodied_source: hardware::reference_embodied(cpu).provenance.to_string(),
                    host,
                    accelerator: None,
                });
            }
            usage(e.to_string())
        }
    }
}
