//! End-to-end tests of the `ecotrace` binary: real short commands, a real ledger in a temp dir,
//! exit codes, signals, config files and bad input. Sensors are pinned so results don't depend on
//! the machine: no RAPL (an empty fake sysfs), no NVML, the real /proc for process accounting.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{stderr, Env};
use serde_json::Value;

fn wait_for(path: &Path) {
    let t0 = Instant::now();
    while !path.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_finished_run_is_recorded_with_its_figures() {
    let env = Env::new();
    let out = env.run(&[
        "run",
        "--json",
        "--project",
        "p1",
        "--phase",
        "training",
        "--tag",
        "lr=3e-4",
        "--region",
        "FR",
        "--interval",
        "100ms",
        "--cpu-power",
        "100",
        "--",
        "sh",
        "-c",
        "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rec: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rec["status"], "finished");
    assert_eq!(rec["exit_code"], 0);
    assert_eq!(rec["project"], "p1");
    assert_eq!(rec["phase"], "training");
    assert_eq!(rec["tags"]["lr"], "3e-4");
    assert_eq!(rec["scope"], "process");
    assert_eq!(rec["intensity"]["zone"], "FR");
    assert_eq!(rec["intensity"]["basis"], "zone");
    assert!(rec["intensity"]["year"].as_i64().unwrap() >= 2015);
    // The CPU model charged the busy shell a share of the given 100 W.
    let cpu = rec["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == "cpu")
        .expect("a cpu component");
    assert_eq!(cpu["method"], "cpu-model");
    assert!(cpu["energy_kwh"].as_f64().unwrap() > 0.0, "{cpu}");
    assert!(
        cpu["figures"]["cpu_share_mean"].as_f64().unwrap() > 0.0,
        "{cpu}"
    );
    let total = rec["energy_kwh"]["total"].as_f64().unwrap();
    let g = rec["intensity"]["g_per_kwh"].as_f64().unwrap();
    let pue = rec["pue"]["value"].as_f64().unwrap();
    let kg = rec["operational_kgco2e"].as_f64().unwrap();
    assert!((kg - total * pue * g / 1000.0).abs() <= 1e-12 + kg * 1e-9);
    assert!(rec["samples"]["count"].as_u64().unwrap() >= 1);
    // The CPU package's and the host's embodied figures carry their uncertainty range.
    let items = rec["embodied_items"].as_array().unwrap();
    for c in ["cpu", "host"] {
        let i = items
            .iter()
            .find(|i| i["component"] == c)
            .unwrap_or_else(|| panic!("no {c} embodied item in {rec}"));
        let (lo, kg, hi) = (
            i["device_low_kgco2e"].as_f64().unwrap(),
            i["device_kgco2e"].as_f64().unwrap(),
            i["device_high_kgco2e"].as_f64().unwrap(),
        );
        assert!(lo < kg && kg <= hi, "{i}");
        assert!(
            i["source"].as_str().unwrap().contains("uncertainty range"),
            "{i}"
        );
    }
    // The human summary went to stderr and names the grid and its source.
    let err = stderr(&out);
    assert!(err.contains("FR"), "{err}");

    // The ledger has the same record, by full id and by prefix.
    let id = rec["id"].as_str().unwrap();
    let shown = env.json(&["show", "--json", &id[..8]]);
    assert_eq!(shown["id"], id);
    assert_eq!(shown["energy_kwh"], rec["energy_kwh"]);
    let runs = env.json(&["runs", "--json"]);
    assert_eq!(runs.as_array().unwrap().len(), 1);
    let human = env.run(&["show", id]);
    assert!(human.status.success());
    assert!(String::from_utf8_lossy(&human.stdout).contains(&id[..8]));
}

#[test]
fn exit_codes_pass_through_and_failures_are_recorded() {
    let env = Env::new();
    let out = env.run(&["run", "--quiet", "--", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stderr.is_empty(), "--quiet: {}", stderr(&out));
    let runs = env.json(&["runs", "--json"]);
    assert_eq!(runs[0]["status"], "failed");
    assert_eq!(runs[0]["exit_code"], 3);

    // Died of a signal: 128 + N.
    let out = env.run(&["run", "--quiet", "--", "sh", "-c", "kill -KILL $$"]);
    assert_eq!(out.status.code(), Some(128 + 9));
    let runs = env.json(&["runs", "--json", "--status", "failed"]);
    assert_eq!(runs[0]["signal"], 9);
}

#[test]
fn a_command_that_cannot_start_exits_127_and_is_recorded() {
    let env = Env::new();
    let out = env.run(&["run", "--", "no-such-command-ecotrace-test"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(
        stderr(&out).contains("command not found"),
        "{}",
        stderr(&out)
    );
    let runs = env.json(&["runs", "--json"]);
    assert_eq!(runs[0]["status"], "failed-to-start");
    assert_eq!(runs[0]["exit_code"], 127);
    assert!(runs[0]["error"]
        .as_str()
        .unwrap()
        .contains("no-such-command"));
}

#[test]
fn sigterm_is_forwarded_to_the_command() {
    let env = Env::new();
    let marker = env.work().join("started");
    // The shell exits 7 only if the TERM reaches it, which happens only by forwarding.
    let mut child = env
        .cmd()
        .args([
            "run",
            "--quiet",
            "--",
            "sh",
            "-c",
            "trap 'exit 7' TERM; touch started; while :; do sleep 0.05; done",
        ])
        .spawn()
        .unwrap();
    wait_for(&marker);
    // SAFETY: plain kill of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(7));
    let runs = env.json(&["runs", "--json"]);
    assert_eq!(runs[0]["status"], "interrupted");
    assert_eq!(runs[0]["exit_code"], 7);

    // A command that does not catch it dies of it: 128 + 15.
    let marker2 = env.work().join("started2");
    let mut child = env
        .cmd()
        .args([
            "run",
            "--quiet",
            "--",
            "sh",
            "-c",
            "touch started2; exec sleep 30",
        ])
        .spawn()
        .unwrap();
    wait_for(&marker2);
    std::thread::sleep(Duration::from_millis(100));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait().unwrap().code(), Some(143));
}

#[test]
fn a_killed_tracker_leaves_an_interrupted_record() {
    let env = Env::new();
    let marker = env.work().join("started");
    let mut child = env
        .cmd()
        .args([
            "run",
            "--quiet",
            "--",
            "sh",
            "-c",
            "touch started; exec sleep 5",
        ])
        .spawn()
        .unwrap();
    wait_for(&marker);
    child.kill().unwrap(); // SIGKILL: the tracker cannot finalize
    child.wait().unwrap();
    let runs = env.json(&["runs", "--json"]);
    assert_eq!(runs[0]["status"], "interrupted", "{}", runs[0]);
}

#[test]
fn config_file_env_and_flags_layer() {
    let env = Env::new();
    std::fs::write(
        env.dir.path().join("ecotrace.toml"),
        "project = \"from-file\"\nphase = \"tuning\"\nintensity = 100.0\n[tags]\nteam = \"nlp\"\n",
    )
    .unwrap();
    // Found upward from the working directory.
    let rec = env.json(&["run", "--json", "--quiet", "--", "true"]);
    assert_eq!(rec["project"], "from-file");
    assert_eq!(rec["phase"], "tuning");
    assert_eq!(rec["tags"]["team"], "nlp");
    assert_eq!(rec["intensity"]["g_per_kwh"], 100.0);
    assert_eq!(rec["intensity"]["basis"], "user");
    // Environment beats the file, flags beat the environment.
    let out = env
        .cmd()
        .env("ECOTRACE_PROJECT", "from-env")
        .env("ECOTRACE_PHASE", "inference")
        .args(["run", "--json", "--quiet", "--phase", "data", "--", "true"])
        .output()
        .unwrap();
    let rec: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rec["project"], "from-env");
    assert_eq!(rec["phase"], "data");
    // A typo in the file is an error that names the file.
    std::fs::write(env.dir.path().join("ecotrace.toml"), "projet = \"x\"\n").unwrap();
    let out = env.run(&["run", "--", "true"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("ecotrace.toml"), "{}", stderr(&out));
}

#[test]
fn no_region_uses_the_world_average_and_says_so() {
    let env = Env::new();
    let out = env.run(&["run", "--json", "--", "true"]);
    let rec: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rec["intensity"]["basis"], "world-default");
    assert!(rec["notes"][0].as_str().unwrap().contains("world average"));
    assert!(stderr(&out).contains("world average"), "{}", stderr(&out));
}

#[test]
fn bad_input_gets_a_clear_error_and_a_nonzero_exit() {
    let env = Env::new();
    let out = env.run(&["run", "--region", "US-CAA", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("US-CA"), "{}", stderr(&out));
    let out = env.run(&["run", "--phase", "trainnig", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("training"), "{}", stderr(&out));
    let out = env.run(&["run", "--interval", "soon", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.run(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    // Nothing was run, nothing recorded.
    assert!(env.json(&["runs", "--json"]).as_array().unwrap().is_empty());
    let out = env.run(&["show", "deadbeef"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("deadbeef"), "{}", stderr(&out));
    let out = env.run(&["report", "--by", "color"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.run(&["runs", "--status", "done"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn concurrent_runs_on_one_ledger_are_all_recorded() {
    let env = Env::new();
    let children: Vec<_> = (0..4)
        .map(|i| {
            env.cmd()
                .args([
                    "run",
                    "--quiet",
                    "--interval",
                    "50ms",
                    "--tag",
                    &format!("i={i}"),
                    "--",
                    "sh",
                    "-c",
                    "sleep 0.3",
                ])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let runs = env.json(&["runs", "--json"]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 4);
    let mut tags: Vec<_> = runs
        .iter()
        .map(|r| r["tags"]["i"].as_str().unwrap().to_string())
        .collect();
    tags.sort();
    assert_eq!(tags, ["0", "1", "2", "3"]);
    assert!(runs.iter().all(|r| r["status"] == "finished"));
}

#[test]
fn report_totals_by_phase() {
    let env = Env::new();
    for phase in ["training", "training", "inference"] {
        let out = env.run(&[
            "run",
            "--quiet",
            "--phase",
            phase,
            "--intensity",
            "50",
            "--",
            "true",
        ]);
        assert!(out.status.success());
    }
    let rep = env.json(&["report", "--by", "phase", "--format", "json"]);
    let groups = rep["groups"].as_array().unwrap();
    let training = groups.iter().find(|g| g["key"] == "training").unwrap();
    assert_eq!(training["runs"], 2);
    assert_eq!(rep["total"]["runs"], 3);
    let csv = env.run(&["report", "--by", "phase", "--format", "csv"]);
    assert!(String::from_utf8_lossy(&csv.stdout).lines().count() >= 3);
}

/// Runs charged on different intensity bases (life-cycle, direct, a number the user gave): every
/// report says which basis its totals are on, and names the mix instead of adding it up silently.
#[test]
fn reports_name_the_intensity_basis_and_never_mix_bases_silently() {
    let env = Env::new();
    let run = |project: &str, extra: &[&str]| {
        let mut a = vec!["run", "--quiet", "--project", project, "--cpu-power", "50"];
        a.extend_from_slice(extra);
        a.extend_from_slice(&["--", "true"]);
        let out = env.run(&a);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    run("clean", &["--region", "FR"]);
    run("clean", &["--region", "DE"]);
    run("mixed", &["--region", "FR"]);
    run("mixed", &["--region", "FR", "--basis", "direct"]);
    run("mixed", &["--intensity", "50"]);
    let rep = env.json(&["report", "--by", "project", "--format", "json"]);
    let group = |k: &str| {
        rep["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["key"] == k)
            .unwrap()
            .clone()
    };
    assert_eq!(group("clean")["basis"], "lifecycle", "{rep}");
    assert_eq!(group("clean")["bases"]["lifecycle"], 2, "{rep}");
    let mixed = group("mixed");
    assert_eq!(mixed["basis"], "mixed", "{rep}");
    for (k, n) in [
        ("lifecycle", 1),
        ("direct", 1),
        ("marginal", 0),
        ("unstated", 1),
    ] {
        assert_eq!(mixed["bases"][k], n, "{k}: {rep}");
    }
    assert_eq!(rep["total"]["basis"], "mixed");
    assert!(
        rep["basis_note"]
            .as_str()
            .unwrap()
            .contains("3 life-cycle, 1 direct, 1 user-given"),
        "{rep}"
    );
    let text = env.ok(&["report", "--by", "project"]);
    assert!(text.contains("Mixed grid intensities"), "{text}");
    let clean = env.ok(&["report", "--project", "clean"]);
    assert!(
        clean.contains("Grid intensity basis: life-cycle (every run).") && !clean.contains("Mixed"),
        "{clean}"
    );
    let csv = env.ok(&["report", "--by", "project", "--format", "csv"]);
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .contains(",basis,runs_lifecycle,runs_direct"),
        "{csv}"
    );
    assert!(
        csv.lines()
            .any(|l| l.starts_with("mixed,") && l.contains(",mixed,1,1,0,1")),
        "{csv}"
    );
    let life = env.json(&[
        "report",
        "--project",
        "mixed",
        "--lifecycle",
        "--format",
        "json",
    ]);
    assert_eq!(life["total"]["basis"], "mixed", "{life}");
    assert!(
        life["basis_note"].as_str().unwrap().contains("1 direct"),
        "{life}"
    );
    let html = env.ok(&["report", "--project", "mixed", "--format", "html"]);
    assert!(html.contains("Mixed grid intensities"), "html");
    let tex = env.ok(&["report", "--project", "clean", "--format", "latex"]);
    assert!(tex.contains("Grid intensity basis: life-cycle"), "{tex}");
}

#[test]
fn doctor_lists_sensors_and_the_zone() {
    let env = Env::new();
    let out = env.run(&["doctor", "--region", "aws:eu-west-3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("rapl"), "{text}");
    assert!(text.contains("nvml"), "{text}");
    assert!(text.contains("amdsmi"), "{text}");
    assert!(text.contains("ECOTRACE_AMDSMI_LIBRARY=none"), "{text}");
    assert!(text.contains("aws:eu-west-3"), "{text}");
}

#[test]
fn a_bad_gpus_list_is_a_usage_error_from_the_flag_the_env_or_the_file() {
    let env = Env::new();
    let out = env.run(&["run", "--gpus", "0,,2", "--", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--gpus 0,2"), "{}", stderr(&out));
    let out = env
        .cmd()
        .env("ECOTRACE_GPUS", "first")
        .args(["run", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("\"first\""), "{}", stderr(&out));
    std::fs::write(env.dir.path().join("ecotrace.toml"), "gpus = \"\"\n").unwrap();
    let out = env.run(&["run", "--", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("gpus in"), "{}", stderr(&out));
    assert!(env.json(&["runs", "--json"]).as_array().unwrap().is_empty());
    // A valid list on a machine without GPUs: the run goes ahead (nothing to charge).
    std::fs::write(env.dir.path().join("ecotrace.toml"), "gpus = [0, 1]\n").unwrap();
    let rec = env.json(&["run", "--json", "--quiet", "--", "true"]);
    assert_eq!(rec["exit_code"], 0);
}

#[test]
fn a_terminal_gets_a_live_status_line_that_is_erased_at_the_end() {
    // util-linux `script` gives the command a pseudo-terminal as stdout and stderr.
    if !Path::new("/usr/bin/script").exists() {
        println!("skipped: no /usr/bin/script to provide a terminal");
        return;
    }
    let env = Env::new();
    let bin = env!("CARGO_BIN_EXE_ecotrace");
    let in_terminal = |args: &str| {
        let base = env.cmd();
        let mut c = std::process::Command::new("/usr/bin/script");
        for (k, v) in base.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c.args(["-qec", &format!("{bin} {args}"), "/dev/null"])
            .current_dir(env.work())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let out = in_terminal("run --interval 100ms -- sleep 1.2");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    // Redrawn in place: carriage return + erase line, with watts, Wh and gCO2e.
    let live: Vec<&str> = text.split("\r\x1b[2K").collect();
    assert!(live.len() >= 3, "no live line redrawn: {text:?}");
    assert!(
        live[1].contains(" W ") && live[1].contains("Wh") && live[1].contains("gCO2e"),
        "{text:?}"
    );
    // Erased before the summary, which starts on a clean line.
    assert!(text.contains("\r\x1b[2Kecotrace run "), "{text:?}");
    // --quiet: nothing of ecotrace's own.
    let quiet = in_terminal("run --quiet -- true");
    assert!(
        quiet.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&quiet.stdout)
    );
}

/// A bad ledger spec or sample retention is a usage error naming where the value came from: the
/// flag, the environment variable, or the config key and its file (issue 11).
#[test]
fn ledger_option_errors_name_where_the_value_came_from() {
    let e = Env::new();
    let cfg = e.path("ecotrace.toml");
    let key_in_file = |key: &str| format!("{key} in {}", cfg.display());
    let check = |args: &[&str], env: Option<(&str, &str)>, file: &str, from: &str, not: &[&str]| {
        std::fs::write(&cfg, file).unwrap();
        let mut c = e.cmd();
        c.args(args);
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let err = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?} {env:?} {file:?}: {err}"
        );
        assert!(err.contains(&format!("{from}: ")), "{from}: {err}");
        for n in not {
            assert!(!err.contains(n), "{n} in {err}");
        }
    };
    let run = ["run", "-q", "--", "true"];
    let bad = "mysql://db";
    let mut flag = vec!["--ledger", bad];
    flag.extend(run);
    check(
        &flag,
        None,
        "",
        "--ledger",
        &["ECOTRACE_LEDGER", "ecotrace.toml"],
    );
    check(
        &run,
        Some(("ECOTRACE_LEDGER", bad)),
        "",
        "ECOTRACE_LEDGER",
        &["--ledger", "ecotrace.toml"],
    );
    // The file's ledger applies when neither the flag nor the variable gives one (the test
    // environment sets the variable: removed here).
    let from = key_in_file("ledger");
    std::fs::write(&cfg, format!("ledger = \"{bad}\"\n")).unwrap();
    let out = e
        .cmd()
        .env_remove("ECOTRACE_LEDGER")
        .args(run)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{from}: ")) && !err.contains("--ledger"),
        "{err}"
    );
    // Sample retention: the variable, or the key and its file.
    check(
        &run,
        Some(("ECOTRACE_SAMPLE_RETENTION", "soon")),
        "",
        "ECOTRACE_SAMPLE_RETENTION",
        &["ecotrace.toml"],
    );
    check(
        &run,
        None,
        "sample_retention = \"soon\"\n",
        &key_in_file("sample_retention"),
        &["ECOTRACE_SAMPLE_RETENTION"],
    );
}
