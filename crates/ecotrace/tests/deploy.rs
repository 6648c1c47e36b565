//! The deployment files in `deploy/`: the systemd unit passes `systemd-analyze verify` without a
//! warning (skipped with a message where systemd-analyze is missing), and the agent starts with the
//! arguments the unit and the Kubernetes DaemonSet give it (socket and port moved to a temp dir);
//! the DaemonSet mounts the host's /sys and /proc read-only, keeps the socket on a hostPath, and
//! drops every capability.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn repo_file(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Starts `ecotrace agent` with `args` (after the `agent` word), the socket and the listening
/// address replaced by private ones, on an empty fake machine; checks that it comes up (its socket
/// appears), then stops it with SIGTERM and checks that it exits 0.
fn agent_starts_with(args: &[String]) {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("sys");
    std::fs::create_dir_all(&sys).unwrap();
    let sock = dir.path().join("agent.sock");
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            if a.starts_with("--socket=") {
                format!("--socket={}", sock.display())
            } else if a.starts_with("--listen=") {
                "--listen=127.0.0.1:0".to_string()
            } else {
                a.clone()
            }
        })
        .collect();
    assert!(args.iter().any(|a| a.starts_with("--socket=")), "{args:?}");
    let mut c = Command::new(env!("CARGO_BIN_EXE_ecotrace"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ECOTRACE_") {
            c.env_remove(k);
        }
    }
    let mut child = c
        .arg("agent")
        .args(&args)
        .env("HOME", dir.path())
        .env("ECOTRACE_SYSFS_ROOT", &sys)
        .env("ECOTRACE_NVML_LIBRARY", "none")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !sock.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!("the agent exited ({status}) with {args:?}: {err}");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no socket with {args:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: kill with our child's pid and a valid signal.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

/// The words of the unit's `ExecStart=` after `ecotrace agent`, as `--flag=value`.
fn unit_agent_args(unit: &str) -> Vec<String> {
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let words: Vec<&str> = line.split_whitespace().collect();
    assert!(
        words[0].ends_with("/ecotrace") && words[1] == "agent",
        "{line}"
    );
    let mut out = Vec::new();
    let mut i = 2;
    while i < words.len() {
        let w = words[i];
        if w.contains('=') || i + 1 == words.len() || words[i + 1].starts_with("--") {
            out.push(w.to_string());
            i += 1;
        } else {
            out.push(format!("{w}={}", words[i + 1]));
            i += 2;
        }
    }
    out
}

#[test]
fn the_systemd_unit_verifies_and_its_agent_starts() {
    let unit = repo_file("deploy/systemd/ecotrace-agent.service");
    agent_starts_with(&unit_agent_args(&unit));
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: systemd-analyze verify of deploy/systemd/ecotrace-agent.service (no systemd-analyze; scripts/test installs Debian's systemd package where it can)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The unit names the installed binary; verify checks that it exists, so point it at ours.
    let local = unit.replace("/usr/local/bin/ecotrace", env!("CARGO_BIN_EXE_ecotrace"));
    let path: PathBuf = dir.path().join("ecotrace-agent.service");
    std::fs::write(&path, local).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.trim().is_empty(), "no warning expected: {err}");
}

/// The items of the YAML list under the first `key:` line (`- item` lines indented deeper).
fn yaml_list(doc: &str, key: &str) -> Vec<String> {
    let mut lines = doc.lines().skip_while(|l| l.trim() != key).skip(1);
    let mut out = Vec::new();
    for l in lines.by_ref() {
        match l.trim().strip_prefix("- ") {
            Some(item) => out.push(item.trim().to_string()),
            None => break,
        }
    }
    out
}

#[test]
fn the_daemonset_runs_the_agent_with_least_privilege() {
    let doc = repo_file("deploy/kubernetes/ecotrace-agent.yaml");
    for kind in ["DaemonSet", "Service", "ServiceMonitor"] {
        assert!(doc.contains(&format!("\nkind: {kind}\n")), "{kind} missing");
    }
    let args = yaml_list(&doc, "args:");
    assert_eq!(args.first().map(String::as_str), Some("agent"), "{args:?}");
    assert!(
        args.contains(&"--listen=0.0.0.0:9464".to_string()),
        "{args:?}"
    );
    agent_starts_with(&args[1..]);
    // The host's trees, read-only, where the agent reads them.
    for (name, mount, root) in [
        ("sys", "/host/sys", "ECOTRACE_SYSFS_ROOT"),
        ("proc", "/host/proc", "ECOTRACE_PROCFS_ROOT"),
    ] {
        let m = format!(
            "- name: {name}\n              mountPath: {mount}\n              readOnly: true"
        );
        assert!(doc.contains(&m), "{m}");
        assert!(
            doc.contains(&format!("- name: {root}\n              value: {mount}")),
            "{root}"
        );
    }
    assert!(doc.contains("path: /run/ecotrace\n            type: DirectoryOrCreate"));
    for line in [
        "allowPrivilegeEscalation: false",
        "readOnlyRootFilesystem: true",
        "drop: [\"ALL\"]",
        "privileged: false",
        "automountServiceAccountToken: false",
    ] {
        assert!(doc.contains(line), "{line}");
    }
    // The ServiceMonitor scrapes the Service's named port.
    assert!(doc.contains("- name: metrics\n      port: 9464"));
    assert!(doc.contains("- port: metrics\n      path: /metrics"));
}
