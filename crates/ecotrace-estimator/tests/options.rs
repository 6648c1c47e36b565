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
