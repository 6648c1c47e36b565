//! Whether a stored `running` run still has a tracker behind it.
//!
//! A tracker that is killed (SIGKILL, OOM, power loss) leaves its last checkpoint behind with
//! status `running`. Reads call [`judge`] to show such a run as `interrupted`: its tracker pid is
//! gone on this host, or it has not checkpointed for longer than the staleness limit. The clock
//! and the process probe are injectable ([`Clock`], [`TrackerProbe`]) so tests decide them.
//!
//! This module only decides and annotates a returned copy; it must not touch storage (a stored
//! row is never rewritten on read, since a slow tracker's `finish` may still arrive).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use ecotrace_core::{RunRecord, RunStatus};

/// How long a `running` run may go without a checkpoint before reads call it interrupted. The
/// tracker checkpoints at least every 10 s, so this leaves ample room for a loaded machine.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(120);

/// The current time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(t: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(t))
    }
    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = t;
    }
    pub fn advance(&self, d: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t += chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What is known about a process id on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PidState {
    /// A process with this id exists (it may not be our tracker if the id was reused: the
    /// staleness limit covers that).
    Alive,
    /// No such process (`kill(pid, 0)` gave ESRCH).
    Gone,
    /// Cannot tell (pid 0, out of range, other error, not Unix).
    Unknown,
}

/// Looks at this host: its name, and whether a pid is alive.
pub trait TrackerProbe: Send + Sync {
    /// This host's name, compared with `record.host.hostname`.
    fn local_hostname(&self) -> Option<String>;
    fn pid_state(&self, pid: u32) -> PidState;
}

/// The real host: `gethostname(2)` and `kill(pid, 0)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemProbe;

impl TrackerProbe for SystemProbe {
    fn local_hostname(&self) -> Option<String> {
        system_hostname()
    }

    fn pid_state(&self, pid: u32) -> PidState {
        system_pid_state(pid)
    }
}

#[cfg(unix)]
fn system_hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for buf.len() bytes; gethostname writes at most that many.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).into_owned();
    (!name.is_empty()).then_some(name)
}

#[cfg(not(unix))]
fn system_hostname() -> Option<String> {
    std::env::var("COMPUTERNAME").ok()
}

#[cfg(unix)]
fn system_pid_state(pid: u32) -> PidState {
    // pid 0 and negative values address process groups in kill(2): never probe them.
    let Ok(p) = libc::pid_t::try_from(pid) else {
        return PidState::Unknown;
    };
    if p <= 0 {
        return PidState::Unknown;
    }
    // SAFETY: signal 0 only checks for existence and permission; nothing is delivered.
    if unsafe { libc::kill(p, 0) } == 0 {
        return PidState::Alive;
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::ESRCH) => PidState::Gone,
        // Exists, but belongs to another user.
        Some(libc::EPERM) => PidState::Alive,
        _ => PidState::Unknown,
    }
}

#[cfg(not(unix))]
fn system_pid_state(_pid: u32) -> PidState {
    PidState::Unknown
}

/// Why a stored `running` run is shown as interrupted.
#[derive(Debug, Clone, PartialEq)]
pub enum InterruptCause {
    /// The tracker ran on this host and its pid no longer exists.
    TrackerGone { pid: u32, hostname: String },
    /// No checkpoint for longer than the staleness limit.
    Stale {
        silent_for: Duration,
        limit: Duration,
    },
}

/// A stored `running` run whose tracker stopped reporting.
#[derive(Debug, Clone, PartialEq)]
pub struct Interruption {
    /// Time of its last checkpoint (the heartbeat).
    pub last_heartbeat: DateTime<Utc>,
    pub cause: InterruptCause,
}

impl Interruption {
    /// The note added to the returned record.
    pub fn note(&self) -> String {
        let why = match &self.cause {
            InterruptCause::TrackerGone { pid, hostname } => {
                format!("its process {pid} on {hostname} is gone")
            }
            InterruptCause::Stale { silent_for, limit } => format!(
                "no checkpoint for {}, more than the {} limit",
                human(*silent_for),
                human(*limit)
            ),
        };
        format!(
            "interrupted: the tracker stopped reporting at {} ({why}); the figures are those of its last checkpoint",
            self.last_heartbeat.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }

    /// Shows `record` as interrupted: status `interrupted` and a note. `ended_at` stays unset:
    /// the command itself may have gone on after its tracker died.
    pub fn apply(&self, record: &mut RunRecord) {
        record.status = RunStatus::Interrupted;
        record.notes.push(self.note());
    }
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The pure decision: is this stored run's tracker gone?
///
/// `None` unless `record.status` is `running`. Otherwise the tracker is gone when it ran on this
/// host (`local_hostname`, compared case-insensitively) and `pid_state(record.tracker.pid)` is
/// [`PidState::Gone`], or when `now - heartbeat_at` exceeds `stale_after`. A heartbeat in the
/// future (clock skew) is not stale.
pub fn judge(
    record: &RunRecord,
    heartbeat_at: DateTime<Utc>,
    now: DateTime<Utc>,
    local_hostname: Option<&str>,
    pid_state: impl FnOnce(u32) -> PidState,
    stale_after: Duration,
) -> Option<Interruption> {
    if record.status != RunStatus::Running {
        return None;
    }
    let host = &record.host.hostname;
    let same_host =
        !host.is_empty() && local_hostname.is_some_and(|l| l.eq_ignore_ascii_case(host));
    if same_host && pid_state(record.tracker.pid) == PidState::Gone {
        return Some(Interruption {
            last_heartbeat: heartbeat_at,
            cause: InterruptCause::TrackerGone {
                pid: record.tracker.pid,
                hostname: host.clone(),
            },
        });
    }
    let silent_for = (now - heartbeat_at).to_std().unwrap_or(Duration::ZERO);
    if silent_for > stale_after {
        return Some(Interruption {
            last_heartbeat: heartbeat_at,
            cause: InterruptCause::Stale {
                silent_for,
                limit: stale_after,
            },
        });
    }
    None
}

/// The clock, the probe and the staleness limit a ledger judges its `running` rows with.
#[derive(Clone)]
pub struct Liveness {
    clock: Arc<dyn Clock>,
    probe: Arc<dyn TrackerProbe>,
    stale_after: Duration,
}

impl Liveness {
    /// System clock, real host, [`DEFAULT_STALE_AFTER`].
    pub fn system() -> Self {
        Self::new(
            Arc::new(SystemClock),
            Arc::new(SystemProbe),
            DEFAULT_STALE_AFTER,
        )
    }

    pub fn new(clock: Arc<dyn Clock>, probe: Arc<dyn TrackerProbe>, stale_after: Duration) -> Self {
        Liveness {
            clock,
            probe,
            stale_after,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn stale_after(&self) -> Duration {
        self.stale_after
    }

    /// Takes the time and the host name once, for judging many rows alike.
    pub(crate) fn view(&self) -> LivenessView<'_> {
        LivenessView {
            liveness: self,
            now: self.clock.now(),
            hostname: self.probe.local_hostname(),
        }
    }

    /// [`judge`] with this clock, probe and limit.
    pub fn check(&self, record: &RunRecord, heartbeat_at: DateTime<Utc>) -> Option<Interruption> {
        self.view().check(record, heartbeat_at)
    }
}

impl Default for Liveness {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for Liveness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Liveness")
            .field("stale_after", &self.stale_after)
            .finish_non_exhaustive()
    }
}

pub(crate) struct LivenessView<'a> {
    liveness: &'a Liveness,
    now: DateTime<Utc>,
    hostname: Option<String>,
}

impl LivenessView<'_> {
    pub(crate) fn check(
        &self,
        record: &RunRecord,
        heartbeat_at: DateTime<Utc>,
    ) -> Option<Interruption> {
        judge(
            record,
            heartbeat_at,
            self.now,
            self.hostname.as_deref(),
            |pid| self.liveness.probe.pid_state(pid),
            self.liveness.stale_after,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rec(status: RunStatus, host: &str, pid: u32) -> RunRecord {
        let json = serde_json::json!({
            "record_version": 1, "id": "r", "project": "p", "phase": "training",
            "command": ["x"], "status": status, "exit_code": null, "signal": null, "error": null,
            "started_at": "2024-01-01T00:00:00Z", "ended_at": null, "duration_s": 1.0,
            "scope": "process",
            "host": {"hostname": host, "cpu_model": "", "cpu_count": 1, "memory_gb": 1.0, "gpus": [], "os": ""},
            "energy_kwh": {"cpu": 0.0, "gpu": 0.0, "ram": 0.0, "total": 0.0},
            "components": [], "mean_power_w": 0.0,
            "pue": {"value": 1.0, "source": ""},
            "intensity": {"g_per_kwh": 1.0, "zone": "", "source": "", "year": null, "basis": "user"},
            "operational_kgco2e": 0.0,
            "tracker": {"version": "0", "interval_s": 1.0, "pid": pid}
        });
        serde_json::from_value(json).unwrap()
    }

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    const LIMIT: Duration = Duration::from_secs(120);

    #[test]
    fn dead_pid_on_this_host_is_interrupted() {
        let r = rec(RunStatus::Running, "box", 42);
        let i = judge(&r, t(0), t(5), Some("BOX"), |_| PidState::Gone, LIMIT).unwrap();
        assert_eq!(
            i.cause,
            InterruptCause::TrackerGone {
                pid: 42,
                hostname: "box".into()
            }
        );
        assert_eq!(
            i.note(),
            "interrupted: the tracker stopped reporting at 2023-11-14T22:13:20Z (its process 42 on box is gone); the figures are those of its last checkpoint"
        );
    }

    #[test]
    fn pid_is_only_probed_on_the_same_host() {
        let r = rec(RunStatus::Running, "other", 42);
        let probed = std::cell::Cell::new(false);
        let out = judge(
            &r,
            t(0),
            t(5),
            Some("box"),
            |_| {
                probed.set(true);
                PidState::Gone
            },
            LIMIT,
        );
        assert!(out.is_none());
        assert!(!probed.get());
        // Unknown local host name: never probe.
        assert!(judge(&r, t(0), t(5), None, |_| PidState::Gone, LIMIT).is_none());
    }

    #[test]
    fn old_heartbeat_is_interrupted_anywhere() {
        let r = rec(RunStatus::Running, "other", 42);
        assert!(judge(&r, t(0), t(120), Some("box"), |_| PidState::Alive, LIMIT).is_none());
        let i = judge(&r, t(0), t(121), Some("box"), |_| PidState::Alive, LIMIT).unwrap();
        assert!(matches!(i.cause, InterruptCause::Stale { .. }));
        assert!(i
            .note()
            .contains("no checkpoint for 2m01s, more than the 2m00s limit"));
        // Same host, live pid, but silent: still stale (pid reuse, hung tracker).
        let r = rec(RunStatus::Running, "box", 42);
        assert!(judge(&r, t(0), t(3600), Some("box"), |_| PidState::Alive, LIMIT).is_some());
        // Heartbeat in the future: clock skew, not stale.
        assert!(judge(&r, t(100), t(0), Some("box"), |_| PidState::Alive, LIMIT).is_none());
    }

    #[test]
    fn only_running_rows_are_judged() {
        for s in RunStatus::ALL.iter().filter(|s| **s != RunStatus::Running) {
            let r = rec(*s, "box", 42);
            assert!(judge(&r, t(0), t(9999), Some("box"), |_| PidState::Gone, LIMIT).is_none());
        }
    }

    #[test]
    fn apply_marks_and_notes() {
        let mut r = rec(RunStatus::Running, "box", 42);
        let i = judge(&r, t(0), t(500), None, |_| PidState::Unknown, LIMIT).unwrap();
        i.apply(&mut r);
        assert_eq!(r.status, RunStatus::Interrupted);
        assert_eq!(r.ended_at, None);
        assert!(r.notes[0].contains("stopped reporting at 2023-11-14T22:13:20Z"));
        assert!(r.notes[0].contains("8m20s"));
    }

    #[test]
    fn system_probe_sees_this_process_and_a_reaped_child() {
        let p = SystemProbe;
        assert!(p.local_hostname().is_some_and(|h| !h.is_empty()));
        assert_eq!(p.pid_state(std::process::id()), PidState::Alive);
        assert_eq!(p.pid_state(0), PidState::Unknown);
        assert_eq!(p.pid_state(u32::MAX), PidState::Unknown);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert_eq!(p.pid_state(pid), PidState::Gone);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(t(0));
        assert_eq!(c.now(), t(0));
        c.advance(Duration::from_secs(10));
        assert_eq!(c.now(), t(10));
        c.set(t(3));
        assert_eq!(c.now(), t(3));
    }
}
