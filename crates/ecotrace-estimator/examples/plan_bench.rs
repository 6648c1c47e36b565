//! Benchmark of the planner (scripts/bench-plan): 30 regions × a year of hours.
//! 0. the bundled hourly data: parsing its manifest, decoding one zone-year on one basis;
//! 1. the search alone (sliding sums over 30 decoded series of 8 760 hours);
//! 2. `plan()` as the CLI calls it (resolve, decode the bundled series, search, rank).
//!
//! Prints the median of several runs, in milliseconds.

use std::time::Instant;

use chrono::{TimeZone, Utc};
use ecotrace_core::GridBasis;
use ecotrace_estimator::plan::{plan, PlanOptions};

/// CPU time of this thread so far, in ms (Linux `/proc/thread-self/schedstat`: time on a CPU, in
/// ns), so the figure does not count time spent waiting for a CPU on a loaded machine; `None`
/// elsewhere.
fn cpu_ms() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e6)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // The bundled manifest, parsed once per process on first use.
    let t = Instant::now();
    let n = ecotrace_data::hourly_series().len();
    let manifest_ms = t.elapsed().as_secs_f64() * 1e3;
    // One zone, one year, one basis: what a run charged by the hour or a plan decodes per series.
    let fr = ecotrace_data::hourly("FR", 2022).unwrap();
    let mut one = Vec::new();
    for _ in 0..51 {
        let t = Instant::now();
        std::hint::black_box(fr.values(GridBasis::Lifecycle));
        one.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "bundled hourly data: manifest of {n} series parsed in {manifest_ms:.3} ms; one zone-year on one basis decoded in {:.3} ms (median)",
        median(one)
    );
    let mut regions: Vec<String> = ecotrace_data::hourly_series()
        .iter()
        .filter(|s| s.year == 2022)
        .map(|s| s.zone.clone())
        .collect();
    regions.extend(["aws:eu-north-1", "aws:us-east-1"].map(String::from));
    regions.truncate(30);
    assert_eq!(regions.len(), 30, "{regions:?}");
    let series: Vec<Vec<f64>> = regions
        .iter()
        .map(|r| {
            let g = ecotrace_data::resolve_region(r).unwrap().grid_zone;
            let (z, _) = ecotrace_data::hourly_zone(&g).unwrap();
            ecotrace_data::hourly(z, 2022)
                .unwrap()
                .values(GridBasis::Lifecycle)
        })
        .collect();
    let len = 6;
    let mut search = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        let mut best = f64::INFINITY;
        for v in &series {
            let w = ecotrace_core::plan::best_window(v, len, 0, v.len() - len).unwrap();
            best = best.min(w.mean);
        }
        std::hint::black_box(best);
        search.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let opts = PlanOptions {
        duration: Some("6h".into()),
        regions: regions.clone(),
        start_after: Some("2022-01-01T00:00Z".into()),
        deadline: Some("2022-12-31T23:00Z".into()),
        ..Default::default()
    };
    let now = Utc.with_ymd_and_hms(2022, 1, 1, 0, 0, 0).unwrap();
    let (mut full, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        let (t, c) = (Instant::now(), cpu_ms());
        let p = plan(&opts, now, &[]).unwrap();
        std::hint::black_box(&p);
        full.push(t.elapsed().as_secs_f64() * 1e3);
        if let (Some(a), Some(b)) = (c, cpu_ms()) {
            cpu.push(b - a);
        }
    }
    println!(
        "30 regions x 8760 h, 6 h window: search {:.2} ms, plan() with decoding {:.1} ms wall (median; fastest {:.1} ms){}",
        median(search),
        median(full.clone()),
        full.iter().copied().fold(f64::INFINITY, f64::min),
        if cpu.is_empty() {
            String::new()
        } else {
            format!(", {:.1} ms CPU (median)", median(cpu))
        }
    );
}
