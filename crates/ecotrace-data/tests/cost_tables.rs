//! The cost tables: Google Cloud instance prices and average electricity prices. Every row has
//! provenance and a positive price; the lookups return the figures hand-checked against the
//! sources named in docs/data.md §7-8.

use std::collections::HashSet;

use ecotrace_data::{
    accelerator, closest_instances, electricity_price, electricity_price_usd, electricity_prices,
    exchange_rate, exchange_rates, instance_by_type, instance_price, prices, resolve_region,
};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn every_price_row_is_dated_or_says_undated() {
    for p in prices() {
        let d = p.date_text();
        assert!(
            d == "undated" || (d.len() == 10 && d.as_bytes()[4] == b'-' && d.starts_with("20")),
            "{} {}: {d}",
            p.instance,
            p.region
        );
    }
    assert!(prices().iter().any(|p| p.date.is_some()));
}

#[test]
fn gcp_rows_have_provenance_and_add_the_vm_and_gpu_parts() {
    let gcp: Vec<_> = prices()
        .iter()
        .filter(|p| p.provider == "gcp" && p.has_accelerator())
        .collect();
    assert_eq!(gcp.len(), 12);
    for p in &gcp {
        assert!(p.usd_per_hour > 0.0, "{}", p.instance);
        assert!(p.source.contains("skypilot-catalog@0489582999fe"));
        assert!(p.source.contains("snapshot date not recorded"));
        assert_eq!(p.date_text(), "undated");
        assert!(!p.license.is_empty());
        assert!(accelerator(&p.accelerator).is_ok());
    }
    // catalogs/v6/gcp/vms.csv, us-central1: VM part 0.73948 + A100 part 2.93391.
    let p = instance_price("gcp", "us-central1", "A100-SXM4-40GB", 1.0).unwrap();
    assert_eq!(p.instance, "a2-highgpu-1g");
    assert!(close(p.usd_per_hour, 3.67339));
    // a2-highgpu-8g: VM 5.91582 + 8 GPUs 23.47126.
    let p8 = prices()
        .iter()
        .find(|p| p.provider == "gcp" && p.instance == "a2-highgpu-8g" && p.region == "us-west1")
        .unwrap();
    assert!(close(p8.usd_per_hour, 29.38708));
    assert_eq!(p8.accelerator_count, 8.0);
    let per = instance_price("gcp", "us-east1", "A100-SXM4-40GB", 8.0)
        .unwrap()
        .usd_per_device_hour();
    assert!((per - 3.6734).abs() < 1e-3, "{per}");
    // Nothing bundled: no guess.
    assert!(instance_price("gcp", "us-central1", "H100-SXM", 8.0).is_none());
    assert!(instance_price("gcp", "europe-west4", "A100-SXM4-40GB", 1.0).is_none());
}

#[test]
fn electricity_rows_have_provenance_and_plausible_prices() {
    let rows = electricity_prices();
    assert_eq!(rows.len(), 85);
    let mut seen = HashSet::new();
    for p in rows {
        assert!(seen.insert(p.zone.clone()), "duplicate {}", p.zone);
        assert!(p.price_per_kwh > 0.0 && p.price_per_kwh < 1.0, "{}", p.zone);
        assert!(!p.source.is_empty() && !p.license.is_empty() && !p.period.is_empty());
        match p.currency.as_str() {
            "EUR" => {
                assert_eq!(p.period, "2022-S2");
                assert!(p.source.starts_with("Eurostat nrg_pc_204"));
                assert_eq!(p.zone.len(), 2, "{}", p.zone);
            }
            "USD" => {
                assert_eq!(p.period, "2023");
                assert!(p.source.starts_with("US EIA Electric Power Annual 2023"));
                assert!(p.zone.starts_with("US-"), "{}", p.zone);
            }
            c => panic!("{}: unexpected currency {c}", p.zone),
        }
    }
    assert_eq!(rows.iter().filter(|p| p.currency == "EUR").count(), 36);
}

#[test]
fn electricity_lookups_return_the_source_figures() {
    // Eurostat nrg_pc_204, band DC, all taxes, 2022-S2 (EUR per kWh).
    for (q, zone, eur) in [
        ("FR", "FR", 0.2204),
        ("fra", "FR", 0.2204),
        ("DE", "DE", 0.3357),
        ("DK-DK1", "DK", 0.5871),
        ("SE3", "SE", 0.274),
        ("gcp:europe-west9", "FR", 0.2204),
        ("aws:eu-central-1", "DE", 0.3357),
    ] {
        let p = electricity_price(q).unwrap_or_else(|| panic!("{q}"));
        assert_eq!(p.zone, zone, "{q}");
        assert_eq!(p.currency, "EUR");
        assert!(close(p.price_per_kwh, eur), "{q}");
        assert_eq!(p.usd_per_kwh(), None);
        assert!(electricity_price_usd(q).is_none(), "{q}");
        // Converted at the ECB 2022 annual average, 1.0530 USD per EUR.
        let (usd, rate) = p.usd_per_kwh_converted().unwrap();
        assert!(close(usd, eur * 1.053), "{q}");
        assert_eq!(rate.unwrap().currency, "EUR");
    }
    // EIA Electric Power Annual 2023, all sectors (cents per kWh / 100).
    for (q, zone, usd) in [
        ("US-CA", "US-CA", 0.2487),
        ("us-tx", "US-TX", 0.1004),
        ("US-DE", "US-DE", 0.1285),
        ("gcp:us-west2", "US-CA", 0.2487),
        ("gcp:us-central1", "US-IA", 0.0942),
        ("azure:centralus", "US-IA", 0.0942),
        ("aws:us-east-2", "US-OH", 0.1104),
        ("gcp:us-west1", "US-OR", 0.1032),
        ("azure:westus3", "US-AZ", 0.1219),
    ] {
        let p = electricity_price_usd(q).unwrap_or_else(|| panic!("{q}"));
        assert_eq!(p.zone, zone, "{q}");
        assert!(close(p.usd_per_kwh().unwrap(), usd), "{q}");
    }
    // Not bundled: the national US average, states cut off in the copy read, Japan, a region
    // whose location names no state, unknown input.
    for q in [
        "US",
        "US-WI",
        "US-WY",
        "JP",
        "aws:us-east-1",
        "gcp:asia-northeast1",
        "nowhere",
    ] {
        assert!(electricity_price(q).is_none(), "{q}");
    }
}

#[test]
fn cpu_instance_rows_have_provenance_and_resolve_to_their_regions() {
    let cpu: Vec<_> = prices().iter().filter(|p| !p.has_accelerator()).collect();
    assert_eq!(cpu.len(), 50);
    let mut seen = HashSet::new();
    for p in &cpu {
        assert!(
            seen.insert((p.provider.clone(), p.region.clone(), p.instance.clone())),
            "duplicate {} {}",
            p.instance,
            p.region
        );
        assert!(
            p.usd_per_hour > 0.0 && p.usd_per_hour < 10.0,
            "{}",
            p.instance
        );
        assert_eq!(p.accelerator_count, 0.0);
        assert!(p.vcpus.unwrap() >= 2.0, "{}", p.instance);
        assert!(
            p.source.contains("skypilot-org/skypilot-catalog@"),
            "{}",
            p.source
        );
        assert!(p
            .source
            .contains(&format!("catalogs/v6/{}/vms.csv", p.provider)));
        assert!(p.source.contains("snapshot date not recorded"));
        assert!(p.date.is_none());
        assert!(!p.license.is_empty());
        // Every region resolves to a grid zone.
        let r = resolve_region(&format!("{}:{}", p.provider, p.region)).unwrap();
        assert!(r.cloud.is_some(), "{}", p.region);
        // CPU rows never answer the accelerator lookup.
        assert!(instance_price(&p.provider, &p.region, "", 1.0).is_none());
    }
    for provider in ["aws", "gcp", "azure"] {
        assert!(cpu.iter().any(|p| p.provider == provider), "{provider}");
    }
}

#[test]
fn instance_lookup_by_type_returns_the_catalog_figures() {
    // Hand-checked against skypilot-org/skypilot-catalog catalogs/v6/{aws,gcp,azure}/vms.csv
    // (Price column, on-demand): aws@001367d22a00, gcp@cd845b822d8d, azure@098741e70562.
    for (provider, region, instance, usd, vcpus) in [
        ("aws", "us-east-1", "m5.xlarge", 0.192, 4.0),
        ("aws", "eu-west-3", "m5.xlarge", 0.224, 4.0),
        ("aws", "us-east-1", "c5.2xlarge", 0.34, 8.0),
        ("aws", "eu-west-3", "m6i.metal", 7.168, 128.0),
        ("gcp", "europe-west9", "n2d-highcpu-80", 2.89425, 80.0),
        ("gcp", "us-central1", "n2-standard-8", 0.38847, 8.0),
        ("azure", "westus2", "Standard_D8s_v5", 0.384, 8.0),
        ("azure", "eastus", "Standard_E16s_v5", 1.008, 16.0),
    ] {
        let p = instance_by_type(provider, region, instance)
            .unwrap_or_else(|| panic!("{provider}:{region} {instance}"));
        assert!(close(p.usd_per_hour, usd), "{instance}: {}", p.usd_per_hour);
        assert_eq!(p.vcpus, Some(vcpus));
        assert!(close(p.usd_per_device_hour(), usd));
    }
    // Case-insensitive; GPU rows too (the accelerator count divides the device-hour price).
    let p = instance_by_type("aws", "us-east-1", "P4D.24XLARGE").unwrap();
    assert_eq!(p.accelerator, "A100-SXM4-40GB");
    assert!(close(p.usd_per_device_hour(), p.usd_per_hour / 8.0));
    // Not bundled: no guess; the closest names are offered instead.
    assert!(instance_by_type("aws", "us-east-1", "m5.large").is_none());
    assert!(instance_by_type("aws", "ap-south-1", "m5.xlarge").is_none());
    let near = closest_instances("aws", "us-east-1", "m5.xlarg", 3);
    assert_eq!(near[0], "m5.xlarge");
    assert_eq!(near.len(), 3);
    assert!(closest_instances("aws", "nowhere-1", "m5.xlarge", 3).is_empty());
}

#[test]
fn the_exchange_rate_is_the_ecb_2022_annual_average() {
    assert_eq!(exchange_rates().len(), 1);
    let r = exchange_rate("EUR", "2022-S2").unwrap();
    assert!(close(r.usd_per_unit, 1.053));
    assert_eq!(r.period, "2022");
    assert!(r.source.contains("EXR.A.USD.EUR.SP00.A"), "{}", r.source);
    assert!(!r.license.is_empty());
    assert!(exchange_rate("EUR", "2021").is_none());
    assert!(exchange_rate("GBP", "2022").is_none());
    // USD rows are not converted.
    let (usd, rate) = electricity_price("US-CA")
        .unwrap()
        .usd_per_kwh_converted()
        .unwrap();
    assert!(close(usd, 0.2487));
    assert!(rate.is_none());
}
