//! `ecotrace serve` and `ecotrace attach` against a fake OpenAI-compatible server on loopback
//! (scripts/fake-llm-server: vLLM- or TGI-style /metrics, a known CPU time burnt per generated
//! token), driven by a bounded load generator; named windows from a shell script.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::Env;
use serde_json::Value;

fn fake_server() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fake-llm-server")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.0 request; the status code and body.
fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map_or("", |x| x.1).to_string();
    Ok((code, body))
}

fn wait_up(port: u16) {
    let t = Instant::now();
    while http(port, "GET", "/metrics", "").map_or(true, |(c, _)| c != 200) {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the fake server did not come up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The bounded load generator: `n` completions of `tokens` tokens with a `words`-word prompt.
fn load(port: u16, n: usize, tokens: u32, words: usize) {
    let prompt = vec!["w"; words].join(" ");
    for _ in 0..n {
        let (code, body) = http(
            port,
            "POST",
            "/v1/completions",
            &format!(r#"{{"prompt": "{prompt}", "max_tokens": {tokens}}}"#),
        )
        .unwrap();
        assert_eq!(code, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["usage"]["completion_tokens"], tokens);
    }
}

/// Lets at least two scrapes at 100 ms see the last request.
fn settle() {
    std::thread::sleep(Duration::from_millis(450));
}

fn shutdown(port: u16) {
    let _ = http(port, "POST", "/shutdown", "");
}

/// The record printed by `--json` (the fake server's own line comes first on stdout).
fn record_of(child: Child) -> Value {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let start = stdout.find("\n{").map_or(0, |i| i + 1);
    serde_json::from_str(&stdout[start..]).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn serve(env: &Env, port: u16, flags: &[&str], server: &[&str]) -> Child {
    let url = format!("http://127.0.0.1:{port}/metrics");
    let mut args = vec![
        "serve",
        "--interval",
        "100ms",
        "--cpu-power",
        "100",
        "--json",
        "--quiet",
        "--metrics-url",
        &url,
    ];
    args.extend_from_slice(flags);
    args.push("--");
    let mut c = env.cmd();
    c.args(&args)
        .args(server)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c.spawn().unwrap()
}

fn fake(port: u16, flavour: &str, cpu_ms: &str) -> Vec<String> {
    vec![
        "python3".into(),
        fake_server().display().to_string(),
        "--port".into(),
        port.to_string(),
        "--flavour".into(),
        flavour.into(),
        "--cpu-ms-per-token".into(),
        cpu_ms.into(),
    ]
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn counts_are_exactly_what_was_sent_for_vllm_and_tgi() {
    for flavour in ["vllm", "tgi"] {
        let env = Env::new();
        let port = free_port();
        let server = fake(port, flavour, "0.2");
        let server: Vec<&str> = server.iter().map(String::as_str).collect();
        let child = serve(&env, port, &[], &server);
        wait_up(port);
        load(port, 7, 13, 5);
        settle();
        shutdown(port);
        let r = record_of(child);
        assert_eq!(r["phase"], "inference");
        assert_eq!(r["status"], "finished");
        let s = &r["serving"];
        assert_eq!(
            s["source"],
            format!("{flavour} metrics at http://127.0.0.1:{port}/metrics")
        );
        assert_eq!(s["requests"], 7, "{flavour}: {s}");
        assert_eq!(s["generated_tokens"], 91, "{flavour}: {s}");
        assert_eq!(s["prompt_tokens"], 35, "{flavour}: {s}");
        assert_eq!(s["counts_complete"], true);
        // Per-unit figures are the run's totals divided out.
        let wh = f(&r["energy_kwh"]["total"]) * 1000.0;
        assert!(wh > 0.0);
        assert!((f(&s["energy_wh_per_request"]) - wh / 7.0).abs() < 1e-9 * wh.max(1.0));
        assert!((f(&s["energy_wh_per_1k_tokens"]) - wh / 91.0 * 1000.0).abs() < 1e-6 * wh);
        let co2 = f(&r["operational_kgco2e"]);
        assert!((f(&s["kgco2e_per_request"]) - co2 / 7.0).abs() <= 1e-9 * co2.max(1e-12));
        assert!(f(&s["idle_energy_kwh"]) >= 0.0);
        // The hourly rows are in the ledger, and `show` prints them.
        let id = r["id"].as_str().unwrap();
        let shown = env.ok(&["show", id]);
        assert!(shown.contains("per 1k tokens"), "{shown}");
        assert!(shown.contains("hour (UTC)"), "{shown}");
        let by_hour = env.json(&["report", "--by", "hour", "--format", "json"]);
        let rows = by_hour.as_array().unwrap();
        let total: u64 = rows.iter().map(|h| h["requests"].as_u64().unwrap()).sum();
        assert_eq!(total, 7, "{by_hour}");
    }
}

/// `report --lifecycle` sets a year of the measured serving beside the training of the same
/// model: at the measured rate, and at a given `--requests-per-day`; text, JSON and HTML.
#[test]
fn lifecycle_projects_a_year_of_serving_beside_training() {
    let env = Env::new();
    env.ok(&[
        "run",
        "--project",
        "llm",
        "--phase",
        "training",
        "--tag",
        "model=m1",
        "--interval",
        "100ms",
        "--cpu-power",
        "100",
        "--quiet",
        "--",
        "python3",
        "-c",
        "import time\nt=time.time()\nwhile time.time()-t<0.4: pass",
    ]);
    let port = free_port();
    let server = fake(port, "vllm", "2");
    let server: Vec<&str> = server.iter().map(String::as_str).collect();
    let child = serve(
        &env,
        port,
        &["--project", "llm", "--tag", "model=m1"],
        &server,
    );
    wait_up(port);
    load(port, 6, 20, 3);
    settle();
    shutdown(port);
    let r = record_of(child);
    let secs = f(&r["duration_s"]);
    let kwh = f(&r["energy_kwh"]["total"]);
    let l = env.json(&[
        "report",
        "--project",
        "llm",
        "--lifecycle",
        "--format",
        "json",
    ]);
    let s = &l["serving"][0];
    assert_eq!(s["model"], "m1", "{l}");
    assert_eq!(s["measured"]["requests"], 6);
    assert_eq!(s["training"]["runs"], 1);
    let year = &s["year"];
    assert_eq!(year["rate"], "measured");
    let rate = 6.0 / secs * 86_400.0;
    assert!(
        (f(&year["requests_per_day"]) / rate - 1.0).abs() < 1e-6,
        "{year}"
    );
    // At the measured rate the year is the measured energy scaled to 365 days.
    let scaled = kwh * 365.0 * 86_400.0 / secs;
    assert!(
        (f(&year["energy_kwh"]) / scaled - 1.0).abs() < 1e-6,
        "{year} vs {scaled}"
    );
    let training = f(&s["training"]["operational_kgco2e"]);
    let days = training / (f(&year["operational_kgco2e"]) / 365.0);
    assert!((f(&s["days_to_match_training"]) / days - 1.0).abs() < 1e-6);

    // A given rate: twice the requests, more energy in the year, less per request.
    let twice = format!("{}", 2.0 * rate);
    let g = env.json(&[
        "report",
        "--project",
        "llm",
        "--lifecycle",
        "--format",
        "json",
        "--requests-per-day",
        &twice,
    ]);
    let gy = &g["serving"][0]["year"];
    assert_eq!(gy["rate"], "given");
    assert!(f(&gy["energy_kwh"]) > f(&year["energy_kwh"]), "{gy}");
    assert!(
        f(&gy["energy_wh_per_request"]) < f(&year["energy_wh_per_request"]),
        "{gy}"
    );

    let text = env.ok(&["report", "--project", "llm", "--lifecycle"]);
    assert!(
        text.contains("Serving model m1: one year projected beside its training"),
        "{text}"
    );
    assert!(text.contains("serving, one year"), "{text}");
    let html = env.ok(&[
        "report",
        "--project",
        "llm",
        "--lifecycle",
        "--format",
        "html",
    ]);
    assert!(
        html.contains("<svg") && html.contains("Training and one year of serving"),
        "{html}"
    );
    // The run's page draws its hours: each point is an hourly row's Wh per 1k tokens.
    let id = r["id"].as_str().unwrap();
    let page = env.ok(&["show", id, "--format", "html"]);
    let hours = env.json(&["report", "--by", "hour", "--format", "json"]);
    for h in hours.as_array().unwrap() {
        let wh = f(&h["energy_wh_per_1k_tokens"]);
        let label = &h["hour"].as_str().unwrap()[..13].replace('T', " ");
        let start = page
            .find("<title>Energy per 1,000 generated tokens against request rate</title>")
            .unwrap_or_else(|| panic!("no chart: {page}"));
        let chart = &page[start..start + page[start..].find("</svg>").unwrap()];
        let point = chart
            .split("<title>")
            .find(|t| t.starts_with(&format!("{label}:00:")))
            .unwrap_or_else(|| panic!("no point for {label}: {chart}"));
        let shown: f64 = point
            .split(", ")
            .nth(1)
            .and_then(|x| x.split(' ').next())
            .unwrap()
            .parse()
            .unwrap();
        assert!((shown / wh - 1.0).abs() < 0.01, "{point} vs {wh}");
    }
    let bad = env.run(&[
        "report",
        "--project",
        "llm",
        "--lifecycle",
        "--requests-per-day",
        "-3",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

/// Energy per generated token follows the work per token: twice the CPU time per token, twice
/// the energy per token (±20 %).
#[test]
fn energy_per_token_doubles_with_the_work_per_token() {
    let per_1k = |cpu_ms: &str| {
        let env = Env::new();
        let port = free_port();
        let server = fake(port, "vllm", cpu_ms);
        let server: Vec<&str> = server.iter().map(String::as_str).collect();
        let child = serve(&env, port, &[], &server);
        wait_up(port);
        load(port, 15, 20, 3);
        settle();
        shutdown(port);
        let r = record_of(child);
        assert_eq!(r["serving"]["generated_tokens"], 300);
        f(&r["serving"]["energy_wh_per_1k_tokens"])
    };
    let one = per_1k("3");
    let two = per_1k("6");
    let ratio = two / one;
    assert!(
        (1.6..=2.4).contains(&ratio),
        "energy per 1k tokens {one} Wh at 3 ms/token, {two} Wh at 6 ms/token: ratio {ratio}"
    );
}

/// The server restarts mid-run (its counters start again from zero): nothing is counted twice
/// or lost.
#[test]
fn a_server_restart_is_followed() {
    let env = Env::new();
    let port = free_port();
    let one = fake(port, "vllm", "0.2").join(" ");
    let script = format!("{one} && {one}");
    let child = serve(&env, port, &[], &["sh", "-c", &script]);
    wait_up(port);
    load(port, 3, 10, 2);
    settle();
    shutdown(port);
    std::thread::sleep(Duration::from_millis(200));
    wait_up(port);
    load(port, 2, 10, 2);
    settle();
    shutdown(port);
    let r = record_of(child);
    assert_eq!(r["serving"]["requests"], 5, "{}", r["serving"]);
    assert_eq!(r["serving"]["generated_tokens"], 50);
}

/// The metrics endpoint stops answering: the energy is still measured, the counts stop and say
/// they are incomplete.
#[test]
fn a_dead_metrics_endpoint_keeps_the_energy_and_marks_the_counts() {
    let env = Env::new();
    let port = free_port();
    let server = fake(port, "vllm", "1");
    let server: Vec<&str> = server.iter().map(String::as_str).collect();
    let child = serve(&env, port, &[], &server);
    wait_up(port);
    load(port, 3, 10, 2);
    settle();
    assert_eq!(http(port, "POST", "/metrics-off", "").unwrap().0, 200);
    load(port, 4, 50, 2);
    settle();
    shutdown(port);
    let r = record_of(child);
    let s = &r["serving"];
    assert_eq!(s["requests"], 3, "{s}");
    assert_eq!(s["counts_complete"], false, "{s}");
    // 4 × 50 tokens × 1 ms of CPU after the endpoint died are in the energy.
    assert!(f(&r["energy_kwh"]["cpu"]) > 0.0);
    let hours = env.json(&["report", "--by", "hour", "--format", "json"]);
    assert_eq!(hours[0]["counts_complete"], false, "{hours}");
}

/// `attach` measures a server the test started, ends `finished` on SIGINT and leaves it running.
#[test]
fn attach_measures_a_running_server_and_leaves_it_alone() {
    let env = Env::new();
    let port = free_port();
    let argv = fake(port, "tgi", "0.5");
    let mut server = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_up(port);
    // Work done before the attach is not the run's.
    load(port, 2, 5, 1);
    let url = format!("http://127.0.0.1:{port}/metrics");
    let pid = server.id().to_string();
    let child = env
        .cmd()
        .args([
            "attach",
            "--pid",
            &pid,
            "--interval",
            "100ms",
            "--cpu-power",
            "100",
            "--json",
            "--quiet",
            "--metrics-url",
            &url,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Measuring once the run is in the ledger and its counters were read once.
    let t = Instant::now();
    loop {
        let running = env.json(&["runs", "--status", "running", "--json"]);
        if running.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "attach did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    settle();
    load(port, 4, 25, 3);
    settle();
    // SAFETY: kill with a pid of our child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let r = record_of(child);
    assert_eq!(r["status"], "finished");
    assert_eq!(r["phase"], "inference");
    assert_eq!(r["serving"]["requests"], 4, "{}", r["serving"]);
    assert_eq!(r["serving"]["generated_tokens"], 100);
    assert!(r["command"][0].as_str().unwrap().contains("python"));
    // The server is still there.
    assert!(server.try_wait().unwrap().is_none());
    assert_eq!(http(port, "GET", "/metrics", "").unwrap().0, 200);
    shutdown(port);
    server.wait().unwrap();
    // A pid that is not running is a usage error.
    env.usage_error(&["attach", "--pid", &pid], &["no running process"]);
}

/// A shell script opens and closes windows and counts work through $ECOTRACE_WINDOWS.
#[test]
fn windows_and_counts_from_a_shell_script() {
    let env = Env::new();
    let script = r#"
        w="$ECOTRACE_WINDOWS"; test -n "$w" || exit 9
        echo "start prepare" >> "$w"
        sleep 0.3
        echo "start burn" >> "$w"
        # Burn CPU for at least 0.4 s (several sampling intervals), however fast the machine.
        t0=$(date +%s%N)
        while [ $(( $(date +%s%N) - t0 )) -lt 400000000 ]; do
            i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done
        done
        echo "count requests=3 generated_tokens=120" >> "$w"
        echo "end burn" >> "$w"
        echo "end prepare" >> "$w"
        echo "start burn" >> "$w"
        echo "end burn @$(date +%s)" >> "$w"
        sleep 0.3
    "#;
    let r = env.json(&[
        "run",
        "--interval",
        "50ms",
        "--cpu-power",
        "100",
        "--json",
        "--quiet",
        "--",
        "sh",
        "-c",
        script,
    ]);
    let w = r["windows"].as_array().unwrap_or_else(|| panic!("{r}"));
    let names: Vec<&str> = w.iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["prepare", "burn", "burn"]);
    assert_eq!(w[1]["depth"], 1);
    assert!(w.iter().all(|x| x["ended_at"].is_string()), "{w:?}");
    let outer = f(&w[0]["energy_kwh"]["total"]);
    let inner = f(&w[1]["energy_kwh"]["total"]);
    assert!(inner > 0.0 && outer >= inner, "{w:?}");
    assert!(f(&w[1]["operational_kgco2e"]) > 0.0);
    assert_eq!(r["serving"]["requests"], 3);
    assert_eq!(r["serving"]["generated_tokens"], 120);
    let shown = env.ok(&["show", r["id"].as_str().unwrap()]);
    assert!(shown.contains("windows"), "{shown}");
    assert!(shown.contains("prepare"), "{shown}");
    // The file is gone with the run.
    assert!(!std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .any(|e| e
            .file_name()
            .to_string_lossy()
            .contains(r["id"].as_str().unwrap())));
}
