//! Table 1: yearly average grid carbon intensity (location-based) per country and sub-national
//! zone, from `data/zones.csv`. See docs/data.md for sources and choices.

use std::collections::HashMap;
use std::sync::OnceLock;

use ecotrace_core::CarbonIntensity;
use serde::Serialize;

use crate::csv::Table;

const ZONES_CSV: &str = include_str!("../data/zones.csv");

/// Id of the world-average row.
pub const WORLD_ID: &str = "WORLD";

/// Grid intensity of one zone: a country (ISO 3166-1 alpha-2 id), a sub-national zone
/// (`US-CA`, `AU-NSW`, `IN-NO`, Electricity Maps ids such as `US-CAL-CISO`), or `WORLD`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneIntensity {
    /// Canonical id, upper case.
    pub id: String,
    pub name: String,
    /// Yearly average, gCO2e per kWh consumed (basis named in `source`).
    pub intensity: CarbonIntensity,
    /// Year the figure describes.
    pub year: i32,
    /// Upstream source, with basis (life-cycle / direct) and the file it was read from.
    pub source: String,
    /// Licence of the upstream figure (e.g. `ODbL-1.0 (Electricity Maps)`).
    pub license: String,
}

pub(crate) struct Zones {
    pub(crate) list: Vec<ZoneIntensity>,
    /// Upper-case id or alias -> index in `list`.
    pub(crate) index: HashMap<String, usize>,
    /// Upper-case alias -> canonical id, for listing.
    pub(crate) aliases: Vec<(String, String)>,
    world: usize,
}

impl Zones {
    pub(crate) fn get(&self, id: &str) -> Option<&ZoneIntensity> {
        self.index
            .get(&id.to_ascii_uppercase())
            .map(|&i| &self.list[i])
    }
}

fn load() -> Result<Zones, String> {
    let t = Table::parse("zones.csv", ZONES_CSV)?;
    let (c_id, c_alias, c_name, c_g, c_year, c_src, c_lic) = (
        t.col("id"),
        t.col("aliases"),
        t.col("name"),
        t.col("g_per_kwh"),
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
            year,
            source: r[c_src].clone(),
            license: r[c_lic].clone(),
        });
    }
    let world = *index
        .get(WORLD_ID)
        .ok_or_else(|| "zones.csv: no WORLD row".to_string())?;
    Ok(Zones {
        list,
        index,
        aliases,
        world,
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

/// Accepted aliases as (alias, canonical id) pairs, e.g. (`FRA`, `FR`), (`SE3`, `SE-SE3`).
pub fn zone_aliases() -> impl Iterator<Item = (&'static str, &'static str)> {
    table()
        .aliases
        .iter()
        .map(|(a, id)| (a.as_str(), id.as_str()))
}
