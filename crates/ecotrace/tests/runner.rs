//! `ecotrace run` runs in the small `ecotrace-run` binary beside `ecotrace`, which hands back to
//! `ecotrace` what it does not link (live providers, `--when-green`, PostgreSQL, help and usage
//! errors); without the sibling, `ecotrace run` runs in its own process. Which binary measured a
//! run is read by the command itself: its parent is the tracker, `/proc/$PPID/exe` its binary.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;

use common::Env;

/// The binary of the tracker that ran `args` (with `--` and the probe appended), and the
/// command's `ECOTRACE_IN_PROCESS` as it saw it.
fn tracker_binary(cmd: &mut std::process::Command, args: &[&str]) -> (String, String) {
    let out = cmd
        .args(["run", "--quiet"])
        .args(args)
        .args([
            "--",
            "sh",
            "-c",
            "readlink /proc/$PPID/exe; echo ${ECOTRACE_IN_PROCESS-unset}",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut lines = stdout.lines();
    let exe = lines.next().unwrap_or_default().to_string();
    let inherited = lines.next().unwrap_or_default().to_string();
    (exe, inherited)
}

/// `program` with the environment and working directory of `e.cmd()`.
fn on_binary(e: &Env, program: &Path) -> std::process::Command {
    let env = e.cmd();
    let mut cmd = std::process::Command::new(program);
    for (k, v) in env.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.current_dir(e.work()).stdin(std::process::Stdio::null());
    cmd
}

fn file_name(p: &str) -> &str {
    Path::new(p).file_name().unwrap().to_str().unwrap()
}

#[test]
fn a_plain_run_is_measured_by_the_runner_and_recorded() {
    let e = Env::new();
    let (exe, inherited) = tracker_binary(&mut e.cmd(), &[]);
    assert_eq!(file_name(&exe), "ecotrace-run");
    assert_eq!(inherited, "unset");
    let runs = e.json(&["runs", "--json"]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "finished");
}

#[test]
fn a_live_provider_is_handed_to_the_full_binary_which_asks_it() {
    let e = Env::new();
    // Nothing listens on port 9: the provider fails and the bundled figure is charged, but it
    // was asked, which only `ecotrace` can do.
    let (exe, inherited) = tracker_binary(
        &mut e.cmd(),
        &[
            "--region",
            "GB",
            "--grid-provider",
            "ukci",
            "--grid-provider-url",
            "http://127.0.0.1:9",
        ],
    );
    assert_eq!(file_name(&exe), "ecotrace");
    assert_eq!(
        inherited, "unset",
        "the hand-back marker must not reach the command"
    );
    let runs = e.json(&["runs", "--json"]);
    let live = &runs[0]["intensity"]["live"];
    assert_eq!(live["provider"], "ukci", "{}", runs[0]["intensity"]);
    assert_eq!(live["status"], "fallback");
}

#[test]
fn a_postgres_ledger_is_handed_to_the_full_binary() {
    let e = Env::new();
    // An unreachable server: the run goes to the spool, as `ecotrace run` always did.
    let mut cmd = e.cmd();
    cmd.env(
        "ECOTRACE_LEDGER",
        "postgres://u@127.0.0.1:9/db?connect_timeout=1",
    );
    let (exe, _) = tracker_binary(&mut cmd, &[]);
    assert_eq!(file_name(&exe), "ecotrace");
}

#[test]
fn usage_errors_and_help_are_those_of_ecotrace() {
    let e = Env::new();
    let out = e.run(&["run", "--intervall", "1s", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--intervall"), "{err}");
    assert!(err.contains("--interval"), "{err}");
    let help = e.ok(&["run", "--help"]);
    assert!(help.contains("--when-green"), "{help}");
    // The runner started as `ecotrace`, asked for help, hands it to `ecotrace`: the same text.
    let runner = on_binary(&e, Path::new(env!("CARGO_BIN_EXE_ecotrace-run")))
        .arg0("ecotrace")
        .args(["run", "--help"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&runner.stdout), help);
}

#[test]
fn without_the_runner_beside_it_ecotrace_runs_in_its_own_process() {
    let e = Env::new();
    let alone = e.dir.path().join("bin");
    std::fs::create_dir_all(&alone).unwrap();
    let copy = alone.join("ecotrace");
    std::fs::copy(env!("CARGO_BIN_EXE_ecotrace"), &copy).unwrap();
    let mut cmd = on_binary(&e, &copy);
    let (exe, _) = tracker_binary(&mut cmd, &[]);
    assert_eq!(Path::new(&exe), copy.as_path());
    let runs = e.json(&["runs", "--json"]);
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["status"], "finished");
}
