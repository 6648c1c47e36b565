//! Running the measured command as a child: spawning it with the terminal's stdio, forwarding
//! SIGINT/SIGTERM/SIGHUP to it, reaping it (and orphaned descendants, as a child subreaper) and
//! turning its end into an exit code. Unix only. Knows nothing of energy or the ledger.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::exfiltrator::origin::WithOrigin;
use signal_hook::iterator::SignalsInfo;
use signal_hook::low_level::siginfo::Cause;

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildEnd {
    Exited(i32),
    Signaled(i32),
}

impl ChildEnd {
    /// The exit code a shell would report: the code, or 128 + the signal number.
    pub fn exit_code(self) -> i32 {
        match self {
            ChildEnd::Exited(c) => c,
            ChildEnd::Signaled(s) => 128 + s,
        }
    }
}

/// Makes this process adopt orphaned descendants, so that their CPU time stays in the tracked tree
/// and they can be reaped here. Failure only costs accuracy.
pub fn become_subreaper() -> bool {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer flag and touches no memory.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 }
}

/// Forwards SIGINT, SIGTERM and SIGHUP to the child while it runs. Signals the terminal sent to the
/// whole foreground process group already reached the child, so they are not sent twice.
pub struct Forwarder {
    handle: signal_hook::iterator::Handle,
    thread: Option<std::thread::JoinHandle<()>>,
    pub forwarded: Arc<AtomicBool>,
}

/// Signal handlers installed before the command is spawned, so that a signal arriving between
/// the spawn and the start of forwarding is queued, not fatal to ecotrace.
pub struct PendingForwarder {
    signals: SignalsInfo<WithOrigin>,
}

impl PendingForwarder {
    pub fn install() -> io::Result<Self> {
        Ok(PendingForwarder {
            signals: SignalsInfo::<WithOrigin>::new([SIGINT, SIGTERM, SIGHUP])?,
        })
    }

    /// Starts forwarding to the spawned command (signals queued since `install` included).
    pub fn start(self, child_pid: u32) -> io::Result<Forwarder> {
        let mut signals = self.signals;
        let handle = signals.handle();
        let forwarded = Arc::new(AtomicBool::new(false));
        let fwd = Arc::clone(&forwarded);
        let thread = std::thread::Builder::new()
            .name("ecotrace-signals".into())
            .spawn(move || {
                for origin in signals.forever() {
                    fwd.store(true, Ordering::SeqCst);
                    if matches!(origin.cause, Cause::Kernel) {
                        // From the terminal: the child, in our process group, got it too.
                        continue;
                    }
                    // SAFETY: kill takes plain integers.
                    unsafe {
                        libc::kill(child_pid as libc::pid_t, origin.signal);
                    }
                }
            })?;
        Ok(Forwarder {
            handle,
            thread: Some(thread),
            forwarded,
        })
    }
}

impl Forwarder {
    pub fn stop(mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

use ecotrace_sensors::procfs::rusage_to_ticks as rusage_ticks;

/// Waits for `pid` to end, reaping adopted orphans on the way and adding their CPU time (and the
/// command's own, once it is reaped) to `reaped_ticks`.
pub fn wait(
    pid: u32,
    reaped_ticks: Option<&AtomicU64>,
    ticks_per_sec: u64,
) -> io::Result<ChildEnd> {
    loop {
        let mut status = 0;
        // SAFETY: rusage is plain data; wait4 fills it.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointers to local variables.
        let r = unsafe { libc::wait4(-1, &mut status, 0, &mut ru) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if let Some(t) = reaped_ticks {
            t.fetch_add(rusage_ticks(&ru, ticks_per_sec), Ordering::SeqCst);
        }
        if r as u32 == pid {
            if libc::WIFEXITED(status) {
                return Ok(ChildEnd::Exited(libc::WEXITSTATUS(status)));
            }
            if libc::WIFSIGNALED(status) {
                return Ok(ChildEnd::Signaled(libc::WTERMSIG(status)));
            }
        }
    }
}

/// Reaps descendants that have already ended, without waiting for the ones still running.
pub fn reap_finished(reaped_ticks: Option<&AtomicU64>, ticks_per_sec: u64) {
    loop {
        let mut status = 0;
        // SAFETY: as in `wait`.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(-1, &mut status, libc::WNOHANG, &mut ru) };
        if r <= 0 {
            return;
        }
        if let Some(t) = reaped_ticks {
            t.fetch_add(rusage_ticks(&ru, ticks_per_sec), Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(ChildEnd::Exited(3).exit_code(), 3);
        assert_eq!(ChildEnd::Signaled(libc::SIGTERM).exit_code(), 143);
    }
}
