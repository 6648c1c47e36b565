//! Pure readers of the providers' JSON answers into timed figures in gCO2e/kWh. A wrong shape is
//! an error saying what was missing, never a zero.

use chrono::{DateTime, Utc};
use ecotrace_core::GridBasis;
use serde_json::Value;

use crate::G_PER_KWH_PER_LB_PER_MWH;

/// One figure: the start of its period and its value in gCO2e/kWh.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub value: f64,
}

fn json(body: &str) -> Result<Value, String> {
    serde_json::from_str(body).map_err(|e| format!("not JSON ({e})"))
}

/// RFC 3339, with or without seconds (`2023-03-14T12:00Z`), fractions allowed.
pub fn time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let i = s.rfind(['Z', 'z', '+', '-']).filter(|&i| i > 10)?;
    let (head, tail) = s.split_at(i);
    DateTime::parse_from_rfc3339(&format!("{head}:00{tail}"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn basis_of(v: &Value) -> Option<GridBasis> {
    v.get("emissionFactorType")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
}

fn em_point(v: &Value) -> Result<Point, String> {
    let at = v
        .get("datetime")
        .and_then(Value::as_str)
        .ok_or("an entry has no `datetime`")?;
    let at = time(at).ok_or_else(|| format!("`datetime` {at:?} is not an RFC 3339 time"))?;
    let value = v
        .get("carbonIntensity")
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite() && *x >= 0.0)
        .ok_or("an entry has no numeric `carbonIntensity`")?;
    Ok(Point { at, value })
}

fn em_error(v: &Value) -> Result<(), String> {
    match v.get("error").or_else(|| v.get("message")) {
        Some(e) if v.get("carbonIntensity").is_none() => Err(format!(
            "the answer is an error: {}",
            e.as_str().map_or_else(|| e.to_string(), str::to_string)
        )),
        _ => Ok(()),
    }
}

/// Electricity Maps `carbon-intensity/latest`: one entry.
pub fn em_latest(body: &str) -> Result<(Point, Option<GridBasis>), String> {
    let v = json(body)?;
    em_error(&v)?;
    Ok((em_point(&v)?, basis_of(&v)))
}

/// Electricity Maps `history` (`history[]`), `forecast` (`forecast[]`) or `past-range`
/// (`data[]`).
pub fn em_series(body: &str) -> Result<(Vec<Point>, Option<GridBasis>), String> {
    let v = json(body)?;
    em_error(&v)?;
    let list = ["history", "forecast", "data"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_array))
        .ok_or("no `history`, `forecast` or `data` list")?;
    let points = list.iter().map(em_point).collect::<Result<Vec<_>, _>>()?;
    let basis = list.iter().find_map(basis_of).or_else(|| basis_of(&v));
    Ok((points, basis))
}

/// UK Carbon Intensity API answers, national or regional, whatever their nesting: every object
/// with `from` and `intensity`; its `actual` figure where there is one, else its `forecast`.
pub fn ukci(body: &str) -> Result<Vec<Point>, String> {
    let v = json(body)?;
    if let Some(e) = v.get("error") {
        return Err(format!("the answer is an error: {e}"));
    }
    if v.get("data").is_none() {
        return Err("no `data`".into());
    }
    let mut out = Vec::new();
    let mut stack = vec![&v];
    while let Some(x) = stack.pop() {
        match x {
            Value::Array(a) => stack.extend(a.iter().rev()),
            Value::Object(o) => {
                if let (Some(from), Some(i)) = (o.get("from"), o.get("intensity")) {
                    let from = from.as_str().ok_or("`from` is not a string")?;
                    let at = time(from)
                        .ok_or_else(|| format!("`from` {from:?} is not an RFC 3339 time"))?;
                    let value = i
                        .get("actual")
                        .and_then(Value::as_f64)
                        .or_else(|| i.get("forecast").and_then(Value::as_f64))
                        .filter(|x| x.is_finite() && *x >= 0.0)
                        .ok_or_else(|| format!("the period from {from} has no figure"))?;
                    out.push(Point { at, value });
                } else {
                    stack.extend(o.values().rev());
                }
            }
            _ => {}
        }
    }
    if out.is_empty() {
        return Err("no period with an intensity".into());
    }
    out.sort_by_key(|p| p.at);
    Ok(out)
}

/// WattTime v3 `forecast` and `historical`: `data[]` of `point_time` and `value`, in
/// `meta.units` (lbs_co2_per_mwh, converted to g/kWh).
pub fn watttime(body: &str) -> Result<Vec<Point>, String> {
    let v = json(body)?;
    let data = v
        .get("data")
        .and_then(Value::as_array)
        .ok_or("no `data` list")?;
    let units = v
        .pointer("/meta/units")
        .and_then(Value::as_str)
        .unwrap_or("lbs_co2_per_mwh");
    let factor = match units {
        "lbs_co2_per_mwh" | "lb_co2_per_mwh" => G_PER_KWH_PER_LB_PER_MWH,
        "kg_co2_per_mwh" | "g_co2_per_kwh" => 1.0,
        other => return Err(format!("unknown units {other:?}")),
    };
    data.iter()
        .map(|p| {
            let t = p
                .get("point_time")
                .and_then(Value::as_str)
                .ok_or("a point has no `point_time`")?;
            let at =
                time(t).ok_or_else(|| format!("`point_time` {t:?} is not an RFC 3339 time"))?;
            let value = p
                .get("value")
                .and_then(Value::as_f64)
                .filter(|x| x.is_finite())
                .ok_or("a point has no numeric `value`")?;
            Ok(Point {
                at,
                value: value * factor,
            })
        })
        .collect()
}

/// WattTime `/login`: `{"token": "..."}`.
pub fn watttime_token(body: &str) -> Result<String, String> {
    json(body)?
        .get("token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .ok_or_else(|| "no `token`".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_of_each_provider() {
        let (p, b) = em_latest(
            r#"{"zone":"FR","carbonIntensity":88,"datetime":"2022-06-30T12:00:00.000Z","emissionFactorType":"lifecycle"}"#,
        )
        .unwrap();
        assert_eq!(p.value, 88.0);
        assert_eq!(p.at, time("2022-06-30T12:00Z").unwrap());
        assert_eq!(b, Some(GridBasis::Lifecycle));
        let (s, _) = em_series(
            r#"{"zone":"FR","forecast":[{"carbonIntensity":77,"datetime":"2022-07-01T12:00:00.000Z"},{"carbonIntensity":78,"datetime":"2022-07-01T13:00:00.000Z"}]}"#,
        )
        .unwrap();
        assert_eq!(s.iter().map(|p| p.value).collect::<Vec<_>>(), [77.0, 78.0]);
        let u = ukci(
            r#"{"data":[{"from":"2023-03-14T12:30Z","to":"2023-03-14T13:00Z","intensity":{"forecast":100,"actual":null,"index":"low"}},{"from":"2023-03-14T12:00Z","to":"2023-03-14T12:30Z","intensity":{"forecast":99,"actual":101,"index":"low"}}]}"#,
        )
        .unwrap();
        assert_eq!(
            u.iter().map(|p| p.value).collect::<Vec<_>>(),
            [101.0, 100.0]
        );
        // Regional: `data` is an object holding the periods.
        let r = ukci(
            r#"{"data":{"regionid":13,"shortname":"London","data":[{"from":"2023-03-14T12:00Z","to":"2023-03-14T12:30Z","intensity":{"forecast":150,"index":"moderate"}}]}}"#,
        )
        .unwrap();
        assert_eq!(r[0].value, 150.0);
        let w = watttime(
            r#"{"data":[{"point_time":"2021-07-01T03:00:00+00:00","value":1000.0}],"meta":{"units":"lbs_co2_per_mwh"}}"#,
        )
        .unwrap();
        assert!((w[0].value - 453.59237).abs() < 1e-9);
        assert_eq!(
            watttime_token(r#"{"token": "abc"}"#).unwrap(),
            "abc".to_string()
        );
    }

    #[test]
    fn wrong_shapes_are_errors_not_zeros() {
        assert!(em_latest("{not json").unwrap_err().starts_with("not JSON"));
        assert!(em_latest(r#"{"error":"Zone 'XX' does not exist"}"#)
            .unwrap_err()
            .contains("does not exist"));
        assert!(em_series(r#"{"zone":"FR"}"#).is_err());
        assert!(em_series(r#"{"forecast":[{"datetime":"2022-07-01T12:00:00Z"}]}"#).is_err());
        assert!(ukci(r#"{"data":[]}"#).is_err());
        assert!(ukci(r#"{"data":[{"from":"x","intensity":{"forecast":1}}]}"#).is_err());
        assert!(watttime(r#"{"data":[{"point_time":"2021-07-01T03:00:00Z","value":1}],"meta":{"units":"furlongs"}}"#).is_err());
        assert!(watttime_token("{}").is_err());
    }
}
