//! The user's imported hourly grid intensities (`ecotrace data import-hourly`), kept beside the
//! ledger in `$XDG_DATA_HOME/ecotrace/hourly/ZONE.BASIS.csv` (or `$ECOTRACE_HOURLY_DIR`), for
//! `plan` and for runs charged hour by hour. Reading them is the only I/O here.

use std::path::PathBuf;

use chrono::{DateTime, Datelike, Utc};
use ecotrace_core::GridBasis;
use ecotrace_data::UserSeries;

use crate::TrackError;

/// Where imported hourly series are kept: `$ECOTRACE_HOURLY_DIR`, else
/// `$XDG_DATA_HOME/ecotrace/hourly` (or `~/.local/share/ecotrace/hourly`); `None` when neither
/// a data directory nor a home is known.
pub fn user_hourly_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("ECOTRACE_HOURLY_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    ecotrace_ledger::default_path()
        .ok()
        .map(|p| p.with_file_name("hourly"))
}

/// The file of one zone and basis in [`user_hourly_dir`].
pub fn store_name(zone: &str, basis: GridBasis) -> String {
    format!("{zone}.{}.csv", basis.as_str())
}

/// Every imported series, or those of one zone and basis. A missing folder is no series; an
/// unreadable or damaged file is an error naming it.
pub fn user_hourly_series(only: Option<(&str, GridBasis)>) -> Result<Vec<UserSeries>, TrackError> {
    series_files(only)
        .into_iter()
        .map(|(p, zone, basis)| read_series(&p, &zone, basis))
        .collect()
}

/// Every imported series that can be read, and a warning for each that cannot (naming its file
/// and saying what to do): for `plan`, `run --when-green` and Python's `plan()`, which a damaged
/// file costs its hours, never the answer.
pub fn readable_user_hourly_series() -> (Vec<UserSeries>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (p, zone, basis) in series_files(None) {
        match read_series(&p, &zone, basis) {
            Ok(s) => out.push(s),
            Err(e) => warnings.push(format!(
                "the imported hourly intensities of {zone} ({}) are not used, the bundled data \
                 stands in: {}",
                basis.label(),
                match e {
                    TrackError::Config { path, detail } => format!("{}: {detail}", path.display()),
                    e => e.to_string(),
                }
            )),
        }
    }
    (out, warnings)
}

/// The imported series' files (path, zone, basis), in name order.
fn series_files(only: Option<(&str, GridBasis)>) -> Vec<(PathBuf, String, GridBasis)> {
    let Some(dir) = user_hourly_dir() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| {
            let stem = p.file_name()?.to_str()?.strip_suffix(".csv")?;
            let (zone, basis) = stem.rsplit_once('.')?;
            let basis = basis.parse::<GridBasis>().ok()?;
            if only.is_some_and(|(z, b)| !(z.eq_ignore_ascii_case(zone) && b == basis)) {
                return None;
            }
            let zone = zone.to_string();
            Some((p, zone, basis))
        })
        .collect()
}

fn read_series(
    p: &std::path::Path,
    zone: &str,
    basis: GridBasis,
) -> Result<UserSeries, TrackError> {
    let text = std::fs::read_to_string(p).map_err(|e| TrackError::Config {
        path: p.to_path_buf(),
        detail: format!("cannot read this imported hourly series: {e}"),
    })?;
    UserSeries::from_text(&p.display().to_string(), zone, basis, &text).map_err(|detail| {
        TrackError::Config {
            path: p.to_path_buf(),
            detail: format!("damaged imported hourly series ({detail}): import it again"),
        }
    })
}

/// Hourly intensities over a span of hours ([`HourlyCharge::values`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HourlyValues {
    /// The zone of the series.
    pub zone: String,
    /// Each series that gave a value.
    pub sources: Vec<String>,
    /// gCO2e/kWh, one per hour; NaN where there is none.
    pub values: Vec<f64>,
}

/// The hourly series a run is charged with: the user's imported ones first, then the bundled
/// ones, of the grid zone that serves the run's region, on its basis.
#[derive(Debug, Clone, PartialEq)]
pub struct HourlyCharge {
    /// The zone of the series.
    pub zone: String,
    series: Vec<UserSeries>,
}

impl HourlyCharge {
    /// The series for a run in `zones` (the grid zone first) on `basis` starting at `start`:
    /// `Ok(None)` with a note when the zone has hourly data that does not cover `start`, and
    /// `Ok(None)` without one when it has none. Bundled series are decoded only for a year that
    /// covers `start`.
    pub fn find(
        zones: &[&str],
        basis: GridBasis,
        start: DateTime<Utc>,
    ) -> Result<(Option<Self>, Option<String>), TrackError> {
        let Some(charge) = Self::load(zones, basis, start.year()..=start.year() + 1)? else {
            return Ok((None, None));
        };
        if charge.at(start).is_some() {
            Ok((Some(charge), None))
        } else {
            Ok((
                None,
                Some(format!(
                    "hourly intensity data for {} does not cover {}: the yearly average is charged",
                    charge.zone,
                    start.format("%Y-%m-%d %H:00 UTC")
                )),
            ))
        }
    }

    /// The hourly intensities of `zone` on `basis` over `hours` hours from `from` (NaN where
    /// there is none): the imported series first, then the bundled ones of those years; the zone
    /// of the series and each series used. `None` for a zone without hourly data. For `show`'s
    /// view of a run charged hour by hour.
    pub fn values(
        zone: &str,
        basis: GridBasis,
        from: DateTime<Utc>,
        hours: usize,
    ) -> Result<Option<HourlyValues>, TrackError> {
        let to = from + chrono::Duration::hours(hours as i64);
        let Some(charge) = Self::load(&[zone], basis, from.year()..=to.year())? else {
            return Ok(None);
        };
        let mut sources: Vec<String> = Vec::new();
        let values = (0..hours)
            .map(
                |k| match charge.at(from + chrono::Duration::hours(k as i64)) {
                    Some((g, src)) => {
                        if !sources.iter().any(|s| s == src) {
                            sources.push(src.to_string());
                        }
                        g
                    }
                    None => f64::NAN,
                },
            )
            .collect();
        Ok(Some(HourlyValues {
            zone: charge.zone.clone(),
            sources,
            values,
        }))
    }

    /// The series of the first of `zones` with imported data, and the bundled ones of `years`
    /// (decoded only for those years); `None` when no zone has any.
    fn load(
        zones: &[&str],
        basis: GridBasis,
        years: std::ops::RangeInclusive<i32>,
    ) -> Result<Option<Self>, TrackError> {
        let mut zone = None;
        let mut series = Vec::new();
        for z in zones {
            let user = user_hourly_series(Some((z, basis)))?;
            if !user.is_empty() {
                zone = Some(z.to_string());
                series = user;
                break;
            }
        }
        let bundled = zones
            .iter()
            .find_map(|z| ecotrace_data::hourly_zone(z))
            .map(|(z, _)| z);
        if let Some(b) = bundled {
            for y in years {
                if let Some(s) = ecotrace_data::hourly(b, y) {
                    series.push(UserSeries {
                        zone: s.zone.clone(),
                        basis,
                        first_hour: s.first_hour,
                        values: s.values(basis),
                        source: s.source.clone(),
                    });
                }
            }
        }
        Ok(zone
            .or(bundled.map(str::to_string))
            .map(|zone| HourlyCharge { zone, series }))
    }

    /// The intensity of the hour that contains `t`, and the source of its series.
    pub fn at(&self, t: DateTime<Utc>) -> Option<(f64, &str)> {
        self.series
            .iter()
            .find_map(|s| s.at(t).map(|g| (g, s.source.as_str())))
    }
}
