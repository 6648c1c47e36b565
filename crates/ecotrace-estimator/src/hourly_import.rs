//! `ecotrace data import-hourly FILE`: a user's hourly grid intensities, from Electricity Maps'
//! hourly CSV export (columns `Datetime (UTC)`, `Zone Id`, `Carbon Intensity gCO₂eq/kWh (direct)`,
//! `Carbon Intensity gCO₂eq/kWh (LCA)`, ...) or the UK Carbon Intensity API's JSON
//! (`{"data": [{"from", "to", "intensity": {"forecast", "actual"}}]}`, national, half-hourly).
//! Parses text into [`UserSeries`]; reading and storing files is the caller's. A bad row is an
//! error naming the file and line; duplicate and missing hours are reported, not fatal.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use ecotrace_core::GridBasis;

use crate::plan::UserSeries;

/// Why a file cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("{file}:{line}: {msg}")]
    Row {
        file: String,
        line: usize,
        msg: String,
    },
    #[error("{file}: {msg}")]
    File { file: String, msg: String },
}

/// What an import found besides the values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    /// Hours given more than once (the last value is kept), per zone.
    pub duplicates: Vec<(String, DateTime<Utc>)>,
    /// Hours missing between the first and the last, per zone, as (zone, first missing, count).
    pub gaps: Vec<(String, DateTime<Utc>, usize)>,
    pub rows: usize,
}

/// Parses `text` (the content of `file`), recognising the format from its first character.
pub fn parse_hourly(
    file: &str,
    text: &str,
) -> Result<(Vec<UserSeries>, ImportReport), ImportError> {
    let t = text.trim_start_matches('\u{feff}');
    if t.trim_start().starts_with('{') {
        parse_uk_json(file, t)
    } else {
        parse_em_csv(file, t)
    }
}

fn row_err(file: &str, line: usize, msg: impl Into<String>) -> ImportError {
    ImportError::Row {
        file: file.to_string(),
        line,
        msg: msg.into(),
    }
}

/// Splits one CSV line (quoted fields, doubled quotes).
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn parse_when(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%MZ",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    crate::plan::parse_time(s)
}

/// Values by zone, basis and hour, as read.
type Collected = BTreeMap<(String, GridBasis), BTreeMap<DateTime<Utc>, f64>>;

fn parse_em_csv(file: &str, text: &str) -> Result<(Vec<UserSeries>, ImportReport), ImportError> {
    let mut lines = text.lines().enumerate();
    let Some((_, header)) = lines.find(|(_, l)| !l.trim().is_empty()) else {
        return Err(ImportError::File {
            file: file.into(),
            msg: "empty file".into(),
        });
    };
    let head = fields(header);
    let col = |want: &[&str]| {
        head.iter().position(|h| {
            let h = h.trim().to_ascii_lowercase();
            want.iter().any(|w| h == *w)
        })
    };
    let c_time = col(&["datetime (utc)", "datetime_utc"]);
    let c_zone = col(&["zone id", "zone_id"]);
    let c_direct = head
        .iter()
        .position(|h| {
            h.to_ascii_lowercase().contains("carbon intensity")
                && h.to_ascii_lowercase().contains("(direct)")
        })
        .or_else(|| col(&["ci_direct_gco2eq_per_kwh"]));
    let c_lca = head
        .iter()
        .position(|h| {
            h.to_ascii_lowercase().contains("carbon intensity")
                && h.to_ascii_lowercase().contains("(lca)")
        })
        .or_else(|| col(&["ci_lca_gco2eq_per_kwh"]));
    let (Some(c_time), Some(c_zone)) = (c_time, c_zone) else {
        return Err(row_err(
            file,
            1,
            "not an Electricity Maps hourly CSV: the header needs `Datetime (UTC)` and `Zone Id` (or give the UK Carbon Intensity API's JSON)",
        ));
    };
    if c_direct.is_none() && c_lca.is_none() {
        return Err(row_err(
            file,
            1,
            "no intensity column: expected `Carbon Intensity gCO₂eq/kWh (direct)` and/or `Carbon Intensity gCO₂eq/kWh (LCA)`",
        ));
    }
    let mut got: Collected = BTreeMap::new();
    let mut report = ImportReport::default();
    for (i, line) in lines {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let f = fields(line);
        if f.len() != head.len() {
            return Err(row_err(
                file,
                n,
                format!("{} fields, the header has {}", f.len(), head.len()),
            ));
        }
        let t = parse_when(&f[c_time]).ok_or_else(|| {
            row_err(
                file,
                n,
                format!("`{}` is not a UTC time (2022-01-01 00:00:00)", f[c_time]),
            )
        })?;
        if t.timestamp() % 3600 != 0 {
            return Err(row_err(
                file,
                n,
                format!(
                    "{} is not the start of an hour: import hourly data",
                    f[c_time]
                ),
            ));
        }
        let zone = f[c_zone].trim().to_ascii_uppercase();
        if zone.is_empty() {
            return Err(row_err(file, n, "empty Zone Id"));
        }
        let mut dup = false;
        for (c, basis) in [(c_lca, GridBasis::Lifecycle), (c_direct, GridBasis::Direct)] {
            let Some(c) = c else { continue };
            let v = f[c].trim();
            let g: f64 = v.parse().map_err(|_| {
                row_err(
                    file,
                    n,
                    format!("intensity `{v}` is not a number of gCO2eq/kWh"),
                )
            })?;
            if !(g.is_finite() && (0.0..=5000.0).contains(&g)) {
                return Err(row_err(
                    file,
                    n,
                    format!("intensity {g} is out of range (0 to 5000 gCO2eq/kWh)"),
                ));
            }
            dup |= got
                .entry((zone.clone(), basis))
                .or_default()
                .insert(t, g)
                .is_some();
        }
        if dup {
            report.duplicates.push((zone.clone(), t));
        }
        report.rows += 1;
    }
    let source = format!("Electricity Maps hourly CSV {file}");
    finish(file, got, report, &source)
}

fn parse_uk_json(file: &str, text: &str) -> Result<(Vec<UserSeries>, ImportReport), ImportError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| ImportError::Row {
        file: file.into(),
        line: e.line(),
        msg: format!("not valid JSON: {e}"),
    })?;
    let Some(data) = v.get("data").and_then(|d| d.as_array()) else {
        return Err(ImportError::File {
            file: file.into(),
            msg: "not a UK Carbon Intensity API response: no `data` list".into(),
        });
    };
    // Line of each element, for error messages: the n-th `"from"` in the text.
    let from_lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("\"from\""))
        .map(|(i, _)| i + 1)
        .collect();
    let mut halves: BTreeMap<DateTime<Utc>, Vec<f64>> = BTreeMap::new();
    let mut report = ImportReport::default();
    let mut seen = std::collections::BTreeSet::new();
    for (k, d) in data.iter().enumerate() {
        let line = from_lines.get(k).copied().unwrap_or(1);
        let from = d
            .get("from")
            .and_then(|x| x.as_str())
            .and_then(parse_when)
            .ok_or_else(|| row_err(file, line, "`from` is missing or not a time"))?;
        let i = d
            .get("intensity")
            .ok_or_else(|| row_err(file, line, "no `intensity`"))?;
        let g = i
            .get("actual")
            .and_then(|x| x.as_f64())
            .or_else(|| i.get("forecast").and_then(|x| x.as_f64()))
            .ok_or_else(|| row_err(file, line, "neither `actual` nor `forecast` is a number"))?;
        if !(g.is_finite() && (0.0..=5000.0).contains(&g)) {
            return Err(row_err(
                file,
                line,
                format!("intensity {g} is out of range"),
            ));
        }
        if !seen.insert(from) {
            report.duplicates.push(("GB".into(), from));
            continue;
        }
        let hour = from - Duration::seconds(from.timestamp() % 3600);
        halves.entry(hour).or_default().push(g);
        report.rows += 1;
    }
    let mut got: Collected = BTreeMap::new();
    let m = got.entry(("GB".into(), GridBasis::Direct)).or_default();
    for (h, v) in halves {
        m.insert(h, v.iter().sum::<f64>() / v.len() as f64);
    }
    let source = format!(
        "UK Carbon Intensity API (National Energy System Operator, CC BY 4.0), national, actual (forecast where no actual), half-hours averaged, {file}"
    );
    finish(file, got, report, &source)
}

fn finish(
    file: &str,
    got: Collected,
    mut report: ImportReport,
    source: &str,
) -> Result<(Vec<UserSeries>, ImportReport), ImportError> {
    if got.is_empty() {
        return Err(ImportError::File {
            file: file.into(),
            msg: "no hourly values in it".into(),
        });
    }
    let mut out = Vec::new();
    for ((zone, basis), m) in got {
        let first = *m.keys().next().expect("non-empty");
        let last = *m.keys().last().expect("non-empty");
        let n = ((last - first).num_hours() + 1) as usize;
        let mut values = vec![f64::NAN; n];
        for (t, g) in &m {
            values[(*t - first).num_hours() as usize] = *g;
        }
        if basis == GridBasis::Lifecycle || !out.iter().any(|u: &UserSeries| u.zone == zone) {
            let mut i = 0;
            while i < n {
                if values[i].is_nan() {
                    let s = i;
                    while i < n && values[i].is_nan() {
                        i += 1;
                    }
                    report
                        .gaps
                        .push((zone.clone(), first + Duration::hours(s as i64), i - s));
                } else {
                    i += 1;
                }
            }
        }
        out.push(UserSeries {
            zone,
            basis,
            first_hour: first,
            values,
            source: source.to_string(),
        });
    }
    Ok((out, report))
}

/// Merges `new` into `old` (same zone and basis): the union of hours, `new` winning.
pub fn merge(old: &UserSeries, new: &UserSeries) -> UserSeries {
    let first = old.first_hour.min(new.first_hour);
    let end = |u: &UserSeries| u.first_hour + Duration::hours(u.values.len() as i64);
    let last = end(old).max(end(new));
    let n = (last - first).num_hours() as usize;
    let mut values = vec![f64::NAN; n];
    for u in [old, new] {
        let off = (u.first_hour - first).num_hours() as usize;
        for (i, v) in u.values.iter().enumerate() {
            if v.is_finite() {
                values[off + i] = *v;
            }
        }
    }
    let source = if old.source == new.source {
        new.source.clone()
    } else {
        format!("{}; {}", old.source, new.source)
    };
    UserSeries {
        zone: new.zone.clone(),
        basis: new.basis,
        first_hour: first,
        values,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EM: &str = "Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),Carbon Intensity gCO₂eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,Data Source,Data Estimated,Data Estimation Method\n\
2022-01-01 00:00:00,France,France,FR,20.5,40.25,90,20,\"rte, eco2mix\",false,\n\
2022-01-01 01:00:00,France,France,FR,21,41,90,20,rte,false,\n\
2022-01-01 01:00:00,France,France,FR,22,42,90,20,rte,false,\n\
2022-01-01 04:00:00,France,France,FR,23,43,90,20,rte,false,\n";

    #[test]
    fn electricity_maps_csv() {
        let (s, r) = parse_hourly("fr.csv", EM).unwrap();
        assert_eq!(s.len(), 2);
        let l = s.iter().find(|u| u.basis == GridBasis::Lifecycle).unwrap();
        assert_eq!(l.zone, "FR");
        assert_eq!(l.values.len(), 5);
        assert_eq!(l.values[0], 40.25);
        assert_eq!(l.values[1], 42.0, "the last duplicate wins");
        assert!(l.values[2].is_nan() && l.values[3].is_nan());
        let d = s.iter().find(|u| u.basis == GridBasis::Direct).unwrap();
        assert_eq!(d.values[4], 23.0);
        assert_eq!(r.duplicates.len(), 1);
        assert_eq!(
            r.gaps,
            vec![("FR".to_string(), l.first_hour + Duration::hours(2), 2)]
        );
        assert_eq!(r.rows, 4);
        // Round trip through the store.
        let back = UserSeries::from_text("x", "FR", GridBasis::Lifecycle, &l.to_text()).unwrap();
        assert_eq!(back.values.len(), 5);
        assert_eq!(back.values[4], 43.0);
    }

    #[test]
    fn bad_rows_name_file_and_line() {
        let bad = EM.replace(
            "2022-01-01 04:00:00,France,France,FR,23,43",
            "2022-01-01 04:00:00,France,France,FR,23,lots",
        );
        let e = parse_hourly("fr.csv", &bad).unwrap_err().to_string();
        assert!(e.starts_with("fr.csv:5:") && e.contains("lots"), "{e}");
        let e = parse_hourly("x.csv", "a,b\n1,2\n").unwrap_err().to_string();
        assert!(e.starts_with("x.csv:1:") && e.contains("Zone Id"), "{e}");
        let bad = EM.replace("2022-01-01 01:00:00,France", "yesterday,France");
        let e = parse_hourly("fr.csv", &bad).unwrap_err().to_string();
        assert!(e.starts_with("fr.csv:3:"), "{e}");
        let e = parse_hourly("u.json", "{\"data\": [ {\"from\": 3} ]}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("u.json:1"), "{e}");
        let e = parse_hourly("u.json", "{\"data\": [")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not valid JSON"), "{e}");
    }

    #[test]
    fn merge_keeps_the_union() {
        let (s, _) = parse_hourly("fr.csv", EM).unwrap();
        let a = s[0].clone();
        let mut b = a.clone();
        b.first_hour += Duration::hours(3);
        b.values = vec![1.0, 2.0, 3.0];
        let m = merge(&a, &b);
        assert_eq!(m.values.len(), 6);
        assert_eq!(m.values[0], a.values[0]);
        assert_eq!(m.values[3], 1.0);
        assert_eq!(m.values[5], 3.0);
    }
}
