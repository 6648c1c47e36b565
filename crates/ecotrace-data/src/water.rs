//! Table 6: water consumed off site to generate a kWh, per grid zone, from `data/water.csv`.
//!
//! Each figure is an estimate: the zone's fossil and nuclear shares of electricity (Electricity
//! Maps) × the water consumption rates of thermal plants (NREL ReEDS, after Macknick et al. 2012)
//! weighted by the country's published cooling mix (MESSAGEix-Nexus, after Raptis et al. 2016),
//! or tower cooling where none is published; `WORLD` weights the countries by their generation.
//! Hydro reservoir evaporation is not counted. On-site water (a data centre's WUE) is
//! in the cloud-region table. See docs/footprint.md.

use std::collections::HashMap;
use std::sync::OnceLock;

use ecotrace_core::{UnitError, WaterIntensity};
use serde::Serialize;

use crate::csv::{Rows, Table};
use crate::zones::WORLD_ID;

const WATER_CSV: &str = include_str!("../data/water.csv");

/// Off-site water factor of one grid zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaterFactor {
    /// Zone id as in the zone table (`FR`, `US-CAL-CISO`), or `WORLD` for the default.
    pub zone: String,
    pub name: String,
    /// Litres consumed per kWh generated.
    pub offsite: WaterIntensity,
    pub fossil_share: f64,
    pub nuclear_share: f64,
    /// Water consumed per kWh of the zone's fossil generation (its cooling mix where published),
    /// L/kWh; `None` on the generation-weighted `WORLD` row.
    pub fossil_l_per_kwh: Option<f64>,
    /// The same for its nuclear generation.
    pub nuclear_l_per_kwh: Option<f64>,
    /// `cooling mix` (the country's published cooling mix by technology), `tower` (every plant
    /// taken as tower-cooled: no mix published) or `generation-weighted` (the `WORLD` row).
    pub cooling_basis: String,
    pub year: i32,
    pub source: String,
    pub license: String,
}

struct Water {
    list: Vec<WaterFactor>,
    index: HashMap<String, usize>,
}

/// One row of `water.csv`.
fn factor_from(t: &Table, r: &[String]) -> Result<WaterFactor, String> {
    let c = |n: &str| t.col(n);
    let zone = r[c("zone")].trim().to_ascii_uppercase();
    let num = |col: &str| -> Result<f64, String> {
        r[c(col)]
            .trim()
            .parse::<f64>()
            .map_err(|e| format!("water.csv {zone}: {col}: {e}"))
    };
    let offsite = WaterIntensity::from_l_per_kwh(num("offsite_l_per_kwh")?)
        .map_err(|e| format!("water.csv {zone}: {e}"))?;
    let opt = |col: &str| -> Result<Option<f64>, String> {
        let t = r[c(col)].trim();
        if t.is_empty() {
            return Ok(None);
        }
        t.parse::<f64>()
            .map(Some)
            .map_err(|e| format!("water.csv {zone}: {col}: {e}"))
    };
    Ok(WaterFactor {
        name: r[c("name")].clone(),
        fossil_l_per_kwh: opt("fossil_l_per_kwh")?,
        nuclear_l_per_kwh: opt("nuclear_l_per_kwh")?,
        cooling_basis: r[c("cooling_basis")].clone(),
        offsite,
        fossil_share: num("fossil_share")?,
        nuclear_share: num("nuclear_share")?,
        year: num("year")? as i32,
        source: r[c("source")].clone(),
        license: r[c("license")].clone(),
        zone,
    })
}

fn load() -> Result<Water, String> {
    let t = Table::parse("water.csv", WATER_CSV)?;
    let mut list = Vec::with_capacity(t.rows.len());
    for r in &t.rows {
        list.push(factor_from(&t, r)?);
    }
    let index = list
        .iter()
        .enumerate()
        .map(|(i, w)| (w.zone.clone(), i))
        .collect::<HashMap<_, _>>();
    if !index.contains_key(WORLD_ID) {
        return Err("water.csv: no WORLD row".into());
    }
    Ok(Water { list, index })
}

static TABLE: OnceLock<Water> = OnceLock::new();

fn table() -> &'static Water {
    TABLE.get_or_init(|| load().unwrap_or_else(|e| panic!("bundled data: {e}")))
}

/// Every off-site water factor, `WORLD` first.
pub fn water_factors() -> &'static [WaterFactor] {
    &table().list
}

/// The off-site water factor for a grid zone: the zone's own row, else its country's (the part
/// before the first `-`: `US-CA` -> `US`), else the `WORLD` default. The returned row's `zone` says
/// which was used.
///
/// A command that needs one zone's factor (a run) reads those rows alone; the whole table is
/// parsed only by those that list it.
pub fn offsite_water(zone: &str) -> &'static WaterFactor {
    static ROWS: Rows<WaterFactor> = Rows::new();
    let z = zone.trim().to_ascii_uppercase();
    let country = z.split('-').next().unwrap_or("");
    let row = |key: &str| match TABLE.get() {
        Some(t) => t.index.get(key).map(|&i| &t.list[i]),
        None => ROWS.get(key, water_row),
    };
    row(&z)
        .or_else(|| row(country))
        .or_else(|| row(WORLD_ID))
        .expect("water.csv has a WORLD row (checked at load and by its tests)")
}

/// The factor of zone `key` (upper case), parsed from its row alone.
pub(crate) fn water_row(key: &str) -> Option<WaterFactor> {
    let t = Table::parse_first("water.csv", WATER_CSV, |t, r| {
        r[t.col("zone")].trim().eq_ignore_ascii_case(key)
    })
    .unwrap_or_else(|e| panic!("bundled data: {e}"));
    t.rows
        .first()
        .map(|r| factor_from(&t, r).unwrap_or_else(|e| panic!("bundled data: {e}")))
}

/// The water factors a job is charged with, each with where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct WaterChoice {
    /// On-site water usage effectiveness, L per kWh of IT energy.
    pub wue: WaterIntensity,
    pub wue_source: String,
    /// Water consumed generating the electricity, L per kWh at the meter.
    pub offsite: WaterIntensity,
    pub offsite_source: String,
}

/// Chooses the water factors: the user's WUE, else the cloud region's published one, else 0 (no
/// cooling water counted); the off-site factor of `grid_zone` (see [`offsite_water`]). Errors
/// only on a user WUE that is negative or not a number.
pub fn choose_water(
    user_wue: Option<f64>,
    region_wue: Option<(f64, String)>,
    grid_zone: &str,
) -> Result<WaterChoice, UnitError> {
    let (wue, wue_source) = match (user_wue, region_wue) {
        (Some(w), _) => (
            WaterIntensity::from_l_per_kwh(w)?,
            "given by the user (--wue)".to_string(),
        ),
        (None, Some((w, s))) => (
            WaterIntensity::from_l_per_kwh(w).unwrap_or(WaterIntensity::ZERO),
            s,
        ),
        (None, None) => (
            WaterIntensity::ZERO,
            "default 0: no data-centre cooling water counted (pass --wue, or a cloud region that publishes one)"
                .to_string(),
        ),
    };
    let w = offsite_water(grid_zone);
    let offsite_source = if w.zone.eq_ignore_ascii_case(grid_zone) {
        format!("{} ({}): {}", w.zone, w.year, w.source)
    } else {
        format!(
            "no figure for {grid_zone}; {} ({}) used: {}",
            w.zone, w.year, w.source
        )
    };
    Ok(WaterChoice {
        wue,
        wue_source,
        offsite: w.offsite,
        offsite_source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row read alone (what a run reads) is the row of the whole table.
    #[test]
    fn a_row_read_alone_is_the_row_of_the_whole_table() {
        let t = table();
        for w in t.list.iter().step_by(5).chain(t.list.last()) {
            assert_eq!(water_row(&w.zone).as_ref(), Some(w));
        }
        assert_eq!(
            water_row(WORLD_ID).as_ref(),
            Some(&t.list[t.index[WORLD_ID]])
        );
        assert!(water_row("NOWHERE").is_none());
        // The fallbacks: a sub-national zone without a row of its own takes its country's.
        assert_eq!(offsite_water("fr").zone, "FR");
        assert_eq!(offsite_water("NOWHERE").zone, WORLD_ID);
    }
}
