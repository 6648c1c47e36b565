//! `ecotrace run`: spawn the command, measure its process tree with an `ecotrace_tracker::Run`,
//! forward signals, show a live line on a terminal, and pass the command's exit code on.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use ecotrace_core::{RunStatus, Scope};
use ecotrace_ledger::Ledger;
use ecotrace_sensors::Roots;
use ecotrace_tracker::scrape::WorkSource;
use ecotrace_tracker::{Finished, MeasureSettings, Measuring, Outcome, Run};

use crate::child::{self, ChildEnd};

pub struct RunOptions {
    pub settings: MeasureSettings,
    pub command: Vec<String>,
    pub json: bool,
    pub quiet: bool,
    /// The server's work counter (`ecotrace serve --metrics-url`).
    pub work: Option<Box<dyn WorkSource>>,
    /// Notes for the record (how `--when-green` chose the start).
    pub notes: Vec<String>,
}

fn spawn_error(cmd: &str, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!("command not found: {cmd} (check the name and your PATH)")
        }
        std::io::ErrorKind::PermissionDenied => {
            format!("permission denied running {cmd} (is it executable?)")
        }
        _ => format!("cannot start {cmd}: {e}"),
    }
}

/// Runs the command and returns the exit code ecotrace should exit with.
pub fn run(mut opts: RunOptions, ledger: Box<dyn Ledger>) -> Result<i32> {
    let mut run = Run::begin(
        &opts.settings,
        opts.command.clone(),
        ledger,
        Roots::from_env(),
    )?;
    // Said before the command starts, and even with --quiet: the user must know at once when the
    // run is not going where they expect.
    for n in run.take_notices() {
        eprintln!("ecotrace: {n}");
    }
    for w in &opts.settings.warnings {
        eprintln!("ecotrace: warning: {w}");
    }
    for n in std::mem::take(&mut opts.notes) {
        run.note(n);
    }
    if let Some(source) = opts.work.take() {
        // The server starts with the run: its counters' first values are the run's work.
        run.count_work(source, true);
    }
    let s = &opts.settings;
    let windows = match run.windows_file(&runtime_dir()) {
        Ok(p) => Some(p),
        Err(e) => {
            run.note(format!(
                "no windows file for the command ({e}): windows cannot be opened from it"
            ));
            None
        }
    };

    let subreaper = child::become_subreaper();
    // Handlers first: a signal sent right after the spawn is then queued and forwarded.
    let pending = child::PendingForwarder::install();
    let mut command = std::process::Command::new(&opts.command[0]);
    command.args(&opts.command[1..]);
    if let Some(p) = &windows {
        command.env(ecotrace_tracker::windows::WINDOWS_ENV, p);
    }
    let child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            let why = spawn_error(&opts.command[0], &e);
            let done = run.fail_to_start(why.clone());
            eprintln!("ecotrace: {why}");
            for n in &done.notices {
                eprintln!("ecotrace: {n}");
            }
            if !opts.quiet && done.store_error.is_none() {
                eprintln!(
                    "ecotrace: recorded as failed-to-start (run {})",
                    short(&done.record.id)
                );
            }
            finish_output(&opts, &done)?;
            return Ok(127);
        }
    };
    let pid = child.id();
    let forwarder = pending.and_then(|p| p.start(pid));
    if !subreaper && s.scope == Scope::Process {
        run.note(
            "could not become a child subreaper: CPU time of orphaned processes may be missed"
                .into(),
        );
    }
    let measuring = Arc::new(run.start(std::process::id(), false)?);

    let live_done = Arc::new(AtomicBool::new(false));
    let live_thread = (!opts.quiet && std::io::stderr().is_terminal())
        .then(|| live_status(Arc::clone(&measuring), Arc::clone(&live_done), s));

    let ticks = ecotrace_sensors::procfs::clock_ticks_per_sec();
    let reaped = measuring.reaped_ticks();
    let end = child::wait(pid, reaped.as_deref(), ticks);
    child::reap_finished(reaped.as_deref(), ticks);
    drop(child);
    live_done.store(true, Ordering::SeqCst);
    if let Some(t) = live_thread {
        let _ = t.join();
    }
    let signalled = match forwarder {
        Ok(f) => {
            let s = f.forwarded.load(Ordering::SeqCst);
            f.stop();
            s
        }
        Err(_) => false,
    };
    if let Some(e) = measuring.checkpoint_error() {
        if !opts.quiet {
            eprintln!("ecotrace: warning: a checkpoint could not be written: {e}");
        }
    }
    let (outcome, code) = match end {
        Ok(end) => (
            Outcome {
                status: match end {
                    ChildEnd::Exited(0) => RunStatus::Finished,
                    ChildEnd::Signaled(sig)
                        if [libc::SIGINT, libc::SIGTERM, libc::SIGHUP].contains(&sig) =>
                    {
                        RunStatus::Interrupted
                    }
                    ChildEnd::Exited(_) if signalled => RunStatus::Interrupted,
                    _ => RunStatus::Failed,
                },
                exit_code: Some(end.exit_code()),
                signal: match end {
                    ChildEnd::Signaled(sig) => Some(sig),
                    ChildEnd::Exited(_) => None,
                },
                error: None,
            },
            end.exit_code(),
        ),
        Err(e) => (
            Outcome {
                status: RunStatus::Failed,
                exit_code: None,
                signal: None,
                error: Some(format!("lost track of the command: {e}")),
            },
            1,
        ),
    };
    let measuring =
        Arc::try_unwrap(measuring).unwrap_or_else(|_| unreachable!("the live thread has ended"));
    let done = measuring.finish(outcome);
    if !opts.quiet {
        eprint!("{}", ecotrace_report::run_summary(&done.record));
    }
    for n in &done.notices {
        eprintln!("ecotrace: {n}");
    }
    finish_output(&opts, &done)?;
    Ok(code)
}

/// Where a run's windows file goes: $XDG_RUNTIME_DIR (private to the user) if set, else the
/// temporary directory.
pub fn runtime_dir() -> std::path::PathBuf {
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir)
}

/// The one-line live status on stderr, redrawn until `done`.
pub fn live_status(
    m: Arc<Measuring>,
    done: Arc<AtomicBool>,
    s: &MeasureSettings,
) -> std::thread::JoinHandle<()> {
    let intensity = s.intensity.value;
    let pue = s.pue.value;
    std::thread::spawn(move || {
        let mut err = std::io::stderr();
        while !done.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(250));
            if done.load(Ordering::SeqCst) {
                break;
            }
            let live = m.live();
            let co2 = (live.energy * pue) * intensity;
            let line = ecotrace_report::live_line(m.elapsed(), live.power, live.energy, co2);
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
        }
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    })
}

pub fn finish_output(opts: &RunOptions, done: &Finished) -> Result<()> {
    if let Some(e) = &done.store_error {
        eprintln!(
            "ecotrace: error: the run could not be stored in {}: {e}\necotrace: its record follows, so nothing is lost:\n{}",
            done.location,
            serde_json::to_string_pretty(&done.record)?
        );
    }
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&done.record)?);
    }
    Ok(())
}

pub fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}
