//! ecotrace-data: the bundled data tables with their provenance, and their lookups.
//!
//! - [`zones`]: yearly grid carbon intensity per country and sub-national zone, plus `WORLD`;
//! - [`cloud_regions`]: AWS, Google Cloud and Azure regions with grid zone, intensity, PUE, WUE;
//! - [`cpu_lookup`] / [`cpus`]: CPU TDP table;
//! - [`equivalents`]: everyday equivalents of CO2e (km by car, km flown, smartphone charges);
//! - [`accelerators`] / [`accelerator`]: GPUs and TPUs with TDP, memory, peak FLOP/s and embodied
//!   carbon; [`embodied_refs`]: hosts and CPU packages;
//! - [`offsite_water`]: water consumed per kWh generated, per grid zone;
//! - [`prices`] / [`instance_price`] / [`instance_by_type`]: on-demand prices of cloud GPU and CPU
//!   instances (AWS, Google Cloud, Azure);
//! - [`bundled_tables`]: every bundled table with its licence and attribution;
//! - [`electricity_prices`] / [`electricity_price`]: average electricity prices by country and US
//!   state; [`exchange_rate`]: the ECB annual average EUR→USD rate that converts the EUR ones.
//!
//! Every row carries its upstream source, year and licence; docs/data.md says where each table
//! comes from and which source was picked where they disagree. The crate is pure: the CSV files
//! under `data/` are compiled in with `include_str!` and parsed once, on first use. A lookup of
//! one zone or one off-site water factor before anything needed the whole table (what `ecotrace
//! run` does) reads that row alone: the text is scanned and only the matching rows are kept, so a
//! run does not hold the whole tables in memory. A parse error in bundled data is a bug (the
//! tests parse every file, and check each row read alone against the whole table) and panics.

mod cloud;
mod cpu;
mod csv;
mod electricity;
mod equivalents;
mod hardware;
mod hourly;
mod licenses;
mod prices;
mod resolve;
mod water;
mod zones;

pub use cloud::{canonical_provider, cloud_region, cloud_regions, CloudRegion, PROVIDERS};
pub use cpu::{cpu_lookup, cpus, CpuSpec};
pub use electricity::{
    electricity_price, electricity_price_usd, electricity_prices, exchange_rate, exchange_rates,
    ElectricityPrice, ExchangeRate,
};
pub use equivalents::{equivalents, publisher, Equivalent};
pub use hardware::{
    accelerator, accelerator_for_device, accelerators, embodied_ref, embodied_refs, Accelerator,
    EmbodiedRef,
};
pub use hourly::{
    hourly, hourly_series, hourly_zone, HourlySeries, HourlyZoneMapping, LiveSeries, UserSeries,
};
pub use licenses::{bundled_tables, BundledTable};
pub use prices::{
    closest_instances, instance_by_type, instance_price, instances_in, prices, InstancePrice,
};
pub use resolve::{known_ids, levenshtein, resolve_region, resolve_region_on, ResolvedRegion};
pub use water::{choose_water, offsite_water, water_factors, WaterChoice, WaterFactor};
pub use zones::{
    grid_mapping, grid_mappings, world_average, zone, zone_aliases, zones, GridMapping,
    ZoneIntensity, WORLD_ID,
};

/// Errors of the lookups.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    /// The region given is not a known zone or cloud region.
    #[error("{}", unknown_zone_message(.input, .suggestions))]
    UnknownZone {
        input: String,
        /// Closest known ids, best first (may be empty).
        suggestions: Vec<String>,
    },
    /// The hardware named is not in the catalog.
    #[error("{}", unknown_hardware_message(.input, .suggestions))]
    UnknownHardware {
        input: String,
        /// Closest catalog ids, best first (may be empty).
        suggestions: Vec<String>,
    },
    /// An empty (or all-space) region was given.
    #[error("empty region: give a country (FR), zone (US-CA) or cloud region (aws:eu-west-3); `ecotrace data zones` lists them all")]
    EmptyRegion,
}

fn unknown_hardware_message(input: &str, suggestions: &[String]) -> String {
    let mut m = format!("unknown hardware {input:?}");
    if !suggestions.is_empty() {
        m.push_str(&format!("; closest known: {}", suggestions.join(", ")));
    }
    m.push_str(". Run `ecotrace data hardware` to list the catalog");
    m
}

fn unknown_zone_message(input: &str, suggestions: &[String]) -> String {
    let mut m = format!("unknown region or grid zone {input:?}");
    if !suggestions.is_empty() {
        m.push_str(&format!("; closest known: {}", suggestions.join(", ")));
    }
    m.push_str(". Run `ecotrace data zones` to list them all");
    m
}
