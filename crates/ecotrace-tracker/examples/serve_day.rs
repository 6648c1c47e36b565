//! 24 simulated hours of a serving run at 1 s sampling, for `scripts/bench-serve`: the tracker's
//! long-lived state — the work book (hourly rows, idle/active split), the sample retention (last
//! 6 h at full rate, one a minute before) and the SQLite ledger it writes — driven by synthetic
//! samples on a simulated clock (no waiting), checkpointed every 5 s as a run is. Prints one JSON
//! line: the process's RSS and peak RSS after the day, the samples kept in the ledger, its size.
//!
//!     cargo run --release -p ecotrace-tracker --example serve_day -- [HOURS]

use std::time::Duration;

use chrono::Utc;
use ecotrace_core::serving::WorkCounts;
use ecotrace_core::{Energy, EnergyBreakdown, Power, PowerSample};
use ecotrace_ledger::{Ledger, SqliteLedger};
use ecotrace_sensors::meter::Live;
use ecotrace_sensors::Roots;
use ecotrace_tracker::retention::Retention;
use ecotrace_tracker::work::{SourceRead, WorkBook};
use ecotrace_tracker::{FileLayers, MeasureOptions, MeasureSettings, Run};

fn status_kb(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let hours: u64 = std::env::args()
        .nth(1)
        .and_then(|h| h.parse().ok())
        .unwrap_or(24);
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::create_dir_all(dir.path().join("sys")).expect("a fake sysfs");
    std::env::set_var("ECOTRACE_NVML_LIBRARY", "none");
    std::env::set_var("ECOTRACE_AMDSMI_LIBRARY", "none");
    let path = dir.path().join("ledger.db");
    let opts = MeasureOptions {
        cpu_power: Some(100.0),
        scope: Some("machine".into()),
        ..Default::default()
    };
    let settings = MeasureSettings::resolve(&opts, &FileLayers::default()).expect("settings");
    let roots = Roots {
        sysfs: dir.path().join("sys"),
        procfs: "/proc".into(),
    };
    let run = Run::begin(
        &settings,
        vec!["serve".into()],
        Box::new(SqliteLedger::open(&path).expect("ledger")),
        roots,
    )
    .expect("run");
    let mut ledger = SqliteLedger::open(&path).expect("ledger");
    let mut record = ledger.get(&run.id()).expect("the run");
    // One connection, as a measuring process holds: the run's own is closed (its record stays
    // `running`, which this benchmark does not care about).
    drop(run);
    let mut book = WorkBook::new();
    book.count_from("synthetic".into());
    let mut retention = Retention::default();
    let mut pending: Vec<PowerSample> = Vec::new();
    let start = Utc::now();
    let mut energy = 0.0;
    let rss_start = status_kb("VmRSS:");
    for s in 1..=hours * 3600 {
        // Busy 20 s of each minute at 300 W (2 requests a second), idle at 100 W otherwise.
        let busy = s % 60 < 20;
        let w = if busy { 300.0 } else { 100.0 };
        energy += w;
        if busy {
            book.add(WorkCounts {
                requests: 2,
                prompt_tokens: 100,
                generated_tokens: 400,
            });
        }
        let read = SourceRead::Ok {
            in_flight: Some(if busy { 2.0 } else { 0.0 }),
            reset: false,
        };
        book.source_state(read);
        let e = Energy::from_joules(energy);
        let live = Live {
            elapsed: Duration::from_secs(s),
            power: Power::from_watts(w),
            energy: e,
            by_kind: EnergyBreakdown {
                cpu: e,
                total: e,
                ..Default::default()
            },
        };
        book.step(start + chrono::Duration::seconds(s as i64), &live);
        pending.push(PowerSample {
            t_s: s as f64,
            cpu_w: Power::from_watts(w),
            gpu_w: Power::ZERO,
            ram_w: Power::ZERO,
        });
        if s % 5 == 0 {
            record.duration = Duration::from_secs(s);
            book.fill(&mut record);
            retention
                .checkpoint(&mut ledger, &record, &mut pending, s as f64)
                .expect("checkpoint");
            ledger
                .store_hours(&record.id, &book.rows_to_store())
                .expect("hours");
        }
    }
    let samples = ledger.samples(&record.id).expect("samples").len();
    let hours_stored = ledger.hours(&record.id).expect("hours").len();
    let size: u64 = std::fs::read_dir(dir.path())
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    println!(
        "{{\"simulated_hours\": {hours}, \"rss_kb_before\": {rss_start}, \"rss_kb\": {}, \"peak_rss_kb\": {}, \"samples_kept\": {samples}, \"hour_rows\": {hours_stored}, \"requests\": {}, \"ledger_bytes\": {size}}}",
        status_kb("VmRSS:"),
        status_kb("VmHWM:"),
        record.serving.as_ref().map_or(0, |s| s.work.requests),
    );
}
