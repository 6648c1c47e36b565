//! resolve_region: ids, aliases, cloud regions, errors.

use ecotrace_core::GridBasis;
use ecotrace_data::{resolve_region, resolve_region_on, DataError};

fn g(r: &ecotrace_data::ResolvedRegion) -> f64 {
    r.intensity.g_per_kwh()
}

#[test]
fn countries_by_iso2_and_iso3_any_case() {
    for input in ["FR", "fr", "FRA", "fra", "  France "] {
        let r = resolve_region(input).unwrap();
        assert_eq!(r.zone, "FR", "{input}");
        assert!((g(&r) - 33.44).abs() < 0.01);
        assert_eq!(r.year, 2024);
        assert!(r.source.contains("Electricity Maps"));
        assert!(r.pue.is_none() && r.wue_l_per_kwh.is_none() && r.cloud.is_none());
    }
    assert_eq!(resolve_region("USA").unwrap().zone, "US");
    assert_eq!(resolve_region("RUS").unwrap().zone, "RU");
    assert_eq!(resolve_region("XKX").unwrap().zone, "XK");
    assert_eq!(resolve_region("uk").unwrap().zone, "GB");
}

#[test]
fn subnational_zones() {
    // A US state is served by its balancing authority's grid zone, on the same basis.
    let r = resolve_region(" us-ca ").unwrap();
    assert_eq!(r.zone, "US-CA");
    assert_eq!(r.grid_zone, "US-CAL-CISO");
    assert_eq!(r.name, "California (grid zone US-CAL-CISO)");
    assert!((g(&r) - 227.14).abs() < 0.01);
    assert_eq!(r.basis, GridBasis::Lifecycle);
    assert_eq!(r.year, 2024);
    assert!(
        r.note.as_deref().unwrap().contains("EIA-930"),
        "{:?}",
        r.note
    );
    assert!(r.source.contains("Electricity Maps"));
    assert_eq!(resolve_region("au-nsw").unwrap().zone, "AU-NSW");
    assert_eq!(resolve_region("US-CAL-CISO").unwrap().zone, "US-CAL-CISO");
    assert_eq!(resolve_region("se3").unwrap().zone, "SE-SE3");
    assert_eq!(resolve_region("DK-DK1").unwrap().zone, "DK-DK1");
    assert_eq!(resolve_region("world").unwrap().zone, "WORLD");
    assert_eq!(resolve_region("GLOBAL").unwrap().zone, "WORLD");
}

#[test]
fn aws_region_falls_back_to_its_zone_and_has_a_pue() {
    let r = resolve_region("aws:eu-west-3").unwrap();
    assert_eq!(r.zone, "aws:eu-west-3");
    let c = r.cloud.as_ref().unwrap();
    assert_eq!(c.zone, "FR");
    assert_eq!(c.location, "Europe (Paris)");
    assert!((g(&r) - 33.44).abs() < 0.01, "FR's figure");
    assert!(r.source.starts_with("grid zone FR"), "{}", r.source);
    let (pue, src) = r.pue.as_ref().unwrap();
    assert_eq!(pue.value(), 1.15);
    assert!(src.contains("AWS"));
    assert_eq!(r.wue_l_per_kwh.as_ref().unwrap().0, 0.15);
    // Case and spaces, provider alias.
    assert_eq!(
        resolve_region(" AWS:EU-WEST-3 ").unwrap().zone,
        "aws:eu-west-3"
    );
    assert_eq!(
        resolve_region("amazon:eu-west-3").unwrap().zone,
        "aws:eu-west-3"
    );
    // A US region goes to its balancing authority.
    let r = resolve_region("aws:us-east-1").unwrap();
    assert_eq!(r.cloud.as_ref().unwrap().zone, "US-MIDA-PJM");
    assert!((g(&r) - 400.21).abs() < 0.01);
}

#[test]
fn gcp_region_uses_its_zone_on_the_life_cycle_basis() {
    for input in [
        "gcp:europe-west9",
        "google:europe-west9",
        "GCP:Europe-West9",
    ] {
        let r = resolve_region(input).unwrap();
        assert_eq!(r.zone, "gcp:europe-west9");
        assert_eq!(r.cloud.as_ref().unwrap().zone, "FR");
        assert!(
            (g(&r) - 33.44).abs() < 0.01,
            "FR life-cycle, not Google's direct 16.3"
        );
        assert_eq!(r.year, 2024);
        assert!(r.source.starts_with("grid zone FR"), "{}", r.source);
        assert!(
            r.source.contains("16.3 g/kWh"),
            "Google's figure quoted: {}",
            r.source
        );
        assert_eq!(r.pue.as_ref().unwrap().0.value(), 1.1);
        assert!(r.wue_l_per_kwh.is_none());
    }
    // Council Bluffs, Iowa: MISO.
    let r = resolve_region("gcp:us-central1").unwrap();
    assert_eq!(r.cloud.as_ref().unwrap().zone, "US-MIDW-MISO");
    assert!((g(&r) - 485.4).abs() < 0.01);
    assert_eq!(r.pue.unwrap().0.value(), 1.11, "Google TTM PUE via CCF");
}

#[test]
fn azure_region() {
    for input in [
        "azure:francecentral",
        "microsoft:francecentral",
        "Azure:FranceCentral",
    ] {
        let r = resolve_region(input).unwrap();
        assert_eq!(r.zone, "azure:francecentral");
        assert_eq!(r.cloud.as_ref().unwrap().zone, "FR");
        assert!((g(&r) - 33.44).abs() < 0.01);
        assert_eq!(r.pue.as_ref().unwrap().0.value(), 1.185);
    }
    // Azure northeurope is Dublin.
    assert_eq!(
        resolve_region("azure:northeurope")
            .unwrap()
            .cloud
            .unwrap()
            .zone,
        "IE"
    );
}

#[test]
fn bare_region_unique_to_one_provider() {
    assert_eq!(resolve_region("eu-west-3").unwrap().zone, "aws:eu-west-3");
    assert_eq!(
        resolve_region("francecentral").unwrap().zone,
        "azure:francecentral"
    );
}

#[test]
fn unknown_zone_suggests_close_ids() {
    let e = resolve_region("US-CAA").unwrap_err();
    match &e {
        DataError::UnknownZone { input, suggestions } => {
            assert_eq!(input, "US-CAA");
            assert_eq!(suggestions, &["US-CA"]);
        }
        other => panic!("{other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("US-CA") && msg.contains("ecotrace data zones"),
        "{msg}"
    );

    let e = resolve_region("aws:eu-west-9").unwrap_err();
    let DataError::UnknownZone { suggestions, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        suggestions,
        &["aws:eu-west-1", "aws:eu-west-2", "aws:eu-west-3"],
        "{e}"
    );
    assert!(e
        .to_string()
        .contains("aws:eu-west-1, aws:eu-west-2, aws:eu-west-3"));

    let e = resolve_region("oracle:eu-west-3").unwrap_err();
    assert!(matches!(e, DataError::UnknownZone { .. }));
    let e = resolve_region("Atlantis-Prime-Zone").unwrap_err();
    assert!(e.to_string().contains("ecotrace data zones"));
    // Nothing close: no suggestion rather than a far one.
    let DataError::UnknownZone { suggestions, .. } = resolve_region("narnia").unwrap_err() else {
        panic!()
    };
    assert!(suggestions.is_empty(), "{suggestions:?}");
    // Longer ids that extend the input are offered.
    let DataError::UnknownZone { suggestions, .. } = resolve_region("us-cal").unwrap_err() else {
        panic!()
    };
    assert!(
        suggestions.contains(&"US-CAL-CISO".to_string()),
        "{suggestions:?}"
    );
    // A name two zones share is ambiguous: both are suggested.
    let DataError::UnknownZone { suggestions, .. } = resolve_region("Georgia").unwrap_err() else {
        panic!()
    };
    assert!(suggestions.contains(&"GE".to_string()) && suggestions.contains(&"US-GA".to_string()));
}

#[test]
fn empty_input_is_an_error() {
    for input in ["", "   "] {
        let e = resolve_region(input).unwrap_err();
        assert_eq!(e, DataError::EmptyRegion);
        assert!(e.to_string().contains("ecotrace data zones"));
    }
}

/// Same grid, same figure: a state and the cloud region in it draw on one zone, on one basis.
#[test]
fn same_grid_same_figure_on_either_basis() {
    for basis in [GridBasis::Lifecycle, GridBasis::Direct] {
        let va = resolve_region_on("US-VA", basis).unwrap();
        let aws = resolve_region_on("aws:us-east-1", basis).unwrap();
        assert_eq!(va.grid_zone, "US-MIDA-PJM");
        assert_eq!(aws.grid_zone, "US-MIDA-PJM");
        assert_eq!(va.intensity, aws.intensity);
        assert_eq!((va.basis, aws.basis), (basis, basis));
    }
    let l = resolve_region_on("FR", GridBasis::Lifecycle).unwrap();
    let d = resolve_region_on("FR", GridBasis::Direct).unwrap();
    assert!(d.intensity.g_per_kwh() < l.intensity.g_per_kwh());
    assert!(l.note.is_none() && d.note.is_none());
}

/// A zone whose source is life-cycle only answers with that figure on --basis direct, and says so.
#[test]
fn direct_basis_without_a_direct_figure_is_stated() {
    let r = resolve_region_on("RU", GridBasis::Direct).unwrap();
    assert_eq!(r.basis, GridBasis::Lifecycle);
    let note = r.note.unwrap();
    assert!(note.contains("no direct figure"), "{note}");
}
