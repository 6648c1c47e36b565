//! Benchmark of the HTML reports at scale (run by `scripts/bench-report`, not by the tests):
//! a project of 10 000 runs over two years, and one run of a week sampled every second
//! (604 800 samples). Prints the time to render and the page size, and exits non-zero when a page
//! takes 2 s or more or weighs 5 MB or more.
//!
//! Usage: cargo run --release -p ecotrace-report --example report_bench [-- --runs N --csv FILE]
//! With `--csv FILE` it also writes the runs as CodeCarbon CSV, for the script's end-to-end check;
//! with `--html FILE`, the report page, for a look.

use std::time::Instant;

use ecotrace_core::{CarbonMass, Phase, Power, PowerSample};
use ecotrace_report::{
    codecarbon_csv, parse_codecarbon, report_html, run_html, GroupBy, HtmlOptions, ImportOptions,
    CODECARBON_COLUMNS,
};

const BUDGET_S: f64 = 2.0;
const BUDGET_BYTES: usize = 5_000_000;

/// A deterministic pseudo-random number in [0, 1).
fn rnd(i: u64, salt: u64) -> f64 {
    let mut x = i.wrapping_mul(0x9E3779B97F4A7C15) ^ salt.wrapping_mul(0xD1B54A32D192ED03);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58476D1CE4E5B9);
    x ^= x >> 29;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let n: u64 = arg("--runs").map(|s| s.parse().unwrap()).unwrap_or(10_000);

    // The runs, as CodeCarbon rows (the shortest way to build complete records), then given
    // phases, metrics and embodied carbon.
    let mut csv = CODECARBON_COLUMNS.join(",");
    csv.push('\n');
    let start = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
        .unwrap()
        .timestamp();
    for i in 0..n {
        let t = start + (i as i64) * (2 * 365 * 86400 / n as i64);
        let ts = chrono::DateTime::from_timestamp(t, 0).unwrap();
        let hours = 0.1 + 8.0 * rnd(i, 1);
        let (cpu, gpu, ram) = (0.15 * hours, 1.2 * hours * rnd(i, 2), 0.01 * hours);
        let total = cpu + gpu + ram;
        let kg = total * 0.056;
        let row = [
            ts.format("%Y-%m-%dT%H:%M:%S").to_string(),
            "vision".into(),
            format!("{:08x}-0000-4000-8000-{:012x}", i as u32, i),
            String::new(),
            format!("{}", hours * 3600.0),
            format!("{kg}"),
            format!("{}", kg / (hours * 3600.0)),
            "150".into(),
            "300".into(),
            "10".into(),
            format!("{cpu}"),
            format!("{gpu}"),
            format!("{ram}"),
            format!("{total}"),
            String::new(),
            "France".into(),
            "FRA".into(),
            String::new(),
            String::new(),
            String::new(),
            "Linux".into(),
            String::new(),
            "3.3.0".into(),
            "64".into(),
            "AMD EPYC 7543".into(),
            "2".into(),
            "2 x NVIDIA A100-SXM4-80GB".into(),
            String::new(),
            String::new(),
            "256".into(),
            "process".into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            "N".into(),
            "1.0".into(),
            String::new(),
        ];
        csv.push_str(&row.join(","));
        csv.push('\n');
    }
    let mut runs = parse_codecarbon(&csv, &ImportOptions::default()).expect("generated CSV");
    let phases = [
        Phase::Experiment,
        Phase::Tuning,
        Phase::Training,
        Phase::Inference,
    ];
    for (i, r) in runs.iter_mut().enumerate() {
        let i = i as u64;
        r.phase = phases[(i % 4) as usize];
        r.metrics.insert(
            "val_accuracy".into(),
            0.7 + 0.25 * (1.0 - (-r.operational.kg() * 20.0).exp()) * rnd(i, 3).sqrt(),
        );
        r.embodied = Some(CarbonMass::from_kg(
            r.duration.as_secs_f64() / 3600.0 * 0.01,
        ));
    }
    if let Some(path) = arg("--csv") {
        std::fs::write(&path, codecarbon_csv(&runs)).expect("write the CSV");
    }

    let mut over = false;
    let t0 = Instant::now();
    let html = report_html(
        &runs,
        &HtmlOptions {
            subject: Some("project vision"),
            group_by: Some(GroupBy::Phase),
            metric: Some("val_accuracy"),
            ..Default::default()
        },
    );
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "report_html: {n} runs in {:.3} s, {:.2} MB",
        secs,
        html.len() as f64 / 1e6
    );
    over |= secs >= BUDGET_S || html.len() >= BUDGET_BYTES;
    if let Some(path) = arg("--html") {
        std::fs::write(&path, &html).expect("write the page");
    }

    let week = 7 * 86400;
    let samples: Vec<PowerSample> = (1..=week)
        .map(|s| PowerSample {
            t_s: s as f64,
            cpu_w: Power::from_watts(100.0 + 50.0 * rnd(s as u64, 4)),
            gpu_w: Power::from_watts(300.0 + 300.0 * rnd(s as u64, 5)),
            ram_w: Power::from_watts(10.0),
        })
        .collect();
    let t0 = Instant::now();
    let page = run_html(&runs[0], &samples);
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "run_html: {} samples in {:.3} s, {:.2} MB",
        samples.len(),
        secs,
        page.len() as f64 / 1e6
    );
    over |= secs >= BUDGET_S || page.len() >= BUDGET_BYTES;
    if over {
        eprintln!(
            "over budget: a page took {BUDGET_S} s or more, or weighs {BUDGET_BYTES} bytes or more"
        );
        std::process::exit(1);
    }
}
