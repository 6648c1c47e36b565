//! One entry point per command for every [`Format`]: [`report_document`] for a set of runs
//! (`ecotrace report`), [`show_document`] for one run (`ecotrace show`). They choose the renderer;
//! they render nothing themselves and, like the rest of the crate, do no I/O.

use ecotrace_core::serving::HourTotal;
use ecotrace_core::{PowerSample, RunRecord};

use crate::aggregate::{aggregate, GroupBy};
use crate::grid::{grid_text, GridHours};
use crate::html::{report_html, report_set_html, run_page, HtmlOptions};
use crate::report::{render_report, Format};
use crate::runset::RunSet;
use crate::{
    codecarbon_csv, latex, latex_set, model_card, model_card_set, runs_csv, runs_markdown,
    show_json, show_run,
};

/// Choices that some formats use; the others ignore them.
#[derive(Debug, Clone, Copy)]
pub struct DocOptions<'a> {
    /// What the runs are, for titles and text, e.g. `project vision` (`None`: worked out from the
    /// runs).
    pub subject: Option<&'a str>,
    /// Grouping of the table, JSON, CSV and Markdown report, and of the HTML summary table.
    pub group_by: GroupBy,
    /// Metric set against CO2e in the HTML scatter (`--metric`).
    pub metric: Option<&'a str>,
    /// `training_type` of the model card (`--training-type`).
    pub training_type: Option<&'a str>,
    /// Hourly rows of the serving runs, summed by hour (the HTML page charts them).
    pub hours: &'a [HourTotal],
    /// The grid's hourly intensity around a run charged hour by hour (`show` as text, JSON and
    /// HTML).
    pub grid: Option<&'a GridHours>,
    /// The newest runs charged hour by hour with the grid around each (the HTML report).
    pub run_grids: &'a [crate::grid::RunGrid],
}

impl Default for DocOptions<'_> {
    fn default() -> Self {
        DocOptions {
            subject: None,
            group_by: GroupBy::Project,
            metric: None,
            training_type: None,
            hours: &[],
            grid: None,
            run_grids: &[],
        }
    }
}

/// A set of runs in `format`: the grouped report for table, JSON, CSV and Markdown; the HTML page,
/// the LaTeX paragraph and table, the model card block, or CodeCarbon's CSV (one row per run) for
/// the others.
pub fn report_document(rs: &[RunRecord], format: Format, opts: &DocOptions) -> String {
    match format {
        Format::Table | Format::Json | Format::Csv | Format::Markdown => {
            let (groups, total) = aggregate(rs, opts.group_by);
            render_report(&groups, &total, opts.group_by, format)
        }
        Format::Html => report_html(
            rs,
            &HtmlOptions {
                subject: opts.subject,
                group_by: Some(opts.group_by),
                metric: opts.metric,
                hours: opts.hours,
                run_grids: opts.run_grids,
            },
        ),
        Format::Latex => latex(rs, opts.subject),
        Format::ModelCard => model_card(rs, opts.training_type, opts.subject),
        Format::CodecarbonCsv => codecarbon_csv(rs),
    }
}

/// A [`RunSet`] in `format`: the HTML page, the LaTeX paragraph and table or the model card block;
/// the grouped report (its groups and total) for table, JSON, CSV and Markdown, and Markdown for
/// CodeCarbon's CSV, which is one row per run (`codecarbon_csv_row`).
pub fn set_document(set: &RunSet, format: Format, opts: &DocOptions) -> String {
    match format {
        Format::Html => report_set_html(
            set,
            &HtmlOptions {
                subject: opts.subject,
                group_by: Some(set.by),
                metric: opts.metric,
                hours: opts.hours,
                run_grids: opts.run_grids,
            },
        ),
        Format::Latex => latex_set(set, opts.subject),
        Format::ModelCard => model_card_set(set, opts.training_type, opts.subject),
        _ => render_report(&set.groups, &set.total, set.by, format),
    }
}

/// One run in `format`: `table` is the full text of `show`, `json` the record (as `show --json`),
/// `csv` and `markdown` one row as `runs` writes it, and the others as for a set of one run, the
/// HTML page with the run's power over time from `samples`.
pub fn show_document(
    r: &RunRecord,
    samples: &[PowerSample],
    format: Format,
    opts: &DocOptions,
) -> String {
    let one = std::slice::from_ref(r);
    match format {
        Format::Table => show_run(r, samples) + &grid_text(r, samples, opts.grid),
        Format::Json => match opts.grid {
            Some(g) => {
                let mut v = serde_json::to_value(r).expect("run records have string keys");
                v["grid_by_hour"] = crate::grid::grid_json(r, samples, g);
                serde_json::to_string_pretty(&v).expect("string keys") + "\n"
            }
            None => show_json(r, None),
        },
        Format::Csv => runs_csv(one),
        Format::Markdown => {
            let mut s = runs_markdown(one);
            s.push('\n');
            s.push_str(&crate::figures::equivalents_text(r.operational.kg(), true));
            s
        }
        Format::Html => run_page(r, samples, opts.hours, opts.grid),
        Format::Latex => latex(one, opts.subject),
        Format::ModelCard => model_card(one, opts.training_type, opts.subject),
        Format::CodecarbonCsv => codecarbon_csv(one),
    }
}
