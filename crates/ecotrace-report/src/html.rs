//! HTML reports: one self-contained page for a run (`show --format html`) or for a set of runs
//! (`report --format html`), with charts drawn by [`crate::svg`].
//!
//! A page is a single file: inline CSS, inline SVG, no scripts, no fonts, images or links to fetch
//! (a Content-Security-Policy of `default-src 'none'` makes the browser refuse any that slipped in).
//! It reads on a phone (fluid grid, scrolling tables) and in print (a print stylesheet). Every
//! number carries its unit; equivalents are shown beside the real figures, never instead of them.
//! All text from records is escaped with [`esc`]. This module must not do I/O or read the clock:
//! the same input gives the same page.

use std::fmt::Write as _;

use ecotrace_core::serving::HourTotal;
use ecotrace_core::{ComponentKind, PowerSample, RunRecord};

use crate::aggregate::GroupBy;
use crate::figures::{self, Partial, Totals, Week};
use crate::runset::{MetricPlot, RunSet};
use crate::summary::status_line;
use crate::svg::{self, colour, Dot, Series};
use crate::text::{
    co2, duration, energy, num, shell_join, short_id, utc_minute, utc_second, water, watts,
};

/// Escapes text for HTML element content and quoted attribute values: `&`, `<`, `>`, `"`, `'`.
/// Control characters other than tab and newline become U+FFFD, so no record text can end an
/// element, open a tag or break out of an attribute.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Longest power series drawn; longer runs are averaged into this many points (the ledger keeps
/// every sample).
pub const MAX_CHART_POINTS: usize = 600;
/// Most runs listed in the runs table of a report page (the newest ones); the charts and totals
/// use every run.
pub const MAX_LISTED_RUNS: usize = 200;
/// Most points drawn in the metric scatter: beyond it the front is always drawn and the other runs
/// are thinned evenly (the caption says so).
pub const MAX_SCATTER_POINTS: usize = 5000;

/// What a report page is about, and what it should plot.
#[derive(Debug, Clone, Default)]
pub struct HtmlOptions<'a> {
    /// Title of the page, e.g. `project vision` (`all runs` when `None`).
    pub subject: Option<&'a str>,
    /// The grouping of the summary table.
    pub group_by: Option<GroupBy>,
    /// Metric to set against CO2e (`--metric`); default: `val_accuracy` or the most logged one.
    pub metric: Option<&'a str>,
    /// The hourly rows of the serving runs among them, summed by hour (energy per 1,000 tokens
    /// over time and against the request rate are drawn from them); empty: no serving section.
    pub hours: &'a [HourTotal],
    /// Runs charged hour by hour (the newest few), each drawn over the grid's intensity with what
    /// the best start within ±12 h would have saved.
    pub run_grids: &'a [crate::grid::RunGrid],
}

const CSS: &str = r#"
:root{color-scheme:light;--fg:#1b1b1b;--muted:#5a5a5a;--line:#d8d8d8;--card:#f6f7f8;--accent:#D55E00}
*{box-sizing:border-box}
body{margin:0;padding:1rem;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:#fff}
main{max-width:72rem;margin:0 auto}
h1{font-size:1.5rem;margin:.2rem 0 .3rem;overflow-wrap:anywhere}
h2{font-size:1.15rem;margin:1.6rem 0 .5rem;border-bottom:1px solid var(--line);padding-bottom:.2rem}
p,li{overflow-wrap:anywhere}
.muted{color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));gap:.6rem;margin:.8rem 0}
.card{background:var(--card);border-radius:.4rem;padding:.6rem .8rem}
.card .k{font-size:.8rem;color:var(--muted)}
.card .v{font-size:1.25rem;font-weight:600}
.card .n{font-size:.78rem;color:var(--muted)}
.equiv{border-left:4px solid var(--accent);padding:.3rem .8rem;background:#fff8f3}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,26rem),1fr));gap:1rem}
figure{margin:0;break-inside:avoid;page-break-inside:avoid}
figcaption{font-size:.85rem;color:var(--muted);margin-top:.2rem}
svg.chart{width:100%;max-width:46rem;height:auto;display:block;background:#fff}
.legend{font-size:.85rem;display:flex;flex-wrap:wrap;gap:.3rem .9rem;margin:.2rem 0}
.sw{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;vertical-align:-1px;margin-right:.3rem}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;font-size:.88rem;min-width:100%}
th,td{border-bottom:1px solid var(--line);padding:.25rem .5rem;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tfoot td{font-weight:600;border-top:2px solid var(--fg)}
code{font-size:.85em;overflow-wrap:anywhere}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
footer{margin-top:2rem;font-size:.8rem;color:var(--muted)}
@media (max-width:40rem){body{padding:.6rem;font-size:15px}dl{grid-template-columns:1fr}dt{margin-top:.4rem}}
@media print{
 @page{margin:14mm}
 body{padding:0;font-size:10.5pt}
 main{max-width:none}
 .charts{grid-template-columns:1fr 1fr}
 .card{border:1px solid #999;background:none}
 .equiv{background:none}
 .scroll{overflow:visible}
 h2{break-after:avoid;page-break-after:avoid}
 tr{break-inside:avoid}
 details>summary{list-style:none}
}
"#;

fn page(title: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + CSS.len() + 600);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n",
    );
    out.push_str("<meta name=\"generator\" content=\"ecotrace\">\n");
    let _ = writeln!(out, "<title>{}</title>", esc(title));
    out.push_str("<style>");
    out.push_str(CSS);
    out.push_str("</style>\n</head>\n<body>\n<main>\n");
    out.push_str(body);
    out.push_str("<footer>Made with ecotrace. Energy is IT energy (before PUE) unless a label says otherwise; CO2e is location-based. Equivalents illustrate a figure, they do not replace it.</footer>\n");
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn card(out: &mut String, key: &str, value: &str, note: &str) {
    let _ = write!(
        out,
        "<div class=\"card\"><div class=\"k\">{}</div><div class=\"v\">{}</div>",
        esc(key),
        esc(value)
    );
    if !note.is_empty() {
        let _ = write!(out, "<div class=\"n\">{}</div>", esc(note));
    }
    out.push_str("</div>");
}

fn legend(out: &mut String, items: &[(&str, &str)]) {
    out.push_str("<div class=\"legend\">");
    for (name, c) in items {
        let _ = write!(
            out,
            "<span><span class=\"sw\" style=\"background:{c}\"></span>{}</span>",
            esc(name)
        );
    }
    out.push_str("</div>");
}

pub(crate) fn figure(out: &mut String, svg: &str, legend_items: &[(&str, &str)], caption: &str) {
    out.push_str("<figure>");
    out.push_str(svg);
    if !legend_items.is_empty() {
        legend(out, legend_items);
    }
    let _ = writeln!(out, "<figcaption>{}</figcaption></figure>", esc(caption));
}

/// `12.3 kgCO2e (4 of 5 runs assessed)` or `not assessed`.
fn partial_text(p: &Partial, runs: usize, fmt: impl Fn(f64) -> String) -> (String, String) {
    match p.value() {
        None => ("not assessed".to_string(), String::new()),
        Some(v) if p.known == runs => (fmt(v), String::new()),
        Some(v) => (fmt(v), format!("{} of {runs} runs assessed", p.known)),
    }
}

fn usd(v: f64) -> String {
    format!("{v:.2} USD")
}

fn litres(v: f64) -> String {
    water(v)
}

/// The headline cards of a set of runs (one run is a set of one).
fn cards(out: &mut String, t: &Totals) {
    out.push_str("<div class=\"cards\">");
    card(
        out,
        "IT energy",
        &energy(t.energy.total.kwh()),
        &format!(
            "CPU {} · GPU {} · RAM {}",
            energy(t.energy.cpu.kwh()),
            energy(t.energy.gpu.kwh()),
            energy(t.energy.ram.kwh())
        ),
    );
    card(
        out,
        "Operational CO2e",
        &co2(t.operational_kg),
        "IT energy × PUE × grid intensity",
    );
    let (v, n) = partial_text(&t.embodied_kg, t.runs, co2);
    card(
        out,
        "Embodied CO2e",
        &v,
        if n.is_empty() {
            "hardware manufacturing share; not included above"
        } else {
            &n
        },
    );
    let (v, n) = partial_text(&t.water_l, t.runs, litres);
    card(out, "Water", &v, &n);
    let (v, n) = partial_text(&t.cost_usd, t.runs, usd);
    card(out, "Cost", &v, &n);
    card(
        out,
        "Duration",
        &duration(t.duration),
        &if t.gpu_hours > 0.0 {
            format!("{} GPU-hours", num(t.gpu_hours))
        } else {
            format!("{} CPU device-hours", num(t.cpu_hours))
        },
    );
    out.push_str("</div>\n");
}

fn equivalents_block(out: &mut String, t: &Totals) {
    let mut lines = vec![format!(
        "Operational CO2e of {} is about {}.",
        co2(t.operational_kg),
        figures::equivalents(t.operational_kg).join(", or ")
    )];
    if let Some(kg) = t.embodied_kg.value() {
        lines.push(format!(
            "Embodied CO2e of {} is about {}.",
            co2(kg),
            figures::equivalents(kg).join(", or ")
        ));
    }
    out.push_str("<div class=\"equiv\">");
    for l in lines {
        let _ = write!(out, "<p>{}</p>", esc(&l));
    }
    out.push_str("<details><summary class=\"muted\">Sources of the equivalents</summary><ul class=\"muted\">");
    for e in ecotrace_data::equivalents() {
        let _ = write!(
            out,
            "<li>{} {}: {} kgCO2e per {} — {} (licence: {})</li>",
            esc(&e.unit),
            esc(&e.label),
            e.kg_co2e_per_unit,
            esc(e.unit.trim_end_matches('s')),
            esc(&e.source),
            esc(&e.license)
        );
    }
    out.push_str("</ul></details></div>\n");
}

/// Reads one component kind's power (W) from a sample.
type Reading = fn(&PowerSample) -> f64;

/// Power over time stacked by component (CPU, GPU, RAM), from the stored samples, averaged down
/// to at most [`MAX_CHART_POINTS`] points.
fn power_chart(out: &mut String, r: &RunRecord, samples: &[PowerSample]) {
    if samples.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"muted\">No power samples stored for this run ({} reported by the record).</p>",
            r.samples.count
        );
        return;
    }
    let pts = figures::downsample(samples, MAX_CHART_POINTS);
    let span = pts.last().map(|s| s.t_s).unwrap_or(0.0);
    let (ticks, unit) = svg::time_ticks(span);
    let xs: Vec<f64> = pts.iter().map(|s| s.t_s).collect();
    let has = |k: ComponentKind, f: Reading| {
        r.components.iter().any(|c| c.component == k) || pts.iter().any(|s| f(s) != 0.0)
    };
    let mut series = Vec::new();
    let mut items = Vec::new();
    let kinds: [(&str, &str, ComponentKind, Reading); 3] = [
        ("CPU", colour::CPU, ComponentKind::Cpu, |s| s.cpu_w.watts()),
        ("GPU", colour::GPU, ComponentKind::Gpu, |s| s.gpu_w.watts()),
        ("RAM", colour::RAM, ComponentKind::Ram, |s| s.ram_w.watts()),
    ];
    for (name, c, kind, f) in kinds {
        if has(kind, f) {
            series.push(Series {
                name,
                colour: c,
                values: pts.iter().map(|s| Some(f(s))).collect(),
            });
            items.push((name, c));
        }
    }
    let svg = svg::stacked_area(
        "IT power over time by component",
        &xs,
        &series,
        &ticks,
        &format!("time since start ({unit})"),
        "power (W)",
    );
    let caption = if pts.len() < samples.len() {
        format!(
            "IT power by component, stacked (W). {} samples averaged into {} points for drawing; the ledger keeps them all.",
            samples.len(),
            pts.len()
        )
    } else {
        format!(
            "IT power by component, stacked (W), {} samples.",
            samples.len()
        )
    };
    figure(out, &svg, &items, &caption);
}

fn dl(out: &mut String, rows: &[(&str, String)]) {
    out.push_str("<dl>");
    for (k, v) in rows {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
    }
    out.push_str("</dl>\n");
}

/// One run as a page: headline figures, equivalents, power over time by component, the energy of
/// each device with its method, and how every figure was obtained.
pub fn run_html(r: &RunRecord, samples: &[PowerSample]) -> String {
    run_page(r, samples, &[], None)
}

/// [`run_html`] with the run's hourly rows (a serving run): energy per 1,000 generated tokens by
/// hour and against the request rate, after the power chart; and, for a run charged hour by hour,
/// the grid's hourly intensity around it.
pub fn run_page(
    r: &RunRecord,
    samples: &[PowerSample],
    hours: &[HourTotal],
    grid: Option<&crate::grid::GridHours>,
) -> String {
    let mut b = String::new();
    let t = Totals::of(std::slice::from_ref(r));
    let _ = writeln!(
        b,
        "<h1>Run {} <span class=\"muted\">· {} · {}</span></h1>",
        esc(&short_id(&r.id)),
        esc(&r.project),
        esc(r.phase.as_str())
    );
    let _ = writeln!(
        b,
        "<p>{}; started {}.</p>",
        esc(&status_line(r)),
        esc(&utc_second(r.started_at))
    );
    cards(&mut b, &t);
    equivalents_block(&mut b, &t);

    b.push_str("<h2>Power over time</h2>\n");
    power_chart(&mut b, r, samples);
    serving_charts(&mut b, hours);
    if let Some(g) = grid {
        crate::grid::grid_html(&mut b, r, samples, g, "Grid intensity over the run");
    }

    b.push_str("<h2>Energy by device</h2>\n<div class=\"scroll\"><table><thead><tr><th>device</th><th>kind</th><th class=\"n\">energy</th><th class=\"n\">mean power (W)</th><th class=\"n\">peak power (W)</th><th>method</th><th>where the figure comes from</th></tr></thead><tbody>");
    for c in &r.components {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.device),
            c.component,
            energy(c.energy.kwh()),
            esc(watts(c.mean_power.watts()).trim_end_matches(" W")),
            esc(watts(c.peak_power.watts()).trim_end_matches(" W")),
            c.method,
            esc(&c.note)
        );
    }
    if r.components.is_empty() {
        b.push_str("<tr><td colspan=\"7\">none measured</td></tr>");
    }
    b.push_str("</tbody></table></div>\n");

    if !r.embodied_items.is_empty() {
        b.push_str("<h2>Embodied carbon</h2>\n<div class=\"scroll\"><table><thead><tr><th>device</th><th>hardware</th><th class=\"n\">device</th><th class=\"n\">lifetime (years)</th><th class=\"n\">share</th><th class=\"n\">charged</th><th>source</th></tr></thead><tbody>");
        for e in &r.embodied_items {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}{}</td></tr>",
                esc(&e.device),
                esc(&e.hardware),
                co2(e.device_embodied.kg()),
                num(e.lifetime.years()),
                num(e.share.value()),
                co2(e.charged.kg()),
                esc(&e.source),
                if e.estimated { " (estimated)" } else { "" }
            );
        }
        b.push_str("</tbody></table></div>\n");
    }

    b.push_str("<h2>How the figures were obtained</h2>\n");
    let pue = if r.pue.source.is_empty() {
        format!("{:.2}", r.pue.value.value())
    } else {
        format!("{:.2} — {}", r.pue.value.value(), r.pue.source)
    };
    let mut rows: Vec<(&str, String)> = vec![
        ("run id", r.id.clone()),
        ("command", shell_join(&r.command)),
        ("scope", r.scope.to_string()),
        ("started", utc_second(r.started_at)),
        (
            "ended",
            r.ended_at
                .map(utc_second)
                .unwrap_or_else(|| "not yet".to_string()),
        ),
        ("hardware", figures::machine_name(r)),
        ("host", r.host.hostname.clone()),
        ("PUE", pue),
        (
            "grid intensity",
            format!(
                "{} gCO2e/kWh — {}",
                num(r.intensity.value.g_per_kwh()),
                figures::intensity_source(r)
            ),
        ),
        (
            "operational CO2e",
            format!(
                "{} = {} × PUE {:.2} × {} gCO2e/kWh",
                co2(r.operational.kg()),
                energy(r.energy_kwh.total.kwh()),
                r.pue.value.value(),
                num(r.intensity.value.g_per_kwh())
            ),
        ),
    ];
    if let Some(w) = &r.water_used {
        rows.push((
            "water",
            format!(
                "on-site {} (WUE {} L/kWh, {}) + off-site {} ({} L/kWh, {})",
                litres(w.onsite.litres()),
                num(w.wue.l_per_kwh()),
                w.wue_source,
                litres(w.offsite.litres()),
                num(w.offsite_factor.l_per_kwh()),
                w.offsite_source
            ),
        ));
    }
    if let Some(c) = &r.cost_used {
        rows.push(("cost basis", format!("{} — {}", c.basis, c.source)));
    }
    if !r.tags.is_empty() {
        rows.push((
            "tags",
            r.tags
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    if !r.metrics.is_empty() {
        rows.push((
            "metrics",
            r.metrics
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    rows.push((
        "tracker",
        format!(
            "{}, interval {}",
            r.tracker.version,
            duration(r.tracker.interval_s)
        ),
    ));
    if let Some(e) = &r.error {
        rows.push(("error", e.clone()));
    }
    dl(&mut b, &rows);
    if !r.notes.is_empty() {
        b.push_str("<h2>Notes</h2>\n<ul>");
        for n in &r.notes {
            let _ = write!(b, "<li>{}</li>", esc(n));
        }
        b.push_str("</ul>\n");
    }
    page(
        &format!("ecotrace run {} ({})", short_id(&r.id), r.project),
        &b,
    )
}

fn phase_charts(out: &mut String, phases: &[(ecotrace_core::Phase, Totals)]) {
    let cats: Vec<String> = phases.iter().map(|(p, _)| p.as_str().to_string()).collect();
    let energy = [
        ("CPU", colour::CPU, 0usize),
        ("GPU", colour::GPU, 1),
        ("RAM", colour::RAM, 2),
    ];
    let series: Vec<Series> = energy
        .iter()
        .map(|(name, c, k)| Series {
            name,
            colour: c,
            values: phases
                .iter()
                .map(|(_, t)| {
                    Some(match k {
                        0 => t.energy.cpu.kwh(),
                        1 => t.energy.gpu.kwh(),
                        _ => t.energy.ram.kwh(),
                    })
                })
                .collect(),
        })
        .collect();
    let svg = svg::bars(
        "IT energy by phase and component",
        &cats,
        &series,
        true,
        "phase",
        "IT energy (kWh)",
    );
    figure(
        out,
        &svg,
        &[
            ("CPU", colour::CPU),
            ("GPU", colour::GPU),
            ("RAM", colour::RAM),
        ],
        "IT energy by life-cycle phase, stacked by component (kWh, before PUE).",
    );
    let any_embodied = phases.iter().any(|(_, t)| t.embodied_kg.known > 0);
    let mut series = vec![Series {
        name: "operational",
        colour: colour::OPERATIONAL,
        values: phases.iter().map(|(_, t)| Some(t.operational_kg)).collect(),
    }];
    if any_embodied {
        series.push(Series {
            name: "embodied",
            colour: colour::EMBODIED,
            values: phases.iter().map(|(_, t)| t.embodied_kg.value()).collect(),
        });
    }
    let svg = svg::bars(
        "CO2e by phase: operational and embodied side by side",
        &cats,
        &series,
        false,
        "phase",
        "kgCO2e",
    );
    let caption = if any_embodied {
        "CO2e by phase (kg): operational and embodied side by side, not added together."
    } else {
        "Operational CO2e by phase (kg). Embodied carbon was not assessed for these runs."
    };
    figure(
        out,
        &svg,
        if any_embodied {
            &[
                ("operational", colour::OPERATIONAL),
                ("embodied", colour::EMBODIED),
            ]
        } else {
            &[("operational", colour::OPERATIONAL)]
        },
        caption,
    );
}

fn operational_vs_embodied(out: &mut String, t: &Totals) {
    let Some(emb) = t.embodied_kg.value() else {
        out.push_str("<figure><p class=\"muted\">Operational vs embodied: embodied (manufacturing) carbon was not assessed for these runs, so only operational CO2e is reported. Runs recorded with a hardware catalog carry it.</p></figure>\n");
        return;
    };
    let cats = vec![
        "operational".to_string(),
        format!(
            "embodied{}",
            if t.embodied_kg.known < t.runs {
                format!(" ({} of {} runs)", t.embodied_kg.known, t.runs)
            } else {
                String::new()
            }
        ),
    ];
    let series = vec![
        Series {
            name: "operational",
            colour: colour::OPERATIONAL,
            values: vec![Some(t.operational_kg), None],
        },
        Series {
            name: "embodied",
            colour: colour::EMBODIED,
            values: vec![None, Some(emb)],
        },
    ];
    let svg = svg::bars(
        "Operational vs embodied CO2e",
        &cats,
        &series,
        true,
        "",
        "kgCO2e",
    );
    figure(
        out,
        &svg,
        &[
            ("operational", colour::OPERATIONAL),
            ("embodied", colour::EMBODIED),
        ],
        &format!(
            "Total operational CO2e {} and embodied CO2e {}, shown apart (kg).",
            co2(t.operational_kg),
            co2(emb)
        ),
    );
}

fn metric_chart(out: &mut String, plot: Option<&MetricPlot>) {
    let Some(plot) = plot else {
        out.push_str("<figure><p class=\"muted\">Metric against CO2e: no run logged a metric (log one, e.g. <code>val_accuracy</code>, with the run to see which model is cheapest for a good-enough result).</p></figure>\n");
        return;
    };
    let metric = &plot.name;
    let higher = plot.higher;
    let pts = &plot.marked;
    if pts.is_empty() {
        let _ = writeln!(
            out,
            "<figure><p class=\"muted\">Metric against CO2e: no run logged the metric <code>{}</code>.</p></figure>",
            esc(metric)
        );
        return;
    }
    let shown: Vec<&figures::Point> = if pts.len() > MAX_SCATTER_POINTS {
        let others = pts.iter().filter(|p| !p.front).count();
        let budget = MAX_SCATTER_POINTS.saturating_sub(pts.len() - others).max(1);
        let mut i = 0usize;
        pts.iter()
            .filter(|p| {
                if p.front {
                    return true;
                }
                i += 1;
                (i * budget) / others != ((i - 1) * budget) / others
            })
            .collect()
    } else {
        pts.iter().collect()
    };
    let dots: Vec<Dot> = shown
        .iter()
        .map(|p| {
            let r = &plot.kept[p.run];
            Dot {
                x: p.kg,
                y: p.metric,
                front: p.front,
                tip: format!(
                    "run {} ({}): {} = {}, {}",
                    r.id,
                    r.project,
                    metric,
                    p.metric,
                    co2(p.kg)
                ),
            }
        })
        .collect();
    let svg = svg::scatter(
        &format!("{metric} against operational CO2e per run"),
        &dots,
        "operational CO2e per run (kg)",
        metric,
        false,
    );
    let front = pts.iter().filter(|p| p.front).count();
    let mut caption = format!(
        "{} against operational CO2e, one point per run that logged it ({} runs). The {} runs in black form the Pareto front: none of the others is as good ({} is better) for as little CO2e.",
        metric,
        plot.runs,
        front,
        if higher { "higher" } else { "lower" }
    );
    if shown.len() < plot.runs {
        let _ = write!(
            caption,
            " {} of {} runs drawn (the front always, the rest thinned evenly).",
            shown.len(),
            plot.runs
        );
    }
    figure(
        out,
        &svg,
        &[("run", colour::POINT), ("Pareto front", colour::FRONT)],
        &caption,
    );
    // The front as a table: the cheapest good-enough runs by name.
    out.push_str("<details><summary>Runs on the Pareto front</summary><div class=\"scroll\"><table><thead><tr><th>run</th><th>project</th><th>phase</th>");
    let _ = write!(
        out,
        "<th class=\"n\">{}</th><th class=\"n\">operational CO2e</th></tr></thead><tbody>",
        esc(metric)
    );
    for p in pts.iter().filter(|p| p.front) {
        let r = &plot.kept[p.run];
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&r.id),
            esc(&r.project),
            r.phase,
            p.metric,
            co2(p.kg)
        );
    }
    out.push_str("</tbody></table></div></details>\n");
}

fn trend_charts(out: &mut String, weeks: &[Week]) {
    if weeks.is_empty() {
        return;
    }
    let cats: Vec<String> = weeks.iter().map(|w| w.label()).collect();
    let any_embodied = weeks.iter().any(|w| w.totals.embodied_kg.known > 0);
    let mut total = vec![Series {
        name: "operational",
        colour: colour::OPERATIONAL,
        values: weeks
            .iter()
            .map(|w| Some(w.totals.operational_kg))
            .collect(),
    }];
    let mut avg = vec![Series {
        name: "operational",
        colour: colour::OPERATIONAL,
        values: weeks
            .iter()
            .map(|w| (w.totals.runs > 0).then(|| w.totals.operational_kg / w.totals.runs as f64))
            .collect(),
    }];
    if any_embodied {
        total.push(Series {
            name: "embodied",
            colour: colour::EMBODIED,
            values: weeks.iter().map(|w| w.totals.embodied_kg.value()).collect(),
        });
        avg.push(Series {
            name: "embodied",
            colour: colour::EMBODIED,
            values: weeks
                .iter()
                .map(|w| {
                    let e = &w.totals.embodied_kg;
                    (e.known > 0).then(|| e.sum / e.known as f64)
                })
                .collect(),
        });
    }
    let items: &[(&str, &str)] = if any_embodied {
        &[
            ("operational", colour::OPERATIONAL),
            ("embodied", colour::EMBODIED),
        ]
    } else {
        &[("operational", colour::OPERATIONAL)]
    };
    let svg = svg::lines(
        "Average CO2e per run by week",
        &cats,
        &avg,
        "ISO week (UTC)",
        "kgCO2e per run",
    );
    figure(
        out,
        &svg,
        items,
        "Average CO2e per run, by week (kg). A falling line beside a rising total is the rebound effect: each run got cheaper, but more of them were run.",
    );
    let svg = svg::bars(
        "Total CO2e by week",
        &cats,
        &total,
        false,
        "ISO week (UTC)",
        "kgCO2e",
    );
    let mut caption = "Total CO2e of all runs started in each week (kg)".to_string();
    if any_embodied {
        caption.push_str(", operational and embodied side by side");
    }
    caption.push('.');
    if weeks.len() >= figures::MAX_WEEKS {
        let _ = write!(caption, " The last {} weeks are shown.", figures::MAX_WEEKS);
    }
    figure(out, &svg, items, &caption);
    // Runs per week, as numbers a reader can check.
    out.push_str("<details><summary>Weekly figures</summary><div class=\"scroll\"><table><thead><tr><th>week</th><th class=\"n\">runs</th><th class=\"n\">operational CO2e</th><th class=\"n\">CO2e per run</th></tr></thead><tbody>");
    for w in weeks {
        let t = &w.totals;
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            w.label(),
            t.runs,
            co2(t.operational_kg),
            if t.runs > 0 {
                co2(t.operational_kg / t.runs as f64)
            } else {
                "–".to_string()
            }
        );
    }
    out.push_str("</tbody></table></div></details>\n");
}

fn groups_table(out: &mut String, set: &RunSet) {
    let emb_known = set.total.embodied_runs > 0;
    let _ = write!(
        out,
        "<div class=\"scroll\"><table><thead><tr><th>{}</th><th class=\"n\">runs</th><th class=\"n\">failed</th><th class=\"n\">duration</th><th class=\"n\">cpu energy</th><th class=\"n\">gpu energy</th><th class=\"n\">ram energy</th><th class=\"n\">total energy</th><th class=\"n\">operational CO2e</th>{}</tr></thead><tbody>",
        set.by.as_str(),
        if emb_known {
            "<th class=\"n\">embodied CO2e</th>"
        } else {
            ""
        }
    );
    let row = |out: &mut String, g: &crate::Group, key: &str| {
        let _ = write!(
            out,
            "<td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
            esc(key),
            g.runs,
            g.failed_runs,
            duration(g.duration),
            energy(g.energy.cpu.kwh()),
            energy(g.energy.gpu.kwh()),
            energy(g.energy.ram.kwh()),
            energy(g.energy.total.kwh()),
            co2(g.operational.kg())
        );
        if emb_known {
            let embodied = Partial {
                sum: g.embodied.kg(),
                known: g.embodied_runs,
            };
            let _ = write!(
                out,
                "<td class=\"n\">{}</td>",
                embodied.value().map(co2).unwrap_or_else(|| "–".to_string())
            );
        }
    };
    for g in &set.groups {
        out.push_str("<tr>");
        row(out, g, &g.key);
        out.push_str("</tr>");
    }
    out.push_str("</tbody><tfoot><tr>");
    row(out, &set.total, "total");
    out.push_str("</tr></tfoot></table></div>\n");
}

fn runs_table(out: &mut String, newest: &[RunRecord], runs: usize) {
    if runs > newest.len() {
        let _ = writeln!(
            out,
            "<p class=\"muted\">The newest {} of {runs} runs; <code>ecotrace runs --format csv</code> lists them all.</p>",
            newest.len()
        );
    }
    out.push_str("<div class=\"scroll\"><table><thead><tr><th>id</th><th>started (UTC)</th><th>project</th><th>phase</th><th>status</th><th class=\"n\">duration</th><th class=\"n\">energy</th><th class=\"n\">operational CO2e</th><th class=\"n\">embodied CO2e</th><th>metrics</th></tr></thead><tbody>");
    for r in newest {
        let metrics = r
            .metrics
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&short_id(&r.id)),
            utc_minute(r.started_at),
            esc(&r.project),
            r.phase,
            r.status,
            duration(r.duration),
            energy(r.energy_kwh.total.kwh()),
            co2(r.operational.kg()),
            figures::embodied_kg(r).map(co2).unwrap_or_else(|| "–".to_string()),
            esc(&metrics)
        );
    }
    out.push_str("</tbody></table></div>\n");
}

fn provenance(out: &mut String, set: &RunSet) {
    let Some(grid) = &set.grid else {
        return;
    };
    let mut rows: Vec<(&str, String)> = vec![
        ("measurement methods", set.methods.join(", ")),
        ("hardware", set.hardware.join("; ")),
        (
            "grid intensity",
            if grid.intensity_min == grid.intensity_max {
                format!("{} gCO2e/kWh", num(grid.intensity_min))
            } else {
                format!(
                    "{}–{} gCO2e/kWh, {} on average weighted by energy",
                    num(grid.intensity_min),
                    num(grid.intensity_max),
                    num(grid.intensity_mean)
                )
            },
        ),
        ("intensity sources", grid.intensity_sources.join("; ")),
        (
            "PUE",
            if grid.pue_min == grid.pue_max {
                format!("{:.2}", grid.pue_min)
            } else {
                format!("{:.2}–{:.2}", grid.pue_min, grid.pue_max)
            },
        ),
    ];
    if !grid.pue_sources.is_empty() {
        rows.push(("PUE sources", grid.pue_sources.join("; ")));
    }
    dl(out, &rows);
}

/// A set of runs as a page: headline figures and equivalents; energy and CO2e by phase;
/// operational vs embodied; a chosen metric against CO2e with the Pareto front; the weekly trend of
/// the average per run beside the total; the grouped table (as `report --format table`); the newest
/// runs; and the sources of every factor.
pub fn report_html(rs: &[RunRecord], opts: &HtmlOptions) -> String {
    let set = RunSet::of(rs, opts.group_by.unwrap_or_default(), opts.metric);
    report_set_html(&set, opts)
}

/// [`report_html`] for a [`RunSet`] (its grouping and metric are the set's; `opts` gives the
/// subject and the serving hours).
pub fn report_set_html(set: &RunSet, opts: &HtmlOptions) -> String {
    let subject = opts.subject.unwrap_or("all runs");
    let mut b = String::new();
    let t = &set.totals;
    let _ = writeln!(b, "<h1>ecotrace report: {}</h1>", esc(subject));
    let (Some(first), Some(last)) = (set.first, set.last) else {
        b.push_str("<p>No runs.</p>\n");
        return page(&format!("ecotrace report: {subject}"), &b);
    };
    let mut intro = format!(
        "{} runs ({} failed or interrupted), started between {} and {} UTC.",
        t.runs,
        t.failed_runs,
        utc_minute(first),
        utc_minute(last)
    );
    if t.estimated_runs > 0 {
        let _ = write!(
            intro,
            " {} of them are a-priori estimates, not measurements.",
            t.estimated_runs
        );
    }
    let _ = write!(intro, " {}", set.total.bases.statement());
    let _ = writeln!(b, "<p>{}</p>", esc(&intro));
    cards(&mut b, t);
    equivalents_block(&mut b, t);

    b.push_str("<h2>By phase</h2>\n<div class=\"charts\">");
    phase_charts(&mut b, &set.phases);
    operational_vs_embodied(&mut b, t);
    b.push_str("</div>\n");

    b.push_str("<h2>Result against footprint</h2>\n");
    metric_chart(&mut b, set.metric.as_ref());

    b.push_str("<h2>Trend by week</h2>\n<div class=\"charts\">");
    trend_charts(&mut b, &set.weeks);
    b.push_str("</div>\n");

    serving_charts(&mut b, opts.hours);
    for rg in opts.run_grids {
        let id: String = rg.run.id.chars().take(8).collect();
        let heading = format!(
            "Grid intensity over run {id} ({}, {})",
            rg.run.project,
            utc_minute(rg.run.started_at)
        );
        crate::grid::grid_html(&mut b, &rg.run, &rg.samples, &rg.grid, &heading);
    }

    let _ = writeln!(b, "<h2>By {}</h2>", set.by.as_str());
    groups_table(&mut b, set);

    b.push_str("<h2>Runs</h2>\n");
    runs_table(&mut b, &set.newest, t.runs);

    b.push_str("<h2>How the figures were obtained</h2>\n");
    provenance(&mut b, set);
    page(&format!("ecotrace report: {subject}"), &b)
}

/// Label of an hour on the serving charts (as in the hourly table).
pub(crate) fn hour_label(h: &HourTotal) -> String {
    h.row.hour.format("%Y-%m-%d %H:00").to_string()
}

/// Requests per hour of an hourly row (requests over the seconds measured in it).
pub(crate) fn requests_per_hour(h: &HourTotal) -> Option<f64> {
    (h.row.measured_s > 0.0).then(|| h.row.work.requests as f64 / h.row.measured_s * 3600.0)
}

/// A serving section: energy per 1,000 generated tokens by hour, and each hour's figure against
/// its request rate (batching makes busy hours cheaper per token). The last
/// [`MAX_CHART_POINTS`] hours are drawn; nothing when no hour generated tokens.
fn serving_charts(out: &mut String, hours: &[HourTotal]) {
    let with_tokens = hours
        .iter()
        .filter(|h| h.per_unit.energy_wh_per_1k_tokens.is_some())
        .count();
    if with_tokens == 0 {
        return;
    }
    let shown = &hours[hours.len().saturating_sub(MAX_CHART_POINTS)..];
    out.push_str("<h2>Serving: energy per 1,000 generated tokens</h2>\n<div class=\"charts\">");
    let cats: Vec<String> = shown.iter().map(hour_label).collect();
    let series = [Series {
        name: "Wh per 1k tokens",
        colour: colour::CPU,
        values: shown
            .iter()
            .map(|h| h.per_unit.energy_wh_per_1k_tokens)
            .collect(),
    }];
    let svg = svg::lines(
        "Energy per 1,000 generated tokens by hour",
        &cats,
        &series,
        "hour (UTC)",
        "Wh per 1k tokens",
    );
    let mut caption = "IT energy per 1,000 generated tokens in each hour (Wh), idle time included; a gap is an hour that generated no token.".to_string();
    if shown.len() < hours.len() {
        let _ = write!(
            caption,
            " The last {} of {} hours are drawn; `report --by hour` lists them all.",
            shown.len(),
            hours.len()
        );
    }
    figure(out, &svg, &[], &caption);
    let dots: Vec<Dot> = shown
        .iter()
        .filter_map(|h| {
            let y = h.per_unit.energy_wh_per_1k_tokens?;
            let x = requests_per_hour(h)?;
            Some(Dot {
                x,
                y,
                front: false,
                tip: format!(
                    "{}: {} requests/h, {} Wh per 1k tokens",
                    hour_label(h),
                    num(x),
                    num(y)
                ),
            })
        })
        .collect();
    let svg = svg::scatter(
        "Energy per 1,000 generated tokens against request rate",
        &dots,
        "requests per hour",
        "Wh per 1k tokens",
        true,
    );
    figure(
        out,
        &svg,
        &[],
        "One point per hour: its request rate against its energy per 1,000 generated tokens. Busier hours are usually cheaper per token (batching, and the idle power shared by more work).",
    );
    out.push_str("</div>\n");
}

/// `report --lifecycle --format html`: the phases table and, for each served model, a year of
/// serving projected beside its training (cards, a bar chart, the table and the notes).
pub(crate) fn lifecycle_html(
    project: &str,
    l: &crate::Lifecycle,
    phases: &crate::table::Table,
) -> String {
    let title = format!("Life cycle of project {project}");
    let mut b = format!("<h1>{}</h1>\n<h2>By phase</h2>\n", esc(&title));
    b.push_str(&phases.html());
    for n in crate::lifecycle::waste_notes(l) {
        let _ = writeln!(b, "<p class=\"muted\">{}</p>", esc(&n));
    }
    for s in &l.serving {
        let name = s.model.as_deref().unwrap_or("the served model");
        let _ = writeln!(
            b,
            "<h2>Serving {}: one year projected beside its training</h2>",
            esc(name)
        );
        if let Some(p) = &s.projection {
            b.push_str("<div class=\"cards\">");
            card(
                &mut b,
                "energy, one year",
                &energy(p.energy.kwh()),
                &format!("IT energy at {} requests/day", num(p.requests_per_day)),
            );
            card(
                &mut b,
                "operational CO2e, one year",
                &co2(p.operational.kg()),
                "",
            );
            if let Some(i) = p.idle_share {
                card(
                    &mut b,
                    "idle share",
                    &format!("{:.0}%", i * 100.0),
                    "of the energy with no request in flight",
                );
            }
            if let Some(e) = p.per_unit.energy_wh_per_request {
                card(&mut b, "per request", &energy(e / 1000.0), "IT energy");
            }
            if let Some(e) = p.per_unit.energy_wh_per_1k_tokens {
                card(
                    &mut b,
                    "per 1,000 generated tokens",
                    &energy(e / 1000.0),
                    "IT energy",
                );
            }
            b.push_str("</div>\n");
            let cats = vec!["training".to_string(), "serving, one year".to_string()];
            let mut series = vec![Series {
                name: "operational",
                colour: colour::OPERATIONAL,
                values: vec![Some(s.training.operational.kg()), Some(p.operational.kg())],
            }];
            let mut items = vec![("operational", colour::OPERATIONAL)];
            if s.training.embodied_runs > 0 || p.embodied.is_some() {
                series.push(Series {
                    name: "embodied",
                    colour: colour::EMBODIED,
                    values: vec![
                        (s.training.embodied_runs > 0).then(|| s.training.embodied.kg()),
                        p.embodied.map(|c| c.kg()),
                    ],
                });
                items.push(("embodied", colour::EMBODIED));
            }
            let svg = svg::bars(
                "Training and one year of serving",
                &cats,
                &series,
                false,
                "",
                "kgCO2e",
            );
            figure(
                &mut b,
                &svg,
                &items,
                "CO2e of the model's training and of one year of serving it (kg), operational and embodied side by side.",
            );
        }
        b.push_str(&crate::projection::side_by_side(s).html());
        for n in crate::projection::notes(s) {
            let _ = writeln!(b, "<p>{}</p>", esc(&n));
        }
    }
    page(&title, &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_closes_every_door() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(esc("a\u{1b}[2Jb\u{0}"), "a\u{FFFD}[2Jb\u{FFFD}");
    }
}
