//! Table 7: on-demand hourly prices of cloud instances (AWS, Google Cloud, Azure), GPU and CPU,
//! from `data/prices.csv`, each with its source and date. ecotrace uses them only when the user
//! names a cloud region (and, for [`instance_by_type`], the instance); it never guesses a price
//! (docs/footprint.md).

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
    /// Accelerator id of the catalog (`A100-SXM4-40GB`); empty for a CPU instance.
    pub accelerator: String,
    /// Accelerators in one instance; 0 for a CPU instance.
    pub accelerator_count: f64,
    /// vCPUs of one instance, where the source records them.
    pub vcpus: Option<f64>,
    pub usd_per_hour: f64,
    /// Date of the price snapshot, where the source records one (`2026-01-21`); `None` for a row
    /// dated `undated` in the file (see [`InstancePrice::date_text`]).
    pub date: Option<String>,
    pub source: String,
    pub license: String,
}

/// The `date` of a price row whose source records no snapshot date.
pub const UNDATED: &str = "undated";

impl InstancePrice {
    /// The snapshot date as outputs print it: the date, or `undated`.
    pub fn date_text(&self) -> &str {
        self.date.as_deref().unwrap_or(UNDATED)
    }

    /// Whether the instance carries accelerators (GPUs); CPU instances do not.
    pub fn has_accelerator(&self) -> bool {
        !self.accelerator.is_empty()
    }

    /// The price of one accelerator-hour on this instance; for a CPU instance, of one
    /// instance-hour.
    pub fn usd_per_device_hour(&self) -> f64 {
        self.usd_per_hour / self.accelerator_count.max(1.0)
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
            // A GPU instance carries at least one accelerator; a CPU instance (no accelerator
            // named) none.
            let count_ok = if r[c("accelerator")].trim().is_empty() {
                n == 0.0
            } else {
                n >= 1.0
            };
            if !(usd.is_finite() && usd > 0.0 && count_ok) {
                return Err(format!("prices.csv {key}: implausible figures"));
            }
            let vcpus = match r[c("vcpus")].trim() {
                "" => None,
                v => Some(
                    v.parse::<f64>()
                        .map_err(|e| format!("prices.csv {key}: vcpus: {e}"))?,
                ),
            };
            if r[c("source")].trim().is_empty() {
                return Err(format!("prices.csv {key}: empty source"));
            }
            let date = r[c("date")].trim();
            if date.is_empty() {
                return Err(format!(
                    "prices.csv {key}: no date (write {UNDATED:?} when the source records none)"
                ));
            }
            Ok(InstancePrice {
                provider: r[c("provider")].clone(),
                instance: r[c("instance")].clone(),
                region: r[c("region")].clone(),
                accelerator: r[c("accelerator")].clone(),
                accelerator_count: n,
                vcpus,
                usd_per_hour: usd,
                date: (date != UNDATED).then(|| date.to_string()),
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
        .filter(|p| {
            p.provider == provider
                && p.region == region
                && p.has_accelerator()
                && p.accelerator == accelerator
        })
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

/// The bundled price of one instance type in a cloud region (`aws`, `us-east-1`, `m5.xlarge`);
/// the instance name is matched without regard to case. `None` when it is not bundled there.
pub fn instance_by_type(
    provider: &str,
    region: &str,
    instance: &str,
) -> Option<&'static InstancePrice> {
    let instance = instance.trim();
    prices().iter().find(|p| {
        p.provider == provider && p.region == region && p.instance.eq_ignore_ascii_case(instance)
    })
}

/// Every instance type bundled for a cloud region, sorted by name.
pub fn instances_in(provider: &str, region: &str) -> Vec<&'static InstancePrice> {
    let mut v: Vec<&InstancePrice> = prices()
        .iter()
        .filter(|p| p.provider == provider && p.region == region)
        .collect();
    v.sort_by(|a, b| a.instance.cmp(&b.instance));
    v
}

/// Up to `n` instance types bundled for a cloud region whose names are closest to `name`
/// (edit distance, case-insensitive), closest first: the suggestions of an unknown `--instance`.
pub fn closest_instances(provider: &str, region: &str, name: &str, n: usize) -> Vec<&'static str> {
    let want = name.trim().to_ascii_lowercase();
    let mut scored: Vec<(usize, &'static str)> = instances_in(provider, region)
        .into_iter()
        .map(|p| {
            (
                edit_distance(&want, &p.instance.to_ascii_lowercase()),
                p.instance.as_str(),
            )
        })
        .collect();
    scored.sort();
    scored.into_iter().take(n).map(|(_, s)| s).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
