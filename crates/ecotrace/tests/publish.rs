//! End-to-end tests of the published formats through the binary: `report --format html --output`,
//! `show --format latex|model-card|codecarbon-csv`, and `import codecarbon` (good, repeated and bad
//! files, all or nothing), on a real ledger in a temp dir. Sensors are pinned as in `cli.rs`.

mod common;

use common::{cc_row, stderr, Env, CC_HEADER};
use serde_json::Value;

/// What these tests add to the shared environment.
trait Recorded {
    /// Records a short busy run with a logged metric; returns its id.
    fn record(&self, project: &str, phase: &str) -> String;
    fn run_count(&self) -> usize;
}

impl Recorded for Env {
    fn record(&self, project: &str, phase: &str) -> String {
        let out = self.ok(&[
            "run",
            "--json",
            "--project",
            project,
            "--phase",
            phase,
            "--region",
            "FR",
            "--interval",
            "100ms",
            "--cpu-power",
            "100",
            "--",
            "sh",
            "-c",
            "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done",
        ]);
        let rec: Value = serde_json::from_str(&out).unwrap();
        rec["id"].as_str().unwrap().to_string()
    }

    fn run_count(&self) -> usize {
        let v: Value = serde_json::from_str(&self.ok(&["runs", "--json"])).unwrap();
        v.as_array().unwrap().len()
    }
}

#[test]
fn report_html_is_written_to_the_output_file() {
    let env = Env::new();
    env.record("vision", "training");
    env.record("vision", "inference");
    let file = env.path("report.html");
    let out = env.run(&[
        "report",
        "--project",
        "vision",
        "--format",
        "html",
        "--metric",
        "val_accuracy",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "the page went to stdout too");
    assert!(stderr(&out).contains("wrote"), "{}", stderr(&out));
    let html = std::fs::read_to_string(&file).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("ecotrace report: project vision"));
    assert!(html.contains("IT energy by phase and component"));
    assert!(html.contains("Trend by week"));
    assert!(!html.contains("<script"));
    // No stray temporary file left beside it.
    let names: Vec<_> = std::fs::read_dir(env.path(""))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    // A directory that does not exist: a clear error, no file.
    let out = env.run(&[
        "report",
        "--format",
        "html",
        "-o",
        "/nonexistent-dir/r.html",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot write /nonexistent-dir/r.html"),
        "{}",
        stderr(&out)
    );
}

/// `report` reads the ledger one run at a time for the published formats (sums from SQL, the rest
/// streamed): what it prints is what the library renders from every record in memory.
#[test]
fn published_reports_are_those_of_every_record_in_memory() {
    use ecotrace_ledger::Ledger as _;
    let env = Env::new();
    env.record("vision", "training");
    env.record("nlp", "inference");
    env.record("vision", "tuning");
    let ledger = ecotrace_ledger::SqliteLedger::open(env.ledger()).unwrap();
    let all = ledger.list(&ecotrace_ledger::RunFilter::default()).unwrap();
    assert_eq!(all.len(), 3);
    let vision = ledger
        .list(&ecotrace_ledger::RunFilter {
            project: Some("vision".into()),
            ..Default::default()
        })
        .unwrap();
    let memory = |runs: &[ecotrace_core::RunRecord], format, subject| {
        let opts = ecotrace_report::DocOptions {
            subject,
            ..Default::default()
        };
        ecotrace_report::report_document(runs, format, &opts)
    };
    use ecotrace_report::Format;
    for (name, format) in [
        ("latex", Format::Latex),
        ("model-card", Format::ModelCard),
        ("codecarbon-csv", Format::CodecarbonCsv),
        ("html", Format::Html),
    ] {
        assert_eq!(
            env.ok(&["report", "--format", name]),
            memory(&all, format, None),
            "{name}"
        );
        assert_eq!(
            env.ok(&["report", "--format", name, "--project", "vision"]),
            memory(&vision, format, Some("project vision")),
            "{name} of one project"
        );
    }
    // Streamed to a file as to stdout.
    let file = env.path("cc.csv");
    let out = env.run(&[
        "report",
        "--format",
        "codecarbon-csv",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(&file).unwrap();
    assert_eq!(csv, memory(&all, Format::CodecarbonCsv, None));
    assert!(
        stderr(&out).contains(&format!("({} bytes)", csv.len())),
        "{}",
        stderr(&out)
    );
    // No runs of the project: a usage error, nothing written.
    let out = env.run(&["report", "--format", "codecarbon-csv", "--project", "none"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}

#[test]
fn show_in_every_published_format() {
    let env = Env::new();
    let id = env.record("paper", "training");
    let short = &id[..8];
    let tex = env.ok(&["show", short, "--format", "latex"]);
    assert!(tex.contains("\\begin{tabular}"), "{tex}");
    assert!(tex.contains("Operational CO$_2$e"), "{tex}");
    let card = env.ok(&[
        "show",
        short,
        "--format",
        "model-card",
        "--training-type",
        "fine-tuning",
    ]);
    assert!(card.contains("co2_eq_emissions:\n  emissions: "), "{card}");
    assert!(card.contains("training_type: \"fine-tuning\""), "{card}");
    assert!(
        card.contains("geographical_location: \"France (grid zone FR)\""),
        "{card}"
    );
    // The source names each year once (not "... 2024 yearly average ... 2024").
    let source = card
        .lines()
        .find(|l| l.trim_start().starts_with("source:"))
        .expect("a source line");
    for year in 2015..=2030 {
        assert!(source.matches(&year.to_string()).count() <= 1, "{source}");
    }
    assert!(source.contains("2024"), "{source}");
    let cc = env.ok(&["show", short, "--format", "codecarbon-csv"]);
    assert!(cc.starts_with("timestamp,project_name,run_id,experiment_id,duration,emissions,"));
    assert!(cc.contains(&id));
    let html = env.ok(&["show", short, "--format", "html"]);
    assert!(
        html.contains("IT power over time by component"),
        "the power chart"
    );
    let table = env.ok(&["show", short]);
    assert!(table.contains("km driven by an average"), "{table}");
    // A bad format is a usage error listing the valid ones.
    let out = env.run(&["show", short, "--format", "pdf"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("html, latex, model-card, codecarbon-csv"),
        "{}",
        stderr(&out)
    );
}

/// A file of several import batches (100 runs each here, `ECOTRACE_IMPORT_BATCH`): read twice
/// (checked, then stored a batch at a time), a bad last row still stops everything, and the
/// longest row of a run wins even when its rows lie in different batches.
#[test]
fn import_codecarbon_streams_a_file_of_several_batches() {
    let env = Env::new();
    let n = 250;
    let id = |i: usize| format!("00000000-0000-4000-8000-{i:012x}");
    let mut csv = format!("{CC_HEADER}\n");
    // Run 0 first with a short row; its cumulative, longer row comes last (another batch).
    for i in 0..n {
        let secs = if i == 0 { 5 } else { 60 + i % 100 };
        csv.push_str(&cc_row(&id(i), &secs.to_string(), "1e-05"));
        csv.push('\n');
    }
    csv.push_str(&cc_row(&id(0), "9999", "2e-05"));
    csv.push('\n');
    let bad = env.path("bad.csv");
    std::fs::write(&bad, format!("{csv}{}\n", cc_row(&id(n), "-1", "1e-05"))).unwrap();
    let import = |f: &std::path::Path| {
        let mut c = env.cmd();
        c.args(["import", "codecarbon", f.to_str().unwrap()]);
        c.env("ECOTRACE_IMPORT_BATCH", "100");
        c.output().unwrap()
    };
    let out = import(&bad);
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(
        e.contains(&format!("line {}: column duration", n + 3)),
        "{e}"
    );
    assert!(e.contains("nothing was imported"), "{e}");
    assert_eq!(env.run_count(), 0);

    let file = env.path("emissions.csv");
    std::fs::write(&file, &csv).unwrap();
    let out = String::from_utf8(import(&file).stdout).unwrap();
    assert!(out.starts_with(&format!("imported {n} runs")), "{out}");
    assert_eq!(env.run_count(), n);
    let rec: Value = serde_json::from_str(&env.ok(&["show", &id(0), "--json"])).unwrap();
    assert_eq!(rec["duration_s"], 9999.0);
    assert_eq!(rec["operational_kgco2e"], 2e-05);
    // Again: everything skipped, the first few named.
    let out = String::from_utf8(import(&file).stdout).unwrap();
    assert!(out.contains("imported 0 runs"), "{out}");
    assert!(
        out.contains(&format!("skipped {n} already in the ledger"))
            && out.contains(" and 230 more"),
        "{out}"
    );
    assert_eq!(env.run_count(), n);
}

#[test]
fn import_codecarbon_keeps_history_all_or_nothing() {
    let env = Env::new();
    env.record("mine", "training");
    let file = env.path("emissions.csv");
    let good = format!(
        "{CC_HEADER}\n{}\n{}\n{}\n",
        cc_row("3b540626-49b2-49c4-bd31-9adabd153544", "6.1", "4.4e-06"),
        cc_row("3b540626-49b2-49c4-bd31-9adabd153544", "12.1", "1.3e-05"),
        cc_row("9f0c1a2b-0000-4000-8000-00000000beef", "30", "2.0e-05"),
    );
    std::fs::write(&file, &good).unwrap();
    let out = env.ok(&[
        "import",
        "codecarbon",
        file.to_str().unwrap(),
        "--phase",
        "training",
    ]);
    assert!(out.starts_with("imported 2 runs"), "{out}");
    assert_eq!(env.run_count(), 3);
    let shown = env.ok(&["show", "3b540626"]);
    assert!(shown.contains("imported from CodeCarbon 3.3.0"), "{shown}");
    assert!(shown.contains("12.1s"), "the last cumulative row: {shown}");
    let rec: Value = serde_json::from_str(&env.ok(&["show", "3b540626", "--json"])).unwrap();
    assert_eq!(rec["operational_kgco2e"], 1.3e-05);
    assert_eq!(rec["phase"], "training");
    assert_eq!(rec["project"], "bert");
    // Again: nothing added twice.
    let out = env.ok(&["import", "codecarbon", file.to_str().unwrap()]);
    assert!(
        out.contains("imported 0 runs") && out.contains("skipped 2"),
        "{out}"
    );
    assert_eq!(env.run_count(), 3);

    // A file with good rows and one bad row: an error naming the line, nothing imported.
    let bad = env.path("bad.csv");
    std::fs::write(
        &bad,
        format!(
            "{CC_HEADER}\n{}\n{}\n",
            cc_row("aaaa0000-0000-4000-8000-000000000001", "10", "1e-05"),
            cc_row("aaaa0000-0000-4000-8000-000000000002", "ten", "1e-05"),
        ),
    )
    .unwrap();
    let out = env.run(&["import", "codecarbon", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(
        e.contains("line 3: column duration: \"ten\" is not a number"),
        "{e}"
    );
    assert!(e.contains("nothing was imported"), "{e}");
    assert_eq!(env.run_count(), 3);
    // Not a CodeCarbon file at all; a missing file.
    std::fs::write(&bad, "name,value\nx,1\n").unwrap();
    let out = env.run(&["import", "codecarbon", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a CodeCarbon emissions.csv"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["import", "codecarbon", "missing.csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot read missing.csv"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.run_count(), 3);
}

#[test]
fn codecarbon_csv_out_of_one_ledger_imports_into_another() {
    let a = Env::new();
    a.record("p", "training");
    a.record("p", "inference");
    let csv = a.ok(&["report", "--format", "codecarbon-csv"]);
    let b = Env::new();
    let file = b.path("from-a.csv");
    std::fs::write(&file, &csv).unwrap();
    let out = b.ok(&["import", "codecarbon", file.to_str().unwrap()]);
    assert!(out.starts_with("imported 2 runs"), "{out}");
    let total = |env: &Env| -> f64 {
        let v: Value = serde_json::from_str(&env.ok(&["report", "--format", "json"])).unwrap();
        v["total"]["operational_kgco2e"].as_f64().unwrap()
    };
    let (ta, tb) = (total(&a), total(&b));
    assert!((ta - tb).abs() <= 1e-9 * ta.max(1e-12), "{ta} != {tb}");
}
