//! The `ecotrace` binary: parses the command line, calls the crates, prints. Errors end here as
//! a message on stderr and a non-zero exit code (2 for bad usage, 1 otherwise).

mod child;
mod cli;
mod cmd_agent;
mod cmd_green;
mod cmd_plan;
mod cmd_run;
mod cmd_serve;
mod runpath;

use anyhow::{Context, Result};
use clap::{CommandFactory, FromArgMatches};
use ecotrace_core::{Phase, RunStatus};
use ecotrace_ledger::{Ledger, RunFilter};
use ecotrace_report::{Format, GroupBy};

use cli::{Cli, Command, DataWhat, ImportWhat, LedgerWhat, PublishArgs};
use ecotrace_factors::{Origins, Via};
use ecotrace_tracker::{FileLayers, MeasureSettings, TrackError};
pub use runpath::UsageError;
use runpath::{parse_age, print_notices};

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    runpath::exec_runner(&args);
    let mut cmd = Cli::command();
    let matches = cmd.get_matches_mut();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let origins = Origins::from_subcommand_matches(&cmd, &matches, Via::Flag);
    std::process::exit(runpath::exit_code(dispatch(cli, origins)));
}

/// The estimator's factor options with the config files' under them.
fn estimate_factors(
    f: &mut ecotrace_factors::FactorArgs,
    origins: &mut Origins,
    files: &FileLayers,
) -> Result<()> {
    files.fill(f, origins).map_err(TrackError::from)?;
    Ok(())
}

fn parse_opt<T: std::str::FromStr>(v: &Option<String>) -> Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    v.as_deref()
        .map(|s| s.parse::<T>().map_err(|e| UsageError(e.to_string()).into()))
        .transpose()
}

fn open_ledger(cli_ledger: &Option<String>, files: &FileLayers) -> Result<Box<dyn Ledger>> {
    let spec = match cli_ledger.clone().or_else(|| files.ledger()) {
        Some(s) => s,
        None => ecotrace_ledger::default_path()?
            .to_string_lossy()
            .into_owned(),
    };
    let mut ledger = ecotrace_ledger::open(&spec).with_context(|| {
        format!(
            "cannot open the ledger {}",
            ecotrace_ledger::display_spec(&spec)
        )
    })?;
    print_notices(ledger.as_mut());
    Ok(ledger)
}

/// A PostgreSQL ledger (this binary links the client; `ecotrace-run` hands such runs to it).
fn open_postgres(url: &str) -> Result<Box<dyn Ledger>, ecotrace_ledger::LedgerError> {
    Ok(Box::new(ecotrace_ledger::PostgresLedger::new(url)?))
}

/// The ledger for `run`, `serve` and `attach`: see [`runpath::open_ledger_for_run`].
fn open_ledger_for_run(
    cli_ledger: &Option<String>,
    origins: &Origins,
    files: &FileLayers,
) -> Result<Box<dyn Ledger>> {
    runpath::open_ledger_for_run(cli_ledger, origins, files, &open_postgres)
}

/// `ecotrace runs` when the ledger cannot be read: the runs waiting in its spool, marked as such,
/// with a warning that says why. `Ok(None)` when none wait (the caller reports the error).
fn spooled_listing(
    cli_ledger: &Option<String>,
    files: &FileLayers,
    filter: &RunFilter,
    why: &anyhow::Error,
) -> Result<Option<Vec<ecotrace_core::RunRecord>>> {
    let spec = cli_ledger.clone().or_else(|| files.ledger());
    let Ok(Some((spool, mut runs))) = ecotrace_ledger::spooled_runs(spec.as_deref(), filter) else {
        return Ok(None);
    };
    for r in &mut runs {
        r.tags.insert(
            ecotrace_report::SPOOLED_TAG.into(),
            spool.display().to_string(),
        );
    }
    eprintln!(
        "ecotrace: warning: {why:#}
ecotrace: listing the {} run(s) waiting in the spool {} instead (not in the ledger yet; `ecotrace sync` sends them once it can be written)",
        runs.len(),
        spool.display()
    );
    Ok(Some(runs))
}

/// Runs charged hour by hour drawn over the grid on a report's HTML page (the newest ones).
const MAX_RUN_GRIDS: usize = 5;

/// The grid's hourly intensity around a run charged hour by hour (`show`, the HTML report); `None`
/// for other runs, or when the series cannot be read (a warning says why: it costs the view, not
/// the page).
fn run_grid(run: &ecotrace_core::RunRecord) -> Option<ecotrace_report::GridHours> {
    let (from, n) = ecotrace_report::GridHours::span(run)?;
    let basis = run.intensity.grid_basis.unwrap_or_default();
    ecotrace_tracker::hourly::HourlyCharge::values(&run.intensity.zone, basis, from, n)
        .unwrap_or_else(|e| {
            eprintln!(
                "ecotrace: warning: the grid around the run is not shown (run {}): {e}",
                run.id
            );
            None
        })
        .map(|h| ecotrace_report::GridHours {
            zone: h.zone,
            basis: run.intensity.grid_basis,
            source: h.sources.join("; "),
            first_hour: from,
            values: h.values,
        })
}

/// Runs on a page of `ecotrace runs --page N` without `--limit`.
const RUNS_PAGE_SIZE: usize = 50;

fn dispatch(cli: Cli, origins: Origins) -> Result<i32> {
    let ledger_origin = runpath::ledger_origin(&origins);
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let files = FileLayers::discover(&cwd)?;
    match cli.command {
        Command::Run(cli::RunCmdArgs { green, run: args }) => {
            let mut opts = args.measure.clone();
            opts.origins = origins;
            let mut settings = MeasureSettings::resolve(&opts, &files)?;
            let mut notes = Vec::new();
            if green.when_green {
                let quiet = runpath::quiet(&args, &files);
                match cmd_green::plan_and_wait(&green, &settings, quiet)? {
                    cmd_green::Waited::Cancelled(code) => return Ok(code),
                    cmd_green::Waited::Start(note) => notes.push(note),
                }
                // Resolved again at the start: the hour charged is the one the run starts in. A
                // live provider draws on what is left of the command's one 2 s budget.
                let budget = settings.provider.as_ref().map(|p| p.budget.clone());
                settings = MeasureSettings::resolve_within(&opts, &files, budget)?;
            }
            runpath::run(
                (&cli.global.ledger, &ledger_origin),
                &files,
                args,
                settings,
                notes,
                &open_postgres,
            )
        }
        Command::Serve(args) => {
            let run = args.run;
            let mut opts = run.measure.clone();
            opts.origins = origins;
            let mut settings = cmd_serve::settings(opts, &files)?;
            if let Some(job) = &run.job {
                settings.job = ecotrace_tracker::job::detect_from_env(Some(job));
            }
            let work = cmd_serve::work_source(&args.work, settings.interval)?;
            let quiet = run.quiet || files.quiet().unwrap_or(false);
            let ledger = open_ledger_for_run(&cli.global.ledger, &ledger_origin, &files)?;
            cmd_serve::serve(
                cmd_run::RunOptions {
                    settings,
                    command: run.command,
                    json: run.json,
                    quiet,
                    work,
                    notes: Vec::new(),
                },
                ledger,
            )
        }
        Command::Attach(args) => {
            let mut opts = args.measure.clone();
            opts.origins = origins;
            let settings = cmd_serve::settings(opts, &files)?;
            let work = cmd_serve::work_source(&args.work, settings.interval)?;
            let quiet = args.quiet || files.quiet().unwrap_or(false);
            let ledger = open_ledger_for_run(&cli.global.ledger, &ledger_origin, &files)?;
            cmd_serve::attach(
                args.pid,
                cmd_run::RunOptions {
                    settings,
                    command: Vec::new(),
                    json: args.json,
                    quiet,
                    work,
                    notes: Vec::new(),
                },
                ledger,
            )
        }
        Command::Runs(args) => {
            let filter = RunFilter {
                project: args.project.clone(),
                phase: parse_opt::<Phase>(&args.phase)?,
                status: parse_opt::<RunStatus>(&args.status)?,
                since: None,
                // A page is --limit runs (50 unless given); pages count from 1.
                limit: args.limit.or(args.page.map(|_| RUNS_PAGE_SIZE)),
                offset: match args.page {
                    Some(0) => return Err(UsageError("--page: pages count from 1".into()).into()),
                    Some(p) => (p - 1).saturating_mul(args.limit.unwrap_or(RUNS_PAGE_SIZE)),
                    None => 0,
                },
            };
            let format = if args.json {
                Format::Json
            } else {
                parse_opt::<Format>(&args.format)?.unwrap_or(Format::Table)
            };
            let listed = open_ledger(&cli.global.ledger, &files)
                .and_then(|l| Ok((l.list(&filter)?, l.location())));
            let runs = match listed {
                Ok((runs, location)) if runs.is_empty() && format == Format::Table => {
                    eprintln!(
                        "no runs match in {location}; record one with: ecotrace run -- COMMAND"
                    );
                    return Ok(0);
                }
                Ok((runs, _)) => runs,
                Err(e) => match spooled_listing(&cli.global.ledger, &files, &filter, &e)? {
                    Some(runs) => runs,
                    None => return Err(e),
                },
            };
            let out = match format {
                Format::Table => ecotrace_report::runs_table(&runs),
                Format::Json => ecotrace_report::runs_json(&runs),
                Format::Csv => ecotrace_report::runs_csv(&runs),
                Format::Markdown => ecotrace_report::runs_markdown(&runs),
                Format::CodecarbonCsv => ecotrace_report::codecarbon_csv(&runs),
                Format::Html | Format::Latex | Format::ModelCard => {
                    ecotrace_report::report_document(
                        &runs,
                        format,
                        &ecotrace_report::DocOptions::default(),
                    )
                }
            };
            print_out(&out);
            Ok(0)
        }
        Command::Show(args) => {
            let ledger = open_ledger(&cli.global.ledger, &files)?;
            let run = ledger
                .get(&args.run_id)
                .map_err(|e| UsageError(e.to_string()))?;
            let samples = ledger.samples(&run.id)?;
            let format = if args.json {
                Format::Json
            } else {
                parse_opt::<Format>(&args.format)?.unwrap_or(Format::Table)
            };
            let hours = if matches!(format, Format::Table | Format::Html) {
                ledger.hours(&run.id)?
            } else {
                Vec::new()
            };
            let totals = ecotrace_report::run_hours(&run, &hours);
            // A run charged hour by hour: the grid around it, for the table, JSON and HTML.
            let grid = if matches!(format, Format::Table | Format::Html | Format::Json) {
                run_grid(&run)
            } else {
                None
            };
            let opts = ecotrace_report::DocOptions {
                hours: &totals,
                grid: grid.as_ref(),
                ..doc_options(&args.publish, None, GroupBy::Project)
            };
            let mut out = ecotrace_report::show_document(&run, &samples, format, &opts);
            if format == Format::Table {
                out.push_str(&ecotrace_report::serving_text(&run, &hours));
            }
            emit(&out, &args.publish)
        }
        Command::Report(args) => {
            let ledger = open_ledger(&cli.global.ledger, &files)?;
            if args.by.as_deref().map(str::trim) == Some("hour") {
                return report_by_hour(ledger.as_ref(), &args);
            }
            let by = parse_opt::<GroupBy>(&args.by)?.unwrap_or(GroupBy::Project);
            let format = parse_opt::<Format>(&args.format)?.unwrap_or(Format::Table);
            let filter = report_filter(&args)?;
            let no_runs = || -> Result<i32> {
                match &args.project {
                    Some(p) => Err(UsageError(format!(
                        "no runs of project {p:?} in {}; `ecotrace runs` lists what is there",
                        ledger.location()
                    ))
                    .into()),
                    None => Ok(0),
                }
            };
            if args.lifecycle {
                // Read one run at a time: only job keys and machine-scope job runs are kept.
                let mut sums = ecotrace_report::LifecycleSums::default();
                let mut n = 0usize;
                ledger.scan(&filter, &mut |r| {
                    n += 1;
                    sums.push(r);
                    true
                })?;
                if n == 0 {
                    no_runs()?;
                }
                let project = args.project.as_deref().unwrap_or_default();
                if let Some(n) = args.requests_per_day {
                    if !(n.is_finite() && n >= 0.0) {
                        return Err(UsageError(format!(
                            "--requests-per-day {n}: give a number of requests a day, 0 or more"
                        ))
                        .into());
                    }
                }
                let l = sums.finish(args.requests_per_day);
                let out = ecotrace_report::render_lifecycle(project, &l, format);
                return emit(&out, &args.publish);
            }
            if matches!(
                format,
                Format::Table | Format::Json | Format::Csv | Format::Markdown
            ) {
                // Summed by the database; only runs it cannot sum are read as records.
                let sums = ledger.group_sums(&filter, sum_key(by))?;
                if sums.groups.is_empty() && sums.apart.is_empty() {
                    no_runs()?;
                }
                let summed = sums.groups.into_iter().map(group_of).collect();
                let (groups, total) = ecotrace_report::aggregate_with(summed, &sums.apart, by);
                let out = ecotrace_report::render_report(&groups, &total, by, format);
                return emit(&out, &args.publish);
            }
            // The other formats read the runs one at a time: nothing holds them all.
            let none = ledger
                .list(&RunFilter {
                    limit: Some(1),
                    ..filter.clone()
                })?
                .is_empty();
            if none {
                no_runs()?;
            }
            if format == Format::CodecarbonCsv {
                return emit_with(&args.publish, &mut |w| {
                    w.write_all(ecotrace_report::codecarbon_csv_header().as_bytes())?;
                    let mut failed = None;
                    ledger.scan(&filter, &mut |r| {
                        let row = ecotrace_report::codecarbon_csv_row(&r);
                        match w.write_all(row.as_bytes()) {
                            Ok(()) => true,
                            Err(e) => {
                                failed = Some(e);
                                false
                            }
                        }
                    })?;
                    failed.map_or(Ok(()), |e| Err(e.into()))
                });
            }
            let subject = match (&args.project, &args.phase) {
                (Some(p), Some(ph)) => Some(format!("project {p}, phase {ph}")),
                (Some(p), None) => Some(format!("project {p}")),
                (None, Some(ph)) => Some(format!("phase {ph}")),
                (None, None) => None,
            };
            let set = run_set(ledger.as_ref(), &filter, by, args.publish.metric.as_deref())?;
            let hours = if format == Format::Html {
                serving_hours(ledger.as_ref(), &filter)?
            } else {
                Vec::new()
            };
            let mut run_grids = Vec::new();
            if format == Format::Html {
                // The newest runs charged hour by hour, each over the grid around it.
                for r in set.newest().iter().filter(|r| {
                    r.intensity.resolution == ecotrace_core::IntensityResolution::Hourly
                }) {
                    if run_grids.len() == MAX_RUN_GRIDS {
                        break;
                    }
                    if let Some(grid) = run_grid(r) {
                        run_grids.push(ecotrace_report::RunGrid {
                            run: r.clone(),
                            samples: ledger.samples(&r.id)?,
                            grid,
                        });
                    }
                }
            }
            let opts = ecotrace_report::DocOptions {
                hours: &hours,
                run_grids: &run_grids,
                ..doc_options(&args.publish, subject.as_deref(), by)
            };
            let out = ecotrace_report::set_document(&set, format, &opts);
            emit(&out, &args.publish)
        }
        Command::Import(args) => match args.what {
            ImportWhat::Codecarbon {
                file,
                project,
                phase,
            } => import_codecarbon(&cli.global.ledger, &files, &file, project, phase),
        },
        Command::Doctor(args) => {
            let mut opts = args.measure.clone();
            opts.origins = origins;
            let settings = MeasureSettings::resolve(&opts, &files)?;
            print_out(&doctor(&settings));
            Ok(0)
        }
        Command::Agent(args) => cmd_agent::run(&args, origins, &files),
        Command::Ledger(args) => match args.what {
            LedgerWhat::Compact { older_than, bucket } => {
                let age = parse_age(&older_than, "--older-than")?;
                let width = parse_age(&bucket, "--bucket")?;
                if width.is_zero() {
                    return Err(UsageError("--bucket: must be longer than 0".into()).into());
                }
                let cutoff = chrono::Utc::now()
                    - chrono::Duration::from_std(age)
                        .map_err(|_| UsageError(format!("--older-than {older_than}: too long")))?;
                let mut ledger = open_ledger(&cli.global.ledger, &files)?;
                let r = ledger.compact_samples(cutoff, width)?;
                println!(
                    "compacted the samples of {} run(s) that ended before {} in {}: {} samples -> {} (one per {bucket})",
                    r.runs,
                    cutoff.format("%Y-%m-%d %H:%M UTC"),
                    ledger.location(),
                    r.samples_before,
                    r.samples_after
                );
                Ok(0)
            }
        },
        Command::Sync => {
            let mut ledger = open_ledger(&cli.global.ledger, &files)?;
            let report = ledger.sync()?;
            print_notices(ledger.as_mut());
            match &report.spool {
                None => println!("{} has no spool: nothing to send", ledger.location()),
                Some(spool) => {
                    println!(
                        "sent {} run(s) from {} to {}; {} still waiting{}",
                        report.sent.len(),
                        spool.display(),
                        ledger.location(),
                        report.waiting,
                        if report.skipped > 0 {
                            format!(
                                "; {} sent or being sent by another ecotrace process",
                                report.skipped
                            )
                        } else {
                            String::new()
                        }
                    );
                    if let Some(e) = report.error {
                        anyhow::bail!("{e}; the runs keep waiting in {}", spool.display());
                    }
                }
            }
            Ok(0)
        }
        Command::Estimate(args) => {
            let (e, store, phase) = match &args.mode {
                Some(cli::EstimateMode::Inference(i)) => (
                    {
                        let mut o = i.to_options();
                        o.origins = origins;
                        estimate_factors(&mut o.factors, &mut o.origins, &files)?;
                        ecotrace_estimator::run_inference(&o)?
                    },
                    (i.add_to_project.clone(), i.phase.clone(), i.json),
                    Phase::Inference,
                ),
                None => (
                    {
                        let mut o = args.to_options();
                        o.origins = origins;
                        estimate_factors(&mut o.factors, &mut o.origins, &files)?;
                        ecotrace_estimator::run_estimate(&o)?
                    },
                    (args.add_to_project.clone(), args.phase.clone(), args.json),
                    Phase::Training,
                ),
            };
            let (project, phase_arg, json) = store;
            if let Some(project) = project {
                let phase = parse_opt::<Phase>(&phase_arg)?.unwrap_or(phase);
                let mut record = ecotrace_estimator::estimate_record(
                    &e,
                    &project,
                    phase,
                    std::env::args().collect(),
                );
                let mut ledger = open_ledger(&cli.global.ledger, &files)?;
                let final_status = RunStatus::Finished;
                ledger.begin(&record)?;
                record.status = final_status;
                ledger.finish(&record, &[])?;
                eprintln!(
                    "stored as estimated run {} of project {project} ({phase}) in {}",
                    &record.id[..8],
                    ledger.location()
                );
            }
            if json {
                print_out(&serde_json::to_string_pretty(
                    &ecotrace_report::estimate_json(&e),
                )?);
            } else {
                print_out(&ecotrace_report::estimate_text(
                    &e,
                    &ecotrace_report::estimate_title(&e),
                ));
            }
            Ok(0)
        }
        Command::Compare(args) => {
            let mut o = args.to_options();
            o.origins = origins;
            estimate_factors(&mut o.factors, &mut o.origins, &files)?;
            let rows = ecotrace_estimator::run_compare(&o)?;
            if args.json {
                print_out(&serde_json::to_string_pretty(
                    &ecotrace_report::compare_json(&rows),
                )?);
            } else {
                print_out(&ecotrace_report::compare_text(&rows));
            }
            Ok(0)
        }
        Command::Data(args) => match args.what {
            DataWhat::Zones { json } => {
                print_out(&ecotrace_report::data_zones(json));
                Ok(0)
            }
            DataWhat::Hardware { json, cpus } => {
                print_out(&ecotrace_report::data_hardware(json, cpus)?);
                Ok(0)
            }
            DataWhat::Licenses { json } => {
                print_out(&ecotrace_report::data_licenses(json));
                Ok(0)
            }
            DataWhat::ImportHourly { file } => {
                print_out(&cmd_plan::import(&file)?);
                Ok(0)
            }
        },
        Command::Plan(args) => {
            print_out(&cmd_plan::run(&args, &files)?);
            Ok(0)
        }
    }
}

/// The ledger's grouping for a report's.
fn sum_key(by: GroupBy) -> ecotrace_ledger::SumKey {
    use ecotrace_ledger::SumKey;
    match by {
        GroupBy::Phase => SumKey::Phase,
        GroupBy::Project => SumKey::Project,
        GroupBy::Day => SumKey::Day,
        GroupBy::Month => SumKey::Month,
        GroupBy::Status => SumKey::Status,
        GroupBy::Job => SumKey::Job,
    }
}

/// A group the ledger summed, as a report's group.
fn group_of(s: ecotrace_ledger::RunSums) -> ecotrace_report::Group {
    let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    ecotrace_report::Group {
        key: s.key,
        runs: n(s.runs),
        failed_runs: n(s.failed_runs),
        duration: s.duration,
        energy: s.energy,
        operational: s.operational,
        embodied: s.embodied,
        embodied_runs: n(s.embodied_runs),
        water: s.water,
        water_runs: n(s.water_runs),
        cost: s.cost,
        cost_runs: n(s.cost_runs),
        bases: ecotrace_report::BasisMix::of(s.grid_basis, s.signal, n(s.runs)),
    }
}

/// The runs `filter` selects as the published formats show them: summed per group by the
/// database (by `by`, by phase and by day), everything else read one run at a time into a digest
/// of bounded size (see `ecotrace_report::RunSet`).
fn run_set(
    ledger: &dyn Ledger,
    filter: &RunFilter,
    by: GroupBy,
    metric: Option<&str>,
) -> Result<ecotrace_report::RunSet> {
    let summed = |key: GroupBy| -> Result<(Vec<ecotrace_report::Group>, ecotrace_report::Group)> {
        let sums = ledger.group_sums(filter, sum_key(key))?;
        let groups = sums.groups.into_iter().map(group_of).collect();
        Ok(ecotrace_report::aggregate_with(groups, &sums.apart, key))
    };
    let (groups, total) = summed(by)?;
    let other = |key: GroupBy| -> Result<Vec<ecotrace_report::Group>> {
        Ok(if key == by {
            groups.clone()
        } else {
            summed(key)?.0
        })
    };
    let phases = other(GroupBy::Phase)?;
    let days = other(GroupBy::Day)?;
    let mut digest = ecotrace_report::RunDigest::new(metric);
    ledger.scan(filter, &mut |r| {
        digest.push(&r);
        true
    })?;
    Ok(digest.finish(ecotrace_report::Summed {
        by,
        groups,
        total,
        phases,
        days,
    }))
}

/// The hourly rows of the serving runs `filter` selects, summed by hour (one total per hour is
/// held, however many runs).
fn serving_hours(
    ledger: &dyn Ledger,
    filter: &RunFilter,
) -> Result<Vec<ecotrace_core::serving::HourTotal>> {
    let mut served = Vec::new();
    ledger.scan_with_hours(filter, &mut |r| {
        served.push((ecotrace_core::serving::Factors::of(&r), r.id));
        true
    })?;
    let mut sums = ecotrace_core::serving::HourSums::default();
    for (factors, id) in served {
        for h in ledger.hours(&id)? {
            sums.push(&h, &factors);
        }
    }
    Ok(sums.finish())
}

/// The runs a `report` covers: its project and phase, every status, no limit.
fn report_filter(args: &cli::ReportArgs) -> Result<RunFilter> {
    Ok(RunFilter {
        project: args.project.clone(),
        phase: parse_opt::<Phase>(&args.phase)?,
        status: None,
        since: None,
        limit: None,
        offset: 0,
    })
}

/// `report --by hour`: the hourly rows of the runs that counted work, summed by hour.
fn report_by_hour(ledger: &dyn Ledger, args: &cli::ReportArgs) -> Result<i32> {
    let format = parse_opt::<Format>(&args.format)?.unwrap_or(Format::Table);
    if !matches!(
        format,
        Format::Table | Format::Json | Format::Csv | Format::Markdown
    ) {
        return Err(UsageError(format!(
            "--by hour is written as table, json, csv or markdown, not {}",
            args.format.as_deref().unwrap_or_default()
        ))
        .into());
    }
    let totals = serving_hours(ledger, &report_filter(args)?)?;
    let out = ecotrace_report::hour_totals_report(&totals, format);
    emit(&out, &args.publish)
}

/// `90d`, `12h`, `30m`, `45s` (a whole number and a unit) as a duration; else a usage error naming
/// `flag`.
fn doc_options<'a>(
    p: &'a PublishArgs,
    subject: Option<&'a str>,
    by: GroupBy,
) -> ecotrace_report::DocOptions<'a> {
    ecotrace_report::DocOptions {
        subject,
        group_by: by,
        metric: p.metric.as_deref(),
        training_type: p.training_type.as_deref(),
        hours: &[],
        grid: None,
        run_grids: &[],
    }
}

/// Prints `out`, or writes it to `--output`: to a temporary file beside it, then renamed over it,
/// so a reader never sees half a report.
fn emit(out: &str, p: &PublishArgs) -> Result<i32> {
    emit_with(p, &mut |w| {
        w.write_all(out.as_bytes())?;
        if !out.ends_with('\n') {
            w.write_all(b"\n")?;
        }
        Ok(())
    })
}

/// [`emit`] of what `write` writes, as it writes it. On standard output a reader that went away
/// (a closed pipe) ends the output quietly.
fn emit_with(
    p: &PublishArgs,
    write: &mut dyn FnMut(&mut dyn std::io::Write) -> Result<()>,
) -> Result<i32> {
    use std::io::Write as _;
    let Some(path) = &p.output else {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let written = write(&mut out).and_then(|()| Ok(out.flush()?));
        return match written {
            Err(e)
                if e.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
            {
                Ok(0)
            }
            Err(e) => Err(e),
            Ok(()) => Ok(0),
        };
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".to_string());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::File::create(&tmp)
        .map_err(anyhow::Error::new)
        .and_then(|f| {
            let mut w = Counted {
                inner: std::io::BufWriter::new(f),
                bytes: 0,
            };
            write(&mut w)?;
            w.inner
                .into_inner()
                .map_err(|e| e.into_error())?
                .sync_all()?;
            Ok(w.bytes)
        })
        .and_then(|bytes| {
            std::fs::rename(&tmp, path)?;
            Ok(bytes)
        });
    match written {
        Ok(bytes) => {
            eprintln!("ecotrace: wrote {} ({bytes} bytes)", path.display());
            Ok(0)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e.context(format!("cannot write {}", path.display())))
        }
    }
}

/// A writer that counts the bytes written through it.
struct Counted<W> {
    inner: W,
    bytes: usize,
}

impl<W: std::io::Write> std::io::Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// `ecotrace import codecarbon FILE`: parse the whole file first (a bad row imports nothing), then
/// store the runs in one go.
fn import_codecarbon(
    cli_ledger: &Option<String>,
    files: &FileLayers,
    file: &std::path::Path,
    project: Option<String>,
    phase: Option<String>,
) -> Result<i32> {
    let phase = parse_opt::<Phase>(&phase)?;
    let name = file.display().to_string();
    let opts = ecotrace_report::ImportOptions {
        source_name: &name,
        project: project.as_deref(),
        phase,
    };
    let open = || -> Result<_> {
        let f = std::fs::File::open(file).with_context(|| format!("cannot read {name}"))?;
        ecotrace_report::CodecarbonRows::new(std::io::BufReader::with_capacity(1 << 16, f))
            .map_err(|e| anyhow::anyhow!("{name}: {e}; nothing was imported"))
    };
    // First pass: every row is read and checked, so that a bad row stops the import before
    // anything is stored; of the rows of one run (CodeCarbon appends cumulative rows), the
    // longest is the run. Only a 16-byte hash of each run id is kept, never the records.
    let mut rows = open()?;
    let mut best: std::collections::HashMap<u128, (u64, f64, u32)> =
        std::collections::HashMap::new();
    let mut n = 0u64;
    while let Some(row) = rows.next_row() {
        let row = row
            .and_then(|row| rows.record(&row, 1, &opts).map(|_| row))
            .map_err(|e| anyhow::anyhow!("{name}: {e}; nothing was imported"))?;
        let e = best
            .entry(id_hash(&row.id))
            .or_insert((n, row.duration_s, 0));
        e.2 += 1;
        if row.duration_s >= e.1 {
            (e.0, e.1) = (n, row.duration_s);
        }
        n += 1;
    }
    if n == 0 {
        anyhow::bail!("{name}: the file has a header but no rows; nothing was imported");
    }
    // Second pass: the runs, stored a batch (one transaction) at a time.
    let mut ledger = open_ledger(cli_ledger, files)?;
    let mut rows = open()?;
    let (mut imported, mut kwh, mut kg) = (0usize, 0.0, 0.0);
    let mut skipped: Vec<String> = Vec::new();
    let mut skipped_count = 0usize;
    // Runs per transaction; ECOTRACE_IMPORT_BATCH tunes it (and lets tests use small files).
    let batch_size = std::env::var("ECOTRACE_IMPORT_BATCH")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(IMPORT_BATCH);
    let mut flush = |batch: &mut Vec<ecotrace_core::RunRecord>, ledger: &mut Box<dyn Ledger>| {
        let report = ledger.import(batch).with_context(|| {
            format!(
                "cannot import {name} into {}; the {imported} run(s) before this batch are stored, and importing the file again adds the rest",
                ledger.location()
            )
        })?;
        let new_ids: std::collections::HashSet<&str> =
            report.imported.iter().map(String::as_str).collect();
        for r in batch.iter().filter(|r| new_ids.contains(r.id.as_str())) {
            kwh += r.energy_kwh.total.kwh();
            kg += r.operational.kg();
        }
        imported += report.imported.len();
        skipped_count += report.skipped.len();
        let room = SKIPPED_LISTED.saturating_sub(skipped.len());
        skipped.extend(report.skipped.into_iter().take(room));
        batch.clear();
        anyhow::Ok(())
    };
    // The records are built on a second thread while the ledger stores the batch before (the
    // database server, or SQLite, works while the next batch is read): at most three batches
    // exist at once, one being built, one waiting and one being stored.
    std::thread::scope(|s| -> Result<()> {
        let (send, batches) =
            std::sync::mpsc::sync_channel::<Result<Vec<ecotrace_core::RunRecord>>>(1);
        let (best, opts, name) = (&best, &opts, &name);
        s.spawn(move || {
            let mut batch = Vec::with_capacity(batch_size);
            let mut i = 0u64;
            while let Some(row) = rows.next_row() {
                let record = row.and_then(|row| match best.get(&id_hash(&row.id)) {
                    Some(&(keep, _, count)) if keep == i => {
                        rows.record(&row, count as usize, opts).map(Some)
                    }
                    _ => Ok(None),
                });
                i += 1;
                match record {
                    Ok(Some(r)) => batch.push(r),
                    Ok(None) => continue,
                    Err(e) => {
                        let _ =
                            send.send(Err(anyhow::anyhow!("{name} changed while importing: {e}")));
                        return;
                    }
                }
                if batch.len() >= batch_size {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
                    if send.send(Ok(full)).is_err() {
                        return; // the import stopped: nothing more to build
                    }
                }
            }
            let _ = send.send(Ok(batch));
        });
        for built in batches {
            flush(&mut built?, &mut ledger)?;
        }
        Ok(())
    })?;
    if imported > 0 {
        if let Err(e) = ledger.tidy_after_import() {
            eprintln!(
                "ecotrace: warning: the runs are stored, but tidying the ledger after the import failed ({e}); reports read it as it is, and the database's own maintenance catches up later"
            );
        }
    }
    println!(
        "imported {} from {name} into {}",
        ecotrace_report::import_totals(imported, kwh, kg),
        ledger.location()
    );
    if skipped_count > 0 {
        let more = skipped_count - skipped.len();
        println!(
            "skipped {skipped_count} already in the ledger: {}{}",
            skipped.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
    Ok(0)
}

/// Runs stored per transaction by `import codecarbon`, unless `ECOTRACE_IMPORT_BATCH` says.
const IMPORT_BATCH: usize = 2_000;

/// Skipped run ids `import codecarbon` names (it counts the others).
const SKIPPED_LISTED: usize = 20;

/// A 128-bit hash of a run id: two SipHash values, which never collide in practice.
fn id_hash(id: &str) -> u128 {
    use std::hash::{Hash, Hasher};
    let h = |salt: u8| {
        let mut s = std::collections::hash_map::DefaultHasher::new();
        salt.hash(&mut s);
        id.hash(&mut s);
        s.finish()
    };
    (u128::from(h(1)) << 64) | u128::from(h(2))
}

fn print_out(s: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
    if !s.ends_with('\n') {
        let _ = out.write_all(b"\n");
    }
}

/// What `doctor` finds here, rendered by `ecotrace-report`.
fn doctor(s: &MeasureSettings) -> String {
    let roots = ecotrace_sensors::Roots::from_env();
    let mut cfg = ecotrace_sensors::discover::SensorConfig::new(s.scope, s.cpu_power, s.ram_power);
    cfg.gpus = s.gpus.clone();
    let d = ecotrace_sensors::discover::discover(&cfg, &roots);
    let mut in_use = Vec::new();
    for sensor in &d.sensors {
        for (i, dev) in sensor.devices().iter().enumerate() {
            in_use.push(ecotrace_report::DoctorDevice {
                component: sensor.component().as_str().to_string(),
                device: dev.to_string(),
                method: sensor.method(i).as_str().to_string(),
                note: sensor.note(i).to_string(),
            });
        }
    }
    ecotrace_report::doctor(&ecotrace_report::Doctor {
        version: env!("CARGO_PKG_VERSION"),
        cpu_model: d.cpu.model_name.clone(),
        logical_cpus: d.cpu.logical_cpus,
        sockets: d.cpu.sockets,
        gpus: d.gpus.clone(),
        checks: d
            .diagnostics
            .iter()
            .map(|c| ecotrace_report::DoctorCheck {
                sensor: c.sensor.to_string(),
                ok: c.ok,
                detail: c.detail.clone(),
                fix: c.fix.clone(),
            })
            .collect(),
        scope: s.scope.to_string(),
        in_use,
        place: &s.place,
        notes: &s.notes,
        live: s.live.as_ref().map(|l| ecotrace_report::DoctorLive {
            provider: l.provider.name().to_string(),
            zone: l.zone.clone(),
            answer: match &l.result {
                Ok(r) => Ok(format!(
                    "{} gCO2e/kWh for {} ({}{}){}",
                    ecotrace_core::human::num(r.g_per_kwh),
                    r.at.format("%Y-%m-%d %H:%M UTC"),
                    r.signal.as_str(),
                    r.basis
                        .map(|b| format!(", {}", b.label()))
                        .unwrap_or_default(),
                    if r.cached {
                        format!(
                            "; cached answer from {} (not asked again until it expires)",
                            r.fetched_at.format("%H:%M:%S UTC")
                        )
                    } else {
                        String::new()
                    }
                )),
                Err(e) => Err(e.to_string()),
            },
        }),
    })
}
