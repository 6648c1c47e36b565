//! Loading a stored record JSON written by another version of ecotrace.
//!
//! Newer records: unknown fields are ignored by serde; a note says the record is newer. Older or
//! damaged records: fields the current [`RunRecord`] requires but the stored JSON lacks (or holds
//! as `null`) are filled with neutral defaults, and a note names them. This module only decodes;
//! it must not touch storage, and the stored JSON is never rewritten.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::DateTime;
use ecotrace_core::{
    CarbonIntensity, CarbonMass, EnergyBreakdown, Host, IntensityBasis, IntensityUsed, Phase,
    Power, Pue, PueUsed, RunRecord, RunStatus, SamplesSummary, Scope, TrackerInfo, RECORD_VERSION,
};
use serde_json::{Map, Value};

/// Decodes a stored record, tolerating other record versions. The error is the reason it could
/// not be read at all.
pub(crate) fn decode_record(json: &str) -> Result<RunRecord, String> {
    let mut record = match serde_json::from_str::<RunRecord>(json) {
        Ok(r) => r,
        Err(direct) => {
            let stored: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
            let Value::Object(stored) = stored else {
                return Err("stored record is not a JSON object".into());
            };
            let mut filled = Vec::new();
            let merged = fill_missing(stored, template(), "", &mut filled);
            let mut r: RunRecord =
                serde_json::from_value(Value::Object(merged)).map_err(|_| direct.to_string())?;
            if !filled.is_empty() {
                r.notes.push(format!(
                    "the stored record lacked {} (written by another ecotrace version?); shown with neutral defaults",
                    filled.join(", ")
                ));
            }
            r
        }
    };
    if record.record_version > RECORD_VERSION {
        record.notes.push(format!(
            "written by a newer ecotrace (record version {}, this one reads {}); fields it added are not shown",
            record.record_version, RECORD_VERSION
        ));
    }
    Ok(record)
}

/// The record's JSON as this ecotrace writes it (its fields in their declared order, no spaces),
/// when that is the same JSON value as `json`, e.g. a record PostgreSQL gave back from `jsonb`
/// (keys reordered, spaced out); `None` when it is not the same value (another record version,
/// unknown fields, numbers that would change), so that the caller keeps `json` as it is.
pub(crate) fn canonical_json(json: &str) -> Option<String> {
    let record: RunRecord = serde_json::from_str(json).ok()?;
    if record.record_version != RECORD_VERSION {
        return None;
    }
    let value: Value = serde_json::from_str(json).ok()?;
    let canonical = serde_json::to_string(&record).ok()?;
    (serde_json::from_str::<Value>(&canonical).ok()? == value).then_some(canonical)
}

/// Top-level fields that have serde defaults: their absence is normal and not worth a note.
const SERDE_DEFAULTED: &[&str] = &[
    "tags",
    "notes",
    "metrics",
    "samples",
    "embodied_items",
    "kind",
];

/// Adds to `stored` every key of `template` it lacks (or holds as `null` where the template does
/// not), recursing into objects; records the dotted paths it filled.
fn fill_missing(
    mut stored: Map<String, Value>,
    template: Map<String, Value>,
    prefix: &str,
    filled: &mut Vec<String>,
) -> Map<String, Value> {
    for (key, default) in template {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match stored.remove(&key) {
            None | Some(Value::Null) if !default.is_null() => {
                if !SERDE_DEFAULTED.contains(&path.as_str()) {
                    filled.push(path);
                }
                stored.insert(key, default);
            }
            None => {
                stored.insert(key, default);
            }
            Some(Value::Object(inner)) => {
                let merged = match default {
                    Value::Object(d) => fill_missing(inner, d, &path, filled),
                    _ => inner,
                };
                stored.insert(key, Value::Object(merged));
            }
            Some(v) => {
                stored.insert(key, v);
            }
        }
    }
    stored
}

/// A record of neutral values, as JSON: what a missing field reads as.
fn template() -> Map<String, Value> {
    let r = RunRecord {
        record_version: 0,
        id: String::new(),
        project: String::new(),
        phase: Phase::Other,
        tags: BTreeMap::new(),
        command: Vec::new(),
        status: RunStatus::Interrupted,
        exit_code: None,
        signal: None,
        error: None,
        started_at: DateTime::UNIX_EPOCH,
        ended_at: None,
        duration: Duration::ZERO,
        scope: Scope::Process,
        host: Host::default(),
        energy_kwh: EnergyBreakdown::default(),
        components: Vec::new(),
        mean_power: Power::ZERO,
        pue: PueUsed {
            value: Pue::ONE,
            source: "unknown".into(),
        },
        intensity: IntensityUsed {
            value: CarbonIntensity::from_g_per_kwh(0.0).expect("0 is a valid intensity"),
            zone: String::new(),
            source: "unknown".into(),
            year: None,
            basis: IntensityBasis::WorldDefault,
            grid_basis: None,
            resolution: Default::default(),
            series: None,
            signal: Default::default(),
            live: None,
        },
        operational: CarbonMass::ZERO,
        embodied: None,
        embodied_items: Vec::new(),
        water: None,
        water_used: None,
        cost: None,
        cost_used: None,
        kind: Default::default(),
        job: None,
        notes: Vec::new(),
        metrics: BTreeMap::new(),
        samples: SamplesSummary::default(),
        tracker: TrackerInfo {
            version: String::new(),
            interval_s: Duration::ZERO,
            pid: 0,
        },
        serving: None,
        windows: Vec::new(),
    };
    match serde_json::to_value(r).expect("a record always encodes") {
        Value::Object(m) => m,
        _ => unreachable!("a record encodes as an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn full() -> Value {
        json!({
            "record_version": 1, "id": "r1", "project": "p", "phase": "training",
            "tags": {"a": "b"}, "command": ["python", "t.py"], "status": "finished",
            "exit_code": 0, "signal": null, "error": null,
            "started_at": "2024-01-01T00:00:00Z", "ended_at": "2024-01-01T01:00:00Z",
            "duration_s": 3600.0, "scope": "process",
            "host": {"hostname": "h", "cpu_model": "c", "cpu_count": 8, "memory_gb": 16.0, "gpus": ["g"], "os": "linux"},
            "energy_kwh": {"cpu": 0.1, "gpu": 0.2, "ram": 0.0, "total": 0.3},
            "components": [], "mean_power_w": 300.0,
            "pue": {"value": 1.2, "source": "user"},
            "intensity": {"g_per_kwh": 400.0, "zone": "FR", "source": "t", "year": 2023, "basis": "zone"},
            "operational_kgco2e": 0.144, "notes": [], "metrics": {},
            "samples": {"count": 3, "mean_power_w": 300.0, "peak_power_w": 310.0},
            "tracker": {"version": "0.1.0", "interval_s": 1.0, "pid": 7}
        })
    }

    #[test]
    fn current_record_decodes_untouched() {
        let r = decode_record(&full().to_string()).unwrap();
        assert_eq!(r.id, "r1");
        assert!(r.notes.is_empty());
    }

    #[test]
    fn older_record_missing_fields_loads_with_a_note() {
        let mut v = full();
        let o = v.as_object_mut().unwrap();
        o.remove("scope");
        o.remove("samples");
        o.remove("notes");
        o.get_mut("host")
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove("os");
        o.get_mut("tracker")
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove("pid");
        o.insert("mean_power_w".into(), Value::Null); // a NaN written by serde_json
        let r = decode_record(&v.to_string()).unwrap();
        assert_eq!(r.scope, Scope::Process);
        assert_eq!(r.host.os, "");
        assert_eq!(r.host.hostname, "h");
        assert_eq!(r.tracker.pid, 0);
        assert_eq!(r.pue.value.value(), 1.2);
        assert_eq!(r.notes.len(), 1);
        let n = &r.notes[0];
        for f in ["scope", "host.os", "tracker.pid", "mean_power_w"] {
            assert!(n.contains(f), "{f} missing from {n}");
        }
        // Fields with serde defaults are filled silently.
        assert!(!n.contains("samples") && !n.contains("notes"), "{n}");
        assert_eq!(r.samples, SamplesSummary::default());
    }

    #[test]
    fn newer_record_with_unknown_fields_loads_with_a_note() {
        let mut v = full();
        let o = v.as_object_mut().unwrap();
        o.insert("record_version".into(), json!(3));
        o.insert("water_l".into(), json!(1.5));
        let r = decode_record(&v.to_string()).unwrap();
        assert_eq!(r.record_version, 3);
        assert_eq!(r.notes.len(), 1);
        assert!(r.notes[0].contains("newer ecotrace (record version 3"));
    }

    #[test]
    fn unreadable_records_say_why() {
        assert!(decode_record("not json").is_err());
        assert!(decode_record("[1]").is_err());
        let mut v = full();
        v["phase"] = json!("astrology");
        let e = decode_record(&v.to_string()).unwrap_err();
        assert!(e.contains("astrology"), "{e}");
    }
}
