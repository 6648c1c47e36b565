//! `ecotrace agent`: the node agent in the foreground until SIGINT/SIGTERM. Resolves its settings
//! (interval, grid intensity, PUE, CPU/RAM power overrides) as `ecotrace run` does, then hands
//! over to `ecotrace_agent::run`. Holds no measurement logic.

use std::io::Read;
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use anyhow::{Context, Result};
use ecotrace_agent::socket::SocketLimits;
use ecotrace_agent::{AgentConfig, AgentError, Stop, DEFAULT_LISTEN, DEFAULT_SOCKET};
use ecotrace_factors::{AgentSocketArgs, Origins};
use ecotrace_sensors::Roots;
use ecotrace_tracker::{FileLayers, MeasureSettings};

use crate::cli::AgentArgs;
use crate::UsageError;

pub fn run(args: &AgentArgs, origins: Origins, files: &FileLayers) -> Result<i32> {
    let mut opts = args.measure.clone();
    opts.origins = origins.clone();
    let s = MeasureSettings::resolve(&opts, files)?;
    let listen: SocketAddr = args
        .listen
        .as_deref()
        .unwrap_or(DEFAULT_LISTEN)
        .parse()
        .map_err(|e| {
            UsageError(format!(
                "{}: {e}; write it as IP:PORT, e.g. 127.0.0.1:9464",
                origins.get("listen")
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
    let socket_limits = socket_limits(&args.socket_limits, origins, files)?;
    let mut cfg = AgentConfig {
        interval: s.interval,
        listen,
        socket,
        socket_mode,
        socket_limits,
        gpus: s.gpus.clone(),
        roots: Roots::from_env(),
        cpu_power: s.cpu_power,
        ram_power: s.ram_power,
        intensity_g_per_kwh: s.intensity.value.g_per_kwh(),
        pue: s.pue.value.value(),
        zone: s.intensity.zone.clone(),
        serving: args
            .serving
            .iter()
            .map(|t| t.parse().map_err(|e| UsageError(format!("--serving {e}"))))
            .collect::<Result<_, _>>()?,
    };
    for n in &s.notes {
        eprintln!("ecotrace agent: note: {n}");
    }
    let stop = Stop::new();
    stop_on_signals(&stop)?;
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

/// The socket's limits: each from its flag, else its variable (both in `given`, where they came
/// from in `origins`), else the config files, else the default. An error names where the bad value
/// came from: the flag, the variable, or the key and its file.
fn socket_limits(
    given: &AgentSocketArgs,
    origins: Origins,
    files: &FileLayers,
) -> Result<SocketLimits> {
    let mut args = given.clone();
    let mut origins = origins;
    files.fill(&mut args, &mut origins)?;
    let mut l = SocketLimits::default();
    if let Some(t) = &args.socket_idle_timeout {
        l.idle_timeout = ecotrace_core::units::parse_duration(t).map_err(|_| {
            UsageError(format!(
                "{}: {t:?} is not a duration: write one such as 300s, 5m or 1h",
                origins.get("socket_idle_timeout")
            ))
        })?;
    }
    let connections = |v: Option<usize>, id: &str| -> Result<Option<usize>> {
        match v {
            Some(0) => Err(UsageError(format!(
                "{}: 0 connections: give at least 1",
                origins.get(id)
            ))
            .into()),
            v => Ok(v),
        }
    };
    if let Some(n) = connections(args.socket_max_per_uid, "socket_max_per_uid")? {
        l.per_uid = n;
    }
    if let Some(n) = connections(args.socket_max_clients, "socket_max_clients")? {
        l.max_clients = n;
    }
    if let Some(n) = args.socket_max_request {
        // The longest request a tracker sends (a register with a 128-byte run id and a project)
        // is a few hundred bytes; below 256 the agent would refuse its own clients.
        if n < 256 {
            return Err(UsageError(format!(
                "{}: {n} bytes is too small: give at least 256 (a tracker's requests are up to a few hundred bytes)",
                origins.get("socket_max_request")
            ))
            .into());
        }
        l.max_request = n;
    }
    Ok(l)
}

/// Stops the agent on SIGINT or SIGTERM: the handlers write to a pipe, a thread blocked reading
/// it calls [`Stop::stop`], which wakes the agent's loop at once (no flag polled).
fn stop_on_signals(stop: &Stop) -> Result<()> {
    let (mut rx, tx) = UnixStream::pair().context("cannot create the signal pipe")?;
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let tx = tx.try_clone().context("cannot create the signal pipe")?;
        signal_hook::low_level::pipe::register(sig, tx)
            .context("cannot install signal handlers")?;
    }
    let stop = stop.clone();
    std::thread::Builder::new()
        .name("ecotrace-signals".into())
        .spawn(move || {
            let mut b = [0u8; 1];
            let _ = rx.read(&mut b);
            stop.stop();
        })
        .context("cannot start the signal thread")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_limits_layer_flags_over_config_over_defaults() {
        let files = FileLayers::from_text(
            "/p/ecotrace.toml",
            "socket_idle_timeout = \"10s\"\nsocket_max_per_uid = 16\nsocket_max_request = 1000\n",
        )
        .unwrap();
        let given = AgentSocketArgs {
            socket_max_request: Some(2000),
            ..Default::default()
        };
        let l = socket_limits(&given, Origins::default(), &files).unwrap();
        let d = SocketLimits::default();
        assert_eq!(l.idle_timeout, std::time::Duration::from_secs(10));
        assert_eq!(l.per_uid, 16);
        assert_eq!(l.max_request, 2000, "the flag wins over the file");
        assert_eq!(l.max_clients, d.max_clients);
        assert_ne!(d.per_uid, 16);
        // Without a file, the defaults.
        assert_eq!(
            socket_limits(
                &AgentSocketArgs::default(),
                Origins::default(),
                &FileLayers::default()
            )
            .unwrap(),
            d
        );
        // A bad value in the file is refused like the flag's.
        let bad = FileLayers::from_text("/p/ecotrace.toml", "socket_max_per_uid = 0").unwrap();
        let e = socket_limits(&AgentSocketArgs::default(), Origins::default(), &bad).unwrap_err();
        assert!(e.to_string().contains("at least 1"), "{e}");
        // ... and named by its key and file, not by the flag.
        assert!(
            e.to_string()
                .contains("socket_max_per_uid in /p/ecotrace.toml")
                && !e.to_string().contains("--socket-max-per-uid"),
            "{e}"
        );
        // A typo in a key names the closest one.
        let e = FileLayers::from_text("/p/ecotrace.toml", "socket_max_per_ui = 2").unwrap_err();
        assert!(e.to_string().contains("socket_max_per_uid"), "{e}");
    }
}
