//! Per-workload serving figures (`ecotrace agent --serving WORKLOAD=URL`): the agent reads a model
//! server's Prometheus endpoint (vLLM and TGI recognised, as `ecotrace serve` does, with the same
//! reader, counter-reset handling and completeness rule: [`ServerCounter`], [`CountHealth`])
//! every interval on a thread of its own, counts the requests and tokens it served, and exposes
//! them with the workload's energy per request and per 1,000 generated tokens. Counting starts at
//! the first answer; the energy divided is the workload's energy since then, so both cover the
//! same time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ecotrace_core::serving::{CountHealth, SourceRead, WorkCounts};
use ecotrace_sensors::scrape::{PrometheusSource, ServerCounter};

use crate::account::Books;
use crate::agent::{Shared, Stop};
use crate::exposition::{escape, num};

/// One server to count: the workload label its energy is booked under, and its metrics URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServingTarget {
    pub workload: String,
    pub url: String,
}

impl std::str::FromStr for ServingTarget {
    type Err = String;
    /// `WORKLOAD=URL`, e.g. `slurm:42=http://127.0.0.1:8000/metrics`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (w, url) = s.split_once('=').ok_or_else(|| {
            format!("{s:?}: give WORKLOAD=URL, e.g. slurm:42=http://127.0.0.1:8000/metrics")
        })?;
        if w.trim().is_empty() {
            return Err(format!("{s:?}: the workload label is empty"));
        }
        // The URL is checked now, so a typo fails at start, not silently every interval.
        PrometheusSource::new(url, None, Duration::from_secs(1)).map_err(|e| e.to_string())?;
        Ok(ServingTarget {
            workload: w.trim().to_string(),
            url: url.to_string(),
        })
    }
}

/// What has been counted for one target.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServingBook {
    pub work: WorkCounts,
    /// The workload's energy (J) when counting began; `None` before the first answer.
    pub energy_at_start_j: Option<f64>,
    /// Whether the counts are complete, by the rule `ecotrace serve` applies: reads that fail
    /// and recover without a server restart lose nothing (the counters are cumulative); a
    /// restart during failed reads loses their work; an outage makes them short while it lasts.
    pub health: CountHealth,
    /// Where the counts come from (`vllm metrics at URL`).
    pub source: String,
}

/// The energy (J, active and idle) booked to the workload named `name`, cgroup workloads first,
/// then registered runs.
pub(crate) fn workload_energy(books: &Books, runs: &Books, name: &str) -> Option<f64> {
    books
        .workloads
        .iter()
        .chain(&runs.workloads)
        .find(|(id, _)| id.name == name)
        .map(|(_, w)| w.energy().total())
}

/// Reads every target each `interval` until `stop`, booking into `shared`.
pub(crate) fn spawn(
    targets: Vec<ServingTarget>,
    interval: Duration,
    shared: Arc<Mutex<Shared>>,
    stop: Stop,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let timeout = interval.clamp(Duration::from_millis(100), Duration::from_secs(2));
    let mut readers: Vec<(ServingTarget, ServerCounter)> = targets
        .into_iter()
        .filter_map(|t| {
            let s = PrometheusSource::new(&t.url, None, timeout).ok()?;
            Some((t, ServerCounter::new(Box::new(s), false)))
        })
        .collect();
    std::thread::Builder::new()
        .name("ecotrace-serving".into())
        .spawn(move || loop {
            for (t, counter) in &mut readers {
                let (work, read) = counter.read();
                let mut sh = crate::agent::lock(&shared);
                let energy = workload_energy(&sh.books, &sh.runs, &t.workload);
                let b = sh.serving.entry(t.workload.clone()).or_default();
                book_read(b, work, read, energy, || counter.describe());
            }
            if stop.wait(interval) {
                break;
            }
        })
}

/// Books one read of a target's counter: counting starts at the first good read, with the
/// workload's energy then.
fn book_read(
    b: &mut ServingBook,
    work: WorkCounts,
    read: SourceRead,
    energy: Option<f64>,
    describe: impl FnOnce() -> String,
) {
    b.health.observe(read);
    if let SourceRead::Ok { .. } = read {
        if b.energy_at_start_j.is_none() {
            b.energy_at_start_j = Some(energy.unwrap_or(0.0));
            b.source = describe();
        }
        b.work += work;
    }
}

/// The serving families, after the others: counters of the work, the energy since counting
/// began, and its ratios to the work as gauges.
pub fn render(
    o: &mut String,
    serving: &BTreeMap<String, ServingBook>,
    books: &Books,
    runs: &Books,
) {
    if serving.is_empty() {
        return;
    }
    let rows: Vec<(String, &ServingBook, Option<f64>)> = serving
        .iter()
        .filter(|(_, b)| b.energy_at_start_j.is_some())
        .map(|(w, b)| {
            let e = workload_energy(books, runs, w)
                .map(|now| (now - b.energy_at_start_j.unwrap_or(0.0)).max(0.0));
            (escape(w), b, e)
        })
        .collect();
    let mut family = |name: &str,
                      kind: &str,
                      help: &str,
                      v: &dyn Fn(&ServingBook, Option<f64>) -> Option<f64>| {
        let _ = writeln!(o, "# HELP {name} {help}");
        let _ = writeln!(o, "# TYPE {name} {kind}");
        for (w, b, e) in &rows {
            if let Some(x) = v(b, *e) {
                let _ = writeln!(o, "{name}{{workload=\"{w}\"}} {}", num(x));
            }
        }
    };
    let per =
        |e: Option<f64>, n: u64, scale: f64| e.filter(|_| n > 0).map(|e| e * scale / n as f64);
    family(
        "ecotrace_serving_requests_total",
        "counter",
        "Requests the workload's model server completed since the agent began counting (its Prometheus endpoint, given with --serving WORKLOAD=URL).",
        &|b, _| Some(b.work.requests as f64),
    );
    family(
        "ecotrace_serving_prompt_tokens_total",
        "counter",
        "Prompt tokens the workload's model server read since the agent began counting.",
        &|b, _| Some(b.work.prompt_tokens as f64),
    );
    family(
        "ecotrace_serving_generated_tokens_total",
        "counter",
        "Tokens the workload's model server generated since the agent began counting.",
        &|b, _| Some(b.work.generated_tokens as f64),
    );
    family(
        "ecotrace_serving_energy_joules_total",
        "counter",
        "IT energy booked to the workload (active and idle shares) since the agent began counting its work; absent while no workload of that name is booked.",
        &|_, e| e,
    );
    family(
        "ecotrace_serving_energy_joules_per_request",
        "gauge",
        "ecotrace_serving_energy_joules_total divided by ecotrace_serving_requests_total (idle energy included); absent before the first request.",
        &|b, e| per(e, b.work.requests, 1.0),
    );
    family(
        "ecotrace_serving_energy_joules_per_1k_tokens",
        "gauge",
        "ecotrace_serving_energy_joules_total per 1,000 generated tokens (divide by 3600 for Wh); absent before the first token.",
        &|b, e| per(e, b.work.generated_tokens, 1000.0),
    );
    family(
        "ecotrace_serving_counts_complete",
        "gauge",
        "1 while the counts are complete; 0 while the server's metrics have not answered for 3 reads in a row, and for good once the server restarted during failed reads (the work since the last good read is lost). Reads that fail and recover without a restart lose nothing: the counters are cumulative.",
        &|b, _| Some(if b.health.complete() { 1.0 } else { 0.0 }),
    );
}
