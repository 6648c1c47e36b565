//! End-to-end tests of `ecotrace plan` and `ecotrace data import-hourly`: the real binary, a temp
//! HOME and data directory.

mod common;

use common::Env;
use serde_json::Value;

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/hourly/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn plan_json_has_every_field() {
    let e = Env::new();
    let v: Value = e.json(&[
        "plan",
        "--duration",
        "6h",
        "--region",
        "FR,DE,SE-SE3,aws:eu-north-1",
        "--start-after",
        "2022-06-01T00:00Z",
        "--deadline",
        "24h",
        "--hardware",
        "A100-80GB",
        "--devices",
        "8",
        "--json",
    ]);
    for k in [
        "region",
        "start",
        "end",
        "mean_g_per_kwh",
        "basis",
        "saving_pct",
        "alternatives",
        "data",
    ] {
        assert!(!v[k].is_null(), "{k} missing: {v}");
    }
    for k in ["region", "start", "mean_g_per_kwh"] {
        assert!(!v["baseline"][k].is_null(), "baseline.{k}: {v}");
    }
    assert_eq!(v["basis"], "lifecycle");
    assert_eq!(v["baseline"]["region"], "FR");
    assert_eq!(v["baseline"]["start"], "2022-06-01T00:00:00Z");
    assert!(v["start"].as_str().unwrap().ends_with(":00:00Z"));
    let best = v["mean_g_per_kwh"].as_f64().unwrap();
    let base = v["baseline"]["mean_g_per_kwh"].as_f64().unwrap();
    assert!(best <= base);
    let pct = v["saving_pct"].as_f64().unwrap();
    assert!((pct - (1.0 - best / base) * 100.0).abs() < 1e-9);
    assert!(v["saving_kgco2e"].as_f64().unwrap() > 0.0);
    assert!(v["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["year"] == 2022 && !d["source"].as_str().unwrap().is_empty()));
    // The direct basis switches every figure.
    let d: Value = e.json(&[
        "plan",
        "--duration",
        "6h",
        "--region",
        "FR,DE",
        "--start-after",
        "2022-06-01T00:00Z",
        "--deadline",
        "24h",
        "--basis",
        "direct",
        "--json",
    ]);
    assert_eq!(d["basis"], "direct");
    assert!(d["baseline"]["mean_g_per_kwh"].as_f64().unwrap() < base);
}

#[test]
fn plan_text_slurm_and_profile() {
    let e = Env::new();
    let t = e.ok(&[
        "plan",
        "--duration",
        "3h",
        "--region",
        "US-VA,US-CA,NO-NO1",
        "--start-after",
        "2040-03-01T00:00:00+01:00",
        "--deadline",
        "2d",
    ]);
    assert!(t.contains("typical profile") && t.contains("2023"), "{t}");
    assert!(t.contains("Baseline: US-VA"), "{t}");
    assert!(t.contains("not time-shifted"), "{t}");
    let s = e.ok(&[
        "plan",
        "--duration",
        "3h",
        "--region",
        "FR",
        "--start-after",
        "2022-01-01T00:00Z",
        "--format",
        "slurm",
    ]);
    assert!(
        s.starts_with("sbatch --begin=2022-01-0") && s.contains("--time=3:00:00"),
        "{s}"
    );
}

#[test]
fn plan_errors_exit_2() {
    let e = Env::new();
    let base = [
        "plan",
        "--region",
        "FR",
        "--start-after",
        "2022-01-01T00:00Z",
    ];
    let with = |extra: &[&'static str]| {
        base.iter()
            .copied()
            .chain(extra.iter().copied())
            .collect::<Vec<_>>()
    };
    e.usage_error(
        &with(&["--duration", "6h", "--deadline", "2022-01-01T02:00Z"]),
        &["earliest end"],
    );
    e.usage_error(&with(&["--duration", "0h"]), &["positive"]);
    e.usage_error(
        &[
            "plan",
            "--region",
            "FR",
            "--duration",
            "6h",
            "--profile-year",
            "1990",
            "--start-after",
            "2040-01-01T00:00Z",
        ],
        &["1990"],
    );
    e.usage_error(
        &["plan", "--duration", "6h", "--region", "Narnia"],
        &["Narnia"],
    );
    e.usage_error(&with(&["--duration", "6h", "--format", "xml"]), &["slurm"]);
}

#[test]
fn imported_hourly_series_are_reported_and_used() {
    let e = Env::new();
    let out = e.ok(&["data", "import-hourly", &fixture("FR_2022_hourly_head.csv")]);
    assert!(out.contains("FR: 29 hours (life-cycle)"), "{out}");
    assert!(
        out.contains("duplicate hour: FR 2022-01-01T20:00Z"),
        "{out}"
    );
    assert!(
        out.contains("missing: FR 1 hour(s) from 2022-01-01T10:00Z"),
        "{out}"
    );
    let uk = e.ok(&[
        "data",
        "import-hourly",
        &fixture("uk_intensity_pt24h_national.json"),
    ]);
    assert!(uk.contains("GB: 24 hours (direct)"), "{uk}");
    // The imported GB series (direct, 2023-03-14/15) is used for those dates.
    let v: Value = e.json(&[
        "plan",
        "--duration",
        "2h",
        "--region",
        "GB",
        "--basis",
        "direct",
        "--start-after",
        "2023-03-14T12:00Z",
        "--deadline",
        "2023-03-15T12:00Z",
        "--json",
    ]);
    assert_eq!(v["profile_year"], Value::Null, "{v}");
    assert!(
        v["data"][0]["source"]
            .as_str()
            .unwrap()
            .contains("UK Carbon Intensity"),
        "{v}"
    );
    // A bad row is named by file and line, and nothing is stored.
    let bad = e.path("bad.csv");
    let text = std::fs::read_to_string(fixture("FR_2022_hourly_head.csv")).unwrap();
    std::fs::write(&bad, text.replacen(",43.84,", ",lots,", 1)).unwrap();
    e.usage_error(
        &["data", "import-hourly", bad.to_str().unwrap()],
        &["bad.csv:2:", "lots"],
    );
}
