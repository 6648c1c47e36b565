//! Load test of a shared PostgreSQL ledger: simulated nodes each write runs the way `ecotrace run`
//! does (begin, a checkpoint with 5 samples every 5 s of run, finish), many at once, and the
//! figures are printed as JSON: ingested runs per second, write latency percentiles, and the size
//! the ledger takes per 1,000 runs.
//!
//! Bounded in count (nodes × runs) and in time (`--max-seconds`); loopback only (`scripts/load-test`
//! starts a throwaway server). The nodes are logical: each has its own host name and run ids, and
//! they share `--connections` database connections, as nodes behind a connection pooler would
//! (PostgreSQL's default limit is 100 connections).
//!
//!     cargo run --release -p ecotrace-ledger --example load -- --url postgres://… [--nodes 1000]
//!         [--runs-per-node 5] [--checkpoints 4] [--connections 64] [--max-seconds 300]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ecotrace_core::{Power, PowerSample, RunRecord, RunStatus};
use ecotrace_ledger::{Ledger, PostgresLedger};

struct Opts {
    url: String,
    nodes: usize,
    runs_per_node: usize,
    checkpoints: usize,
    samples_per_checkpoint: usize,
    connections: usize,
    max_seconds: u64,
}

fn parse() -> Opts {
    let mut o = Opts {
        url: String::new(),
        nodes: 1000,
        runs_per_node: 5,
        checkpoints: 4,
        samples_per_checkpoint: 5,
        connections: 64,
        max_seconds: 300,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        let n = || v.parse::<usize>().expect("a number");
        match args[i].as_str() {
            "--url" => o.url = v.clone(),
            "--nodes" => o.nodes = n(),
            "--runs-per-node" => o.runs_per_node = n(),
            "--checkpoints" => o.checkpoints = n(),
            "--samples-per-checkpoint" => o.samples_per_checkpoint = n(),
            "--connections" => o.connections = n().max(1),
            "--max-seconds" => o.max_seconds = n() as u64,
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }
    assert!(!o.url.is_empty(), "--url postgres://... is required");
    o
}

/// A run record as a tracker on `node` writes it, from a JSON template (so the example does not
/// depend on every field of the struct).
fn record(node: usize, k: usize) -> RunRecord {
    serde_json::from_value(serde_json::json!({
        "record_version": 1,
        "id": format!("load-{node:04}-{k:03}-{}", std::process::id()),
        "project": format!("project-{}", node % 20),
        "phase": "training",
        "tags": {"node": format!("node-{node:04}")},
        "command": ["python", "train.py", "--epochs", "3"],
        "status": "running",
        "exit_code": null, "signal": null, "error": null,
        "started_at": chrono::Utc::now(),
        "ended_at": null,
        "duration_s": 0.0,
        "scope": "machine",
        "host": {"hostname": format!("node-{node:04}"), "cpu_model": "AMD EPYC 7763 64-Core Processor",
                 "cpu_count": 128, "memory_gb": 512.0,
                 "gpus": ["NVIDIA A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB"],
                 "os": "linux 6.1.0"},
        "energy_kwh": {"cpu": 0.0, "gpu": 0.0, "ram": 0.0, "total": 0.0},
        "components": [
            {"component": "cpu", "device": "package-0", "energy_kwh": 0.0, "mean_power_w": 0.0, "peak_power_w": 0.0,
             "method": "rapl", "figures": {"util_mean": 0.5}, "note": "RAPL package counter"},
            {"component": "gpu", "device": "gpu0", "energy_kwh": 0.0, "mean_power_w": 0.0, "peak_power_w": 0.0,
             "method": "nvml-counter", "figures": {}, "note": "NVML total energy counter"},
            {"component": "ram", "device": "ram", "energy_kwh": 0.0, "mean_power_w": 0.0, "peak_power_w": 0.0,
             "method": "ram-model", "figures": {"w_per_gb": 0.375}, "note": "0.375 W per GB"}
        ],
        "mean_power_w": 0.0,
        "pue": {"value": 1.2, "source": "user"},
        "intensity": {"g_per_kwh": 56.0, "zone": "FR", "source": "bundled table", "year": 2023, "basis": "zone"},
        "operational_kgco2e": 0.0,
        "notes": [],
        "metrics": {},
        "samples": {"count": 0, "mean_power_w": 0.0, "peak_power_w": 0.0},
        "tracker": {"version": "0.1.0", "interval_s": 1.0, "pid": 1000 + k},
        "job": {"id": format!("slurm:{}", 100_000 + k), "source": "slurm", "node": format!("node-{node:04}"), "rank": node}
    }))
    .expect("a valid record")
}

fn samples(from: usize, n: usize) -> Vec<PowerSample> {
    (from..from + n)
        .map(|i| PowerSample {
            t_s: (i + 1) as f64,
            cpu_w: Power::from_watts(180.0 + (i % 7) as f64),
            gpu_w: Power::from_watts(1400.0 + (i % 11) as f64),
            ram_w: Power::from_watts(40.0),
        })
        .collect()
}

/// MB per 1,000 runs, two decimals.
fn per_1000(bytes: i64, runs: i64) -> f64 {
    if runs <= 0 {
        return f64::NAN;
    }
    (bytes as f64 / runs as f64 * 1000.0 / 1e6 * 100.0).round() / 100.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let o = parse();
    // Create the schema first, so the timed part measures writes only.
    PostgresLedger::connect(&o.url).expect("connect to the ledger");
    let total_runs = o.nodes * o.runs_per_node;
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let out_of_time = Arc::new(AtomicBool::new(false));
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::new(Mutex::new(Vec::with_capacity(
        total_runs * (o.checkpoints + 2),
    )));
    let deadline = Instant::now() + Duration::from_secs(o.max_seconds);
    let t0 = Instant::now();
    let workers: Vec<_> = (0..o.connections)
        .map(|_| {
            let (url, next, done, oot, lat) = (
                o.url.clone(),
                next.clone(),
                done.clone(),
                out_of_time.clone(),
                latencies.clone(),
            );
            let (runs_per_node, checkpoints, per) =
                (o.runs_per_node, o.checkpoints, o.samples_per_checkpoint);
            std::thread::spawn(move || {
                let mut l = PostgresLedger::new(&url).unwrap();
                let mut mine = Vec::new();
                loop {
                    // Runs are dealt round-robin over nodes, so all nodes are busy at once.
                    let j = next.fetch_add(1, Ordering::SeqCst);
                    if j >= total_runs {
                        break;
                    }
                    if Instant::now() > deadline {
                        oot.store(true, Ordering::SeqCst);
                        break;
                    }
                    let (node, k) = (
                        j % (total_runs / runs_per_node),
                        j / (total_runs / runs_per_node),
                    );
                    let mut r = record(node, k);
                    let mut time =
                        |f: &mut dyn FnMut() -> Result<(), ecotrace_ledger::LedgerError>| {
                            let t = Instant::now();
                            f().expect("write");
                            mine.push(t.elapsed().as_secs_f64() * 1000.0);
                        };
                    time(&mut || l.begin(&r));
                    for c in 0..checkpoints {
                        r.duration = Duration::from_secs(((c + 1) * per) as u64);
                        let s = samples(c * per, per);
                        time(&mut || l.checkpoint(&r, &s));
                    }
                    r.status = RunStatus::Finished;
                    r.exit_code = Some(0);
                    r.ended_at = Some(chrono::Utc::now());
                    let s = samples(checkpoints * per, per);
                    time(&mut || l.finish(&r, &s));
                    done.fetch_add(1, Ordering::SeqCst);
                }
                lat.lock().unwrap().extend(mine);
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let wall = t0.elapsed().as_secs_f64();
    let runs = done.load(Ordering::SeqCst);
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort_by(|a, b| a.total_cmp(b));
    let mut c = postgres::Client::connect(&o.url, postgres::NoTls).unwrap();
    let bytes: i64 = c
        .query_one(
            "SELECT pg_total_relation_size('runs') + pg_total_relation_size('samples')",
            &[],
        )
        .unwrap()
        .get(0);
    let stored: i64 = c
        .query_one("SELECT COUNT(*) FROM runs WHERE id LIKE 'load-%'", &[])
        .unwrap()
        .get(0);
    let sample_rows: i64 = c
        .query_one("SELECT COUNT(*) FROM samples", &[])
        .unwrap()
        .get(0);
    // Checkpoints rewrite the run's row: the dead versions are what autovacuum reclaims later.
    c.batch_execute("VACUUM FULL runs").unwrap();
    c.batch_execute("VACUUM FULL samples").unwrap();
    let compact: i64 = c
        .query_one(
            "SELECT pg_total_relation_size('runs') + pg_total_relation_size('samples')",
            &[],
        )
        .unwrap()
        .get(0);
    let report = serde_json::json!({
        "nodes": o.nodes,
        "runs_planned": total_runs,
        "runs_ingested": runs,
        "runs_in_ledger": stored,
        "sample_rows": sample_rows,
        "writes": lat.len(),
        "connections": o.connections,
        "stopped_by_time_limit": out_of_time.load(Ordering::SeqCst),
        "wall_s": (wall * 100.0).round() / 100.0,
        "runs_per_s": (runs as f64 / wall * 10.0).round() / 10.0,
        "writes_per_s": (lat.len() as f64 / wall).round(),
        "write_latency_ms": {
            "p50": (percentile(&lat, 50.0) * 100.0).round() / 100.0,
            "p99": (percentile(&lat, 99.0) * 100.0).round() / 100.0,
            "max": (lat.last().copied().unwrap_or(f64::NAN) * 100.0).round() / 100.0,
        },
        "ledger_bytes": bytes,
        "ledger_mb_per_1000_runs": per_1000(bytes, stored),
        "ledger_bytes_after_vacuum_full": compact,
        "ledger_mb_per_1000_runs_after_vacuum_full": per_1000(compact, stored),
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    assert_eq!(stored as usize, runs, "every ingested run is in the ledger");
}
