//! Report sums computed by the database (`Ledger::group_sums`) against the in-memory aggregation
//! of every record (`ecotrace_report::aggregate`, `lifecycle`), on SQLite and on the PostgreSQL
//! server `scripts/test` starts: every grouping, with filters, over runs of every kind the SQL
//! leaves apart (stored `running` rows alive and dead, machine-scope ranks of jobs sharing a
//! node) and runs with and without embodied, water and cost figures. The published formats (HTML,
//! LaTeX, model card) made from those sums and one streamed pass over the runs are the ones made
//! from every record in memory; the serving runs are scanned apart.

mod pg;
mod support;

use std::time::Duration;

use ecotrace_core::{
    CarbonMass, EmissionSignal, Energy, GridBasis, Phase, RecordKind, RunRecord, RunStatus, Scope,
    Usd, Water,
};
use ecotrace_ledger::{Ledger, PostgresLedger, RunFilter, RunSums, SqliteLedger, SumKey};
use ecotrace_report::{
    aggregate, aggregate_with, lifecycle, set_document, BasisMix, DocOptions, Format, Group,
    GroupBy, LifecycleSums, RunDigest, RunSet, Summed,
};
use support::{fake_liveness, record, t};

/// 90 runs over 3 projects, 4 phases, 5 months, every status, some in jobs.
fn varied_runs() -> Vec<RunRecord> {
    let projects = ["vision", "nlp", "audio"];
    let phases = [
        Phase::Training,
        Phase::Inference,
        Phase::Tuning,
        Phase::Data,
    ];
    let statuses = [
        RunStatus::Finished,
        RunStatus::Failed,
        RunStatus::Finished,
        RunStatus::Interrupted,
        RunStatus::FailedToStart,
        RunStatus::Finished,
    ];
    (0..90)
        .map(|i: usize| {
            // Runs of a job start close together (overlapping ranks); others spread over months.
            let start = if i % 5 < 2 {
                t(i as i64 % 4 * 10)
            } else {
                t(i as i64 * 170_000)
            };
            let mut r = record(
                &format!("run-{i:04}"),
                projects[i % 3],
                phases[i % 4],
                start,
            );
            r.status = statuses[i % 6];
            if i.is_multiple_of(11) {
                // Left running: pid 4242 is alive on the fake host, 9999 is gone.
                r.status = RunStatus::Running;
                r.tracker.pid = if i.is_multiple_of(22) { 4242 } else { 9999 };
            }
            if i.is_multiple_of(13) {
                r.error = Some("pruned at step 3".into());
                r.status = RunStatus::Interrupted;
            }
            r.scope = if i.is_multiple_of(2) {
                Scope::Machine
            } else {
                Scope::Process
            };
            r.job = (i % 5 < 2).then(|| {
                serde_json::from_value(serde_json::json!({
                    "id": format!("slurm:{}", i % 2),
                    "source": "slurm",
                    "node": format!("n{}", i % 3),
                }))
                .unwrap()
            });
            if i.is_multiple_of(4) {
                r.command.push(format!("--seed={}", i % 3));
            }
            if i.is_multiple_of(9) {
                r.kind = RecordKind::Estimated;
            }
            let k = 0.37 + i as f64 * 0.173;
            r.energy_kwh.cpu = Energy::from_kwh(k * 0.3);
            r.energy_kwh.gpu = Energy::from_kwh(k * 0.6);
            r.energy_kwh.ram = Energy::from_kwh(k * 0.1);
            r.energy_kwh.total = Energy::from_kwh(k);
            r.operational = CarbonMass::from_kg(k * 0.051);
            r.duration = Duration::from_nanos(3_600_000_000_123 + i as u64 * 987_654_321);
            r.embodied = (i.is_multiple_of(2)).then(|| CarbonMass::from_kg(k * 0.01));
            r.water = (i.is_multiple_of(3)).then(|| Water::from_litres(k * 1.7));
            r.cost = (i % 4 != 1).then(|| Usd::from_usd(k * 0.2));
            // Intensities on every basis and signal: life-cycle, direct, marginal, user-given.
            (r.intensity.grid_basis, r.intensity.signal) = match i % 7 {
                1 | 4 => (Some(GridBasis::Direct), EmissionSignal::Average),
                2 => (None, EmissionSignal::Marginal),
                5 => (None, EmissionSignal::Average),
                _ => (Some(GridBasis::Lifecycle), EmissionSignal::Average),
            };
            r
        })
        .collect()
}

fn store(l: &mut dyn Ledger, runs: &[RunRecord]) {
    for r in runs {
        let mut start = r.clone();
        start.status = RunStatus::Running;
        l.begin(&start).unwrap();
        if r.status != RunStatus::Running {
            l.finish(r, &[]).unwrap();
        }
    }
}

fn group_of(s: RunSums) -> Group {
    Group {
        key: s.key,
        runs: s.runs as usize,
        failed_runs: s.failed_runs as usize,
        duration: s.duration,
        energy: s.energy,
        operational: s.operational,
        embodied: s.embodied,
        embodied_runs: s.embodied_runs as usize,
        water: s.water,
        water_runs: s.water_runs as usize,
        cost: s.cost,
        cost_runs: s.cost_runs as usize,
        bases: BasisMix::of(s.grid_basis, s.signal, s.runs as usize),
    }
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-300),
        "{what}: {a} != {b}"
    );
}

fn same_group(a: &Group, b: &Group) {
    let w = &a.key;
    assert_eq!(a.key, b.key);
    assert_eq!(
        (
            a.runs,
            a.failed_runs,
            a.embodied_runs,
            a.water_runs,
            a.cost_runs
        ),
        (
            b.runs,
            b.failed_runs,
            b.embodied_runs,
            b.water_runs,
            b.cost_runs
        ),
        "{w}"
    );
    // Durations are summed exactly in both.
    assert_eq!(a.duration, b.duration, "{w}");
    // Each run counted on the basis and signal of its intensity.
    assert_eq!(a.bases, b.bases, "{w}");
    for (x, y, what) in [
        (a.energy.cpu.kwh(), b.energy.cpu.kwh(), "cpu"),
        (a.energy.gpu.kwh(), b.energy.gpu.kwh(), "gpu"),
        (a.energy.ram.kwh(), b.energy.ram.kwh(), "ram"),
        (a.energy.total.kwh(), b.energy.total.kwh(), "total"),
        (a.operational.kg(), b.operational.kg(), "operational"),
        (a.embodied.kg(), b.embodied.kg(), "embodied"),
        (a.water.litres(), b.water.litres(), "water"),
        (a.cost.usd(), b.cost.usd(), "cost"),
    ] {
        close(x, y, &format!("{w} {what}"));
    }
}

/// For every grouping and a few filters: the database's sums plus the runs it left apart give
/// what the in-memory aggregation of every record gives.
fn sums_match_memory(l: &dyn Ledger) {
    let filters = [
        RunFilter::default(),
        RunFilter {
            project: Some("vision".into()),
            ..RunFilter::default()
        },
        RunFilter {
            phase: Some(Phase::Inference),
            since: Some(t(2_000_000)),
            ..RunFilter::default()
        },
    ];
    let pairs = [
        (GroupBy::Project, SumKey::Project),
        (GroupBy::Phase, SumKey::Phase),
        (GroupBy::Status, SumKey::Status),
        (GroupBy::Day, SumKey::Day),
        (GroupBy::Month, SumKey::Month),
        (GroupBy::Job, SumKey::Job),
    ];
    let mut apart_seen = 0;
    for filter in &filters {
        let all = l.list(filter).unwrap();
        assert!(!all.is_empty());
        for (by, key) in pairs {
            let (want, want_total) = aggregate(&all, by);
            let sums = l.group_sums(filter, key).unwrap();
            // The database summed most runs itself.
            let summed: usize = sums.groups.iter().map(|g| g.runs as usize).sum();
            assert_eq!(summed + sums.apart.len(), all.len(), "{by}");
            assert!(summed > all.len() / 3, "{by}: {summed} of {}", all.len());
            apart_seen = apart_seen.max(sums.apart.len());
            let summed = sums.groups.into_iter().map(group_of).collect();
            let (got, got_total) = aggregate_with(summed, &sums.apart, by);
            assert_eq!(
                got.iter().map(|g| &g.key).collect::<Vec<_>>(),
                want.iter().map(|g| &g.key).collect::<Vec<_>>(),
                "{by} {filter:?}"
            );
            for (g, w) in got.iter().zip(&want) {
                same_group(g, w);
            }
            same_group(&got_total, &want_total);
        }
    }
    assert!(apart_seen > 5, "the fixture has runs the SQL leaves apart");
    // Dead trackers' runs are reported interrupted, live ones running, as `list` shows them.
    let (by_status, _) = aggregate_with(
        l.group_sums(&RunFilter::default(), SumKey::Status)
            .unwrap()
            .groups
            .into_iter()
            .map(group_of)
            .collect(),
        &l.group_sums(&RunFilter::default(), SumKey::Status)
            .unwrap()
            .apart,
        GroupBy::Status,
    );
    let running = by_status.iter().find(|g| g.key == "running").unwrap();
    let alive = varied_runs()
        .iter()
        .filter(|r| r.status == RunStatus::Running && r.tracker.pid == 4242)
        .count();
    assert!(alive > 0);
    assert_eq!(running.runs, alive);
}

/// The streamed life cycle of each project is the one computed from all its records, and its
/// repeated runs are those with a later finished twin (counted here independently).
fn lifecycle_matches_memory(l: &dyn Ledger) {
    let mut any_repeated = 0;
    for project in ["vision", "nlp", "audio"] {
        let filter = RunFilter {
            project: Some(project.into()),
            ..RunFilter::default()
        };
        let all = l.list(&filter).unwrap();
        let mut sums = LifecycleSums::default();
        l.scan(&filter, &mut |r| {
            sums.push(r);
            true
        })
        .unwrap();
        let got = sums.finish(None);
        assert_eq!(got, lifecycle(&all), "{project}");
        let twin = |a: &RunRecord, b: &RunRecord| {
            fn tags(r: &RunRecord) -> Vec<(&String, &String)> {
                r.tags
                    .iter()
                    .filter(|(k, _)| k.as_str() != "trial")
                    .collect()
            }
            a.command == b.command && tags(a) == tags(b) && a.phase == b.phase
        };
        let done =
            |r: &RunRecord| r.kind == RecordKind::Measured && r.status == RunStatus::Finished;
        let repeated = all
            .iter()
            .filter(|a| {
                done(a)
                    && all.iter().any(|b| {
                        done(b) && twin(a, b) && (b.started_at, &b.id) > (a.started_at, &a.id)
                    })
            })
            .count();
        any_repeated += repeated;
        assert_eq!(got.total.repeated_runs, repeated, "{project}");
        assert_eq!(got.total.runs, all.len());
    }
    assert!(any_repeated > 0, "the fixture has repeated runs");
}

/// [`varied_runs`] with what the published formats show besides sums: metrics that differ (and
/// runs without any), several grid zones and PUEs, GPUs on some hosts, `training_type` tags.
fn published_runs() -> Vec<RunRecord> {
    varied_runs()
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            r.metrics.clear();
            match i % 4 {
                0 => {
                    r.metrics
                        .insert("val_accuracy".into(), 0.5 + (i * 37 % 41) as f64 / 100.0);
                }
                1 => {
                    r.metrics
                        .insert("val_loss".into(), 2.0 - (i % 7) as f64 / 10.0);
                    r.metrics.insert("flops".into(), 1e18 * i as f64);
                }
                2 => {
                    r.metrics
                        .insert("val_accuracy".into(), 0.6 + (i % 5) as f64 / 20.0);
                }
                _ => {}
            }
            if i.is_multiple_of(3) {
                r.intensity.zone = "DE".into();
                r.intensity.value = ecotrace_core::CarbonIntensity::from_g_per_kwh(380.0).unwrap();
                r.pue.value = ecotrace_core::Pue::new(1.4).unwrap();
            }
            if i.is_multiple_of(5) {
                r.host.gpus = vec!["NVIDIA A100".into(); 2];
            }
            if i.is_multiple_of(7) {
                r.tags.insert("training_type".into(), "fine-tuning".into());
            }
            r
        })
        .collect()
}

/// A set of runs as `ecotrace report` makes it for the published formats: summed per group by
/// the database (with the runs it leaves apart), the rest read one run at a time.
fn summed_set(l: &dyn Ledger, filter: &RunFilter, by: GroupBy, metric: Option<&str>) -> RunSet {
    let summed = |by: GroupBy, key: SumKey| {
        let sums = l.group_sums(filter, key).unwrap();
        aggregate_with(
            sums.groups.into_iter().map(group_of).collect(),
            &sums.apart,
            by,
        )
    };
    let key = |by: GroupBy| match by {
        GroupBy::Project => SumKey::Project,
        GroupBy::Phase => SumKey::Phase,
        GroupBy::Status => SumKey::Status,
        GroupBy::Day => SumKey::Day,
        GroupBy::Month => SumKey::Month,
        GroupBy::Job => SumKey::Job,
    };
    let (groups, total) = summed(by, key(by));
    let mut digest = RunDigest::new(metric);
    l.scan(filter, &mut |r| {
        digest.push(&r);
        true
    })
    .unwrap();
    digest.finish(Summed {
        by,
        groups,
        total,
        phases: summed(GroupBy::Phase, SumKey::Phase).0,
        days: summed(GroupBy::Day, SumKey::Day).0,
    })
}

/// The HTML page, the LaTeX text and the model card made from the database's sums and one pass
/// over the runs are those made from every record in memory, for several filters, groupings and
/// metrics.
fn published_match_memory(l: &dyn Ledger) {
    let filters = [
        RunFilter::default(),
        RunFilter {
            project: Some("vision".into()),
            ..RunFilter::default()
        },
        RunFilter {
            phase: Some(Phase::Training),
            ..RunFilter::default()
        },
    ];
    let cases = [
        (GroupBy::Project, None),
        (GroupBy::Job, Some("val_loss")),
        (GroupBy::Status, Some("flops")),
    ];
    for filter in &filters {
        let all = l.list(filter).unwrap();
        assert!(all.len() > 10, "{filter:?}");
        for (by, metric) in cases {
            let got = summed_set(l, filter, by, metric);
            let want = RunSet::of(&all, by, metric);
            let opts = DocOptions {
                group_by: by,
                metric,
                subject: Some("the fixture"),
                ..DocOptions::default()
            };
            for format in [Format::Html, Format::Latex, Format::ModelCard, Format::Csv] {
                let (g, w) = (
                    set_document(&got, format, &opts),
                    set_document(&want, format, &opts),
                );
                assert!(
                    g == w,
                    "{format} {by} {filter:?}:\n{g}\n---- in memory:\n{w}"
                );
            }
        }
    }
    // What the pages show is there: both metrics' fronts, device-hours, both zones.
    let set = summed_set(l, &RunFilter::default(), GroupBy::Project, None);
    let html = set_document(&set, Format::Html, &DocOptions::default());
    assert!(
        html.contains("val_accuracy against operational CO2e"),
        "{html}"
    );
    let tex = set_document(&set, Format::Latex, &DocOptions::default());
    assert!(
        tex.contains("GPU-hours") && tex.contains("zone DE"),
        "{tex}"
    );
}

/// `scan_with_hours` gives the runs with hourly rows (and only them), in `list` order, filtered.
fn serving_runs_are_scanned_alone(l: &mut dyn Ledger) {
    let served = ["run-0003", "run-0012", "run-0033", "run-0040"];
    for (k, id) in served.iter().enumerate() {
        let mut row = ecotrace_core::serving::HourRow::new(t(3600 * k as i64));
        row.energy_kwh.total = Energy::from_kwh(0.25);
        l.store_hours(id, &[row]).unwrap();
    }
    for filter in [
        RunFilter::default(),
        RunFilter {
            project: Some("vision".into()),
            ..RunFilter::default()
        },
    ] {
        let want: Vec<String> = l
            .list(&filter)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .filter(|id| served.contains(&id.as_str()))
            .collect();
        let mut got = Vec::new();
        l.scan_with_hours(&filter, &mut |r| {
            got.push(r.id);
            true
        })
        .unwrap();
        assert!(!got.is_empty());
        assert_eq!(got, want, "{filter:?}");
    }
}

#[test]
fn sqlite_sums_and_published_formats_match_the_in_memory_ones() {
    let (liveness, _clock) = fake_liveness("fixture-host", &[4242]);
    let dir = tempfile::tempdir().unwrap();
    let mut l = SqliteLedger::open(dir.path().join("l.db"))
        .unwrap()
        .with_liveness(liveness);
    store(&mut l, &published_runs());
    sums_match_memory(&l);
    lifecycle_matches_memory(&l);
    published_match_memory(&l);
    serving_runs_are_scanned_alone(&mut l);
    // A scan stops when asked to.
    let mut n = 0;
    l.scan(&RunFilter::default(), &mut |_| {
        n += 1;
        n < 7
    })
    .unwrap();
    assert_eq!(n, 7);
}

#[test]
fn postgres_sums_and_published_formats_match_the_in_memory_ones() {
    let Some(url) = pg::server("postgres_sums_and_published_formats_match_the_in_memory_ones")
    else {
        return;
    };
    let url = pg::fresh_db(&url, "sums");
    let (liveness, _clock) = fake_liveness("fixture-host", &[4242]);
    let mut l = PostgresLedger::connect(&url)
        .unwrap()
        .with_liveness(liveness);
    store(&mut l, &published_runs());
    sums_match_memory(&l);
    lifecycle_matches_memory(&l);
    published_match_memory(&l);
    serving_runs_are_scanned_alone(&mut l);
}

/// `runs` as a ledger at schema version 2 holds them: the record JSON and the indexed columns,
/// no report columns.
fn old_rows(runs: &[RunRecord]) -> Vec<[String; 7]> {
    runs.iter()
        .map(|r| {
            [
                r.id.clone(),
                r.project.clone(),
                r.phase.as_str().to_string(),
                r.status.as_str().to_string(),
                r.started_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                r.host.hostname.clone(),
                serde_json::to_string(r).unwrap(),
            ]
        })
        .collect()
}

#[test]
fn a_version_2_sqlite_ledger_is_migrated_and_its_runs_summed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let runs = varied_runs();
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY NOT NULL,
                 name TEXT NOT NULL, applied_at TEXT NOT NULL);",
        )
        .unwrap();
        for m in &ecotrace_ledger::schema::MIGRATIONS[..2] {
            c.execute_batch(m.sqlite).unwrap();
            c.execute(
                "INSERT INTO schema_migrations VALUES (?1, ?2, 't')",
                rusqlite::params![m.version, m.name],
            )
            .unwrap();
        }
        for row in old_rows(&runs) {
            c.execute(
                "INSERT INTO runs (id, project, phase, status, started_at, hostname, tracker_pid,
                     heartbeat_at, record_version, record_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 4242, '2024-03-01T12:00:00.000000Z', 1, ?7)",
                rusqlite::params_from_iter(row.iter()),
            )
            .unwrap();
        }
        // A damaged record: the migration leaves it to be read (and reported) as a record.
        c.execute(
            "INSERT INTO runs (id, project, phase, status, started_at, hostname, tracker_pid,
                 heartbeat_at, record_version, record_json)
             VALUES ('broken', 'other', 'other', 'finished', '2024-01-01T00:00:00.000000Z', 'h', 1,
                 '2024-01-01T00:00:00.000000Z', 1, 'not json')",
            [],
        )
        .unwrap();
    }
    let (liveness, _clock) = fake_liveness("fixture-host", &[4242]);
    let l = SqliteLedger::open(&path).unwrap().with_liveness(liveness);
    assert_eq!(l.schema_version().unwrap(), ecotrace_ledger::SCHEMA_VERSION);
    let c = rusqlite::Connection::open(&path).unwrap();
    let unfilled: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM runs WHERE sum_apart IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unfilled, 0);
    // Version 4: the records are packed (blobs, much smaller than their JSON) and read back whole.
    let (text, blobs, packed_bytes): (i64, i64, i64) = c
        .query_row(
            "SELECT SUM(typeof(record_json) = 'text'), SUM(typeof(record_json) = 'blob'),
                    SUM(length(record_json)) FROM runs WHERE id <> 'broken'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((text, blobs), (0, runs.len() as i64));
    let json_bytes: usize = old_rows(&runs).iter().map(|r| r[6].len()).sum();
    assert!(
        (packed_bytes as usize) * 3 < json_bytes,
        "{packed_bytes} bytes packed for {json_bytes} of JSON"
    );
    // The damaged row is not summed silently: a report over it fails as `list` does.
    assert!(l
        .group_sums(&RunFilter::default(), SumKey::Project)
        .is_err());
    assert!(l.list(&RunFilter::default()).is_err());
    c.execute("DELETE FROM runs WHERE id = 'broken'", [])
        .unwrap();
    sums_match_memory(&l);
    lifecycle_matches_memory(&l);
}

#[test]
fn a_version_2_postgres_ledger_is_migrated_and_its_runs_summed() {
    let Some(url) = pg::server("a_version_2_postgres_ledger_is_migrated_and_its_runs_summed")
    else {
        return;
    };
    let url = pg::fresh_db(&url, "sums_v2");
    let runs = varied_runs();
    {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.batch_execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY NOT NULL,
                 name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL);",
        )
        .unwrap();
        for m in &ecotrace_ledger::schema::MIGRATIONS[..2] {
            c.batch_execute(m.postgres).unwrap();
            c.execute(
                "INSERT INTO schema_migrations VALUES ($1, $2, now())",
                &[&(m.version as i32), &m.name],
            )
            .unwrap();
        }
        for [id, project, phase, status, started, host, json] in old_rows(&runs) {
            c.execute(
                "INSERT INTO runs (id, project, phase, status, started_at, hostname, tracker_pid,
                     heartbeat_at, record_version, record_json)
                 VALUES ($1, $2, $3, $4, $5::text::timestamptz, $6, 4242,
                     '2024-03-01T12:00:00Z', 1, $7::text::jsonb)",
                &[&id, &project, &phase, &status, &started, &host, &json],
            )
            .unwrap();
        }
    }
    let (liveness, _clock) = fake_liveness("fixture-host", &[4242]);
    let l = PostgresLedger::connect(&url)
        .unwrap()
        .with_liveness(liveness);
    assert_eq!(l.schema_version().unwrap(), ecotrace_ledger::SCHEMA_VERSION);
    sums_match_memory(&l);
    lifecycle_matches_memory(&l);
}

/// The index of report columns as schema version 5 left it (before the basis and signal).
const V5_SUMS_INDEX_SQLITE: &str = "CREATE INDEX runs_sums ON runs (project, started_at, phase,
    status, sum_apart, job_id, duration_ns, cpu_j, gpu_j, ram_j, total_j, operational_g,
    embodied_g, water_l, cost_usd)";
const V5_SUMS_INDEX_PG: &str = "CREATE INDEX runs_sums ON runs (project, started_at) INCLUDE
    (phase, status, sum_apart, job_id, duration_ns, cpu_j, gpu_j, ram_j, total_j, operational_g,
    embodied_g, water_l, cost_usd)";

/// Takes a ledger written by this build back to schema version 5: the basis and signal columns
/// and the rows of version 6 and later are dropped, the version-5 index put back; the records are
/// untouched.
fn back_to_v5(index: &str) -> String {
    format!(
        "DROP INDEX runs_sums; ALTER TABLE runs DROP COLUMN grid_basis;
         ALTER TABLE runs DROP COLUMN signal; {index};
         DELETE FROM schema_migrations WHERE version >= 6;"
    )
}

#[test]
fn a_version_5_sqlite_ledger_gets_its_basis_and_signal_columns_from_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v5.db");
    let runs = varied_runs();
    store(&mut SqliteLedger::open(&path).unwrap(), &runs);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(&back_to_v5(V5_SUMS_INDEX_SQLITE))
        .unwrap();
    let (liveness, _clock) = fake_liveness("fixture-host", &[4242]);
    let l = SqliteLedger::open(&path).unwrap().with_liveness(liveness);
    assert_eq!(l.schema_version().unwrap(), ecotrace_ledger::SCHEMA_VERSION);
    let c = rusqlite::Connection::open(&path).unwrap();
    let stored: Vec<(String, Option<String>, Option<String>)> = c
        .prepare("SELECT id, grid_basis, signal FROM runs ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stored.len(), runs.len());
    let mut kinds = std::collections::BTreeSet::new();
    for ((id, basis, signal), r) in stored.iter().zip(&runs) {
        assert_eq!(id, &r.id);
        assert_eq!(
            basis.as_deref(),
            r.intensity.grid_basis.map(GridBasis::as_str),
            "{id}"
        );
        assert_eq!(signal.as_deref(), Some(r.intensity.signal.as_str()), "{id}");
        kinds.insert((basis.clone(), signal.clone()));
    }
    assert_eq!(kinds.len(), 4, "every basis and signal: {kinds:?}");
    sums_match_memory(&l);
}

#[test]
fn a_version_5_postgres_ledger_gets_its_basis_and_signal_columns_from_the_records() {
    let Some(url) = pg::server("a_version_5_postgres_ledger_gets_its_basis_and_signal_columns")
    else {
        return;
    };
    let url = pg::fresh_db(&url, "sums_v5");
    let runs = varied_runs();
    store(&mut PostgresLedger::connect(&url).unwrap(), &runs);
    postgres::Client::connect(&url, postgres::NoTls)
        .unwrap()
        .batch_execute(&back_to_v5(V5_SUMS_INDEX_PG))
        .unwrap();
    let (liveness, _clock) = fake_liveness("fixture-host", &[4242]);
    let l = PostgresLedger::connect(&url)
        .unwrap()
        .with_liveness(liveness);
    assert_eq!(l.schema_version().unwrap(), ecotrace_ledger::SCHEMA_VERSION);
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let unfilled: i64 = c
        .query_one(
            "SELECT COUNT(*) FROM runs WHERE signal IS NULL OR sum_apart IS NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(unfilled, 0);
    let direct: i64 = c
        .query_one("SELECT COUNT(*) FROM runs WHERE grid_basis = 'direct'", &[])
        .unwrap()
        .get(0);
    let want = runs
        .iter()
        .filter(|r| r.intensity.grid_basis == Some(GridBasis::Direct))
        .count();
    assert_eq!(direct as usize, want);
    sums_match_memory(&l);
}
