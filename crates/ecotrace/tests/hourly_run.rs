//! A run whose zone has hourly data covering its dates is charged hour by hour, and says so.

mod common;

use chrono::{Duration, Timelike, Utc};
use common::Env;
use serde_json::Value;

/// An Electricity Maps hourly CSV for `zone` from `from_h` to `to_h` hours around now.
fn em_csv(zone: &str, from_h: i64, to_h: i64, lca: f64, direct: f64) -> String {
    let now = Utc::now()
        .with_minute(0)
        .unwrap()
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap();
    let mut s = String::from("Datetime (UTC),Zone Id,Carbon Intensity gCO₂eq/kWh (direct),Carbon Intensity gCO₂eq/kWh (LCA)\n");
    for h in from_h..=to_h {
        let t = now + Duration::hours(h);
        s.push_str(&format!(
            "{},{zone},{direct},{lca}\n",
            t.format("%Y-%m-%d %H:%M:%S")
        ));
    }
    s
}

fn run_json(e: &Env, extra: &[&str]) -> Value {
    let mut args = vec![
        "run",
        "-q",
        "--json",
        "--interval",
        "50ms",
        "--cpu-power",
        "50",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sleep", "0.3"]);
    e.json(&args)
}

#[test]
fn a_run_covered_by_hourly_data_is_charged_hourly() {
    let e = Env::new();
    let f = e.path("fr.csv");
    std::fs::write(&f, em_csv("FR", -3, 3, 123.0, 100.0)).unwrap();
    e.ok(&["data", "import-hourly", f.to_str().unwrap()]);
    let r = run_json(&e, &["--region", "FR"]);
    let i = &r["intensity"];
    assert_eq!(i["resolution"], "hourly", "{r}");
    let g = i["g_per_kwh"].as_f64().unwrap();
    assert!((g - 123.0).abs() < 1e-9, "{i}");
    assert!(i["series"].as_str().unwrap().contains("fr.csv"), "{i}");
    let kwh = r["energy_kwh"]["total"].as_f64().unwrap();
    let op = r["operational_kgco2e"].as_f64().unwrap();
    assert!((op - kwh * r["pue"]["value"].as_f64().unwrap() * 0.123).abs() <= 1e-12 + 1e-9 * op);
    // The direct basis takes the direct series.
    let d = run_json(&e, &["--region", "FR", "--basis", "direct"]);
    let g = d["intensity"]["g_per_kwh"].as_f64().unwrap();
    assert!((g - 100.0).abs() < 1e-9, "{d}");
    assert_eq!(d["intensity"]["grid_basis"], "direct");
}

#[test]
fn a_run_outside_the_covered_dates_keeps_the_yearly_figure_and_says_so() {
    let e = Env::new();
    let f = e.path("fr-old.csv");
    std::fs::write(&f, em_csv("FR", -100, -50, 123.0, 100.0)).unwrap();
    e.ok(&["data", "import-hourly", f.to_str().unwrap()]);
    let r = run_json(&e, &["--region", "FR"]);
    assert_eq!(r["intensity"]["resolution"], "yearly-average", "{r}");
    assert_ne!(r["intensity"]["g_per_kwh"].as_f64(), Some(123.0));
    let notes = r["notes"].to_string();
    assert!(notes.contains("does not cover"), "{notes}");
    // A zone without any hourly data says nothing about it.
    let r = run_json(&e, &["--region", "NO-NO1"]);
    assert_eq!(r["intensity"]["resolution"], "yearly-average");
    assert!(!r["notes"].to_string().contains("hourly"), "{}", r["notes"]);
}

#[test]
fn show_draws_the_grid_around_an_hourly_run_and_the_best_start() {
    let e = Env::new();
    // 200 g/kWh around now, 50 five hours ago: a start 5 h earlier would have been cleaner.
    let now = Utc::now()
        .with_minute(0)
        .unwrap()
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap();
    let mut csv = String::from(
        "Datetime (UTC),Zone Id,Carbon Intensity gCO₂eq/kWh (direct),Carbon Intensity gCO₂eq/kWh (LCA)\n",
    );
    for h in -14..=14 {
        let g = if h == -5 { 50 } else { 200 };
        let t = now + Duration::hours(h);
        csv.push_str(&format!("{},FR,{g},{g}\n", t.format("%Y-%m-%d %H:%M:%S")));
    }
    let f = e.path("fr.csv");
    std::fs::write(&f, csv).unwrap();
    let imported = e.ok(&["data", "import-hourly", f.to_str().unwrap()]);
    let r = run_json(&e, &["--region", "FR"]);
    assert_eq!(r["intensity"]["resolution"], "hourly", "{r}");
    let id = r["id"].as_str().unwrap();
    let text = e.ok(&["show", id]);
    assert!(
        text.contains("grid intensity by hour, zone FR (life-cycle)"),
        "{text}"
    );
    assert!(text.contains("(^: the run's hours)"), "{text}");
    assert!(
        text.contains("best start within ±12 h of the actual one"),
        "{text}"
    );
    // The run may straddle an hour: the best start is then 5 or 6 h earlier, never later.
    assert!(
        text.contains("(5 h earlier), ") || text.contains("(6 h earlier), "),
        "{text}"
    );
    assert!(text.contains("fr.csv"), "{text}");
    let html = e.ok(&["show", id, "--format", "html"]);
    assert!(
        html.contains("<h2>Grid intensity over the run</h2>"),
        "{html}"
    );
    // show --json: the series around the run and the best start, beside the record.
    let j = e.json(&["show", id, "--json"]);
    assert_eq!(j["id"], id, "the record is still there");
    let g = &j["grid_by_hour"];
    assert_eq!(
        (g["zone"].as_str(), g["basis"].as_str()),
        (Some("FR"), Some("lifecycle")),
        "{g}"
    );
    let values = g["g_per_kwh"].as_array().unwrap();
    assert_eq!(
        values.len() as u64,
        g["run_hours"].as_u64().unwrap() + 24,
        "{g}"
    );
    assert!(values.iter().any(|v| v.as_f64() == Some(50.0)), "{g}");
    let b = &g["best_start"];
    let shift = b["shift_hours"].as_i64().unwrap();
    assert!(shift == -5 || shift == -6, "{b}");
    let (actual, best) = (
        b["actual_mean_g_per_kwh"].as_f64().unwrap(),
        b["best_mean_g_per_kwh"].as_f64().unwrap(),
    );
    assert!(best < actual, "{b}");
    let pct = b["saving_pct"].as_f64().unwrap();
    assert!((pct - (1.0 - best / actual) * 100.0).abs() < 1e-9, "{b}");
    let op = r["operational_kgco2e"].as_f64().unwrap();
    assert!(
        (b["saving_kgco2e"].as_f64().unwrap() - op * pct / 100.0).abs() <= 1e-12 + op * 1e-9,
        "{b}"
    );
    // The report page over several runs draws each hourly-charged run over its grid.
    let r2 = run_json(&e, &["--region", "FR"]);
    let html = e.ok(&["report", "--format", "html"]);
    for rid in [id, r2["id"].as_str().unwrap()] {
        let short: String = rid.chars().take(8).collect();
        assert!(
            html.contains(&format!("Grid intensity over run {short} (")),
            "{short}"
        );
    }
    assert_eq!(
        html.matches("best start within ±12 h").count(),
        2,
        "one sentence per run"
    );
    // A run charged a yearly average shows none of it.
    let y = run_json(&e, &["--region", "DE"]);
    let text = e.ok(&["show", y["id"].as_str().unwrap()]);
    assert!(!text.contains("grid intensity by hour"), "{text}");
    // A damaged imported series costs the view, with a warning, not the run's page.
    let lca = imported
        .lines()
        .find(|l| l.contains("(life-cycle)"))
        .and_then(|l| l.split("stored in ").nth(1))
        .unwrap_or_else(|| panic!("{imported}"));
    std::fs::write(lca.trim(), "datetime_utc,g_per_kwh\nnot a time,1\n").unwrap();
    let o = e.run(&["show", id]);
    let err = common::stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("the grid around the run is not shown"),
        "{err}"
    );
    assert!(!String::from_utf8_lossy(&o.stdout).contains("grid intensity by hour"));
}

#[test]
fn a_damaged_imported_series_costs_the_hourly_charge_not_the_job() {
    let e = Env::new();
    let stored = damaged_import(&e);
    let o = e.run(&["run", "--region", "FR", "--", "sh", "-c", "exit 3"]);
    let err = common::stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("warning"), "{err}");
    assert!(err.contains(&stored), "the damaged file is named: {err}");
    assert!(err.contains("import"), "says to import it again: {err}");
    let runs = e.json(&["runs", "--json"]);
    let r = &runs[0];
    assert_eq!(r["exit_code"], 3, "{r}");
    assert_eq!(r["intensity"]["resolution"], "yearly-average", "{r}");
    assert_ne!(r["intensity"]["g_per_kwh"].as_f64(), Some(123.0));
    let notes = r["notes"].to_string();
    assert!(
        notes.contains(&stored) && notes.contains("yearly"),
        "{notes}"
    );
}

/// `run --when-green` with a damaged imported series plans on the bundled data and still runs the
/// command (a deadline one hour out leaves only the current hour, so it starts at once).
#[test]
fn a_damaged_imported_series_does_not_stop_when_green() {
    let e = Env::new();
    let stored = damaged_import(&e);
    let o = e.run(&[
        "run",
        "--when-green",
        "--region",
        "FR",
        "--duration",
        "1h",
        "--deadline",
        "1h",
        "--",
        "sh",
        "-c",
        "exit 3",
    ]);
    let err = common::stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("the bundled data stands in"), "{err}");
    assert!(err.contains(&stored), "the damaged file is named: {err}");
    let runs = e.json(&["runs", "--json"]);
    assert_eq!(runs[0]["exit_code"], 3, "{runs}");
}

/// `plan`, `estimate` and `compare` with a damaged imported series: the plan warns naming the
/// file (stderr and its notes) and plans on the bundled data, as it would without the import;
/// estimates do not read hourly series and answer as usual.
#[test]
fn a_damaged_imported_series_does_not_stop_plan_estimate_or_compare() {
    let e = Env::new();
    let plan = [
        "plan",
        "--duration",
        "3h",
        "--region",
        "FR,DE",
        "--start-after",
        "2022-06-01T00:00Z",
        "--deadline",
        "24h",
        "--json",
    ];
    let clean = e.json(&plan);
    let estimates: Vec<(serde_json::Value, Vec<&str>)> = [
        vec![
            "estimate",
            "--hardware",
            "A100-80GB",
            "--hours",
            "2",
            "--region",
            "FR",
            "--json",
        ],
        vec![
            "compare",
            "--hardware",
            "A100-80GB",
            "--hours",
            "2",
            "--region",
            "FR,DE",
            "--json",
        ],
    ]
    .into_iter()
    .map(|a| (e.json(&a), a))
    .collect();
    let stored = damaged_import(&e);
    let o = e.run(&plan);
    let err = common::stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains(&stored), "the damaged file is named: {err}");
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for k in ["region", "start", "mean_g_per_kwh"] {
        assert_eq!(p[k], clean[k], "{k}: {p}");
    }
    assert!(p["notes"].to_string().contains(&stored), "{p}");
    for (clean, args) in estimates {
        assert_eq!(e.json(&args), clean, "{args:?}");
    }
}

/// Imports an hourly series for FR, then damages the stored life-cycle file; returns its path.
fn damaged_import(e: &Env) -> String {
    let f = e.path("fr.csv");
    std::fs::write(&f, em_csv("FR", -3, 3, 123.0, 100.0)).unwrap();
    let imported = e.ok(&["data", "import-hourly", f.to_str().unwrap()]);
    let stored = imported
        .lines()
        .find(|l| l.contains("(life-cycle)"))
        .and_then(|l| l.split("stored in ").nth(1))
        .unwrap_or_else(|| panic!("{imported}"))
        .trim()
        .to_string();
    std::fs::write(&stored, "datetime_utc,g_per_kwh\nnot a time,1\n").unwrap();
    stored
}
