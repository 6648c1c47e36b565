//! Factors end to end: every command resolves them through one resolver and prints the same
//! provenance; the options are the same definitions everywhere; a misspelled option is a usage
//! error, not a command.

mod common;

use common::{stderr, Env};
use serde_json::Value;

fn assumption<'a>(est: &'a Value, name: &str) -> &'a Value {
    est["assumptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no assumption {name} in {est}"))
}

/// The provenance `doctor` prints for a factor (`  NAME  VALUE — PROVENANCE`).
fn doctor_line(text: &str, name: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(name))
        .unwrap_or_else(|| panic!("no {name} line in {text}"));
    line.split_once(" — ").unwrap().1.to_string()
}

#[test]
fn doctor_estimate_and_run_print_the_same_provenance_for_a_region() {
    let env = Env::new();
    for region in ["FR", "aws:eu-west-3", "gcp:us-central1"] {
        let doctor = env.ok(&["doctor", "--region", region]);
        let est = env.json(&[
            "estimate",
            "--hardware",
            "A100-80GB",
            "--hours",
            "1",
            "--region",
            region,
            "--json",
        ]);
        let run = env.json(&["run", "--json", "--quiet", "--region", region, "--", "true"]);
        for (doc, est_name, rec) in [
            (
                "intensity",
                "intensity_g_per_kwh",
                &run["intensity"]["source"],
            ),
            ("pue", "pue", &run["pue"]["source"]),
            ("wue", "wue_l_per_kwh", &run["water"]["wue_source"]),
            (
                "offsite water",
                "offsite_water_l_per_kwh",
                &run["water"]["offsite_source"],
            ),
        ] {
            let d = doctor_line(&doctor, doc);
            let e = assumption(&est, est_name)["source"].as_str().unwrap();
            assert_eq!(d, e, "{region} {doc}: doctor and estimate differ");
            assert_eq!(
                rec.as_str().unwrap(),
                e,
                "{region} {doc}: run and estimate differ"
            );
        }
    }
    // A table row names its table, row and year.
    let doctor = env.ok(&["doctor", "--region", "FR"]);
    let line = doctor_line(&doctor, "intensity");
    assert!(line.contains("[zones table, row FR, 20"), "{line}");
    assert!(line.contains("life-cycle"), "{line}");
}

#[test]
fn an_explicit_value_equal_to_the_default_is_reported_as_given() {
    let env = Env::new();
    let est = env.json(&[
        "estimate",
        "--hardware",
        "A100-80GB",
        "--flops",
        "1e21",
        "--mfu",
        "0.35",
        "--utilization",
        "1",
        "--lifetime-years",
        "5",
        "--pue",
        "1",
        "--wue",
        "0",
        "--json",
    ]);
    for (name, flag) in [
        ("mfu", "--mfu"),
        ("utilization", "--utilization"),
        ("lifetime_years", "--lifetime-years"),
        ("pue", "--pue"),
        ("wue_l_per_kwh", "--wue"),
    ] {
        assert_eq!(
            assumption(&est, name)["source"],
            format!("given by the user ({flag})"),
            "{name}"
        );
    }
    let defaults = env.json(&[
        "estimate",
        "--hardware",
        "A100-80GB",
        "--flops",
        "1e21",
        "--json",
    ]);
    for name in [
        "mfu",
        "utilization",
        "lifetime_years",
        "pue",
        "wue_l_per_kwh",
    ] {
        let s = assumption(&defaults, name)["source"].as_str().unwrap();
        assert!(s.starts_with("default "), "{name}: {s}");
    }
}

/// flag > environment > config file > region table > default, through the binary, for each
/// factor a run records.
#[test]
fn factor_layering_flag_env_config_table_default() {
    let env = Env::new();
    let pue = |rec: &Value| {
        (
            rec["pue"]["value"].as_f64().unwrap(),
            rec["pue"]["source"].as_str().unwrap().to_string(),
        )
    };
    let run = |extra_env: &[(&str, &str)], args: &[&str]| -> Value {
        let mut c = env.cmd();
        for (k, v) in extra_env {
            c.env(k, v);
        }
        let out = c
            .args(["run", "--json", "--quiet"])
            .args(args)
            .args(["--", "true"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // Default, then the region's table row.
    let r = run(&[], &[]);
    assert_eq!(pue(&r), (1.0, pue(&r).1));
    assert!(pue(&r).1.starts_with("default "), "{}", pue(&r).1);
    let r = run(&[], &["--region", "aws:eu-west-3"]);
    assert!(
        pue(&r)
            .1
            .contains("[cloud regions table, row aws:eu-west-3"),
        "{}",
        pue(&r).1
    );
    // The config file over the table.
    let file = env.dir.path().join("ecotrace.toml");
    std::fs::write(
        &file,
        "region = \"aws:eu-west-3\"\npue = 1.4\nwue = 0.5\nintensity = 90\nlifetime_years = 3\n",
    )
    .unwrap();
    let r = run(&[], &[]);
    assert_eq!(pue(&r).0, 1.4);
    assert_eq!(
        pue(&r).1,
        format!("given by the user (pue in {})", file.display())
    );
    assert_eq!(r["water"]["wue_l_per_kwh"], 0.5);
    assert_eq!(r["intensity"]["g_per_kwh"], 90.0);
    assert_eq!(r["intensity"]["zone"], "aws:eu-west-3");
    // The environment over the file, the flag over the environment.
    let r = run(&[("ECOTRACE_PUE", "1.3"), ("ECOTRACE_WUE", "0.25")], &[]);
    assert_eq!(
        pue(&r),
        (1.3, "given by the user (ECOTRACE_PUE)".to_string())
    );
    assert_eq!(r["water"]["wue_source"], "given by the user (ECOTRACE_WUE)");
    let r = run(
        &[("ECOTRACE_PUE", "1.3")],
        &["--pue", "1.2", "--intensity", "10"],
    );
    assert_eq!(pue(&r), (1.2, "given by the user (--pue)".to_string()));
    assert_eq!(r["intensity"]["source"], "given by the user (--intensity)");
    // `estimate` reads the same file and variables.
    let est = env.json(&[
        "estimate",
        "--hardware",
        "A100-80GB",
        "--hours",
        "1",
        "--json",
    ]);
    assert_eq!(est["region"], "aws:eu-west-3");
    assert_eq!(assumption(&est, "pue")["value"], 1.4);
    assert_eq!(assumption(&est, "lifetime_years")["value"], 3.0);
}

/// `price_per_hour` means USD per device-hour in `run` and in `estimate`, from a flag or from the
/// config file: a run on no accelerator is charged it once (the machine), an estimate once per
/// device.
#[test]
fn price_per_hour_is_per_device_hour_in_run_and_estimate() {
    let env = Env::new();
    let file = env.dir.path().join("ecotrace.toml");
    std::fs::write(&file, "price_per_hour = 3.6\n").unwrap();
    let out = env
        .cmd()
        .args(["run", "--json", "--quiet", "--", "sleep", "0.5"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["cost"]["basis"], "instance");
    assert_eq!(r["cost"]["usd_per_hour"], 3.6);
    assert_eq!(r["cost"]["devices"], 1.0);
    let dur = r["duration_s"].as_f64().unwrap();
    let cost = r["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - 3.6 * dur / 3600.0).abs() < 1e-12,
        "{cost} for {dur} s"
    );
    assert!(
        r["cost"]["source"]
            .as_str()
            .unwrap()
            .contains("price_per_hour in"),
        "{}",
        r["cost"]["source"]
    );
    // The same file's price in an estimate: per device-hour, for each of the 2 devices.
    let est = env.json(&[
        "estimate",
        "--hardware",
        "T4",
        "--devices",
        "2",
        "--hours",
        "10",
        "--json",
    ]);
    assert_eq!(est["cost"]["basis"], "instance");
    assert!(
        (est["cost_usd"].as_f64().unwrap() - 3.6 * 2.0 * 10.0).abs() < 1e-9,
        "{est}"
    );
    assert!(
        est["cost"]["source"]
            .as_str()
            .unwrap()
            .contains("USD per device-hour"),
        "{}",
        est["cost"]["source"]
    );
}

#[test]
fn a_misspelled_option_is_a_usage_error_and_nothing_is_recorded() {
    let env = Env::new();
    env.usage_error(
        &["run", "--regoin", "FR", "--", "python3", "train.py"],
        &["--regoin", "--region"],
    );
    env.usage_error(
        &[
            "estimate",
            "--hardware",
            "A100-80GB",
            "--hours",
            "1",
            "--mfuu",
            "0.3",
        ],
        &["--mfuu", "--mfu"],
    );
    env.usage_error(&["doctor", "--pue-", "1"], &["--pue-"]);
    assert!(env.json(&["runs", "--json"]).as_array().unwrap().is_empty());
    // Options after the command's name belong to the command.
    let rec = env.json(&[
        "run", "--json", "--quiet", "--", "sh", "-c", "exit 0", "--regoin",
    ]);
    assert_eq!(rec["status"], "finished");
    let rec = env.json(&["run", "--json", "--quiet", "sh", "-c", "exit 0"]);
    assert_eq!(rec["status"], "finished");
    // A typo in a config file names the closest key.
    std::fs::write(env.dir.path().join("ecotrace.toml"), "regoin = \"FR\"\n").unwrap();
    env.usage_error(
        &["run", "--", "true"],
        &["ecotrace.toml", "did you mean region?"],
    );
}

/// Human output scales units with three significant digits; JSON keeps base units and full
/// precision.
#[test]
fn numbers_people_can_read() {
    let env = Env::new();
    let args = [
        "estimate",
        "--hardware",
        "A100-80GB",
        "--hours",
        "0.000001",
        "--intensity",
        "100",
        "--pue",
        "1",
        "--power-w",
        "400",
    ];
    let text = env.ok(&args);
    // 400 W × 1e-6 h = 0.4 mWh; × 100 g/kWh = 0.04 mg.
    assert!(text.contains("0.400 mWh IT"), "{text}");
    assert!(text.contains("operational   0.0400 mgCO2e"), "{text}");
    let headline = text.split("Assumptions:").next().unwrap();
    assert!(!headline.contains("kgCO2e"), "{text}");
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let j = env.json(&json_args);
    assert_eq!(j["energy_kwh"].as_f64().unwrap(), 400.0 * 1e-6 / 1000.0);
    let op = j["operational_kgco2e"].as_f64().unwrap();
    assert!((op - 4e-8).abs() < 1e-20, "{op}");
}
