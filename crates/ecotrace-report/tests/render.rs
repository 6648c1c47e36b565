//! Snapshot tests of every renderer on the fixed fixtures, plus checks of properties a snapshot
//! alone would not guard (line widths, escaping, CSV parse-back).

mod common;

use std::time::Duration;

use ecotrace_core::{CarbonMass, Energy, Power, PowerSample, RunRecord, RunStatus};
use ecotrace_report::*;
use insta::assert_snapshot;

fn max_width(s: &str) -> usize {
    s.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

#[test]
fn summary_finished() {
    let s = run_summary(&common::finished());
    assert!(max_width(&s) <= 80, "wider than 80 columns:\n{s}");
    assert_snapshot!(s);
}

#[test]
fn summary_failed() {
    let s = run_summary(&common::failed());
    assert!(max_width(&s) <= 80, "wider than 80 columns:\n{s}");
    assert_snapshot!(s);
}

#[test]
fn summary_failed_to_start() {
    assert_snapshot!(run_summary(&common::failed_to_start()));
}

#[test]
fn summary_interrupted() {
    let s = run_summary(&common::interrupted());
    assert!(max_width(&s) <= 80, "wider than 80 columns:\n{s}");
    assert_snapshot!(s);
}

#[test]
fn summary_hostile_text_is_escaped() {
    let s = run_summary(&common::hostile());
    assert!(!s.contains('\u{1b}'), "raw escape reached the terminal");
    assert_snapshot!(s);
}

#[test]
fn summary_status_lines() {
    let mut lines = String::new();
    let base = common::interrupted();
    let variants: Vec<(&str, RunRecord)> = vec![
        ("running", {
            let mut r = base.clone();
            r.status = RunStatus::Running;
            r.signal = None;
            r.exit_code = None;
            r.ended_at = None;
            r
        }),
        ("stale", {
            // As the ledger shows a run whose tracker vanished.
            let mut r = base.clone();
            r.signal = None;
            r.exit_code = None;
            r.ended_at = None;
            r
        }),
        ("sigterm", {
            let mut r = base.clone();
            r.signal = Some(15);
            r.exit_code = Some(143);
            r
        }),
        ("forwarded", {
            // ecotrace forwarded SIGINT; the command caught it and exited 1.
            let mut r = base.clone();
            r.signal = None;
            r.exit_code = Some(1);
            r
        }),
        ("killed", {
            let mut r = base.clone();
            r.status = RunStatus::Failed;
            r.signal = Some(9);
            r.exit_code = Some(137);
            r
        }),
        ("odd-signal", {
            let mut r = base.clone();
            r.status = RunStatus::Failed;
            r.signal = Some(42);
            r.exit_code = None;
            r
        }),
        ("lost-track", {
            let mut r = base.clone();
            r.status = RunStatus::Failed;
            r.signal = None;
            r.exit_code = None;
            r.error = Some("lost track of the command: ECHILD".to_string());
            r
        }),
        ("no-exit-code", {
            let mut r = base.clone();
            r.status = RunStatus::FailedToStart;
            r.exit_code = None;
            r
        }),
    ];
    for (name, r) in variants {
        let first = run_summary(&r).lines().next().unwrap().to_string();
        lines.push_str(&format!("{name:<15} {first}\n"));
    }
    assert_snapshot!(lines);
}

#[test]
fn live_lines() {
    let cases = [
        (83, 142.34, 3.21, 1.523),
        (0, 0.0, 0.0, 0.0),
        (4_000, 0.04, 0.000_123, 0.000_05),
        (360_000, 10_400.0, 3_750_000.0, 1_800_000_000.0),
    ];
    let mut out = String::new();
    for (secs, w, wh, g) in cases {
        let l = live_line(
            Duration::from_secs(secs),
            Power::from_watts(w),
            Energy::from_wh(wh),
            CarbonMass::from_grams(g),
        );
        assert!(l.chars().count() < 70, "too long: {l}");
        assert!(!l.contains('\n'));
        out.push_str(&l);
        out.push('\n');
    }
    assert_snapshot!(out);
}

#[test]
fn runs_list_table() {
    let s = runs_table(&common::all());
    assert!(!s.contains('\u{1b}'));
    assert_eq!(
        s.lines().count(),
        2 + common::all().len(),
        "one line per run"
    );
    assert_snapshot!(s);
}

#[test]
fn runs_list_empty() {
    assert_eq!(runs_table(&[]), "no runs\n");
    assert_snapshot!(runs_markdown(&[]));
    assert_eq!(runs_json(&[]), "[]\n");
}

#[test]
fn runs_list_markdown() {
    let s = runs_markdown(&common::all());
    // Every row has exactly as many unescaped pipes as the header.
    let pipes = |l: &str| l.replace("\\|", "").matches('|').count();
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines.len(), 2 + common::all().len());
    for l in &lines {
        assert_eq!(pipes(l), pipes(lines[0]), "{l}");
    }
    assert_snapshot!(s);
}

#[test]
fn runs_list_csv() {
    assert_snapshot!(runs_csv(&common::all()));
}

#[test]
fn runs_list_json_round_trips() {
    let rs = common::all();
    let s = runs_json(&rs);
    let back: Vec<RunRecord> = serde_json::from_str(&s).unwrap();
    assert_eq!(back.len(), rs.len());
    for (a, b) in back.iter().zip(&rs) {
        assert_eq!(a.id, b.id);
        assert_eq!(a.project, b.project);
        assert_eq!(a.tags, b.tags);
        assert!((a.energy_kwh.total.kwh() - b.energy_kwh.total.kwh()).abs() < 1e-15);
    }
    assert_snapshot!(runs_json(&rs[..1]));
}

#[test]
fn show_finished_with_samples() {
    let s = show_run(&common::finished(), &common::samples());
    assert!(max_width(&s) <= 80, "wider than 80 columns:\n{s}");
    let spark = s
        .lines()
        .find(|l| l.trim_start().starts_with('▁') || l.contains('█'))
        .expect("a sparkline");
    assert!(spark.trim().chars().count() <= 60);
    assert_snapshot!(s);
}

#[test]
fn show_without_samples() {
    assert_snapshot!(show_run(&common::failed(), &[]));
}

#[test]
fn show_failed_to_start() {
    assert_snapshot!(show_run(&common::failed_to_start(), &[]));
}

#[test]
fn show_few_samples_and_zero_power() {
    let samples = vec![
        PowerSample {
            t_s: 1.0,
            cpu_w: Power::ZERO,
            gpu_w: Power::ZERO,
            ram_w: Power::ZERO,
        },
        PowerSample {
            t_s: 2.0,
            cpu_w: Power::from_watts(10.0),
            gpu_w: Power::ZERO,
            ram_w: Power::from_watts(2.0),
        },
        PowerSample {
            t_s: 4.0,
            cpu_w: Power::from_watts(20.0),
            gpu_w: Power::ZERO,
            ram_w: Power::from_watts(2.0),
        },
    ];
    let s = show_run(&common::hostile(), &samples);
    // Mean weighted by interval: (0*1 + 12*1 + 22*2) / 4 = 14 W.
    assert!(s.contains("total  mean 14.0 W  peak 22.0 W"), "{s}");
    assert_snapshot!(s);
}

#[test]
fn show_json_without_and_with_samples() {
    let r = common::finished();
    let plain = show_json(&r, None);
    // Same shape and text as `run --json`: the record, pretty-printed.
    assert_eq!(plain, serde_json::to_string_pretty(&r).unwrap() + "\n");
    assert!(!plain.contains("power_samples"));
    let samples = &common::samples()[..2];
    let with = show_json(&r, Some(samples));
    let v: serde_json::Value = serde_json::from_str(&with).unwrap();
    assert_eq!(v["power_samples"].as_array().unwrap().len(), 2);
    assert_eq!(v["power_samples"][1]["t_s"], 60.0);
    let back: RunRecord = serde_json::from_str(&with).unwrap();
    assert_eq!(back.id, r.id);
    assert_snapshot!(with);
}

#[test]
fn non_finite_values_render_without_panicking() {
    let mut r = common::finished();
    r.mean_power = Power::from_watts(f64::NAN);
    r.components[0].energy = Energy::from_kwh(f64::INFINITY);
    r.components[1].mean_power = Power::from_watts(f64::NAN);
    r.energy_kwh.total = Energy::from_kwh(f64::NAN);
    r.operational = CarbonMass::from_grams(f64::NEG_INFINITY);
    let bad = |t: f64, w: f64| PowerSample {
        t_s: t,
        cpu_w: Power::from_watts(w),
        gpu_w: Power::ZERO,
        ram_w: Power::ZERO,
    };
    let samples = [
        bad(f64::NAN, 1.0),
        bad(1.0, f64::INFINITY),
        bad(f64::INFINITY, f64::NAN),
    ];
    let s = show_run(&r, &samples);
    assert!(s.contains("n/a"), "{s}");
    let _ = run_summary(&r);
    let _ = runs_table(std::slice::from_ref(&r));
    let _ = runs_markdown(std::slice::from_ref(&r));
    let csv = runs_csv(std::slice::from_ref(&r));
    assert!(
        csv.lines().nth(1).unwrap().contains(",,"),
        "unknown numbers are empty cells"
    );
    let json = runs_json(std::slice::from_ref(&r));
    assert!(json.contains("null"));
    let _ = live_line(
        Duration::MAX,
        Power::from_watts(f64::NAN),
        Energy::from_kwh(f64::INFINITY),
        CarbonMass::from_grams(-1.0),
    );
    for by in GroupBy::ALL {
        let (g, t) = aggregate(std::slice::from_ref(&r), *by);
        for f in Format::ALL {
            let _ = render_report(&g, &t, *by, *f);
        }
    }
}
