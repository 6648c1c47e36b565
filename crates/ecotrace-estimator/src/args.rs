//! Command-line definitions of `ecotrace estimate`, `ecotrace estimate inference` and
//! `ecotrace compare`, and the option groups only they take (size, device). The factor options
//! (region, intensity, PUE, water, lifetime, prices) are `ecotrace-factors`' [`FactorArgs`], shared
//! with `run` and `doctor`. The CLI and the Python package (`ecotrace.estimate()`, which parses its
//! keyword arguments as these flags) use these definitions. Each struct's `to_options()` gives the
//! [`crate::options`] struct the estimator takes. No logic lives here.

use clap::{Args, Subcommand};

use crate::options::{
    CompareOptions, DeviceOptions, EstimateOptions, InferenceOptions, ProvisionedOptions,
    SizeOptions,
};

pub use ecotrace_factors::FactorArgs;

/// How big a job is: a time, or an amount of work.
#[derive(Debug, Args, Default, Clone)]
pub struct SizeArgs {
    /// Wall-clock hours the devices run
    #[arg(long, value_name = "H")]
    pub hours: Option<f64>,

    /// Work in floating-point operations (device-hours then follow from peak FLOP/s and --mfu)
    #[arg(long, value_name = "F")]
    pub flops: Option<f64>,

    /// Model parameters, with --tokens: training FLOPs = 6 × params × tokens
    #[arg(long, value_name = "N")]
    pub params: Option<f64>,

    /// Training tokens, with --params
    #[arg(long, value_name = "D")]
    pub tokens: Option<f64>,
}

/// How the devices are used.
#[derive(Debug, Args, Default, Clone)]
pub struct DeviceArgs {
    /// Mean share of the rated power drawn, 0 to 1 [default: 1, the TDP]
    #[arg(long, value_name = "U")]
    pub utilization: Option<f64>,

    /// Power of one device in watts, instead of its catalog TDP
    #[arg(long, value_name = "W")]
    pub power_w: Option<f64>,

    /// Model FLOPs utilization: share of peak FLOP/s achieved, for --flops/--params [default: 0.35]
    #[arg(long, value_name = "FRACTION")]
    pub mfu: Option<f64>,

    /// Peak dense TFLOP/s of one device, instead of the catalog's
    #[arg(long, value_name = "TFLOPS")]
    pub peak_tflops: Option<f64>,

    /// Embodied carbon of one device in kgCO2e, instead of the catalog's
    #[arg(long, value_name = "KG")]
    pub embodied_kg: Option<f64>,

    /// Embodied carbon of one host (server without its devices) in kgCO2e, instead of the catalog's
    #[arg(long, value_name = "KG")]
    pub host_embodied_kg: Option<f64>,

    /// Devices one host holds, sharing its embodied carbon [default: 8 for accelerators, 2 for CPUs]
    #[arg(long, value_name = "N")]
    pub host_slots: Option<u32>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, allow_negative_numbers = true)]
pub struct EstimateArgs {
    #[command(subcommand)]
    pub mode: Option<EstimateMode>,

    /// Accelerator (or CPU) from the catalog, e.g. A100-80GB, H100-SXM, TPU-v4
    #[arg(long, value_name = "NAME")]
    pub hardware: Option<String>,

    /// Devices used in parallel [default: 1]
    #[arg(long, value_name = "N")]
    pub devices: Option<f64>,

    #[command(flatten)]
    pub size: SizeArgs,

    #[command(flatten)]
    pub device: DeviceArgs,

    /// Cloud instance type rented (e.g. m5.xlarge, p4d.24xlarge), priced from the bundled table in
    /// --region (a cloud region); for a CPU instance each device counts as one instance
    #[arg(long, value_name = "TYPE")]
    pub instance: Option<String>,

    #[command(flatten)]
    pub factors: FactorArgs,

    /// Store the estimate in the ledger as an estimated run of this project (for `report --lifecycle`)
    #[arg(long, value_name = "PROJECT")]
    pub add_to_project: Option<String>,

    /// Phase of the stored estimate [default: training; inference for `estimate inference`]
    #[arg(long, value_name = "PHASE")]
    pub phase: Option<String>,

    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum EstimateMode {
    /// Inference over a deployment: energy per request × requests per day × days
    Inference(InferenceArgs),
}

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct InferenceArgs {
    /// IT energy of one request in Wh
    #[arg(long, value_name = "E")]
    pub energy_per_request_wh: Option<f64>,

    /// FLOPs of one request (with --hardware)
    #[arg(long, value_name = "F")]
    pub flops_per_request: Option<f64>,

    /// Model parameters, with --tokens-per-request: FLOPs per request = 2 × params × tokens
    #[arg(long, value_name = "N")]
    pub params: Option<f64>,

    /// Tokens processed per request, with --params
    #[arg(long, value_name = "T")]
    pub tokens_per_request: Option<f64>,

    #[arg(long, value_name = "R")]
    /// Requests served per day
    pub requests_per_day: f64,

    /// Days of deployment
    #[arg(long, value_name = "D")]
    pub days: f64,

    /// Accelerator serving the requests (for FLOPs per request, and embodied carbon)
    #[arg(long, value_name = "NAME")]
    pub hardware: Option<String>,

    /// Devices serving in parallel [default: 1]
    #[arg(long, value_name = "N")]
    pub devices: Option<f64>,

    #[command(flatten)]
    pub device: DeviceArgs,

    #[command(flatten)]
    pub factors: FactorArgs,

    #[command(flatten)]
    pub provisioned: ProvisionedArgs,

    /// Store the estimate in the ledger as an estimated run of this project (for `report --lifecycle`)
    #[arg(long, value_name = "PROJECT")]
    pub add_to_project: Option<String>,

    /// Phase of the stored estimate [default: inference]
    #[arg(long, value_name = "PHASE")]
    pub phase: Option<String>,

    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct CompareArgs {
    /// Hardware to compare, comma-separated (e.g. A100-80GB,H100-SXM)
    #[arg(long, value_name = "A,B,...", required = true)]
    pub hardware: Vec<String>,

    /// Devices used in parallel [default: 1]
    #[arg(long, value_name = "N")]
    pub devices: Option<f64>,

    #[command(flatten)]
    pub size: SizeArgs,

    #[command(flatten)]
    pub device: DeviceArgs,

    #[command(flatten)]
    pub factors: FactorArgs,

    /// Print a JSON list, one estimate per choice
    #[arg(long)]
    pub json: bool,
}

// The option structs the estimator takes: a flag group becomes its option group field by field;
// the origins of the flags are filled by the caller, which has the parsed matches.

impl SizeArgs {
    pub fn to_options(&self) -> SizeOptions {
        SizeOptions {
            hours: self.hours,
            flops: self.flops,
            params: self.params,
            tokens: self.tokens,
        }
    }
}

impl DeviceArgs {
    pub fn to_options(&self) -> DeviceOptions {
        DeviceOptions {
            utilization: self.utilization,
            power_w: self.power_w,
            mfu: self.mfu,
            peak_tflops: self.peak_tflops,
            embodied_kg: self.embodied_kg,
            host_embodied_kg: self.host_embodied_kg,
            host_slots: self.host_slots,
        }
    }
}

impl EstimateArgs {
    /// The estimate asked for (`--add-to-project`, `--phase` and `--json` are the caller's).
    pub fn to_options(&self) -> EstimateOptions {
        EstimateOptions {
            hardware: self.hardware.clone(),
            devices: self.devices,
            size: self.size.to_options(),
            device: self.device.to_options(),
            instance: self.instance.clone(),
            factors: self.factors.clone(),
            origins: Default::default(),
        }
    }
}

impl InferenceArgs {
    /// The estimate asked for (`--add-to-project`, `--phase` and `--json` are the caller's).
    pub fn to_options(&self) -> InferenceOptions {
        InferenceOptions {
            energy_per_request_wh: self.energy_per_request_wh,
            flops_per_request: self.flops_per_request,
            params: self.params,
            tokens_per_request: self.tokens_per_request,
            requests_per_day: self.requests_per_day,
            days: self.days,
            hardware: self.hardware.clone(),
            devices: self.devices,
            device: self.device.to_options(),
            factors: self.factors.clone(),
            origins: Default::default(),
            provisioned: ProvisionedOptions {
                idle_power_w: self.provisioned.idle_power_w,
                busy_power_w: self.provisioned.busy_power_w,
                busy_fraction: self.provisioned.busy_fraction,
                tokens_per_second: self.provisioned.tokens_per_second,
            },
        }
    }
}

/// A provisioned deployment (`estimate inference --hardware H --devices N --days D
/// --requests-per-day R` with `--power-w W`, or these three), or a benchmark's throughput.
#[derive(Debug, Args, Default, Clone)]
pub struct ProvisionedArgs {
    /// Power of one device with no request in flight, W (with --busy-power-w and --busy-fraction)
    #[arg(long, value_name = "W")]
    pub idle_power_w: Option<f64>,
    /// Power of one device while serving requests, W
    #[arg(long, value_name = "W")]
    pub busy_power_w: Option<f64>,
    /// Share of the time the devices serve requests, 0 to 1
    #[arg(long, value_name = "F")]
    pub busy_fraction: Option<f64>,
    /// Tokens generated per second at --power-w (a benchmark figure: energy per token = W / S)
    #[arg(long, value_name = "S")]
    pub tokens_per_second: Option<f64>,
}

impl CompareArgs {
    /// The comparison asked for (`--json` is the caller's).
    pub fn to_options(&self) -> CompareOptions {
        CompareOptions {
            hardware: self.hardware.clone(),
            devices: self.devices,
            size: self.size.to_options(),
            device: self.device.to_options(),
            factors: self.factors.clone(),
            origins: Default::default(),
        }
    }
}

/// `ecotrace plan`: the region and start hour with the cleanest window, by a deadline.
#[derive(Debug, Args, Default, Clone)]
#[command(allow_negative_numbers = true)]
pub struct PlanArgs {
    /// How long the job runs: 6h, 90m, 2d (rounded up to whole hours)
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,

    /// Regions to choose from, comma-separated; the first is the baseline (e.g.
    /// FR,DE,SE-SE3,aws:eu-north-1)
    #[arg(
        long,
        env = "ECOTRACE_REGION",
        value_name = "R1,R2,...",
        value_delimiter = ','
    )]
    pub region: Vec<String>,

    /// Earliest start, RFC 3339 (2023-01-01T00:00Z) [default: the next full hour]
    #[arg(long, value_name = "TIME")]
    pub start_after: Option<String>,

    /// Latest end: RFC 3339, or a duration after --start-after (24h, 3d) [default: start-after +
    /// duration + 24h]
    #[arg(long, value_name = "TIME|DURATION")]
    pub deadline: Option<String>,

    /// Year whose same calendar hours stand in for dates without data [default: the most recent
    /// year with data for every region]
    #[arg(long, value_name = "YEAR")]
    pub profile_year: Option<i32>,

    /// Emissions counted: lifecycle or direct [default: lifecycle]
    #[arg(long, env = "ECOTRACE_BASIS", value_name = "lifecycle|direct")]
    pub basis: Option<String>,

    /// Hardware from the catalog, to state the saving in kgCO2e (with --devices)
    #[arg(long, value_name = "H")]
    pub hardware: Option<String>,

    /// Devices used in parallel [default: 1]
    #[arg(long, value_name = "N")]
    pub devices: Option<f64>,

    /// Energy of the job in kWh, to state the saving in kgCO2e
    #[arg(long, value_name = "E", conflicts_with = "hardware")]
    pub energy_kwh: Option<f64>,

    // A live provider's history and forecast instead of the bundled profile.
    #[command(flatten)]
    pub provider: ecotrace_factors::ProviderArgs,
}

impl PlanArgs {
    pub fn to_options(&self) -> crate::plan::PlanOptions {
        crate::plan::PlanOptions {
            duration: self.duration.clone(),
            regions: self.region.clone(),
            start_after: self.start_after.clone(),
            deadline: self.deadline.clone(),
            profile_year: self.profile_year,
            basis: self.basis.clone(),
            hardware: self.hardware.clone(),
            devices: self.devices,
            energy_kwh: self.energy_kwh,
        }
    }
}
