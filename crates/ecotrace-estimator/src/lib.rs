//! ecotrace-estimator: a job's footprint before it runs — `ecotrace estimate` ([`training`]),
//! `ecotrace estimate inference` ([`inference`]) and `ecotrace compare` ([`compare`]), shared by
//! the CLI and the Python package (`ecotrace.estimate()`). The place's factors come from
//! `ecotrace-factors`' resolver (as for `run` and `doctor`), the device's from [`device`], the
//! price from [`cost`]; [`job`] calls the pure model in `ecotrace_core::estimate` (it holds no
//! formula); [`record`] builds the run record of a stored estimate. Its text and JSON are
//! rendered by `ecotrace-report` (`estimate.rs`), with the other renderers. It takes plain option structs ([`options`]); the CLI's flags for them are defined in
//! `args` (feature `clap`, used by the CLI and the Python package), each with a `to_options()`.
//!
//! It must not print, read files or the environment beyond clap's `env` defaults, or touch the
//! ledger: [`estimate_record`] builds the run record of a stored estimate (its id from the OS's
//! random source, its time from the clock) and the CLI writes it. Bad input is an
//! [`EstimateError::Usage`] (the CLI's exit code 2, `ValueError` in Python).

use ecotrace_factors::Origin;
use serde_json::Value;

#[cfg(feature = "clap")]
pub mod args;
pub mod compare;
pub mod cost;
pub mod deployment;
pub mod device;
pub mod hourly_import;
pub mod inference;
pub mod job;
pub mod options;
pub mod plan;
pub mod record;
pub mod training;

pub use compare::run_compare;
pub use cost::CostBasis;
pub use device::{resolve_device, Device, HostRef};
pub use ecotrace_factors::Place;
pub use inference::run_inference;
pub use job::{estimate_job, job_from, work_from, Estimated, JobSpec, Work};
pub use options::{
    CompareOptions, DeviceOptions, EstimateOptions, FactorOptions, InferenceOptions, Origins,
    ProvisionedOptions, SizeOptions,
};
pub use record::estimate_record;
pub use training::run_estimate;

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

impl From<ecotrace_factors::FactorError> for EstimateError {
    fn from(e: ecotrace_factors::FactorError) -> Self {
        EstimateError::Usage(e.to_string())
    }
}

impl EstimateError {
    /// Whether the user can fix it by changing the input (exit code 2, `ValueError`).
    pub fn is_usage(&self) -> bool {
        matches!(self, EstimateError::Usage(_))
    }
}

/// The result of the estimator's functions.
pub type Result<T, E = EstimateError> = std::result::Result<T, E>;

pub(crate) fn usage<T>(msg: impl Into<String>) -> Result<T> {
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
    pub(crate) fn new(
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
}

/// `v` if positive; else a usage error naming where it came from (`from`: the flag, or the
/// Python keyword argument, as [`Origins::get`] gives it).
pub(crate) fn positive(v: f64, from: Origin, what: &str) -> Result<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        usage(format!("{from} must be a positive {what}, got {v}"))
    }
}

/// `v` if 0 or more; else a usage error naming where it came from, as [`positive`].
pub(crate) fn non_negative(v: f64, from: Origin, what: &str) -> Result<f64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        usage(format!("{from} must be a non-negative {what}, got {v}"))
    }
}

/// The grid factors of a place as assumptions: PUE, then intensity.
pub(crate) fn grid_assumptions(p: &Place) -> [Assumption; 2] {
    [
        Assumption::new(
            "pue",
            p.pue.value.value(),
            "ratio",
            p.pue.provenance.to_string(),
        ),
        Assumption::new(
            "intensity_g_per_kwh",
            p.intensity.value.g_per_kwh(),
            intensity_unit(p),
            p.intensity.provenance.to_string(),
        ),
    ]
}

/// The water factors of a place as assumptions: on-site WUE, then off-site.
pub(crate) fn water_assumptions(p: &Place) -> [Assumption; 2] {
    [
        Assumption::new(
            "wue_l_per_kwh",
            p.wue.value.l_per_kwh(),
            "L/kWh (IT energy)",
            p.wue.provenance.to_string(),
        ),
        Assumption::new(
            "offsite_water_l_per_kwh",
            p.offsite_water.value.l_per_kwh(),
            "L/kWh (facility energy)",
            p.offsite_water.provenance.to_string(),
        ),
    ]
}

/// `gCO2e/kWh (life-cycle)`, `gCO2e/kWh (direct)` or, for a figure the user gave, `gCO2e/kWh`.
pub fn intensity_unit(p: &Place) -> &'static str {
    match p.grid_basis() {
        Some(ecotrace_core::GridBasis::Lifecycle) => "gCO2e/kWh (life-cycle)",
        Some(ecotrace_core::GridBasis::Direct) => "gCO2e/kWh (direct)",
        None => "gCO2e/kWh",
    }
}

/// `--basis`: `lifecycle` (the default) or `direct`.
pub fn parse_basis(b: Option<&str>) -> Result<ecotrace_core::GridBasis> {
    Ok(ecotrace_factors::parse_basis(b, &Origins::default())?)
}

/// Resolves the place of `region` with the options' factors (see `ecotrace_factors`).
pub(crate) fn resolve_place(
    region: Option<&str>,
    f: &FactorOptions,
    origins: &Origins,
) -> Result<Place> {
    Ok(ecotrace_factors::resolve_place(region, f, origins)?)
}
