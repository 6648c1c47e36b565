//! The planner against a brute-force search over the bundled hourly data, and its errors.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ecotrace_core::GridBasis;
use ecotrace_estimator::plan::{plan, PlanOptions, UserSeries};
use proptest::prelude::*;

fn opts(regions: &[&str], start: &str, duration: &str, deadline: &str) -> PlanOptions {
    PlanOptions {
        duration: Some(duration.into()),
        regions: regions.iter().map(|s| s.to_string()).collect(),
        start_after: Some(start.into()),
        deadline: Some(deadline.into()),
        ..Default::default()
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2022, 3, 1, 0, 0, 0).unwrap()
}

/// Every (region, start) pair scanned window by window from the bundled series.
fn brute(
    zones: &[&str],
    year: i32,
    from: usize,
    span: usize,
    len: usize,
    basis: GridBasis,
) -> (usize, usize, f64) {
    let mut best = (0, 0, f64::INFINITY);
    for (zi, z) in zones.iter().enumerate() {
        let v = ecotrace_data::hourly(z, year).unwrap().values(basis);
        for s in 0..=span - len {
            let m = v[from + s..from + s + len].iter().sum::<f64>() / len as f64;
            if m < best.2 - 1e-9 {
                best = (zi, s, m);
            }
        }
    }
    best
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// The plan's choice equals a brute-force search over random windows, durations and deadlines.
    #[test]
    fn plan_equals_brute_force(
        day in 0usize..300,
        len in 1usize..30,
        extra in 0usize..200,
        pick in proptest::sample::subsequence(vec!["FR", "DE", "SE-SE3", "US-MIDA-PJM", "GB", "PL", "ES"], 1..5),
        direct in any::<bool>(),
    ) {
        let basis = if direct { GridBasis::Direct } else { GridBasis::Lifecycle };
        let start = Utc.with_ymd_and_hms(2022, 1, 1, 0, 0, 0).unwrap() + Duration::days(day as i64);
        let span = len + extra;
        let o = PlanOptions {
            basis: Some(basis.as_str().into()),
            ..opts(&pick, &start.to_rfc3339(), &format!("{len}h"), &format!("{span}h"))
        };
        let p = plan(&o, now(), &[]).unwrap();
        let (zi, s, m) = brute(&pick, 2022, day * 24, span, len, basis);
        prop_assert_eq!(p.profile_year, None);
        prop_assert!((p.mean_g_per_kwh - m).abs() < 1e-6, "{} vs {}", p.mean_g_per_kwh, m);
        prop_assert_eq!(&p.region, pick[zi]);
        prop_assert_eq!(p.start.clone(), (start + Duration::hours(s as i64)).format("%Y-%m-%dT%H:%M:%SZ").to_string());
        prop_assert!(p.saving_pct >= -1e-9);
    }
}

#[test]
fn cloud_regions_and_states_use_their_grid_zone_series() {
    let p = plan(
        &opts(
            &["aws:eu-north-1", "US-VA"],
            "2022-05-01T00:00Z",
            "4h",
            "48h",
        ),
        now(),
        &[],
    )
    .unwrap();
    assert!(p
        .data
        .iter()
        .any(|d| d.region == "aws:eu-north-1" && d.zone == "SE-SE3" && d.kind == "hourly"));
    assert!(p
        .data
        .iter()
        .any(|d| d.region == "US-VA" && d.zone == "US-MIDA-PJM" && d.kind == "hourly"));
    assert!(p.data.iter().all(|d| d.license.contains("ODbL")));
    // A region without hourly data is compared on its yearly average and marked.
    let p = plan(
        &opts(&["FR", "NO-NO1"], "2022-05-01T00:00Z", "4h", "48h"),
        now(),
        &[],
    )
    .unwrap();
    let no = p.data.iter().find(|d| d.region == "NO-NO1").unwrap();
    assert_eq!(no.kind, "yearly-average");
    assert!(p
        .notes
        .iter()
        .any(|n| n.contains("NO-NO1") && n.contains("not time-shifted")));
}

#[test]
fn dates_without_data_use_a_profile_year() {
    // 2030 has no data: the most recent year with data for every region is used.
    let p = plan(
        &opts(&["FR", "DE"], "2030-07-01T00:00Z", "6h", "24h"),
        now(),
        &[],
    )
    .unwrap();
    assert_eq!(p.profile_year, Some(2023));
    assert!(p.notes[0].contains("typical profile"), "{:?}", p.notes);
    assert!(p.start.starts_with("2030-07-01"), "{}", p.start);
    // The same calendar hours of 2023: the mean equals the brute force on 2023's July 1st.
    let from = (31 + 28 + 31 + 30 + 31 + 30) * 24;
    let (zi, s, m) = brute(&["FR", "DE"], 2023, from, 24, 6, GridBasis::Lifecycle);
    assert!((p.mean_g_per_kwh - m).abs() < 1e-6);
    assert_eq!(p.region, ["FR", "DE"][zi]);
    assert_eq!(p.start, format!("2030-07-01T{:02}:00:00Z", s));
    // SE-SE3 only has 2022.
    let p = plan(
        &opts(&["FR", "SE-SE3"], "2030-07-01T00:00Z", "6h", "24h"),
        now(),
        &[],
    )
    .unwrap();
    assert_eq!(p.profile_year, Some(2022));
    let o = PlanOptions {
        profile_year: Some(2023),
        ..opts(&["FR", "SE-SE3"], "2030-07-01T00:00Z", "6h", "24h")
    };
    let e = plan(&o, now(), &[]).unwrap_err().to_string();
    assert!(
        e.contains("--profile-year 2023") && e.contains("SE-SE3") && e.contains("2022"),
        "{e}"
    );
}

#[test]
fn imported_series_are_used_first() {
    let first = Utc.with_ymd_and_hms(2031, 1, 1, 0, 0, 0).unwrap();
    let mut values = vec![300.0; 48];
    values[30] = 1.0;
    values[31] = 1.0;
    let u = UserSeries {
        zone: "FR".into(),
        basis: GridBasis::Lifecycle,
        first_hour: first,
        values,
        source: "test".into(),
    };
    let p = plan(
        &opts(&["FR"], "2031-01-01T00:00Z", "2h", "48h"),
        now(),
        &[u],
    )
    .unwrap();
    assert_eq!(p.profile_year, None);
    assert_eq!(p.start, "2031-01-02T06:00:00Z");
    assert_eq!(p.mean_g_per_kwh, 1.0);
    assert!(p.data[0].source.contains("imported"));
}

#[test]
fn bad_input_is_a_usage_error() {
    let cases: [(PlanOptions, &str); 7] = [
        (
            opts(&["FR"], "2022-01-01T00:00Z", "6h", "2022-01-01T03:00Z"),
            "before the earliest end",
        ),
        (
            opts(&["Atlantis"], "2022-01-01T00:00Z", "6h", "24h"),
            "Atlantis",
        ),
        (opts(&["FR"], "2022-01-01T00:00Z", "0h", "24h"), "positive"),
        (opts(&["FR"], "2022-01-01T00:00Z", "-3h", "24h"), "positive"),
        (opts(&["FR"], "yesterday", "6h", "24h"), "RFC 3339"),
        (
            opts(&["FR"], "2022-01-01T00:00Z", "6h", "soon"),
            "--deadline",
        ),
        (opts(&[], "2022-01-01T00:00Z", "6h", "24h"), "--region"),
    ];
    for (o, want) in cases {
        let e = plan(&o, now(), &[]).unwrap_err();
        assert!(e.is_usage(), "{o:?}");
        assert!(e.to_string().contains(want), "{o:?}: {e}");
    }
    let o = PlanOptions {
        profile_year: Some(1999),
        ..opts(&["FR"], "2040-01-01T00:00Z", "6h", "24h")
    };
    let e = plan(&o, now(), &[]).unwrap_err().to_string();
    assert!(e.contains("1999") && e.contains("FR"), "{e}");
}

#[test]
fn energy_gives_the_saving_in_kg() {
    let o = PlanOptions {
        energy_kwh: Some(100.0),
        ..opts(&["PL", "FR"], "2022-02-01T00:00Z", "6h", "24h")
    };
    let p = plan(&o, now(), &[]).unwrap();
    let (b, k) = (p.baseline_kgco2e.unwrap(), p.kgco2e.unwrap());
    assert!((b - 100.0 * p.baseline.mean_g_per_kwh / 1000.0).abs() < 1e-9);
    assert!((k - 100.0 * p.mean_g_per_kwh / 1000.0).abs() < 1e-9);
    assert!((p.saving_kgco2e.unwrap() - (b - k)).abs() < 1e-9);
    assert_eq!(p.region, "FR");
}
