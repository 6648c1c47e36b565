//! ecotrace-estimator: a job's footprint before it runs — `ecotrace estimate`, `ecotrace estimate
//! inference` and `ecotrace compare`, shared by the CLI and the Python package
//! (`ecotrace.estimate()`). It looks every factor up (catalog, grid, water, prices), says where
//! each came from, calls the pure model in `ecotrace_core::estimate`, and renders the result as
//! the CLI's text and JSON; it holds no formula. It takes plain option structs ([`options`]); the
//! CLI's flags for them are defined in `args` (feature `clap`, used by the CLI and the Python
//! package), each with a `to_options()`.
//!
//! It must not print, read files or the environment beyond clap's `env` defaults, or touch the
//! ledger: [`estimate_record`] builds the run record of a stored estimate (its id from the OS's
//! random source, its time from the clock) and the CLI writes it. Bad input is an
//! [`EstimateError::Usage`] (the CLI's exit code 2, `ValueError` in Python).

use std::fmt::Write as _;

use ecotrace_core::estimate::{
    self, EstimateFigures, EstimateInputs, Price, DEFAULT_LIFETIME_YEARS, DEFAULT_MFU,
    DEFAULT_UTILIZATION,
};
use ecotrace_core::{
    CarbonIntensity, CarbonMass, Energy, Fraction, Lifetime, Power, Pue, WaterIntensity,
};
use ecotrace_data::{Accelerator, EmbodiedRef};
use serde_json::{json, Value};

#[cfg(feature = "clap")]
pub mod args;
pub mod options;

pub use options::{
    CompareOptions, DeviceOptions, EstimateOptions, FootprintOptions, GridOptions,
    InferenceOptions, SizeOptions,
};

/// Why an estimate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EstimateError {
    /// A bad or missing argument, an unknown hardware or region: the user can fix the input.
    #[error("{0}")]
    Usage(String),
    /// The JSON of a listing could not be written.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl EstimateError {
    /// Whether the user can fix it by changing the input (exit code 2, `ValueError`).
    pub fn is_usage(&self) -> bool {
        matches!(self, EstimateError::Usage(_))
    }
}

/// The result of the estimator's functions.
pub type Result<T, E = EstimateError> = std::result::Result<T, E>;

fn usage<T>(msg: impl Into<String>) -> Result<T> {
    Err(EstimateError::Usage(msg.into()))
}

/// One assumption of an estimate: a named figure, its unit and where it comes from.
#[derive(Debug, Clone)]
pub struct Assumption {
    pub name: &'static str,
    pub value: Value,
    pub unit: &'static str,
    pub source: String,
}

impl Assumption {
    fn new(
        name: &'static str,
        value: impl Into<Value>,
        unit: &'static str,
        source: impl Into<String>,
    ) -> Self {
        Assumption {
            name,
            value: value.into(),
            unit,
            source: source.into(),
        }
    }
    fn json(&self) -> Value {
        json!({ "name": self.name, "value": self.value, "unit": self.unit, "source": self.source })
    }
}

// ---------------------------------------------------------------------------------------------
// Grid, facility, water

/// The grid and facility factors of a place, with their sources.
#[derive(Debug, Clone)]
pub struct Place {
    /// What the user gave (`FR`, `aws:us-east-1`), or `WORLD`.
    pub label: String,
    pub intensity: CarbonIntensity,
    pub intensity_source: String,
    pub intensity_basis: ecotrace_core::IntensityBasis,
    pub pue: Pue,
    pub pue_source: String,
    pub wue: WaterIntensity,
    pub wue_source: String,
    pub offsite: WaterIntensity,
    pub offsite_source: String,
    /// `(provider, region)` of a cloud region, for instance prices.
    pub cloud: Option<(String, String)>,
    pub notes: Vec<String>,
}

impl Place {
    /// The grid factors as assumptions: PUE, then intensity.
    fn grid_assumptions(&self) -> [Assumption; 2] {
        [
            Assumption::new("pue", self.pue.value(), "ratio", self.pue_source.clone()),
            Assumption::new(
                "intensity_g_per_kwh",
                self.intensity.g_per_kwh(),
                "gCO2e/kWh",
                self.intensity_source.clone(),
            ),
        ]
    }

    /// The water factors as assumptions: on-site WUE, then off-site.
    fn water_assumptions(&self) -> [Assumption; 2] {
        [
            Assumption::new(
                "wue_l_per_kwh",
                self.wue.l_per_kwh(),
                "L/kWh (IT energy)",
                self.wue_source.clone(),
            ),
            Assumption::new(
                "offsite_water_l_per_kwh",
                self.offsite.l_per_kwh(),
                "L/kWh (facility energy)",
                self.offsite_source.clone(),
            ),
        ]
    }
}

fn positive(v: f64, flag: &str, what: &str) -> Result<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        usage(format!("--{flag} must be a positive {what}, got {v}"))
    }
}

fn non_negative(v: f64, flag: &str, what: &str) -> Result<f64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        usage(format!("--{flag} must be a non-negative {what}, got {v}"))
    }
}

/// Resolves `--region` (or none), then applies `--intensity`, `--pue`, `--wue` over it. The same
/// defaults as `ecotrace run`: world-average intensity, PUE 1.0 and no on-site water unless a
/// cloud region (or the user) says otherwise.
pub fn resolve_place(
    region: Option<&str>,
    f: &GridOptions,
    fp: &FootprintOptions,
) -> Result<Place> {
    let resolved = match region {
        Some(r) => Some(
            ecotrace_data::resolve_region(r).map_err(|e| EstimateError::Usage(e.to_string()))?,
        ),
        None => None,
    };
    let mut notes = Vec::new();
    let (label, grid_zone, mut intensity, mut intensity_source) = match &resolved {
        Some(r) => {
            let zone = r.cloud.as_ref().map_or(r.zone.clone(), |c| c.zone.clone());
            (
                r.zone.clone(),
                zone,
                r.intensity,
                format!("{} ({}), {}", r.name, r.year, r.source),
            )
        }
        None => {
            let w = ecotrace_data::world_average();
            if f.intensity.is_none() {
                notes.push(format!(
                    "no region given: the world average ({:.0} gCO2e/kWh) was used; pass --region (e.g. FR, US-CA, aws:eu-west-3)",
                    w.intensity.g_per_kwh()
                ));
            }
            (
                w.id.clone(),
                w.id.clone(),
                w.intensity,
                format!("world average ({}), {}", w.year, w.source),
            )
        }
    };
    let mut intensity_basis = if resolved.is_some() {
        ecotrace_core::IntensityBasis::Zone
    } else {
        ecotrace_core::IntensityBasis::WorldDefault
    };
    if let Some(g) = f.intensity {
        intensity = CarbonIntensity::from_g_per_kwh(g)
            .map_err(|e| EstimateError::Usage(format!("--intensity: {e}")))?;
        intensity_source = "given by the user (--intensity)".into();
        intensity_basis = ecotrace_core::IntensityBasis::User;
    }
    let (pue, pue_source) = match (f.pue, resolved.as_ref().and_then(|r| r.pue.clone())) {
        (Some(x), _) => (
            Pue::new(x).map_err(|e| EstimateError::Usage(format!("--pue: {e}")))?,
            "given by the user (--pue)".to_string(),
        ),
        (None, Some((p, s))) => (p, s),
        (None, None) => (
            Pue::ONE,
            "default 1.0: no data-centre overhead counted (pass --pue, or a cloud region)"
                .to_string(),
        ),
    };
    let water = ecotrace_data::choose_water(
        fp.wue,
        resolved.as_ref().and_then(|r| r.wue_l_per_kwh.clone()),
        &grid_zone,
    )
    .map_err(|e| EstimateError::Usage(format!("--wue: {e}")))?;
    let cloud = resolved
        .as_ref()
        .and_then(|r| r.cloud.as_ref())
        .map(|c| (c.provider.clone(), c.region.clone()));
    Ok(Place {
        label,
        intensity,
        intensity_source,
        intensity_basis,
        pue,
        pue_source,
        wue: water.wue,
        wue_source: water.wue_source,
        offsite: water.offsite,
        offsite_source: water.offsite_source,
        cloud,
        notes,
    })
}

// ---------------------------------------------------------------------------------------------
// Hardware

/// The host a device sits in: everything but its devices, shared by `slots` devices.
#[derive(Debug, Clone)]
pub struct HostRef {
    pub name: String,
    pub slots: u32,
    pub embodied: CarbonMass,
    pub estimated: bool,
    pub source: String,
}

impl From<&EmbodiedRef> for HostRef {
    fn from(e: &EmbodiedRef) -> Self {
        HostRef {
            name: e.name.clone(),
            slots: e.slots,
            embodied: e.embodied,
            estimated: e.estimated,
            source: e.source.clone(),
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
                power_source: format!("TDP of {}: {}", a.id, a.spec_source),
                peak: a
                    .peak_flops()
                    .map(|(f, p)| (f, format!("{p}: {}", a.spec_source))),
                embodied: a.embodied,
                embodied_estimated: a.embodied_estimated,
                embodied_source: a.embodied_source.clone(),
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
                    power_source: format!("TDP of {}: {}", c.name, c.source),
                    peak: None,
                    embodied: cpu.embodied,
                    embodied_estimated: cpu.estimated,
                    embodied_source: cpu.source.clone(),
                    host,
                    accelerator: None,
                });
            }
            usage(e.to_string())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Jobs

/// How much work a job does: a time, or an amount of FLOPs.
#[derive(Debug, Clone)]
pub enum Work {
    Hours(f64),
    Flops { flops: f64, how: String },
}

/// The job's size: hours, or FLOPs (given, or 6 × params × tokens). Exactly one is required.
pub fn work_from(w: &SizeOptions) -> Result<Work> {
    match (w.hours, w.flops, w.params, w.tokens) {
        (Some(h), None, None, None) => Ok(Work::Hours(positive(h, "hours", "number of hours")?)),
        (None, Some(f), None, None) => Ok(Work::Flops {
            flops: positive(f, "flops", "number of FLOPs")?,
            how: "given by the user (--flops)".into(),
        }),
        (None, None, Some(n), Some(d)) => {
            let n = positive(n, "params", "number of parameters")?;
            let d = positive(d, "tokens", "number of tokens")?;
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
    pub utilization: Fraction,
    pub power_w: Option<f64>,
    pub mfu: Fraction,
    pub peak_tflops: Option<f64>,
    pub embodied_kg: Option<f64>,
    pub host_embodied_kg: Option<f64>,
    pub host_slots: Option<u32>,
    pub lifetime: Lifetime,
    pub price_per_hour: Option<f64>,
    pub electricity_price: Option<f64>,
    /// The cloud instance rented (`--instance`), resolved in the place's region; its hourly price
    /// is charged unless `--price-per-hour` is given.
    pub instance: Option<&'static ecotrace_data::InstancePrice>,
}

fn fraction(v: f64, flag: &str) -> Result<Fraction> {
    Fraction::new(v)
        .map_err(|_| EstimateError::Usage(format!("--{flag} must be between 0 and 1, got {v}")))
}

/// The job on `devices` devices, with the usage and footprint figures checked and defaulted.
pub fn job_from(
    devices: f64,
    work: Work,
    f: &FootprintOptions,
    w: &DeviceOptions,
) -> Result<JobSpec> {
    let devices = positive(devices, "devices", "number of devices")?;
    let utilization = fraction(w.utilization.unwrap_or(DEFAULT_UTILIZATION), "utilization")?;
    let mfu = fraction(w.mfu.unwrap_or(DEFAULT_MFU), "mfu")?;
    if mfu.value() == 0.0 {
        return usage("--mfu must be above 0");
    }
    if let Some(p) = w.power_w {
        positive(p, "power-w", "number of watts")?;
    }
    if let Some(p) = w.peak_tflops {
        positive(p, "peak-tflops", "number of TFLOP/s")?;
    }
    if let Some(k) = w.embodied_kg {
        non_negative(k, "embodied-kg", "mass in kgCO2e")?;
    }
    if let Some(k) = w.host_embodied_kg {
        non_negative(k, "host-embodied-kg", "mass in kgCO2e")?;
    }
    if w.host_slots == Some(0) {
        return usage("--host-slots must be at least 1");
    }
    let years = f.lifetime_years.unwrap_or(DEFAULT_LIFETIME_YEARS);
    let lifetime = Lifetime::from_years(years)
        .map_err(|e| EstimateError::Usage(format!("--lifetime-years: {e}")))?;
    if let Some(p) = f.price_per_hour {
        non_negative(p, "price-per-hour", "price in USD")?;
    }
    if let Some(p) = f.electricity_price {
        non_negative(p, "electricity-price", "price in USD per kWh")?;
    }
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
        price_per_hour: f.price_per_hour,
        electricity_price: f.electricity_price,
        instance: None,
    })
}

/// Resolves `--instance NAME` in the place's cloud region and checks it against the hardware: a
/// GPU instance must carry the named accelerator, a CPU instance must go with a CPU. Usage errors:
/// no cloud region, an instance not bundled there (listing the closest that are), a mismatch.
pub fn resolve_instance(
    name: &str,
    device: &Device,
    place: &Place,
) -> Result<&'static ecotrace_data::InstancePrice> {
    let Some((provider, region)) = &place.cloud else {
        return usage(format!(
            "--instance {name} needs --region to be a cloud region (e.g. aws:us-east-1, gcp:us-central1, azure:eastus); {} is not one",
            place.label
        ));
    };
    let Some(ip) = ecotrace_data::instance_by_type(provider, region, name) else {
        let near = ecotrace_data::closest_instances(provider, region, name, 5);
        return usage(if near.is_empty() {
            format!("--instance {name}: no instance prices are bundled for {provider}:{region}; pass --price-per-hour instead")
        } else {
            format!(
                "--instance {name}: no price bundled for it in {provider}:{region}; closest known there: {} (or pass --price-per-hour)",
                near.join(", ")
            )
        });
    };
    match (ip.has_accelerator(), device.accelerator) {
        (true, Some(acc)) if acc.id == ip.accelerator => Ok(ip),
        (true, _) => usage(format!(
            "--instance {} carries {} × {}, but --hardware is {}; name that accelerator (or drop --instance)",
            ip.instance, ip.accelerator_count, ip.accelerator, device.id
        )),
        (false, None) => Ok(ip),
        (false, Some(acc)) => usage(format!(
            "--instance {} is a CPU instance, but --hardware is the accelerator {}; name the instance's CPU (or drop --instance)",
            ip.instance, acc.id
        )),
    }
}

/// The cost basis chosen, for output.
#[derive(Debug, Clone)]
pub struct CostBasis {
    pub basis: &'static str,
    pub usd_per_hour: Option<f64>,
    pub usd_per_kwh: Option<f64>,
    pub source: String,
}

impl CostBasis {
    /// The price as an assumption: per device-hour for a rental, per kWh for electricity.
    fn assumption(&self) -> Assumption {
        match self.basis {
            "instance" => Assumption::new(
                "price_usd_per_device_hour",
                self.usd_per_hour.unwrap_or(0.0),
                "USD/device-hour",
                self.source.clone(),
            ),
            _ => Assumption::new(
                "electricity_usd_per_kwh",
                self.usd_per_kwh.unwrap_or(0.0),
                "USD/kWh",
                self.source.clone(),
            ),
        }
    }
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
}

/// The price to charge, how it was chosen, and a note when no cost can be shown.
type PriceChoice = (Option<Price>, Option<CostBasis>, Option<String>);

fn choose_price(job: &JobSpec, device: Option<&Device>, place: &Place) -> PriceChoice {
    if let Some(p) = job.price_per_hour {
        return (
            Some(Price::PerDeviceHour(p)),
            Some(CostBasis {
                basis: "instance",
                usd_per_hour: Some(p),
                usd_per_kwh: None,
                source: "given by the user (--price-per-hour, USD per device-hour)".into(),
            }),
            None,
        );
    }
    if let Some(p) = job.electricity_price {
        return (
            Some(Price::PerKwh(p)),
            Some(CostBasis {
                basis: "electricity",
                usd_per_hour: None,
                usd_per_kwh: Some(p),
                source:
                    "given by the user (--electricity-price); electricity only, no hardware rental"
                        .into(),
            }),
            None,
        );
    }
    if let (Some(ip), Some((provider, region))) = (job.instance, &place.cloud) {
        let per = ip.usd_per_device_hour();
        let what = if ip.has_accelerator() {
            format!(
                "{} USD/h for {} × {}, i.e. {per:.4} USD per device-hour",
                ip.usd_per_hour, ip.accelerator_count, ip.accelerator
            )
        } else {
            format!(
                "{} USD/h for the instance{}, charged per device-hour (each device counts as one instance)",
                ip.usd_per_hour,
                ip.vcpus.map(|v| format!(" ({v} vCPUs)")).unwrap_or_default()
            )
        };
        return (
            Some(Price::PerDeviceHour(per)),
            Some(CostBasis {
                basis: "instance",
                usd_per_hour: Some(per),
                usd_per_kwh: None,
                source: format!(
                    "{provider} {} in {region} (--instance): {what}; {}; {}",
                    ip.instance,
                    ip.date.as_deref().unwrap_or("date not recorded"),
                    ip.source
                ),
            }),
            None,
        );
    }
    if let (Some((provider, region)), Some(acc)) =
        (&place.cloud, device.and_then(|d| d.accelerator))
    {
        if let Some(ip) = ecotrace_data::instance_price(provider, region, &acc.id, job.devices) {
            let per = ip.usd_per_device_hour();
            return (
                Some(Price::PerDeviceHour(per)),
                Some(CostBasis {
                    basis: "instance",
                    usd_per_hour: Some(per),
                    usd_per_kwh: None,
                    source: format!(
                        "{provider} {} in {region}: {} USD/h for {} × {} ({}), i.e. {per:.4} USD per device-hour; {}",
                        ip.instance,
                        ip.usd_per_hour,
                        ip.accelerator_count,
                        ip.accelerator,
                        ip.date.as_deref().unwrap_or("date not recorded"),
                        ip.source
                    ),
                }),
                None,
            );
        }
        return electricity_cost(place).unwrap_or_else(|why| {
            (
                None,
                None,
                Some(format!(
                    "cost not shown: no bundled {provider} price for {} in {region}{why}; pass --price-per-hour or --electricity-price",
                    acc.id
                )),
            )
        });
    }
    electricity_cost(place).unwrap_or_else(|why| {
        (
            None,
            None,
            Some(format!("cost not shown: no price known{why} (name a cloud region with bundled prices, or pass --price-per-hour or --electricity-price)")),
        )
    })
}

/// The electricity-only cost basis from the bundled average price of the place's zone (or of the
/// US state a cloud region is in), in USD: as published, or converted from EUR at the bundled ECB
/// annual average rate (said in the source). `Err` carries a phrase saying why not, to append to
/// the "cost not shown" note.
fn electricity_cost(place: &Place) -> std::result::Result<PriceChoice, String> {
    let Some(ep) = ecotrace_data::electricity_price(&place.label) else {
        return Err(String::new());
    };
    let Some((p, rate)) = ep.usd_per_kwh_converted() else {
        return Err(format!(
            ", and the bundled electricity price of {} is in {} ({} {}/kWh, {}) with no exchange rate bundled for it",
            ep.name, ep.currency, ep.price_per_kwh, ep.currency, ep.period
        ));
    };
    let converted = rate
        .map(|r| {
            format!(
                " (converted from {} {}/kWh at {} USD per {}, {}: {}, {})",
                ep.price_per_kwh,
                ep.currency,
                r.usd_per_unit,
                r.currency,
                r.period,
                r.source,
                r.license
            )
        })
        .unwrap_or_default();
    Ok((
        Some(Price::PerKwh(p)),
        Some(CostBasis {
            basis: "electricity",
            usd_per_hour: None,
            usd_per_kwh: Some(p),
            source: format!(
                "average electricity price {} ({}), {}, {}: {p:.4} USD/kWh{converted}; electricity only, no hardware rental; {} ({})",
                ep.name, ep.zone, ep.period, ep.sector, ep.source, ep.license
            ),
        }),
        None,
    ))
}

/// Runs one job on one device type in one place.
pub fn estimate_job(job: &JobSpec, device: &Device, place: &Place) -> Result<Estimated> {
    let mut device = device.clone();
    if let Some(k) = job.embodied_kg {
        device.embodied = CarbonMass::from_kg(k);
        device.embodied_estimated = false;
        device.embodied_source = "given by the user (--embodied-kg)".into();
    }
    if let Some(k) = job.host_embodied_kg {
        device.host.embodied = CarbonMass::from_kg(k);
        device.host.estimated = false;
        device.host.source = "given by the user (--host-embodied-kg)".into();
    }
    if let Some(n) = job.host_slots {
        device.host.slots = n;
        device.host.source = format!(
            "{} (slots given by the user: --host-slots {n})",
            device.host.source
        );
    }
    let device = &device;
    let mut a = Vec::new();
    let mut notes = place.notes.clone();
    let (device_hours, work_note) = match &job.work {
        Work::Hours(h) => (h * job.devices, None),
        Work::Flops { flops, how } => {
            let (peak, peak_src) = match (job.peak_tflops, &device.peak) {
                (Some(t), _) => (t * 1e12, "given by the user (--peak-tflops)".to_string()),
                (None, Some((p, s))) => (*p, s.clone()),
                (None, None) => {
                    return usage(format!(
                        "no peak FLOP/s is bundled for {}: pass --peak-tflops (dense TFLOP/s per device) or give --hours",
                        device.id
                    ))
                }
            };
            if peak_src.starts_with("fp32") {
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
                job.mfu.value(),
                "fraction",
                if (job.mfu.value() - DEFAULT_MFU).abs() < 1e-12 {
                    format!("default {DEFAULT_MFU} (docs/footprint.md); pass --mfu")
                } else {
                    "given by the user (--mfu)".to_string()
                },
            ));
            (
                estimate::device_hours_for_flops(*flops, peak, job.mfu),
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
        Some(w) => (
            Power::from_watts(w),
            "given by the user (--power-w)".to_string(),
        ),
        None => (device.rated_power, device.power_source.clone()),
    };
    let power = estimate::device_power(rated, job.utilization);
    a.push(Assumption::new(
        "device_power_w",
        rated.watts(),
        "W",
        rated_src,
    ));
    a.push(Assumption::new(
        "utilization",
        job.utilization.value(),
        "fraction of rated power",
        if (job.utilization.value() - DEFAULT_UTILIZATION).abs() < 1e-12 {
            "default 1.0: the device draws its rated power throughout (pass --utilization)"
                .to_string()
        } else {
            "given by the user (--utilization)".to_string()
        },
    ));
    a.extend(place.grid_assumptions());
    a.push(Assumption::new(
        "device_embodied_kgco2e",
        device.embodied.kg(),
        "kgCO2e per device",
        if device.embodied_estimated && !device.embodied_source.starts_with("estimate") {
            format!("estimated: {}", device.embodied_source)
        } else if device.embodied_estimated {
            device.embodied_source.clone()
        } else {
            format!("published: {}", device.embodied_source)
        },
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
        job.lifetime.years(),
        "years",
        if (job.lifetime.years() - DEFAULT_LIFETIME_YEARS).abs() < 1e-12 {
            format!(
                "default {DEFAULT_LIFETIME_YEARS} years (docs/footprint.md); pass --lifetime-years"
            )
        } else {
            "given by the user (--lifetime-years)".to_string()
        },
    ));
    a.extend(place.water_assumptions());
    let (price, cost, cost_note) = choose_price(job, Some(device), place);
    a.extend(cost.as_ref().map(CostBasis::assumption));
    notes.extend(cost_note);
    let inputs = EstimateInputs {
        device_hours,
        devices: job.devices,
        device_power: power,
        pue: place.pue,
        intensity: place.intensity,
        device_embodied: device.embodied,
        host_embodied: device.host.embodied,
        host_slots: device.host.slots,
        lifetime: job.lifetime,
        wue: place.wue,
        offsite_water: place.offsite,
        price,
    };
    Ok(Estimated {
        device: Some(device.clone()),
        place: place.clone(),
        devices: job.devices,
        figures: estimate::estimate(&inputs),
        embodied_known: true,
        cost,
        lifetime: job.lifetime,
        assumptions: a,
        notes,
    })
}

// ---------------------------------------------------------------------------------------------
// Output

fn num(x: f64) -> String {
    // Significant digits, never scientific for everyday magnitudes.
    let a = x.abs();
    if x == 0.0 {
        "0".into()
    } else if x.fract() == 0.0 && a < 1e7 {
        format!("{x:.0}")
    } else if !(1e-4..1e7).contains(&a) {
        format!("{x:.3e}")
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn with_commas(x: f64) -> String {
    let s = num(x);
    if s.contains('e') || s.contains('.') || s.trim_start_matches('-').len() <= 3 {
        return s;
    }
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

/// The estimate as `ecotrace estimate --json` prints it.
pub fn to_json(e: &Estimated) -> Value {
    let f = &e.figures;
    json!({
        "hardware": e.device.as_ref().map(|d| d.id.clone()),
        "devices": e.device.as_ref().map(|_| e.devices),
        "region": e.place.label,
        "device_hours": e.device.as_ref().map(|_| f.device_hours),
        "wall_hours": e.device.as_ref().map(|_| f.wall_hours),
        "energy_kwh": f.energy.kwh(),
        "facility_energy_kwh": f.facility_energy.kwh(),
        "operational_kgco2e": f.operational.kg(),
        "embodied_kgco2e": e.embodied_known.then(|| f.embodied().kg()),
        "embodied": e.embodied_known.then(|| json!({
            "devices_kgco2e": f.embodied_devices.kg(),
            "host_kgco2e": f.embodied_host.kg(),
            "lifetime_years": e.lifetime.years(),
            "method": "SCI M: embodied × device-hours / lifetime (host: ÷ slots)",
        })),
        "water_l": f.water.total().litres(),
        "water": { "onsite_l": f.water.onsite.litres(), "offsite_l": f.water.offsite.litres() },
        "cost_usd": f.cost.map(|c| c.usd()),
        "cost": e.cost.as_ref().map(|c| json!({
            "basis": c.basis, "usd_per_hour": c.usd_per_hour, "usd_per_kwh": c.usd_per_kwh, "source": c.source,
        })),
        "assumptions": e.assumptions.iter().map(Assumption::json).collect::<Vec<_>>(),
        "notes": e.notes,
    })
}

/// The estimate as `ecotrace estimate` prints it, under `title`.
pub fn to_text(e: &Estimated, title: &str) -> String {
    let f = &e.figures;
    let mut o = String::new();
    let _ = writeln!(o, "{title}");
    if e.device.is_some() {
        let _ = writeln!(
            o,
            "  device-hours  {} ({} device(s) × {} h)",
            with_commas(f.device_hours),
            num(e.devices),
            with_commas(f.wall_hours)
        );
    }
    let _ = writeln!(
        o,
        "  energy        {} kWh IT, {} kWh at the meter (PUE {})",
        with_commas(f.energy.kwh()),
        with_commas(f.facility_energy.kwh()),
        e.place.pue.value()
    );
    let _ = writeln!(
        o,
        "  operational   {} kgCO2e  ({}, {} gCO2e/kWh)",
        with_commas(f.operational.kg()),
        e.place.label,
        num(e.place.intensity.g_per_kwh())
    );
    if e.embodied_known {
        let _ = writeln!(
            o,
            "  embodied      {} kgCO2e  (SCI M: devices {} + host share {}; {}-year life) — not included in operational",
            with_commas(f.embodied().kg()),
            num(f.embodied_devices.kg()),
            num(f.embodied_host.kg()),
            num(e.lifetime.years())
        );
    } else {
        let _ = writeln!(
            o,
            "  embodied      not estimated (no hardware given: pass --hardware)"
        );
    }
    let _ = writeln!(
        o,
        "  water         {} L  (on-site {} L + off-site {} L)",
        with_commas(f.water.total().litres()),
        with_commas(f.water.onsite.litres()),
        with_commas(f.water.offsite.litres())
    );
    match (&e.cost, f.cost) {
        (Some(c), Some(usd)) => {
            let _ = writeln!(
                o,
                "  cost          {} USD  ({})",
                with_commas(usd.usd()),
                if c.basis == "instance" {
                    "instance rental"
                } else {
                    "electricity only"
                }
            );
        }
        _ => {
            let _ = writeln!(o, "  cost          not shown (no price known)");
        }
    }
    let _ = writeln!(o, "Assumptions:");
    for a in &e.assumptions {
        let v = match &a.value {
            Value::Number(n) => n.as_f64().map(num).unwrap_or_else(|| n.to_string()),
            other => other.to_string(),
        };
        let _ = writeln!(o, "  {:<26} {} {} — {}", a.name, v, a.unit, a.source);
    }
    for n in &e.notes {
        let _ = writeln!(o, "note: {n}");
    }
    o
}

// ---------------------------------------------------------------------------------------------
// Commands

/// `estimate`: a job on `hardware` for a time or an amount of work.
pub fn run_estimate(args: &EstimateOptions) -> Result<Estimated> {
    let Some(hw) = args.hardware.as_deref() else {
        return usage("--hardware NAME is required (e.g. --hardware A100-80GB); `ecotrace data hardware` lists the catalog");
    };
    let device = resolve_device(hw)?;
    let place = resolve_place(args.region.as_deref(), &args.grid, &args.footprint)?;
    let work = work_from(&args.size)?;
    let mut job = job_from(
        args.devices.unwrap_or(1.0),
        work,
        &args.footprint,
        &args.device,
    )?;
    if let Some(name) = args.instance.as_deref() {
        job.instance = Some(resolve_instance(name, &device, &place)?);
    }
    estimate_job(&job, &device, &place)
}

/// The heading `to_text` gets from the CLI: what was estimated.
pub fn estimate_title(e: &Estimated) -> String {
    match &e.device {
        Some(d) => format!(
            "Estimate: {} × {} ({}) in {}",
            num(e.devices),
            d.id,
            d.name,
            e.place.label
        ),
        None => format!("Estimate in {}", e.place.label),
    }
}

/// `estimate inference`: a deployment's whole-life inference footprint.
pub fn run_inference(args: &InferenceOptions) -> Result<Estimated> {
    let rpd = positive(
        args.requests_per_day,
        "requests-per-day",
        "number of requests",
    )?;
    let days = positive(args.days, "days", "number of days")?;
    let requests = rpd * days;
    let place = resolve_place(args.region.as_deref(), &args.grid, &args.footprint)?;
    let per_request_flops = match (args.flops_per_request, args.params, args.tokens_per_request) {
        (Some(f), None, None) => Some((
            positive(f, "flops-per-request", "number of FLOPs")?,
            "given by the user (--flops-per-request)".to_string(),
        )),
        (None, Some(n), Some(t)) => {
            let n = positive(n, "params", "number of parameters")?;
            let t = positive(t, "tokens-per-request", "number of tokens")?;
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
            let wh = positive(wh, "energy-per-request-wh", "number of Wh")?;
            let energy = estimate::inference_energy(Energy::from_wh(wh), rpd, days);
            let job = job_from(1.0, Work::Hours(1.0), &args.footprint, &args.device)?;
            let mut a = vec![
                Assumption::new("energy_per_request_wh", wh, "Wh (IT)", "given by the user (--energy-per-request-wh)"),
                Assumption::new("requests", requests, "requests", format!("{rpd} per day × {days} days")),
            ];
            a.extend(place.grid_assumptions());
            a.extend(place.water_assumptions());
            let mut notes = place.notes.clone();
            notes.push("no hardware given: embodied carbon is not estimated (use --flops-per-request or --params/--tokens-per-request with --hardware)".into());
            let (price, cost, cost_note) = match job.electricity_price {
                Some(p) => (
                    Some(Price::PerKwh(p)),
                    Some(CostBasis { basis: "electricity", usd_per_hour: None, usd_per_kwh: Some(p), source: "given by the user (--electricity-price); electricity only".into() }),
                    None,
                ),
                None => electricity_cost(&place).unwrap_or_else(|why| {
                    (None, None, Some(format!("cost not shown: pass --electricity-price (no hardware, so no rental price applies{why})")))
                }),
            };
            a.extend(cost.as_ref().map(CostBasis::assumption));
            notes.extend(cost_note);
            // Energy is given directly: express it as device-hours of a 1 kW device so the shared
            // model applies; no embodied carbon (no hardware).
            let inputs = EstimateInputs {
                device_hours: energy.kwh(),
                devices: 1.0,
                device_power: Power::from_watts(1000.0),
                pue: place.pue,
                intensity: place.intensity,
                device_embodied: CarbonMass::ZERO,
                host_embodied: CarbonMass::ZERO,
                host_slots: 1,
                lifetime: job.lifetime,
                wue: place.wue,
                offsite_water: place.offsite,
                price,
            };
            Ok(Estimated {
                device: None,
                place,
                devices: 1.0,
                figures: estimate::estimate(&inputs),
                embodied_known: false,
                cost,
                lifetime: job.lifetime,
                assumptions: a,
                notes,
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
            let job = job_from(args.devices.unwrap_or(1.0), work, &args.footprint, &args.device)?;
            let mut e = estimate_job(&job, &device, &place)?;
            e.assumptions.insert(0, Assumption::new("requests", requests, "requests", format!("{rpd} per day × {days} days")));
            Ok(e)
        }
        (Some(_), Some(_)) => usage("give either --energy-per-request-wh or FLOPs per request, not both"),
        (None, None) => usage("say what a request costs: --energy-per-request-wh E, or --flops-per-request F (or --params N --tokens-per-request T) with --hardware"),
    }
}

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
    let mut regions: Vec<Option<String>> = split_list(&args.region).into_iter().map(Some).collect();
    if regions.is_empty() {
        regions.push(None);
    }
    let work = work_from(&args.size)?;
    let job = job_from(
        args.devices.unwrap_or(1.0),
        work,
        &args.footprint,
        &args.device,
    )?;
    let devices: Vec<Device> = hardware
        .iter()
        .map(|h| resolve_device(h))
        .collect::<Result<_>>()?;
    let places: Vec<Place> = regions
        .iter()
        .map(|r| resolve_place(r.as_deref(), &args.grid, &args.footprint))
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

/// The comparison as `ecotrace compare` prints it: one row per choice.
pub fn compare_text(rows: &[Estimated]) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<16} {:<22} {:>12} {:>11} {:>16} {:>14} {:>16} {:>10} {:>11}",
        "hardware",
        "region",
        "device-h",
        "energy kWh",
        "operational kg",
        "embodied kg",
        "op.+emb. kgCO2e",
        "water L",
        "cost USD"
    );
    let best = rows
        .first()
        .map(|r| r.figures.operational.kg() + r.figures.embodied().kg());
    for r in rows {
        let f = &r.figures;
        let _ = writeln!(
            o,
            "{:<16} {:<22} {:>12} {:>11} {:>16} {:>14} {:>16} {:>10} {:>11}",
            r.device.as_ref().map_or("-", |d| d.id.as_str()),
            r.place.label,
            with_commas(f.device_hours),
            with_commas(f.energy.kwh()),
            with_commas(f.operational.kg()),
            with_commas(f.embodied().kg()),
            with_commas(f.operational.kg() + f.embodied().kg()),
            with_commas(f.water.total().litres()),
            f.cost.map_or("-".to_string(), |c| with_commas(c.usd())),
        );
    }
    if let (Some(best), Some(worst)) = (
        best,
        rows.last()
            .map(|r| r.figures.operational.kg() + r.figures.embodied().kg()),
    ) {
        if worst > 0.0 && rows.len() > 1 {
            let _ = writeln!(
                o,
                "\nSorted by operational + embodied CO2e (shown apart above). The first choice emits {:.0} % less than the last.",
                (1.0 - best / worst) * 100.0
            );
        }
    }
    let _ = writeln!(o, "Cost is instance rental where a price is bundled for the region, else electricity if --electricity-price is given, else '-'.");
    let _ = writeln!(
        o,
        "Every assumption: ecotrace estimate --hardware H --region R ... --json"
    );
    o
}

/// The comparison as `ecotrace compare --json` prints it.
pub fn compare_json(rows: &[Estimated]) -> Value {
    Value::Array(rows.iter().map(to_json).collect())
}

// ---------------------------------------------------------------------------------------------
// Storing an estimate as a project's future phase

fn random_id() -> String {
    // A version-4 UUID from the OS's random source (the ledger only needs uniqueness).
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    if b == [0u8; 16] {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        b = (t ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The estimate as a run record of kind `estimated`, so `report --lifecycle` can show a future
/// phase beside the measured ones. Its figures are recomputed from the stored factors and equal
/// the estimate's.
pub fn estimate_record(
    e: &Estimated,
    project: &str,
    phase: ecotrace_core::Phase,
    command: Vec<String>,
) -> ecotrace_core::RunRecord {
    use ecotrace_core::*;
    use std::collections::BTreeMap;
    let f = &e.figures;
    let now = chrono::Utc::now();
    let wall_h = if e.device.is_some() {
        f.wall_hours
    } else {
        0.0
    };
    let duration = std::time::Duration::from_secs_f64((wall_h * 3600.0).clamp(0.0, 1e15));
    let mut figures = BTreeMap::new();
    figures.insert("device_hours".to_string(), f.device_hours);
    if let Some(d) = &e.device {
        figures.insert("devices".to_string(), e.devices);
        figures.insert(
            "power_w".to_string(),
            f.energy.wh() / f.device_hours.max(f64::MIN_POSITIVE),
        );
        let _ = d;
    }
    let (kind, device_label) = match &e.device {
        Some(d) if d.accelerator.is_none() => {
            (ComponentKind::Cpu, format!("{} × {}", num(e.devices), d.id))
        }
        Some(d) => (ComponentKind::Gpu, format!("{} × {}", num(e.devices), d.id)),
        None => (ComponentKind::Gpu, "requests".to_string()),
    };
    let component = ComponentEnergy {
        component: kind,
        device: device_label,
        energy: f.energy,
        mean_power: f.energy / duration,
        peak_power: f.energy / duration,
        method: Method::Estimate,
        figures,
        note: "a-priori estimate (ecotrace estimate); its assumptions are in the notes".to_string(),
    };
    let mut items = Vec::new();
    if let (Some(d), true) = (&e.device, e.embodied_known) {
        let lifetime = e.lifetime;
        items.push(EmbodiedItem {
            component: if d.accelerator.is_some() {
                EmbodiedKind::Gpu
            } else {
                EmbodiedKind::Cpu
            },
            device: format!("{} × {}", num(e.devices), d.id),
            hardware: d.name.clone(),
            device_embodied: d.embodied * e.devices,
            lifetime,
            share: Fraction::ONE,
            estimated: d.embodied_estimated,
            source: format!(
                "{} kgCO2e per device × {}: {}",
                num(d.embodied.kg()),
                num(e.devices),
                d.embodied_source
            ),
            charged: CarbonMass::ZERO,
        });
        let hosts = e.devices / f64::from(d.host.slots.max(1));
        items.push(EmbodiedItem {
            component: EmbodiedKind::Host,
            device: "host".to_string(),
            hardware: d.host.name.clone(),
            device_embodied: d.host.embodied * hosts,
            lifetime,
            share: Fraction::ONE,
            estimated: d.host.estimated,
            source: format!(
                "{} kgCO2e per host × {} devices / {} slots: {}",
                num(d.host.embodied.kg()),
                num(e.devices),
                d.host.slots,
                d.host.source
            ),
            charged: CarbonMass::ZERO,
        });
    }
    let cost_used = e.cost.as_ref().map(|c| CostUsed {
        basis: if c.basis == "instance" {
            ecotrace_core::CostBasis::Instance
        } else {
            ecotrace_core::CostBasis::Electricity
        },
        usd_per_hour: c.usd_per_hour.map(|p| p * e.devices),
        usd_per_kwh: c.usd_per_kwh,
        source: c.source.clone(),
    });
    let mut notes =
        vec!["a-priori estimate stored with `--add-to-project`, not a measurement".to_string()];
    for a in &e.assumptions {
        notes.push(format!(
            "assumption {} = {} {} — {}",
            a.name, a.value, a.unit, a.source
        ));
    }
    notes.extend(e.notes.iter().cloned());
    let mut r = RunRecord {
        record_version: RECORD_VERSION,
        id: random_id(),
        project: project.to_string(),
        phase,
        tags: BTreeMap::new(),
        command,
        status: RunStatus::Running,
        exit_code: None,
        signal: None,
        error: None,
        started_at: now,
        ended_at: Some(now),
        duration,
        scope: Scope::Machine,
        host: Host {
            hostname: "estimate".to_string(),
            ..Host::default()
        },
        energy_kwh: EnergyBreakdown::default(),
        components: vec![component],
        mean_power: Power::ZERO,
        pue: PueUsed {
            value: e.place.pue,
            source: e.place.pue_source.clone(),
        },
        intensity: IntensityUsed {
            value: e.place.intensity,
            zone: e.place.label.clone(),
            source: e.place.intensity_source.clone(),
            year: None,
            basis: e.place.intensity_basis,
        },
        operational: CarbonMass::ZERO,
        embodied: None,
        embodied_items: items,
        water: None,
        water_used: Some(WaterUsed {
            wue: e.place.wue,
            wue_source: e.place.wue_source.clone(),
            offsite_factor: e.place.offsite,
            offsite_source: e.place.offsite_source.clone(),
            onsite: Water::ZERO,
            offsite: Water::ZERO,
        }),
        cost: None,
        cost_used,
        kind: RecordKind::Estimated,
        job: None,
        notes,
        metrics: BTreeMap::new(),
        samples: SamplesSummary::default(),
        tracker: TrackerInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            interval_s: std::time::Duration::ZERO,
            pid: std::process::id(),
        },
    };
    r.recompute();
    if e.device.is_none() {
        // No wall time for an energy-per-request estimate: keep the energy as given.
        r.mean_power = Power::ZERO;
    }
    r
}

// ---------------------------------------------------------------------------------------------
// `ecotrace data hardware`

fn opt(x: Option<f64>) -> String {
    x.map_or("-".to_string(), num)
}

/// `ecotrace data hardware`: the hardware catalog as a table or JSON.
pub fn data_hardware(as_json: bool, with_cpus: bool) -> Result<String> {
    let accs = ecotrace_data::accelerators();
    let refs = ecotrace_data::embodied_refs();
    if as_json {
        let a: Vec<Value> = accs
            .iter()
            .map(|a| {
                json!({
                    "id": a.id, "aliases": a.aliases, "vendor": a.vendor, "name": a.name, "kind": a.kind,
                    "memory_gb": a.memory_gb, "tdp_w": a.tdp.watts(),
                    "tflops_fp32": a.tflops_fp32, "tflops_fp16": a.tflops_fp16, "tflops_fp8": a.tflops_fp8,
                    "release_year": a.release_year, "spec_source": a.spec_source,
                    "embodied_kgco2e": a.embodied.kg(), "embodied_estimated": a.embodied_estimated,
                    "embodied_basis": a.embodied_basis, "embodied_source": a.embodied_source,
                    "license": a.license, "notes": a.notes,
                })
            })
            .collect();
        let h: Vec<Value> = refs
            .iter()
            .map(|e| {
                json!({
                    "id": e.id, "name": e.name, "kind": e.kind, "slots": e.slots,
                    "embodied_kgco2e": e.embodied.kg(), "estimated": e.estimated, "source": e.source,
                    "year": e.year, "license": e.license, "notes": e.notes,
                })
            })
            .collect();
        let mut obj = json!({ "accelerators": a, "hosts_and_cpus": h, "cpu_count": ecotrace_data::cpus().len() });
        if with_cpus {
            obj["cpus"] = Value::Array(
                ecotrace_data::cpus()
                    .iter()
                    .map(|c| json!({"name": c.name, "tdp_w": c.tdp.watts(), "cores": c.cores, "source": c.source, "year": c.year}))
                    .collect(),
            );
        }
        return Ok(serde_json::to_string_pretty(&obj)?);
    }
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<16} {:>7} {:>6} {:>10} {:>10} {:>12}  embodied basis",
        "accelerator", "mem GB", "TDP W", "fp16 TF/s", "fp32 TF/s", "embodied kg"
    );
    for a in accs {
        let _ = writeln!(
            o,
            "{:<16} {:>7} {:>6} {:>10} {:>10} {:>12}  {}",
            a.id,
            num(a.memory_gb),
            num(a.tdp.watts()),
            opt(a.tflops_fp16),
            opt(a.tflops_fp32),
            num(a.embodied.kg()),
            if a.embodied_estimated {
                format!("{} (estimated)", a.embodied_basis)
            } else {
                a.embodied_basis.clone()
            }
        );
    }
    let _ = writeln!(
        o,
        "\n{:<12} {:>6} {:>12}  name",
        "host / cpu", "slots", "embodied kg"
    );
    for e in refs {
        let _ = writeln!(
            o,
            "{:<12} {:>6} {:>12}  {}{}",
            e.id,
            e.slots,
            num(e.embodied.kg()),
            e.name,
            if e.estimated { " (estimated)" } else { "" }
        );
    }
    let cpus = ecotrace_data::cpus();
    let _ = writeln!(
        o,
        "\nCPUs: {} models with TDP ({} with core counts){}",
        cpus.len(),
        cpus.iter().filter(|c| c.cores.is_some()).count(),
        if with_cpus {
            ":"
        } else {
            "; list them with --cpus"
        }
    );
    if with_cpus {
        for c in cpus {
            let _ = writeln!(
                o,
                "  {:<48} {:>6} W {:>5}",
                c.name,
                num(c.tdp.watts()),
                c.cores.map_or("-".into(), |n| n.to_string())
            );
        }
    }
    let _ = writeln!(o, "\nSources:");
    for a in accs {
        let _ = writeln!(
            o,
            "  {}: specs: {}; embodied: {} [{}]",
            a.id, a.spec_source, a.embodied_source, a.license
        );
    }
    for e in refs {
        let _ = writeln!(o, "  {}: {} [{}]", e.id, e.source, e.license);
    }
    let _ = writeln!(
        o,
        "\nLicences and choices: docs/data.md; models: docs/footprint.md"
    );
    Ok(o)
}
