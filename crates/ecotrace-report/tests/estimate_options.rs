//! The estimator from its plain option structs, as a caller without the CLI's flags uses it, read
//! through the JSON this crate renders.

use ecotrace_estimator::{
    run_compare, run_estimate, run_inference, CompareOptions, EstimateError, EstimateOptions,
    FactorOptions, InferenceOptions, SizeOptions,
};

fn job(hardware: &str, hours: f64) -> EstimateOptions {
    EstimateOptions {
        hardware: Some(hardware.into()),
        devices: Some(8.0),
        size: SizeOptions {
            hours: Some(hours),
            ..Default::default()
        },
        factors: FactorOptions {
            intensity: Some(100.0),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn an_estimate_from_options() {
    let e = run_estimate(&job("A100-80GB", 24.0)).unwrap();
    let j = ecotrace_report::estimate_json(&e);
    assert_eq!(j["device_hours"].as_f64(), Some(192.0));
    let kwh = j["energy_kwh"].as_f64().unwrap();
    let op = j["operational_kgco2e"].as_f64().unwrap();
    assert!(
        (op - kwh * 0.1).abs() < 1e-9 * kwh.max(1.0),
        "{op} vs {kwh}"
    );
}

#[test]
fn bad_options_are_usage_errors() {
    let mut no_size = job("A100-80GB", 1.0);
    no_size.size = SizeOptions::default();
    for o in [
        EstimateOptions::default(),
        job("NoSuchGPU", 1.0),
        job("A100-80GB", -1.0),
        no_size,
    ] {
        let err = run_estimate(&o).unwrap_err();
        assert!(matches!(err, EstimateError::Usage(_)), "{o:?}: {err}");
        assert!(err.is_usage());
    }
    let err = run_inference(&InferenceOptions::default()).unwrap_err();
    assert!(err.is_usage(), "{err}");
    let err = run_compare(&CompareOptions::default()).unwrap_err();
    assert!(err.is_usage(), "{err}");
}

#[test]
fn compare_splits_comma_lists() {
    let rows = run_compare(&CompareOptions {
        hardware: vec!["A100-80GB,H100-SXM".into()],
        factors: FactorOptions {
            region: Some("FR,US-CA".into()),
            ..Default::default()
        },
        size: SizeOptions {
            hours: Some(10.0),
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap();
    assert_eq!(rows.len(), 4);
}

fn in_region(region: &str) -> EstimateOptions {
    EstimateOptions {
        factors: FactorOptions {
            region: Some(region.into()),
            ..Default::default()
        },
        ..job("A100-80GB", 24.0)
    }
}

#[test]
fn without_a_rental_price_the_zones_electricity_price_gives_the_cost() {
    // California: EIA 2023 average, 0.2487 USD/kWh, charged on the energy at the meter.
    let j = ecotrace_report::estimate_json(&run_estimate(&in_region("US-CA")).unwrap());
    let meter_kwh = j["energy_kwh"].as_f64().unwrap() * j["pue"].as_f64().unwrap_or(1.0);
    let usd = j["cost_usd"].as_f64().unwrap();
    assert!(
        (usd - meter_kwh * 0.2487).abs() < 1e-6,
        "{usd} vs {meter_kwh}"
    );
    assert_eq!(j["cost"]["basis"], "electricity");
    assert!(j["cost"]["source"].as_str().unwrap().contains("EIA"));

    // France: the bundled Eurostat price (0.2204 EUR/kWh, 2022-S2) converted at the ECB 2022
    // annual average (1.0530 USD per EUR), and the source says so.
    let j = ecotrace_report::estimate_json(&run_estimate(&in_region("FR")).unwrap());
    let meter_kwh = j["facility_energy_kwh"].as_f64().unwrap();
    let usd = j["cost_usd"].as_f64().unwrap();
    assert!(
        (usd - meter_kwh * 0.2204 * 1.053).abs() < 1e-6,
        "{usd} vs {meter_kwh}"
    );
    assert_eq!(j["cost"]["basis"], "electricity");
    let src = j["cost"]["source"].as_str().unwrap();
    assert!(
        src.contains("converted from 0.2204 EUR/kWh at 1.053 USD per EUR")
            && src.contains("EXR.A.USD.EUR.SP00.A"),
        "{src}"
    );
}

fn on_instance(hardware: &str, devices: f64, instance: &str, region: &str) -> EstimateOptions {
    EstimateOptions {
        hardware: Some(hardware.into()),
        devices: Some(devices),
        size: SizeOptions {
            hours: Some(10.0),
            ..Default::default()
        },
        factors: FactorOptions {
            region: Some(region.into()),
            ..Default::default()
        },
        instance: Some(instance.into()),
        ..Default::default()
    }
}

#[test]
fn an_instance_charges_its_hourly_price() {
    // CPU instance: m5.xlarge in us-east-1, 0.192 USD/h (skypilot-catalog aws vms.csv); one
    // device is one instance.
    let e = run_estimate(&on_instance(
        "Intel Xeon Platinum 8175M",
        1.0,
        "m5.xlarge",
        "aws:us-east-1",
    ))
    .unwrap();
    let j = ecotrace_report::estimate_json(&e);
    assert!((j["cost_usd"].as_f64().unwrap() - 1.92).abs() < 1e-9, "{j}");
    assert_eq!(j["cost"]["basis"], "instance");
    let src = j["cost"]["source"].as_str().unwrap();
    assert!(
        src.contains("m5.xlarge") && src.contains("skypilot-catalog@001367d22a00"),
        "{src}"
    );
    // GPU instance: p4d.24xlarge, 8 × A100 40GB; 8 devices for 10 h = 10 instance-hours.
    let e = run_estimate(&on_instance(
        "A100-40GB",
        8.0,
        "p4d.24xlarge",
        "aws:us-east-1",
    ))
    .unwrap();
    let ip = ecotrace_data::instance_by_type("aws", "us-east-1", "p4d.24xlarge").unwrap();
    let j = ecotrace_report::estimate_json(&e);
    assert!(
        (j["cost_usd"].as_f64().unwrap() - ip.usd_per_hour * 10.0).abs() < 1e-6,
        "{j}"
    );
    assert!(j["cost"]["source"]
        .as_str()
        .unwrap()
        .contains("p4d.24xlarge"));
    // --price-per-hour still wins.
    let mut o = on_instance(
        "Intel Xeon Platinum 8175M",
        1.0,
        "m5.xlarge",
        "aws:us-east-1",
    );
    o.factors.price_per_hour = Some(1.0);
    let j = ecotrace_report::estimate_json(&run_estimate(&o).unwrap());
    assert!((j["cost_usd"].as_f64().unwrap() - 10.0).abs() < 1e-9, "{j}");
    assert!(j["cost"]["source"]
        .as_str()
        .unwrap()
        .contains("--price-per-hour"));
}

#[test]
fn a_bad_instance_is_a_usage_error_that_says_why() {
    let msg = |o: &EstimateOptions| {
        let err = run_estimate(o).unwrap_err();
        assert!(err.is_usage(), "{err}");
        err.to_string()
    };
    // Unknown: the closest types bundled in that region are listed.
    let m = msg(&on_instance(
        "Intel Xeon Platinum 8175M",
        1.0,
        "m5.xlarg",
        "aws:us-east-1",
    ));
    assert!(m.contains("closest known there: m5.xlarge"), "{m}");
    // A region that is not a cloud region.
    let m = msg(&on_instance(
        "Intel Xeon Platinum 8175M",
        1.0,
        "m5.xlarge",
        "FR",
    ));
    assert!(m.contains("cloud region"), "{m}");
    let mut none = on_instance("Intel Xeon Platinum 8175M", 1.0, "m5.xlarge", "FR");
    none.factors.region = None;
    assert!(msg(&none).contains("cloud region"));
    // The hardware must be what the instance carries.
    let m = msg(&on_instance(
        "H100-SXM",
        8.0,
        "p4d.24xlarge",
        "aws:us-east-1",
    ));
    assert!(m.contains("A100-SXM4-40GB"), "{m}");
    let m = msg(&on_instance("A100-40GB", 1.0, "m5.xlarge", "aws:us-east-1"));
    assert!(m.contains("CPU instance"), "{m}");
}
