//! `ecotrace data zones`: the bundled grid zones, the ids served by another zone, and the cloud
//! regions with their PUE, as a table or JSON. Numbers go through the shared formatter
//! ([`ecotrace_core::human`]). This module must not do I/O.

use std::fmt::Write as _;

use ecotrace_core::human::num;
use serde_json::json;

use crate::text::truncate;

/// A figure, or `-` when the table has none.
fn or_dash(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), num)
}

/// The zone, grid-mapping and cloud-region tables: a table for the terminal, or JSON
/// (`{"zones": [...], "served_by": [...], "cloud_regions": [...]}`, base units, full precision).
pub fn data_zones(as_json: bool) -> String {
    let zones = ecotrace_data::zones();
    let regions = ecotrace_data::cloud_regions();
    if as_json {
        let z: Vec<_> = zones
            .iter()
            .map(|z| {
                json!({
                    "id": z.id, "name": z.name, "g_per_kwh": z.intensity.g_per_kwh(),
                    "basis": "lifecycle",
                    "direct_g_per_kwh": z.direct.map(|d| d.g_per_kwh()),
                    "year": z.year, "source": z.source, "license": z.license,
                })
            })
            .collect();
        let m: Vec<_> = ecotrace_data::grid_mappings()
            .iter()
            .map(|m| {
                json!({
                    "id": m.id, "name": m.name, "grid_zone": m.grid_zone, "source": m.source,
                })
            })
            .collect();
        let c: Vec<_> = regions
            .iter()
            .map(|r| {
                json!({
                    "id": format!("{}:{}", r.provider, r.region), "location": r.location,
                    "zone": r.zone, "g_per_kwh": r.intensity.map(|i| i.g_per_kwh()),
                    "year": r.intensity_year, "source": r.intensity_source,
                    "pue": r.pue.map(|p| p.value()), "pue_source": r.pue_source,
                    "wue_l_per_kwh": r.wue_l_per_kwh, "wue_source": r.wue_source,
                    "figures_year": r.year, "license": r.license,
                })
            })
            .collect();
        return serde_json::to_string_pretty(
            &json!({ "zones": z, "served_by": m, "cloud_regions": c }),
        )
        .expect("plain JSON values serialise");
    }
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<16} {:>10} {:>7}  {:<5} {:<32} source",
        "zone", "life-cycle", "direct", "year", "name"
    );
    for z in zones {
        let _ = writeln!(
            o,
            "{:<16} {:>10} {:>7}  {:<5} {:<32} {}",
            z.id,
            num(z.intensity.g_per_kwh()),
            or_dash(z.direct.map(|d| d.g_per_kwh())),
            z.year,
            truncate(&z.name, 32),
            z.source
        );
    }
    let _ = writeln!(
        o,
        "\nIntensities in gCO2e/kWh; `-`: the source publishes a life-cycle figure only.\n\n{:<10} {:<16} {:<24} why",
        "id", "grid zone", "name"
    );
    for m in ecotrace_data::grid_mappings() {
        let _ = writeln!(
            o,
            "{:<10} {:<16} {:<24} {}",
            m.id,
            m.grid_zone,
            truncate(&m.name, 24),
            m.source
        );
    }
    let _ = writeln!(
        o,
        "\n{:<34} {:<12} {:>9} {:>5} {:>5}  {:<36} location",
        "cloud region", "zone", "life-cycle", "PUE", "year", "licence"
    );
    for r in regions {
        let _ = writeln!(
            o,
            "{:<34} {:<12} {:>9} {:>5} {:>5}  {:<36} {}",
            format!("{}:{}", r.provider, r.region),
            r.zone,
            or_dash(r.intensity.map(|i| i.g_per_kwh())),
            or_dash(r.pue.map(|p| p.value())),
            r.year,
            truncate(&r.license, 36),
            r.location
        );
    }
    let _ = writeln!(
        o,
        "\nCloud regions: year and licence of the row's PUE and WUE (intensities are their zone's). Sources and licences: docs/data.md, `ecotrace data licenses`"
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_text_uses_the_shared_formatter_and_json_keeps_full_precision() {
        let fr = ecotrace_data::zone("FR").expect("FR is bundled");
        let text = data_zones(false);
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some("FR"))
            .expect("a FR line");
        assert_eq!(
            line.split_whitespace().nth(1),
            Some(num(fr.intensity.g_per_kwh()).as_str()),
            "{line}"
        );
        assert!(text.contains("cloud region"), "{text}");
        let v: serde_json::Value = serde_json::from_str(&data_zones(true)).unwrap();
        let row = v["zones"]
            .as_array()
            .unwrap()
            .iter()
            .find(|z| z["id"] == "FR")
            .unwrap();
        assert_eq!(row["g_per_kwh"].as_f64(), Some(fr.intensity.g_per_kwh()));
        assert!(!v["cloud_regions"].as_array().unwrap().is_empty());
    }
}
