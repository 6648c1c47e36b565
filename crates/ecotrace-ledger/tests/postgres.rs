//! The PostgreSQL backend against a real server (started by `scripts/test`; each test makes its
//! own database): the same behaviour as the SQLite ledger, concurrent migrations, many writers at
//! once, and the spool keeping runs through an outage and sending them afterwards.
//!
//! Without `ECOTRACE_TEST_POSTGRES` each test prints "skipped: ..." and passes.

mod pg;
mod support;

use std::collections::HashSet;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use ecotrace_core::{Phase, RunStatus};
use ecotrace_ledger::{
    Ledger, LedgerError, PostgresLedger, RunFilter, SpooledLedger, SqliteLedger, SCHEMA_VERSION,
};
use support::{fake_liveness, record, rt, samples, t};

fn finished(mut r: ecotrace_core::RunRecord) -> ecotrace_core::RunRecord {
    r.status = RunStatus::Finished;
    r
}

#[test]
fn stores_and_reads_runs_like_the_sqlite_ledger() {
    let Some(url) = pg::server("stores_and_reads_runs_like_the_sqlite_ledger") else {
        return;
    };
    let url = pg::fresh_db(&url, "roundtrip");
    let (liveness, _clock) = fake_liveness("fixture-host", &[4242]);
    let mut l = PostgresLedger::connect(&url)
        .unwrap()
        .with_liveness(liveness.clone());
    assert_eq!(l.schema_version().unwrap(), SCHEMA_VERSION);
    let userinfo = url.split("://").nth(1).unwrap().split('@').next().unwrap();
    if let Some((_, password)) = userinfo.split_once(':') {
        assert!(!l.location().contains(password), "{}", l.location());
    }

    let a = record("aaaa1111", "vision", Phase::Training, t(0));
    let b = record("aaaa2222", "nlp", Phase::Inference, t(10));
    l.begin(&a).unwrap();
    l.begin(&b).unwrap();
    assert!(matches!(
        l.begin(&a),
        Err(LedgerError::AlreadyExists { .. })
    ));

    l.checkpoint(&a, &samples(0, 3)).unwrap();
    // A retried batch adds nothing twice.
    l.checkpoint(&a, &samples(0, 5)).unwrap();
    let done = finished(a.clone());
    l.finish(&done, &samples(5, 2)).unwrap();
    // The same final write again is fine; another final status is not.
    l.finish(&done, &[]).unwrap();
    let mut failed = done.clone();
    failed.status = RunStatus::Failed;
    assert!(matches!(
        l.finish(&failed, &[]),
        Err(LedgerError::AlreadyEnded { .. })
    ));
    assert!(matches!(
        l.checkpoint(&a, &[]),
        Err(LedgerError::AlreadyEnded { .. })
    ));

    assert_eq!(l.get("aaaa1111").unwrap(), rt(&done));
    let s = l.samples("aaaa1111").unwrap();
    assert_eq!(s.len(), 7);
    assert_eq!(s, samples(0, 7));

    // Prefixes: unique, ambiguous, too short, unknown.
    assert_eq!(l.get("aaaa2").unwrap().id, "aaaa2222");
    match l.get("aaaa") {
        Err(LedgerError::Ambiguous { candidates, .. }) => {
            assert_eq!(candidates, vec!["aaaa2222", "aaaa1111"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        l.get("aa"),
        Err(LedgerError::PrefixTooShort { .. })
    ));
    assert!(matches!(l.get("zzzz9"), Err(LedgerError::NotFound { .. })));

    // Filters, newest first, limit.
    let all = l.list(&RunFilter::default()).unwrap();
    assert_eq!(
        all.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["aaaa2222", "aaaa1111"]
    );
    let f = RunFilter {
        project: Some("vision".into()),
        ..Default::default()
    };
    assert_eq!(l.list(&f).unwrap().len(), 1);
    let f = RunFilter {
        status: Some(RunStatus::Finished),
        limit: Some(1),
        ..Default::default()
    };
    assert_eq!(l.list(&f).unwrap()[0].id, "aaaa1111");
    let f = RunFilter {
        since: Some(t(5)),
        ..Default::default()
    };
    assert_eq!(l.list(&f).unwrap().len(), 1);

    // A running run whose tracker pid is gone on this host reads as interrupted; nothing is
    // written by the read.
    let mut c = record("cccc3333", "nlp", Phase::Training, t(20));
    c.tracker.pid = 999_999;
    l.begin(&c).unwrap();
    let got = l.get("cccc3333").unwrap();
    assert_eq!(got.status, RunStatus::Interrupted);
    assert!(got.notes.last().unwrap().contains("is gone"));
    let f = RunFilter {
        status: Some(RunStatus::Interrupted),
        ..Default::default()
    };
    assert_eq!(l.list(&f).unwrap().len(), 1);
    let f = RunFilter {
        status: Some(RunStatus::Running),
        ..Default::default()
    };
    assert_eq!(l.list(&f).unwrap()[0].id, "aaaa2222");
    // A late finish still lands.
    l.finish(&finished(c), &[]).unwrap();
    assert_eq!(l.get("cccc3333").unwrap().status, RunStatus::Finished);

    // Opening it again finds the same schema and data.
    let again = PostgresLedger::connect(&url).unwrap();
    assert_eq!(again.list(&RunFilter::default()).unwrap().len(), 3);
}

#[test]
fn many_nodes_migrate_a_new_database_at_once() {
    let Some(url) = pg::server("many_nodes_migrate_a_new_database_at_once") else {
        return;
    };
    let url = pg::fresh_db(&url, "migrate");
    let n = 8;
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                PostgresLedger::connect(&url).map(|_| ())
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let rows: i64 = c
        .query_one("SELECT COUNT(*) FROM schema_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, SCHEMA_VERSION as i64);
}

#[test]
fn concurrent_writers_keep_every_record_and_sample() {
    let Some(url) = pg::server("concurrent_writers_keep_every_record_and_sample") else {
        return;
    };
    let url = pg::fresh_db(&url, "writers");
    PostgresLedger::connect(&url).unwrap();
    let (workers, runs) = (16, 5);
    let barrier = Arc::new(Barrier::new(workers));
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut l = PostgresLedger::new(&url).unwrap();
                barrier.wait();
                for k in 0..runs {
                    let r = record(&format!("w{w:02}-r{k}"), "p", Phase::Training, t(k as i64));
                    l.begin(&r).unwrap();
                    for c in 0..4 {
                        l.checkpoint(&r, &samples(c * 3, 3)).unwrap();
                    }
                    l.finish(&finished(r), &samples(12, 1)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let l = PostgresLedger::new(&url).unwrap();
    let all = l.list(&RunFilter::default()).unwrap();
    assert_eq!(all.len(), workers * runs);
    let ids: HashSet<_> = all.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), workers * runs);
    for r in &all {
        assert_eq!(r.status, RunStatus::Finished);
        assert_eq!(l.samples(&r.id).unwrap(), samples(0, 13), "{}", r.id);
    }
}

#[test]
fn an_outage_mid_run_keeps_the_run_and_sends_it_later() {
    let Some(url) = pg::server("an_outage_mid_run_keeps_the_run_and_sends_it_later") else {
        return;
    };
    let url = pg::fresh_db(&url, "outage");
    let proxy = pg::Proxy::start(pg::addr_of(&url));
    let via = pg::via(&url, proxy.addr);
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool.db");

    let mut l = SpooledLedger::new(Box::new(PostgresLedger::new(&via).unwrap()), &spool)
        .with_retry_after(Duration::from_millis(200));
    let r = record("outage01", "p", Phase::Training, t(0));
    l.begin(&r).unwrap();
    l.checkpoint(&r, &samples(0, 3)).unwrap();
    assert!(!spool.exists(), "nothing spooled while the server answers");

    // The server goes away mid-run: checkpoints and the final write land in the spool.
    proxy.cut();
    l.checkpoint(&r, &samples(3, 3)).unwrap();
    l.checkpoint(&r, &samples(6, 3)).unwrap();
    let done = finished(r.clone());
    l.finish(&done, &samples(9, 2)).unwrap();
    assert_eq!(l.spooled().collect::<Vec<_>>(), ["outage01"]);
    let notices = l.take_notices();
    assert!(
        notices
            .iter()
            .any(|n| n.contains(&spool.display().to_string())),
        "{notices:?}"
    );
    let kept = SqliteLedger::open(&spool).unwrap();
    assert_eq!(kept.get("outage01").unwrap().status, RunStatus::Finished);
    // Reads say the server is unreachable.
    assert!(matches!(
        l.list(&RunFilter::default()),
        Err(LedgerError::Unavailable { .. })
    ));
    // A run that begins during the outage is kept too.
    let r2 = record("outage02", "p", Phase::Training, t(5));
    l.begin(&r2).unwrap();
    l.finish(&finished(r2.clone()), &samples(0, 2)).unwrap();
    drop(l);

    // Back: the next open sends both, then empties the spool.
    proxy.restore();
    let mut l = SpooledLedger::new(Box::new(PostgresLedger::new(&via).unwrap()), &spool);
    l.sync_on_open().unwrap();
    assert!(l.take_notices()[0].contains("sent 2 run(s)"));
    let direct = PostgresLedger::new(&url).unwrap();
    assert_eq!(direct.get("outage01").unwrap(), rt(&done));
    assert_eq!(direct.samples("outage01").unwrap(), samples(0, 11));
    assert_eq!(direct.get("outage02").unwrap().status, RunStatus::Finished);
    assert_eq!(direct.samples("outage02").unwrap(), samples(0, 2));
    assert!(kept.list(&RunFilter::default()).unwrap().is_empty());
    // An explicit sync reports what the open sent; then nothing is left.
    assert_eq!(l.sync().unwrap().sent, ["outage01", "outage02"]);
    assert!(l.sync().unwrap().sent.is_empty());
}

#[test]
fn a_spooled_run_is_sent_when_it_ends_if_the_server_is_back() {
    let Some(url) = pg::server("a_spooled_run_is_sent_when_it_ends_if_the_server_is_back") else {
        return;
    };
    let url = pg::fresh_db(&url, "comeback");
    let proxy = pg::Proxy::start(pg::addr_of(&url));
    let via = pg::via(&url, proxy.addr);
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool.db");
    let mut l = SpooledLedger::new(Box::new(PostgresLedger::new(&via).unwrap()), &spool)
        .with_retry_after(Duration::ZERO);
    let r = record("comeback", "p", Phase::Training, t(0));
    l.begin(&r).unwrap();
    proxy.cut();
    l.checkpoint(&r, &samples(0, 2)).unwrap();
    proxy.restore();
    l.finish(&finished(r.clone()), &samples(2, 2)).unwrap();
    assert_eq!(l.spooled().count(), 0);
    let direct = PostgresLedger::new(&url).unwrap();
    assert_eq!(direct.get("comeback").unwrap().status, RunStatus::Finished);
    assert_eq!(direct.samples("comeback").unwrap(), samples(0, 4));
}

#[test]
fn imports_are_all_or_nothing_and_skip_runs_already_there() {
    let Some(url) = pg::server("imports_are_all_or_nothing_and_skip_runs_already_there") else {
        return;
    };
    let url = pg::fresh_db(&url, "import");
    let mut l = SpooledLedger::new(
        Box::new(PostgresLedger::new(&url).unwrap()),
        tempfile::tempdir().unwrap().path().join("spool.db"),
    );
    let a = finished(record("imp-a", "p", Phase::Training, t(0)));
    let b = finished(record("imp-b", "p", Phase::Training, t(1)));
    let r = l.import(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(r.imported, ["imp-a", "imp-b"]);
    let c = finished(record("imp-c", "p", Phase::Training, t(2)));
    let r = l.import(&[a.clone(), c.clone()]).unwrap();
    assert_eq!(
        (r.imported, r.skipped),
        (vec!["imp-c".to_string()], vec!["imp-a".to_string()])
    );
    // A running record in the batch: nothing of the batch is stored.
    let d = finished(record("imp-d", "p", Phase::Training, t(3)));
    let running = record("imp-e", "p", Phase::Training, t(4));
    assert!(l.import(&[d, running]).is_err());
    assert!(matches!(l.get("imp-d"), Err(LedgerError::NotFound { .. })));
    assert_eq!(l.get("imp-b").unwrap(), rt(&b));
}

#[test]
fn a_running_run_keeps_its_recent_samples_and_downsamples_the_older_ones() {
    let Some(url) =
        pg::server("a_running_run_keeps_its_recent_samples_and_downsamples_the_older_ones")
    else {
        return;
    };
    let url = pg::fresh_db(&url, "downsample");
    let mut pg = PostgresLedger::connect(&url).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut lite = SqliteLedger::open(dir.path().join("l.db")).unwrap();
    {
        for l in [&mut pg as &mut dyn Ledger, &mut lite] {
            let r = record("long1", "p", Phase::Inference, t(0));
            l.begin(&r).unwrap();
            // Two hours of 1 s samples; the first hour downsampled to one a minute.
            l.checkpoint(&r, &samples(0, 7200)).unwrap();
            l.downsample_samples("long1", 3600.0, Duration::from_secs(60))
                .unwrap();
            let s = l.samples("long1").unwrap();
            assert_eq!(s.len(), 60 + 3601, "{}", l.location());
            assert!(s.windows(2).all(|w| w[0].t_s < w[1].t_s));
            // The next write goes on after the last sample; again changes nothing.
            l.checkpoint(&r, &samples(7200, 10)).unwrap();
            l.downsample_samples("long1", 3600.0, Duration::from_secs(60))
                .unwrap();
            assert_eq!(l.samples("long1").unwrap().len(), 60 + 3611);
        }
    }
}

#[test]
fn a_version_4_ledger_gets_its_jsonb_records_packed_and_reads_the_same() {
    let Some(url) =
        pg::server("a_version_4_ledger_gets_its_jsonb_records_packed_and_reads_the_same")
    else {
        return;
    };
    let url = pg::fresh_db(&url, "packed_v4");
    let runs: Vec<_> = (0..30)
        .map(|i| {
            let mut r = record(
                &format!("old-{i:03}"),
                ["vision", "nlp", "speech"][i % 3],
                Phase::Training,
                t(i as i64 * 60),
            );
            r.metrics.insert("step".into(), i as f64);
            finished(r)
        })
        .collect();
    // One record with a field this version does not know (as a newer ecotrace would write): it
    // is packed as it is, and still read.
    let mut newer: serde_json::Value = serde_json::to_value(&runs[0]).unwrap();
    newer["id"] = "newer-000".into();
    newer["field_from_the_future"] = serde_json::json!({"x": 1});
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY NOT NULL,
             name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL);",
    )
    .unwrap();
    for m in &ecotrace_ledger::schema::MIGRATIONS[..4] {
        c.batch_execute(m.postgres).unwrap();
        c.execute(
            "INSERT INTO schema_migrations VALUES ($1, $2, now())",
            &[&(m.version as i32), &m.name],
        )
        .unwrap();
    }
    let jsons: Vec<String> = runs
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .chain([newer.to_string()])
        .collect();
    for json in &jsons {
        // As version 4 wrote a row: the record as jsonb, the report columns filled on open.
        c.execute(
            "INSERT INTO runs (id, project, phase, status, started_at, ended_at, hostname,
                 tracker_pid, heartbeat_at, record_version, record_json)
             SELECT j->>'id', j->>'project', j->>'phase', j->>'status',
                 (j->>'started_at')::timestamptz, (j->>'ended_at')::timestamptz,
                 j->'host'->>'hostname', 4242, now(), 1, j
             FROM (SELECT $1::text::jsonb AS j) s",
            &[json],
        )
        .unwrap();
    }
    let jsonb_bytes: i64 = c
        .query_one(
            "SELECT SUM(octet_length(record_json::text))::bigint FROM runs",
            &[],
        )
        .unwrap()
        .get(0);

    let (liveness, _clock) = fake_liveness("fixture-host", &[4242]);
    let mut l = PostgresLedger::connect(&url)
        .unwrap()
        .with_liveness(liveness);
    assert_eq!(l.schema_version().unwrap(), SCHEMA_VERSION);
    let row = c
        .query_one(
            "SELECT COUNT(*) FILTER (WHERE record_packed IS NULL),
                    COUNT(*) FILTER (WHERE record_json IS NOT NULL),
                    SUM(octet_length(record_packed))::bigint
             FROM runs",
            &[],
        )
        .unwrap();
    let (unpacked, json_left, packed_bytes): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!((unpacked, json_left), (0, 0));
    assert!(
        packed_bytes * 4 < jsonb_bytes,
        "{packed_bytes} bytes packed for {jsonb_bytes} of jsonb text"
    );
    // jsonb gives the keys back reordered and spaced out; the migration packs the record as
    // ecotrace writes it (which the dictionary knows): byte for byte what this version stores
    // for the same record.
    let lengths = |c: &mut postgres::Client| -> Vec<(String, i32)> {
        c.query(
            "SELECT id, octet_length(record_packed) FROM runs WHERE id LIKE 'old-%' ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
    };
    let written_now = pg::fresh_db(&pg::server("packed_v4").unwrap(), "packed_v5");
    PostgresLedger::connect(&written_now)
        .unwrap()
        .import(&runs)
        .unwrap();
    let mut now = postgres::Client::connect(&written_now, postgres::NoTls).unwrap();
    assert_eq!(lengths(&mut c), lengths(&mut now));

    // Every read gives back what was stored.
    for r in &runs {
        assert_eq!(l.get(&r.id).unwrap(), rt(r));
    }
    assert_eq!(l.get("newer-000").unwrap().id, "newer-000");
    let listed = l.list(&RunFilter::default()).unwrap();
    assert_eq!(listed.len(), runs.len() + 1);
    let sums = l
        .group_sums(&RunFilter::default(), ecotrace_ledger::SumKey::Project)
        .unwrap();
    let summed: u64 = sums.groups.iter().map(|g| g.runs).sum();
    assert_eq!(summed as usize, runs.len() + 1);

    // New writes are packed too: no jsonb left behind.
    let fresh = record("new-001", "vision", Phase::Inference, t(10_000));
    l.begin(&fresh).unwrap();
    l.finish(&finished(fresh.clone()), &samples(0, 3)).unwrap();
    assert_eq!(l.get("new-001").unwrap(), rt(&finished(fresh)));
    let json_left: i64 = c
        .query_one(
            "SELECT COUNT(*) FROM runs WHERE record_json IS NOT NULL OR record_packed IS NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(json_left, 0);
}
