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

/// A served run of `model`: `requests` over its hour, half of its time idle.
fn served(id: &str, model: Option<&str>, requests: u64) -> ecotrace_core::RunRecord {
    let mut r = common::finished();
    r.id = id.into();
    r.phase = ecotrace_core::Phase::Inference;
    r.tags.clear();
    if let Some(m) = model {
        r.tags.insert("model".into(), m.into());
    }
    r.command = vec!["vllm".into(), id.into()];
    let total = r.energy_kwh.total;
    let mut s = ecotrace_core::serving::Serving::new("test".into());
    s.work.requests = requests;
    s.work.generated_tokens = requests * 100;
    s.idle_s = r.duration.as_secs_f64() / 2.0;
    s.idle_energy_kwh = total * 0.25;
    s.active_energy_kwh = total * 0.75;
    r.serving = Some(s);
    r.recompute();
    r
}

#[test]
fn lifecycle_projects_each_served_model_beside_its_own_training() {
    let mut train_a = common::finished();
    train_a.tags.insert("model".into(), "a".into());
    let mut train_b = common::finished();
    train_b.id = "train-b".into();
    train_b.command = vec!["train-b".into()];
    train_b.tags.insert("model".into(), "b".into());
    let serve_a = served("serve-a", Some("a"), 3723);
    let rs = vec![train_a.clone(), train_b, serve_a.clone()];
    let l = ecotrace_report::lifecycle(&rs);
    assert_eq!(l.serving.len(), 1, "only model a is served");
    let s = &l.serving[0];
    assert_eq!(s.model.as_deref(), Some("a"));
    assert_eq!(s.training.runs, 1, "model b's training is not a's");
    assert!(close(s.training.operational.kg(), train_a.operational.kg()));
    let p = s.projection.unwrap();
    let secs = serve_a.duration.as_secs_f64();
    // At the measured rate (one request a second) a year is the measured hour scaled.
    assert!(close(p.requests_per_day, 86_400.0));
    let year = 365.0 * 86_400.0;
    assert!((p.energy.kwh() / (serve_a.energy_kwh.total.kwh() * year / secs) - 1.0).abs() < 1e-9);
    assert!((p.idle_share.unwrap() - 0.25).abs() < 1e-9);
    let days = train_a.operational.kg() / (p.operational.kg() / 365.0);
    assert!((s.days_to_match_training().unwrap() / days - 1.0).abs() < 1e-9);

    // A lighter given load costs more per request: the idle power is paid regardless.
    let light = ecotrace_report::lifecycle_projected(&rs, Some(8_640.0));
    let q = light.serving[0].projection.unwrap();
    assert!(q.energy < p.energy);
    assert!(q.per_unit.energy_wh_per_request > p.per_unit.energy_wh_per_request);
    assert!(q.idle_share.unwrap() > 0.25);

    let text = render_lifecycle("vision", &l, Format::Table);
    assert!(
        text.contains("Serving model a: one year projected beside its training"),
        "{text}"
    );
    assert!(text.contains("serving, one year"), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&render_lifecycle("vision", &l, Format::Json)).unwrap();
    let j = &json["serving"][0];
    assert_eq!(j["model"], "a");
    assert_eq!(j["measured"]["requests"], 3723);
    assert_eq!(j["year"]["rate"], "measured");
    assert!((j["year"]["energy_kwh"].as_f64().unwrap() / p.energy.kwh() - 1.0).abs() < 1e-9);
    assert_eq!(j["training"]["runs"], 1);
    let html = render_lifecycle("vision", &l, Format::Html);
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("Training and one year of serving"), "{html}");
    assert!(html.matches("<rect").count() >= 2, "{html}");
    let csv = render_lifecycle("vision", &l, Format::Csv);
    let row = csv
        .lines()
        .find(|l| l.starts_with("serving year (a)"))
        .unwrap();
    assert_eq!(
        row.split(',').count(),
        csv.lines().next().unwrap().split(',').count()
    );

    // Unnamed serving runs are set beside all the project's training runs.
    let unnamed = ecotrace_report::lifecycle(&[train_a, served("s", None, 10)]);
    assert_eq!(unnamed.serving[0].training.runs, 1);
    assert_eq!(unnamed.serving[0].model, None);
}

/// The `<title>`s of the circles of the SVG whose title is `chart`.
fn point_titles(html: &str, chart: &str) -> Vec<String> {
    let start = html
        .find(&format!("<title>{chart}</title>"))
        .unwrap_or_else(|| panic!("no chart {chart:?}"));
    let svg = &html[start..start + html[start..].find("</svg>").unwrap()];
    svg.split("<circle")
        .skip(1)
        .filter_map(|c| {
            let t = c.split_once("<title>")?.1;
            Some(t.split_once("</title>")?.0.to_string())
        })
        .collect()
}

#[test]
fn serving_pages_chart_energy_per_1k_tokens_by_hour_and_against_request_rate() {
    use ecotrace_core::serving::HourRow;
    use ecotrace_core::{Energy, EnergyBreakdown};
    let r = served("serve-a", Some("a"), 3000);
    // Three hours: a quiet, a busy and an idle one (no tokens: no point, a gap).
    let mut rows = Vec::new();
    for (i, (req, tok, wh)) in [
        (100u64, 10_000u64, 50.0),
        (2000, 200_000, 150.0),
        (0, 0, 40.0),
    ]
    .into_iter()
    .enumerate()
    {
        let mut h = HourRow::new(common::at(2024, 5, 1, 9 + i as u32, 0, 0));
        h.measured_s = 3600.0;
        h.work.requests = req;
        h.work.generated_tokens = tok;
        let e = Energy::from_wh(wh);
        h.energy_kwh = EnergyBreakdown {
            cpu: e,
            total: e,
            ..Default::default()
        };
        rows.push(h);
    }
    let totals = ecotrace_report::run_hours(&r, &rows);
    let html = ecotrace_report::run_page(&r, &[], &totals, None);
    let by_hour = point_titles(&html, "Energy per 1,000 generated tokens by hour");
    assert_eq!(
        by_hour,
        [
            "2024-05-01 09:00: Wh per 1k tokens 5.00",
            "2024-05-01 10:00: Wh per 1k tokens 0.750"
        ]
    );
    let scatter = point_titles(
        &html,
        "Energy per 1,000 generated tokens against request rate",
    );
    assert_eq!(
        scatter,
        [
            "2024-05-01 09:00: 100 requests/h, 5.00 Wh per 1k tokens",
            "2024-05-01 10:00: 2000 requests/h, 0.750 Wh per 1k tokens"
        ]
    );
    // The same section on a report page; none without hourly rows.
    let rs = [r.clone()];
    let opts = ecotrace_report::HtmlOptions {
        hours: &totals,
        ..Default::default()
    };
    assert_eq!(
        point_titles(
            &ecotrace_report::report_html(&rs, &opts),
            "Energy per 1,000 generated tokens by hour"
        )
        .len(),
        2
    );
    assert!(!ecotrace_report::run_html(&r, &[]).contains("per 1,000 generated tokens by hour"));
}
