//! Rootless measurement end to end: an `ecotrace agent` that can read a (fake) RAPL counter, and
//! an `ecotrace run` that cannot (its sysfs has no RAPL), talking through the agent's Unix socket.
//! The run's CPU energy then comes from the agent (method `agent-rapl`), its process tree's share
//! in process scope and the node's counters in machine scope; without the socket the run measures
//! as before (`cpu-model`).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        // SIGTERM first, so the agent removes its socket.
        // SAFETY: kill with a valid pid and signal number.
        unsafe {
            libc::kill(self.0.id() as i32, libc::SIGTERM);
        }
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn base(dir: &Path, sysfs: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ecotrace"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ECOTRACE_") {
            c.env_remove(k);
        }
    }
    c.current_dir(dir)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("ECOTRACE_SYSFS_ROOT", sysfs)
        .env("ECOTRACE_NVML_LIBRARY", "none")
        .env("ECOTRACE_LEDGER", dir.join("l.db"))
        .stdin(Stdio::null());
    c
}

fn cpu_component(record: &Value) -> Value {
    record["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == "cpu")
        .unwrap()
        .clone()
}

const BUSY: &str = "timeout 1.5 sh -c 'while :; do :; done'; true";

#[test]
fn an_unprivileged_run_gets_counter_energy_from_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The agent's machine view: a RAPL package counter the test advances (20 W).
    let agent_sys = d.join("agent-sys");
    let rapl = agent_sys.join("class/powercap/intel-rapl:0");
    std::fs::create_dir_all(&rapl).unwrap();
    std::fs::write(rapl.join("name"), "package-0\n").unwrap();
    std::fs::write(rapl.join("max_energy_range_uj"), "262143328850\n").unwrap();
    std::fs::write(rapl.join("energy_uj"), "0\n").unwrap();
    // The user's view: no RAPL at all (as when energy_uj is root-only).
    let user_sys = d.join("user-sys");
    std::fs::create_dir_all(&user_sys).unwrap();

    let sock = d.join("run/agent.sock");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _agent = Guard(
        base(d, &agent_sys)
            .args(["agent", "--interval", "100ms", "--intensity", "100"])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--socket")
            .arg(&sock)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let t0 = Instant::now();
    while !sock.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the agent's socket never appeared"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let counter = rapl.join("energy_uj");
    let ticker = std::thread::spawn(move || {
        let mut uj: u64 = 0;
        while !st.load(Ordering::SeqCst) {
            uj += 1_000_000; // 1 J every 50 ms: 20 W
            std::fs::write(&counter, format!("{uj}\n")).unwrap();
            std::thread::sleep(Duration::from_millis(50));
        }
    });

    let out = base(d, &user_sys)
        .env("ECOTRACE_AGENT_SOCKET", &sock)
        .args([
            "run",
            "--json",
            "-q",
            "--interval",
            "100ms",
            "--",
            "sh",
            "-c",
            BUSY,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rec: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cpu = cpu_component(&rec);
    assert_eq!(cpu["method"], "agent-rapl", "{rec:#}");
    let kwh = cpu["energy_kwh"].as_f64().unwrap();
    // The busy loop's share of 20 W for ~1.5 s: more than nothing, less than the whole counter.
    assert!(kwh > 0.0 && kwh * 3.6e6 < 20.0 * 3.0, "{kwh} kWh");
    assert!(
        cpu["note"].as_str().unwrap().contains("ecotrace agent"),
        "{cpu}"
    );
    let notes = rec["notes"].to_string();
    assert!(notes.contains("measured by the ecotrace agent"), "{notes}");
    assert!(
        !notes.contains("rapl:"),
        "no complaint about unreadable counters: {notes}"
    );

    // Machine scope: the node's counters through the agent (20 W for about 1.5 s), not a model.
    let out = base(d, &user_sys)
        .env("ECOTRACE_AGENT_SOCKET", &sock)
        .args([
            "run",
            "--json",
            "-q",
            "--scope",
            "machine",
            "--interval",
            "100ms",
        ])
        .args(["--", "sleep", "1.5"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rec: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cpu = cpu_component(&rec);
    assert_eq!(cpu["method"], "agent-rapl", "{rec:#}");
    assert!(
        cpu["note"].as_str().unwrap().contains("the whole node"),
        "{cpu}"
    );
    let joules = cpu["energy_kwh"].as_f64().unwrap() * 3.6e6;
    let secs = rec["duration_s"].as_f64().unwrap();
    assert!(
        (joules - 20.0 * secs).abs() < 20.0 * 0.6,
        "{joules} J over {secs} s at 20 W"
    );

    // Without the agent: measured as before, by the local model.
    let out = base(d, &user_sys)
        .env("ECOTRACE_AGENT_SOCKET", "none")
        .args(["run", "--json", "-q", "--interval", "100ms", "--", "true"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let rec: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cpu_component(&rec)["method"], "cpu-model");
    stop.store(true, Ordering::SeqCst);
    ticker.join().unwrap();
}

#[test]
fn the_agent_sleeps_through_long_intervals_yet_stops_at_once_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sys = d.join("sys");
    std::fs::create_dir_all(&sys).unwrap();
    let sock = d.join("run/agent.sock");
    // An hour between samples: the loop waits on a condition the signal wakes, not on a clock.
    let mut agent = base(d, &sys)
        .args(["agent", "--interval", "1h", "--intensity", "100"])
        .args(["--listen", "127.0.0.1:0", "--socket"])
        .arg(&sock)
        .args(["--socket-idle-timeout", "2m", "--socket-max-per-uid", "4"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !sock.exists() {
        assert!(t0.elapsed() < Duration::from_secs(30), "no socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: kill with a valid pid and signal number.
    unsafe {
        libc::kill(agent.id() as i32, libc::SIGTERM);
    }
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = agent.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(20) {
            let _ = agent.kill();
            panic!("the agent did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert!(!sock.exists(), "the socket is removed on the way out");
}

/// A bad agent option is a usage error that says what to give and names where the value came
/// from: the flag, the environment variable, or the config key and its file (issue 11).
#[test]
fn every_agent_option_error_names_where_its_value_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sys = d.join("sys");
    std::fs::create_dir_all(&sys).unwrap();
    let cfg = d.join("agent.toml");
    let agent = |args: &[&str], env: &[(&str, &str)], file: &str| {
        std::fs::write(&cfg, file).unwrap();
        let mut c = base(d, &sys);
        c.args(["agent", "--listen", "127.0.0.1:0", "--socket", "none"])
            .args(args)
            .env("ECOTRACE_CONFIG", &cfg);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?} {env:?} {file:?}: {err}"
        );
        err
    };
    let in_file = format!("in {}", cfg.display());
    for (id, value, toml_value, says) in [
        ("socket_max_per_uid", "0", "0", "at least 1"),
        ("socket_max_clients", "0", "0", "at least 1"),
        ("socket_max_request", "10", "10", "at least 256"),
        ("socket_idle_timeout", "soon", "\"soon\"", "a duration"),
        ("interval", "1ms", "\"1ms\"", "too short"),
        ("cpu_power", "0", "0", "positive number of watts"),
        ("scope", "galaxy", "\"galaxy\"", "process"),
    ] {
        let flag = format!("--{}", id.replace('_', "-"));
        let var = match id {
            "interval" | "cpu_power" | "scope" => format!("ECOTRACE_{}", id.to_uppercase()),
            _ => format!("ECOTRACE_AGENT_{}", id.to_uppercase()),
        };
        let key = format!("{id} {in_file}");
        // The flag.
        let err = agent(&[&flag, value], &[], "");
        assert!(err.contains(&flag) && err.contains(says), "{flag}: {err}");
        assert!(
            !err.contains(&var) && !err.contains(&in_file),
            "{flag}: {err}"
        );
        // The variable.
        let err = agent(&[], &[(&var, value)], "");
        assert!(err.contains(&var) && err.contains(says), "{var}: {err}");
        assert!(
            !err.contains(&flag) && !err.contains(&in_file),
            "{var}: {err}"
        );
        // The config file: the key and the file, not the flag.
        let err = agent(&[], &[], &format!("{id} = {toml_value}\n"));
        assert!(err.contains(&key) && err.contains(says), "{key}: {err}");
        assert!(!err.contains(&flag) && !err.contains(&var), "{key}: {err}");
    }
    // The listen address has a flag and a variable.
    for (flag, var) in [(true, false), (false, true)] {
        let mut c = base(d, &sys);
        c.args(["agent", "--socket", "none"]);
        if flag {
            c.args(["--listen", "nowhere"]);
        }
        if var {
            c.env("ECOTRACE_AGENT_LISTEN", "nowhere");
        }
        let out = c.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("IP:PORT"), "{err}");
        assert_eq!(err.contains("--listen"), flag, "{err}");
        assert_eq!(err.contains("ECOTRACE_AGENT_LISTEN"), var, "{err}");
    }
    // Flags win over variables, variables over the file.
    let err = agent(
        &[],
        &[("ECOTRACE_AGENT_SOCKET_MAX_REQUEST", "10")],
        "socket_max_request = 100000\n",
    );
    assert!(
        err.contains("ECOTRACE_AGENT_SOCKET_MAX_REQUEST"),
        "the variable wins: {err}"
    );
    let err = agent(
        &["--socket-max-request", "10"],
        &[("ECOTRACE_AGENT_SOCKET_MAX_REQUEST", "100000")],
        "",
    );
    assert!(err.contains("--socket-max-request"), "the flag wins: {err}");
}
