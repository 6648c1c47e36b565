//! The published formats on fixed records: snapshots of every format for one run (`show`) and for
//! the fixed ledger (`report`), escaping of hostile user strings in HTML, LaTeX and YAML, the
//! figures behind the charts (Pareto front, weekly trend, downsampling), and CodeCarbon's CSV both
//! ways. Browser and pdflatex checks are in `browser.rs` and `latex.rs`.

mod common;
mod fixtures;

use ecotrace_core::{PowerSample, RunRecord};
use ecotrace_report::*;
use insta::assert_snapshot;

fn opts() -> DocOptions<'static> {
    DocOptions::default()
}

#[test]
fn show_every_format() {
    let r = common::finished();
    let s = common::samples();
    for f in Format::ALL {
        let out = show_document(&r, &s, *f, &opts());
        assert!(out.ends_with('\n'), "{f}: no final newline");
        insta::assert_snapshot!(format!("show_{}", f.as_str().replace('-', "_")), out);
    }
}

#[test]
fn report_every_format() {
    let rs = common::all();
    for f in Format::ALL {
        let out = report_document(&rs, *f, &opts());
        assert!(out.ends_with('\n'), "{f}: no final newline");
        insta::assert_snapshot!(format!("report_{}", f.as_str().replace('-', "_")), out);
    }
}

#[test]
fn project_latex_and_model_card() {
    let rs = fixtures::project();
    let o = DocOptions {
        subject: Some("project vision"),
        training_type: Some("pre-training"),
        ..opts()
    };
    assert_snapshot!("project_latex", report_document(&rs, Format::Latex, &o));
    assert_snapshot!(
        "project_model_card",
        report_document(&rs, Format::ModelCard, &o)
    );
}

#[test]
fn report_html_has_every_chart() {
    let rs = fixtures::project();
    let html = report_document(
        &rs,
        Format::Html,
        &DocOptions {
            subject: Some("project vision"),
            metric: Some("val_accuracy"),
            ..opts()
        },
    );
    for want in [
        "IT energy by phase and component",
        "CO2e by phase: operational and embodied side by side",
        "Operational vs embodied CO2e",
        "val_accuracy against operational CO2e per run",
        "Average CO2e per run by week",
        "Total CO2e by week",
        "Pareto front",
        "km driven by an average passenger car (US EPA, 2020)",
        "charges of a smartphone (US EPA, 2023)",
        "@media print",
        "width=device-width",
    ] {
        assert!(html.contains(want), "missing {want:?}");
    }
    assert_eq!(html.matches("<svg").count(), 6, "six charts");
    // Self-contained: no script, no URL the browser would fetch.
    assert!(!html.contains("<script"));
    assert!(!html.contains("src="));
    assert!(!html.contains("href="));
    assert!(!html.contains("url("));
    assert!(!html.contains("@import"));
}

#[test]
fn run_html_draws_power_by_component() {
    let r = common::finished();
    let html = show_document(&r, &common::samples(), Format::Html, &opts());
    assert!(html.contains("IT power over time by component"));
    assert_eq!(html.matches("<svg").count(), 1);
    // CPU, GPU and RAM each drawn as an area.
    assert_eq!(html.matches("<path d=\"M").count(), 3);
    assert!(html.contains("Embodied carbon"));
    // Operational and embodied are both shown, apart.
    assert!(html.contains("Operational CO2e") && html.contains("Embodied CO2e"));
}

#[test]
fn long_series_are_downsampled_for_the_chart() {
    let r = common::finished();
    let samples: Vec<PowerSample> = (1..=20_000)
        .map(|i| PowerSample {
            t_s: i as f64 * 0.2,
            ..common::samples()[i % 100]
        })
        .collect();
    let html = run_html(&r, &samples);
    assert!(html.contains("20000 samples averaged into 600 points"));
    assert!(html.len() < 200_000, "{} bytes", html.len());
}

#[test]
fn hostile_strings_are_escaped_in_html() {
    let mut rs = fixtures::project();
    rs.push(fixtures::hostile());
    let report = report_html(
        &rs,
        &HtmlOptions {
            subject: Some("<script>alert('s')</script>"),
            metric: Some("<script>alert('m')</script>"),
            group_by: Some(GroupBy::Project),
            ..Default::default()
        },
    );
    let run = run_html(&fixtures::hostile(), &common::samples());
    for html in [&report, &run] {
        assert!(!html.contains("<script"), "a script tag got through");
        assert!(!html.contains("<img"), "an img tag got through");
        assert!(!html.contains("<b>GPU"), "markup got through");
        assert!(!html.contains("</style><"));
        assert!(html.contains("&lt;script&gt;"));
    }
    assert!(
        report.contains("&lt;script&gt;alert(&#39;m&#39;)&lt;/script&gt; against operational CO2e")
    );
}

#[test]
fn hostile_strings_are_escaped_in_latex() {
    let rs = vec![fixtures::hostile()];
    for out in [
        report_document(&rs, Format::Latex, &opts()),
        report_document(
            &rs,
            Format::Latex,
            &DocOptions {
                subject: Some("\\input{/etc/passwd} & 100% #1 $x$"),
                ..opts()
            },
        ),
    ] {
        assert!(!out.contains("\\input{"), "{out}");
        assert!(!out.contains("\\def"), "{out}");
        // Every %, & and # that is not ours is escaped: no line is cut short by a comment, no cell
        // is added to the table.
        for line in out.lines().filter(|l| !l.starts_with('%')) {
            let unescaped = |c: char| {
                line.char_indices()
                    .filter(|(i, ch)| *ch == c && (*i == 0 || line.as_bytes()[i - 1] != b'\\'))
                    .count()
            };
            assert_eq!(unescaped('%'), 0, "{line}");
            assert_eq!(unescaped('#'), 0, "{line}");
            assert!(unescaped('&') <= 1, "{line}");
        }
        assert!(out.contains("\\textbackslash{}input\\{/etc/passwd\\}"));
    }
}

#[test]
fn hostile_strings_are_quoted_in_the_model_card() {
    let out = report_document(&[fixtures::hostile()], Format::ModelCard, &opts());
    // Each key on its own line, every value one double-quoted scalar.
    let keys: Vec<&str> = out
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && *l != "---")
        .collect();
    assert_eq!(keys.len(), 6, "{out}");
    assert!(keys[0] == "co2_eq_emissions:");
    for l in &keys[2..] {
        let (_, v) = l.split_once(": ").unwrap();
        assert!(v.starts_with('"') && v.ends_with('"'), "{l}");
    }
    assert!(out.contains("training_type: \"fine-tuning\\\" \\\\ %\""));
    assert_snapshot!(out);
}

#[test]
fn pareto_front_and_weekly_trend_figures() {
    let rs = fixtures::project();
    let html = report_html(&rs, &HtmlOptions::default());
    // The default metric is val_accuracy; the front is listed.
    assert!(html.contains("val_accuracy against operational CO2e per run"));
    let front = html
        .split("Runs on the Pareto front")
        .nth(1)
        .unwrap()
        .split("</table>")
        .next()
        .unwrap();
    let rows = front.matches("<tr><td>").count();
    assert!((2..25).contains(&rows), "{rows} runs on the front");
    // Check the front by brute force: a run is on it iff no other run is at least as accurate for
    // no more CO2e, and strictly better on one.
    let with: Vec<&RunRecord> = rs
        .iter()
        .filter(|r| r.metrics.contains_key("val_accuracy"))
        .collect();
    let dominated = |a: &RunRecord| {
        with.iter().any(|b| {
            let (ka, kb) = (a.operational.kg(), b.operational.kg());
            let (ma, mb) = (a.metrics["val_accuracy"], b.metrics["val_accuracy"]);
            kb <= ka && mb >= ma && (kb < ka || mb > ma)
        })
    };
    let expected = with.iter().filter(|r| !dominated(r)).count();
    assert_eq!(rows, expected);
    // Six ISO weeks, each with five runs.
    let weekly = html.split("Weekly figures").nth(1).unwrap();
    for w in 18..=23 {
        assert!(
            weekly.contains(&format!("<td>2024-W{w}</td><td class=\"n\">5</td>")),
            "W{w}"
        );
    }
}

#[test]
fn codecarbon_csv_has_codecarbon_columns_in_order() {
    let out = codecarbon_csv(&common::all());
    let header = out.lines().next().unwrap();
    assert_eq!(
        header,
        "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,cpu_utilization_percent,gpu_utilization_percent,ram_utilization_percent,ram_used_gb,on_cloud,pue,wue"
    );
    assert_eq!(CODECARBON_COLUMNS.len(), 38);
}

/// Three flushes of one CodeCarbon 3.3.0 run (cumulative rows), a second run with a GPU, and a
/// row of an older CodeCarbon without a run id.
const CODECARBON_FILE: &str = "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,cpu_utilization_percent,gpu_utilization_percent,ram_utilization_percent,ram_used_gb,on_cloud,pue,wue
2026-08-12T19:37:29,realrun,3b540626-49b2-49c4-bd31-9adabd153544,5b0fa12a-3dd7-45bb-9766-cc326314d9f1,6.1,4.4e-06,7.1e-07,8.8,0.0,6.0,1.5e-05,0.0,1.0e-05,2.5e-05,0.0,Spain,ESP,madrid,,,Linux-6.5,3.13.13,3.3.0,10,Intel Xeon,0,,-3.7,40.4,24.0,machine,0.0,0,64.2,9.16,N,1.0,0.0
2026-08-12T19:37:32,realrun,3b540626-49b2-49c4-bd31-9adabd153544,5b0fa12a-3dd7-45bb-9766-cc326314d9f1,9.1,1.1e-05,1.2e-06,9.06,0.0,6.0,2.3e-05,0.0,1.5e-05,3.8e-05,0.0,Spain,ESP,madrid,,,Linux-6.5,3.13.13,3.3.0,10,Intel Xeon,0,,-3.7,40.4,24.0,machine,11.1,0,64.5,9.2,N,1.0,0.0
2026-08-12T19:37:35,realrun,3b540626-49b2-49c4-bd31-9adabd153544,5b0fa12a-3dd7-45bb-9766-cc326314d9f1,12.1,1.3e-05,1.1e-06,9.2,0.0,6.0,3.1e-05,0.0,2.0e-05,5.1e-05,0.0,Spain,ESP,madrid,,,Linux-6.5,3.13.13,3.3.0,10,Intel Xeon,0,,-3.7,40.4,24.0,machine,8.3,0,64.6,9.25,N,1.0,0.0
2026-08-13T08:00:00,\"bert, large\",9f0c1a2b-0000-4000-8000-00000000beef,5b0fa12a-3dd7-45bb-9766-cc326314d9f1,3600.0,0.1128,3.1e-05,95.0,280.0,12.0,0.114,0.336,0.0144,0.4644,0.2322,France,FRA,,gcp,europe-west9,Linux-6.5,3.11.4,3.3.0,32,AMD EPYC 7B13,2,2 x NVIDIA A100-SXM4-40GB,,,128.0,process,35.0,80.0,20.0,25.6,Y,1.2,0.5
";

const OLD_CODECARBON_FILE: &str = "timestamp,project_name,duration,emissions,energy_consumed,country_name,country_iso_code,region,on_cloud,cloud_provider,cloud_region
2021-03-01T10:00:00,codecarbon,120.5,0.0021,0.0049,Canada,CAN,quebec,N,,
";

#[test]
fn codecarbon_import_keeps_their_figures() {
    let rs = parse_codecarbon(
        CODECARBON_FILE,
        &ImportOptions {
            source_name: "emissions.csv",
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(rs.len(), 2, "one record per CodeCarbon run");
    let a = &rs[0];
    // The last cumulative row, not the sum of the flushes.
    assert_eq!(a.duration.as_secs_f64(), 12.1);
    assert_eq!(a.operational.kg(), 1.3e-05);
    assert!((a.energy_kwh.total.kwh() - 5.1e-05).abs() < 1e-15);
    assert_eq!(a.intensity.zone, "ES");
    assert!(a.notes[0].contains("imported from CodeCarbon 3.3.0"));
    assert!(a.notes[0].contains("the last of 3 cumulative rows"));
    let b = &rs[1];
    assert_eq!(b.project, "bert, large");
    assert_eq!(b.host.gpus.len(), 2);
    // CodeCarbon's energy includes its PUE 1.2: IT energy = 0.4644 / 1.2.
    assert!((b.energy_kwh.total.kwh() - 0.387).abs() < 1e-12);
    assert!((b.energy_kwh.gpu.kwh() - 0.28).abs() < 1e-12);
    assert_eq!(b.operational.kg(), 0.1128);
    // emissions = energy_consumed × intensity.
    assert!((b.intensity.value.g_per_kwh() - 0.1128e3 / 0.4644).abs() < 1e-9);
    assert_eq!(b.tags["codecarbon.cloud_region"], "europe-west9");
    assert_eq!(b.water.unwrap().litres(), 0.2322);
    let old = parse_codecarbon(OLD_CODECARBON_FILE, &ImportOptions::default()).unwrap();
    assert_eq!(old.len(), 1);
    assert!(old[0].id.starts_with("codecarbon-"));
    assert_eq!(
        old[0].id,
        parse_codecarbon(OLD_CODECARBON_FILE, &ImportOptions::default()).unwrap()[0].id,
        "ids of rows without run_id are stable"
    );
    assert_snapshot!(runs_json(&rs));
}

#[test]
fn codecarbon_round_trip() {
    // ecotrace → CodeCarbon CSV → ecotrace keeps energy, emissions, duration, project and host.
    let rs: Vec<RunRecord> = common::all()
        .into_iter()
        .filter(|r| r.duration.as_secs_f64() > 0.0)
        .collect();
    let csv = codecarbon_csv(&rs);
    let back = parse_codecarbon(&csv, &ImportOptions::default()).unwrap();
    assert_eq!(back.len(), rs.len());
    for (a, b) in rs.iter().zip(&back) {
        assert_eq!(a.id, b.id);
        assert_eq!(a.project, b.project);
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * (1.0 + x.abs());
        assert!(
            close(a.energy_kwh.total.kwh(), b.energy_kwh.total.kwh()),
            "{}",
            a.id
        );
        assert!(
            close(a.energy_kwh.gpu.kwh(), b.energy_kwh.gpu.kwh()),
            "{}",
            a.id
        );
        assert!(close(a.operational.kg(), b.operational.kg()), "{}", a.id);
        assert!(close(a.duration.as_secs_f64(), b.duration.as_secs_f64()));
        assert_eq!(a.host.gpus, b.host.gpus);
        assert_eq!(a.pue.value, b.pue.value);
    }
    // And the file written again from the import is the same file.
    assert_eq!(codecarbon_csv(&back), csv);
}

#[test]
fn bad_codecarbon_files_are_refused_with_the_line() {
    let o = ImportOptions::default();
    let e = |text: &str| parse_codecarbon(text, &o).unwrap_err().to_string();
    assert!(e("").contains("empty"));
    assert!(e("a,b\n1,2\n").contains("not a CodeCarbon emissions.csv: no column timestamp"));
    let head = CODECARBON_FILE.lines().next().unwrap();
    assert!(e(head).contains("no rows"));
    let mut bad = CODECARBON_FILE.to_string();
    bad.push_str("2026-08-14T00:00:00,p,id-x,e,10,not-a-number,0,0,0,0,0,0,0,0,0,,,,,,,,,,,,,,,,,,,,,,1.0,0\n");
    let msg = e(&bad);
    assert!(
        msg.starts_with("line 6: column emissions: \"not-a-number\" is not a number"),
        "{msg}"
    );
    let mut short = CODECARBON_FILE.to_string();
    short.push_str("2026-08-14T00:00:00,p,id-y\n");
    assert!(e(&short).starts_with("line 6: 3 fields, but the header has 38"));
    let mut neg = CODECARBON_FILE.to_string();
    neg.push_str(
        "2026-08-14T00:00:00,p,id-z,e,-5,0,0,0,0,0,0,0,0,0,0,,,,,,,,,,,,,,,,,,,,,,1.0,0\n",
    );
    assert!(e(&neg).contains("column duration: -5 is negative"));
    let mut time = CODECARBON_FILE.to_string();
    time.push_str("yesterday,p,id-t,e,5,0,0,0,0,0,0,0,0,0,0,,,,,,,,,,,,,,,,,,,,,,1.0,0\n");
    assert!(e(&time).contains("column timestamp"));
    let mut pue = CODECARBON_FILE.to_string();
    pue.push_str("2026-08-14T00:00:00,p,id-p,e,5,0,0,0,0,0,0,0,0,0,0,,,,,,,,,,,,,,,,,,,,,,0.5,0\n");
    assert!(e(&pue).contains("column pue"));
}

#[test]
fn equivalents_follow_the_real_figures_in_terminal_output() {
    let rs = common::all();
    let table = report_document(&rs, Format::Table, &opts());
    let at_table = table.find("operational").unwrap();
    let at_equiv = table.find("km driven by an average passenger car").unwrap();
    assert!(at_equiv > at_table);
    assert!(table.contains("operational CO2e 64.6 gCO2e is about"));
    let show = show_run(&common::finished(), &[]);
    assert!(show.contains("charges of a smartphone (US EPA, 2023)"));
    for l in show.lines().chain(table.lines()) {
        if l.contains("CO2e is about") || l.contains("(US EPA") || l.contains("(UK Government") {
            assert!(l.chars().count() <= 80, "too wide: {l}");
        }
    }
}

#[test]
fn ranks_measuring_one_node_count_once_in_the_published_formats() {
    // Two machine-scope ranks of one job on one node, at the same time: each measured the whole
    // node, so the published totals count the node once, as `report --format table` does.
    let mut a = common::finished();
    a.scope = ecotrace_core::Scope::Machine;
    a.job = Some(ecotrace_core::JobInfo {
        id: "slurm:42".into(),
        source: ecotrace_core::JobSource::Slurm,
        step: None,
        node: "gpu-box-1".into(),
        rank: Some(0),
        local_rank: Some(0),
        world_size: Some(2),
    });
    let mut b = a.clone();
    b.id = "3f9a2c1e-5b7d-4c2a-9e8f-0123456789ac".into();
    b.job.as_mut().unwrap().rank = Some(1);
    let one = report_document(&[a.clone()], Format::Latex, &opts());
    let two = report_document(&[a, b], Format::Latex, &opts());
    let energy = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("IT energy"))
            .unwrap()
            .to_string()
    };
    assert_eq!(energy(&one), energy(&two));
    assert!(two.contains("Runs & 2"));
}
