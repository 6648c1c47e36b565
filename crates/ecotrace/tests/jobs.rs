//! Jobs across nodes, end to end: runs carry the job key from `--job` or the scheduler's
//! environment (SLURM, torchrun), with node and rank; `report --by job` sums a job over its nodes
//! and counts a node shared by several ranks once.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

fn ecotrace(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ecotrace"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ECOTRACE_")
            || k.starts_with("SLURM")
            || k.starts_with("TORCHELASTIC")
            || [
                "RANK",
                "LOCAL_RANK",
                "WORLD_SIZE",
                "KUBERNETES_SERVICE_HOST",
            ]
            .contains(&k.as_str())
        {
            c.env_remove(k);
        }
    }
    std::fs::create_dir_all(dir.join("sys")).unwrap();
    c.current_dir(dir)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("ECOTRACE_SYSFS_ROOT", dir.join("sys"))
        .env("ECOTRACE_NVML_LIBRARY", "none")
        .env("ECOTRACE_LEDGER", dir.join("l.db"))
        .env("ECOTRACE_CPU_POWER", "100")
        .env("ECOTRACE_SCOPE", "machine")
        .env("ECOTRACE_INTENSITY", "100")
        .stdin(Stdio::null());
    c
}

fn json(c: &mut Command) -> Value {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn ranks_carry_the_job_and_a_shared_node_is_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Two ranks of a SLURM job on node n1 at the same time, one on n2, and a run outside any job.
    let mut children: Vec<_> = [("0", "n1"), ("1", "n1"), ("2", "n2")]
        .iter()
        .map(|(rank, node)| {
            ecotrace(d)
                .args(["run", "-q", "--", "sleep", "1"])
                .env("SLURM_JOB_ID", "777")
                .env("SLURM_STEP_ID", "0")
                .env("SLURM_PROCID", rank)
                .env("SLURM_NTASKS", "3")
                .env("SLURMD_NODENAME", node)
                .spawn()
                .unwrap()
        })
        .collect();
    children.push(
        ecotrace(d)
            .args(["run", "-q", "--", "sleep", "1"])
            .spawn()
            .unwrap(),
    );
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    // --job wins over the scheduler's id.
    let r = json(
        ecotrace(d)
            .args(["run", "-q", "--json", "--job", "mine", "--", "true"])
            .env("SLURM_JOB_ID", "777")
            .env("RANK", "4"),
    );
    assert_eq!(r["job"]["id"], "mine");
    assert_eq!(r["job"]["source"], "flag");
    assert_eq!(r["job"]["rank"], 4);

    let runs = json(ecotrace(d).args(["runs", "--json"]));
    let runs = runs.as_array().unwrap();
    let slurm: Vec<&Value> = runs
        .iter()
        .filter(|r| r["job"]["id"] == "slurm:777")
        .collect();
    assert_eq!(slurm.len(), 3);
    let mut ranks: Vec<i64> = slurm
        .iter()
        .map(|r| r["job"]["rank"].as_i64().unwrap())
        .collect();
    ranks.sort();
    assert_eq!(ranks, [0, 1, 2]);
    for r in &slurm {
        assert_eq!(r["job"]["source"], "slurm");
        assert_eq!(r["job"]["step"], "0");
        assert_eq!(r["job"]["world_size"], 3);
    }
    let alone = runs.iter().find(|r| r.get("job").is_none()).unwrap();
    assert!(alone["energy_kwh"]["total"].as_f64().unwrap() > 0.0);

    // The job's total: node n1 once (its two ranks' records split it), plus node n2.
    let kwh = |node: &str| -> Vec<f64> {
        slurm
            .iter()
            .filter(|r| r["job"]["node"] == node)
            .map(|r| r["energy_kwh"]["total"].as_f64().unwrap())
            .collect()
    };
    let (n1, n2) = (kwh("n1"), kwh("n2"));
    assert_eq!((n1.len(), n2.len()), (2, 1));
    let want = (n1[0] + n1[1]) / 2.0 + n2[0];
    let report = json(ecotrace(d).args(["report", "--by", "job", "--format", "json"]));
    let group = report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "slurm:777")
        .unwrap()
        .clone();
    assert_eq!(group["runs"], 3);
    let got = group["energy_kwh"]["total"].as_f64().unwrap();
    assert!(
        (got - want).abs() <= want * 1e-9,
        "job total {got} kWh, want {want} (n1 {n1:?} split, n2 {n2:?})"
    );
    // Never the naive sum, which would count n1 twice.
    assert!(got < n1[0] + n1[1] + n2[0]);
}
