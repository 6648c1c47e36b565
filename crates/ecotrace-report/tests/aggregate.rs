//! Aggregation with numbers worked out by hand from the fixtures, report rendering in every format,
//! and parsing of `GroupBy` and `Format`.

mod common;

use std::time::Duration;

use ecotrace_report::*;
use insta::assert_snapshot;

/// Fixture energies (kWh) — see `common`:
/// finished        cpu 0.125         gpu 0.75      ram 0.0078125       = 0.8828125, 61.796875 g
/// failed          cpu 0.0009765625  gpu 0         ram 0.000244140625  = 0.001220703125, 0.587158203125 g
/// failed-to-start 0                                                   = 0, 0 g
/// hostile         cpu 0.0000123                                       = 0.0000123, 0.0000123*238 g
/// interrupted     cpu 0.00390625    gpu 0.015625  ram 0.0009765625    = 0.0205078125, 2.255859375 g
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
}

#[track_caller]
fn check(g: &Group, key: &str, runs: usize, failed: usize, secs: f64, kwh: [f64; 4], grams: f64) {
    assert_eq!(g.key, key);
    assert_eq!(g.runs, runs, "{key}: runs");
    assert_eq!(g.failed_runs, failed, "{key}: failed runs");
    assert_eq!(g.duration, Duration::from_secs_f64(secs), "{key}: duration");
    let got = [
        g.energy.cpu.kwh(),
        g.energy.gpu.kwh(),
        g.energy.ram.kwh(),
        g.energy.total.kwh(),
    ];
    for (i, (a, b)) in got.iter().zip(kwh).enumerate() {
        assert!(close(*a, b), "{key}: energy[{i}] {a} != {b}");
    }
    assert!(
        close(g.operational.grams(), grams),
        "{key}: {} g != {grams} g",
        g.operational.grams()
    );
}

const HOSTILE_G: f64 = 0.0000123 * 238.0;

#[test]
fn by_project() {
    let (groups, total) = aggregate(&common::all(), GroupBy::Project);
    let keys: Vec<&str> = groups.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(keys, ["nlp", "team \"a\", b\nc|d", "vision"]);
    // nlp = failed-to-start + interrupted
    check(
        &groups[0],
        "nlp",
        2,
        2,
        245.0,
        [0.00390625, 0.015625, 0.0009765625, 0.0205078125],
        2.255859375,
    );
    check(
        &groups[1],
        "team \"a\", b\nc|d",
        1,
        0,
        12.5,
        [0.0000123, 0.0, 0.0, 0.0000123],
        HOSTILE_G,
    );
    // vision = finished + failed
    check(
        &groups[2],
        "vision",
        2,
        1,
        3818.0,
        [0.1259765625, 0.75, 0.008056640625, 0.884033203125],
        62.384033203125,
    );
    check(
        &total,
        "total",
        5,
        3,
        4075.5,
        [0.1298951125, 0.765625, 0.009033203125, 0.904553315625],
        64.639892578125 + HOSTILE_G,
    );
}

#[test]
fn by_day_sorts_chronologically_in_utc() {
    let (groups, total) = aggregate(&common::all(), GroupBy::Day);
    let keys: Vec<&str> = groups.iter().map(|g| g.key.as_str()).collect();
    // The hostile run starts at 23:59:59 on the 2nd and ends on the 3rd: it counts on its start day.
    assert_eq!(keys, ["2024-05-01", "2024-05-02", "2024-05-03"]);
    assert_eq!(groups.iter().map(|g| g.runs).collect::<Vec<_>>(), [2, 2, 1]);
    assert_eq!(
        groups.iter().map(|g| g.failed_runs).collect::<Vec<_>>(),
        [1, 1, 1]
    );
    check(
        &groups[1],
        "2024-05-02",
        2,
        1,
        12.5,
        [0.0000123, 0.0, 0.0, 0.0000123],
        HOSTILE_G,
    );
    assert_eq!(total.runs, 5);
}

#[test]
fn by_status_and_phase() {
    let (groups, _) = aggregate(&common::all(), GroupBy::Status);
    let got: Vec<(&str, usize, usize)> = groups
        .iter()
        .map(|g| (g.key.as_str(), g.runs, g.failed_runs))
        .collect();
    assert_eq!(
        got,
        [
            ("failed", 1, 1),
            ("failed-to-start", 1, 1),
            ("finished", 2, 0),
            ("interrupted", 1, 1)
        ]
    );
    // Zero-energy failed-to-start run still counted.
    check(&groups[1], "failed-to-start", 1, 1, 0.0, [0.0; 4], 0.0);
    let (groups, _) = aggregate(&common::all(), GroupBy::Phase);
    let keys: Vec<&str> = groups.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(
        keys,
        ["data", "experiment", "inference", "other", "training"]
    );
    check(
        &groups[4],
        "training",
        1,
        0,
        3723.0,
        [0.125, 0.75, 0.0078125, 0.8828125],
        61.796875,
    );
}

#[test]
fn group_sums_equal_total() {
    for by in GroupBy::ALL {
        let (groups, total) = aggregate(&common::all(), *by);
        assert_eq!(groups.iter().map(|g| g.runs).sum::<usize>(), total.runs);
        assert_eq!(
            groups.iter().map(|g| g.failed_runs).sum::<usize>(),
            total.failed_runs
        );
        let kwh: f64 = groups.iter().map(|g| g.energy.total.kwh()).sum();
        assert!(close(kwh, total.energy.total.kwh()), "{by}");
    }
}

#[test]
fn empty_input() {
    let (groups, total) = aggregate(&[], GroupBy::Phase);
    assert!(groups.is_empty());
    assert_eq!(total.runs, 0);
    assert_eq!(total.key, "total");
    assert_eq!(total.energy.total.kwh(), 0.0);
    assert_snapshot!(render_report(
        &groups,
        &total,
        GroupBy::Phase,
        Format::Table
    ));
}

#[test]
fn parse_group_by() {
    assert_eq!("phase".parse::<GroupBy>().unwrap(), GroupBy::Phase);
    assert_eq!(" Project ".parse::<GroupBy>().unwrap(), GroupBy::Project);
    assert_eq!("DAY".parse::<GroupBy>().unwrap(), GroupBy::Day);
    assert_eq!("month".parse::<GroupBy>().unwrap(), GroupBy::Month);
    assert_eq!("status".parse::<GroupBy>().unwrap(), GroupBy::Status);
    for g in GroupBy::ALL {
        assert_eq!(g.to_string().parse::<GroupBy>().unwrap(), *g);
    }
    let e = "week".parse::<GroupBy>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown group-by \"week\": expected one of phase, project, day, month, status, job"
    );
}

#[test]
fn parse_format() {
    assert_eq!("table".parse::<Format>().unwrap(), Format::Table);
    assert_eq!("JSON".parse::<Format>().unwrap(), Format::Json);
    assert_eq!("csv".parse::<Format>().unwrap(), Format::Csv);
    assert_eq!("markdown".parse::<Format>().unwrap(), Format::Markdown);
    assert_eq!("md".parse::<Format>().unwrap(), Format::Markdown);
    for f in Format::ALL {
        assert_eq!(f.to_string().parse::<Format>().unwrap(), *f);
    }
    let e = "xml".parse::<Format>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown format \"xml\": expected one of table, json, csv, markdown, html, latex, model-card, codecarbon-csv"
    );
    assert!("".parse::<Format>().is_err());
}

fn report(by: GroupBy, f: Format) -> String {
    let (groups, total) = aggregate(&common::all(), by);
    render_report(&groups, &total, by, f)
}

#[test]
fn report_table() {
    assert_snapshot!(report(GroupBy::Project, Format::Table));
}

#[test]
fn report_table_by_day() {
    assert_snapshot!(report(GroupBy::Day, Format::Table));
}

#[test]
fn report_markdown() {
    assert_snapshot!(report(GroupBy::Phase, Format::Markdown));
}

#[test]
fn report_json() {
    let s = report(GroupBy::Status, Format::Json);
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    assert_eq!(v["group_by"], "status");
    assert_eq!(v["total"]["runs"], 5);
    assert_eq!(v["total"]["failed_runs"], 3);
    assert!(v["total"].get("key").is_none());
    assert_eq!(v["groups"][2]["key"], "finished");
    assert_eq!(v["groups"][0]["energy_kwh"]["total"], 0.001220703125);
    assert_snapshot!(s);
}

/// Splits RFC 4180 CSV into records of fields (a minimal reader for the tests).
fn parse_csv(s: &str) -> Vec<Vec<String>> {
    let mut rows = vec![];
    let mut row = vec![];
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(!quoted, "unterminated quote");
    assert!(field.is_empty() && row.is_empty(), "missing final newline");
    rows
}

#[test]
fn report_csv_quotes_hostile_keys() {
    let s = report(GroupBy::Project, Format::Csv);
    let rows = parse_csv(&s);
    assert_eq!(
        rows[0],
        [
            "project",
            "runs",
            "failed_runs",
            "duration_s",
            "energy_cpu_kwh",
            "energy_gpu_kwh",
            "energy_ram_kwh",
            "energy_total_kwh",
            "operational_kgco2e",
            "embodied_kgco2e",
            "embodied_runs",
            "water_l",
            "water_runs",
            "cost_usd",
            "cost_runs",
            "basis",
            "runs_lifecycle",
            "runs_direct",
            "runs_marginal",
            "runs_unstated"
        ]
    );
    assert_eq!(rows.len(), 4, "header + 3 groups, no total row");
    assert_eq!(rows[2][0], "team \"a\", b\nc|d");
    assert_eq!(rows[3][0], "vision");
    assert_eq!(rows[3][7], "0.884033203125");
    assert_eq!(rows[3][3], "3818");
    assert!(rows.iter().all(|r| r.len() == 20));
    // A group of runs on two bases says so.
    assert_eq!(rows[3][15..], ["mixed", "1", "0", "0", "1"]);
    assert_snapshot!(s);
}

#[test]
fn runs_csv_round_trips_hostile_values() {
    let rs = common::all();
    let rows = parse_csv(&runs_csv(&rs));
    assert_eq!(rows.len(), 1 + rs.len());
    assert!(
        rows.iter().all(|r| r.len() == 27),
        "every row has every column"
    );
    let h = &rows[4]; // the hostile run, fourth in `all()`
    assert_eq!(h[1], "team \"a\", b\nc|d");
    assert_eq!(h[18], "host,with\"quote");
    assert_eq!(h[20], "GPU\\;one");
    assert_eq!(h[21], "k,1=v \"q\"\nnext;x\\=y=1\\;2");
    let fts = &rows[3];
    assert_eq!(fts[3], "failed-to-start");
    assert_eq!(fts[4], "127");
    assert_eq!(rows[1][4], "0");
    assert_eq!(fts[11], "0");
    let i = &rows[5];
    assert_eq!(i[14], "user", "user intensity: zone as recorded");
    assert_eq!(i[16], "", "and no year");
    assert_eq!(i[21], "a\\;b=c\\=d;model=bert-base");
}
