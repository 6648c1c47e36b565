//! Table 1: yearly average grid carbon intensity (location-based) per country and sub-national
//! zone, from `data/zones.csv`, on a life-cycle basis and, where the source publishes it, a
//! direct basis; and `data/grid_map.csv`, which maps ids that are not grid zones of their own
//! (US states, Chinese provinces) to the zone that serves them. See docs/data.md.

use std::collections::HashMap;
use std::sync::OnceLock;

use ecotrace_core::{CarbonIntensity, GridBasis};
use serde::Serialize;

use crate::csv::Table;

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

fn load() -> Result<Zones, String> {
    let t = Table::parse("zones.csv", ZONES_CSV)?;
    let (c_id, c_alias, c_name, c_g, c_direct, c_year, c_src, c_lic) = (
        t.col("id"),
        t.col("aliases"),
        t.col("name"),
        t.col("g_per_kwh"),
        t.col("direct_g_per_kwh"),
        t.col("year"),
        t.col("source"),
        t.col("license"),
    );
    let mut list = Vec::with_capacity(t.rows.len());
    let mut index = HashMap::new();
    let mut aliases = Vec::new();
    for r in &t.rows {
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
                        CarbonIntensity::from_g_per_kwh(g)
                            .map_err(|e| format!("zones.csv {id}: {e}"))
                    })?,
            ),
        };
        let year: i32 = r[c_year]
            .parse()
            .map_err(|e| format!("zones.csv {id}: year {:?}: {e}", r[c_year]))?;
        if id.is_empty() || id != id.to_ascii_uppercase() {
            return Err(format!("zones.csv: id {id:?} must be non-empty upper case"));
        }
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
        list.push(ZoneIntensity {
            id,
            name: r[c_name].clone(),
            intensity,
            direct,
            year,
            source: r[c_src].clone(),
            license: r[c_lic].clone(),
        });
    }
    let world = *index
        .get(WORLD_ID)
        .ok_or_else(|| "zones.csv: no WORLD row".to_string())?;
    let m = Table::parse("grid_map.csv", GRID_MAP_CSV)?;
    let (m_id, m_name, m_zone, m_src) = (
        m.col("id"),
        m.col("name"),
        m.col("grid_zone"),
        m.col("source"),
    );
    let mut mapped = Vec::with_capacity(m.rows.len());
    for r in &m.rows {
        let id = r[m_id].trim().to_string();
        if index.contains_key(&id) {
            return Err(format!("grid_map.csv: {id} is also a zone of zones.csv"));
        }
        let grid_zone = r[m_zone].trim().to_string();
        if !index.contains_key(&grid_zone) {
            return Err(format!(
                "grid_map.csv {id}: zone {grid_zone} not in zones.csv"
            ));
        }
        mapped.push(GridMapping {
            id,
            name: r[m_name].clone(),
            grid_zone,
            source: r[m_src].clone(),
        });
    }
    Ok(Zones {
        list,
        index,
        aliases,
        world,
        mapped,
    })
}

pub(crate) fn table() -> &'static Zones {
    static ZONES: OnceLock<Zones> = OnceLock::new();
    ZONES.get_or_init(|| load().unwrap_or_else(|e| panic!("bundled grid data is invalid: {e}")))
}

/// Every zone of the bundled grid-intensity table (countries, sub-national zones, `WORLD`),
/// sorted by id.
pub fn zones() -> &'static [ZoneIntensity] {
    &table().list
}

/// The world-average row (`WORLD`), used when no zone is given.
pub fn world_average() -> &'static ZoneIntensity {
    let t = table();
    &t.list[t.world]
}

/// The zone with this id or alias (ISO 3166-1 alpha-3, legacy Electricity Maps id such as `SE3`),
/// case-insensitive. Cloud regions are not zones: see [`crate::resolve_region`].
pub fn zone(id: &str) -> Option<&'static ZoneIntensity> {
    table().get(id.trim())
}

/// Ids served by another zone (US states, Chinese provinces), sorted by id.
pub fn grid_mappings() -> &'static [GridMapping] {
    &table().mapped
}

/// The mapping of `id` (`US-VA` -> `US-MIDA-PJM`), if it is a mapped id, case-insensitive.
pub fn grid_mapping(id: &str) -> Option<&'static GridMapping> {
    table().mapping(id.trim())
}

/// Accepted aliases as (alias, canonical id) pairs, e.g. (`FRA`, `FR`), (`SE3`, `SE-SE3`).
pub fn zone_aliases() -> impl Iterator<Item = (&'static str, &'static str)> {
    table()
        .aliases
        .iter()
        .map(|(a, id)| (a.as_str(), id.as_str()))
}
