//! The grid around a run charged hour by hour: `show`'s sparkline and hours, the HTML chart, and
//! the best start within ±12 h (the same run, with its energy per hour, started whole hours
//! earlier or later).

mod common;

use chrono::{TimeZone, Utc};
use ecotrace_core::{CarbonMass, GridBasis, IntensityResolution, RunRecord};
use ecotrace_report::*;

/// The fixture run (2024-05-01 09:00:00 for 1 h 02 min 03 s: its energy almost all in the 09:00
/// hour), charged hour by hour.
fn hourly_run() -> RunRecord {
    let mut r = common::finished();
    r.intensity.resolution = IntensityResolution::Hourly;
    r.intensity.grid_basis = Some(GridBasis::Lifecycle);
    r.operational = CarbonMass::from_kg(1.5);
    r
}

/// 300 g/kWh everywhere except: the run's second hour (10:00) 100, the 04:00 and 05:00 hours 100
/// (a start 5 h earlier puts both of the run's hours there), and one hour without data.
fn grid() -> GridHours {
    let (from, hours) = GridHours::span(&hourly_run()).unwrap();
    assert_eq!(from, Utc.with_ymd_and_hms(2024, 4, 30, 21, 0, 0).unwrap());
    assert_eq!(hours, 2 + 24);
    let mut values = vec![300.0; hours];
    let at =
        |h: u32| (Utc.with_ymd_and_hms(2024, 5, 1, h, 0, 0).unwrap() - from).num_hours() as usize;
    values[at(10)] = 100.0;
    values[at(4)] = 100.0;
    values[at(5)] = 100.0;
    values[at(20)] = f64::NAN;
    GridHours {
        zone: "FR".into(),
        basis: Some(GridBasis::Lifecycle),
        source: "test series".into(),
        first_hour: from,
        values,
    }
}

#[test]
fn the_best_start_within_12_hours_weights_the_runs_energy_by_hour() {
    let r = hourly_run();
    let g = grid();
    let b = best_start(&r, &common::samples(), &g).unwrap();
    // Nearly all the energy falls in the 09:00 hour (300), a little in the 10:00 one (100).
    assert!(b.actual_mean > 290.0 && b.actual_mean < 300.0, "{b:?}");
    assert!(b.from_samples);
    assert_eq!(b.shift_hours, -5);
    assert_eq!(b.best_mean, 100.0);
    assert_eq!(
        b.best_start,
        Utc.with_ymd_and_hms(2024, 5, 1, 4, 0, 0).unwrap()
    );
    assert!((b.saving_pct - (1.0 - 100.0 / b.actual_mean) * 100.0).abs() < 1e-9);
    assert!((b.saving_kg - 1.5 * b.saving_pct / 100.0).abs() < 1e-12);
    // Without samples the energy is spread evenly over the run's time in each hour.
    let even = best_start(&r, &[], &g).unwrap();
    assert!(!even.from_samples);
    let share_10 = 123.0 / 3723.0;
    let want = 300.0 * (1.0 - share_10) + 100.0 * share_10;
    assert!((even.actual_mean - want).abs() < 1e-6, "{even:?}");
    // Hours of the run not covered: no answer.
    let mut gap = grid();
    let i = (r.started_at - gap.first_hour).num_hours() as usize;
    gap.values[i] = f64::NAN;
    assert_eq!(best_start(&r, &common::samples(), &gap), None);
}

#[test]
fn show_draws_the_hours_and_states_the_saving() {
    let r = hourly_run();
    let g = grid();
    let s = common::samples();
    let b = best_start(&r, &s, &g).unwrap();
    let opts = DocOptions {
        grid: Some(&g),
        ..DocOptions::default()
    };
    let text = show_document(&r, &s, Format::Table, &opts);
    for want in [
        "grid intensity by hour, zone FR (life-cycle), 2024-04-30 21:00 UTC to 2024-05-01 23:00 UTC: 100 to 300 gCO2e/kWh".to_string(),
        "  2024-05-01 09:00        300  ".to_string(),
        "  2024-05-01 10:00        100  ".to_string(),
        "best start within ±12 h of the actual one".to_string(),
        "2024-05-01 04:00:00 UTC (5 h earlier)".to_string(),
        format!("{:.1} % less", b.saving_pct),
        "series: test series".to_string(),
    ] {
        assert!(text.contains(&want), "{want:?} not in:\n{text}");
    }
    // The sparkline: one mark per hour (26), the hour without data blank, the run's two marked.
    let line = text
        .lines()
        .skip_while(|l| !l.starts_with("grid intensity by hour"))
        .nth(1)
        .unwrap();
    assert_eq!(line.trim_start().chars().count(), 26, "{line:?}");
    let marks = text
        .lines()
        .find(|l| l.ends_with("(^: the run's hours)"))
        .unwrap();
    assert_eq!(marks.matches('^').count(), 3, "{marks:?}");
    assert_eq!(marks.find('^'), Some(2 + 12), "{marks:?}");
    // Without the grid, or for a run charged a yearly average, nothing is added.
    let plain = show_document(&r, &s, Format::Table, &DocOptions::default());
    assert!(!plain.contains("grid intensity by hour"));
    let mut yearly = r.clone();
    yearly.intensity.resolution = IntensityResolution::YearlyAverage;
    assert!(!show_document(&yearly, &s, Format::Table, &opts).contains("grid intensity by hour"));

    let html = show_document(&r, &s, Format::Html, &opts);
    assert!(
        html.contains("<h2>Grid intensity over the run</h2>"),
        "{html}"
    );
    assert!(html.contains("Grid intensity by hour around the run"));
    assert!(html.contains("best start&#39;s hours") || html.contains("best start's hours"));
    assert!(html.contains("5 h earlier"));
    // One bar per hour with data: 26 hours less the one without.
    let chart = &html[html.find("Grid intensity by hour around the run").unwrap()..];
    let chart = &chart[..chart.find("</svg>").unwrap()];
    assert_eq!(chart.matches("<rect").count(), 25, "{chart}");
    assert!(!show_document(&r, &s, Format::Html, &DocOptions::default())
        .contains("Grid intensity over the run"));
}

#[test]
fn when_the_actual_start_was_the_cleanest_it_says_so() {
    let r = hourly_run();
    let mut g = grid();
    for v in g.values.iter_mut() {
        *v = 400.0;
    }
    let i = (r.started_at - g.first_hour).num_hours() as usize;
    g.values[i] = 50.0;
    g.values[i + 1] = 50.0;
    let b = best_start(&r, &common::samples(), &g).unwrap();
    assert_eq!(b.shift_hours, 0);
    assert_eq!(b.saving_pct, 0.0);
    let text = grid_text(&r, &common::samples(), Some(&g));
    assert!(
        text.contains("the actual start was the cleanest (50.0 gCO2e/kWh)"),
        "{text}"
    );
}
