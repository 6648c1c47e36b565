//! Rootless measurement: the agent (which can read the root-only RAPL counters) answers
//! unprivileged `ecotrace run` and the Python Tracker on the same node through a Unix socket.
//!
//! Who may connect is decided by the socket file's permissions (`--socket-mode`, default 0666,
//! plus the directory's). What a client may ask about is decided here: it can only register a
//! process tree whose root process it owns — the connecting process's uid, from `SO_PEERCRED`,
//! must own `/proc/PID` (root may register anything). A run id belongs to the uid that first
//! registered it for as long as the agent knows the id, also after that client hung up: only that
//! uid may register it again (extend it) and read it, so a run id seen in the `workload` label of
//! the metrics cannot be claimed by another user. A client sees only the run it registered on its
//! own connection; closing the connection unregisters it (its totals stay in the metrics).
//!
//! Limits ([`SocketLimits`]): a connection that sends no complete request for `idle_timeout` is
//! closed; each uid may hold `per_uid` connections at once (more are refused with a message that
//! says so), `max_clients` in all. A request may arrive in any number of parts: the bytes are kept
//! until its newline arrives, and a request longer than `max_request` bytes (default [`MAX_LINE`])
//! is refused. `ecotrace agent` sets them with `--socket-idle-timeout`, `--socket-max-per-uid`,
//! `--socket-max-clients` and `--socket-max-request` (docs/cluster.md). Accepting
//! blocks (no polling); each client has a thread blocked in `read` until its deadline.
//!
//! Protocol: one JSON object per line each way ([`Request`], [`Response`]). The client may ask
//! `hello` (the devices), registers once, then asks `read` whenever it wants its run's cumulative
//! energy per device, and `end`.
//! Must not expose other users' runs.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ecotrace_sensors::procfs::ProcessTree;

use crate::agent::{lock, AgentError, RunTree, Shared};
use crate::cgroups::{WorkloadId, WorkloadKind};

pub use ecotrace_agent_protocol::{
    DeviceDesc, DeviceEnergy, Request, Response, DEFAULT_SOCKET, MAX_LINE,
};

/// At most this many clients at once (the default of [`SocketLimits::max_clients`]).
pub const MAX_CLIENTS: usize = 1024;

/// What one client may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketLimits {
    /// A connection without a complete request for this long is closed (a tracker asks every
    /// sampling interval).
    pub idle_timeout: Duration,
    /// Connections one uid may hold at once.
    pub per_uid: usize,
    /// Connections in all.
    pub max_clients: usize,
    /// Longest request line, in bytes (newline included); a longer one is refused and the
    /// connection closed.
    pub max_request: usize,
}

impl Default for SocketLimits {
    fn default() -> Self {
        SocketLimits {
            idle_timeout: Duration::from_secs(300),
            per_uid: 64,
            max_clients: MAX_CLIENTS,
            max_request: MAX_LINE,
        }
    }
}

/// Connections held, per uid and in all.
#[derive(Default)]
struct Held {
    per_uid: HashMap<u32, usize>,
    total: usize,
}

/// Gives a connection's slot back when its thread ends.
struct Slot {
    held: Arc<Mutex<Held>>,
    uid: u32,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut h = self.held.lock().unwrap_or_else(|e| e.into_inner());
        h.total = h.total.saturating_sub(1);
        if let Some(n) = h.per_uid.get_mut(&self.uid) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                h.per_uid.remove(&self.uid);
            }
        }
    }
}

/// Takes a slot for `uid`, or says why not.
fn take_slot(held: &Arc<Mutex<Held>>, uid: u32, limits: &SocketLimits) -> Result<Slot, String> {
    let mut h = held.lock().unwrap_or_else(|e| e.into_inner());
    let mine = h.per_uid.get(&uid).copied().unwrap_or(0);
    if mine >= limits.per_uid {
        return Err(format!(
            "too many connections from uid {uid} ({mine}, the limit is {}): close the ones you no longer use, then retry",
            limits.per_uid
        ));
    }
    if h.total >= limits.max_clients {
        return Err(format!(
            "the agent serves {} connections already (its limit); retry later",
            h.total
        ));
    }
    h.total += 1;
    *h.per_uid.entry(uid).or_insert(0) += 1;
    Ok(Slot {
        held: Arc::clone(held),
        uid,
    })
}

/// The uid of the process at the other end of `s`.
fn peer_uid(s: &UnixStream) -> Option<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: cred is a valid ucred and len its size; the fd is open for the call's duration.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(cred.uid)
}

fn valid_run_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

/// Creates the socket at `path` (its directory too), sets its mode, and answers clients on a
/// thread until `stop` is set. The accepting thread blocks in `accept`: whoever sets `stop` wakes
/// it by connecting once (see [`wake`]).
pub fn start(
    path: &Path,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    mode: u32,
    limits: SocketLimits,
) -> Result<JoinHandle<()>, AgentError> {
    let fail = |reason: String| AgentError::Socket {
        path: path.to_path_buf(),
        reason,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            std::fs::create_dir_all(dir).map_err(|e| {
                fail(format!(
                    "cannot create {}: {e}; run the agent as root, or pass --socket PATH in a writable directory",
                    dir.display()
                ))
            })?;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
        }
    }
    if path.exists() {
        // A live agent answers; a stale file from a crashed one is replaced.
        if UnixStream::connect(path).is_ok() {
            return Err(fail(
                "another agent is already listening there; stop it, or pass another --socket"
                    .into(),
            ));
        }
        std::fs::remove_file(path)
            .map_err(|e| fail(format!("cannot remove the stale socket: {e}")))?;
    }
    let listener = UnixListener::bind(path).map_err(|e| fail(e.to_string()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| fail(format!("cannot set its mode {mode:o}: {e}")))?;
    let held = Arc::new(Mutex::new(Held::default()));
    let owned = path.to_path_buf();
    std::thread::Builder::new()
        .name("ecotrace-socket".into())
        .spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(s) = conn else {
                    // Out of descriptors or memory: give the clients a moment to leave.
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                };
                let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
                let Some(uid) = peer_uid(&s) else {
                    let _ = answer(
                        &mut &s,
                        &Response::err("cannot tell who is asking (no SO_PEERCRED)"),
                    );
                    continue;
                };
                let slot = match take_slot(&held, uid, &limits) {
                    Ok(slot) => slot,
                    Err(why) => {
                        let _ = answer(&mut &s, &Response::err(why));
                        continue;
                    }
                };
                let (sh, st) = (shared.clone(), stop.clone());
                let _ = std::thread::Builder::new()
                    .name("ecotrace-client".into())
                    .stack_size(64 * 1024)
                    .spawn(move || serve_client(s, slot, &sh, &st, &limits));
            }
            let _ = std::fs::remove_file(&owned);
        })
        .map_err(AgentError::Thread)
}

/// Wakes the thread blocked in `accept` on `path` after `stop` was set.
pub fn wake(path: &Path) {
    let _ = UnixStream::connect(path);
}

fn answer(s: &mut impl Write, r: &Response) -> std::io::Result<()> {
    s.write_all(&ecotrace_agent_protocol::to_line(r))?;
    s.flush()
}

/// One client: its requests until it hangs up, goes idle, or the agent stops; its run is
/// unregistered then. Bytes are kept until a whole line has arrived.
fn serve_client(
    mut s: UnixStream,
    slot: Slot,
    shared: &Mutex<Shared>,
    stop: &AtomicBool,
    limits: &SocketLimits,
) {
    let uid = slot.uid;
    let mut run: Option<String> = None;
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    let mut chunk = [0u8; 1024];
    let mut deadline = Instant::now() + limits.idle_timeout;
    'conn: loop {
        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            if line.len() > limits.max_request {
                let _ = answer(&mut s, &Response::err(too_long(limits)));
                break 'conn;
            }
            deadline = Instant::now() + limits.idle_timeout;
            let resp = match serde_json::from_slice::<Request>(&line) {
                Err(e) => Response::err(format!("not a request: {e}")),
                Ok(req) => handle(req, uid, &mut run, shared),
            };
            if answer(&mut s, &resp).is_err() {
                break 'conn;
            }
        }
        if buf.len() > limits.max_request {
            let _ = answer(&mut s, &Response::err(too_long(limits)));
            break;
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let _ = answer(
                &mut s,
                &Response::err(format!(
                    "no complete request for {} s: closing the connection (ask at least that often)",
                    limits.idle_timeout.as_secs()
                )),
            );
            break;
        }
        if s.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
    }
    if let Some(id) = run {
        lock(shared).trees.remove(&id);
    }
    // The slot first, then the connection: a client that sees it closed may connect again at once.
    drop(slot);
    drop(s);
}

fn too_long(limits: &SocketLimits) -> String {
    format!(
        "request too long (more than {} bytes without a newline; the agent's --socket-max-request)",
        limits.max_request
    )
}

fn describe(sh: &Shared) -> Vec<DeviceDesc> {
    sh.runs
        .devices
        .iter()
        .map(|d| DeviceDesc {
            component: d.info.component,
            device: d.info.device.clone(),
            method: d.info.method,
            note: d.info.note.clone(),
        })
        .collect()
}

fn handle(req: Request, uid: u32, run: &mut Option<String>, shared: &Mutex<Shared>) -> Response {
    match req {
        Request::Hello => {
            let sh = lock(shared);
            Response {
                ok: true,
                error: None,
                devices: describe(&sh),
                energy: Vec::new(),
                interval_s: sh.interval.as_secs_f64(),
                node: sh.info.node.clone(),
            }
        }
        Request::Node => {
            let sh = lock(shared);
            Response {
                ok: true,
                error: None,
                devices: Vec::new(),
                energy: sh
                    .books
                    .devices
                    .iter()
                    .map(|d| DeviceEnergy {
                        active_j: d.energy.active_j,
                        idle_j: d.energy.idle_j,
                    })
                    .collect(),
                interval_s: sh.interval.as_secs_f64(),
                node: sh.info.node.clone(),
            }
        }
        Request::Register {
            run: id,
            pid,
            include_root,
            project,
        } => {
            if run.is_some() {
                return Response::err("this connection already registered a run");
            }
            if !valid_run_id(&id) {
                return Response::err("run id: 1 to 128 letters, digits, '-', '_', '.', ':'");
            }
            let mut sh = lock(shared);
            let proc_dir = sh.roots.procfs.join(pid.to_string());
            let owner = match std::fs::metadata(&proc_dir) {
                Ok(m) => m.uid(),
                Err(_) => return Response::err(format!("no process {pid}")),
            };
            if uid != 0 && owner != uid {
                return Response::err(format!(
                    "process {pid} is not yours (uid {owner}, you are uid {uid}): you can only measure your own processes"
                ));
            }
            match sh.owners.get(&id) {
                Some(&owner) if owner != uid => {
                    return Response::err(format!(
                    "run id {id} belongs to another user (uid {owner}); a new run needs a new id"
                ))
                }
                _ => {}
            }
            if sh.trees.contains_key(&id) {
                return Response::err(format!("run {id} is already registered"));
            }
            sh.own(&id, uid);
            let mut tree = ProcessTree::new(&sh.roots, pid, include_root);
            let prev_ticks = tree.sample().map_or(0, |s| s.cpu_ticks);
            sh.trees.insert(id.clone(), RunTree { tree, prev_ticks });
            let wid = WorkloadId {
                name: id.clone(),
                kind: WorkloadKind::Run,
            };
            if let Some(p) = project {
                sh.runs.set_project(&wid, &p);
            }
            *run = Some(id);
            let devices = describe(&sh);
            Response {
                ok: true,
                error: None,
                devices,
                energy: Vec::new(),
                interval_s: sh.interval.as_secs_f64(),
                node: sh.info.node.clone(),
            }
        }
        Request::Read | Request::End => {
            let Some(id) = run.clone() else {
                return Response::err("register a run first");
            };
            let mut sh = lock(shared);
            let wid = WorkloadId {
                name: id.clone(),
                kind: WorkloadKind::Run,
            };
            let energy = match sh.runs.workloads.get(&wid) {
                Some(w) => w
                    .per_device
                    .iter()
                    .map(|s| DeviceEnergy {
                        active_j: s.active_j,
                        idle_j: s.idle_j,
                    })
                    .collect(),
                None => vec![
                    DeviceEnergy {
                        active_j: 0.0,
                        idle_j: 0.0
                    };
                    sh.runs.devices.len()
                ],
            };
            if matches!(req, Request::End) {
                sh.trees.remove(&id);
                *run = None;
            }
            Response {
                ok: true,
                error: None,
                devices: Vec::new(),
                energy,
                interval_s: sh.interval.as_secs_f64(),
                node: sh.info.node.clone(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_plain() {
        assert!(valid_run_id("0b1c-2d"));
        assert!(!valid_run_id("a b"));
        assert!(!valid_run_id(&"x".repeat(129)));
    }
}
