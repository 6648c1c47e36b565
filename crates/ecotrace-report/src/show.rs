//! One run in full (`ecotrace show RUN_ID`): the summary, the run's details, and a summary of its
//! power samples with a text sparkline; and the same run as JSON.
//!
//! The samples are passed in by the caller (the ledger stores them apart from the record); this
//! module only summarises what it is given.

use std::fmt::Write as _;

use ecotrace_core::{ComponentKind, PowerSample, RunRecord};
use serde::Serialize;

use crate::summary::run_summary;
use crate::text::{duration, inline, num, push_wrapped, shell_join, utc_second, watts, width};

const COLS: usize = 80;
const LABEL: usize = 10;
/// Longest sparkline, in characters.
const SPARK_MAX: usize = 60;
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Mean and peak of one power series, in watts.
#[derive(Debug, Clone, Copy, PartialEq)]
struct MeanPeak {
    mean: f64,
    peak: f64,
}

/// Mean of `values`, each weighted by the length of the interval it covers (the time since the
/// previous sample; the first from t = 0). Falls back to the plain mean when the times do not
/// increase (e.g. all zero), so badly timed samples still give a figure.
fn mean_peak(samples: &[PowerSample], f: impl Fn(&PowerSample) -> f64) -> MeanPeak {
    let mut prev = 0.0;
    let mut weights = Vec::with_capacity(samples.len());
    let mut ok = true;
    for s in samples {
        let dt = s.t_s - prev;
        if !(dt.is_finite() && dt > 0.0) {
            ok = false;
        }
        weights.push(dt);
        prev = s.t_s;
    }
    let vals: Vec<f64> = samples.iter().map(&f).collect();
    let peak = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = if ok {
        let wsum: f64 = weights.iter().sum();
        vals.iter().zip(&weights).map(|(v, w)| v * w).sum::<f64>() / wsum
    } else {
        vals.iter().sum::<f64>() / vals.len() as f64
    };
    MeanPeak { mean, peak }
}

/// Total power over time, averaged into at most [`SPARK_MAX`] buckets of consecutive samples and
/// drawn with block characters on a scale from 0 W to the highest bucket.
fn sparkline(samples: &[PowerSample]) -> (String, f64) {
    let n = samples.len().min(SPARK_MAX);
    if n == 0 {
        return (String::new(), 0.0);
    }
    let buckets: Vec<f64> = (0..n)
        .map(|i| {
            let (a, b) = (i * samples.len() / n, (i + 1) * samples.len() / n);
            let part = &samples[a..b];
            part.iter().map(|s| s.total().watts()).sum::<f64>() / part.len() as f64
        })
        .collect();
    let top = buckets.iter().copied().fold(0.0, f64::max);
    let line = buckets
        .iter()
        .map(|&v| {
            if top > 0.0 && v.is_finite() {
                let i = ((v.max(0.0) / top) * (BARS.len() - 1) as f64).round() as usize;
                BARS[i.min(BARS.len() - 1)]
            } else {
                BARS[0]
            }
        })
        .collect();
    (line, top)
}

/// Reads one kind's power (W) from a sample.
type Series = fn(&PowerSample) -> f64;

fn detail(out: &mut String, label: &str, text: &str) {
    push_wrapped(out, &format!("{label:<LABEL$}"), &inline(text), LABEL, COLS);
}

fn samples_section(out: &mut String, r: &RunRecord, samples: &[PowerSample]) {
    if samples.is_empty() {
        if r.samples.count > 0 {
            let _ = writeln!(
                out,
                "power samples: {} stored (not loaded), mean {}, peak {}",
                r.samples.count,
                watts(r.samples.mean_power_w.watts()),
                watts(r.samples.peak_power_w.watts()),
            );
        } else {
            out.push_str("power samples: none stored\n");
        }
        return;
    }
    let span = samples.last().map(|s| s.t_s).unwrap_or(0.0);
    let _ = writeln!(
        out,
        "power samples: {} over {} (mean weighted by interval)",
        samples.len(),
        duration(std::time::Duration::try_from_secs_f64(span).unwrap_or_default()),
    );
    let has = |k: ComponentKind, f: Series| {
        r.components.iter().any(|c| c.component == k) || samples.iter().any(|s| f(s) != 0.0)
    };
    let mut rows: Vec<(&str, MeanPeak)> =
        vec![("total", mean_peak(samples, |s| s.total().watts()))];
    let series: [(&str, ComponentKind, Series); 3] = [
        ("cpu", ComponentKind::Cpu, |s| s.cpu_w.watts()),
        ("gpu", ComponentKind::Gpu, |s| s.gpu_w.watts()),
        ("ram", ComponentKind::Ram, |s| s.ram_w.watts()),
    ];
    for (name, kind, f) in series {
        if has(kind, f) {
            rows.push((name, mean_peak(samples, f)));
        }
    }
    let cells: Vec<(String, String)> = rows
        .iter()
        .map(|(_, mp)| (watts(mp.mean), watts(mp.peak)))
        .collect();
    let mw = cells.iter().map(|c| width(&c.0)).max().unwrap_or(0);
    let pw = cells.iter().map(|c| width(&c.1)).max().unwrap_or(0);
    for ((name, _), (mean, peak)) in rows.iter().zip(&cells) {
        let _ = writeln!(out, "  {name:<5}  mean {mean:>mw$}  peak {peak:>pw$}");
    }
    let (line, top) = sparkline(samples);
    let per_char = span / line.chars().count() as f64;
    let _ = writeln!(out, "  {line}");
    let step = if per_char.is_finite() && per_char > 0.0 {
        format!("the mean over {} s", num(per_char))
    } else {
        "one sample".to_string()
    };
    let _ = writeln!(
        out,
        "  total power: each character {step}; a full block is {}",
        watts(top)
    );
}

/// Everything about one run: the [`run_summary`] and its operational CO2e as everyday equivalents
/// (with sources), then id, project, phase, scope, command, tags,
/// times, host, tracker and metrics, then a summary of `samples` (count, mean and peak of total and
/// per-component power, a sparkline of total power). With no samples it says how many the record
/// reports.
pub fn show_run(r: &RunRecord, samples: &[PowerSample]) -> String {
    let mut out = run_summary(r);
    out.push_str(&crate::figures::equivalents_text(r.operational.kg(), false));
    out.push('\n');
    detail(&mut out, "id", &r.id);
    detail(
        &mut out,
        "project",
        &format!("{}  phase {}  scope {}", r.project, r.phase, r.scope),
    );
    detail(&mut out, "command", &shell_join(&r.command));
    if !r.tags.is_empty() {
        let tags = r
            .tags
            .iter()
            .map(|(k, v)| {
                let plain = !v.is_empty() && !v.contains([' ', ',', '"', '=', '\\']);
                if plain {
                    format!("{k}={v}")
                } else {
                    format!("{k}={v:?}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        detail(&mut out, "tags", &tags);
    }
    detail(&mut out, "started", &utc_second(r.started_at));
    detail(
        &mut out,
        "ended",
        &r.ended_at
            .map(utc_second)
            .unwrap_or_else(|| "not yet".to_string()),
    );
    let h = &r.host;
    let mut host = vec![if h.hostname.is_empty() {
        "unknown host".to_string()
    } else {
        h.hostname.clone()
    }];
    if !h.os.is_empty() {
        host.push(h.os.clone());
    }
    if h.cpu_count > 0 {
        host.push(format!("{} CPUs", h.cpu_count));
    }
    if h.memory_gb > 0.0 {
        host.push(format!("{} GB memory", num(h.memory_gb)));
    }
    detail(&mut out, "host", &host.join(", "));
    if !h.cpu_model.is_empty() {
        detail(&mut out, "cpu", &h.cpu_model);
    }
    let mut gpus: Vec<(String, usize)> = Vec::new();
    for g in &h.gpus {
        match gpus.iter_mut().find(|(n, _)| n == g) {
            Some((_, c)) => *c += 1,
            None => gpus.push((g.clone(), 1)),
        }
    }
    let gpus = gpus
        .iter()
        .map(|(n, c)| {
            if *c > 1 {
                format!("{c} x {n}")
            } else {
                n.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    detail(
        &mut out,
        "gpus",
        if gpus.is_empty() { "none" } else { &gpus },
    );
    detail(
        &mut out,
        "tracker",
        &format!(
            "ecotrace {}, interval {}, pid {}",
            r.tracker.version,
            duration(r.tracker.interval_s),
            r.tracker.pid
        ),
    );
    if !r.metrics.is_empty() {
        let m = r
            .metrics
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        detail(&mut out, "metrics", &m);
    }
    out.push('\n');
    samples_section(&mut out, r, samples);
    out
}

#[derive(Serialize)]
struct WithSamples<'a> {
    #[serde(flatten)]
    record: &'a RunRecord,
    power_samples: &'a [PowerSample],
}

/// The record as pretty-printed JSON, the same shape as `run --json`. With `Some(samples)` the
/// power samples are added under `power_samples` (a list of `{t_s, cpu_w, gpu_w, ram_w}`); the
/// record still reads back as a `RunRecord`. With `None` only the record's `samples` summary is
/// there.
pub fn show_json(r: &RunRecord, samples: Option<&[PowerSample]>) -> String {
    let mut s = match samples {
        None => serde_json::to_string_pretty(r),
        Some(s) => serde_json::to_string_pretty(&WithSamples {
            record: r,
            power_samples: s,
        }),
    }
    .expect("run records have string keys");
    s.push('\n');
    s
}
