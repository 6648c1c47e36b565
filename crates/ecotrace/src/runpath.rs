//! What `ecotrace run` shares between the two binaries: `ecotrace` (every command) and
//! `ecotrace-run` (`run` alone, small: no HTTP client, PostgreSQL client, reports or planner, so
//! that a tracker's resident memory stays small; docs/benchmarks.md). `ecotrace run ...` execs
//! `ecotrace-run` from the same directory when it is there ([`exec_runner`]); `ecotrace-run` execs
//! `ecotrace` back, before it starts anything, for what it does not link: `--when-green`, a
//! PostgreSQL ledger, a live grid provider, help, version and usage errors ([`exec_full`]).

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use anyhow::Result;
use ecotrace_factors::{Origin, Origins};
use ecotrace_ledger::{Ledger, PostgresOpener};
use ecotrace_tracker::{FileLayers, MeasureSettings, TrackError};

use crate::cli::RunArgs;
use crate::cmd_run;

/// The runner binary `ecotrace run` execs when it sits beside `ecotrace`.
pub const RUNNER: &str = "ecotrace-run";

/// Set (to `1`) by `ecotrace-run` when it hands a run back to `ecotrace`: run it in this process.
/// `ecotrace` removes it at once, so the command does not inherit it. Users may set it to keep
/// `ecotrace run` in one process.
pub const IN_PROCESS_ENV: &str = "ECOTRACE_IN_PROCESS";

/// A problem with what the user asked for: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn is_usage(e: &anyhow::Error) -> bool {
    e.downcast_ref::<UsageError>().is_some()
        || e.downcast_ref::<ecotrace_estimator::EstimateError>()
            .is_some_and(ecotrace_estimator::EstimateError::is_usage)
        || e.downcast_ref::<TrackError>()
            .is_some_and(TrackError::is_usage)
        || e.downcast_ref::<ecotrace_factors::FactorError>().is_some()
}

/// The exit code of a command's result; an error is said on stderr (2 for bad usage, else 1).
pub fn exit_code(r: Result<i32>) -> i32 {
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ecotrace: error: {e:#}");
            if is_usage(&e) {
                2
            } else {
                1
            }
        }
    }
}

/// A binary beside this one (the directory of the running executable, links resolved).
fn sibling(name: &str) -> Option<PathBuf> {
    let p = std::env::current_exe().ok()?.parent()?.join(name);
    p.is_file().then_some(p)
}

/// In `ecotrace`: for `ecotrace run ...`, exec `ecotrace-run` with the same arguments when it is
/// beside this binary (returns only when it is not, or cannot be run: the run then happens in
/// this process, as it always could). Removes [`IN_PROCESS_ENV`] when set, and runs in-process.
pub fn exec_runner(args: &[OsString]) {
    if std::env::var_os(IN_PROCESS_ENV).is_some() {
        std::env::remove_var(IN_PROCESS_ENV);
        return;
    }
    if args.get(1).map(OsString::as_os_str) != Some(std::ffi::OsStr::new("run")) {
        return;
    }
    if let Some(runner) = sibling(RUNNER) {
        let _ = std::process::Command::new(runner)
            .arg0(&args[0])
            .args(&args[1..])
            .exec();
    }
}

/// In `ecotrace-run`: hands the whole command line to `ecotrace` (beside this binary) for what
/// this binary does not do (`why`, said only if that fails). Never returns.
#[allow(dead_code)] // `ecotrace-run`'s
pub fn exec_full(args: &[OsString], why: &str) -> ! {
    let Some(full) = sibling("ecotrace") else {
        eprintln!(
            "ecotrace: error: {why} needs the `ecotrace` binary, which is not beside {RUNNER}: \
             reinstall ecotrace (`cargo install --path crates/ecotrace` installs both)"
        );
        std::process::exit(1);
    };
    let e = std::process::Command::new(&full)
        .arg0(&args[0])
        .args(&args[1..])
        .env(IN_PROCESS_ENV, "1")
        .exec();
    eprintln!("ecotrace: error: {why}: cannot run {}: {e}", full.display());
    std::process::exit(1);
}

pub fn parse_age(v: &str, flag: &str) -> Result<std::time::Duration> {
    let t = v.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let secs = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => 0,
    };
    match n.parse::<u64>() {
        Ok(n) if secs > 0 => Ok(std::time::Duration::from_secs(n.saturating_mul(secs))),
        _ => Err(UsageError(format!(
            "{flag}: {v:?} is not an age: a whole number with a unit, d, h, m or s (e.g. 90d)"
        ))
        .into()),
    }
}

/// What the ledger wants the user to know (runs kept in or sent from the spool), on stderr.
pub fn print_notices(ledger: &mut dyn Ledger) {
    for n in ledger.take_notices() {
        eprintln!("ecotrace: {n}");
    }
}

/// Where the global `--ledger` came from (the flag or `ECOTRACE_LEDGER`), kept apart from the
/// origins of the measure options.
pub fn ledger_origin(origins: &Origins) -> Origins {
    let mut ledger_origin = Origins::default();
    if origins.contains("ledger") {
        ledger_origin.set("ledger", origins.get("ledger"));
    }
    ledger_origin
}

/// The ledger for `ecotrace run`: never stops the command (see `ecotrace_ledger::open_for_run`);
/// only a ledger spec that names no ledger is an error (a usage error naming where it came from:
/// `--ledger`, `ECOTRACE_LEDGER`, or the config key and its file).
pub fn open_ledger_for_run(
    cli_ledger: &Option<String>,
    origins: &Origins,
    files: &FileLayers,
    postgres: PostgresOpener,
) -> Result<Box<dyn Ledger>> {
    let (spec, from) = match cli_ledger {
        Some(s) => (Some(s.clone()), Some(origins.get("ledger"))),
        None => files.string_with_origin("ledger").unzip(),
    };
    let mut ledger =
        ecotrace_ledger::open_for_run_with(spec.as_deref(), postgres).map_err(|e| {
            let from = from.map_or_else(|| "the ledger".to_string(), |o| o.to_string());
            UsageError(format!("{from}: {e}"))
        })?;
    ledger.set_sample_retention(sample_retention(files)?);
    print_notices(ledger.as_mut());
    Ok(ledger)
}

/// How long a run's samples are kept whole: `ECOTRACE_SAMPLE_RETENTION`, else the config's
/// `sample_retention`, else 90 days; `off` keeps them all. Past it, the samples of ended runs are
/// downsampled to one a minute after a run's final write (at most once a day).
fn sample_retention(files: &FileLayers) -> Result<Option<ecotrace_ledger::SampleRetention>> {
    const VAR: &str = "ECOTRACE_SAMPLE_RETENTION";
    let v = std::env::var(VAR)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| (v, Origin::Env(VAR.into())))
        .or_else(|| files.string_with_origin("sample_retention"));
    match v.as_ref().map(|(v, from)| (v.trim(), from)) {
        None => Ok(Some(ecotrace_ledger::DEFAULT_SAMPLE_RETENTION)),
        Some(("off", _)) => Ok(None),
        Some((age, from)) => Ok(Some(ecotrace_ledger::SampleRetention {
            older_than: parse_age(age, &from.to_string())?,
            ..ecotrace_ledger::DEFAULT_SAMPLE_RETENTION
        })),
    }
}

/// `ecotrace run` once its settings are resolved (and `--when-green` has waited): opens the
/// ledger and runs the command; returns the exit code to exit with.
pub fn run(
    (cli_ledger, ledger_origin): (&Option<String>, &Origins),
    files: &FileLayers,
    args: RunArgs,
    mut settings: MeasureSettings,
    notes: Vec<String>,
    postgres: PostgresOpener,
) -> Result<i32> {
    if let Some(job) = &args.job {
        settings.job = ecotrace_tracker::job::detect_from_env(Some(job));
    }
    let ledger = open_ledger_for_run(cli_ledger, ledger_origin, files, postgres)?;
    let quiet = quiet(&args, files);
    cmd_run::run(
        cmd_run::RunOptions {
            settings,
            command: args.command,
            json: args.json,
            quiet,
            work: None,
            notes,
        },
        ledger,
    )
}

/// `--quiet`, or the config's `quiet`.
pub fn quiet(args: &RunArgs, files: &FileLayers) -> bool {
    args.quiet || files.quiet().unwrap_or(false)
}
