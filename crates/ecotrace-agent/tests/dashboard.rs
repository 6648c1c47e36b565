//! The Grafana dashboard in `dashboards/` reads only metrics the agent serves, with labels it
//! sets, and is valid JSON with a Prometheus datasource input.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ecotrace_agent::account::{Books, DeviceInfo, MachineUsage, WorkloadUsage};
use ecotrace_agent::cgroups::{WorkloadId, WorkloadKind};
use ecotrace_agent::exposition::{render, AgentInfo};
use ecotrace_core::{ComponentKind, Method};

const DASHBOARD: &str = include_str!("../../../dashboards/grafana-ecotrace.json");

fn page() -> String {
    let dev = DeviceInfo {
        component: ComponentKind::Cpu,
        device: "package-0".into(),
        method: Method::Rapl,
        idle_w: None,
        note: String::new(),
    };
    let mut books = Books::new(vec![dev.clone()], 100.0, 1.2);
    let mut runs = Books::new(vec![dev], 100.0, 1.2);
    let u = BTreeMap::from([(
        WorkloadId {
            name: "slurm:1".into(),
            kind: WorkloadKind::SlurmJob,
        },
        WorkloadUsage {
            cpu_usec: 1e6,
            memory_bytes: 1.0,
        },
    )]);
    let m = MachineUsage {
        busy_cpu_usec: 2e6,
        used_memory_bytes: 2.0,
    };
    books.step(Duration::from_secs(1), &[10.0], m, &u);
    let r = WorkloadId {
        name: "run-1".into(),
        kind: WorkloadKind::Run,
    };
    runs.set_project(&r, "vision");
    runs.step(
        Duration::from_secs(1),
        &[10.0],
        m,
        &BTreeMap::from([(r, u.values().next().copied().unwrap())]),
    );
    render(&books, &runs, &AgentInfo::default())
}

#[test]
fn the_dashboard_reads_what_the_agent_serves() {
    let dash: serde_json::Value = serde_json::from_str(DASHBOARD).expect("valid JSON");
    assert_eq!(dash["__inputs"][0]["pluginId"], "prometheus");
    let page = page();
    let served: BTreeSet<String> = page
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_string())
        .collect();
    let mut exprs = Vec::new();
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            exprs.push(t["expr"].as_str().unwrap().to_string());
        }
    }
    assert!(exprs.len() >= 9);
    for e in &exprs {
        let mut rest = e.as_str();
        while let Some(i) = rest.find("ecotrace_") {
            let name: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                served.contains(&name),
                "{name} (in {e}) is not served; served: {served:?}"
            );
            rest = &rest[i + name.len()..];
        }
        for label in [
            "workload",
            "kind",
            "project",
            "share",
            "component",
            "instance",
        ] {
            if e.contains(&format!("by ({label}")) || e.contains(&format!(", {label})")) {
                assert!(
                    label == "instance" || page.contains(&format!("{label}=\"")),
                    "{label}"
                );
            }
        }
    }
    // The labels the panels filter on have the values the agent uses.
    assert!(page.contains("kind=\"slurm-job\""));
    assert!(page.contains("kind=\"run\",project=\"vision\""));
}
