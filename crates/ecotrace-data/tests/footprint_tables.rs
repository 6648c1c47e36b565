//! The hardware catalog, embodied references, water factors and prices: every row parses, has
//! provenance and plausible figures, and the lookups accept the names users and drivers write.

use ecotrace_data::{
    accelerator, accelerator_for_device, accelerators, embodied_ref, embodied_refs, instance_price,
    offsite_water, prices, water_factors, DataError,
};

#[test]
fn the_catalog_covers_the_hardware_the_issue_names() {
    for name in [
        "V100",
        "T4",
        "A10",
        "A100-40GB",
        "A100-80GB",
        "A100-PCIE-40GB",
        "A100-SXM4-40GB",
        "A100-PCIE-80GB",
        "A100-SXM4-80GB",
        "L4",
        "L40S",
        "H100-PCIE",
        "H100-SXM",
        "H200",
        "B200",
        "RTX-3090",
        "RTX-4090",
        "MI250X",
        "MI300X",
        "TPU-v2",
        "TPU-v3",
        "TPU-v4",
        "TPU-v5e",
        "TPU-v5p",
    ] {
        assert!(accelerator(name).is_ok(), "{name} is not in the catalog");
    }
}

#[test]
fn every_accelerator_has_provenance_and_plausible_figures() {
    let all = accelerators();
    assert!(all.len() >= 25);
    let mut ids = std::collections::HashSet::new();
    for a in all {
        assert!(ids.insert(a.id.clone()), "duplicate {}", a.id);
        assert!(!a.spec_source.trim().is_empty(), "{}", a.id);
        assert!(!a.embodied_source.trim().is_empty(), "{}", a.id);
        assert!(!a.license.trim().is_empty(), "{}", a.id);
        let w = a.tdp.watts();
        assert!((50.0..=1500.0).contains(&w), "{} {w} W", a.id);
        assert!((8.0..=300.0).contains(&a.memory_gb), "{}", a.id);
        let kg = a.embodied.kg();
        assert!((20.0..=1000.0).contains(&kg), "{} {kg} kg", a.id);
        assert_eq!(
            a.embodied_estimated,
            a.embodied_basis != "lca",
            "{}: basis {} vs estimated flag",
            a.id,
            a.embodied_basis
        );
        if let Some((f, _)) = a.peak_flops() {
            assert!((1e12..=1e16).contains(&f), "{} {f}", a.id);
        }
    }
    // Published card LCAs are kept as published.
    assert_eq!(accelerator("L4").unwrap().embodied.kg(), 57.74);
    assert!(!accelerator("A100-SXM4-40GB").unwrap().embodied_estimated);
    assert!(accelerator("B200").unwrap().embodied_estimated);
}

#[test]
fn names_are_matched_loosely_but_never_across_models() {
    let id = |n: &str| accelerator(n).map(|a| a.id.as_str()).unwrap();
    assert_eq!(id("a100 80gb"), "A100-SXM4-80GB");
    assert_eq!(id("NVIDIA A100-SXM4-80GB"), "A100-SXM4-80GB");
    assert_eq!(id("Tesla V100-SXM2-16GB"), "V100-SXM2-16GB");
    assert_eq!(id("h100_sxm"), "H100-SXM");
    assert_eq!(id("tpu v4"), "TPU-v4");
    assert_eq!(id("NVIDIA GeForce RTX 4090"), "RTX-4090");
    assert_eq!(id("Tesla T4"), "T4");
    // Driver names.
    let dev = |n: &str| accelerator_for_device(n).map(|a| a.id.as_str());
    assert_eq!(dev("NVIDIA H100 80GB HBM3"), Some("H100-SXM"));
    assert_eq!(dev("NVIDIA A100-SXM4-40GB"), Some("A100-SXM4-40GB"));
    assert_eq!(dev("NVIDIA A10G"), Some("A10G"));
    assert_eq!(dev("Some Other GPU"), None);
}

#[test]
fn unknown_hardware_lists_the_closest_names() {
    match accelerator("A100-90GB") {
        Err(DataError::UnknownHardware { suggestions, .. }) => {
            assert!(!suggestions.is_empty());
            assert!(
                suggestions.iter().any(|s| s.starts_with("A100")),
                "{suggestions:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let msg = accelerator("H1000").unwrap_err().to_string();
    assert!(msg.contains("H100"), "{msg}");
    assert!(msg.contains("ecotrace data hardware"), "{msg}");
    assert!(accelerator("  ").is_err());
}

#[test]
fn hosts_and_cpus_have_embodied_figures() {
    assert!(embodied_refs().len() >= 3);
    let g = embodied_ref("gpu-server").unwrap();
    assert_eq!(g.slots, 8);
    assert!((1000.0..=6000.0).contains(&g.embodied.kg()));
    let c = embodied_ref("cpu-server").unwrap();
    assert_eq!(c.slots, 2);
    assert!(embodied_ref("cpu").is_some());
    for e in embodied_refs() {
        assert!(!e.source.is_empty() && !e.license.is_empty(), "{}", e.id);
    }
}

#[test]
fn water_factors_cover_zones_with_a_world_default() {
    assert!(water_factors().len() > 300);
    for w in water_factors() {
        let l = w.offsite.l_per_kwh();
        assert!((0.0..=3.0).contains(&l), "{} {l}", w.zone);
        assert!(!w.source.is_empty() && !w.license.is_empty());
    }
    assert_eq!(offsite_water("FR").zone, "FR");
    assert_eq!(offsite_water("fr").zone, "FR");
    // A US state falls back to the country, an unknown zone to the world default.
    assert_eq!(offsite_water("US-ZZ").zone, "US");
    assert_eq!(offsite_water("XX-YY").zone, "WORLD");
    // Nuclear-heavy France consumes more per kWh than hydro-heavy Norway.
    assert!(offsite_water("FR").offsite > offsite_water("NO").offsite);
}

#[test]
fn prices_have_sources_and_the_lookup_picks_per_device_prices() {
    assert!(prices().len() > 100);
    for p in prices().iter().filter(|p| p.has_accelerator()) {
        assert!(
            accelerator(&p.accelerator).is_ok(),
            "{} {}",
            p.instance,
            p.accelerator
        );
        assert!(!p.source.is_empty() && !p.license.is_empty());
    }
    let p = instance_price("aws", "us-east-1", "A100-SXM4-40GB", 8.0).unwrap();
    assert_eq!(p.instance, "p4d.24xlarge");
    assert!((p.usd_per_device_hour() - p.usd_per_hour / 8.0).abs() < 1e-12);
    assert!(instance_price("aws", "us-east-1", "TPU-v4", 8.0).is_none());
    assert!(instance_price("azure", "eastus", "H100-SXM", 8.0).is_some());
}
