//! `ecotrace.estimate()`, `ecotrace.estimate_inference()` and `ecotrace.compare()`: the CLI's
//! `ecotrace estimate` / `estimate inference` / `compare`, run in-process on arguments written as
//! the command line would be. The Python keyword arguments become the CLI's flags, clap parses
//! them with the CLI's own definitions (`ecotrace_estimator::args`), and the estimator the CLI
//! runs (`ecotrace-estimator`) computes and renders the result, so both give the same figures, the
//! same assumptions and the same errors.

use clap::{Parser, Subcommand};
use ecotrace_estimator as cmd_estimate;
use ecotrace_estimator::args::{CompareArgs, EstimateArgs, EstimateMode, PlanArgs};
use serde_json::Value;

/// The part of the CLI's command line that can be run this way: `ecotrace estimate ...` and
/// `ecotrace compare ...`, with the CLI's name, so clap's messages read as the CLI's.
#[derive(Debug, Parser)]
#[command(name = "ecotrace")]
struct Cli {
    /// Accepted and ignored, as the CLI's parser did here before: storing is the CLI's.
    #[arg(long, global = true, hide = true)]
    #[allow(dead_code)]
    ledger: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Estimate(Box<EstimateArgs>),
    Compare(Box<CompareArgs>),
    Plan(Box<PlanArgs>),
}

/// An estimate (or a comparison) as the CLI's `--json` prints it, with the CLI's text for each
/// estimate (one for `estimate`, one per row for `compare`).
#[derive(Debug, Clone)]
pub struct Output {
    pub json: Value,
    pub texts: Vec<String>,
}

/// Why an estimate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EstimateError {
    /// A bad or missing argument, an unknown hardware or region: the user can fix the input.
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Other(String),
}

fn classify(e: cmd_estimate::EstimateError) -> EstimateError {
    if e.is_usage() {
        EstimateError::Usage(e.to_string())
    } else {
        EstimateError::Other(e.to_string())
    }
}

/// Runs `ecotrace ARGS...` for `ARGS` starting with `estimate` or `compare`. Storing an estimate in
/// the ledger (`--add-to-project`) is left to the CLI.
pub fn run(args: &[String]) -> Result<Output, EstimateError> {
    let argv = std::iter::once("ecotrace".to_string()).chain(args.iter().cloned());
    let cli = Cli::try_parse_from(argv)
        .map_err(|e| EstimateError::Usage(e.render().to_string().trim_end().to_string()))?;
    match cli.command {
        Command::Estimate(args) => {
            let e = match &args.mode {
                Some(EstimateMode::Inference(i)) => {
                    if i.add_to_project.is_some() {
                        return Err(add_to_project());
                    }
                    cmd_estimate::run_inference(&i.to_options())
                }
                None => {
                    if args.add_to_project.is_some() {
                        return Err(add_to_project());
                    }
                    cmd_estimate::run_estimate(&args.to_options())
                }
            }
            .map_err(classify)?;
            Ok(Output {
                json: ecotrace_report::estimate_json(&e),
                texts: vec![ecotrace_report::estimate_text(
                    &e,
                    &ecotrace_report::estimate_title(&e),
                )],
            })
        }
        Command::Compare(args) => {
            let rows = cmd_estimate::run_compare(&args.to_options()).map_err(classify)?;
            Ok(Output {
                json: ecotrace_report::compare_json(&rows),
                texts: rows
                    .iter()
                    .map(|e| ecotrace_report::estimate_text(e, &ecotrace_report::estimate_title(e)))
                    .collect(),
            })
        }
        // `ecotrace.plan()`: the CLI's planner, with the user's imported hourly series.
        Command::Plan(args) => {
            let user = ecotrace_tracker::hourly::user_hourly_series(None)
                .map_err(|e| EstimateError::Other(e.to_string()))?;
            let p = cmd_estimate::plan::plan(&args.to_options(), chrono::Utc::now(), &user)
                .map_err(classify)?;
            Ok(Output {
                json: cmd_estimate::plan::plan_json(&p),
                texts: vec![cmd_estimate::plan::plan_text(&p)],
            })
        }
    }
}

fn add_to_project() -> EstimateError {
    EstimateError::Usage(
        "add_to_project is not available from Python: store an estimate with the CLI, \
         `ecotrace estimate ... --add-to-project NAME`"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn an_estimate_from_hardware_and_hours() {
        let out = run(&args(
            "estimate --hardware A100-80GB --devices 8 --hours 24 --intensity 100",
        ))
        .unwrap();
        let j = &out.json;
        assert_eq!(j["device_hours"].as_f64(), Some(192.0));
        let kwh = j["energy_kwh"].as_f64().unwrap();
        assert!(kwh > 0.0);
        // 100 g/kWh, PUE 1 unless a region says otherwise.
        let op = j["operational_kgco2e"].as_f64().unwrap();
        assert!(
            (op - kwh * 0.1).abs() < 1e-9 * kwh.max(1.0),
            "{op} vs {kwh}"
        );
        assert!(!j["assumptions"].as_array().unwrap().is_empty());
        assert_eq!(out.texts.len(), 1);
        assert!(out.texts[0].contains("A100"));
    }

    #[test]
    fn bad_input_is_a_usage_error_with_the_clis_message() {
        for a in [
            "estimate --hardware NoSuchGPU --hours 1",
            "estimate --hardware A100-80GB --hours 1 --bogus 3",
            "estimate --hardware A100-80GB --hours 1 --add-to-project p",
            "runs",
        ] {
            assert!(matches!(run(&args(a)), Err(EstimateError::Usage(_))), "{a}");
        }
    }

    #[test]
    fn compare_gives_one_row_per_choice() {
        let out = run(&args(
            "compare --hardware A100-80GB,H100-SXM --region FR,US-CA --hours 10",
        ))
        .unwrap();
        assert_eq!(out.json.as_array().unwrap().len(), 4);
        assert_eq!(out.texts.len(), 4);
    }
}
