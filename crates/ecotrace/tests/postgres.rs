//! `ecotrace` on a shared PostgreSQL ledger, end to end: 100 concurrent `ecotrace run` from 4
//! processes leave 100 intact records; `runs`, `show` and `report` read it; a run made while the
//! server is unreachable is kept in the spool and sent by `ecotrace sync`.
//!
//! The server is the one `scripts/test` starts (`ECOTRACE_TEST_POSTGRES`); without it each test
//! prints "skipped: ..." and passes.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod common;
use common::{cc_row, CC_HEADER};

fn server(test: &str) -> Option<String> {
    match std::env::var("ECOTRACE_TEST_POSTGRES") {
        Ok(u) if !u.trim().is_empty() => Some(u.trim().to_string()),
        _ => {
            eprintln!(
                "skipped: {test}: ECOTRACE_TEST_POSTGRES is not set (scripts/test starts a PostgreSQL server when Debian's postgresql package is installed)"
            );
            None
        }
    }
}

/// A new empty database on the test server; returns its URL.
fn fresh_db(url: &str, name: &str) -> String {
    let db = format!("cli_{name}_{}", std::process::id());
    let mut admin = postgres::Client::connect(url, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{db}")
}

/// `ecotrace` with pinned sensors (no RAPL, no NVML, a given CPU power) and private data dirs.
fn ecotrace(dir: &Path, ledger: &str) -> Command {
    with_env(Command::new(env!("CARGO_BIN_EXE_ecotrace")), dir, ledger)
}

fn with_env(mut c: Command, dir: &Path, ledger: &str) -> Command {
    for (k, _) in std::env::vars() {
        if k.starts_with("ECOTRACE_") {
            c.env_remove(k);
        }
    }
    std::fs::create_dir_all(dir.join("sys")).unwrap();
    c.current_dir(dir)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("ECOTRACE_SYSFS_ROOT", dir.join("sys"))
        .env("ECOTRACE_NVML_LIBRARY", "none")
        .env("ECOTRACE_CPU_POWER", "20")
        .env("ECOTRACE_SCOPE", "machine")
        .env("ECOTRACE_INTENSITY", "100")
        .env("ECOTRACE_LEDGER", ledger)
        .stdin(Stdio::null());
    c
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn a_hundred_concurrent_runs_from_four_processes_are_all_stored() {
    let Some(url) = server("a_hundred_concurrent_runs_from_four_processes_are_all_stored") else {
        return;
    };
    let url = fresh_db(&url, "hundred");
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_ecotrace");
    // Each of 4 shell processes starts 25 `ecotrace run` at once and waits for them all.
    let drivers: Vec<_> = (0..4)
        .map(|p| {
            let script = format!(
                r#"for i in $(seq 0 24); do
                     "{bin}" run --quiet --interval 100ms --project load --tag n={p}-$i -- sh -c 'sleep 0.5; exit 0' &
                   done
                   fail=0
                   for job in $(jobs -p); do wait "$job" || fail=1; done
                   exit $fail"#
            );
            with_env(Command::new("bash"), dir.path(), &url)
                .arg("-c")
                .arg(script)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for d in drivers {
        let out = d.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a driver failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let runs: Value = serde_json::from_str(&ok(ecotrace(dir.path(), &url)
        .args(["runs", "--json"])
        .output()
        .unwrap()))
    .unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 100);
    let mut tags: Vec<String> = runs
        .iter()
        .map(|r| r["tags"]["n"].as_str().unwrap().to_string())
        .collect();
    tags.sort();
    tags.dedup();
    assert_eq!(tags.len(), 100, "every run once");
    for r in runs {
        assert_eq!(r["status"], "finished", "{r}");
        assert_eq!(r["exit_code"], 0);
        assert!(r["energy_kwh"]["cpu"].as_f64().unwrap() > 0.0, "{r}");
        assert_eq!(r["command"][0], "sh");
    }
    // Nothing went through the spool.
    assert!(!dir.path().join("data/ecotrace/spool.db").exists());

    // The other commands read the shared ledger too.
    let id = runs[0]["id"].as_str().unwrap();
    let shown: Value = serde_json::from_str(&ok(ecotrace(dir.path(), &url)
        .args(["show", &id[..8], "--json"])
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(shown["id"], id);
    let report = ok(ecotrace(dir.path(), &url)
        .args(["report", "--format", "json"])
        .output()
        .unwrap());
    assert!(report.contains("load"), "{report}");
}

#[test]
fn a_run_made_during_an_outage_is_kept_and_sent_by_sync() {
    let Some(url) = server("a_run_made_during_an_outage_is_kept_and_sent_by_sync") else {
        return;
    };
    let url = fresh_db(&url, "outage");
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1: the database is "down".
    let down = "postgres://ecotrace:hunter2@127.0.0.1:1/nowhere";
    let out = ecotrace(dir.path(), down)
        .args(["run", "--project", "spooled", "--", "sh", "-c", "exit 3"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    let spool = dir.path().join("data/ecotrace/spool.db");
    assert!(err.contains("cannot be reached"), "{err}");
    assert!(err.contains(&spool.display().to_string()), "{err}");
    assert!(
        !err.contains("hunter2"),
        "the password is never shown: {err}"
    );
    assert!(spool.exists());

    // `runs` says the server is down, and how to fix it, and lists the spooled run, marked.
    let out = ecotrace(dir.path(), down).args(["runs"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("cannot reach ledger"), "{err}");
    assert!(err.contains("waiting in the spool"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("failed (spooled)"), "{table}");
    let out = ecotrace(dir.path(), down)
        .args(["runs", "--json"])
        .output()
        .unwrap();
    let listed: Value = serde_json::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
    assert_eq!(listed[0]["tags"]["spooled"], spool.display().to_string());
    // Other reads need the server.
    let out = ecotrace(dir.path(), down)
        .args(["report"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach ledger"));

    // The server is "back" (the real URL): sync sends the run, the spool is empty after.
    let out = ok(ecotrace(dir.path(), &url).arg("sync").output().unwrap());
    assert!(out.contains("sent 1 run(s)"), "{out}");
    let runs: Value = serde_json::from_str(&ok(ecotrace(dir.path(), &url)
        .args(["runs", "--json"])
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["project"], "spooled");
    assert_eq!(runs[0]["status"], "failed");
    assert_eq!(runs[0]["exit_code"], 3);
    let out = ok(ecotrace(dir.path(), &url).arg("sync").output().unwrap());
    assert!(out.contains("sent 0 run(s)"), "{out}");
}

/// `import codecarbon` into PostgreSQL ends with `VACUUM (ANALYZE) runs`, so the reports can read
/// their covering index alone right after a bulk load (docs/benchmarks.md): the server's
/// statistics show the table vacuumed and analyzed by the import, not by autovacuum.
#[test]
fn import_codecarbon_leaves_the_runs_table_vacuumed_and_analyzed() {
    let Some(url) = server("import_codecarbon_leaves_the_runs_table_vacuumed_and_analyzed") else {
        return;
    };
    let url = fresh_db(&url, "tidy");
    let dir = tempfile::tempdir().unwrap();
    // Creates the schema first, so that the counters below start from a known table.
    ok(ecotrace(dir.path(), &url).args(["runs"]).output().unwrap());
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    db.batch_execute("ALTER TABLE runs SET (autovacuum_enabled = false)")
        .unwrap();
    let counts = |db: &mut postgres::Client| -> (i64, i64) {
        let row = db
            .query_one(
                "SELECT vacuum_count, analyze_count FROM pg_stat_user_tables WHERE relname = 'runs'",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    let before = counts(&mut db);
    let mut csv = format!("{CC_HEADER}\n");
    for i in 0..30 {
        csv.push_str(&cc_row(
            &format!("00000000-0000-4000-8000-{i:012x}"),
            "60",
            "1e-05",
        ));
        csv.push('\n');
    }
    let file = dir.path().join("emissions.csv");
    std::fs::write(&file, csv).unwrap();
    let out = ok(ecotrace(dir.path(), &url)
        .args(["import", "codecarbon"])
        .arg(&file)
        .output()
        .unwrap());
    assert!(out.starts_with("imported 30 runs"), "{out}");
    // The server publishes a backend's statistics when it goes idle: wait for them a little.
    let mut after = counts(&mut db);
    for _ in 0..50 {
        if after.0 > before.0 && after.1 > before.1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        after = counts(&mut db);
    }
    assert!(
        after.0 > before.0 && after.1 > before.1,
        "runs not vacuumed and analyzed by the import: (vacuum_count, analyze_count) {before:?} -> {after:?}"
    );
}
