//! `ecotrace run --when-green`: plans the start in the run's own region with the planner of
//! `ecotrace plan` (the command runs on this machine; only its start moves), says the choice,
//! waits until it (a countdown on a terminal, one plain line otherwise), then the run goes on as
//! `ecotrace run`. A SIGINT, SIGTERM or SIGHUP while waiting exits 128 + the signal (130 for
//! Ctrl-C, 143 for TERM) before anything is recorded.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{DateTime, Timelike, Utc};
use ecotrace_estimator::plan::{self, PlanOptions};
use ecotrace_tracker::MeasureSettings;

use crate::cli::WhenGreenArgs;
use crate::UsageError;

/// The planner's clock, for tests only: an RFC 3339 time taken as "now" when the plan is made
/// (the wait still runs on the real clock, from that time to the chosen start). It moves the plan,
/// never the run's own timestamps.
pub const TEST_NOW_ENV: &str = "ECOTRACE_TEST_NOW";

/// What the wait ended with.
pub enum Waited {
    /// The start has come: run, with this note in the record.
    Start(String),
    /// A signal arrived while waiting: exit with this code, nothing recorded.
    Cancelled(i32),
}

fn now() -> Result<DateTime<Utc>> {
    match std::env::var(TEST_NOW_ENV) {
        Ok(s) if !s.is_empty() => plan::parse_time(&s).ok_or_else(|| {
            UsageError(format!("{TEST_NOW_ENV}={s:?} is not an RFC 3339 time")).into()
        }),
        _ => Ok(Utc::now()),
    }
}

/// Plans, prints, waits. Planning errors are usage errors, returned before anything waits or
/// runs.
pub fn plan_and_wait(g: &WhenGreenArgs, s: &MeasureSettings, quiet: bool) -> Result<Waited> {
    let now = now()?;
    if s.place.label == ecotrace_data::WORLD_ID {
        return Err(UsageError(
            "--when-green plans in the region the command runs in: give --region (or ECOTRACE_REGION, or `region` in ecotrace.toml)".into(),
        )
        .into());
    }
    let start_after = match g.start_after.as_deref() {
        Some(s) => Some(plan::parse_time(s).ok_or_else(|| {
            UsageError(format!(
                "--start-after {s:?} is not an RFC 3339 time: write e.g. 2026-12-05T22:00Z"
            ))
        })?),
        None => None,
    };
    // A relative deadline counts from the start-after, else from now (not from the start of the
    // current hour).
    let deadline = match g.deadline.as_deref() {
        Some(d) if plan::parse_time(d).is_none() => match plan::parse_span(d) {
            Some(span) => Some((start_after.unwrap_or(now) + span).to_rfc3339()),
            None => Some(d.to_string()),
        },
        d => d.map(str::to_string),
    };
    // The current hour may be chosen: its window starts now. A start-after in the past is now.
    let hour = now
        .with_nanosecond(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_minute(0))
        .expect("a valid time");
    let earliest = start_after.map_or(hour, |t| t.max(hour));
    let opts = PlanOptions {
        duration: Some(g.duration.clone().unwrap_or_else(|| "1h".into())),
        regions: vec![s.place.label.clone()],
        start_after: Some(earliest.to_rfc3339()),
        deadline,
        profile_year: g.profile_year,
        basis: s.place.grid_basis().map(|b| b.as_str().to_string()),
        ..Default::default()
    };
    // A damaged imported series costs the plan its hours, not the job (the run warns again).
    let (user, warnings) = ecotrace_tracker::hourly::readable_user_hourly_series();
    for w in &warnings {
        eprintln!("ecotrace: warning: {w}");
    }
    let p = match s.provider.clone() {
        None => plan::plan(&opts, now, &user)?,
        Some(cfg) => plan::plan_with_live(&opts, now, &user, |from, to, basis| {
            ecotrace_tracker::live::plan_series(cfg, &opts.regions, basis, from, to, now)
        })?,
    };
    // Blocked before the plan is said: a signal sent once the user sees it cancels cleanly.
    let blocked = Blocked::new();
    let note = plan::when_green_note(&p);
    if !quiet {
        for l in plan::when_green_text(&p, now, g.duration.is_none()) {
            eprintln!("ecotrace: {l}");
        }
    }
    if !p.time_shifted || p.start_time <= now {
        return Ok(Waited::Start(note));
    }
    let left = (p.start_time - now).to_std().unwrap_or_default();
    let countdown = !quiet && std::io::stderr().is_terminal();
    let start = p.start.clone();
    let mut err = std::io::stderr();
    let got = blocked.wait(Instant::now() + left, |left| {
        if countdown {
            let _ = write!(
                err,
                "\r\x1b[2Kecotrace: waiting for the green start {start}: {} left (Ctrl-C cancels)",
                plan::wait_text(left.as_secs_f64().ceil() as u64)
            );
            let _ = err.flush();
        }
    });
    if countdown {
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
    Ok(match got {
        Some(sig) => {
            if !quiet {
                eprintln!(
                    "ecotrace: cancelled while waiting for the green start (signal {sig}): nothing was run or recorded"
                );
            }
            Waited::Cancelled(128 + sig)
        }
        None => Waited::Start(note),
    })
}

/// SIGINT, SIGTERM and SIGHUP blocked for this thread while it lives (then the previous mask is
/// restored): from before the plan is printed until the wait ends, none of them can kill the
/// process half-way; [`Blocked::wait`] takes them.
struct Blocked {
    set: libc::sigset_t,
    old: libc::sigset_t,
}

impl Blocked {
    fn new() -> Self {
        // SAFETY: plain libc signal-mask calls on values owned here.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                libc::sigaddset(&mut set, s);
            }
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            Blocked { set, old }
        }
    }

    /// Takes one of the blocked signals if it comes within `d`.
    fn take(&self, d: Duration) -> Option<i32> {
        let ts = libc::timespec {
            tv_sec: d.as_secs() as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        };
        // SAFETY: the set and timespec live on this stack; no siginfo is asked for.
        let r = unsafe { libc::sigtimedwait(&self.set, std::ptr::null_mut(), &ts) };
        (r > 0).then_some(r)
    }

    /// Sleeps until `until`, calling `tick` with the time left about once a second. Returns the
    /// signal that ended the wait, if one did (one already pending ends it at once).
    fn wait(&self, until: Instant, mut tick: impl FnMut(Duration)) -> Option<i32> {
        loop {
            let now = Instant::now();
            if now >= until {
                // One that came at the very end is still taken, not left to kill the run.
                return self.take(Duration::ZERO);
            }
            let left = until - now;
            tick(left);
            // Wake on whole seconds of the time left, so the countdown ticks evenly.
            let step = match left.subsec_nanos() {
                0 => Duration::from_secs(1),
                n => Duration::from_nanos(u64::from(n)),
            };
            if let Some(sig) = self.take(step.min(left)) {
                return Some(sig);
            }
        }
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved in `new`.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut());
        }
    }
}
