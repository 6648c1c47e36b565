//! What an estimate is asked for: plain option structs, one per command, built from the CLI's
//! flags ([`crate::args`], `to_options()`) or by any other caller. `None` means "not given": the
//! estimator then uses the catalog's, the region's or its documented default figure and says so in
//! the estimate's assumptions. Values are checked by the estimator, not here.

/// The factors of the place and the footprint (region, intensity, PUE, water, lifetime, prices):
/// the options every command shares, defined once in `ecotrace-factors`.
pub use ecotrace_factors::{FactorArgs as FactorOptions, Origins};

/// How big a job is: a time (`hours`), or an amount of work (`flops`, or `params` with `tokens`).
/// Exactly one of the three must be given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SizeOptions {
    /// Wall-clock hours the devices run.
    pub hours: Option<f64>,
    /// Work in floating-point operations.
    pub flops: Option<f64>,
    /// Model parameters (training FLOPs = 6 × params × tokens).
    pub params: Option<f64>,
    /// Training tokens, with `params`.
    pub tokens: Option<f64>,
}

/// How the devices are used; each figure overrides the catalog's or the default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceOptions {
    /// Mean share of the rated power drawn, 0 to 1 [default: 1].
    pub utilization: Option<f64>,
    /// Power of one device in watts.
    pub power_w: Option<f64>,
    /// Model FLOPs utilization, 0 to 1 [default: 0.35].
    pub mfu: Option<f64>,
    /// Peak dense TFLOP/s of one device.
    pub peak_tflops: Option<f64>,
    /// Embodied carbon of one device in kgCO2e.
    pub embodied_kg: Option<f64>,
    /// Embodied carbon of one host (without its devices) in kgCO2e.
    pub host_embodied_kg: Option<f64>,
    /// Devices one host holds [default: 8 for accelerators, 2 for CPUs].
    pub host_slots: Option<u32>,
}

/// `ecotrace estimate`: a training (or any batch) job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EstimateOptions {
    /// Accelerator or CPU from the catalog (required).
    pub hardware: Option<String>,
    /// Devices used in parallel [default: 1].
    pub devices: Option<f64>,
    pub size: SizeOptions,
    pub device: DeviceOptions,
    /// Cloud instance type rented (`m5.xlarge`, `p4d.24xlarge`): its bundled hourly price in the
    /// cloud `factors.region` is charged, unless `factors.price_per_hour` is given.
    pub instance: Option<String>,
    /// Region, intensity, PUE, water, lifetime, prices.
    pub factors: FactorOptions,
    /// Where each option given came from (flag, variable, config file, keyword).
    pub origins: Origins,
}

/// `ecotrace estimate inference`: a deployment, energy per request × requests per day × days.
/// Give `energy_per_request_wh`, or `hardware` with `flops_per_request` (or `params` with
/// `tokens_per_request`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InferenceOptions {
    /// IT energy of one request in Wh.
    pub energy_per_request_wh: Option<f64>,
    /// FLOPs of one request.
    pub flops_per_request: Option<f64>,
    /// Model parameters (FLOPs per request = 2 × params × tokens).
    pub params: Option<f64>,
    /// Tokens processed per request, with `params`.
    pub tokens_per_request: Option<f64>,
    pub requests_per_day: f64,
    pub days: f64,
    /// Accelerator serving the requests.
    pub hardware: Option<String>,
    /// Devices serving in parallel [default: 1].
    pub devices: Option<f64>,
    pub device: DeviceOptions,
    /// Region, intensity, PUE, water, lifetime, prices.
    pub factors: FactorOptions,
    /// Where each option given came from.
    pub origins: Origins,
    /// A provisioned deployment's power (idle, busy) or a benchmark's throughput.
    pub provisioned: ProvisionedOptions,
}

/// A deployment provisioned for `days` whether or not requests arrive (see
/// `crate::deployment`): its devices' idle and busy power and busy fraction, or a benchmark's
/// tokens per second.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProvisionedOptions {
    /// Power of one device with no request in flight, W.
    pub idle_power_w: Option<f64>,
    /// Power of one device while serving, W.
    pub busy_power_w: Option<f64>,
    /// Share of the time the devices serve requests, 0 to 1.
    pub busy_fraction: Option<f64>,
    /// Tokens generated per second at `device.power_w` (a benchmark figure).
    pub tokens_per_second: Option<f64>,
}

/// `ecotrace compare`: the same job on each hardware in each region. Each entry of `hardware`, and
/// `factors.region`, may be a comma-separated list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompareOptions {
    pub hardware: Vec<String>,
    /// Devices used in parallel [default: 1].
    pub devices: Option<f64>,
    pub size: SizeOptions,
    pub device: DeviceOptions,
    /// Regions (comma-separated in `region`), intensity, PUE, water, lifetime, prices.
    pub factors: FactorOptions,
    /// Where each option given came from.
    pub origins: Origins,
}
