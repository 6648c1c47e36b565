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
            a.embodied_basis != "published",
            "{}: basis {} vs estimated flag",
            a.id,
            a.embodied_basis
        );
        if let Some((f, _)) = a.peak_flops() {
            assert!((1e12..=1e16).contains(&f), "{} {f}", a.id);
        }
        // Each field names its own source, and every embodied figure its range.
        for (field, src) in [
            ("memory", &a.memory_source),
            ("tdp", &a.tdp_source),
            ("flops", &a.flops_source),
            ("silicon", &a.silicon_source),
        ] {
            assert!(!src.trim().is_empty(), "{}: no {field} source", a.id);
        }
        let (lo, hi) = a.embodied_range;
        assert!(
            lo.kg() <= kg && kg <= hi.kg() && lo.kg() > 0.0,
            "{} {lo:?} {hi:?}",
            a.id
        );
        assert!(
            a.embodied_source.starts_with(if a.embodied_estimated {
                "derived"
            } else {
                "published"
            }) || a.embodied_basis == "published-model",
            "{}: {}",
            a.id,
            a.embodied_source
        );
        if let Some((l, h)) = a.tdp_range {
            assert!(l <= a.tdp && a.tdp <= h, "{}", a.id);
        }
    }
    // Published card LCAs are kept as published.
    assert_eq!(accelerator("L4").unwrap().embodied.kg(), 57.74);
    assert!(!accelerator("A100-SXM4-40GB").unwrap().embodied_estimated);
    assert!(accelerator("B200").unwrap().embodied_estimated);
}

#[test]
fn corrected_citations_and_embodied_bases() {
    // TPU v4: 170 W is Green Algorithms' figure, not Epoch's (which derives 340 W); both kept.
    let v4 = accelerator("TPU-v4").unwrap();
    assert_eq!(v4.tdp.watts(), 170.0);
    assert!(
        v4.tdp_source.contains("Green Algorithms"),
        "{}",
        v4.tdp_source
    );
    assert!(!v4.tdp_source.contains("Epoch"), "{}", v4.tdp_source);
    let (l, h) = v4.tdp_range.unwrap();
    assert_eq!((l.watts(), h.watts()), (170.0, 340.0));
    // A100 PCIe 40GB: 250 W from Green Algorithms; Epoch's row (300 W) mixes the 80GB card.
    let a = accelerator("A100-PCIE-40GB").unwrap();
    assert_eq!(a.tdp.watts(), 250.0);
    assert!(
        a.tdp_source.contains("Green Algorithms"),
        "{}",
        a.tdp_source
    );
    assert_eq!(a.tdp_range.unwrap().1.watts(), 300.0);
    // TPUs have their own basis, not a GPU card's.
    for t in accelerators().iter().filter(|a| a.kind == "tpu") {
        assert_eq!(t.embodied_basis, "tpu-component", "{}", t.id);
    }
    // A100 80GB = the published 40GB card + 40 GB of HBM, not a third more.
    let a80 = accelerator("A100-SXM4-80GB").unwrap();
    let a40 = accelerator("A100-SXM4-40GB").unwrap();
    assert_eq!(a80.embodied_basis, "published+memory");
    let extra = a80.embodied.kg() - a40.embodied.kg();
    assert!((15.0..=35.0).contains(&extra), "{extra}");
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
    // AMD devices as AMD SMI reports their market names (and ROCm's upper-case spelling).
    assert_eq!(dev("AMD Instinct MI210"), Some("MI210"));
    assert_eq!(dev("AMD Instinct MI250X"), Some("MI250X"));
    assert_eq!(dev("AMD INSTINCT MI250X"), Some("MI250X"));
    assert_eq!(dev("AMD Instinct MI250X/MI250"), Some("MI250X"));
    assert_eq!(dev("AMD Instinct MI300X"), Some("MI300X"));
    assert_eq!(dev("Radeon RX 7900 XTX"), Some("RX-7900-XTX"));
    assert_eq!(dev("AMD Radeon RX 7900 XTX"), Some("RX-7900-XTX"));
    // Never across models: an MI250 is not an MI250X, an RX 7900 XT not an XTX.
    assert_eq!(dev("AMD Instinct MI250"), None);
    assert_eq!(dev("AMD Radeon RX 7900 XT"), None);
}

#[test]
fn amd_cards_carry_their_sources_and_an_mi250x_is_two_devices() {
    let mi210 = accelerator("MI210").unwrap();
    // From AMD's data sheet, cited as such.
    assert!(mi210.spec_source.contains("AMD Instinct MI210 data sheet"));
    assert!(mi210.license.contains("vendor data sheet"));
    assert_eq!(mi210.tdp.watts(), 300.0);
    assert_eq!(mi210.memory_gb, 64.0);
    assert_eq!(mi210.tflops_fp32, Some(22.6));
    assert_eq!(mi210.tflops_fp16, Some(181.0));
    assert_eq!(mi210.process_nm, Some(6.0));
    let rx = accelerator("RX-7900-XTX").unwrap();
    assert_eq!(rx.release_year, Some(2022));
    assert!(
        rx.silicon_source.contains("assumed"),
        "{}",
        rx.silicon_source
    );
    for a in [mi210, rx] {
        assert!(a.embodied_estimated && a.embodied_basis == "component");
        let (lo, hi) = a.embodied_range;
        assert!(lo < a.embodied && a.embodied < hi, "{}", a.id);
        assert_eq!(a.devices_per_card, 1);
    }
    // An MI250X is two MI210-class dies in one package with twice the memory: its component
    // estimate counts both dies, and each of its two devices is half a card.
    let x = accelerator("MI250X").unwrap();
    assert_eq!(x.devices_per_card, 2);
    assert_eq!(x.per_device(), 0.5);
    assert!(
        x.embodied_source.contains("2 x die 724 mm2"),
        "{}",
        x.embodied_source
    );
    assert!(x.embodied.kg() > mi210.embodied.kg());
    assert!(
        x.notes.contains("1/2 of the card's embodied carbon"),
        "{}",
        x.notes
    );
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
fn water_rows_follow_their_formula_and_cooling_mix() {
    for w in water_factors().iter().filter(|w| w.zone != "WORLD") {
        let (f, n) = (w.fossil_l_per_kwh.unwrap(), w.nuclear_l_per_kwh.unwrap());
        let want = w.fossil_share * f + w.nuclear_share * n;
        assert!(
            (w.offsite.l_per_kwh() - want).abs() < 2e-4,
            "{} {want}",
            w.zone
        );
        assert!(
            ["cooling mix", "tower"].contains(&w.cooling_basis.as_str()),
            "{}",
            w.zone
        );
        // Once-through cooling consumes less than a tower, so no rate exceeds the tower rates.
        assert!(n <= 2.5438 + 1e-9 && f <= 2.6006 + 1e-9, "{}", w.zone);
    }
    // France's nuclear fleet is half once-through cooled (published mix): below the tower rate.
    let fr = offsite_water("FR");
    assert_eq!(fr.cooling_basis, "cooling mix");
    let n = fr.nuclear_l_per_kwh.unwrap();
    assert!((1.5..2.2).contains(&n), "{n}");
    // The world row is weighted by generation, and lies within the country rows.
    let world = offsite_water("XX");
    assert_eq!(world.cooling_basis, "generation-weighted");
    assert!(world
        .source
        .contains("weighted by their electricity generation"));
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
