//! The agent on a fake machine: a RAPL counter, /proc/stat and a cgroup v2 tree that the test
//! advances by known amounts. Checks the books (idle floor, active/idle shares per workload, the
//! unattributed rest), the exposition (and `promtool check metrics` when Debian's prometheus
//! package is installed), the HTTP endpoint, and the Unix socket's ownership check.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ecotrace_agent::cgroups::{WorkloadId, WorkloadKind};
use ecotrace_agent::{Agent, AgentConfig};
use ecotrace_sensors::Roots;

struct Machine {
    dir: tempfile::TempDir,
    energy_uj: u64,
    busy: u64,
    usage: Vec<(String, u64)>,
}

impl Machine {
    fn new() -> Machine {
        std::env::set_var("ECOTRACE_NVML_LIBRARY", "none");
        std::env::set_var("ECOTRACE_AMDSMI_LIBRARY", "none");
        let dir = tempfile::tempdir().unwrap();
        let m = Machine {
            dir,
            energy_uj: 0,
            busy: 1000,
            usage: vec![
                ("system.slice/slurmstepd.scope/job_42".into(), 0),
                ("user.slice/user-1000.slice".into(), 0),
            ],
        };
        let rapl = m.path("sys/class/powercap/intel-rapl:0");
        std::fs::create_dir_all(&rapl).unwrap();
        std::fs::write(rapl.join("name"), "package-0\n").unwrap();
        std::fs::write(rapl.join("max_energy_range_uj"), "262143328850\n").unwrap();
        std::fs::create_dir_all(m.path("sys/fs/cgroup")).unwrap();
        std::fs::write(m.path("sys/fs/cgroup/cgroup.controllers"), "cpu memory\n").unwrap();
        std::fs::create_dir_all(m.path("proc/sys/kernel")).unwrap();
        std::fs::write(m.path("proc/sys/kernel/hostname"), "node-a\n").unwrap();
        std::fs::write(
            m.path("proc/cpuinfo"),
            "processor\t: 0\nmodel name\t: Test CPU\nphysical id\t: 0\n\nprocessor\t: 1\nmodel name\t: Test CPU\nphysical id\t: 0\n",
        )
        .unwrap();
        std::fs::write(
            m.path("proc/meminfo"),
            "MemTotal:       16000000 kB\nMemFree:         8000000 kB\nMemAvailable:    8000000 kB\n",
        )
        .unwrap();
        m.write();
        m
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn roots(&self) -> Roots {
        Roots {
            sysfs: self.path("sys"),
            procfs: self.path("proc"),
        }
    }

    fn write(&self) {
        std::fs::write(
            self.path("sys/class/powercap/intel-rapl:0/energy_uj"),
            format!("{}\n", self.energy_uj),
        )
        .unwrap();
        // user nice system idle iowait irq softirq steal
        std::fs::write(
            self.path("proc/stat"),
            format!(
                "cpu  {} 0 0 5000 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0\n",
                self.busy
            ),
        )
        .unwrap();
        for (rel, usec) in &self.usage {
            let d = self.path(&format!("sys/fs/cgroup/{rel}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("cpu.stat"), format!("usage_usec {usec}\n")).unwrap();
            std::fs::write(d.join("memory.current"), "1000000\n").unwrap();
        }
    }

    /// One second: `joules` on the RAPL counter, `busy_s` of machine CPU time, per-cgroup µs.
    fn advance(&mut self, joules: u64, busy_s: u64, usec: &[u64]) {
        self.energy_uj += joules * 1_000_000;
        self.busy += busy_s * ecotrace_sensors::procfs::clock_ticks_per_sec();
        for (u, add) in self.usage.iter_mut().zip(usec) {
            u.1 += add;
        }
        self.write();
    }

    fn config(&self) -> AgentConfig {
        AgentConfig {
            interval: Duration::from_millis(100),
            listen: "127.0.0.1:0".parse().unwrap(),
            socket: None,
            socket_mode: 0o666,
            socket_limits: Default::default(),
            gpus: None,
            roots: self.roots(),
            cpu_power: None,
            ram_power: None,
            intensity_g_per_kwh: 360.0,
            pue: 1.0,
            zone: "FR".into(),
            serving: Vec::new(),
        }
    }
}

/// The sum of the samples of `name` whose line passes `keep`.
fn metric_sum(page: &str, name: &str, keep: impl Fn(&str) -> bool) -> f64 {
    page.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter(|l| keep(l))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

fn job() -> WorkloadId {
    WorkloadId {
        name: "slurm:42".into(),
        kind: WorkloadKind::SlurmJob,
    }
}

#[test]
fn books_split_idle_and_active_and_charge_workloads_by_cpu_time() {
    let mut m = Machine::new();
    let mut agent = Agent::new(m.config()).unwrap();
    // Interval 1: 10 J; the floor is then 10 W, so all of it is idle. The job used 75% of the
    // busy CPU time, the user session 25%.
    m.advance(10, 1, &[750_000, 250_000]);
    agent.step(Duration::from_secs(1));
    // Interval 2: 30 J: 10 J idle, 20 J active.
    m.advance(30, 1, &[750_000, 250_000]);
    agent.step(Duration::from_secs(1));
    let sh = agent.shared.lock().unwrap();
    let cpu = sh
        .books
        .devices
        .iter()
        .position(|d| d.info.device == "package-0")
        .expect("the RAPL package");
    let d = &sh.books.devices[cpu];
    assert_eq!(d.info.method.as_str(), "rapl");
    assert!((d.energy.total() - 40.0).abs() < 1e-9, "{:?}", d.energy);
    assert!((d.energy.idle_j - 20.0).abs() < 1e-9);
    let j = &sh.books.workloads[&job()].per_device[cpu];
    assert!((j.active_j - 15.0).abs() < 1e-9, "{j:?}");
    assert!((j.idle_j - 15.0).abs() < 1e-9, "{j:?}");
    let page = sh.page.lock().unwrap().clone();
    drop(sh);
    assert!(
        page.contains(
            "ecotrace_energy_joules_total{component=\"cpu\",device=\"package-0\",method=\"rapl\"} 40\n"
        ),
        "{page}"
    );
    assert!(page.contains(
        "ecotrace_workload_energy_joules_total{workload=\"slurm:42\",kind=\"slurm-job\",project=\"\",share=\"active\"} "
    ));
    assert!(page.contains("ecotrace_grid_intensity_grams_per_kwh 360\n"));
    assert!(page.contains("node=\"node-a\""));

    // The job ends: its cgroup goes away, its totals stay.
    std::fs::remove_dir_all(m.path("sys/fs/cgroup/system.slice")).unwrap();
    m.usage.remove(0);
    m.advance(10, 1, &[100_000]);
    agent.step(Duration::from_secs(1));
    let sh = agent.shared.lock().unwrap();
    let w = &sh.books.workloads[&job()];
    assert!(!w.live);
    assert!((w.per_device[cpu].total() - 30.0).abs() < 1e-9);

    // Every per-workload family has the unattributed series, so the cgroup workloads add up to
    // the node (registered runs lie inside them and are left out).
    let page = sh.page.lock().unwrap().clone();
    let node = metric_sum(&page, "ecotrace_emissions_grams_total", |_| true);
    assert!(node > 0.0);
    let cgroups = |l: &str| !l.contains("kind=\"run\"");
    let workloads = metric_sum(&page, "ecotrace_workload_emissions_grams_total", cgroups);
    assert!(
        (workloads - node).abs() < 1e-9 * node.max(1.0),
        "{workloads} vs {node}"
    );
    let joules = metric_sum(&page, "ecotrace_workload_energy_joules_total", cgroups);
    let node_j = metric_sum(&page, "ecotrace_energy_joules_total", |_| true);
    assert!((joules - node_j).abs() < 1e-9, "{joules} vs {node_j}");
    for name in [
        "ecotrace_workload_energy_joules_total",
        "ecotrace_workload_emissions_grams_total",
        "ecotrace_workload_running",
    ] {
        assert!(
            page.contains(&format!("{name}{{workload=\"unattributed\"")),
            "{name}: {page}"
        );
    }
    promtool_check(&page);
}

fn promtool_check(page: &str) {
    let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        eprintln!(
            "skipped: promtool check metrics: promtool not installed (Debian package prometheus)"
        );
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{text}\n---\n{page}"
    );
    // Linter remarks (not errors) are printed too; there should be none.
    assert!(text.trim().is_empty(), "promtool remarks:\n{text}");
}

#[test]
fn serves_metrics_over_http_on_loopback() {
    let m = Machine::new();
    let stop = ecotrace_agent::Stop::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let cfg = m.config();
    let st = stop.clone();
    let t = std::thread::spawn(move || ecotrace_agent::run(cfg, st, |a| tx.send(a).unwrap()));
    let addr = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(addr.ip().is_loopback());
    // A client that connects and says nothing holds its own connection only: the scrape is
    // answered while it is still open (the server gives it 2 s before closing it).
    let idle = std::net::TcpStream::connect(addr).unwrap();
    let (code, body) = ecotrace_agent::http::get(addr, "/metrics").unwrap();
    assert_eq!(code, 200);
    idle.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    let still_open = matches!(
        std::io::Read::read(&mut &idle, &mut b),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
    );
    assert!(
        still_open,
        "the scrape waited for the idle client to be closed"
    );
    drop(idle);
    assert!(body.contains("# TYPE ecotrace_energy_joules_total counter"));
    assert_eq!(ecotrace_agent::http::get(addr, "/admin").unwrap().0, 404);
    // An oversized request is refused, and the server goes on.
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let _ =
        s.write_all(format!("GET /metrics HTTP/1.1\r\nX: {}\r\n", "a".repeat(20_000)).as_bytes());
    let mut reply = String::new();
    let _ = std::io::Read::read_to_string(&mut s, &mut reply);
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply}");
    assert_eq!(ecotrace_agent::http::get(addr, "/metrics").unwrap().0, 200);
    stop.stop();
    t.join().unwrap().unwrap();
}

fn ask(s: &mut BufReader<UnixStream>, req: &str) -> serde_json::Value {
    s.get_mut()
        .write_all(format!("{req}\n").as_bytes())
        .unwrap();
    let mut line = String::new();
    s.read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap()
}

#[test]
fn the_socket_answers_only_about_the_callers_own_processes() {
    let m = Machine::new();
    // The fake /proc has our own process (owned by us) and pid 1 owned by root (the real one's
    // owner is used: the fake dir is created by us, so point at the real /proc for ownership).
    let mut cfg = m.config();
    cfg.roots.procfs = PathBuf::from("/proc");
    let sock = m.path("run/agent.sock");
    cfg.socket = Some(sock.clone());
    let stop = ecotrace_agent::Stop::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let st = stop.clone();
    let t = std::thread::spawn(move || ecotrace_agent::run(cfg, st, |a| tx.send(a).unwrap()));
    rx.recv_timeout(Duration::from_secs(20)).unwrap();
    let mode = std::fs::metadata(&sock).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o666
    );
    let me = std::process::id();
    let mut s = BufReader::new(UnixStream::connect(&sock).unwrap());
    let r = ask(
        &mut s,
        &format!(r#"{{"op":"register","run":"r-1","pid":{me},"include_root":true,"project":"p"}}"#),
    );
    assert_eq!(r["ok"], true, "{r}");
    assert!(!r["devices"].as_array().unwrap().is_empty());
    std::thread::sleep(Duration::from_millis(300));
    let r = ask(&mut s, r#"{"op":"read"}"#);
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["energy"].as_array().unwrap().len(), r_devices(&sock));
    // Someone else's process: refused, unless we are root (who may measure anything).
    let mut s2 = BufReader::new(UnixStream::connect(&sock).unwrap());
    let pid1_owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/1").unwrap());
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let r = ask(&mut s2, r#"{"op":"register","run":"r-2","pid":1}"#);
    if uid != 0 && pid1_owner != uid {
        assert_eq!(r["ok"], false, "{r}");
        assert!(r["error"].as_str().unwrap().contains("not yours"), "{r}");
    } else {
        eprintln!("note: running as uid {uid}: the refusal of another user's process is not exercised (root may ask about any)");
    }
    let r = ask(&mut s2, r#"{"op":"register","run":"bad id!","pid":1}"#);
    assert_eq!(r["ok"], false);
    let r = ask(&mut s, r#"{"op":"end"}"#);
    assert_eq!(r["ok"], true);
    stop.stop();
    t.join().unwrap().unwrap();
    assert!(!sock.exists(), "the socket is removed on exit");
}

fn r_devices(sock: &Path) -> usize {
    let mut s = BufReader::new(UnixStream::connect(sock).unwrap());
    let me = std::process::id();
    let r = ask(
        &mut s,
        &format!(r#"{{"op":"register","run":"count-{me}","pid":{me}}}"#),
    );
    r["devices"].as_array().unwrap().len()
}

#[test]
fn gpu_energy_is_split_among_the_workloads_holding_a_context() {
    use ecotrace_sensors::gpu::{FakeGpu, FakeGpuBackend};

    let mut m = Machine::new();
    // Processes: two of the job (one step), one of the user session.
    for (pid, cgroup) in [
        (
            4201,
            "/system.slice/slurmstepd.scope/job_42/step_0/user/task_0",
        ),
        (
            4202,
            "/system.slice/slurmstepd.scope/job_42/step_0/user/task_1",
        ),
        (1001, "/user.slice/user-1000.slice/session-3.scope"),
    ] {
        let d = m.path(&format!("proc/{pid}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("cgroup"), format!("0::{cgroup}\n")).unwrap();
    }
    // gpu0 shared by the job (2 processes) and the user (1); gpu1 the job's only; gpu2 idle.
    let fake = FakeGpuBackend::new(vec![
        FakeGpu::with_counter("A100", 1_000_000, 100_000),
        FakeGpu::with_counter("A100", 2_000_000, 100_000),
        FakeGpu::with_counter("A100", 3_000_000, 100_000),
    ]);
    fake.set_pids(0, &[4201, 4202, 1001]);
    fake.set_pids(1, &[4201]);
    let mut agent = Agent::with_gpu_backend(m.config(), Box::new(fake.clone())).unwrap();
    let user = WorkloadId {
        name: "uid:1000".into(),
        kind: WorkloadKind::User,
    };
    let gpu_energy = |agent: &Agent, id: &WorkloadId, gpu: usize| {
        let sh = agent.shared.lock().unwrap();
        let i = sh
            .books
            .devices
            .iter()
            .position(|d| d.info.device == format!("gpu{gpu}"))
            .expect("the GPU is booked");
        sh.books.workloads.get(id).map(|w| w.per_device[i])
    };
    // Interval 1: 100, 60, 30 J; the floors are then 100, 60, 30 W: all idle.
    for (i, j) in [100, 60, 30].into_iter().enumerate() {
        fake.add_energy_mj(i, j * 1000);
    }
    m.advance(10, 1, &[750_000, 250_000]);
    agent.step(Duration::from_secs(1));
    // Interval 2: 300, 160, 30 J: active 200, 100, 0 J above the floors.
    for (i, j) in [300, 160, 30].into_iter().enumerate() {
        fake.add_energy_mj(i, j * 1000);
    }
    m.advance(30, 1, &[750_000, 250_000]);
    agent.step(Duration::from_secs(1));

    // gpu0: half each (per workload, not per process): idle (100 + 100) / 2, active 200 / 2.
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    let j0 = gpu_energy(&agent, &job(), 0).unwrap();
    let u0 = gpu_energy(&agent, &user, 0).unwrap();
    assert!(
        close(j0.idle_j, 100.0) && close(j0.active_j, 100.0),
        "{j0:?}"
    );
    assert!(
        close(u0.idle_j, 100.0) && close(u0.active_j, 100.0),
        "{u0:?}"
    );
    // gpu1: all the job's.
    let j1 = gpu_energy(&agent, &job(), 1).unwrap();
    assert!(
        close(j1.idle_j, 120.0) && close(j1.active_j, 100.0),
        "{j1:?}"
    );
    assert_eq!(gpu_energy(&agent, &user, 1).unwrap().total(), 0.0);
    // gpu2: nobody's.
    assert_eq!(gpu_energy(&agent, &job(), 2).unwrap().total(), 0.0);
    assert_eq!(gpu_energy(&agent, &user, 2).unwrap().total(), 0.0);
    {
        let sh = agent.shared.lock().unwrap();
        let mut gpu_total = 0.0;
        let mut gpu_booked = 0.0;
        for (i, d) in sh.books.devices.iter().enumerate() {
            if d.info.component != ecotrace_core::ComponentKind::Gpu {
                continue;
            }
            gpu_total += d.energy.total();
            gpu_booked += sh.books.unattributed[i].total()
                + sh.books
                    .workloads
                    .values()
                    .map(|w| w.per_device[i].total())
                    .sum::<f64>();
            if d.info.device == "gpu2" {
                assert!(close(sh.books.unattributed[i].idle_j, 60.0));
                assert_eq!(sh.books.unattributed[i].active_j, 0.0);
            } else {
                assert_eq!(sh.books.unattributed[i].total(), 0.0, "{}", d.info.device);
            }
        }
        // Nothing counted twice, nothing lost.
        assert!(close(gpu_total, 680.0), "{gpu_total}");
        assert!(close(gpu_booked, gpu_total), "{gpu_booked} vs {gpu_total}");
        // The workload family carries the GPU part: the job's series are all its devices.
        let w = &sh.books.workloads[&job()];
        let gpu_part: f64 = sh
            .books
            .devices
            .iter()
            .zip(&w.per_device)
            .filter(|(d, _)| d.info.component == ecotrace_core::ComponentKind::Gpu)
            .map(|(_, s)| s.total())
            .sum();
        assert!(close(gpu_part, 420.0), "{gpu_part}");
        let page = sh.page.lock().unwrap().clone();
        assert!(
            page.contains(&format!(
                "ecotrace_workload_energy_joules_total{{workload=\"slurm:42\",kind=\"slurm-job\",project=\"\",share=\"idle\"}} {}\n",
                w.energy().idle_j
            )),
            "{page}"
        );
        assert!(page.contains("ecotrace_energy_joules_total{component=\"gpu\",device=\"gpu0\",method=\"nvml-counter\"} 400\n"), "{page}");
        promtool_check(&page);
    }

    // The job lets go of gpu1: the interval in which it did is still its (a context seen at
    // either end counts), the next one is unattributed.
    fake.set_pids(1, &[]);
    fake.add_energy_mj(1, 60_000);
    m.advance(10, 1, &[750_000, 250_000]);
    agent.step(Duration::from_secs(1));
    assert!(close(gpu_energy(&agent, &job(), 1).unwrap().total(), 280.0));
    fake.add_energy_mj(1, 60_000);
    m.advance(10, 1, &[750_000, 250_000]);
    agent.step(Duration::from_secs(1));
    assert!(close(gpu_energy(&agent, &job(), 1).unwrap().total(), 280.0));
    let sh = agent.shared.lock().unwrap();
    let i = sh
        .books
        .devices
        .iter()
        .position(|d| d.info.device == "gpu1")
        .unwrap();
    assert!(close(sh.books.unattributed[i].total(), 60.0));
}

/// Writes `/proc/PID/cgroup` of fake processes.
fn processes(m: &Machine, procs: &[(u32, &str)]) {
    for (pid, cgroup) in procs {
        let d = m.path(&format!("proc/{pid}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("cgroup"), format!("0::{cgroup}\n")).unwrap();
    }
}

/// Energy booked to `id` on device `gpuN` (None: the device is not booked).
fn booked_gpu(agent: &Agent, id: &WorkloadId, device: &str) -> Option<f64> {
    let sh = agent.shared.lock().unwrap();
    let i = sh
        .books
        .devices
        .iter()
        .position(|d| d.info.device == device)?;
    Some(
        sh.books
            .workloads
            .get(id)
            .map_or(0.0, |w| w.per_device[i].total()),
    )
}

/// A machine with one process of SLURM job 42 (pid 4201) and one of user 1000's session (pid
/// 1001), and the user's workload id.
fn job_and_user_processes() -> (Machine, WorkloadId) {
    let m = Machine::new();
    processes(
        &m,
        &[
            (4201, "/system.slice/slurmstepd.scope/job_42/step_0"),
            (1001, "/user.slice/user-1000.slice/session-3.scope"),
        ],
    );
    let user = WorkloadId {
        name: "uid:1000".into(),
        kind: WorkloadKind::User,
    };
    (m, user)
}

#[test]
fn amd_gpus_are_attributed_from_the_amd_smi_process_list_numbered_after_nvidia() {
    use ecotrace_sensors::gpu::{FakeGpu, FakeGpuBackend};

    let (mut m, user) = job_and_user_processes();
    // One NVIDIA GPU (gpu0, the user's) and two AMD GPUs: gpu1 with the energy accumulator (the
    // job's), gpu2 with power only (shared by the job and the user).
    let nvidia = FakeGpuBackend::new(vec![FakeGpu::with_counter("A100", 0, 50_000)]);
    let amd = FakeGpuBackend::amd(vec![
        FakeGpu::with_counter("AMD Instinct MI210", 0, 100_000),
        FakeGpu::power_only("AMD Instinct MI210", 80_000),
    ]);
    nvidia.set_pids(0, &[1001]);
    amd.set_pids(0, &[4201]);
    amd.set_pids(1, &[4201, 1001]);
    let mut agent = Agent::with_gpu_backends(
        m.config(),
        ecotrace_agent::GpuBackends {
            nvidia: Some(Box::new(nvidia.clone())),
            amd: Some(Box::new(amd.clone())),
        },
    )
    .unwrap();
    for _ in 0..2 {
        nvidia.add_energy_mj(0, 50_000);
        amd.add_energy_mj(0, 100_000);
        m.advance(10, 1, &[500_000, 500_000]);
        agent.step(Duration::from_secs(1));
    }
    let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-6);
    // gpu0 (NVML): the user's 100 J; the job none.
    assert!(close(booked_gpu(&agent, &user, "gpu0"), 100.0));
    assert!(close(booked_gpu(&agent, &job(), "gpu0"), 0.0));
    // gpu1 (AMD SMI counter): the job's 200 J, nothing to the user.
    assert!(close(booked_gpu(&agent, &job(), "gpu1"), 200.0));
    assert!(close(booked_gpu(&agent, &user, "gpu1"), 0.0));
    // gpu2 (AMD SMI power, 80 W × 2 s): 80 J each.
    assert!(close(booked_gpu(&agent, &job(), "gpu2"), 80.0));
    assert!(close(booked_gpu(&agent, &user, "gpu2"), 80.0));
    let sh = agent.shared.lock().unwrap();
    let page = sh.page.lock().unwrap().clone();
    assert!(
        page.contains("ecotrace_energy_joules_total{component=\"gpu\",device=\"gpu1\",method=\"amdsmi-counter\"} 200\n"),
        "{page}"
    );
    assert!(
        page.contains("device=\"gpu2\",method=\"amdsmi-power\""),
        "{page}"
    );
}

#[test]
fn each_die_of_an_mi250x_is_booked_half_the_card() {
    use ecotrace_sensors::gpu::{FakeGpu, FakeGpuBackend};

    let (mut m, user) = job_and_user_processes();
    // One MI250X: the driver reports the card on its first die, 0 on the second. The job runs
    // on the first die, the user on the second.
    let amd = FakeGpuBackend::amd(vec![
        FakeGpu::with_counter("AMD Instinct MI250X", 1_000, 90_000),
        FakeGpu::with_counter("AMD Instinct MI250X", 0, 0),
    ]);
    amd.set_pids(0, &[4201]);
    amd.set_pids(1, &[1001]);
    let mut agent = Agent::with_gpu_backends(
        m.config(),
        ecotrace_agent::GpuBackends {
            nvidia: None,
            amd: Some(Box::new(amd.clone())),
        },
    )
    .unwrap();
    amd.add_energy_mj(0, 300_000);
    m.advance(10, 1, &[500_000, 500_000]);
    agent.step(Duration::from_secs(1));
    let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-6);
    assert!(close(booked_gpu(&agent, &job(), "gpu0"), 150.0));
    assert!(close(booked_gpu(&agent, &user, "gpu1"), 150.0));
    let sh = agent.shared.lock().unwrap();
    let card: f64 = sh
        .books
        .devices
        .iter()
        .filter(|d| d.info.component == ecotrace_core::ComponentKind::Gpu)
        .map(|d| d.energy.total())
        .sum();
    assert!((card - 300.0).abs() < 1e-6, "the card counted once: {card}");
}

#[test]
fn the_agent_measures_only_the_gpus_it_is_given() {
    use ecotrace_sensors::gpu::{FakeGpu, FakeGpuBackend};
    use ecotrace_sensors::gpu_select::GpuRequest;

    let mut m = Machine::new();
    processes(&m, &[(4201, "/system.slice/slurmstepd.scope/job_42")]);
    let nvidia = FakeGpuBackend::new(vec![
        FakeGpu::with_counter("A100", 0, 50_000).uuid("GPU-aaaa-0000"),
        FakeGpu::with_counter("A100", 0, 50_000).uuid("GPU-bbbb-1111"),
    ]);
    let amd = FakeGpuBackend::amd(vec![
        FakeGpu::with_counter("AMD Instinct MI210", 0, 100_000),
        FakeGpu::with_counter("AMD Instinct MI210", 0, 100_000),
    ]);
    for i in 0..2 {
        nvidia.set_pids(i, &[4201]);
        amd.set_pids(i, &[4201]);
    }
    // By UUID for the NVIDIA GPU, by ecotrace's number for the AMD one (gpu3 = AMD's second).
    let mut cfg = m.config();
    cfg.gpus = Some(GpuRequest::parse("GPU-bbbb,3", "--gpus").unwrap());
    let mut agent = Agent::with_gpu_backends(
        cfg,
        ecotrace_agent::GpuBackends {
            nvidia: Some(Box::new(nvidia.clone())),
            amd: Some(Box::new(amd.clone())),
        },
    )
    .unwrap();
    for i in 0..2 {
        nvidia.add_energy_mj(i, 10_000);
        amd.add_energy_mj(i, 30_000);
    }
    m.advance(10, 1, &[500_000, 500_000]);
    agent.step(Duration::from_secs(1));
    let gpus: Vec<String> = {
        let sh = agent.shared.lock().unwrap();
        sh.books
            .devices
            .iter()
            .filter(|d| d.info.component == ecotrace_core::ComponentKind::Gpu)
            .map(|d| d.info.device.clone())
            .collect()
    };
    assert_eq!(gpus, ["gpu1", "gpu3"]);
    // Each given GPU is attributed from its own backend's process list.
    assert!((booked_gpu(&agent, &job(), "gpu1").unwrap() - 10.0).abs() < 1e-9);
    assert!((booked_gpu(&agent, &job(), "gpu3").unwrap() - 30.0).abs() < 1e-9);
    assert_eq!(booked_gpu(&agent, &job(), "gpu0"), None);
    let page = agent.shared.lock().unwrap().page.lock().unwrap().clone();
    assert!(!page.contains("device=\"gpu0\""), "{page}");
    assert!(!page.contains("device=\"gpu2\""), "{page}");
}

/// Starts the agent of `m` with a socket (ownership judged on the real /proc) and `limits`.
fn agent_with_socket(
    m: &Machine,
    limits: ecotrace_agent::socket::SocketLimits,
) -> (
    PathBuf,
    ecotrace_agent::Stop,
    std::thread::JoinHandle<Result<(), ecotrace_agent::AgentError>>,
) {
    let mut cfg = m.config();
    cfg.roots.procfs = PathBuf::from("/proc");
    let sock = m.path("run/agent.sock");
    cfg.socket = Some(sock.clone());
    cfg.socket_limits = limits;
    let stop = ecotrace_agent::Stop::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let st = stop.clone();
    let t = std::thread::spawn(move || ecotrace_agent::run(cfg, st, |a| tx.send(a).unwrap()));
    rx.recv_timeout(Duration::from_secs(20)).unwrap();
    (sock, stop, t)
}

/// The next line the agent sends on `s`, parsed.
fn next_answer(s: &mut BufReader<UnixStream>) -> serde_json::Value {
    let mut line = String::new();
    s.read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

#[test]
fn slow_idle_oversized_and_greedy_clients_are_handled() {
    let m = Machine::new();
    let limits = ecotrace_agent::socket::SocketLimits {
        idle_timeout: Duration::from_secs(1),
        per_uid: 3,
        max_clients: 100,
        max_request: 2000,
    };
    let (sock, stop, t) = agent_with_socket(&m, limits);
    let connect = || {
        let s = UnixStream::connect(&sock).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        BufReader::new(s)
    };

    // A request in two parts, further apart than the old 0.5 s read timeout: answered whole.
    let mut slow = connect();
    slow.get_mut().write_all(br#"{"op":"hel"#).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    slow.get_mut().write_all(b"lo\"}\n").unwrap();
    let r = next_answer(&mut slow);
    assert_eq!(r["ok"], true, "{r}");
    assert!(!r["devices"].as_array().unwrap().is_empty(), "{r}");

    // A request over the size limit (set to 2000 bytes here) is refused; one under it is read.
    let mut big = connect();
    // The agent may refuse and close before the whole request is written (EPIPE): its answer is
    // already queued on our side, so a failed write is not the test's business.
    let _ = big.get_mut().write_all(&vec![b'x'; 2500]);
    let r = next_answer(&mut big);
    let e = r["error"].as_str().unwrap();
    assert!(e.contains("too long") && e.contains("2000 bytes"), "{r}");
    drop(big);
    let mut padded = connect();
    let req = format!("{{\"op\":\"hello\"}}{}\n", " ".repeat(1500));
    padded.get_mut().write_all(req.as_bytes()).unwrap();
    assert_eq!(next_answer(&mut padded)["ok"], true);
    drop(padded);

    // An idle connection is closed after the idle timeout, with a word saying why.
    let t0 = std::time::Instant::now();
    let r = next_answer(&mut slow);
    assert!(
        r["error"].as_str().unwrap().contains("no complete request"),
        "{r}"
    );
    assert!(t0.elapsed() < Duration::from_secs(5));
    let mut rest = String::new();
    assert_eq!(slow.read_line(&mut rest).unwrap(), 0, "closed: {rest:?}");
    drop(slow);

    // One uid may hold `per_uid` connections; the next is refused, clearly. (Slots of the
    // connections above come back as their threads end: retry until they have.)
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let hello = |s: &mut BufReader<UnixStream>| {
        // A refused connection is closed after its refusal: our request may not even be sent.
        let _ = s.get_mut().write_all(b"{\"op\":\"hello\"}\n");
        next_answer(s)
    };
    let mut held = Vec::new();
    while held.len() < 3 {
        let mut s = connect();
        let r = hello(&mut s);
        if r["ok"] == true {
            held.push(s);
        } else {
            assert!(std::time::Instant::now() < deadline, "{r}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let mut extra = connect();
    let r = next_answer(&mut extra);
    assert_eq!(r["ok"], false, "{r}");
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("too many connections from uid"),
        "{r}"
    );
    // A slot comes back when a connection closes.
    drop(held.pop());
    loop {
        let r = hello(&mut connect());
        if r["ok"] == true {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no slot came back: {r}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(held);
    stop.stop();
    t.join().unwrap().unwrap();
}

/// The client half of [`another_uid_cannot_claim_an_ended_run_id`], run in a child process as
/// another user: with `ECOTRACE_AGENT_TEST_CLIENT` set to the socket, it sends each line of
/// `ECOTRACE_AGENT_TEST_REQUESTS` (`PID` replaced by its own pid) and prints each answer. Without
/// the variable (the normal test run) it has nothing to do.
#[test]
fn child_client_entry() {
    let Ok(sock) = std::env::var("ECOTRACE_AGENT_TEST_CLIENT") else {
        return;
    };
    let requests = std::env::var("ECOTRACE_AGENT_TEST_REQUESTS").unwrap();
    let mut s = BufReader::new(UnixStream::connect(sock).unwrap());
    for req in requests.lines() {
        let r = ask(&mut s, &req.replace("PID", &std::process::id().to_string()));
        println!("ANSWER {r}");
    }
}

#[test]
fn another_uid_cannot_claim_an_ended_run_id() {
    // SAFETY: getuid has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    if !root
        || std::process::Command::new("setpriv")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!("skipped: another_uid_cannot_claim_an_ended_run_id: needs root and setpriv to connect as another user");
        return;
    }
    let m = Machine::new();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(m.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (sock, stop, t) = agent_with_socket(&m, Default::default());
    // Root's run: registered, measured, ended, and the client hangs up.
    let me = std::process::id();
    let mut s = BufReader::new(UnixStream::connect(&sock).unwrap());
    let reg = format!(r#"{{"op":"register","run":"victim-run","pid":{me},"project":"secret"}}"#);
    assert_eq!(ask(&mut s, &reg)["ok"], true);
    assert_eq!(ask(&mut s, r#"{"op":"end"}"#)["ok"], true);
    drop(s);

    // Another user (nobody) tries the same id on its own process: refused; its own id works.
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_client_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ECOTRACE_AGENT_TEST_CLIENT", &sock)
        .env(
            "ECOTRACE_AGENT_TEST_REQUESTS",
            [
                r#"{"op":"register","run":"victim-run","pid":PID}"#,
                r#"{"op":"read"}"#,
                r#"{"op":"register","run":"nobodys-run","pid":PID}"#,
                r#"{"op":"read"}"#,
            ]
            .join("\n"),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let answers: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| l.split_once("ANSWER ").map(|(_, a)| a))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        answers.len(),
        4,
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(answers[0]["ok"], false, "{answers:?}");
    assert!(
        answers[0]["error"]
            .as_str()
            .unwrap()
            .contains("belongs to another user"),
        "{answers:?}"
    );
    // Nothing registered on that connection: nothing to read.
    assert_eq!(answers[1]["ok"], false, "{answers:?}");
    assert_eq!(answers[2]["ok"], true, "{answers:?}");
    assert_eq!(answers[3]["ok"], true, "{answers:?}");

    // The owner may extend its own ended run.
    let mut s = BufReader::new(UnixStream::connect(&sock).unwrap());
    assert_eq!(ask(&mut s, &reg)["ok"], true);
    drop(s);
    stop.stop();
    t.join().unwrap().unwrap();
}

/// A model server's metrics endpoint in the test: vLLM-style counters the test sets; `None`
/// answers 503 (the endpoint is down).
fn fake_vllm(counters: std::sync::Arc<std::sync::Mutex<Option<(u64, u64)>>>) -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/metrics", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            // The whole request, so that closing does not reset the connection.
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match std::io::Read::read(&mut s, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let reply = match *counters.lock().unwrap() {
                Some((req, tok)) => {
                    let body = format!(
                        "# TYPE vllm:request_success_total counter\nvllm:request_success_total{{finished_reason=\"stop\"}} {req}\nvllm:prompt_tokens_total {}\nvllm:generation_tokens_total {tok}\nvllm:num_requests_running 0\n",
                        req * 3
                    );
                    format!("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n{body}")
                }
                None => "HTTP/1.0 503 Service Unavailable\r\n\r\n".to_string(),
            };
            let _ = s.write_all(reply.as_bytes());
        }
    });
    url
}

/// Waits until the agent's page passes `ok`; the page.
fn page_when(addr: std::net::SocketAddr, ok: impl Fn(&str) -> bool) -> String {
    let t = std::time::Instant::now();
    loop {
        let (_, page) = ecotrace_agent::http::get(addr, "/metrics").unwrap();
        if ok(&page) {
            return page;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "never: {page}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_served_workload_gets_its_requests_tokens_and_energy_per_unit() {
    let mut m = Machine::new();
    let counters = std::sync::Arc::new(std::sync::Mutex::new(Some((5u64, 500u64))));
    let url = fake_vllm(counters.clone());
    let mut cfg = m.config();
    cfg.serving = vec![format!("slurm:42={url}").parse().unwrap()];
    let stop = ecotrace_agent::Stop::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let st = stop.clone();
    let t = std::thread::spawn(move || ecotrace_agent::run(cfg, st, |a| tx.send(a).unwrap()));
    let addr = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    let requests = |p: &str| {
        metric_sum(p, "ecotrace_serving_requests_total", |l| {
            l.contains("workload=\"slurm:42\"")
        })
    };
    // Counting starts at the first answer: the 5 requests served before are not the agent's.
    page_when(addr, |p| {
        p.contains("ecotrace_serving_requests_total{workload=\"slurm:42\"} 0")
    });
    // The job burns CPU while it serves 7 requests and 700 tokens.
    for _ in 0..3 {
        m.advance(50, 1, &[1_000_000, 0]);
        std::thread::sleep(Duration::from_millis(150));
    }
    *counters.lock().unwrap() = Some((12, 1200));
    let page = page_when(addr, |p| requests(p) == 7.0);
    let v = |name: &str| metric_sum(&page, name, |l| l.contains("workload=\"slurm:42\""));
    assert_eq!(v("ecotrace_serving_generated_tokens_total"), 700.0);
    assert_eq!(v("ecotrace_serving_prompt_tokens_total"), 21.0);
    let e = v("ecotrace_serving_energy_joules_total");
    assert!(e > 0.0, "{page}");
    // The job's energy since counting began is at most what it was booked in all.
    let booked = metric_sum(&page, "ecotrace_workload_energy_joules_total", |l| {
        l.contains("workload=\"slurm:42\"")
    });
    assert!(e <= booked + 1e-9, "{e} > {booked}");
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    assert!(
        close(v("ecotrace_serving_energy_joules_per_request"), e / 7.0),
        "{page}"
    );
    assert!(
        close(v("ecotrace_serving_energy_joules_per_1k_tokens"), e / 0.7),
        "{page}"
    );
    assert_eq!(v("ecotrace_serving_counts_complete"), 1.0);
    if std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok()
    {
        promtool_check(&page);
    }
    // The endpoint goes down (an outage: 3 reads or more): the counts stay and say they may be
    // short while it lasts.
    let complete = |p: &str| {
        metric_sum(p, "ecotrace_serving_counts_complete", |l| {
            l.contains("workload=\"slurm:42\"")
        })
    };
    *counters.lock().unwrap() = None;
    let page = page_when(addr, |p| complete(p) == 0.0);
    assert_eq!(requests(&page), 7.0);
    // It answers again, having served 3 requests meanwhile without restarting: the counters
    // are cumulative, so nothing was lost (the rule `ecotrace serve` applies).
    *counters.lock().unwrap() = Some((15, 1500));
    let page = page_when(addr, |p| requests(p) == 10.0);
    assert_eq!(complete(&page), 1.0, "{page}");
    // Down again, and back after a restart (counters from zero, 2 requests since): the work
    // between the last good read and the restart is lost, for good.
    *counters.lock().unwrap() = None;
    page_when(addr, |p| complete(p) == 0.0);
    *counters.lock().unwrap() = Some((2, 200));
    let page = page_when(addr, |p| requests(p) == 12.0);
    assert_eq!(complete(&page), 0.0, "{page}");
    stop.stop();
    t.join().unwrap().unwrap();
}
