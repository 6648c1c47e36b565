//! Table 1: yearly average grid carbon intensity (location-based) per country and sub-national
//! zone, from `data/zones.csv`, on a life-cycle basis and, where the source publishes it, a
//! direct basis; and `data/grid_map.csv`, which maps ids that are not grid zones of their own
//! (US states, Chinese provinces) to the zone that serves them. See docs/data.md.

use std::collections::HashMap;
use std::sync::OnceLock;

use ecotrace_core::{CarbonIntensity, GridBasis};
use serde::Serialize;

use crate::csv::{Rows, Table};

const ZONES_CSV: &str = include_str!("../data/zones.csv");
const GRID_MAP_CSV: &str = include_str!("../data/grid_map.csv");

/// Id of the world-average row.
pub const WORLD_ID: &str = "WORLD";

/// Grid intensity of one zone: a country (ISO 3166-1 alpha-2 id), a sub-national zone
/// (`US-CA`, `AU-NSW`, `IN-NO`, Electricity Maps ids such as `US-CAL-CISO`), or `WORLD`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneIntensity {
    /// Canonical id, upper case.
    pub id: String,
    pub name: String,
    /// Yearly average, gCO2e per kWh consumed, life-cycle basis.
    pub intensity: CarbonIntensity,
    /// Yearly average on the direct (combustion-only) basis, where the source publishes one
    /// (Electricity Maps rows); `None` for rows whose source is life-cycle only (Ember, OWID).
    pub direct: Option<CarbonIntensity>,
    /// Year the figure describes.
    pub year: i32,
    /// Upstream source, with basis (life-cycle / direct) and the file it was read from.
    pub source: String,
    /// Licence of the upstream figure (e.g. `ODbL-1.0 (Electricity Maps)`).
    pub license: String,
}

impl ZoneIntensity {
    /// The figure on `basis`, and the basis it is actually on: a row without a direct figure
    /// answers with its life-cycle figure (callers say so; see [`crate::ResolvedRegion::note`]).
    pub fn on(&self, basis: GridBasis) -> (CarbonIntensity, GridBasis) {
        match (basis, self.direct) {
            (GridBasis::Direct, Some(d)) => (d, GridBasis::Direct),
            _ => (self.intensity, GridBasis::Lifecycle),
        }
    }
}

/// An id that is not a grid zone of its own (a US state, a Chinese province), mapped to the grid
/// zone that serves it, with the reason (`data/grid_map.csv`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GridMapping {
    /// `US-VA`, `CN-YN`, ...
    pub id: String,
    pub name: String,
    /// The zone of `zones.csv` whose figures it uses (`US-MIDA-PJM`).
    pub grid_zone: String,
    /// Why this zone: the source of the assignment.
    pub source: String,
}

pub(crate) struct Zones {
    pub(crate) list: Vec<ZoneIntensity>,
    /// Upper-case id or alias -> index in `list`.
    pub(crate) index: HashMap<String, usize>,
    /// Upper-case alias -> canonical id, for listing.
    pub(crate) aliases: Vec<(String, String)>,
    world: usize,
    pub(crate) mapped: Vec<GridMapping>,
}

impl Zones {
    pub(crate) fn get(&self, id: &str) -> Option<&ZoneIntensity> {
        self.index
            .get(&id.to_ascii_uppercase())
            .map(|&i| &self.list[i])
    }

    /// The mapping of an id that is served by another zone (`US-VA`), case-insensitive.
    pub(crate) fn mapping(&self, id: &str) -> Option<&GridMapping> {
        let id = id.to_ascii_uppercase();
        self.mapped.iter().find(|m| m.id == id)
    }

    /// The zone row for `id`, following a mapping (`US-VA` -> the `US-MIDA-PJM` row).
    pub(crate) fn serving(&self, id: &str) -> Option<&ZoneIntensity> {
        self.get(id)
            .or_else(|| self.mapping(id).and_then(|m| self.get(&m.grid_zone)))
    }
}

/// One row of `zones.csv` as a zone (its aliases are read apart).
fn zone_from(t: &Table, r: &[String]) -> Result<ZoneIntensity, String> {
    let (c_id, c_name, c_g, c_direct, c_year, c_src, c_lic) = (
        t.col("id"),
        t.col("name"),
        t.col("g_per_kwh"),
        t.col("direct_g_per_kwh"),
        t.col("year"),
        t.col("source"),
        t.col("license"),
    );
    let id = r[c_id].trim().to_string();
    let g: f64 = r[c_g]
        .parse()
        .map_err(|e| format!("zones.csv {id}: g_per_kwh {:?}: {e}", r[c_g]))?;
    let intensity =
        CarbonIntensity::from_g_per_kwh(g).map_err(|e| format!("zones.csv {id}: {e}"))?;
    let direct = match r[c_direct].trim() {
        "" => None,
        d => Some(
            d.parse::<f64>()
                .map_err(|e| format!("zones.csv {id}: direct_g_per_kwh {d:?}: {e}"))
                .and_then(|g| {
                    CarbonIntensity::from_g_per_kwh(g).map_err(|e| format!("zones.csv {id}: {e}"))
                })?,
        ),
    };
    let year: i32 = r[c_year]
        .parse()
        .map_err(|e| format!("zones.csv {id}: year {:?}: {e}", r[c_year]))?;
    if id.is_empty() || id != id.to_ascii_uppercase() {
        return Err(format!("zones.csv: id {id:?} must be non-empty upper case"));
    }
    Ok(ZoneIntensity {
        id,
        name: r[c_name].clone(),
        intensity,
        direct,
        year,
        source: r[c_src].clone(),
        license: r[c_lic].clone(),
    })
}

/// One row of `grid_map.csv`.
fn mapping_from(m: &Table, r: &[String]) -> GridMapping {
    GridMapping {
        id: r[m.col("id")].trim().to_string(),
        name: r[m.col("name")].clone(),
        grid_zone: r[m.col("grid_zone")].trim().to_string(),
        source: r[m.col("source")].clone(),
    }
}

fn load() -> Result<Zones, String> {
    let t = Table::parse("zones.csv", ZONES_CSV)?;
    let c_alias = t.col("aliases");
    let mut list = Vec::with_capacity(t.rows.len());
    let mut index = HashMap::new();
    let mut aliases = Vec::new();
    for r in &t.rows {
        let z = zone_from(&t, r)?;
        let id = z.id.clone();
        let i = list.len();
        if index.insert(id.clone(), i).is_some() {
            return Err(format!("zones.csv: duplicate id {id}"));
        }
        for a in r[c_alias].split_whitespace() {
            let a = a.to_ascii_uppercase();
            aliases.push((a.clone(), id.clone()));
            if index.insert(a.clone(), i).is_some() {
                return Err(format!("zones.csv: alias {a} of {id} is already taken"));
            }
        }
        list.push(z);
    }
    let world = *index
        .get(WORLD_ID)
        .ok_or_else(|| "zones.csv: no WORLD row".to_string())?;
    let m = Table::parse("grid_map.csv", GRID_MAP_CSV)?;
    let mut mapped = Vec::with_capacity(m.rows.len());
    for r in &m.rows {
        let g = mapping_from(&m, r);
        if index.contains_key(&g.id) {
            return Err(format!(
                "grid_map.csv: {} is also a zone of zones.csv",
                g.id
            ));
        }
        if !index.contains_key(&g.grid_zone) {
            return Err(format!(
                "grid_map.csv {}: zone {} not in zones.csv",
                g.id, g.grid_zone
            ));
        }
        mapped.push(g);
    }
    Ok(Zones {
        list,
        index,
        aliases,
        world,
        mapped,
    })
}

static ZONES: OnceLock<Zones> = OnceLock::new();

pub(crate) fn table() -> &'static Zones {
    ZONES.get_or_init(|| load().unwrap_or_else(|e| panic!("bundled grid data is invalid: {e}")))
}

/// The zone whose id or alias is `id` (upper case), parsed from its row alone.
pub(crate) fn zone_row(id: &str) -> Option<ZoneIntensity> {
    let t = Table::parse_first("zones.csv", ZONES_CSV, |t, r| {
        r[t.col("id")].trim() == id
            || r[t.col("aliases")]
                .split_whitespace()
                .any(|a| a.eq_ignore_ascii_case(id))
    })
    .unwrap_or_else(|e| panic!("bundled grid data is invalid: {e}"));
    t.rows
        .first()
        .map(|r| zone_from(&t, r).unwrap_or_else(|e| panic!("bundled grid data is invalid: {e}")))
}

/// The mapping of `id` (upper case), parsed from its row alone.
pub(crate) fn mapping_row(id: &str) -> Option<GridMapping> {
    let m = Table::parse_first("grid_map.csv", GRID_MAP_CSV, |m, r| {
        r[m.col("id")].trim() == id
    })
    .unwrap_or_else(|e| panic!("bundled grid data is invalid: {e}"));
    m.rows.first().map(|r| mapping_from(&m, r))
}

/// Every zone of the bundled grid-intensity table (countries, sub-national zones, `WORLD`),
/// sorted by id.
pub fn zones() -> &'static [ZoneIntensity] {
    &table().list
}

/// The world-average row (`WORLD`), used when no zone is given.
pub fn world_average() -> &'static ZoneIntensity {
    match ZONES.get() {
        Some(t) => &t.list[t.world],
        None => zone(WORLD_ID).expect("zones.csv has a WORLD row (checked by its tests)"),
    }
}

/// The zone with this id or alias (ISO 3166-1 alpha-3, legacy Electricity Maps id such as `SE3`),
/// case-insensitive. Cloud regions are not zones: see [`crate::resolve_region`].
/// A command that needs a few zones (a run: its own and the world's) reads their rows alone; the
/// whole table is parsed only by those that list or search it.
pub fn zone(id: &str) -> Option<&'static ZoneIntensity> {
    static ROWS: Rows<ZoneIntensity> = Rows::new();
    match ZONES.get() {
        Some(t) => t.get(id.trim()),
        None => ROWS.get(&id.trim().to_ascii_uppercase(), zone_row),
    }
}

/// Ids served by another zone (US states, Chinese provinces), sorted by id.
pub fn grid_mappings() -> &'static [GridMapping] {
    &table().mapped
}

/// The mapping of `id` (`US-VA` -> `US-MIDA-PJM`), if it is a mapped id, case-insensitive.
pub fn grid_mapping(id: &str) -> Option<&'static GridMapping> {
    static ROWS: Rows<GridMapping> = Rows::new();
    match ZONES.get() {
        Some(t) => t.mapping(id.trim()),
        None => ROWS.get(&id.trim().to_ascii_uppercase(), mapping_row),
    }
}

/// Accepted aliases as (alias, canonical id) pairs, e.g. (`FRA`, `FR`), (`SE3`, `SE-SE3`).
pub fn zone_aliases() -> impl Iterator<Item = (&'static str, &'static str)> {
    table()
        .aliases
        .iter()
        .map(|(a, id)| (a.as_str(), id.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a run reads (one row) is what the listing commands read (the whole table): every
    /// id, alias and mapped id.
    #[test]
    fn a_row_read_alone_is_the_row_of_the_whole_table() {
        let t = table();
        for z in &t.list {
            assert_eq!(zone_row(&z.id).as_ref(), Some(z));
        }
        for (alias, id) in &t.aliases {
            assert_eq!(zone_row(alias).map(|z| z.id), Some(id.clone()), "{alias}");
        }
        for m in &t.mapped {
            assert_eq!(mapping_row(&m.id).as_ref(), Some(m));
        }
        assert!(zone_row("NOWHERE").is_none() && mapping_row("NOWHERE").is_none());
    }
}
