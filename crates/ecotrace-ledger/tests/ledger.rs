//! The ledger through its public API: writes, reads, filters, interrupted detection, schema and
//! opening errors. Concurrency is in `concurrent.rs`.

mod support;

use std::fs;
use std::sync::Arc;
use std::time::Duration;

use ecotrace_core::{Phase, Power, PowerSample, RunRecord, RunStatus};
use ecotrace_ledger::{
    open, Ledger, LedgerError, Liveness, ManualClock, PidState, RunFilter, SqliteLedger,
    SystemProbe, TrackerProbe, DEFAULT_STALE_AFTER, SCHEMA_VERSION,
};
use support::{fake_liveness, record, rt, samples, t};
use tempfile::TempDir;

fn temp_ledger() -> (TempDir, SqliteLedger) {
    let dir = tempfile::tempdir().unwrap();
    let l = SqliteLedger::open(dir.path().join("ledger.db")).unwrap();
    (dir, l)
}

fn finished(mut r: RunRecord, secs: u64) -> RunRecord {
    r.status = RunStatus::Finished;
    r.exit_code = Some(0);
    r.signal = None;
    r.error = None;
    r.duration = Duration::from_secs(secs);
    r.ended_at = Some(r.started_at + chrono::Duration::seconds(secs as i64));
    r.recompute();
    r
}

fn ids(records: &[RunRecord]) -> Vec<&str> {
    records.iter().map(|r| r.id.as_str()).collect()
}

// ---- round trip and samples ----

#[test]
fn begin_checkpoint_finish_round_trip() {
    let (_d, mut l) = temp_ledger();
    let mut r = record("run-0001", "vision", Phase::Training, t(0));
    r.ended_at = None;
    r.exit_code = None;
    l.begin(&r).unwrap();
    assert_eq!(l.get("run-0001").unwrap(), rt(&r));

    r.duration = Duration::from_secs(10);
    r.metrics.insert("loss".into(), 0.5);
    r.samples.count = 10;
    l.checkpoint(&r, &samples(0, 10)).unwrap();
    assert_eq!(l.get("run-0001").unwrap(), rt(&r));

    let mut f = finished(r, 25);
    f.samples.count = 25;
    l.finish(&f, &samples(10, 15)).unwrap();
    assert_eq!(l.get("run-0001").unwrap(), rt(&f));
    assert_eq!(l.samples("run-0001").unwrap(), samples(0, 25));
    assert_eq!(l.list(&RunFilter::default()).unwrap(), vec![rt(&f)]);

    let stored = l.stored("run-0001").unwrap();
    assert_eq!(stored.record, rt(&f));
    assert_eq!(stored.sample_count, 25);
}

#[test]
fn samples_append_in_order_without_duplicates() {
    let (_d, mut l) = temp_ledger();
    let r = record("run-samples", "p", Phase::Training, t(0));
    l.begin(&r).unwrap();
    l.checkpoint(&r, &samples(0, 3)).unwrap();
    // A retried checkpoint sends the same batch again.
    l.checkpoint(&r, &samples(0, 3)).unwrap();
    // A batch that overlaps what is stored only adds the new part.
    l.checkpoint(&r, &samples(2, 4)).unwrap();
    l.checkpoint(&r, &[]).unwrap();
    let f = finished(r, 8);
    l.finish(&f, &samples(6, 2)).unwrap();
    // A retried finish is accepted and adds nothing.
    l.finish(&f, &samples(6, 2)).unwrap();
    let got = l.samples("run-samples").unwrap();
    assert_eq!(got, samples(0, 8));
    assert!(got.windows(2).all(|w| w[0].t_s < w[1].t_s));
}

#[test]
fn non_finite_sample_values_survive_and_unorderable_ones_are_skipped() {
    let (_d, mut l) = temp_ledger();
    let r = record("run-nan", "p", Phase::Other, t(0));
    l.begin(&r).unwrap();
    let odd = [
        PowerSample {
            t_s: 1.0,
            cpu_w: Power::from_watts(f64::NAN),
            gpu_w: Power::from_watts(3.0),
            ram_w: Power::from_watts(f64::INFINITY),
        },
        PowerSample {
            t_s: f64::NAN,
            cpu_w: Power::ZERO,
            gpu_w: Power::ZERO,
            ram_w: Power::ZERO,
        },
    ];
    l.checkpoint(&r, &odd).unwrap();
    let got = l.samples("run-nan").unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].t_s, 1.0);
    assert!(got[0].cpu_w.watts().is_nan());
    assert_eq!(got[0].gpu_w.watts(), 3.0);
    assert!(got[0].ram_w.watts().is_nan());
}

// ---- get ----

#[test]
fn get_by_prefix_ambiguous_and_unknown() {
    let (_d, mut l) = temp_ledger();
    for (id, s) in [
        ("aaaa1111-0000", 0),
        ("aaaa2222-0000", 10),
        ("bbbb3333-0000", 20),
        ("abc", 30),
    ] {
        l.begin(&record(id, "p", Phase::Training, t(s))).unwrap();
    }
    assert_eq!(l.get("aaaa1").unwrap().id, "aaaa1111-0000");
    assert_eq!(l.get("bbbb").unwrap().id, "bbbb3333-0000");
    assert_eq!(l.get(" aaaa2222-0000 ").unwrap().id, "aaaa2222-0000");
    // A full id shorter than the prefix minimum still matches exactly.
    assert_eq!(l.get("abc").unwrap().id, "abc");

    match l.get("aaaa").unwrap_err() {
        e @ LedgerError::Ambiguous { .. } => {
            let m = e.to_string();
            let LedgerError::Ambiguous { candidates, .. } = e else {
                unreachable!()
            };
            // Newest first.
            assert_eq!(candidates, vec!["aaaa2222-0000", "aaaa1111-0000"]);
            assert!(m.contains("aaaa2222-0000, aaaa1111-0000"), "{m}");
            assert!(m.contains("give more characters"), "{m}");
        }
        e => panic!("{e:?}"),
    }

    let e = l.get("zzzz").unwrap_err();
    assert!(matches!(e, LedgerError::NotFound { .. }));
    assert_eq!(
        e.to_string(),
        format!(
            "no run with id 'zzzz' in ledger {}; `ecotrace runs` lists runs",
            l.location()
        )
    );
    let e = l.get("aa").unwrap_err();
    assert!(
        matches!(e, LedgerError::PrefixTooShort { min: 4, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("at least 4 characters"));
    assert!(matches!(
        l.samples("zzzz").unwrap_err(),
        LedgerError::NotFound { .. }
    ));
    // `samples` resolves a prefix like `get`.
    assert!(l.samples("bbbb").unwrap().is_empty());
}

// ---- list ----

fn seeded() -> (TempDir, SqliteLedger) {
    let (d, mut l) = temp_ledger();
    let runs = [
        (
            "r1",
            "vision",
            Phase::Training,
            0,
            Some(RunStatus::Finished),
        ),
        (
            "r2",
            "vision",
            Phase::Inference,
            10,
            Some(RunStatus::Failed),
        ),
        ("r3", "nlp", Phase::Training, 20, Some(RunStatus::Finished)),
        ("r4", "nlp", Phase::Tuning, 30, None),
        (
            "r5",
            "vision",
            Phase::Training,
            40,
            Some(RunStatus::Finished),
        ),
        ("r6", "nlp", Phase::Data, 50, Some(RunStatus::FailedToStart)),
    ];
    for (id, project, phase, s, end) in runs {
        let mut r = record(id, project, phase, t(s));
        r.host.hostname = "elsewhere".into();
        if end == Some(RunStatus::FailedToStart) {
            r.status = RunStatus::FailedToStart;
            l.begin(&r).unwrap();
            continue;
        }
        l.begin(&r).unwrap();
        if let Some(status) = end {
            let mut f = finished(r, 5);
            f.status = status;
            l.finish(&f, &samples(0, 5)).unwrap();
        }
    }
    (d, l)
}

#[test]
fn list_is_newest_first_and_filters() {
    let (_d, l) = seeded();
    let all = l.list(&RunFilter::default()).unwrap();
    assert_eq!(ids(&all), ["r6", "r5", "r4", "r3", "r2", "r1"]);

    let f = |filter: RunFilter| ids(&l.list(&filter).unwrap()).join(",");
    assert_eq!(
        f(RunFilter {
            project: Some("vision".into()),
            ..Default::default()
        }),
        "r5,r2,r1"
    );
    assert_eq!(
        f(RunFilter {
            phase: Some(Phase::Training),
            ..Default::default()
        }),
        "r5,r3,r1"
    );
    assert_eq!(
        f(RunFilter {
            status: Some(RunStatus::Finished),
            ..Default::default()
        }),
        "r5,r3,r1"
    );
    assert_eq!(
        f(RunFilter {
            status: Some(RunStatus::FailedToStart),
            ..Default::default()
        }),
        "r6"
    );
    assert_eq!(
        f(RunFilter {
            since: Some(t(20)),
            ..Default::default()
        }),
        "r6,r5,r4,r3"
    );
    assert_eq!(
        f(RunFilter {
            limit: Some(2),
            ..Default::default()
        }),
        "r6,r5"
    );
    assert_eq!(
        f(RunFilter {
            limit: Some(0),
            ..Default::default()
        }),
        ""
    );
    assert_eq!(
        f(RunFilter {
            project: Some("vision".into()),
            phase: Some(Phase::Training),
            status: Some(RunStatus::Finished),
            since: Some(t(1)),
            limit: Some(5),
            offset: 0,
        }),
        "r5"
    );
    assert_eq!(
        f(RunFilter {
            project: Some("nope".into()),
            ..Default::default()
        }),
        ""
    );
}

#[test]
fn status_filter_uses_the_effective_status() {
    let (_d, mut l) = temp_ledger();
    let (live, clock) = fake_liveness("box", &[100, 101]);
    l = l.with_liveness(live);
    let mk = |id: &str, s: i64, pid: u32| {
        let mut r = record(id, "p", Phase::Training, t(s));
        r.host.hostname = "box".into();
        r.tracker.pid = pid;
        r
    };
    // Tracker dead (pid 99 is not alive on "box").
    l.begin(&mk("dead", 0, 99)).unwrap();
    // Trackers alive and checkpointing.
    l.begin(&mk("alive-a", 1, 100)).unwrap();
    l.begin(&mk("alive-b", 2, 101)).unwrap();
    // Stored as interrupted by its own tracker (caught SIGINT).
    let mut i = mk("stored-int", 3, 100);
    l.begin(&i).unwrap();
    i.status = RunStatus::Interrupted;
    l.finish(&i, &[]).unwrap();
    // Alive host pid, but silent for too long: stale.
    l.begin(&mk("stale", 4, 101)).unwrap();
    clock.advance(Duration::from_secs(100));
    l.checkpoint(&mk("alive-a", 1, 100), &[]).unwrap();
    l.checkpoint(&mk("alive-b", 2, 101), &[]).unwrap();
    clock.advance(Duration::from_secs(100)); // "stale" now silent for 200 s

    let by = |s: RunStatus, limit: Option<usize>| {
        let v = l
            .list(&RunFilter {
                status: Some(s),
                limit,
                ..Default::default()
            })
            .unwrap();
        assert!(v.iter().all(|r| r.status == s));
        ids(&v).join(",")
    };
    assert_eq!(by(RunStatus::Running, None), "alive-b,alive-a");
    assert_eq!(by(RunStatus::Interrupted, None), "stale,stored-int,dead");
    // The limit counts effective matches, not stored rows.
    assert_eq!(by(RunStatus::Running, Some(1)), "alive-b");
    assert_eq!(by(RunStatus::Interrupted, Some(2)), "stale,stored-int");
}

// ---- interrupted detection ----

#[test]
fn dead_tracker_on_this_host_reads_as_interrupted_without_changing_the_store() {
    let (_d, l) = temp_ledger();
    let (live, _clock) = fake_liveness("box", &[]);
    let mut l = l.with_liveness(live);
    let mut r = record("run-dead", "p", Phase::Training, t(0));
    r.host.hostname = "box".into();
    r.tracker.pid = 4242;
    l.begin(&r).unwrap();
    l.checkpoint(&r, &samples(0, 3)).unwrap();

    let got = l.get("run-dead").unwrap();
    assert_eq!(got.status, RunStatus::Interrupted);
    assert_eq!(got.ended_at, r.ended_at, "figures are the checkpoint's");
    assert_eq!(got.energy_kwh, rt(&r).energy_kwh);
    let note = got.notes.last().unwrap();
    assert_eq!(
        note,
        "interrupted: the tracker stopped reporting at 2024-03-01T12:00:00Z (its process 4242 on box is gone); the figures are those of its last checkpoint"
    );
    assert_eq!(
        l.list(&RunFilter::default()).unwrap()[0].status,
        RunStatus::Interrupted
    );
    // Stored data untouched: the row still says running, without the note.
    let stored = l.stored("run-dead").unwrap();
    assert_eq!(stored.record, rt(&r));
    assert_eq!(stored.heartbeat_at, t(0));

    // A late finish still lands, and then the run is simply finished.
    let f = finished(r, 9);
    l.finish(&f, &samples(3, 1)).unwrap();
    assert_eq!(l.get("run-dead").unwrap(), rt(&f));
    assert_eq!(l.samples("run-dead").unwrap().len(), 4);
}

#[test]
fn old_heartbeat_reads_as_interrupted_until_the_next_checkpoint() {
    let (_d, l) = temp_ledger();
    // Another host: only the heartbeat can tell.
    let (live, clock) = fake_liveness("this-box", &[]);
    let mut l = l.with_liveness(live);
    let mut r = record("run-stale", "p", Phase::Training, t(0));
    r.host.hostname = "gpu-node-7".into();
    l.begin(&r).unwrap();

    clock.advance(DEFAULT_STALE_AFTER);
    assert_eq!(l.get("run-stale").unwrap().status, RunStatus::Running);
    clock.advance(Duration::from_secs(1));
    let got = l.get("run-stale").unwrap();
    assert_eq!(got.status, RunStatus::Interrupted);
    let note = got.notes.last().unwrap();
    assert!(
        note.contains("stopped reporting at 2024-03-01T12:00:00Z"),
        "{note}"
    );
    assert!(note.contains("no checkpoint for 2m01s"), "{note}");
    assert!(note.contains("figures are those of its last checkpoint"));

    // The tracker was only slow: its next checkpoint refreshes the heartbeat.
    l.checkpoint(&r, &[]).unwrap();
    assert_eq!(l.get("run-stale").unwrap(), rt(&r));
    assert_eq!(l.stored("run-stale").unwrap().heartbeat_at, t(121));
}

#[test]
fn a_live_tracker_stays_running_and_a_reaped_one_does_not() {
    // The real host, the real clock: this test process is a live tracker.
    let (_d, mut l) = temp_ledger();
    let host = SystemProbe.local_hostname().unwrap();
    let mut r = record("run-live", "p", Phase::Training, t(0));
    r.host.hostname = host.clone();
    r.tracker.pid = std::process::id();
    l.begin(&r).unwrap();
    assert_eq!(l.get("run-live").unwrap(), rt(&r));

    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    assert_eq!(SystemProbe.pid_state(pid), PidState::Gone);
    let mut r = record("run-reaped", "p", Phase::Training, t(0));
    r.host.hostname = host;
    r.tracker.pid = pid;
    l.begin(&r).unwrap();
    let got = l.get("run-reaped").unwrap();
    assert_eq!(got.status, RunStatus::Interrupted);
    assert!(got
        .notes
        .last()
        .unwrap()
        .contains(&format!("process {pid}")));
}

#[test]
fn final_rows_are_never_remapped() {
    let (_d, l) = temp_ledger();
    let (live, clock) = fake_liveness("box", &[]);
    let mut l = l.with_liveness(live);
    let mut r = record("run-fts", "p", Phase::Training, t(0));
    r.host.hostname = "box".into();
    r.status = RunStatus::FailedToStart;
    l.begin(&r).unwrap();
    clock.advance(Duration::from_secs(86_400));
    assert_eq!(l.get("run-fts").unwrap(), rt(&r));
}

// ---- write errors ----

#[test]
fn writes_are_checked() {
    let (_d, mut l) = temp_ledger();
    let r = record("run-w", "p", Phase::Training, t(0));
    assert!(matches!(
        l.checkpoint(&r, &[]).unwrap_err(),
        LedgerError::NotFound { .. }
    ));
    l.begin(&r).unwrap();
    let e = l.begin(&r).unwrap_err();
    assert!(matches!(e, LedgerError::AlreadyExists { .. }), "{e:?}");
    assert!(e.to_string().contains("already exists"));

    let f = finished(r.clone(), 3);
    let mut done = record("x", "p", Phase::Other, t(0));
    done.status = RunStatus::Finished;
    assert!(matches!(
        l.begin(&done),
        Err(LedgerError::InvalidRecord { .. })
    ));
    assert!(matches!(
        l.checkpoint(&f, &[]),
        Err(LedgerError::InvalidRecord { .. })
    ));
    assert!(matches!(
        l.finish(&r, &[]),
        Err(LedgerError::InvalidRecord { .. })
    ));
    assert!(matches!(
        l.begin(&record(" ", "p", Phase::Other, t(0))),
        Err(LedgerError::InvalidRecord { .. })
    ));
    l.finish(&f, &[]).unwrap();
    let e = l.checkpoint(&r, &samples(0, 1)).unwrap_err();
    assert!(matches!(e, LedgerError::AlreadyEnded { .. }), "{e:?}");
    assert!(e.to_string().contains("already ended (finished)"), "{e}");
    let mut failed = f.clone();
    failed.status = RunStatus::Failed;
    assert!(matches!(
        l.finish(&failed, &[]),
        Err(LedgerError::AlreadyEnded { .. })
    ));
    // Nothing of the refused writes landed.
    assert_eq!(l.get("run-w").unwrap(), rt(&f));
    assert!(l.samples("run-w").unwrap().is_empty());
}

// ---- opening, schema, compatibility ----

#[test]
fn opens_an_empty_file_and_reopens_an_existing_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    fs::write(&path, b"").unwrap();
    let mut l = SqliteLedger::open(&path).unwrap();
    assert_eq!(l.schema_version().unwrap(), SCHEMA_VERSION);
    let r = record("run-keep", "p", Phase::Training, t(0));
    l.begin(&r).unwrap();
    l.checkpoint(&r, &samples(0, 2)).unwrap();
    drop(l);

    let l = SqliteLedger::open(&path).unwrap();
    assert_eq!(l.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(l.get("run-keep").unwrap(), rt(&r));
    assert_eq!(l.samples("run-keep").unwrap(), samples(0, 2));
    drop(l);

    let c = rusqlite::Connection::open(&path).unwrap();
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let versions: i64 = c
        .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(versions, SCHEMA_VERSION as i64);
}

#[test]
fn creates_missing_parent_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/c/ledger.db");
    let l = SqliteLedger::open(&path).unwrap();
    assert!(path.is_file());
    assert_eq!(l.location(), path.display().to_string());
    assert_eq!(l.path(), Some(path.as_path()));
}

#[test]
fn opening_errors_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();

    let text = dir.path().join("notes.txt");
    fs::write(&text, "these are my notes, not a database\n".repeat(20)).unwrap();
    let e = SqliteLedger::open(&text).unwrap_err();
    assert!(matches!(e, LedgerError::NotADatabase { .. }), "{e:?}");
    assert!(e
        .to_string()
        .contains("is not an ecotrace ledger (not a SQLite database)"));
    assert_eq!(
        fs::read_to_string(&text).unwrap(),
        "these are my notes, not a database\n".repeat(20),
        "a foreign file is left alone"
    );

    let e = SqliteLedger::open(text.join("ledger.db")).unwrap_err();
    assert!(matches!(e, LedgerError::CreateDir { .. }), "{e:?}");
    assert!(
        e.to_string().contains("cannot create the ledger directory"),
        "{e}"
    );

    let e = SqliteLedger::open(dir.path()).unwrap_err();
    assert!(e.to_string().contains("is a directory"), "{e}");

    let e = open("mysql://u:pw@localhost/ecotrace").err().unwrap();
    assert!(matches!(e, LedgerError::Unsupported { .. }));
    assert!(!e.to_string().contains("pw"), "{e}");
    // A PostgreSQL URL opens lazily; its location never shows the password.
    let l = open("postgres://u:pw@127.0.0.1:1/ecotrace").unwrap();
    assert_eq!(l.location(), "postgres://u@127.0.0.1:1/ecotrace");
}

#[test]
fn open_by_spec_gives_a_working_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/l.db");
    let mut l = open(path.to_str().unwrap()).unwrap();
    assert_eq!(l.location(), path.display().to_string());
    let r = record("run-spec", "p", Phase::Training, t(0));
    l.begin(&r).unwrap();
    drop(l);
    let l = open(&format!("sqlite://{}", path.display())).unwrap();
    assert_eq!(l.get("run-spec").unwrap(), rt(&r));
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    drop(SqliteLedger::open(&path).unwrap());
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'x')",
        [],
    )
    .unwrap();
    drop(c);
    let e = SqliteLedger::open(&path).unwrap_err();
    assert!(
        matches!(
            e,
            LedgerError::SchemaTooNew {
                found: 99,
                supported: SCHEMA_VERSION,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("upgrade ecotrace"));
}

#[test]
fn records_from_other_versions_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    drop(SqliteLedger::open(&path).unwrap());
    let r = record("run-old", "p", Phase::Training, t(0));
    let mut old = serde_json::to_value(rt(&finished(r.clone(), 4))).unwrap();
    let o = old.as_object_mut().unwrap();
    o.remove("metrics");
    o.remove("scope");
    let mut new = serde_json::to_value(rt(&finished(r, 4))).unwrap();
    let n = new.as_object_mut().unwrap();
    n.insert("id".into(), "run-new".into());
    n.insert("record_version".into(), 2.into());
    n.insert("water_l".into(), 0.3.into());
    let c = rusqlite::Connection::open(&path).unwrap();
    for (id, json) in [("run-old", old), ("run-new", new)] {
        c.execute(
            "INSERT INTO runs (id, project, phase, status, started_at, hostname, tracker_pid,
                 heartbeat_at, record_version, record_json)
             VALUES (?1, 'p', 'training', 'finished', '2024-03-01T12:00:00.000000Z', 'h', 1,
                 '2024-03-01T12:00:00.000000Z', 1, ?2)",
            rusqlite::params![id, json.to_string()],
        )
        .unwrap();
    }
    drop(c);
    let l = SqliteLedger::open(&path).unwrap();
    let old = l.get("run-old").unwrap();
    assert_eq!(old.scope, ecotrace_core::Scope::Process);
    assert!(old.metrics.is_empty());
    assert!(old.notes.last().unwrap().contains("lacked scope"));
    let new = l.get("run-new").unwrap();
    assert_eq!(new.record_version, 2);
    assert!(new.notes.last().unwrap().contains("newer ecotrace"));
    assert_eq!(l.list(&RunFilter::default()).unwrap().len(), 2);
}

#[test]
fn in_memory_ledger_works() {
    let mut l = SqliteLedger::open_in_memory().unwrap();
    assert_eq!(l.location(), ":memory:");
    assert_eq!(l.path(), None);
    let r = record("run-mem", "p", Phase::Experiment, t(0));
    l.begin(&r).unwrap();
    l.checkpoint(&r, &samples(0, 2)).unwrap();
    assert_eq!(l.get("run-m").unwrap(), rt(&r));
    assert_eq!(l.samples("run-mem").unwrap(), samples(0, 2));
}

#[test]
fn liveness_can_be_built_from_parts() {
    let clock = Arc::new(ManualClock::new(t(0)));
    let l = Liveness::new(clock.clone(), Arc::new(SystemProbe), Duration::from_secs(5));
    assert_eq!(l.now(), t(0));
    assert_eq!(l.stale_after(), Duration::from_secs(5));
    let mut r = record("x", "p", Phase::Other, t(0));
    r.host.hostname = "far-away".into();
    assert!(l.check(&r, t(0)).is_none());
    clock.advance(Duration::from_secs(6));
    assert!(l.check(&r, t(0)).is_some());
}
