//! Table 2: AWS, Google Cloud and Azure regions with their grid zone, intensity, PUE and WUE, from
//! `data/cloud_regions.csv`. A region without an intensity of its own takes its grid zone's
//! figure from the zone table, and its `intensity_source` says so.

use std::sync::OnceLock;

use ecotrace_core::{CarbonIntensity, Pue};
use serde::Serialize;

use crate::csv::Table;
use crate::zones;

const CLOUD_CSV: &str = include_str!("../data/cloud_regions.csv");

/// The cloud providers of the table, as written in `CloudRegion::provider`.
pub const PROVIDERS: [&str; 3] = ["aws", "gcp", "azure"];

/// One cloud region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CloudRegion {
    /// `aws`, `gcp` or `azure`.
    pub provider: String,
    /// The provider's region id, e.g. `eu-west-3`, `europe-west9`, `francecentral`.
    pub region: String,
    /// Location as the provider publishes it.
    pub location: String,
    /// Grid zone the region is in: an id of [`crate::zones`] (e.g. `FR`, `US-MIDA-PJM`).
    pub zone: String,
    /// The state or province the table places the region in when that is not a grid zone of its
    /// own (`US-CA` for `gcp:us-west2`, served by `US-CAL-CISO`): used for state-level tables
    /// such as electricity prices.
    pub state: Option<String>,
    /// Grid intensity for the region: its own figure where one is bundled, else its zone's.
    /// Present for every bundled region.
    pub intensity: Option<CarbonIntensity>,
    pub intensity_year: Option<i32>,
    /// Where `intensity` comes from; starts with `grid zone ...` when it is the zone's figure.
    pub intensity_source: String,
    pub pue: Option<Pue>,
    /// Where `pue` comes from; says when it is a provider-wide figure, not the region's own.
    pub pue_source: String,
    /// Water usage effectiveness, litres per kWh of IT energy.
    pub wue_l_per_kwh: Option<f64>,
    pub wue_source: String,
    /// Year of the row's own figures (PUE, WUE); the sources say when it is the year of the
    /// snapshot that carried a figure whose own year is not stated.
    pub year: i32,
    /// Licence of the row's own figures (the intensity keeps its zone's licence).
    pub license: String,
}

impl CloudRegion {
    /// Canonical id of the region as accepted by [`crate::resolve_region`]: `provider:region`.
    pub fn id(&self) -> String {
        format!("{}:{}", self.provider, self.region)
    }
}

fn opt_f64(file_row: &str, col: &str, s: &str) -> Result<Option<f64>, String> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|e| format!("cloud_regions.csv {file_row}: {col} {s:?}: {e}"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!(
            "cloud_regions.csv {file_row}: {col} {v} out of range"
        ));
    }
    Ok(Some(v))
}

fn load() -> Result<Vec<CloudRegion>, String> {
    let t = Table::parse("cloud_regions.csv", CLOUD_CSV)?;
    let c = |n| t.col(n);
    let (c_p, c_r, c_loc, c_zone, c_g, c_y, c_isrc) = (
        c("provider"),
        c("region"),
        c("location"),
        c("zone"),
        c("g_per_kwh"),
        c("intensity_year"),
        c("intensity_source"),
    );
    let (c_pue, c_psrc, c_wue, c_wsrc, c_year, c_lic) = (
        c("pue"),
        c("pue_source"),
        c("wue_l_per_kwh"),
        c("wue_source"),
        c("year"),
        c("license"),
    );
    let zones = zones::table();
    let mut out: Vec<CloudRegion> = Vec::with_capacity(t.rows.len());
    for r in &t.rows {
        let provider = r[c_p].trim().to_string();
        let region = r[c_r].trim().to_string();
        let key = format!("{provider}:{region}");
        if !PROVIDERS.contains(&provider.as_str()) {
            return Err(format!("cloud_regions.csv {key}: unknown provider"));
        }
        if region.is_empty() || region != region.to_ascii_lowercase() {
            return Err(format!(
                "cloud_regions.csv {key}: region must be lower case"
            ));
        }
        if out
            .iter()
            .any(|o| o.provider == provider && o.region == region)
        {
            return Err(format!("cloud_regions.csv {key}: duplicate"));
        }
        let zone_id = r[c_zone].trim();
        let zone = zones
            .serving(zone_id)
            .ok_or_else(|| format!("cloud_regions.csv {key}: zone {zone_id:?} not in zones.csv"))?;
        let own = opt_f64(&key, "g_per_kwh", &r[c_g])?;
        let (intensity, intensity_year, intensity_source) = match own {
            Some(g) => {
                let y: i32 = r[c_y]
                    .trim()
                    .parse()
                    .map_err(|e| format!("cloud_regions.csv {key}: intensity_year: {e}"))?;
                let ci = CarbonIntensity::from_g_per_kwh(g).map_err(|e| e.to_string())?;
                (ci, y, r[c_isrc].clone())
            }
            None => (
                zone.intensity,
                zone.year,
                format!("grid zone {} ({}): {}", zone.id, r[c_isrc], zone.source),
            ),
        };
        let pue = opt_f64(&key, "pue", &r[c_pue])?
            .map(|p| Pue::new(p).map_err(|e| format!("cloud_regions.csv {key}: {e}")))
            .transpose()?;
        out.push(CloudRegion {
            provider,
            region,
            location: r[c_loc].clone(),
            zone: zone.id.clone(),
            state: zones.mapping(zone_id).map(|m| m.id.clone()),
            intensity: Some(intensity),
            intensity_year: Some(intensity_year),
            intensity_source,
            pue,
            pue_source: r[c_psrc].clone(),
            wue_l_per_kwh: opt_f64(&key, "wue_l_per_kwh", &r[c_wue])?,
            wue_source: r[c_wsrc].clone(),
            year: r[c_year]
                .trim()
                .parse()
                .map_err(|e| format!("cloud_regions.csv {key}: year: {e}"))?,
            license: {
                let l = r[c_lic].trim();
                if l.is_empty() {
                    return Err(format!("cloud_regions.csv {key}: no licence"));
                }
                l.to_string()
            },
        });
    }
    Ok(out)
}

/// Every bundled cloud region, in file order (by provider, then as the source lists them).
pub fn cloud_regions() -> &'static [CloudRegion] {
    static REGIONS: OnceLock<Vec<CloudRegion>> = OnceLock::new();
    REGIONS.get_or_init(|| {
        load().unwrap_or_else(|e| panic!("bundled cloud-region data is invalid: {e}"))
    })
}

/// The canonical provider name for a user's spelling (`google` -> `gcp`, `microsoft` -> `azure`,
/// `amazon` -> `aws`), case-insensitive.
pub fn canonical_provider(p: &str) -> Option<&'static str> {
    match p.trim().to_ascii_lowercase().as_str() {
        "aws" | "amazon" => Some("aws"),
        "gcp" | "google" | "gce" => Some("gcp"),
        "azure" | "microsoft" | "az" => Some("azure"),
        _ => None,
    }
}

/// The region `provider:region` (provider spelled as [`canonical_provider`] accepts).
pub fn cloud_region(provider: &str, region: &str) -> Option<&'static CloudRegion> {
    let p = canonical_provider(provider)?;
    let region = region.trim().to_ascii_lowercase();
    cloud_regions()
        .iter()
        .find(|r| r.provider == p && r.region == region)
}
