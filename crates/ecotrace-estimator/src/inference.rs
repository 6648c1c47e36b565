//! `ecotrace estimate inference`: a deployment's whole-life inference footprint, energy per
//! request × requests per day × days.

use ecotrace_core::estimate::{self, EstimateInputs};
use ecotrace_core::{CarbonMass, Energy, Power};

use crate::cost::{electricity_cost, CostBasis};
use crate::device::resolve_device;
use crate::job::{estimate_job, job_from, Estimated, Work};
use crate::options::InferenceOptions;
use crate::{
    grid_assumptions, positive, resolve_place, usage, water_assumptions, Assumption, Result,
};

/// `estimate inference`: a deployment's whole-life inference footprint.
pub fn run_inference(args: &InferenceOptions) -> Result<Estimated> {
    let o = &args.origins;
    let rpd = positive(
        args.requests_per_day,
        o.get("requests_per_day"),
        "number of requests",
    )?;
    let days = positive(args.days, o.get("days"), "number of days")?;
    let requests = rpd * days;
    let place = resolve_place(args.factors.region.as_deref(), &args.factors, &args.origins)?;
    if crate::deployment::is_provisioned(args) {
        return crate::deployment::run(args, rpd, days, place);
    }
    let per_request_flops = match (args.flops_per_request, args.params, args.tokens_per_request) {
        (Some(f), None, None) => Some((
            positive(f, o.get("flops_per_request"), "number of FLOPs")?,
            "given by the user (--flops-per-request)".to_string(),
        )),
        (None, Some(n), Some(t)) => {
            let n = positive(n, o.get("params"), "number of parameters")?;
            let t = positive(t, o.get("tokens_per_request"), "number of tokens")?;
            Some((
                estimate::inference_flops(n, t),
                format!("2 × N per token = 2 × {n:e} parameters × {t} tokens (Kaplan et al. 2020)"),
            ))
        }
        (None, None, None) => None,
        _ => return usage("give --flops-per-request, or --params with --tokens-per-request"),
    };
    match (args.energy_per_request_wh, per_request_flops) {
        (Some(wh), None) => {
            let wh = positive(wh, o.get("energy_per_request_wh"), "number of Wh")?;
            let energy = estimate::inference_energy(Energy::from_wh(wh), rpd, days);
            let job = job_from(1.0, Work::Hours(1.0), &args.factors, &args.origins, &args.device)?;
            let mut a = vec![
                Assumption::new("energy_per_request_wh", wh, "Wh (IT)", "given by the user (--energy-per-request-wh)"),
                Assumption::new("requests", requests, "requests", format!("{rpd} per day × {days} days")),
            ];
            a.extend(grid_assumptions(&place));
            a.extend(water_assumptions(&place));
            let mut notes = place.notes.clone();
            notes.push("no hardware given: embodied carbon is not estimated (use --flops-per-request or --params/--tokens-per-request with --hardware)".into());
            let (price, cost, cost_note) = electricity_cost(&place).unwrap_or_else(|why| {
                (None, None, Some(format!("cost not shown: pass --electricity-price (no hardware, so no rental price applies{why})")))
            });
            a.extend(cost.as_ref().map(CostBasis::assumption));
            notes.extend(cost_note);
            // Energy is given directly: express it as device-hours of a 1 kW device so the shared
            // model applies; no embodied carbon (no hardware).
            let inputs = EstimateInputs {
                device_hours: energy.kwh(),
                devices: 1.0,
                device_power: Power::from_watts(1000.0),
                pue: place.pue.value,
                intensity: place.intensity.value,
                device_embodied: CarbonMass::ZERO,
                host_embodied: CarbonMass::ZERO,
                host_slots: 1,
                lifetime: job.lifetime.value,
                wue: place.wue.value,
                offsite_water: place.offsite_water.value,
                price,
            };
            Ok(Estimated {
                device: None,
                place,
                devices: 1.0,
                figures: estimate::estimate(&inputs),
                embodied_known: false,
                cost,
                lifetime: job.lifetime.value,
                assumptions: a,
                notes,
                deployment: None,
            })
        }
        (None, Some((per_req, how))) => {
            let Some(hw) = args.hardware.as_deref() else {
                return usage("--flops-per-request (or --params/--tokens-per-request) needs --hardware NAME");
            };
            let device = resolve_device(hw)?;
            let work = Work::Flops {
                flops: per_req * requests,
                how: format!("{how} per request × {rpd} requests/day × {days} days"),
            };
            let job = job_from(args.devices.unwrap_or(1.0), work, &args.factors, &args.origins, &args.device)?;
            let mut e = estimate_job(&job, &device, &place)?;
            e.assumptions.insert(0, Assumption::new("requests", requests, "requests", format!("{rpd} per day × {days} days")));
            Ok(e)
        }
        (Some(_), Some(_)) => usage("give either --energy-per-request-wh or FLOPs per request, not both"),
        (None, None) => usage("say what a request costs: --energy-per-request-wh E, or --flops-per-request F (or --params N --tokens-per-request T) with --hardware"),
    }
}
