//! `ecotrace.estimate()`, `ecotrace.estimate_inference()` and `ecotrace.compare()`: the CLI's
//! `ecotrace estimate` / `estimate inference` / `compare`, run in-process on arguments written as
//! the command line would be. The Python keyword arguments become the CLI's flags, clap parses
//! them with the CLI's own definitions (`ecotrace_estimator::args`), and the estimator the CLI
//! runs (`ecotrace-estimator`) computes and renders the result, so both give the same figures, the
//! same assumptions and the same errors. The factors are layered as the CLI layers them: keyword
//! arguments, then `ECOTRACE_*` variables, then the config files (`ecotrace.toml` found upward
//! from the working directory, then the user's), then the region's table rows, then defaults;
//! provenance names a keyword argument as the keyword (`region=`), not the CLI's flag.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use ecotrace_estimator as cmd_estimate;
use ecotrace_estimator::args::{CompareArgs, EstimateArgs, EstimateMode, PlanArgs};
use ecotrace_factors::{FactorArgs, FileLayers, Origins, Via};
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

/// Runs `ecotrace ARGS...` for `ARGS` starting with `estimate` or `compare`, with the config files
/// found from the working directory. Storing an estimate in the ledger (`--add-to-project`) is
/// left to the CLI.
pub fn run(args: &[String]) -> Result<Output, EstimateError> {
    let cwd = std::env::current_dir()
        .map_err(|e| EstimateError::Other(format!("cannot read the working directory: {e}")))?;
    let files = FileLayers::discover(&cwd).map_err(|e| EstimateError::Usage(e.to_string()))?;
    run_with(args, &files)
}

/// The config files' factors under what the keyword arguments (and variables) gave.
fn layer(
    f: &mut FactorArgs,
    origins: &mut Origins,
    files: &FileLayers,
) -> Result<(), EstimateError> {
    files
        .fill(f, origins)
        .map_err(|e| EstimateError::Usage(e.to_string()))
}

/// [`run`] with the given config files.
pub fn run_with(args: &[String], files: &FileLayers) -> Result<Output, EstimateError> {
    let argv = std::iter::once("ecotrace".to_string()).chain(args.iter().cloned());
    let usage =
        |e: clap::Error| EstimateError::Usage(e.render().to_string().trim_end().to_string());
    let mut cmd = Cli::command();
    let matches = cmd.try_get_matches_from_mut(argv).map_err(usage)?;
    let cli = Cli::from_arg_matches(&matches).map_err(usage)?;
    // The flags were written from keyword arguments: provenance says `region=`, not `--region`.
    let origins = Origins::from_subcommand_matches(&cmd, &matches, Via::Keyword);
    match cli.command {
        Command::Estimate(args) => {
            let e = match &args.mode {
                Some(EstimateMode::Inference(i)) => {
                    if i.add_to_project.is_some() {
                        return Err(add_to_project());
                    }
                    let mut o = i.to_options();
                    o.origins = origins;
                    layer(&mut o.factors, &mut o.origins, files)?;
                    cmd_estimate::run_inference(&o)
                }
                None => {
                    if args.add_to_project.is_some() {
                        return Err(add_to_project());
                    }
                    let mut o = args.to_options();
                    o.origins = origins;
                    layer(&mut o.factors, &mut o.origins, files)?;
                    cmd_estimate::run_estimate(&o)
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
            let mut o = args.to_options();
            o.origins = origins;
            layer(&mut o.factors, &mut o.origins, files)?;
            let rows = cmd_estimate::run_compare(&o).map_err(classify)?;
            Ok(Output {
                json: ecotrace_report::compare_json(&rows),
                texts: rows
                    .iter()
                    .map(|e| ecotrace_report::estimate_text(e, &ecotrace_report::estimate_title(e)))
                    .collect(),
            })
        }
        // `ecotrace.plan()`: the CLI's planner, with the user's imported hourly series and the live
        // provider of the `grid_provider=` keyword or `ECOTRACE_GRID_PROVIDER`.
        Command::Plan(args) => {
            // A damaged imported series costs the plan its hours (a note naming the file).
            let (user, warnings) = ecotrace_tracker::hourly::readable_user_hourly_series();
            let opts = args.to_options();
            let now = chrono::Utc::now();
            let provider =
                ecotrace_tracker::live::provider_config(&args.provider, &Default::default())
                    .map_err(|e| EstimateError::Usage(e.to_string()))?;
            let mut p = match provider {
                None => cmd_estimate::plan::plan(&opts, now, &user),
                Some(cfg) => cmd_estimate::plan::plan_with_live(&opts, now, &user, |f, t, b| {
                    ecotrace_tracker::live::plan_series(cfg, &opts.regions, b, f, t, now)
                }),
            }
            .map_err(classify)?;
            p.notes.extend(warnings);
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

    /// A bad value from Python is named as the keyword argument that gave it, not as a flag.
    #[test]
    fn a_bad_keyword_value_is_named_as_the_keyword() {
        for (a, keyword) in [
            ("estimate --hardware A100-80GB --hours 0", "hours="),
            ("estimate --hardware A100-80GB --hours 1 --devices -1", "devices="),
            ("estimate --hardware A100-80GB --hours 1 --power-w 0", "power_w="),
            (
                "estimate inference --hardware L4 --requests-per-day 0 --days 9 --energy-per-request-wh 1",
                "requests_per_day=",
            ),
        ] {
            match run(&args(a)) {
                Err(EstimateError::Usage(m)) => {
                    assert!(m.contains(keyword) && !m.contains("--"), "{a}: {m}")
                }
                other => panic!("{a}: {:?}", other.map(|o| o.json)),
            }
        }
    }

    fn assumption<'a>(out: &'a Output, name: &str) -> &'a Value {
        out.json["assumptions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("no assumption {name} in {}", out.json))
    }

    /// keyword > config file > region table > default, with provenance naming the keyword and
    /// the config key as the CLI names its flag and key.
    #[test]
    fn keywords_then_config_then_table_then_default() {
        let base = "estimate --hardware A100-80GB --hours 1";
        let none = FileLayers::default();
        let out = run_with(&args(&format!("{base} --region FR --pue 1.2")), &none).unwrap();
        assert_eq!(
            assumption(&out, "pue")["source"],
            "given by the user (pue=)"
        );
        assert_eq!(out.json["region"], "FR");
        let intensity = assumption(&out, "intensity_g_per_kwh")["source"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(intensity.contains("[zones table, row FR"), "{intensity}");
        // Nothing given: defaults, said to be.
        let out = run_with(&args(base), &none).unwrap();
        let lifetime = assumption(&out, "lifetime_years")["source"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(lifetime.starts_with("default "), "{lifetime}");
        // The config file under the keywords.
        let files = FileLayers::from_text(
            "/p/ecotrace.toml",
            "region = \"FR\"\npue = 1.4\nlifetime_years = 3\nprice_per_hour = 2\n",
        )
        .unwrap();
        let out = run_with(&args(base), &files).unwrap();
        assert_eq!(out.json["region"], "FR");
        assert_eq!(assumption(&out, "pue")["value"], 1.4);
        assert_eq!(
            assumption(&out, "pue")["source"],
            "given by the user (pue in /p/ecotrace.toml)"
        );
        assert_eq!(assumption(&out, "lifetime_years")["value"], 3.0);
        // The file's price is per device-hour, as the CLI reads it.
        assert_eq!(out.json["cost_usd"].as_f64(), Some(2.0));
        let out = run_with(
            &args(&format!("{base} --pue 1.1 --lifetime-years 4")),
            &files,
        )
        .unwrap();
        assert_eq!(assumption(&out, "pue")["value"], 1.1);
        assert_eq!(
            assumption(&out, "lifetime_years")["source"],
            "given by the user (lifetime_years=)"
        );
        // A bad value in the file is a usage error naming the file.
        let bad = FileLayers::from_text("/p/ecotrace.toml", "pue = \"high\"").unwrap();
        match run_with(&args(base), &bad) {
            Err(EstimateError::Usage(m)) => assert!(m.contains("/p/ecotrace.toml"), "{m}"),
            other => panic!("{other:?}"),
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
