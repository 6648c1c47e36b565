//! `ecotrace compare`: the same job on each hardware in each region.

use crate::device::{resolve_device, Device};
use crate::job::{estimate_job, job_from, work_from, Estimated};
use crate::options::CompareOptions;
use crate::{resolve_place, usage, Place, Result};

fn split_list(v: &[String]) -> Vec<String> {
    v.iter()
        .flat_map(|s| s.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `compare`: the same job on every hardware × region, sorted by operational + embodied CO2e.
pub fn run_compare(args: &CompareOptions) -> Result<Vec<Estimated>> {
    let hardware = split_list(&args.hardware);
    if hardware.is_empty() {
        return usage("--hardware needs at least one name, e.g. --hardware A100-80GB,H100-SXM");
    }
    let mut regions: Vec<Option<String>> = split_list(args.factors.region.as_slice())
        .into_iter()
        .map(Some)
        .collect();
    if regions.is_empty() {
        regions.push(None);
    }
    let work = work_from(&args.size, &args.origins)?;
    let job = job_from(
        args.devices.unwrap_or(1.0),
        work,
        &args.factors,
        &args.origins,
        &args.device,
    )?;
    let devices: Vec<Device> = hardware
        .iter()
        .map(|h| resolve_device(h))
        .collect::<Result<_>>()?;
    let places: Vec<Place> = regions
        .iter()
        .map(|r| resolve_place(r.as_deref(), &args.factors, &args.origins))
        .collect::<Result<_>>()?;
    let mut out = Vec::new();
    for d in &devices {
        for p in &places {
            out.push(estimate_job(&job, d, p)?);
        }
    }
    out.sort_by(|a, b| {
        let ka = a.figures.operational.kg() + a.figures.embodied().kg();
        let kb = b.figures.operational.kg() + b.figures.embodied().kg();
        ka.total_cmp(&kb)
    });
    Ok(out)
}
