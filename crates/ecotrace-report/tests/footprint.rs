//! Embodied carbon, water and cost in the renderers and sums, and the life-cycle account: embodied
//! is summed apart from operational (never into it), runs without an assessment add nothing and are
//! counted, failed and repeated runs are waste, estimated runs are a phase of their own.

mod common;

use ecotrace_core::{RecordKind, RunStatus};
use ecotrace_report::{
    aggregate, lifecycle, render_lifecycle, run_summary, runs_csv, Format, GroupBy,
};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn groups_sum_embodied_water_and_cost_apart_from_operational() {
    let rs = common::all();
    let (_, total) = aggregate(&rs, GroupBy::Project);
    let op: f64 = rs.iter().map(|r| r.operational.kg()).sum();
    let emb: f64 = rs.iter().filter_map(|r| r.embodied).map(|e| e.kg()).sum();
    let water: f64 = rs.iter().filter_map(|r| r.water).map(|w| w.litres()).sum();
    assert!(close(total.operational.kg(), op));
    assert!(close(total.embodied.kg(), emb));
    assert!(emb > 0.0);
    assert!(close(total.water.litres(), water));
    // The failed run and the one that failed to start have no assessment (older records).
    assert_eq!(
        total.embodied_runs,
        rs.iter().filter(|r| r.embodied.is_some()).count()
    );
    assert!(total.embodied_runs < total.runs);
    assert_eq!(
        total.cost_runs,
        rs.iter().filter(|r| r.cost.is_some()).count()
    );
}

#[test]
fn the_run_summary_shows_embodied_water_and_cost_apart() {
    let r = common::finished();
    let s = run_summary(&r);
    let op = s.find("operational CO2e").unwrap();
    let emb = s.find("embodied CO2e").unwrap();
    assert!(emb > op, "{s}");
    assert!(s.contains("not in the operational figure"), "{s}");
    assert!(s.contains("gpu0") && s.contains("host"), "{s}");
    assert!(s.contains("on-site") && s.contains("off-site"), "{s}");
    assert!(s.contains("electricity only"), "{s}");
    // An older record says it was not assessed, and shows no cost.
    let old = run_summary(&common::failed());
    assert!(
        old.contains("embodied CO2e") && old.contains("not assessed"),
        "{old}"
    );
    assert!(!old.contains("\ncost "), "{old}");
}

#[test]
fn runs_csv_has_the_new_columns() {
    let s = runs_csv(&common::all());
    let header = s.lines().next().unwrap();
    for c in [
        "embodied_kgco2e",
        "water_l",
        "cost_usd",
        "cost_basis",
        "kind",
    ] {
        assert!(
            header.split(',').any(|h| h == c),
            "{c} missing from {header}"
        );
    }
}

#[test]
fn lifecycle_counts_failed_and_repeated_runs_as_waste() {
    let a = common::finished();
    let mut b = common::finished();
    b.id = "another-id-of-the-same-job".into();
    b.started_at = a.started_at + chrono::Duration::hours(2);
    let mut est = common::finished();
    est.id = "estimate".into();
    est.kind = RecordKind::Estimated;
    est.phase = ecotrace_core::Phase::Inference;
    let failed = common::failed();
    let rs = vec![a.clone(), b.clone(), est.clone(), failed.clone()];
    let l = lifecycle(&rs);
    assert_eq!(l.total.runs, 4);
    assert_eq!(
        l.measured.repeated_runs, 1,
        "the earlier of two identical runs"
    );
    assert_eq!(l.measured.failed_runs, 1);
    assert_eq!(l.estimated.runs, 1);
    assert_eq!(l.estimated.failed_runs + l.estimated.repeated_runs, 0);
    let waste = a.energy_kwh.total.kwh() + failed.energy_kwh.total.kwh();
    assert!(close(l.measured.waste_energy.kwh(), waste));
    let measured_energy = 2.0 * a.energy_kwh.total.kwh() + failed.energy_kwh.total.kwh();
    assert!(close(l.measured.waste_share(), waste / measured_energy));
    // Embodied stays apart from operational in every total.
    let op: f64 = rs.iter().map(|r| r.operational.kg()).sum();
    assert!(close(l.total.operational.kg(), op));
    let phases: Vec<_> = l.phases.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(phases, ["experiment", "training", "inference"]);
    // A still-running run is neither useful nor waste yet.
    let mut running = common::finished();
    running.status = RunStatus::Running;
    assert_eq!(lifecycle(&[running]).measured.repeated_runs, 0);

    let text = render_lifecycle("vision", &l, Format::Table);
    assert!(text.contains("inference (estimated)"), "{text}");
    assert!(
        text.contains("Waste: 1 failed or interrupted and 1 repeated"),
        "{text}"
    );
    let md = render_lifecycle("vision", &l, Format::Markdown);
    assert!(md.starts_with("## Life cycle of project vision"), "{md}");
    let json: serde_json::Value =
        serde_json::from_str(&render_lifecycle("vision", &l, Format::Json)).unwrap();
    assert_eq!(json["measured"]["repeated_runs"], 1);
    assert_eq!(json["phases"]["inference"]["estimated_runs"], 1);
    let csv = render_lifecycle("vision", &l, Format::Csv);
    assert_eq!(csv.lines().count(), 1 + 3 + 3);
}

#[test]
fn lifecycle_counts_pruned_trials_and_trials_repeating_parameters() {
    // A study: trials 0 and 2 drew the same parameters (2 repeats 0), trial 1 was pruned, trial 3
    // failed, trial 4 drew new parameters.
    let trial = |n: u32, lr: &str, status: RunStatus, error: Option<&str>| {
        let mut r = common::finished();
        r.id = format!("trial-{n}");
        r.phase = ecotrace_core::Phase::Tuning;
        r.started_at += chrono::Duration::minutes(i64::from(n));
        r.tags.clear();
        r.tags.insert("study".into(), "lr-sweep".into());
        r.tags.insert("trial".into(), n.to_string());
        r.tags.insert("param.lr".into(), lr.into());
        r.status = status;
        r.error = error.map(String::from);
        r
    };
    let rs = vec![
        trial(0, "0.01", RunStatus::Finished, None),
        trial(
            1,
            "0.1",
            RunStatus::Interrupted,
            Some("pruned: Trial 1 pruned at step 2"),
        ),
        trial(2, "0.01", RunStatus::Finished, None),
        trial(3, "0.5", RunStatus::Failed, Some("ValueError: diverged")),
        trial(4, "0.001", RunStatus::Finished, None),
    ];
    let l = lifecycle(&rs);
    let (phase, t) = &l.phases[0];
    assert_eq!(phase.as_str(), "tuning");
    assert_eq!(
        (t.runs, t.failed_runs, t.pruned_runs, t.repeated_runs),
        (5, 2, 1, 1)
    );
    let e = rs[0].energy_kwh.total.kwh();
    assert!(
        close(t.waste_energy.kwh(), 3.0 * e),
        "{}",
        t.waste_energy.kwh()
    );
    // The trial number alone never makes a repeat.
    let distinct: Vec<_> = (0..3)
        .map(|n| trial(n, &format!("0.{n}1"), RunStatus::Finished, None))
        .collect();
    assert_eq!(lifecycle(&distinct).measured.repeated_runs, 0);

    let text = render_lifecycle("sweep", &l, Format::Table);
    assert!(
        text.contains("Waste: 2 failed or interrupted (of which 1 pruned) and 1 repeated"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&render_lifecycle("sweep", &l, Format::Json)).unwrap();
    assert_eq!(json["phases"]["tuning"]["pruned_runs"], 1);
    assert_eq!(json["measured"]["repeated_runs"], 1);
}

#[test]
fn estimated_records_are_labelled_as_estimates() {
    let mut e = common::finished();
    e.kind = RecordKind::Estimated;
    let table = ecotrace_report::runs_table(&[e.clone()]);
    assert!(table.contains("estimated"), "{table}");
    let s = run_summary(&e);
    assert!(
        s.lines().next().unwrap().contains("a-priori estimate"),
        "{s}"
    );
}
