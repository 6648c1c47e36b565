//! `ecotrace run --when-green`, end to end with the real binary: a plan whose best start is the
//! current hour runs at once; a plan whose best start is a few seconds away waits, then runs and
//! records the command with its exit code; a signal while waiting exits 128 + signal and records
//! nothing; planning errors exit 2 before anything runs.
//!
//! The planner's clock is set with the test-only `ECOTRACE_TEST_NOW` (a 2022 time, inside the
//! bundled hourly data); the wait runs on the real clock from that time to the chosen start.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::Env;
use ecotrace_core::GridBasis;
use serde_json::Value;

fn runs(e: &Env) -> Vec<Value> {
    if !e.ledger().exists() {
        return Vec::new();
    }
    e.json(&["runs", "--json"]).as_array().unwrap().clone()
}

fn fmt(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An hour of June 2022 in FR whose life-cycle intensity is strictly below the hour before it,
/// read from the bundled series: a 1 h job planned from the hour before, with a deadline at its
/// end, must start at it.
fn cleaner_next_hour() -> DateTime<Utc> {
    let s = ecotrace_data::hourly("FR", 2022).unwrap();
    let v = s.values(GridBasis::Lifecycle);
    let from = (31 + 28 + 31 + 30 + 31) * 24; // 1 June
    let i = (from..v.len())
        .find(|&i| v[i] < v[i - 1])
        .expect("an hour cleaner than the one before");
    s.first_hour + Duration::hours(i as i64)
}

fn green_cmd(
    e: &Env,
    now: DateTime<Utc>,
    deadline: &str,
    extra: &[&str],
    cmd: &[&str],
) -> std::process::Command {
    let mut c = e.cmd();
    c.env("ECOTRACE_TEST_NOW", fmt(now))
        .args([
            "run",
            "--when-green",
            "--region",
            "FR",
            "--duration",
            "1h",
            "--deadline",
            deadline,
            "--interval",
            "50ms",
            "--cpu-power",
            "50",
        ])
        .args(extra)
        .arg("--")
        .args(cmd);
    c
}

#[test]
fn a_best_start_now_runs_at_once() {
    let e = Env::new();
    let now = Utc.with_ymd_and_hms(2022, 6, 1, 12, 30, 0).unwrap();
    // Only the current hour's window ends by the deadline.
    let t = Instant::now();
    let o = green_cmd(
        &e,
        now,
        &fmt(now + Duration::minutes(40)),
        &[],
        &["sh", "-c", "exit 4"],
    )
    .output()
    .unwrap();
    let err = common::stderr(&o);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(t.elapsed() < StdDuration::from_secs(30), "{err}");
    assert!(err.contains("now is the cleanest start in FR"), "{err}");
    let r = runs(&e);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["exit_code"], 4);
    let notes = r[0]["notes"].to_string();
    assert!(
        notes.contains("started by --when-green: planned start 2022-06-01T12:00:00Z in FR"),
        "{notes}"
    );
}

#[test]
fn a_start_a_few_seconds_away_is_waited_for_then_run_and_recorded() {
    let e = Env::new();
    let h = cleaner_next_hour();
    let now = h - Duration::seconds(2);
    let t = Instant::now();
    let o = green_cmd(
        &e,
        now,
        &fmt(h + Duration::hours(1)),
        &[],
        &["sh", "-c", "exit 3"],
    )
    .output()
    .unwrap();
    let err = common::stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(t.elapsed() >= StdDuration::from_millis(1500), "{err}");
    assert!(
        err.contains(&format!("when green: starting at {} in FR (in 2s)", fmt(h))),
        "{err}"
    );
    // Not a terminal: the plain line, no countdown redraws.
    assert!(!err.contains('\r'), "{err:?}");
    let r = runs(&e);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["exit_code"], 3);
    assert_eq!(r[0]["status"], "failed");
    let notes = r[0]["notes"].to_string();
    assert!(
        notes.contains(&format!("planned start {} in FR", fmt(h))),
        "{notes}"
    );
}

#[test]
fn a_start_after_in_the_future_is_waited_for() {
    let e = Env::new();
    // Now is 2 s before the hour; --start-after that hour leaves a single 1 h window.
    let h = Utc.with_ymd_and_hms(2022, 6, 1, 12, 0, 0).unwrap();
    let start_after = fmt(h);
    let mut c = green_cmd(
        &e,
        h - Duration::seconds(2),
        "1h",
        &["--start-after", &start_after],
        &["true"],
    );
    let t = Instant::now();
    let o = c.output().unwrap();
    let err = common::stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(t.elapsed() >= StdDuration::from_millis(1500), "{err}");
    // The deadline of 1h counts from the start-after: the window is that hour.
    assert!(
        err.contains(&format!("when green: starting at {} in FR (in 2s)", fmt(h))),
        "{err}"
    );
    assert!(
        err.contains(&format!("less than starting at {}", fmt(h))),
        "{err}"
    );
    assert_eq!(runs(&e).len(), 1);
}

/// Starts a wait of a minute, sends `sig` once the plan is printed, and checks the exit code
/// and that nothing was recorded.
fn cancelled_by(sig: i32, code: i32) {
    let e = Env::new();
    let h = cleaner_next_hour();
    let marker = e.path("ran");
    let mut child = green_cmd(
        &e,
        h - Duration::seconds(60),
        &fmt(h + Duration::hours(1)),
        &[],
        &["touch", marker.to_str().unwrap()],
    )
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("when green: starting at") {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "stderr ended early");
    }
    unsafe { libc::kill(child.id() as i32, sig) };
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    assert_eq!(status.code(), Some(code), "{rest}");
    assert!(rest.contains("nothing was run or recorded"), "{rest}");
    assert!(!marker.exists());
    assert!(runs(&e).is_empty());
}

#[test]
fn sigint_while_waiting_exits_130_and_records_nothing() {
    cancelled_by(libc::SIGINT, 130);
}

#[test]
fn sigterm_while_waiting_exits_143_and_records_nothing() {
    cancelled_by(libc::SIGTERM, 143);
}

#[test]
fn planning_errors_are_usage_errors_before_anything_runs() {
    let e = Env::new();
    let marker = e.path("ran");
    let m = marker.to_str().unwrap();
    e.usage_error(
        &["run", "--when-green", "--deadline", "12h", "--", "touch", m],
        &["--when-green plans in the region", "--region"],
    );
    e.usage_error(
        &[
            "run",
            "--when-green",
            "--region",
            "FR",
            "--duration",
            "6h",
            "--deadline",
            "2h",
            "--",
            "touch",
            m,
        ],
        &["is before the earliest end"],
    );
    e.usage_error(
        &[
            "run",
            "--when-green",
            "--region",
            "FR",
            "--duration",
            "soon",
            "--",
            "touch",
            m,
        ],
        &["--duration \"soon\" is not a duration"],
    );
    e.usage_error(
        &[
            "run",
            "--when-green",
            "--region",
            "FR",
            "--start-after",
            "tonight",
            "--",
            "touch",
            m,
        ],
        &["--start-after \"tonight\" is not an RFC 3339 time"],
    );
    // Planning options without --when-green are refused by the parser.
    let o = e.run(&["run", "--deadline", "12h", "--", "touch", m]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!marker.exists());
    assert!(runs(&e).is_empty());
}
