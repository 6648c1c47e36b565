//! What an estimate is asked for: plain option structs, one per command, built from the CLI's
//! flags ([`crate::args`], `to_options()`) or by any other caller. `None` means "not given": the
//! estimator then uses the catalog's, the region's or its documented default figure and says so in
//! the estimate's assumptions. Values are checked by the estimator, not here.

/// Grid and facility factors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GridOptions {
    /// Grid carbon intensity in gCO2e/kWh; overrides the region's figure.
    pub intensity: Option<f64>,
    /// Data-centre power usage effectiveness [default: the cloud region's, else 1.0].
    pub pue: Option<f64>,
}

/// Factors of the whole footprint beyond energy and grid: embodied lifetime, water, price.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FootprintOptions {
    /// Service life of the hardware in years [default: 5].
    pub lifetime_years: Option<f64>,
    /// On-site water usage effectiveness in L/kWh of IT energy [default: the cloud region's, else 0].
    pub wue: Option<f64>,
    /// Price of the hardware in USD per device-hour (cost basis: instance rental).
    pub price_per_hour: Option<f64>,
    /// Electricity price in USD per kWh (cost basis: electricity only).
    pub electricity_price: Option<f64>,
}

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
    /// A country, a grid zone or a cloud region.
    pub region: Option<String>,
    /// Cloud instance type rented (`m5.xlarge`, `p4d.24xlarge`): its bundled hourly price in the
    /// cloud `region` is charged, unless `footprint.price_per_hour` is given.
    pub instance: Option<String>,
    pub grid: GridOptions,
    pub footprint: FootprintOptions,
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
    pub region: Option<String>,
    pub grid: GridOptions,
    pub footprint: FootprintOptions,
}

/// `ecotrace compare`: the same job on each hardware in each region. Each entry of `hardware` and
/// `region` may itself be a comma-separated list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompareOptions {
    pub hardware: Vec<String>,
    pub region: Vec<String>,
    /// Devices used in parallel [default: 1].
    pub devices: Option<f64>,
    pub size: SizeOptions,
    pub device: DeviceOptions,
    pub grid: GridOptions,
    pub footprint: FootprintOptions,
}
