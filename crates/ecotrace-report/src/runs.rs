//! The list of runs (`ecotrace runs`): one row per run as a text table, Markdown, CSV or JSON.
//!
//! Renders the records it is given, in the order given; filtering and sorting are the caller's.

use ecotrace_core::{RecordKind, RunRecord};

use crate::table::{Align, Table};
use crate::text::{
    co2, csv_row, duration, energy, list_item, plain, rfc3339, shell_join, short_id, truncate,
    utc_minute,
};

/// Longest project name shown in the text table before it is cut.
const PROJECT_MAX: usize = 20;
/// Longest command shown in the text table before it is cut.
const COMMAND_MAX: usize = 40;

/// The tag `ecotrace runs` puts on runs it lists from a spool (value: the spool's path) while
/// their ledger cannot be read; the status column then says `spooled`.
pub const SPOOLED_TAG: &str = "spooled";

fn list_table(rs: &[RunRecord], cut: bool) -> Table {
    let mut t = Table::new(&[
        ("id", Align::Left),
        ("started (UTC)", Align::Left),
        ("project", Align::Left),
        ("phase", Align::Left),
        ("status", Align::Left),
        ("duration", Align::Right),
        ("energy", Align::Right),
        ("operational", Align::Right),
        ("embodied", Align::Right),
        ("command", Align::Left),
    ]);
    t.rows = rs
        .iter()
        .map(|r| {
            let command = shell_join(&r.command);
            let (project, command) = if cut {
                (
                    truncate(&r.project, PROJECT_MAX),
                    truncate(&command, COMMAND_MAX),
                )
            } else {
                (r.project.clone(), command)
            };
            vec![
                short_id(&r.id),
                utc_minute(r.started_at),
                project,
                r.phase.to_string(),
                match (r.kind, r.tags.contains_key(SPOOLED_TAG)) {
                    (RecordKind::Estimated, _) => "estimated".to_string(),
                    (_, true) => format!("{} (spooled)", r.status),
                    (_, false) => r.status.to_string(),
                },
                duration(r.duration),
                energy(r.energy_kwh.total.kwh()),
                co2(r.operational.kg()),
                r.embodied.map_or("-".to_string(), |e| co2(e.kg())),
                command,
            ]
        })
        .collect();
    t
}

/// Aligned text table: id (first 8 characters), start (UTC minute), project, phase, status
/// (`estimated` for an a-priori estimate stored with `ecotrace estimate --add-to-project`),
/// duration, IT energy, operational and embodied CO2e (each scaled to its magnitude) (side by side, `-` where no
/// embodied figure was assessed), and the command, cut to fit.
/// No runs gives `no runs`.
pub fn runs_table(rs: &[RunRecord]) -> String {
    if rs.is_empty() {
        return "no runs\n".to_string();
    }
    list_table(rs, true).text() + &crate::serving::serving_runs_lines(rs)
}

/// The same columns as [`runs_table`] as a GitHub Markdown table, nothing cut.
pub fn runs_markdown(rs: &[RunRecord]) -> String {
    list_table(rs, false).markdown()
}

/// The full records as a pretty-printed JSON array (each element the shape of `run --json`).
pub fn runs_json(rs: &[RunRecord]) -> String {
    let mut s = serde_json::to_string_pretty(rs).expect("run records have string keys");
    s.push('\n');
    s
}

/// Columns of [`runs_csv`], in order. New columns are added at the end, so existing column
/// positions never move.
const CSV_HEADER: &[&str] = &[
    "id",
    "project",
    "phase",
    "status",
    "exit_code",
    "started_at",
    "ended_at",
    "duration_s",
    "energy_cpu_kwh",
    "energy_gpu_kwh",
    "energy_ram_kwh",
    "energy_total_kwh",
    "pue",
    "intensity_g_per_kwh",
    "zone",
    "intensity_source",
    "intensity_year",
    "operational_kgco2e",
    "hostname",
    "cpu_model",
    "gpus",
    "tags",
    "embodied_kgco2e",
    "water_l",
    "cost_usd",
    "cost_basis",
    "kind",
];

/// One CSV row per run, RFC 4180 quoting, full-precision numbers in the unit named by the column.
/// Times are RFC 3339 UTC; empty cells mean "none" (no exit code, not ended, no year). `gpus` is
/// `name;name`, `tags` is `k=v;k=v`, with `\`, `;` and `=` inside names and values escaped by a
/// backslash. Values are written as recorded: a cell starting with `=` is not defused for
/// spreadsheets.
pub fn runs_csv(rs: &[RunRecord]) -> String {
    let mut out = csv_row(CSV_HEADER);
    out.push('\n');
    for r in rs {
        let opt = |v: Option<String>| v.unwrap_or_default();
        let gpus = r
            .host
            .gpus
            .iter()
            .map(|g| list_item(g))
            .collect::<Vec<_>>()
            .join(";");
        let tags = r
            .tags
            .iter()
            .map(|(k, v)| format!("{}={}", list_item(k), list_item(v)))
            .collect::<Vec<_>>()
            .join(";");
        out.push_str(&csv_row(&[
            r.id.clone(),
            r.project.clone(),
            r.phase.to_string(),
            r.status.to_string(),
            opt(r.exit_code.map(|c| c.to_string())),
            rfc3339(r.started_at),
            opt(r.ended_at.map(rfc3339)),
            plain(r.duration.as_secs_f64()),
            plain(r.energy_kwh.cpu.kwh()),
            plain(r.energy_kwh.gpu.kwh()),
            plain(r.energy_kwh.ram.kwh()),
            plain(r.energy_kwh.total.kwh()),
            plain(r.pue.value.value()),
            plain(r.intensity.value.g_per_kwh()),
            r.intensity.zone.clone(),
            r.intensity.source.clone(),
            opt(r.intensity.year.map(|y| y.to_string())),
            plain(r.operational.kg()),
            r.host.hostname.clone(),
            r.host.cpu_model.clone(),
            gpus,
            tags,
            opt(r.embodied.map(|e| plain(e.kg()))),
            opt(r.water.map(|w| plain(w.litres()))),
            opt(r.cost.map(|c| plain(c.usd()))),
            opt(r.cost_used.as_ref().map(|c| c.basis.to_string())),
            r.kind.to_string(),
        ]));
        out.push('\n');
    }
    out
}
