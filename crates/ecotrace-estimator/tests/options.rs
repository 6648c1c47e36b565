//! The estimator from its plain option structs, as a caller without the CLI's flags uses it.

use ecotrace_estimator::{
    run_compare, run_estimate, run_inference, CompareOptions, EstimateError, EstimateOptions,
    GridOptions, InferenceOptions, SizeOptions,
};

fn job(hardware: &str, hours: f64) -> EstimateOptions {
    EstimateOptions {
        hardware: Some(hardware.into()),
        devices: Some(8.0),
        size: SizeOptions {
            hours: Some(hours),
            ..Default::default()
        },
        grid: GridOptions {
            intensity: Some(100.0),
            pue: None,
        },
        ..Default::default()
    }
}

#[test]
fn an_estimate_from_options() {
    let e = run_estimate(&job("A100-80GB", 24.0)).unwrap();
    let j = ecotrace_estimator::to_json(&e);
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
        region: vec!["FR".into(), "US-CA".into()],
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
        region: Some(region.into()),
        grid: GridOptions::default(),
        ..job("A100-80GB", 24.0)
    }
}

#[test]
fn without_a_rental_price_the_zones_electricity_price_gives_the_cost() {
    // California: EIA 2023 average, 0.2487 USD/kWh, charged on the energy at the meter.
    let j = ecotrace_estimator::to_json(&run_estimate(&in_region("US-CA")).unwrap());
    let meter_kwh = j["energy_kwh"].as_f64().unwrap() * j["pue"].as_f64().unwrap_or(1.0);
    let usd = j["cost_usd"].as_f64().unwrap();
    assert!(
        (usd - meter_kwh * 0.2487).abs() < 1e-6,
        "{usd} vs {meter_kwh}"
    );
    assert_eq!(j["cost"]["basis"], "electricity");
    assert!(j["cost"]["source"].as_str().unwrap().contains("EIA"));

    // France: the bundled price is in EUR and no exchange rate is bundled: no cost, and a note
    // that says why rather than a guess.
    let e = run_estimate(&in_region("FR")).unwrap();
    assert!(e.cost.is_none());
    assert!(e.notes.iter().any(|n| n.contains("EUR")), "{:?}", e.notes);
}
