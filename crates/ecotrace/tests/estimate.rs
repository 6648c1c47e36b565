//! End-to-end tests of `ecotrace estimate`, `estimate inference`, `compare`, `data hardware` and
//! `report --lifecycle`: the real binary, a temp HOME and ledger, no sensors (an empty fake sysfs,
//! no NVML).

mod common;

use common::Env;
use serde_json::Value;

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64()
        .unwrap_or_else(|| panic!("{k} is not a number in {v}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn estimate_from_hardware_and_time_as_json() {
    let e = Env::new();
    let v = e.json(&[
        "estimate",
        "--hardware",
        "A100-80GB",
        "--devices",
        "8",
        "--hours",
        "24",
        "--region",
        "FR",
        "--pue",
        "1.2",
        "--json",
    ]);
    for k in [
        "energy_kwh",
        "operational_kgco2e",
        "embodied_kgco2e",
        "water_l",
        "device_hours",
        "cost_usd",
        "assumptions",
    ] {
        assert!(v.get(k).is_some(), "{k} missing from {v}");
    }
    assert_eq!(v["hardware"], "A100-SXM4-80GB");
    assert!(close(f(&v, "device_hours"), 192.0));
    // 8 × 400 W × 24 h = 76.8 kWh IT; × PUE 1.2 at the meter.
    assert!(close(f(&v, "energy_kwh"), 76.8));
    assert!(close(f(&v, "facility_energy_kwh"), 76.8 * 1.2));
    let intensity = v["assumptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "intensity_g_per_kwh")
        .unwrap()["value"]
        .as_f64()
        .unwrap();
    assert!(close(
        f(&v, "operational_kgco2e"),
        76.8 * 1.2 * intensity / 1000.0
    ));
    // Embodied is reported apart, and is the devices' plus the host's share.
    let emb = &v["embodied"];
    assert!(close(
        f(&v, "embodied_kgco2e"),
        f(emb, "devices_kgco2e") + f(emb, "host_kgco2e")
    ));
    assert!(f(&v, "embodied_kgco2e") > 0.0);
    // The devices' uncertainty range, as numbers: the catalog row's range, scaled as the figure.
    let a100 = ecotrace_data::accelerator("A100-80GB").unwrap();
    let scale = f(emb, "devices_kgco2e") / a100.embodied.kg();
    assert!(close(
        f(emb, "devices_low_kgco2e"),
        a100.embodied_range.0.kg() * scale
    ));
    assert!(close(
        f(emb, "devices_high_kgco2e"),
        a100.embodied_range.1.kg() * scale
    ));
    assert!(f(emb, "devices_low_kgco2e") < f(emb, "devices_high_kgco2e"));
    // Water: both parts; no WUE for a country (no facility named), so all off site.
    assert_eq!(v["water"]["onsite_l"].as_f64(), Some(0.0));
    assert!(close(f(&v, "water_l"), f(&v["water"], "offsite_l")));
    // No rental price for a country: electricity only, the Eurostat EUR price converted to USD.
    assert_eq!(v["cost"]["basis"], "electricity");
    assert!(v["cost"]["source"]
        .as_str()
        .unwrap()
        .contains("USD per EUR"));
    // Every assumption names its source.
    for a in v["assumptions"].as_array().unwrap() {
        assert!(!a["source"].as_str().unwrap().is_empty(), "{a}");
        assert!(a["value"].is_number(), "{a}");
    }
}

#[test]
fn text_output_shows_operational_and_embodied_apart_with_assumptions() {
    let e = Env::new();
    let out = e.ok(&[
        "estimate",
        "--hardware",
        "H100-SXM",
        "--devices",
        "4",
        "--hours",
        "10",
    ]);
    assert!(out.contains("operational"), "{out}");
    assert!(out.contains("embodied"), "{out}");
    assert!(out.contains("not included in operational"), "{out}");
    assert!(out.contains("on-site") && out.contains("off-site"), "{out}");
    assert!(out.contains("Assumptions:"), "{out}");
    assert!(out.contains("no region given"), "{out}");
}

#[test]
fn footprints_scale_linearly_in_time_and_devices() {
    let e = Env::new();
    let base = e.json(&[
        "estimate",
        "--hardware",
        "L4",
        "--hours",
        "3",
        "--region",
        "DE",
        "--json",
    ]);
    let longer = e.json(&[
        "estimate",
        "--hardware",
        "L4",
        "--hours",
        "6",
        "--region",
        "DE",
        "--json",
    ]);
    let wider = e.json(&[
        "estimate",
        "--hardware",
        "L4",
        "--hours",
        "3",
        "--devices",
        "2",
        "--region",
        "DE",
        "--json",
    ]);
    for k in [
        "energy_kwh",
        "operational_kgco2e",
        "embodied_kgco2e",
        "water_l",
        "device_hours",
    ] {
        assert!(close(f(&longer, k), 2.0 * f(&base, k)), "{k}");
        assert!(close(f(&wider, k), 2.0 * f(&base, k)), "{k}");
    }
}

#[test]
fn estimate_from_work_uses_peak_flops_and_mfu() {
    let e = Env::new();
    // 6 × 1e9 × 1e10 = 6e19 FLOPs on an H100 (989.4 TFLOP/s dense) at MFU 0.5.
    let v = e.json(&[
        "estimate",
        "--hardware",
        "H100-SXM",
        "--params",
        "1e9",
        "--tokens",
        "1e10",
        "--mfu",
        "0.5",
        "--json",
    ]);
    let want = 6e19 / (989.4e12 * 0.5) / 3600.0;
    assert!(close(f(&v, "device_hours"), want), "{v}");
    // The default MFU is written out as an assumption with its source.
    let d = e.json(&[
        "estimate",
        "--hardware",
        "H100-SXM",
        "--flops",
        "6e19",
        "--json",
    ]);
    let mfu = d["assumptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "mfu")
        .unwrap()
        .clone();
    assert_eq!(mfu["value"].as_f64(), Some(0.35));
    assert!(mfu["source"].as_str().unwrap().contains("default"));
    // No FP16 peak bundled for the A10: a clear note, or the user's peak.
    let a10 = e.json(&[
        "estimate",
        "--hardware",
        "A10",
        "--flops",
        "1e18",
        "--peak-tflops",
        "125",
        "--json",
    ]);
    assert!(close(
        f(&a10, "device_hours"),
        1e18 / (125e12 * 0.35) / 3600.0
    ));
}

#[test]
fn bad_input_is_a_usage_error_with_a_way_out() {
    let e = Env::new();
    e.usage_error(
        &["estimate", "--hardware", "A100-90GB", "--hours", "1"],
        &[
            "unknown hardware",
            "A100-SXM4-80GB",
            "ecotrace data hardware",
        ],
    );
    e.usage_error(
        &["estimate", "--hardware", "H100", "--hours", "0"],
        &["--hours", "positive"],
    );
    e.usage_error(
        &["estimate", "--hardware", "H100", "--hours", "-2"],
        &["--hours", "positive"],
    );
    e.usage_error(
        &[
            "estimate",
            "--hardware",
            "H100",
            "--hours",
            "1",
            "--utilization",
            "1.5",
        ],
        &["--utilization", "between 0 and 1"],
    );
    e.usage_error(
        &[
            "estimate",
            "--hardware",
            "H100",
            "--hours",
            "1",
            "--utilization",
            "-0.1",
        ],
        &["--utilization"],
    );
    e.usage_error(&["estimate", "--hardware", "H100"], &["--hours", "--flops"]);
    e.usage_error(&["estimate", "--hours", "1"], &["--hardware"]);
    e.usage_error(
        &[
            "estimate",
            "--hardware",
            "H100",
            "--hours",
            "1",
            "--region",
            "Atlantis",
        ],
        &["unknown region"],
    );
    e.usage_error(
        &[
            "estimate",
            "--hardware",
            "H100",
            "--hours",
            "1",
            "--lifetime-years",
            "0",
        ],
        &["--lifetime-years"],
    );
    e.usage_error(
        &["estimate", "--hardware", "H100", "--params", "1e9"],
        &["--tokens"],
    );
    e.usage_error(
        &["compare", "--hardware", "A100-80GB,Nope", "--hours", "1"],
        &["unknown hardware \"Nope\""],
    );
}

#[test]
fn cloud_region_prices_give_an_instance_cost_with_its_source() {
    let e = Env::new();
    let v = e.json(&[
        "estimate",
        "--hardware",
        "A100-SXM4-40GB",
        "--devices",
        "8",
        "--hours",
        "2",
        "--region",
        "aws:us-east-1",
        "--json",
    ]);
    assert_eq!(v["cost"]["basis"], "instance");
    let src = v["cost"]["source"].as_str().unwrap();
    assert!(
        src.contains("p4d.24xlarge") && src.contains("2026-01-21"),
        "{src}"
    );
    let per = f(&v["cost"], "usd_per_hour");
    assert!(close(f(&v, "cost_usd"), per * 16.0));
    // The cloud region brings its PUE and WUE: water on site too.
    assert!(f(&v["water"], "onsite_l") > 0.0);
    // The user's prices win, and say so.
    let u = e.json(&[
        "estimate",
        "--hardware",
        "T4",
        "--hours",
        "10",
        "--electricity-price",
        "0.2",
        "--pue",
        "1.5",
        "--json",
    ]);
    assert_eq!(u["cost"]["basis"], "electricity");
    assert!(close(f(&u, "cost_usd"), 0.07 * 10.0 * 1.5 * 0.2));
    let p = e.json(&[
        "estimate",
        "--hardware",
        "T4",
        "--hours",
        "10",
        "--price-per-hour",
        "0.5",
        "--json",
    ]);
    assert!(close(f(&p, "cost_usd"), 5.0));
}

#[test]
fn inference_over_a_deployment() {
    let e = Env::new();
    let v = e.json(&[
        "estimate",
        "inference",
        "--energy-per-request-wh",
        "0.3",
        "--requests-per-day",
        "1000000",
        "--days",
        "365",
        "--region",
        "FR",
        "--json",
    ]);
    assert!(close(f(&v, "energy_kwh"), 0.3 * 1e6 * 365.0 / 1000.0));
    assert!(
        v["embodied_kgco2e"].is_null(),
        "no hardware: no embodied figure"
    );
    assert!(v["device_hours"].is_null());
    // From FLOPs per request on named hardware: embodied is estimated too.
    let h = e.json(&[
        "estimate",
        "inference",
        "--params",
        "7e9",
        "--tokens-per-request",
        "1000",
        "--hardware",
        "L4",
        "--requests-per-day",
        "1000",
        "--days",
        "30",
        "--json",
    ]);
    let flops = 2.0 * 7e9 * 1000.0 * 1000.0 * 30.0;
    assert!(close(
        f(&h, "device_hours"),
        flops / (121e12 * 0.35) / 3600.0
    ));
    assert!(f(&h, "embodied_kgco2e") > 0.0);
    e.usage_error(
        &[
            "estimate",
            "inference",
            "--requests-per-day",
            "10",
            "--days",
            "1",
        ],
        &["--energy-per-request-wh"],
    );
    e.usage_error(
        &[
            "estimate",
            "inference",
            "--energy-per-request-wh",
            "1",
            "--requests-per-day",
            "0",
            "--days",
            "1",
        ],
        &["--requests-per-day"],
    );
}

/// US-VA and aws:us-east-1 draw on one grid (PJM): same PUE, same operational carbon, on either
/// basis; the table says which basis it shows, and direct is below life-cycle.
#[test]
fn compare_same_grid_regions_on_one_basis() {
    let e = Env::new();
    let mut op = Vec::new();
    for basis in ["lifecycle", "direct"] {
        let rows = e.json(&[
            "compare",
            "--hardware",
            "A100-80GB",
            "--region",
            "US-VA,aws:us-east-1",
            "--pue",
            "1.15",
            "--hours",
            "10",
            "--basis",
            basis,
            "--json",
        ]);
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert!(
            close(
                f(&rows[0], "operational_kgco2e"),
                f(&rows[1], "operational_kgco2e")
            ),
            "{rows:?}"
        );
        for r in rows {
            assert_eq!(r["intensity_basis"], basis, "{r}");
        }
        op.push(f(&rows[0], "operational_kgco2e"));
    }
    assert!(op[1] < op[0], "direct {} >= life-cycle {}", op[1], op[0]);
    let text = e.ok(&[
        "compare",
        "--hardware",
        "A100-80GB",
        "--region",
        "US-VA,aws:us-east-1",
        "--pue",
        "1.15",
        "--hours",
        "10",
    ]);
    assert!(text.contains("Grid intensity basis: life-cycle."), "{text}");
    // ECOTRACE_BASIS switches it too; a row without a direct figure is named.
    let out = e
        .cmd()
        .args([
            "compare",
            "--hardware",
            "A100-80GB",
            "--region",
            "FR,RU",
            "--hours",
            "10",
        ])
        .env("ECOTRACE_BASIS", "direct")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Grid intensity basis: direct, EXCEPT RU: life-cycle"),
        "{text}"
    );
    e.usage_error(
        &[
            "compare",
            "--hardware",
            "A100-80GB",
            "--hours",
            "1",
            "--basis",
            "lca2",
        ],
        &["--basis", "direct", "lifecycle"],
    );
}

#[test]
fn compare_sorts_choices_by_carbon() {
    let e = Env::new();
    let rows = e.json(&[
        "compare",
        "--hardware",
        "A100-80GB,H100-SXM",
        "--region",
        "FR,US-VA,aws:us-east-1",
        "--hours",
        "100",
        "--json",
    ]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 6);
    let key = |r: &Value| f(r, "operational_kgco2e") + f(r, "embodied_kgco2e");
    for w in rows.windows(2) {
        assert!(key(&w[0]) <= key(&w[1]));
    }
    assert_eq!(rows[0]["region"], "FR");
    let text = e.ok(&[
        "compare",
        "--hardware",
        "A100-80GB,H100-SXM",
        "--region",
        "FR,US-VA",
        "--hours",
        "100",
    ]);
    assert!(
        text.contains("operational") && text.contains("embodied") && text.contains("CO2e"),
        "{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("A100") || l.starts_with("H100"))
            .count(),
        4
    );
}

#[test]
fn data_hardware_lists_the_catalog_with_sources() {
    let e = Env::new();
    let text = e.ok(&["data", "hardware"]);
    for id in [
        "V100-SXM2-16GB",
        "A100-SXM4-80GB",
        "H100-SXM",
        "MI300X",
        "TPU-v5p",
        "gpu-server",
        "cpu-server",
    ] {
        assert!(text.contains(id), "{id} missing");
    }
    assert!(text.contains("Sources:"));
    let v = e.json(&["data", "hardware", "--json"]);
    let accs = v["accelerators"].as_array().unwrap();
    assert!(accs.len() >= 25);
    for a in accs {
        assert!(!a["spec_source"].as_str().unwrap().is_empty());
        assert!(!a["embodied_source"].as_str().unwrap().is_empty());
        assert!(a["embodied_estimated"].is_boolean());
    }
    assert!(v["cpu_count"].as_u64().unwrap() > 4000);
}

#[test]
fn price_rows_say_their_date_or_undated() {
    let e = Env::new();
    let source = |region: &str, hw: &str| {
        let v = e.json(&[
            "estimate",
            "--hardware",
            hw,
            "--hours",
            "1",
            "--region",
            region,
            "--json",
        ]);
        let a = v["assumptions"].as_array().unwrap();
        let p = a
            .iter()
            .find(|a| a["name"] == "price_usd_per_device_hour")
            .unwrap_or_else(|| panic!("no price in {v}"));
        p["source"].as_str().unwrap().to_string()
    };
    // The SkyPilot snapshot records no date: the output says so.
    let azure = source("azure:eastus", "T4");
    assert!(azure.contains(", undated,"), "{azure}");
    // The AWS rows carry their snapshot date.
    let aws = source("aws:us-east-1", "A100-SXM4-40GB");
    assert!(
        aws.contains(", 2026-01-21,") && !aws.contains("undated"),
        "{aws}"
    );
}

#[test]
fn data_licenses_lists_every_bundled_table() {
    let e = Env::new();
    let text = e.ok(&["data", "licenses"]);
    let v = e.json(&["data", "licenses", "--json"]);
    assert_eq!(v["code_license"], "Apache-2.0");
    let tables = v["tables"].as_array().unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ecotrace-data/data");
    let mut files = 0;
    let names = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .chain(
            std::fs::read_dir(dir.join("hourly"))
                .unwrap()
                .map(|e| format!("hourly/{}", e.unwrap().file_name().to_string_lossy())),
        );
    for name in names {
        if !name.ends_with(".csv") {
            continue;
        }
        files += 1;
        assert!(text.contains(&name), "{name} not in `data licenses`");
        let row = tables
            .iter()
            .find(|t| t["file"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} not in `data licenses --json`"));
        assert!(!row["license"].as_str().unwrap().is_empty(), "{name}");
        assert!(!row["attribution"].as_str().unwrap().is_empty(), "{name}");
    }
    assert_eq!(files, tables.len());
    assert!(
        text.contains("ODbL-1.0") && text.contains("CC-BY-SA-4.0") && text.contains("BSD-3-Clause")
    );
}

#[test]
fn lifecycle_report_counts_waste_and_estimated_phases() {
    let e = Env::new();
    for _ in 0..2 {
        e.ok(&[
            "run",
            "-q",
            "--project",
            "p",
            "--phase",
            "training",
            "--",
            "true",
        ]);
    }
    let o = e.run(&[
        "run",
        "-q",
        "--project",
        "p",
        "--phase",
        "experiment",
        "--",
        "false",
    ]);
    assert_eq!(o.status.code(), Some(1));
    e.ok(&["run", "-q", "--project", "other", "--", "true"]);
    e.ok(&[
        "estimate",
        "inference",
        "--energy-per-request-wh",
        "0.5",
        "--requests-per-day",
        "1000",
        "--days",
        "365",
        "--region",
        "FR",
        "--add-to-project",
        "p",
    ]);
    let v = e.json(&[
        "report",
        "--project",
        "p",
        "--lifecycle",
        "--format",
        "json",
    ]);
    assert_eq!(v["project"], "p");
    assert_eq!(v["total"]["runs"], 4);
    assert_eq!(v["measured"]["failed_runs"], 1);
    assert_eq!(v["measured"]["repeated_runs"], 1);
    assert_eq!(v["estimated"]["runs"], 1);
    assert_eq!(v["phases"]["inference"]["estimated_runs"], 1);
    assert!(close(
        f(&v["phases"]["inference"], "energy_kwh"),
        0.5 * 1000.0 * 365.0 / 1000.0
    ));
    assert_eq!(v["phases"]["training"]["runs"], 2);
    let text = e.ok(&["report", "--project", "p", "--lifecycle"]);
    assert!(text.contains("inference (estimated)"), "{text}");
    assert!(
        text.contains("operational") && text.contains("embodied"),
        "{text}"
    );
    assert!(text.contains("Waste:"), "{text}");
    let csv = e.ok(&["report", "--project", "p", "--lifecycle", "--format", "csv"]);
    assert!(csv.lines().next().unwrap().starts_with("phase,runs,"));
    // The stored estimate is a run record of kind `estimated`.
    let runs = e.json(&["runs", "--project", "p", "--json"]);
    let est: Vec<&Value> = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "estimated")
        .collect();
    assert_eq!(est.len(), 1);
    assert_eq!(est[0]["components"][0]["method"], "estimate");
    // --lifecycle needs a project.
    let o = e.run(&["report", "--lifecycle"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn an_instance_is_priced_from_the_bundled_table() {
    let e = Env::new();
    let v = e.json(&[
        "estimate",
        "--hardware",
        "Intel Xeon Platinum 8175M",
        "--instance",
        "m5.xlarge",
        "--region",
        "aws:us-east-1",
        "--hours",
        "10",
        "--json",
    ]);
    // m5.xlarge in us-east-1: 0.192 USD/h (skypilot-catalog catalogs/v6/aws/vms.csv).
    assert_eq!(v["cost"]["basis"], "instance");
    assert!(close(f(&v, "cost_usd"), 1.92));
    let src = v["cost"]["source"].as_str().unwrap();
    assert!(
        src.contains("m5.xlarge") && src.contains("skypilot-catalog"),
        "{src}"
    );
    // Unknown instance, or a region that is not a cloud region: usage errors.
    e.usage_error(
        &[
            "estimate",
            "--hardware",
            "Intel Xeon Platinum 8175M",
            "--instance",
            "m5.xlarg",
            "--region",
            "aws:us-east-1",
            "--hours",
            "10",
        ],
        &["m5.xlarge"],
    );
    e.usage_error(
        &[
            "estimate",
            "--hardware",
            "Intel Xeon Platinum 8175M",
            "--instance",
            "m5.xlarge",
            "--region",
            "FR",
            "--hours",
            "10",
        ],
        &["cloud region"],
    );
}

/// Host and CPU embodied figures carry a sourced uncertainty range, like accelerators': in
/// `data hardware` (text and JSON), in estimates (JSON numbers, scaled as the figure, and the
/// assumption's source text), and none where the user gave the figure (issue 10).
#[test]
fn host_and_cpu_embodied_figures_carry_their_range() {
    let e = Env::new();
    let v = e.json(&["data", "hardware", "--json"]);
    let refs = v["hosts_and_cpus"].as_array().unwrap();
    assert_eq!(refs.len(), ecotrace_data::embodied_refs().len());
    for r in refs {
        let (lo, kg, hi) = (
            f(r, "embodied_low_kgco2e"),
            f(r, "embodied_kgco2e"),
            f(r, "embodied_high_kgco2e"),
        );
        assert!(lo <= kg && kg <= hi && lo < hi, "{r}");
        assert_eq!(r["embodied_range_kgco2e"][0].as_f64(), Some(lo));
        let why = r["range_source"].as_str().unwrap();
        assert!(why.contains("low:") && why.contains("high:"), "{why}");
    }
    let text = e.ok(&["data", "hardware"]);
    for id in ["gpu-server", "cpu-server", "cpu"] {
        let row = ecotrace_data::embodied_ref(id).unwrap();
        let source = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{id}: ")))
            .unwrap_or_else(|| panic!("no source line for {id}"));
        assert!(
            source.contains(&format!(
                "uncertainty range {:.1}-{:.1} kgCO2e",
                row.embodied_range.0.kg(),
                row.embodied_range.1.kg()
            )),
            "{source}"
        );
    }

    // A CPU estimate: the CPU package's and the CPU server's ranges, scaled as their shares.
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "estimate",
            "--hardware",
            "Intel Xeon Platinum 8175M",
            "--devices",
            "2",
            "--hours",
            "100",
            "--region",
            "FR",
            "--json",
        ];
        a.extend_from_slice(extra);
        a
    };
    let v = e.json(&args(&[]));
    let emb = &v["embodied"];
    let host_share = f(emb, "host_kgco2e");
    for (part, row) in [("devices", "cpu"), ("host", "cpu-server")] {
        let row = ecotrace_data::embodied_ref(row).unwrap();
        let share = f(emb, &format!("{part}_kgco2e"));
        let (lo, hi) = row.embodied_range;
        let per = share / row.embodied.kg();
        assert!(
            close(f(emb, &format!("{part}_low_kgco2e")), lo.kg() * per),
            "{emb}"
        );
        assert!(
            close(f(emb, &format!("{part}_high_kgco2e")), hi.kg() * per),
            "{emb}"
        );
    }
    assert!(f(emb, "host_low_kgco2e") < host_share && host_share < f(emb, "host_high_kgco2e"));
    let sources: Vec<&str> = v["assumptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["source"].as_str())
        .filter(|s| s.contains("Cloud Carbon Footprint"))
        .collect();
    assert!(
        sources.len() >= 2 && sources.iter().all(|s| s.contains("uncertainty range")),
        "{sources:?}"
    );

    // A GPU estimate's host has its range too.
    let v = e.json(&[
        "estimate",
        "--hardware",
        "H100-SXM",
        "--hours",
        "10",
        "--region",
        "FR",
        "--json",
    ]);
    assert!(f(&v["embodied"], "host_low_kgco2e") < f(&v["embodied"], "host_high_kgco2e"));

    // A figure the user gives has no range.
    let v = e.json(&args(&["--embodied-kg", "50", "--host-embodied-kg", "900"]));
    assert!(v["embodied"]["devices_low_kgco2e"].is_null(), "{v}");
    assert!(v["embodied"]["host_high_kgco2e"].is_null(), "{v}");
}
