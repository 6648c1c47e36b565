//! `ecotrace estimate inference` for a provisioned deployment: servers draw power whether or not
//! requests arrive, so the footprint is hardware × devices × days at the devices' mean power, and
//! the per-request and per-1,000-token figures are divided out of it (idle time included), beside
//! what counting only the energy drawn while serving would give.
//!
//! Three ways to give the power:
//! - `--power-w W`: the measured mean power of one device over the deployment;
//! - `--idle-power-w I --busy-power-w B --busy-fraction F`: mean `I × (1 − F) + B × F`, with the
//!   share of the energy drawn with no request in flight (`idle_share`) said apart;
//! - `--power-w W --tokens-per-second S` (a benchmark figure): energy per token `W / S`, busy time
//!   only, with `--tokens-per-request T`.
//!
//! The formulas are `ecotrace_core::serving`'s ([`Provisioned`], [`energy_per_token`],
//! [`PerUnit::per`]); this module picks the inputs; `ecotrace-report` lays the figures out.

use ecotrace_core::serving::{energy_per_token, Footprint, PerUnit, Provisioned};
use ecotrace_core::{Fraction, Power};

use crate::device::resolve_device;
use crate::job::{estimate_job, job_from, Estimated, Work};
use crate::options::InferenceOptions;
use crate::{positive, usage, Assumption, Place, Result};

/// The deployment figures of an estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// `provisioned` (devices × days) or `benchmark` (busy time from tokens per second).
    pub mode: &'static str,
    pub requests: f64,
    /// Generated tokens (requests × tokens per request), when tokens per request are known.
    pub generated_tokens: Option<f64>,
    pub per_unit: PerUnit,
    /// Share of the energy drawn with no request in flight (idle/busy power given).
    pub idle_share: Option<f64>,
    /// Share of the energy drawn whether or not requests arrive (idle power ÷ mean power).
    pub idle_floor_share: Option<f64>,
    /// IT energy per request counting only the energy drawn while serving: what an estimate from
    /// per-request energy alone (today's `--energy-per-request-wh`) would give.
    pub busy_only_wh_per_request: Option<f64>,
    /// IT energy of one generated token, J (benchmark mode).
    pub joules_per_token: Option<f64>,
}

/// Whether the options describe a provisioned deployment (device power given, no per-request
/// energy or FLOPs).
pub fn is_provisioned(a: &InferenceOptions) -> bool {
    let p = &a.provisioned;
    a.energy_per_request_wh.is_none()
        && a.flops_per_request.is_none()
        && a.params.is_none()
        && (a.device.power_w.is_some()
            || p.idle_power_w.is_some()
            || p.busy_power_w.is_some()
            || p.busy_fraction.is_some()
            || p.tokens_per_second.is_some())
}

fn share(v: f64, from: ecotrace_factors::Origin) -> Result<Fraction> {
    Fraction::new(v).map_err(|_| {
        crate::EstimateError::Usage(format!("{from} must be between 0 and 1, got {v}"))
    })
}

/// The estimate of a provisioned deployment of `rpd` requests a day for `days` days.
pub fn run(a: &InferenceOptions, rpd: f64, days: f64, place: Place) -> Result<Estimated> {
    let Some(hw) = a.hardware.as_deref() else {
        return usage(
            "a provisioned deployment needs --hardware NAME (and --devices N); `ecotrace data hardware` lists the catalog",
        );
    };
    if a.device.utilization.is_some() {
        return usage(
            "--utilization does not apply to a provisioned deployment: give --power-w (measured mean power of one device) or --idle-power-w, --busy-power-w and --busy-fraction",
        );
    }
    let device = resolve_device(hw)?;
    let requests = rpd * days;
    let tokens_per_request = a
        .tokens_per_request
        .map(|t| positive(t, a.origins.get("tokens_per_request"), "number of tokens"))
        .transpose()?;
    let generated = tokens_per_request.map(|t| t * requests);
    let p = &a.provisioned;
    let mut device_opts = a.device.clone();
    let (mode, devices, wall_hours, provisioned, power_how, joules_per_token) = match (
        p.tokens_per_second,
        a.device.power_w,
        p.idle_power_w,
        p.busy_power_w,
        p.busy_fraction,
    ) {
        (Some(s), Some(w), None, None, None) => {
            let s = positive(s, a.origins.get("tokens_per_second"), "number of tokens per second")?;
            let w = positive(w, a.origins.get("power_w"), "number of watts")?;
            let Some(tokens) = generated else {
                return usage("--tokens-per-second needs --tokens-per-request T (tokens generated per request)");
            };
            let per_token = energy_per_token(Power::from_watts(w), s);
            // Busy time only: the tokens at the benchmark's throughput, on one device of W watts.
            let hours = tokens / s / 3600.0;
            (
                "benchmark",
                1.0,
                hours,
                None,
                format!("given by the user (--power-w, at --tokens-per-second {s}): energy per token W / S"),
                Some(per_token.joules()),
            )
        }
        (Some(_), _, _, _, _) => {
            return usage("--tokens-per-second goes with --power-w W (and --tokens-per-request T) only")
        }
        (None, Some(w), None, None, None) => {
            positive(w, a.origins.get("power_w"), "number of watts")?;
            (
                "provisioned",
                a.devices.unwrap_or(1.0),
                days * 24.0,
                None,
                "given by the user (--power-w): measured mean power of one device over the deployment".to_string(),
                None,
            )
        }
        (None, None, Some(i), Some(b), Some(f)) => {
            let i = positive(i, a.origins.get("idle_power_w"), "number of watts")?;
            let b = positive(b, a.origins.get("busy_power_w"), "number of watts")?;
            if i > b {
                return usage(format!("--idle-power-w ({i} W) is above --busy-power-w ({b} W)"));
            }
            let prov = Provisioned {
                idle: Power::from_watts(i),
                busy: Power::from_watts(b),
                busy_fraction: share(f, a.origins.get("busy_fraction"))?,
            };
            device_opts.power_w = Some(prov.mean_power().watts());
            (
                "provisioned",
                a.devices.unwrap_or(1.0),
                days * 24.0,
                Some(prov),
                format!("idle {i} W × (1 − {f}) + busy {b} W × {f} (--idle-power-w, --busy-power-w, --busy-fraction)"),
                None,
            )
        }
        _ => {
            return usage(
                "give the devices' power: --power-w W (measured mean power of one device), or --idle-power-w I --busy-power-w B --busy-fraction F, or --power-w W --tokens-per-second S",
            )
        }
    };
    let job = job_from(
        devices,
        Work::Hours(wall_hours),
        &a.factors,
        &a.origins,
        &device_opts,
    )?;
    let mut e = estimate_job(&job, &device, &place)?;
    for x in e
        .assumptions
        .iter_mut()
        .filter(|x| x.name == "device_power_w")
    {
        x.source.clone_from(&power_how);
    }
    // The power given is what the devices draw: no utilization applies to it.
    e.assumptions.retain(|x| x.name != "utilization");
    e.assumptions.insert(
        0,
        Assumption::new(
            "requests",
            requests,
            "requests",
            format!("{rpd} per day × {days} days"),
        ),
    );
    if let Some(t) = tokens_per_request {
        e.assumptions.insert(
            1,
            Assumption::new(
                "tokens_per_request",
                t,
                "generated tokens",
                "given by the user (--tokens-per-request)",
            ),
        );
    }
    let f = &e.figures;
    let per_unit = PerUnit::per(
        Footprint {
            energy: f.energy,
            operational: f.operational,
            embodied: Some(f.embodied()),
            water: Some(f.water.total()),
        },
        requests,
        generated.unwrap_or(0.0),
    );
    let busy_only_wh_per_request = provisioned
        .and_then(|p| p.busy_share())
        .zip(per_unit.energy_wh_per_request)
        .map(|(s, wh)| s * wh);
    match (mode, provisioned) {
        ("benchmark", _) => e.notes.push(
            "benchmark-style figure: only the time spent generating is counted (no idle time); a provisioned deployment draws power between requests too".into(),
        ),
        (_, None) => e.notes.push(
            "idle share not known from a mean power: give --idle-power-w, --busy-power-w and --busy-fraction to see it".into(),
        ),
        _ => {}
    }
    e.deployment = Some(Deployment {
        mode,
        requests,
        generated_tokens: generated,
        per_unit,
        idle_share: provisioned.and_then(|p| p.idle_share()),
        idle_floor_share: provisioned.and_then(|p| p.idle_floor_share()),
        busy_only_wh_per_request,
        joules_per_token,
    });
    Ok(e)
}
