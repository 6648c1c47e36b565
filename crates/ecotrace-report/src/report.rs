//! Rendering of aggregated groups (`ecotrace report`) as a text table, JSON, CSV or Markdown, and
//! the [`Format`] choice shared with `ecotrace runs --format`.
//!
//! Takes the output of [`crate::aggregate`]; does no grouping or summing of its own.

use std::fmt;
use std::str::FromStr;

use ecotrace_core::ParseEnumError;
use serde::Serialize;

use crate::aggregate::{Group, GroupBy};
use crate::table::{Align, Table};
use crate::text::{co2, csv_row, duration, energy, machine, num, plain, water};

/// Output format of `report` and `runs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Aligned text for a terminal.
    Table,
    /// Pretty-printed JSON.
    Json,
    /// RFC 4180 CSV with a header row.
    Csv,
    /// A GitHub-flavoured Markdown table.
    Markdown,
    /// One self-contained HTML page with SVG charts.
    Html,
    /// A paragraph and a table to paste into a paper.
    Latex,
    /// The Hugging Face model card `co2_eq_emissions` block (YAML).
    ModelCard,
    /// CodeCarbon's `emissions.csv` columns, one row per run.
    CodecarbonCsv,
}

impl Format {
    pub const ALL: &'static [Format] = &[
        Format::Table,
        Format::Json,
        Format::Csv,
        Format::Markdown,
        Format::Html,
        Format::Latex,
        Format::ModelCard,
        Format::CodecarbonCsv,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Markdown => "markdown",
            Format::Html => "html",
            Format::Latex => "latex",
            Format::ModelCard => "model-card",
            Format::CodecarbonCsv => "codecarbon-csv",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = ParseEnumError;
    /// Case-insensitive, surrounding spaces ignored, `md` accepted for `markdown` and `tex` for
    /// `latex`; the error lists the valid names.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "md" => return Ok(Format::Markdown),
            "tex" => return Ok(Format::Latex),
            _ => {}
        }
        Format::ALL
            .iter()
            .copied()
            .find(|f| f.as_str() == t)
            .ok_or_else(|| ParseEnumError {
                what: "format",
                got: s.to_string(),
                expected: Format::ALL
                    .iter()
                    .map(|f| f.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// Energy by kind in kWh, as plain numbers so that rounding survives serialisation.
#[derive(Serialize)]
struct KwhJson {
    cpu: f64,
    gpu: f64,
    ram: f64,
    total: f64,
}

#[derive(Serialize)]
struct GroupJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    runs: usize,
    failed_runs: usize,
    duration_s: f64,
    energy_kwh: KwhJson,
    operational_kgco2e: f64,
    embodied_kgco2e: f64,
    embodied_runs: usize,
    water_l: f64,
    water_runs: usize,
    cost_usd: Option<f64>,
    cost_runs: usize,
    /// `lifecycle`, `direct`, `marginal`, `unstated` (user-given), or `mixed`.
    basis: &'static str,
    /// Runs by the basis and signal of their intensity.
    bases: BasesJson,
}

#[derive(Serialize)]
struct BasesJson {
    lifecycle: usize,
    direct: usize,
    marginal: usize,
    unstated: usize,
}

impl<'a> GroupJson<'a> {
    fn new(g: &'a Group, key: Option<&'a str>) -> Self {
        let e = &g.energy;
        GroupJson {
            key,
            runs: g.runs,
            failed_runs: g.failed_runs,
            duration_s: machine(g.duration.as_secs_f64()),
            energy_kwh: KwhJson {
                cpu: machine(e.cpu.kwh()),
                gpu: machine(e.gpu.kwh()),
                ram: machine(e.ram.kwh()),
                total: machine(e.total.kwh()),
            },
            operational_kgco2e: machine(g.operational.kg()),
            embodied_kgco2e: machine(g.embodied.kg()),
            embodied_runs: g.embodied_runs,
            water_l: machine(g.water.litres()),
            water_runs: g.water_runs,
            cost_usd: (g.cost_runs > 0).then(|| machine(g.cost.usd())),
            cost_runs: g.cost_runs,
            basis: g.bases.id(),
            bases: BasesJson {
                lifecycle: g.bases.lifecycle,
                direct: g.bases.direct,
                marginal: g.bases.marginal,
                unstated: g.bases.unstated,
            },
        }
    }
}

#[derive(Serialize)]
struct ReportJson<'a> {
    group_by: &'static str,
    groups: Vec<GroupJson<'a>>,
    total: GroupJson<'a>,
    /// The basis the totals are on, or the mix they add up (as the table says under it).
    basis_note: String,
}

/// A sum over the runs that have the figure: `-` when none has it, `x (k/n runs)` when only some.
fn covered(sum: String, k: usize, n: usize) -> String {
    if k == n {
        sum
    } else if k == 0 {
        "-".to_string()
    } else {
        format!("{sum} ({k}/{n} runs)")
    }
}

/// Renders groups and their total.
///
/// - `Table`: aligned columns, energy in kWh and CO2e in kg with significant digits, the total
///   under a rule;
/// - `Markdown`: the same columns as a GitHub table, total row in bold;
/// - `Json`: `{ "group_by", "groups": [{ "key", "runs", "failed_runs", "duration_s",
///   "energy_kwh": {cpu,gpu,ram,total}, "operational_kgco2e", "embodied_kgco2e", "embodied_runs",
///   "water_l", "water_runs", "cost_usd", "cost_runs" }], "total": {...same, no key} }` (embodied,
///   water and cost are sums over the `*_runs` runs that have them; never added to operational),
///   each group's `basis` and `bases` (runs by intensity basis and signal, [`crate::BasisMix`]),
///   and `basis_note`;
/// - `Csv`: a header row naming the unit of every number, one row per group with its basis and
///   runs by basis. The total is left out so that summing a column does not count every run
///   twice.
///
/// Every format says which grid-intensity basis its CO2e is on: a `basis` column (`mixed` for a
/// group whose runs were charged on several), and under the table the basis of the totals or the
/// mix they add up.
///
/// JSON and CSV numbers keep 12 significant digits (no `0.12989511250000002` sum noise).
///
/// Table and Markdown end with the total's operational CO2e as everyday equivalents (with their
/// sources), under the real figures. The formats made from the runs themselves (`Html`, `Latex`,
/// `ModelCard`, `CodecarbonCsv`) are rendered by [`crate::report_document`]; given here, they fall
/// back to `Markdown`.
pub fn render_report(groups: &[Group], total: &Group, by: GroupBy, format: Format) -> String {
    match format {
        Format::Html | Format::Latex | Format::ModelCard | Format::CodecarbonCsv => {
            render_report(groups, total, by, Format::Markdown)
        }
        Format::Json => {
            let doc = ReportJson {
                group_by: by.as_str(),
                groups: groups
                    .iter()
                    .map(|g| GroupJson::new(g, Some(&g.key)))
                    .collect(),
                total: GroupJson::new(total, None),
                basis_note: total.bases.statement(),
            };
            let mut s = serde_json::to_string_pretty(&doc).expect("report JSON has string keys");
            s.push('\n');
            s
        }
        Format::Csv => {
            let mut out = csv_row(&[
                by.as_str(),
                "runs",
                "failed_runs",
                "duration_s",
                "energy_cpu_kwh",
                "energy_gpu_kwh",
                "energy_ram_kwh",
                "energy_total_kwh",
                "operational_kgco2e",
                "embodied_kgco2e",
                "embodied_runs",
                "water_l",
                "water_runs",
                "cost_usd",
                "cost_runs",
                "basis",
                "runs_lifecycle",
                "runs_direct",
                "runs_marginal",
                "runs_unstated",
            ]);
            out.push('\n');
            for g in groups {
                out.push_str(&csv_row(&[
                    g.key.clone(),
                    g.runs.to_string(),
                    g.failed_runs.to_string(),
                    plain(g.duration.as_secs_f64()),
                    plain(g.energy.cpu.kwh()),
                    plain(g.energy.gpu.kwh()),
                    plain(g.energy.ram.kwh()),
                    plain(g.energy.total.kwh()),
                    plain(g.operational.kg()),
                    plain(g.embodied.kg()),
                    g.embodied_runs.to_string(),
                    plain(g.water.litres()),
                    g.water_runs.to_string(),
                    if g.cost_runs > 0 {
                        plain(g.cost.usd())
                    } else {
                        String::new()
                    },
                    g.cost_runs.to_string(),
                    g.bases.id().to_string(),
                    g.bases.lifecycle.to_string(),
                    g.bases.direct.to_string(),
                    g.bases.marginal.to_string(),
                    g.bases.unstated.to_string(),
                ]));
                out.push('\n');
            }
            out
        }
        Format::Table | Format::Markdown => {
            let mut t = Table::new(&[
                (by.as_str(), Align::Left),
                ("runs", Align::Right),
                ("failed", Align::Right),
                ("duration", Align::Right),
                ("cpu energy", Align::Right),
                ("gpu energy", Align::Right),
                ("ram energy", Align::Right),
                ("total energy", Align::Right),
                ("operational", Align::Right),
                ("embodied", Align::Right),
                ("water", Align::Right),
                ("cost USD", Align::Right),
                ("basis", Align::Left),
            ]);
            let row = |g: &Group| {
                vec![
                    g.key.clone(),
                    g.runs.to_string(),
                    g.failed_runs.to_string(),
                    duration(g.duration),
                    energy(g.energy.cpu.kwh()),
                    energy(g.energy.gpu.kwh()),
                    energy(g.energy.ram.kwh()),
                    energy(g.energy.total.kwh()),
                    co2(g.operational.kg()),
                    covered(co2(g.embodied.kg()), g.embodied_runs, g.runs),
                    covered(water(g.water.litres()), g.water_runs, g.runs),
                    covered(num(g.cost.usd()), g.cost_runs, g.runs),
                    g.bases.label().to_string(),
                ]
            };
            t.rows = groups.iter().map(row).collect();
            let mut f = row(total);
            f[0] = "total".to_string();
            t.footer = Some(f);
            let mut out = if format == Format::Table {
                t.text()
            } else {
                t.markdown()
            };
            if total.runs > 0 {
                out.push('\n');
                out.push_str(&total.bases.statement());
                out.push_str("\n\n");
                out.push_str(&crate::figures::equivalents_text(
                    total.operational.kg(),
                    format == Format::Markdown,
                ));
            }
            out
        }
    }
}
