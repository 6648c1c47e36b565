//! `ecotrace estimate`: a training (or any batch) job on catalog hardware.

use crate::cost::resolve_instance;
use crate::device::resolve_device;
use crate::job::{estimate_job, job_from, work_from, Estimated};
use crate::options::EstimateOptions;
use crate::{resolve_place, usage, Result};

/// `estimate`: a job on `hardware` for a time or an amount of work.
pub fn run_estimate(args: &EstimateOptions) -> Result<Estimated> {
    let Some(hw) = args.hardware.as_deref() else {
        return usage("--hardware NAME is required (e.g. --hardware A100-80GB); `ecotrace data hardware` lists the catalog");
    };
    let device = resolve_device(hw)?;
    let place = resolve_place(args.factors.region.as_deref(), &args.factors, &args.origins)?;
    let work = work_from(&args.size, &args.origins)?;
    let mut job = job_from(
        args.devices.unwrap_or(1.0),
        work,
        &args.factors,
        &args.origins,
        &args.device,
    )?;
    if let Some(name) = args.instance.as_deref() {
        job.instance = Some(resolve_instance(name, &device, &place)?);
    }
    estimate_job(&job, &device, &place)
}
