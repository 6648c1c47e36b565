//! Several trackers writing one ledger at once, as several `ecotrace run` do: every record and
//! every sample must be there, intact, afterwards.
//!
//! Threads each open their own connection (as separate processes would), and a second test runs
//! real child processes: it re-executes this test binary with `ECOTRACE_LEDGER_TEST_CHILD` set,
//! selecting the ignored `child_writer_process` entry, so SQLite's cross-process file locking is
//! exercised too, not only its in-process paths.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Barrier;
use std::time::Duration;

use ecotrace_core::{Phase, Power, PowerSample, RunRecord, RunStatus};
use ecotrace_ledger::{Ledger, RunFilter, SqliteLedger};
use support::{record, rt, t};

const RUNS: usize = 3;
const CHECKPOINTS: usize = 6;
const PER_BATCH: usize = 5;
const CHILD_ENV: &str = "ECOTRACE_LEDGER_TEST_CHILD";

/// Samples unique to (worker, run): a mix-up between runs would show.
fn batch(w: usize, k: usize, from: usize) -> Vec<PowerSample> {
    (from..from + PER_BATCH)
        .map(|i| PowerSample {
            t_s: (i + 1) as f64 * 0.5,
            cpu_w: Power::from_watts((w * 1000 + k * 100 + i) as f64),
            gpu_w: Power::from_watts(w as f64 + 0.25),
            ram_w: Power::from_watts(k as f64 + 0.5),
        })
        .collect()
}

struct Script {
    begin: RunRecord,
    checkpoints: Vec<(RunRecord, Vec<PowerSample>)>,
    finish: (RunRecord, Vec<PowerSample>),
}

/// What tracker `w` of group `tag` writes for its run `k`.
fn script(tag: &str, w: usize, k: usize) -> Script {
    let id = format!("{tag}-w{w:02}-r{k}");
    let mut r = record(
        &id,
        &format!("{tag}-proj{}", w % 3),
        Phase::ALL[(w + k) % Phase::ALL.len()],
        t((w * 100 + k) as i64),
    );
    r.tracker.pid = 10_000 + w as u32;
    r.ended_at = None;
    r.exit_code = None;
    let begin = r.clone();
    let mut checkpoints = Vec::new();
    for c in 0..CHECKPOINTS {
        r.duration = Duration::from_secs(c as u64 + 1);
        r.samples.count = ((c + 1) * PER_BATCH) as u64;
        r.metrics.insert("step".into(), c as f64);
        r.recompute();
        checkpoints.push((r.clone(), batch(w, k, c * PER_BATCH)));
    }
    r.status = [RunStatus::Finished, RunStatus::Failed][k % 2];
    r.exit_code = Some(k as i32 % 2);
    r.ended_at = Some(r.started_at + chrono::Duration::seconds(60));
    r.samples.count = ((CHECKPOINTS + 1) * PER_BATCH) as u64;
    let finish = (r, batch(w, k, CHECKPOINTS * PER_BATCH));
    Script {
        begin,
        checkpoints,
        finish,
    }
}

/// One tracker: its own connection, its runs one after the other.
fn work(path: &Path, tag: &str, w: usize) {
    let mut l = SqliteLedger::open(path).unwrap();
    for k in 0..RUNS {
        let s = script(tag, w, k);
        l.begin(&s.begin).unwrap();
        for (i, (r, b)) in s.checkpoints.iter().enumerate() {
            l.checkpoint(r, b).unwrap();
            if i % 3 == 1 {
                // A retried checkpoint must not duplicate samples.
                l.checkpoint(r, b).unwrap();
            }
        }
        l.finish(&s.finish.0, &s.finish.1).unwrap();
    }
}

fn check_all(path: &Path, tag: &str, workers: usize) {
    let l = SqliteLedger::open(path).unwrap();
    let all = l.list(&RunFilter::default()).unwrap();
    let mine: Vec<_> = all.iter().filter(|r| r.id.starts_with(tag)).collect();
    assert_eq!(mine.len(), workers * RUNS, "every run recorded");
    for w in 0..workers {
        for k in 0..RUNS {
            let s = script(tag, w, k);
            let id = &s.begin.id;
            assert_eq!(l.get(id).unwrap(), rt(&s.finish.0), "record {id}");
            let mut want: Vec<PowerSample> = s
                .checkpoints
                .iter()
                .flat_map(|(_, b)| b.iter().copied())
                .collect();
            want.extend(&s.finish.1);
            assert_eq!(l.samples(id).unwrap(), want, "samples of {id}");
        }
    }
}

#[test]
fn concurrent_threads_write_intact() {
    const WORKERS: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    // Not opened beforehand: the workers race to create the file and its schema too.
    let barrier = Barrier::new(WORKERS);
    std::thread::scope(|s| {
        for w in 0..WORKERS {
            let (path, barrier) = (&path, &barrier);
            s.spawn(move || {
                barrier.wait();
                work(path, "thr", w);
            });
        }
    });
    check_all(&path, "thr", WORKERS);
}

#[test]
fn concurrent_processes_write_intact() {
    const PROCESSES: usize = 4;
    const THREADS: usize = 2;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|p| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "child_writer_process",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_ENV, format!("{}\t{p}\t{THREADS}", path.display()))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // The parent writes at the same time, through its own connection.
    work(&path, "parent", 0);
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "child failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // Guard against a filter that silently ran nothing.
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "child ran no test: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    check_all(&path, "proc", PROCESSES * THREADS);
    check_all(&path, "parent", 1);
}

/// Entry point of the child processes of `concurrent_processes_write_intact`; does nothing when
/// run by hand.
#[test]
#[ignore = "child process entry of concurrent_processes_write_intact"]
fn child_writer_process() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = spec.split('\t');
    let path = Path::new(parts.next().unwrap()).to_path_buf();
    let p: usize = parts.next().unwrap().parse().unwrap();
    let threads: usize = parts.next().unwrap().parse().unwrap();
    std::thread::scope(|s| {
        for i in 0..threads {
            let path = &path;
            s.spawn(move || work(path, "proc", p * threads + i));
        }
    });
}
