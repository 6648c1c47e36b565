//! `ecotrace agent`: the node agent in the foreground until SIGINT/SIGTERM. Resolves its settings
//! (interval, grid intensity, PUE, CPU/RAM power overrides) as `ecotrace run` does, then hands
//! over to `ecotrace_agent::run`. Holds no measurement logic.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{Context, Result};
use ecotrace_agent::{AgentConfig, AgentError, DEFAULT_LISTEN, DEFAULT_SOCKET};
use ecotrace_sensors::Roots;
use ecotrace_tracker::{FileLayers, MeasureSettings};

use crate::cli::AgentArgs;
use crate::UsageError;

pub fn run(
    args: &AgentArgs,
    origins: ecotrace_factors::Origins,
    files: &FileLayers,
) -> Result<i32> {
    let mut opts = args.measure.clone();
    opts.origins = origins;
    let s = MeasureSettings::resolve(&opts, files)?;
    let listen: SocketAddr = args
        .listen
        .as_deref()
        .unwrap_or(DEFAULT_LISTEN)
        .parse()
        .map_err(|e| {
            UsageError(format!(
                "--listen: {e}; write it as IP:PORT, e.g. 127.0.0.1:9464"
            ))
        })?;
    let explicit_socket = args.socket.is_some();
    let socket = match args.socket.as_deref() {
        Some("none") | Some("") => None,
        Some(p) => Some(PathBuf::from(p)),
        None => Some(PathBuf::from(DEFAULT_SOCKET)),
    };
    let socket_mode = match args.socket_mode.as_deref() {
        None => 0o666,
        Some(m) => u32::from_str_radix(m.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o777)
            .ok_or_else(|| {
                UsageError(format!(
                    "--socket-mode {m:?}: an octal file mode such as 660"
                ))
            })?,
    };
    let mut cfg = AgentConfig {
        interval: s.interval,
        listen,
        socket,
        socket_mode,
        socket_limits: Default::default(),
        roots: Roots::from_env(),
        cpu_power: s.cpu_power,
        ram_power: s.ram_power,
        intensity_g_per_kwh: s.intensity.value.g_per_kwh(),
        pue: s.pue.value.value(),
        zone: s.intensity.zone.clone(),
    };
    for n in &s.notes {
        eprintln!("ecotrace agent: note: {n}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [libc::SIGINT, libc::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("cannot install signal handlers")?;
    }
    let announce = |socket: Option<PathBuf>| {
        move |addr: SocketAddr| {
            eprintln!("ecotrace agent: metrics on http://{addr}/metrics");
            if let Some(p) = &socket {
                eprintln!(
                    "ecotrace agent: answering unprivileged runs on {}",
                    p.display()
                );
            }
        }
    };
    let first = ecotrace_agent::run(cfg.clone(), stop.clone(), announce(cfg.socket.clone()));
    match first {
        Err(AgentError::Socket { path, reason }) if !explicit_socket => {
            eprintln!(
                "ecotrace agent: warning: no socket for unprivileged runs ({}: {reason}); run as root, or pass --socket PATH",
                path.display()
            );
            cfg.socket = None;
            ecotrace_agent::run(cfg, stop, announce(None))?;
        }
        other => other?,
    }
    Ok(0)
}
