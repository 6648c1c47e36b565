//! ecotrace-report: pure rendering and aggregation of run records, and every other text ecotrace
//! prints: estimates and comparisons (`estimate.rs`), `doctor` (`doctor.rs`), the bundled data.
//!
//! Functions here take [`RunRecord`]s (and power samples), estimates or resolved factors and
//! return `String`s or plain structs; the CLI prints them. This crate must not do I/O (no files, clock, terminal, environment or ledger):
//! every input comes in as an argument, so every output is deterministic and snapshot-tested.
//!
//! Conventions shared by every renderer:
//! - every multi-line output ends with exactly one newline (print it with `print!`/`eprint!`);
//!   [`live_line`] is one line without a newline;
//! - every number is written with its unit, in the header or next to it; energy, power and CO2e
//!   are never shown as stand-ins for one another;
//! - human output (terminal, Markdown, HTML, LaTeX) goes through one number formatter
//!   (`ecotrace_core::human`): three significant digits and units scaled to the magnitude
//!   (mg/g/kg/t CO2e, mWh/Wh/kWh/MWh, mL/L/m³), so a 0.000123 kWh run shows as `123 mWh`; machine
//!   output (CSV, JSON) writes full precision in the base unit named by the field;
//! - text from the record (project, tags, command, notes) is escaped before it reaches a terminal
//!   or a table, so control characters cannot break a row or move the cursor.
//!
//! [`RunRecord`]: ecotrace_core::RunRecord

mod aggregate;
mod codecarbon;
mod doctor;
mod estimate;
mod figures;
mod grid;
mod html;
mod latex;
mod licenses;
mod lifecycle;
mod model_card;
mod projection;
mod publish;
mod report;
mod runs;
mod runset;
mod serving;
mod show;
mod summary;
mod svg;
mod table;
mod text;
mod zones;

pub use aggregate::{aggregate, aggregate_with, is_failed, BasisMix, Group, GroupBy};
pub use codecarbon::{
    codecarbon_csv, codecarbon_csv_header, codecarbon_csv_row, import_summary, import_totals,
    parse_codecarbon, CodecarbonRow, CodecarbonRows, ImportError, ImportOptions,
    COLUMNS as CODECARBON_COLUMNS,
};
pub use doctor::{doctor, factor_lines, Doctor, DoctorCheck, DoctorDevice, DoctorLive};
pub use estimate::{
    compare_json, compare_text, data_hardware, estimate_title, to_json as estimate_json,
    to_text as estimate_text,
};
pub use grid::{best_start, grid_json, grid_text, BestStart, GridHours, RunGrid, SHIFT_HOURS};
pub use html::{
    report_html, report_set_html, run_html, run_page, HtmlOptions, MAX_CHART_POINTS,
    MAX_LISTED_RUNS, MAX_SCATTER_POINTS,
};
pub use latex::{latex, latex_set};
pub use licenses::data_licenses;
pub use lifecycle::{
    lifecycle, lifecycle_projected, render_lifecycle, Lifecycle, LifecycleSums, PhaseTotals,
};
pub use model_card::{model_card, model_card_set};
pub use projection::{ServingLife, MODEL_TAG};
pub use publish::{report_document, set_document, show_document, DocOptions};
pub use report::{render_report, Format};
pub use runs::{runs_csv, runs_json, runs_markdown, runs_table, SPOOLED_TAG};
pub use runset::{RunDigest, RunSet, Summed, MAX_KEPT_POINTS};
pub use serving::{
    hour_totals_report, hours_report, run_hours, runs_hours, serving_lines, serving_runs_lines,
    serving_text, windows_text,
};
pub use show::{show_json, show_run};
pub use summary::{live_line, run_summary};
pub use zones::data_zones;
