//! `ecotrace agent` scraped by a real Prometheus server (Debian's `prometheus` package, run
//! directly with a temp config and storage path, no systemd), queried through its HTTP API for
//! values the test knows: a fake RAPL counter advanced by exactly 5 J, and `--intensity 123`.
//!
//! Without the `prometheus` binary the test prints "skipped: ..." and passes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills and reaps the child on drop, so a failed assertion leaves no server behind.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

fn wait_until<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The value of the single sample an instant query returns, if there is one.
fn query(prom: SocketAddr, q: &str) -> Option<f64> {
    let enc: String = q
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (code, body) = get(prom, &format!("/api/v1/query?query={enc}"))?;
    if code != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    let r = v["data"]["result"].as_array()?;
    r.first()?["value"][1].as_str()?.parse().ok()
}

fn fake_sysfs(dir: &Path) {
    let rapl = dir.join("sys/class/powercap/intel-rapl:0");
    std::fs::create_dir_all(&rapl).unwrap();
    std::fs::write(rapl.join("name"), "package-0\n").unwrap();
    std::fs::write(rapl.join("max_energy_range_uj"), "262143328850\n").unwrap();
    std::fs::write(rapl.join("energy_uj"), "0\n").unwrap();
}

#[test]
fn prometheus_scrapes_the_agent_and_sees_known_values() {
    let prometheus = ["prometheus", "/usr/bin/prometheus"].into_iter().find(|p| {
        Command::new(p)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    let Some(prometheus) = prometheus else {
        eprintln!("skipped: prometheus_scrapes_the_agent_and_sees_known_values: no prometheus binary (Debian package prometheus)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    fake_sysfs(dir.path());
    let agent_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut agent = Command::new(env!("CARGO_BIN_EXE_ecotrace"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ECOTRACE_") {
            agent.env_remove(k);
        }
    }
    let _agent = Guard(
        agent
            .args([
                "agent",
                "--listen",
                &agent_addr.to_string(),
                "--socket",
                "none",
            ])
            .args(["--interval", "200ms", "--intensity", "123"])
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("ECOTRACE_SYSFS_ROOT", dir.path().join("sys"))
            .env("ECOTRACE_NVML_LIBRARY", "none")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until("the agent's /metrics", Duration::from_secs(30), || {
        get(agent_addr, "/metrics").filter(|(c, _)| *c == 200)
    });
    // The counter moves by exactly 5 J once the agent has its first reading.
    std::fs::write(
        dir.path().join("sys/class/powercap/intel-rapl:0/energy_uj"),
        "5000000\n",
    )
    .unwrap();

    let prom_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: ecotrace\n    static_configs:\n      - targets: ['{agent_addr}']\n"
        ),
    )
    .unwrap();
    let _prom = Guard(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={prom_addr}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let joules = wait_until(
        "Prometheus to have scraped 5 J",
        Duration::from_secs(90),
        || {
            query(
                prom_addr,
                r#"ecotrace_energy_joules_total{component="cpu",device="package-0",job="ecotrace"}"#,
            )
            .filter(|v| *v >= 5.0)
        },
    );
    assert_eq!(joules, 5.0);
    let intensity = wait_until("the intensity", Duration::from_secs(30), || {
        query(prom_addr, "ecotrace_grid_intensity_grams_per_kwh")
    });
    assert_eq!(intensity, 123.0);
    // The scrape itself is healthy.
    let up = query(prom_addr, r#"up{job="ecotrace"}"#).unwrap();
    assert_eq!(up, 1.0);
}
