//! `compact_samples` (`ecotrace ledger compact`) on SQLite and PostgreSQL: old runs' samples are
//! downsampled to one mean per bucket, recent and running runs are left alone, the records are
//! unchanged, and compacting twice changes nothing more.

mod pg;
mod support;

use std::time::Duration;

use chrono::Utc;
use ecotrace_core::{Phase, PowerSample, RunRecord, RunStatus};
use ecotrace_ledger::{Ledger, PostgresLedger, SqliteLedger};
use support::{record, rt, samples, t};

fn ended(mut r: RunRecord, at: chrono::DateTime<Utc>) -> RunRecord {
    r.status = RunStatus::Finished;
    r.ended_at = Some(at);
    r
}

/// What compaction should leave: per bucket of `width` s, the mean of each power (the unknown
/// readings left out) at the bucket's last time.
fn expected(all: &[PowerSample], width: f64) -> Vec<PowerSample> {
    let mut out: Vec<(i64, Vec<&PowerSample>)> = Vec::new();
    for s in all {
        let b = (s.t_s / width).floor() as i64;
        match out.last_mut() {
            Some((k, v)) if *k == b => v.push(s),
            _ => out.push((b, vec![s])),
        }
    }
    let mean = |v: &[&PowerSample], f: fn(&PowerSample) -> f64| {
        v.iter().map(|s| f(s)).sum::<f64>() / v.len() as f64
    };
    out.into_iter()
        .map(|(_, v)| PowerSample {
            t_s: v.last().unwrap().t_s,
            cpu_w: ecotrace_core::Power::from_watts(mean(&v, |s| s.cpu_w.watts())),
            gpu_w: ecotrace_core::Power::from_watts(mean(&v, |s| s.gpu_w.watts())),
            ram_w: ecotrace_core::Power::from_watts(mean(&v, |s| s.ram_w.watts())),
        })
        .collect()
}

fn close(a: &[PowerSample], b: &[PowerSample]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.t_s == y.t_s
                && (x.cpu_w.watts() - y.cpu_w.watts()).abs() < 1e-9
                && (x.gpu_w.watts() - y.gpu_w.watts()).abs() < 1e-9
                && (x.ram_w.watts() - y.ram_w.watts()).abs() < 1e-9
        })
}

fn compacts_old_runs_only(l: &mut dyn Ledger) {
    let ten_minutes = samples(0, 600);
    // An old run, a recent one, and one still running.
    let old = ended(record("old-run", "p", Phase::Training, t(0)), t(700));
    let recent = ended(record("recent-run", "p", Phase::Training, t(1)), Utc::now());
    let mut running = record("running-run", "p", Phase::Training, t(2));
    running.ended_at = None;
    for r in [&old, &recent, &running] {
        let mut first = r.clone();
        first.status = RunStatus::Running;
        l.begin(&first).unwrap();
        l.checkpoint(&first, &ten_minutes).unwrap();
    }
    l.finish(&old, &[]).unwrap();
    l.finish(&recent, &[]).unwrap();

    let cutoff = Utc::now() - chrono::Duration::days(90);
    let report = l.compact_samples(cutoff, Duration::from_secs(60)).unwrap();
    let want = expected(&ten_minutes, 60.0);
    assert_eq!(want.len(), 11);
    assert_eq!(report.runs, 1, "{report:?}");
    assert_eq!((report.samples_before, report.samples_after), (600, 11));
    let got = l.samples("old-run").unwrap();
    assert!(close(&got, &want), "{got:?}\nvs\n{want:?}");
    // The record (energy, CO2e) is as it was.
    assert_eq!(l.get("old-run").unwrap(), rt(&old));
    // The others keep every sample.
    assert_eq!(l.samples("recent-run").unwrap().len(), 600);
    assert_eq!(l.samples("running-run").unwrap().len(), 600);
    // Again: nothing more to do.
    let again = l.compact_samples(cutoff, Duration::from_secs(60)).unwrap();
    assert_eq!(again.runs, 0, "{again:?}");
    assert!(close(&l.samples("old-run").unwrap(), &want));
}

#[test]
fn sqlite_compacts_old_runs_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = SqliteLedger::open(dir.path().join("l.db")).unwrap();
    compacts_old_runs_only(&mut l);
}

#[test]
fn postgres_compacts_old_runs_only() {
    let Some(url) = pg::server("postgres_compacts_old_runs_only") else {
        return;
    };
    let url = pg::fresh_db(&url, "compact");
    let mut l = PostgresLedger::new(&url).unwrap();
    compacts_old_runs_only(&mut l);
}

/// With a retention set, a final write compacts the samples of runs that ended longer ago than
/// its age, at most once a day, starting where the last compaction stopped.
fn compacts_automatically_past_the_retention(
    l: &mut dyn Ledger,
    clock: &ecotrace_ledger::ManualClock,
) {
    let retention = ecotrace_ledger::SampleRetention {
        older_than: Duration::from_secs(90 * 86_400),
        bucket: Duration::from_secs(60),
    };
    l.set_sample_retention(Some(retention));
    let ten_minutes = samples(0, 600);
    let day = chrono::Duration::days(1);
    // The clock is 100 days after t(0): `old` ended 100 days ago, `recent` 10 days ago.
    clock.set(t(0) + day * 100);
    let old = ended(record("old-run", "p", Phase::Training, t(0)), t(700));
    let recent = ended(
        record("recent-run", "p", Phase::Training, t(1)),
        t(0) + day * 90,
    );
    for r in [&old, &recent] {
        let mut first = r.clone();
        first.status = RunStatus::Running;
        l.begin(&first).unwrap();
        l.checkpoint(&first, &ten_minutes).unwrap();
    }
    // Finishing `old` compacts itself (it ended 100 days ago): the final write comes first.
    l.finish(&old, &[]).unwrap();
    assert_eq!(l.samples("old-run").unwrap().len(), 11);
    l.finish(&recent, &[]).unwrap();
    assert_eq!(l.samples("recent-run").unwrap().len(), 600);
    assert_eq!(l.get("old-run").unwrap(), rt(&old));
    // 20 days later `recent` is 30 days old: still kept whole.
    clock.set(t(0) + day * 120);
    let mut other = ended(
        record("other-run", "p", Phase::Training, t(3)),
        t(0) + day * 119,
    );
    let mut first = other.clone();
    first.status = RunStatus::Running;
    l.begin(&first).unwrap();
    l.finish(&other, &ten_minutes).unwrap();
    assert_eq!(l.samples("recent-run").unwrap().len(), 600);
    // 60 more days: `recent` is past the age; the next final write compacts it, not `other`.
    clock.set(t(0) + day * 181);
    other.id = "last-run".into();
    let mut first = other.clone();
    first.status = RunStatus::Running;
    l.begin(&first).unwrap();
    l.finish(&other, &[]).unwrap();
    assert_eq!(l.samples("recent-run").unwrap().len(), 11);
    assert_eq!(l.samples("other-run").unwrap().len(), 600);
    assert!(l.marker("samples_compacted_before").unwrap().is_some());
    // Without a retention nothing is compacted.
    l.set_sample_retention(None);
    clock.set(t(0) + day * 400);
    other.id = "no-retention".into();
    let mut first = other.clone();
    first.status = RunStatus::Running;
    l.begin(&first).unwrap();
    l.finish(&other, &[]).unwrap();
    assert_eq!(l.samples("other-run").unwrap().len(), 600);
}

#[test]
fn sqlite_compacts_automatically_past_the_retention() {
    let dir = tempfile::tempdir().unwrap();
    let (liveness, clock) = support::fake_liveness("fixture-host", &[4242]);
    let mut l = SqliteLedger::open(dir.path().join("l.db"))
        .unwrap()
        .with_liveness(liveness);
    compacts_automatically_past_the_retention(&mut l, &clock);
}

#[test]
fn postgres_compacts_automatically_past_the_retention() {
    let Some(url) = pg::server("postgres_compacts_automatically_past_the_retention") else {
        return;
    };
    let url = pg::fresh_db(&url, "auto_compact");
    let (liveness, clock) = support::fake_liveness("fixture-host", &[4242]);
    let mut l = PostgresLedger::connect(&url)
        .unwrap()
        .with_liveness(liveness);
    compacts_automatically_past_the_retention(&mut l, &clock);
}
