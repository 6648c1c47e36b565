//! Bundled hourly grid intensities (Electricity Maps 2021–2023, life-cycle and direct), for the
//! planner and for charging runs hour by hour.
//!
//! `data/hourly/series.csv` lists each zone-year with its source and the byte range of each
//! basis' values in `data/hourly/electricitymaps.bin`: whole gCO2eq/kWh as zigzag varints of the
//! hour-to-hour difference, about one byte an hour (1.24 MB for 70 zone-years on both bases), no
//! compression to undo. Nothing is parsed until a caller asks: the manifest on first use, the
//! values of one zone, year and basis only when that series is read on that basis, so commands
//! that do not plan or charge by the hour never touch them.
//! `data/hourly/zone_map.csv` maps countries split into several grid zones to the zone whose
//! series stands for them. Licence: ODbL-1.0 (docs/planning.md).

use std::sync::OnceLock;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use ecotrace_core::GridBasis;
use serde::Serialize;

use crate::csv::Table;

const SERIES_CSV: &str = include_str!("../data/hourly/series.csv");
const VALUES: &[u8] = include_bytes!("../data/hourly/electricitymaps.bin");
const ZONE_MAP_CSV: &str = include_str!("../data/hourly/zone_map.csv");

/// One bundled hourly series (a zone and a year).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourlySeries {
    /// Electricity Maps zone id (`FR`, `US-MIDA-PJM`).
    pub zone: String,
    pub year: i32,
    /// Start of the first hour, UTC.
    pub first_hour: DateTime<Utc>,
    pub hours: usize,
    /// Mean of the year, life-cycle and direct, gCO2eq/kWh.
    pub mean_lifecycle: f64,
    pub mean_direct: f64,
    /// Hours Electricity Maps marks as estimated rather than measured.
    pub estimated_hours: usize,
    pub source: String,
    pub license: String,
    /// Byte ranges of the life-cycle and the direct values in `electricitymaps.bin`.
    #[serde(skip)]
    lifecycle: (usize, usize),
    #[serde(skip)]
    direct: (usize, usize),
}

impl HourlySeries {
    /// The hourly values on `basis`, gCO2eq/kWh, one per hour from `first_hour`: decodes this
    /// series' run of varints on that basis only.
    pub fn values(&self, basis: GridBasis) -> Vec<f64> {
        let (off, len) = match basis {
            GridBasis::Lifecycle => self.lifecycle,
            GridBasis::Direct => self.direct,
        };
        let raw = &VALUES[off..off + len];
        let mut vals = Vec::with_capacity(self.hours);
        let (mut i, mut prev) = (0usize, 0i64);
        while i < raw.len() {
            let (mut u, mut shift) = (0u64, 0);
            loop {
                let b = raw[i];
                i += 1;
                u |= u64::from(b & 0x7f) << shift;
                shift += 7;
                if b < 0x80 {
                    break;
                }
            }
            // Zigzag: 0, 1, 2, 3, ... stand for 0, -1, 1, -2, ...
            prev += (u >> 1) as i64 ^ -((u & 1) as i64);
            vals.push(prev as f64);
        }
        assert_eq!(
            vals.len(),
            self.hours,
            "bundled hourly data {} {} {basis}",
            self.zone,
            self.year
        );
        vals
    }

    /// The mean of the year on `basis`.
    pub fn mean(&self, basis: GridBasis) -> f64 {
        match basis {
            GridBasis::Lifecycle => self.mean_lifecycle,
            GridBasis::Direct => self.mean_direct,
        }
    }
}

/// A country split into several grid zones, and the zone whose hourly series stands for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourlyZoneMapping {
    pub id: String,
    pub hourly_zone: String,
    pub source: String,
}

struct Tables {
    series: Vec<HourlySeries>,
    map: Vec<HourlyZoneMapping>,
}

fn load() -> Result<Tables, String> {
    let t = Table::parse("hourly/series.csv", SERIES_CSV)?;
    let c = |n| t.col(n);
    let num = |r: &Vec<String>, col: usize, what: &str| -> Result<f64, String> {
        r[col]
            .parse::<f64>()
            .map_err(|e| format!("hourly/series.csv {}: {what} {:?}: {e}", r[0], r[col]))
    };
    let mut series = Vec::with_capacity(t.rows.len());
    for r in &t.rows {
        let first = NaiveDateTime::parse_from_str(&r[c("first_hour_utc")], "%Y-%m-%dT%H:%MZ")
            .map_err(|e| format!("hourly/series.csv {}: first_hour_utc: {e}", r[0]))?
            .and_utc();
        let range = |basis: &str| -> Result<(usize, usize), String> {
            let (off, len) = (
                num(r, t.col(&format!("offset_{basis}")), "offset")? as usize,
                num(r, t.col(&format!("length_{basis}")), "length")? as usize,
            );
            if off + len > VALUES.len() {
                return Err(format!(
                    "hourly/series.csv {}: byte range past the data",
                    r[0]
                ));
            }
            Ok((off, len))
        };
        series.push(HourlySeries {
            zone: r[c("zone")].clone(),
            year: num(r, c("year"), "year")? as i32,
            first_hour: first,
            hours: num(r, c("hours"), "hours")? as usize,
            mean_lifecycle: num(r, c("mean_lifecycle"), "mean_lifecycle")?,
            mean_direct: num(r, c("mean_direct"), "mean_direct")?,
            estimated_hours: num(r, c("estimated_hours"), "estimated_hours")? as usize,
            source: r[c("source")].clone(),
            license: r[c("license")].clone(),
            lifecycle: range("lifecycle")?,
            direct: range("direct")?,
        });
    }
    let m = Table::parse("hourly/zone_map.csv", ZONE_MAP_CSV)?;
    let map = m
        .rows
        .iter()
        .map(|r| HourlyZoneMapping {
            id: r[m.col("id")].clone(),
            hourly_zone: r[m.col("hourly_zone")].clone(),
            source: r[m.col("source")].clone(),
        })
        .collect();
    Ok(Tables { series, map })
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| load().unwrap_or_else(|e| panic!("bundled hourly data is invalid: {e}")))
}

/// Every bundled hourly series, by year then zone.
pub fn hourly_series() -> &'static [HourlySeries] {
    &tables().series
}

/// The bundled series of `zone` (an Electricity Maps zone id) for `year`.
pub fn hourly(zone: &str, year: i32) -> Option<&'static HourlySeries> {
    hourly_series()
        .iter()
        .find(|s| s.year == year && s.zone.eq_ignore_ascii_case(zone))
}

/// The zone whose bundled hourly series stands for a grid zone: the zone itself where a series is
/// bundled, else the zone a country maps to (`SE` -> `SE-SE3`), with the reason; `None` when no
/// series is bundled for it.
pub fn hourly_zone(grid_zone: &str) -> Option<(&'static str, Option<&'static str>)> {
    if let Some(s) = hourly_series()
        .iter()
        .find(|s| s.zone.eq_ignore_ascii_case(grid_zone))
    {
        return Some((s.zone.as_str(), None));
    }
    tables()
        .map
        .iter()
        .find(|m| m.id.eq_ignore_ascii_case(grid_zone))
        .map(|m| (m.hourly_zone.as_str(), Some(m.source.as_str())))
}

/// An hourly series the user imported (`ecotrace data import-hourly`), kept as text by the caller
/// (`$XDG_DATA_HOME/ecotrace/hourly/ZONE.BASIS.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct UserSeries {
    /// Grid zone id, upper case (`FR`, `GB`).
    pub zone: String,
    pub basis: GridBasis,
    /// Start of the first hour, UTC.
    pub first_hour: DateTime<Utc>,
    /// gCO2e/kWh, one per hour; NaN for an hour without a value.
    pub values: Vec<f64>,
    /// Where it comes from (file, provider).
    pub source: String,
}

impl UserSeries {
    /// The value of the hour that contains `t`, if the series has one.
    pub fn at(&self, t: DateTime<Utc>) -> Option<f64> {
        let i = (t - self.first_hour).num_seconds().div_euclid(3600);
        usize::try_from(i)
            .ok()
            .and_then(|i| self.values.get(i).copied())
            .filter(|v| v.is_finite())
    }

    /// The stored form: `# source: ...`, then `datetime_utc,g_per_kwh` rows (empty hours left
    /// out).
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "# ecotrace imported hourly series: zone {}, basis {}\n# source: {}\ndatetime_utc,g_per_kwh\n",
            self.zone,
            self.basis.as_str(),
            self.source.replace('\n', " ")
        );
        for (i, v) in self.values.iter().enumerate() {
            if v.is_finite() {
                let t = self.first_hour + Duration::hours(i as i64);
                s.push_str(&format!("{},{}\n", t.format("%Y-%m-%dT%H:%MZ"), v));
            }
        }
        s
    }

    /// Reads back what [`UserSeries::to_text`] wrote; errors name `file` and the line.
    pub fn from_text(file: &str, zone: &str, basis: GridBasis, text: &str) -> Result<Self, String> {
        let mut source = String::new();
        let mut rows: Vec<(DateTime<Utc>, f64)> = Vec::new();
        for (i, l) in text.lines().enumerate() {
            if let Some(s) = l.strip_prefix("# source: ") {
                source = s.to_string();
                continue;
            }
            if l.starts_with('#') || l.starts_with("datetime_utc") || l.trim().is_empty() {
                continue;
            }
            let bad = |m: String| format!("{file}:{}: {m}", i + 1);
            let (t, g) = l
                .split_once(',')
                .ok_or_else(|| bad("expected datetime_utc,g_per_kwh".into()))?;
            let t = NaiveDateTime::parse_from_str(t.trim(), "%Y-%m-%dT%H:%MZ")
                .map_err(|_| bad(format!("`{t}` is not a time")))?
                .and_utc();
            let g: f64 = g
                .trim()
                .parse()
                .map_err(|_| bad(format!("`{g}` is not a number")))?;
            rows.push((t, g));
        }
        rows.sort_by_key(|r| r.0);
        let Some(&(first, _)) = rows.first() else {
            return Err(format!("{file}: no hourly values in it"));
        };
        let n = (rows.last().expect("non-empty").0 - first).num_hours() as usize + 1;
        let mut values = vec![f64::NAN; n];
        for (t, g) in rows {
            values[(t - first).num_hours() as usize] = g;
        }
        Ok(UserSeries {
            zone: zone.to_string(),
            basis,
            first_hour: first,
            values,
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_decodes_to_its_means() {
        let all = hourly_series();
        assert!(all.len() >= 70, "{}", all.len());
        for s in all {
            for basis in [GridBasis::Lifecycle, GridBasis::Direct] {
                let v = s.values(basis);
                assert_eq!(v.len(), s.hours, "{} {}", s.zone, s.year);
                let mean = v.iter().sum::<f64>() / v.len() as f64;
                assert!(
                    (mean - s.mean(basis)).abs() < 0.01,
                    "{} {} {basis}",
                    s.zone,
                    s.year
                );
                assert!(v.iter().all(|&x| (0.0..2000.0).contains(&x)));
            }
            assert_eq!(
                s.first_hour.format("%m-%d %H:%M").to_string(),
                "01-01 00:00"
            );
            assert!(s.license.contains("ODbL"));
        }
        let fr = hourly("fr", 2022).unwrap();
        assert_eq!(fr.hours, 8760);
        assert!(hourly("FR", 2024).is_none());
        assert_eq!(
            hourly_zone("SE"),
            Some(("SE-SE3", hourly_zone("SE").unwrap().1))
        );
        assert!(hourly_zone("SE").unwrap().1.is_some());
        assert_eq!(hourly_zone("US-MIDA-PJM"), Some(("US-MIDA-PJM", None)));
        assert_eq!(hourly_zone("US-NW-BPAT"), None);
    }
}

/// What a live grid-intensity provider gave a plan (fetched by the caller, see
/// `ecotrace_tracker::live::plan_series`): one series per region it answered for, on the
/// plan's basis, and what a reader should know (failures, the signal).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveSeries {
    pub series: Vec<UserSeries>,
    pub notes: Vec<String>,
    /// `Marginal` only when every region has a marginal series (WattTime); never a mix.
    pub signal: ecotrace_core::EmissionSignal,
    /// The earliest end of the series (a deadline left to the forecast's horizon).
    pub end: Option<DateTime<Utc>>,
}
