//! `ecotrace serve` (start a model server and measure it as `run` does, counting its work) and
//! `ecotrace attach --pid PID` (measure a process tree already running, until it exits or
//! ecotrace is interrupted; the process is left alone). Both default to phase `inference`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use ecotrace_core::RunStatus;
use ecotrace_ledger::Ledger;
use ecotrace_sensors::Roots;
use ecotrace_tracker::scrape::{MetricNames, PrometheusSource, WorkSource};
use ecotrace_tracker::{FileLayers, MeasureOptions, MeasureSettings, Outcome, Run};

use crate::cli::WorkArgs;
use crate::cmd_run::{self, RunOptions};

/// The settings of a serving run: phase `inference` unless a flag, `ECOTRACE_PHASE` or a config
/// file says otherwise.
pub fn settings(mut opts: MeasureOptions, files: &FileLayers) -> Result<MeasureSettings> {
    if opts.phase.is_none() && files.phase().is_none() {
        opts.phase = Some("inference".into());
    }
    Ok(MeasureSettings::resolve(&opts, files)?)
}

/// The work counter the flags name, if any.
pub fn work_source(w: &WorkArgs, interval: Duration) -> Result<Option<Box<dyn WorkSource>>> {
    let Some(url) = &w.metrics_url else {
        return Ok(None);
    };
    let names = w.requests_metric.as_ref().map(|r| {
        MetricNames::custom(
            r.clone(),
            w.tokens_metric.clone(),
            w.prompt_tokens_metric.clone(),
        )
    });
    // A read never holds up the next one for long, however slow the endpoint.
    let timeout = interval.clamp(Duration::from_millis(100), Duration::from_secs(2));
    let source = PrometheusSource::new(url, names, timeout)
        .map_err(|e| crate::UsageError(format!("--metrics-url: {e}")))?;
    Ok(Some(Box::new(source)))
}

/// `ecotrace serve`: `run` with the work counted.
pub fn serve(opts: RunOptions, ledger: Box<dyn Ledger>) -> Result<i32> {
    cmd_run::run(opts, ledger)
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// A zombie is gone for our purposes: it will do no more work.
fn running(pid: u32) -> bool {
    if !alive(pid) {
        return false;
    }
    let stat = std::fs::read_to_string(Roots::from_env().procfs.join(format!("{pid}/stat")));
    match stat {
        Ok(s) => s
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_none_or(|state| state != "Z" && state != "X"),
        Err(_) => true,
    }
}

fn command_of(pid: u32) -> Vec<String> {
    let raw =
        std::fs::read(Roots::from_env().procfs.join(format!("{pid}/cmdline"))).unwrap_or_default();
    let argv: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if argv.is_empty() {
        vec![format!("pid {pid}")]
    } else {
        argv
    }
}

/// `ecotrace attach --pid PID`: measures PID's process tree until it exits or ecotrace gets
/// SIGINT/SIGTERM/SIGHUP; either way the run ends `finished`, and PID is never signalled.
pub fn attach(pid: u32, mut opts: RunOptions, ledger: Box<dyn Ledger>) -> Result<i32> {
    if pid == 0 || !running(pid) {
        return Err(crate::UsageError(format!(
            "no running process {pid} to attach to (check the pid with `ps`)"
        ))
        .into());
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    let mut run = Run::begin(&opts.settings, command_of(pid), ledger, Roots::from_env())?;
    if let Some(source) = opts.work.take() {
        // The server ran before: its counters' first values are a baseline.
        run.count_work(source, false);
    }
    run.note(format!(
        "attached to process {pid}: CPU time of its descendants that ended before or during the \
         run without being reaped by it is not counted"
    ));
    let measuring = Arc::new(run.start(pid, true)?);
    let live_done = Arc::new(AtomicBool::new(false));
    let live_thread =
        (!opts.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
            cmd_run::live_status(
                Arc::clone(&measuring),
                Arc::clone(&live_done),
                &opts.settings,
            )
        });
    while !stop.load(Ordering::SeqCst) && running(pid) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let interrupted = stop.load(Ordering::SeqCst);
    live_done.store(true, Ordering::SeqCst);
    if let Some(t) = live_thread {
        let _ = t.join();
    }
    let measuring =
        Arc::try_unwrap(measuring).unwrap_or_else(|_| unreachable!("the live thread has ended"));
    if interrupted {
        measuring.update(|r| {
            r.notes.push(format!(
                "ecotrace was stopped; process {pid} was left running"
            ))
        });
    }
    let done = measuring.finish(Outcome {
        status: RunStatus::Finished,
        exit_code: None,
        signal: None,
        error: None,
    });
    if !opts.quiet {
        eprint!("{}", ecotrace_report::run_summary(&done.record));
    }
    for n in &done.notices {
        eprintln!("ecotrace: {n}");
    }
    cmd_run::finish_output(&opts, &done)?;
    Ok(0)
}
