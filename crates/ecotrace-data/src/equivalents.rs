//! Table 4: everyday equivalents of a mass of CO2e (km by car, km flown, smartphone charges), from
//! `data/equivalents.csv`, for readers who do not think in kilograms of CO2e.
//!
//! Every row carries its source, year and licence, and reports must show those beside any
//! equivalent. An equivalent is an illustration next to the real figure, never a replacement for
//! it. This module only loads the table; it must not choose which equivalents a report shows.

use std::sync::OnceLock;

use serde::Serialize;

use crate::csv::Table;

const EQUIVALENTS_CSV: &str = include_str!("../data/equivalents.csv");

/// One everyday equivalent: `kg_co2e_per_unit` kilograms of CO2e make one `unit` of `label`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Equivalent {
    /// Stable id, e.g. `car_km`.
    pub id: String,
    /// What one unit is, to follow the number: `driven by an average passenger car`.
    pub label: String,
    /// Unit the count is in: `km`, `charges`.
    pub unit: String,
    /// CO2e of one unit, in kg.
    pub kg_co2e_per_unit: f64,
    /// Year (vintage) of the factor.
    pub year: i32,
    /// Upstream publisher and the file the figure was read from.
    pub source: String,
    pub license: String,
}

impl Equivalent {
    /// How many units `kg` of CO2e make.
    pub fn count(&self, kg: f64) -> f64 {
        kg / self.kg_co2e_per_unit
    }
}

fn load() -> Result<Vec<Equivalent>, String> {
    let t = Table::parse("equivalents.csv", EQUIVALENTS_CSV)?;
    let (c_id, c_label, c_unit, c_kg, c_year, c_src, c_lic) = (
        t.col("id"),
        t.col("label"),
        t.col("unit"),
        t.col("kg_co2e_per_unit"),
        t.col("year"),
        t.col("source"),
        t.col("license"),
    );
    t.rows
        .iter()
        .map(|r| {
            let id = r[c_id].trim().to_string();
            let kg: f64 = r[c_kg]
                .parse()
                .map_err(|e| format!("equivalents.csv {id}: kg_co2e_per_unit: {e}"))?;
            if !(kg.is_finite() && kg > 0.0) {
                return Err(format!("equivalents.csv {id}: factor must be positive"));
            }
            let year: i32 = r[c_year]
                .parse()
                .map_err(|e| format!("equivalents.csv {id}: year: {e}"))?;
            Ok(Equivalent {
                id,
                label: r[c_label].clone(),
                unit: r[c_unit].clone(),
                kg_co2e_per_unit: kg,
                year,
                source: r[c_src].clone(),
                license: r[c_lic].clone(),
            })
        })
        .collect()
}

/// The bundled equivalents, in the order reports show them (car, flight, smartphone).
pub fn equivalents() -> &'static [Equivalent] {
    static TABLE: OnceLock<Vec<Equivalent>> = OnceLock::new();
    TABLE.get_or_init(|| load().unwrap_or_else(|e| panic!("bundled data: {e}")))
}

/// The short name of a row's publisher, for a citation in a sentence: `US EPA`, `UK Government`.
pub fn publisher(e: &Equivalent) -> &'static str {
    if e.source.starts_with("US EPA") {
        "US EPA"
    } else if e.source.starts_with("UK Government") {
        "UK Government"
    } else {
        "see source"
    }
}
