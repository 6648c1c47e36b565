//! Every bundled table parses, and every row has provenance and plausible figures.

use std::collections::HashSet;

use ecotrace_data::{cloud_regions, cpus, resolve_region, world_average, zone, zones, PROVIDERS};

const YEARS: std::ops::RangeInclusive<i32> = 2015..=2026;

#[test]
fn every_zone_row_has_provenance_and_a_plausible_figure() {
    let z = zones();
    assert!(z.len() > 350, "{} zones", z.len());
    for r in z {
        assert!(!r.id.is_empty() && !r.name.is_empty(), "{r:?}");
        assert!(!r.source.trim().is_empty(), "{} has no source", r.id);
        assert!(!r.license.trim().is_empty(), "{} has no licence", r.id);
        assert!(YEARS.contains(&r.year), "{} year {}", r.id, r.year);
        let g = r.intensity.g_per_kwh();
        assert!(g.is_finite() && (0.0..=1500.0).contains(&g), "{} {g}", r.id);
        // Electricity Maps publishes both bases for every zone; the others are life-cycle only.
        assert_eq!(
            r.direct.is_some(),
            r.source.starts_with("Electricity Maps"),
            "{}",
            r.id
        );
    }
    let ids: HashSet<_> = z.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), z.len(), "duplicate zone ids");
}

#[test]
fn every_cloud_row_has_provenance_and_resolves_to_an_intensity() {
    for r in cloud_regions() {
        let id = r.id();
        assert!(PROVIDERS.contains(&r.provider.as_str()), "{id}");
        assert!(!r.location.is_empty(), "{id} has no location");
        assert!(zone(&r.zone).is_some(), "{id}: zone {} unknown", r.zone);
        let g = r
            .intensity
            .expect("every region has an intensity")
            .g_per_kwh();
        assert!(g.is_finite() && g >= 0.0, "{id}");
        assert!(YEARS.contains(&r.intensity_year.unwrap()), "{id}");
        assert!(!r.intensity_source.trim().is_empty(), "{id}");
        assert!(!r.pue_source.trim().is_empty(), "{id}");
        assert!(!r.wue_source.trim().is_empty(), "{id}");
        if let Some(p) = r.pue {
            assert!((1.0..=2.0).contains(&p.value()), "{id}");
        }
        if let Some(w) = r.wue_l_per_kwh {
            assert!(w.is_finite() && (0.0..=5.0).contains(&w), "{id}");
        }
        // A licence and a year on every row; nothing from sources whose data licence is
        // "all rights reserved" or unclear (GSF real-time-cloud, the unchecked EK transcription).
        assert!(YEARS.contains(&r.year), "{id}");
        assert!(!r.license.trim().is_empty(), "{id}");
        for text in [&r.intensity_source, &r.pue_source, &r.wue_source] {
            for banned in [
                "Green-Software-Foundation",
                "real-time-cloud",
                "emielkwakkel",
            ] {
                assert!(!text.contains(banned), "{id}: {text}");
            }
        }
    }
}

#[test]
fn every_cpu_row_has_provenance_and_a_plausible_tdp() {
    let c = cpus();
    assert!(c.len() > 4000, "{} CPUs", c.len());
    for r in c {
        assert!(!r.name.trim().is_empty());
        assert!(!r.source.trim().is_empty(), "{}", r.name);
        assert!(YEARS.contains(&r.year), "{}", r.name);
        let w = r.tdp.watts();
        assert!(w.is_finite() && w > 0.0 && w <= 1000.0, "{} {w}", r.name);
        if let Some(n) = r.cores {
            assert!((1..=512).contains(&n), "{} cores {n}", r.name);
        }
    }
    assert!(c.iter().filter(|r| r.cores.is_some()).count() > 1500);
}

#[test]
fn coverage_countries() {
    let countries = zones()
        .iter()
        .filter(|z| z.id.len() == 2 && z.id.chars().all(|c| c.is_ascii_uppercase()))
        .count();
    assert!(countries >= 190, "{countries} countries");
    // Countries that Electricity Maps splits or lacks still resolve to a national figure.
    for id in [
        "US", "RU", "CL", "UA", "CN", "IN", "AU", "CA", "JP", "BR", "SE", "NO", "DK", "IT",
    ] {
        assert!(zone(id).is_some(), "{id}");
    }
}

#[test]
fn coverage_subnational() {
    let states = [
        "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
        "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ",
        "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT",
        "VA", "WA", "WV", "WI", "WY", "DC",
    ];
    assert_eq!(states.len(), 51);
    // Every state resolves to an Electricity Maps zone (its own, or the one serving it), with
    // both bases.
    for s in states {
        let r = resolve_region(&format!("US-{s}")).unwrap_or_else(|e| panic!("US-{s}: {e}"));
        assert!(
            r.source.contains("Electricity Maps"),
            "US-{s}: {}",
            r.source
        );
        let z = zone(&r.grid_zone).unwrap();
        assert!(z.direct.is_some(), "US-{s}: {} has no direct figure", z.id);
    }
    let ca = zones().iter().filter(|z| z.id.starts_with("CA-")).count();
    assert!(ca >= 10, "{ca} Canadian provinces/territories");
    for id in [
        "AU-NSW",
        "AU-VIC",
        "AU-QLD",
        "AU-SA",
        "AU-WA",
        "AU-TAS",
        "IN-NO",
        "IN-SO",
        "IN-EA",
        "IN-WE",
        "IN-NE",
        "US-CAL-CISO",
        "JP-TK",
        "SE-SE3",
        "DK-DK1",
    ] {
        assert!(zone(id).is_some(), "{id}");
    }
    assert_eq!(resolve_region("CN-BJ").unwrap().grid_zone, "CN");
}

#[test]
fn coverage_cloud() {
    for p in PROVIDERS {
        let n = cloud_regions().iter().filter(|r| r.provider == p).count();
        assert!(n >= 25, "{p}: {n} regions");
    }
}

#[test]
fn world_average_is_a_sourced_row() {
    let w = world_average();
    assert_eq!(w.id, "WORLD");
    assert!(w.source.contains("Ember"));
    assert_eq!(w.year, 2024);
    assert!((w.intensity.g_per_kwh() - 472.94).abs() < 0.01);
}

/// Figures read by hand from the reference files (see docs/data.md for the files).
#[test]
fn spot_checks_against_the_sources() {
    let g = |id: &str| zone(id).unwrap().intensity.g_per_kwh();
    let close = |id: &str, want: f64| {
        let got = g(id);
        assert!((got - want).abs() < 0.01, "{id}: {got} != {want}");
    };
    // Electricity Maps 2024, life-cycle column.
    close("FR", 33.44);
    close("DE", 333.77);
    close("US", 400.2);
    close("IN-NO", 570.63);
    close("AU-NSW", 541.42);
    close("CA-QC", 35.04);
    close("JP-TK", 539.68);
    close("SE-SE3", 20.42);
    close("US-CAL-CISO", 227.14);
    // Electricity Maps 2024, direct column.
    let direct = |id: &str| zone(id).unwrap().direct.unwrap().g_per_kwh();
    assert!((direct("FR") - 18.4).abs() < 0.01, "{}", direct("FR"));
    assert!((direct("US-MIDA-PJM") - 328.17).abs() < 0.01);
    assert!((direct("US-CAL-CISO") - 171.21).abs() < 0.01);
    // Ember, countries Electricity Maps lacks.
    close("RU", 446.17);
    close("UA", 250.47);
    close("CL", 265.52);
    assert_eq!(zone("UA").unwrap().year, 2022);
    // Ember rows are life-cycle only.
    assert!(zone("RU").unwrap().direct.is_none());
    assert_eq!(zone("FR").unwrap().year, 2024);
    assert!(zone("FR").unwrap().license.contains("ODbL"));
}

#[test]
fn every_equivalent_has_provenance_and_the_published_factor() {
    let e = ecotrace_data::equivalents();
    let ids: Vec<_> = e.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["car_km", "flight_km", "smartphone_charge"]);
    for r in e {
        assert!(
            !r.source.trim().is_empty() && !r.license.trim().is_empty(),
            "{r:?}"
        );
        assert!(YEARS.contains(&r.year), "{r:?}");
        assert!(!r.label.is_empty() && !r.unit.is_empty(), "{r:?}");
        assert_ne!(ecotrace_data::publisher(r), "see source", "{r:?}");
    }
    // The factors as published upstream (converted to kg per unit).
    assert!((e[0].kg_co2e_per_unit - 0.409 / 1.609344).abs() < 1e-6);
    assert_eq!(e[1].kg_co2e_per_unit, 0.171);
    assert!((e[2].kg_co2e_per_unit - 8.220801116e-3).abs() < 1e-6);
    assert!((e[0].count(0.254141) - 1.0).abs() < 1e-12);
}
