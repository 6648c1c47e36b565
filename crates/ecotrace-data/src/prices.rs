//! Table 7: on-demand hourly prices of cloud GPU instances (AWS, Google Cloud, Azure), from `data/prices.csv`,
//! each with its source and date. ecotrace uses them only when the user names a cloud region; it
//! never guesses a price (docs/footprint.md).

use std::sync::OnceLock;

use serde::Serialize;

use crate::csv::Table;

const PRICES_CSV: &str = include_str!("../data/prices.csv");

/// One instance type's on-demand price in one region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstancePrice {
    /// `aws`, `gcp` or `azure`.
    pub provider: String,
    /// Instance type, e.g. `p4d.24xlarge`, `Standard_ND96amsr_A100_v4`.
    pub instance: String,
    /// The provider's region id (`us-east-1`, `eastus`).
    pub region: String,
    /// Accelerator id of the catalog (`A100-SXM4-40GB`).
    pub accelerator: String,
    /// Accelerators in one instance.
    pub accelerator_count: f64,
    pub usd_per_hour: f64,
    /// Date of the price snapshot, where the source records one (`2026-01-21`).
    pub date: Option<String>,
    pub source: String,
    pub license: String,
}

impl InstancePrice {
    /// The price of one accelerator-hour on this instance.
    pub fn usd_per_device_hour(&self) -> f64 {
        self.usd_per_hour / self.accelerator_count
    }
}

fn load() -> Result<Vec<InstancePrice>, String> {
    let t = Table::parse("prices.csv", PRICES_CSV)?;
    let c = |n: &str| t.col(n);
    t.rows
        .iter()
        .map(|r| {
            let key = format!(
                "{}:{} {}",
                r[c("provider")],
                r[c("region")],
                r[c("instance")]
            );
            let num = |col: &str| -> Result<f64, String> {
                r[c(col)]
                    .trim()
                    .parse::<f64>()
                    .map_err(|e| format!("prices.csv {key}: {col}: {e}"))
            };
            let usd = num("usd_per_hour")?;
            let n = num("accelerator_count")?;
            if !(usd.is_finite() && usd > 0.0 && n >= 1.0) {
                return Err(format!("prices.csv {key}: implausible figures"));
            }
            let date = r[c("date")].trim();
            Ok(InstancePrice {
                provider: r[c("provider")].clone(),
                instance: r[c("instance")].clone(),
                region: r[c("region")].clone(),
                accelerator: r[c("accelerator")].clone(),
                accelerator_count: n,
                usd_per_hour: usd,
                date: (!date.is_empty()).then(|| date.to_string()),
                source: r[c("source")].clone(),
                license: r[c("license")].clone(),
            })
        })
        .collect()
}

/// Every bundled price.
pub fn prices() -> &'static [InstancePrice] {
    static TABLE: OnceLock<Vec<InstancePrice>> = OnceLock::new();
    TABLE.get_or_init(|| load().unwrap_or_else(|e| panic!("bundled data: {e}")))
}

/// The cheapest price per accelerator-hour for `accelerator` (a catalog id) in a cloud region,
/// among instances with at most `devices` accelerators (or the smallest instance if none is that
/// small). `None` when nothing is bundled for that provider, region and accelerator.
pub fn instance_price(
    provider: &str,
    region: &str,
    accelerator: &str,
    devices: f64,
) -> Option<&'static InstancePrice> {
    let cands: Vec<&InstancePrice> = prices()
        .iter()
        .filter(|p| p.provider == provider && p.region == region && p.accelerator == accelerator)
        .collect();
    let fitting: Vec<&InstancePrice> = cands
        .iter()
        .copied()
        .filter(|p| p.accelerator_count <= devices.max(1.0))
        .collect();
    let pool = if fitting.is_empty() { cands } else { fitting };
    pool.into_iter().min_by(|a, b| {
        a.usd_per_device_hour()
            .total_cmp(&b.usd_per_device_hour())
            .then(b.accelerator_count.total_cmp(&a.accelerator_count))
    })
}
