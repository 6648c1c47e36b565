//! The agent's books in the Prometheus text exposition format (version 0.0.4), named by the
//! Prometheus conventions: base units (`_joules`, `_watts`, `_grams`), `_total` on counters, one
//! `# HELP` and `# TYPE` per family, label values escaped. `promtool check metrics` accepts it.
//!
//! Pure formatting; must not read anything.

use std::fmt::Write;

use crate::account::{Books, DeviceBook, Split, WorkloadBook};

/// The workload label of what no cgroup workload accounts for.
pub const UNATTRIBUTED: &str = "unattributed";

/// The samples of a per-workload family split into `share="active"` and `share="idle"`: every
/// cgroup workload of `books`, every registered run of `runs`, and the `unattributed` rest.
fn workload_split_family(
    o: &mut String,
    books: &Books,
    runs: &Books,
    name: &str,
    value: impl Fn(&WorkloadBook) -> Split,
    unattributed: Split,
) {
    let rows = books
        .workloads
        .iter()
        .chain(&runs.workloads)
        .map(|(id, w)| {
            (
                escape(&id.name),
                id.kind.as_str(),
                escape(w.project.as_deref().unwrap_or("")),
                value(w),
            )
        })
        .chain(std::iter::once((
            UNATTRIBUTED.to_string(),
            "none",
            String::new(),
            unattributed,
        )));
    for (workload, kind, project, v) in rows {
        for (share, x) in [("active", v.active_j), ("idle", v.idle_j)] {
            let _ = writeln!(
                o,
                "{name}{{workload=\"{workload}\",kind=\"{kind}\",project=\"{project}\",share=\"{share}\"}} {}",
                num(x)
            );
        }
    }
}

/// Static facts about the agent shown in `ecotrace_agent_info`.
#[derive(Debug, Clone, Default)]
pub struct AgentInfo {
    pub version: String,
    pub node: String,
    pub zone: String,
}

/// Escapes a label value: backslash, double quote and newline.
pub fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// A float as Prometheus reads it (`+Inf`, `-Inf`, `NaN` spelled its way).
pub(crate) fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

fn family(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
}

/// A family with one sample per device, labelled by component and device.
fn device_family(
    o: &mut String,
    books: &Books,
    name: &str,
    kind: &str,
    help: &str,
    value: impl Fn(&DeviceBook) -> f64,
) {
    family(o, name, kind, help);
    for d in &books.devices {
        let _ = writeln!(
            o,
            "{name}{{component=\"{}\",device=\"{}\"}} {}",
            d.info.component,
            escape(&d.info.device),
            num(value(d))
        );
    }
}

/// Renders every metric: the cgroup workloads of `books` (they partition the node, with the
/// `unattributed` rest) and the registered runs of `runs` (kind `run`, which overlap them).
pub fn render(books: &Books, runs: &Books, info: &AgentInfo) -> String {
    let mut o = String::with_capacity(4096 + books.workloads.len() * 512);
    family(
        &mut o,
        "ecotrace_agent_info",
        "gauge",
        "Constant 1, labelled with the agent's version, node name and grid zone.",
    );
    let _ = writeln!(
        o,
        "ecotrace_agent_info{{version=\"{}\",node=\"{}\",zone=\"{}\"}} 1",
        escape(&info.version),
        escape(&info.node),
        escape(&info.zone)
    );

    family(
        &mut o,
        "ecotrace_energy_joules_total",
        "counter",
        "IT energy drawn by each device since the agent started (before PUE).",
    );
    for d in &books.devices {
        let _ = writeln!(
            o,
            "ecotrace_energy_joules_total{{component=\"{}\",device=\"{}\",method=\"{}\"}} {}",
            d.info.component,
            escape(&d.info.device),
            d.info.method,
            num(d.energy.total())
        );
    }
    device_family(
        &mut o,
        books,
        "ecotrace_idle_energy_joules_total",
        "counter",
        "The part of ecotrace_energy_joules_total drawn at the device's idle power.",
        |d| d.energy.idle_j,
    );
    device_family(
        &mut o,
        books,
        "ecotrace_power_watts",
        "gauge",
        "Mean IT power of each device over the last interval.",
        |d| d.power_w,
    );
    device_family(
        &mut o,
        books,
        "ecotrace_idle_power_watts",
        "gauge",
        "Idle power of each device: its model's idle power, or the lowest interval power seen recently.",
        |d| d.idle_power_w,
    );

    family(
        &mut o,
        "ecotrace_workload_energy_joules_total",
        "counter",
        "IT energy charged to each workload, CPU, RAM and GPU together: its share of active power (share=\"active\") and, apart, of idle power (share=\"idle\"). CPU by busy CPU time, RAM by used memory, each GPU split equally among the workloads holding a context on it in the interval (not weighted by their process count). workload=\"unattributed\" is what no cgroup workload accounts for (GPUs without a context included); kind=\"run\" workloads lie inside cgroup workloads (do not add them to those) and carry no GPU energy.",
    );
    let mut un = Split::default();
    for s in &books.unattributed {
        un.active_j += s.active_j;
        un.idle_j += s.idle_j;
    }
    let un_grams = Split {
        active_j: books.grams(un.active_j),
        idle_j: books.grams(un.idle_j),
    };
    workload_split_family(
        &mut o,
        books,
        runs,
        "ecotrace_workload_energy_joules_total",
        WorkloadBook::energy,
        un,
    );
    family(
        &mut o,
        "ecotrace_workload_emissions_grams_total",
        "counter",
        "Operational CO2e of each workload's energy (x PUE x grid intensity), active and idle shares apart; workload=\"unattributed\" as in ecotrace_workload_energy_joules_total, so the cgroup workloads and it add up to ecotrace_emissions_grams_total (at a constant intensity).",
    );
    workload_split_family(
        &mut o,
        books,
        runs,
        "ecotrace_workload_emissions_grams_total",
        |w| w.grams,
        un_grams,
    );
    family(
        &mut o,
        "ecotrace_workload_running",
        "gauge",
        "1 while the workload has processes on this node, 0 once it has ended (its totals are kept); workload=\"unattributed\" is always 1.",
    );
    for (id, w) in books.workloads.iter().chain(&runs.workloads) {
        let _ = writeln!(
            o,
            "ecotrace_workload_running{{workload=\"{}\",kind=\"{}\"}} {}",
            escape(&id.name),
            id.kind.as_str(),
            u8::from(w.live)
        );
    }
    let _ = writeln!(
        o,
        "ecotrace_workload_running{{workload=\"{UNATTRIBUTED}\",kind=\"none\"}} 1"
    );

    family(
        &mut o,
        "ecotrace_emissions_grams_total",
        "counter",
        "Operational CO2e of the node's energy since the agent started: energy x PUE x grid intensity.",
    );
    let _ = writeln!(
        o,
        "ecotrace_emissions_grams_total {}",
        num(books.grams_total)
    );
    family(
        &mut o,
        "ecotrace_grid_intensity_grams_per_kwh",
        "gauge",
        "Grid carbon intensity used, grams CO2e per kWh.",
    );
    let _ = writeln!(
        o,
        "ecotrace_grid_intensity_grams_per_kwh {}",
        num(books.intensity_g_per_kwh)
    );
    family(
        &mut o,
        "ecotrace_pue_ratio",
        "gauge",
        "Power usage effectiveness used (facility energy / IT energy).",
    );
    let _ = writeln!(o, "ecotrace_pue_ratio {}", num(books.pue));
    family(
        &mut o,
        "ecotrace_agent_uptime_seconds",
        "gauge",
        "Time the agent has measured.",
    );
    let _ = writeln!(
        o,
        "ecotrace_agent_uptime_seconds {}",
        num(books.elapsed.as_secs_f64())
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("x\ny"), "x\\ny");
        assert_eq!(num(f64::NAN), "NaN");
        assert_eq!(num(1.5), "1.5");
    }
}
