//! A job: its size (hours or FLOPs), how its devices are used, and its footprint on one device
//! type in one place ([`estimate_job`]).

use ecotrace_core::estimate::{
    self, EstimateFigures, EstimateInputs, DEFAULT_MFU, DEFAULT_UTILIZATION,
};
use ecotrace_core::{CarbonMass, Fraction, Lifetime, Power};
use ecotrace_factors::{Factor, Origins, Provenance};

use crate::cost::{choose_price, CostBasis};
use crate::device::Device;
use crate::options::{DeviceOptions, FactorOptions, SizeOptions};
use crate::{
    grid_assumptions, non_negative, positive, usage, water_assumptions, Assumption, EstimateError,
    Place, Result,
};

/// How much work a job does: a time, or an amount of FLOPs.
#[derive(Debug, Clone)]
pub enum Work {
    Hours(f64),
    Flops { flops: f64, how: String },
}

/// The job's size: hours, or FLOPs (given, or 6 × params × tokens). Exactly one is required.
pub fn work_from(w: &SizeOptions, origins: &Origins) -> Result<Work> {
    match (w.hours, w.flops, w.params, w.tokens) {
        (Some(h), None, None, None) => Ok(Work::Hours(positive(
            h,
            origins.get("hours"),
            "number of hours",
        )?)),
        (None, Some(f), None, None) => Ok(Work::Flops {
            flops: positive(f, origins.get("flops"), "number of FLOPs")?,
            how: "given by the user (--flops)".into(),
        }),
        (None, None, Some(n), Some(d)) => {
            let n = positive(n, origins.get("params"), "number of parameters")?;
            let d = positive(d, origins.get("tokens"), "number of tokens")?;
            Ok(Work::Flops {
                flops: estimate::training_flops(n, d),
                how: format!("6 × N × D = 6 × {n:e} parameters × {d:e} tokens (transformer training, Kaplan et al. 2020)"),
            })
        }
        (None, None, Some(_), None) | (None, None, None, Some(_)) => {
            usage("--params and --tokens go together (training FLOPs = 6 × params × tokens)")
        }
        (None, None, None, None) => {
            usage("say how big the job is: --hours H, or --flops F, or --params N --tokens D")
        }
        _ => usage("give only one of --hours, --flops, or --params with --tokens"),
    }
}

/// What is common to `estimate` and `compare`: the job apart from the hardware and the place.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub devices: f64,
    pub work: Work,
    pub utilization: Factor<Fraction>,
    pub power_w: Option<f64>,
    pub mfu: Factor<Fraction>,
    pub peak_tflops: Option<f64>,
    pub embodied_kg: Option<f64>,
    pub host_embodied_kg: Option<f64>,
    pub host_slots: Option<u32>,
    pub lifetime: Factor<Lifetime>,
    /// The user's price per device-hour.
    pub price_per_hour: Option<Factor<f64>>,
    /// Where each option given came from.
    pub origins: Origins,
    /// The cloud instance rented (`--instance`), resolved in the place's region; its hourly price
    /// is charged unless `--price-per-hour` is given.
    pub instance: Option<&'static ecotrace_data::InstancePrice>,
}

/// A fraction the user may give (`id`), else its default and why.
fn fraction(
    v: Option<f64>,
    id: &str,
    origins: &Origins,
    default: f64,
    why: &str,
) -> Result<Factor<Fraction>> {
    match v {
        Some(v) => {
            let origin = origins.get(id);
            let x = Fraction::new(v).map_err(|_| {
                EstimateError::Usage(format!("{origin} must be between 0 and 1, got {v}"))
            })?;
            Ok(Factor::given(x, origin))
        }
        None => Ok(Factor::default_because(
            Fraction::new(default).expect("defaults are fractions"),
            why,
        )),
    }
}

/// The job on `devices` devices, with the usage and footprint figures checked and defaulted.
pub fn job_from(
    devices: f64,
    work: Work,
    f: &FactorOptions,
    origins: &Origins,
    w: &DeviceOptions,
) -> Result<JobSpec> {
    let devices = positive(devices, origins.get("devices"), "number of devices")?;
    let utilization = fraction(
        w.utilization,
        "utilization",
        origins,
        DEFAULT_UTILIZATION,
        &format!("{DEFAULT_UTILIZATION}: the device draws its rated power throughout (pass --utilization)"),
    )?;
    let mfu = fraction(
        w.mfu,
        "mfu",
        origins,
        DEFAULT_MFU,
        &format!("{DEFAULT_MFU} (docs/footprint.md); pass --mfu"),
    )?;
    if mfu.value.value() == 0.0 {
        return usage("--mfu must be above 0");
    }
    if let Some(p) = w.power_w {
        positive(p, origins.get("power_w"), "number of watts")?;
    }
    if let Some(p) = w.peak_tflops {
        positive(p, origins.get("peak_tflops"), "number of TFLOP/s")?;
    }
    if let Some(k) = w.embodied_kg {
        non_negative(k, origins.get("embodied_kg"), "mass in kgCO2e")?;
    }
    if let Some(k) = w.host_embodied_kg {
        non_negative(k, origins.get("host_embodied_kg"), "mass in kgCO2e")?;
    }
    if w.host_slots == Some(0) {
        return usage("--host-slots must be at least 1");
    }
    let lifetime = ecotrace_factors::resolve_lifetime(f, origins)?;
    let price_per_hour = ecotrace_factors::price_per_hour(f, origins)?;
    Ok(JobSpec {
        devices,
        work,
        utilization,
        power_w: w.power_w,
        mfu,
        peak_tflops: w.peak_tflops,
        embodied_kg: w.embodied_kg,
        host_embodied_kg: w.host_embodied_kg,
        host_slots: w.host_slots,
        lifetime,
        price_per_hour,
        origins: origins.clone(),
        instance: None,
    })
}

/// An estimate with everything that went into it.
#[derive(Debug, Clone)]
pub struct Estimated {
    pub device: Option<Device>,
    pub place: Place,
    pub devices: f64,
    pub figures: EstimateFigures,
    /// False when no hardware was named (inference from energy per request): no embodied figure.
    pub embodied_known: bool,
    pub cost: Option<CostBasis>,
    pub lifetime: Lifetime,
    pub assumptions: Vec<Assumption>,
    pub notes: Vec<String>,
    /// The per-unit and idle figures of a provisioned deployment (`estimate inference` with
    /// device power); `None` for other estimates.
    pub deployment: Option<crate::deployment::Deployment>,
}

/// Runs one job on one device type in one place.
pub fn estimate_job(job: &JobSpec, device: &Device, place: &Place) -> Result<Estimated> {
    let mut device = device.clone();
    let given = |id: &str| Provenance::Given(job.origins.get(id)).to_string();
    if let Some(k) = job.embodied_kg {
        device.embodied = CarbonMass::from_kg(k);
        device.embodied_range = None;
        device.embodied_estimated = false;
        device.embodied_source = given("embodied_kg");
    }
    if let Some(k) = job.host_embodied_kg {
        device.host.embodied = CarbonMass::from_kg(k);
        device.host.embodied_range = None;
        device.host.estimated = false;
        device.host.source = given("host_embodied_kg");
    }
    if let Some(n) = job.host_slots {
        device.host.slots = n;
        device.host.source = format!("{} (slots {})", device.host.source, given("host_slots"));
    }
    let device = &device;
    let mut a = Vec::new();
    let mut notes = place.notes.clone();
    let (device_hours, work_note) = match &job.work {
        Work::Hours(h) => (h * job.devices, None),
        Work::Flops { flops, how } => {
            let (peak, peak_src) = match (job.peak_tflops, &device.peak) {
                (Some(t), _) => (t * 1e12, given("peak_tflops")),
                (None, Some((p, s))) => (*p, s.clone()),
                (None, None) => {
                    return usage(format!(
                        "no peak FLOP/s is bundled for {}: pass --peak-tflops (dense TFLOP/s per device) or give --hours",
                        device.id
                    ))
                }
            };
            if peak_src.starts_with("fp32 ") {
                notes.push(format!(
                    "no dense FP16/BF16 peak is bundled for {}: its FP32 peak was used; mixed-precision work usually runs faster (pass --peak-tflops)",
                    device.id
                ));
            }
            a.push(Assumption::new("flops", *flops, "FLOP", how.clone()));
            a.push(Assumption::new(
                "peak_flops_per_device",
                peak,
                "FLOP/s",
                peak_src,
            ));
            a.push(Assumption::new(
                "mfu",
                job.mfu.value.value(),
                "fraction",
                job.mfu.provenance.to_string(),
            ));
            (
                estimate::device_hours_for_flops(*flops, peak, job.mfu.value),
                Some("device-hours = FLOPs / (peak FLOP/s × MFU) / 3600".to_string()),
            )
        }
    };
    if !(device_hours.is_finite() && device_hours > 0.0) {
        return usage(format!(
            "the job works out to {device_hours} device-hours; check the inputs"
        ));
    }
    if let Some(n) = work_note {
        a.push(Assumption::new("device_hours", device_hours, "h", n));
    }
    let (rated, rated_src) = match job.power_w {
        Some(w) => (Power::from_watts(w), given("power_w")),
        None => (device.rated_power, device.power_source.clone()),
    };
    let power = estimate::device_power(rated, job.utilization.value);
    a.push(Assumption::new(
        "device_power_w",
        rated.watts(),
        "W",
        rated_src,
    ));
    a.push(Assumption::new(
        "utilization",
        job.utilization.value.value(),
        "fraction of rated power",
        job.utilization.provenance.to_string(),
    ));
    a.extend(grid_assumptions(place));
    a.push(Assumption::new(
        "device_embodied_kgco2e",
        device.embodied.kg(),
        "kgCO2e per device",
        device.embodied_source.clone(),
    ));
    a.push(Assumption::new(
        "host_embodied_kgco2e",
        device.host.embodied.kg(),
        "kgCO2e per host",
        format!(
            "{} ({} slots; each device is charged 1/{} of it): {}",
            device.host.name, device.host.slots, device.host.slots, device.host.source
        ),
    ));
    a.push(Assumption::new(
        "lifetime_years",
        job.lifetime.value.years(),
        "years",
        job.lifetime.provenance.to_string(),
    ));
    a.extend(water_assumptions(place));
    let (price, cost, cost_note) = choose_price(job, Some(device), place);
    a.extend(cost.as_ref().map(CostBasis::assumption));
    notes.extend(cost_note);
    let inputs = EstimateInputs {
        device_hours,
        devices: job.devices,
        device_power: power,
        pue: place.pue.value,
        intensity: place.intensity.value,
        device_embodied: device.embodied,
        host_embodied: device.host.embodied,
        host_slots: device.host.slots,
        lifetime: job.lifetime.value,
        wue: place.wue.value,
        offsite_water: place.offsite_water.value,
        price,
    };
    Ok(Estimated {
        device: Some(device.clone()),
        place: place.clone(),
        devices: job.devices,
        figures: estimate::estimate(&inputs),
        embodied_known: true,
        cost,
        lifetime: job.lifetime.value,
        assumptions: a,
        notes,
        deployment: None,
    })
}
