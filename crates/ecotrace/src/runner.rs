//! `ecotrace-run`: `ecotrace run` in a small binary, so that a tracker costs the machine little
//! memory (its resident size is mostly the code it maps: docs/benchmarks.md). `ecotrace run ...`
//! execs it when it is beside `ecotrace`. It links no HTTP client, PostgreSQL client, reports or
//! planner: a run that needs one (`--when-green`, a PostgreSQL ledger, a live grid provider) is
//! handed back to `ecotrace` before anything starts, and so are help, version and every usage
//! error, which `ecotrace` words. Otherwise it runs exactly the code `ecotrace run` runs
//! (`runpath`, `cmd_run`, `child`).

mod child;
// The whole command line's definitions are compiled in; this binary uses `run`'s.
#[allow(dead_code, unused_imports)]
mod cli;
#[allow(dead_code)]
mod cmd_run;
#[allow(dead_code)]
mod runpath;

use std::cell::Cell;
use std::ffi::OsString;

use anyhow::{Context, Result};
use clap::{CommandFactory, FromArgMatches};
use ecotrace_factors::{Origins, Via};
use ecotrace_tracker::live::LiveOutcome;
use ecotrace_tracker::{FileLayers, MeasureSettings};

use cli::{GlobalArgs, RunCmdArgs, RunOnly, RunOnlyCli};
use runpath::exec_full;

fn main() {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let mut cmd = RunOnlyCli::command();
    let Ok(matches) = cmd.try_get_matches_from_mut(&argv) else {
        exec_full(&argv, "this command line")
    };
    let Ok(cli) = RunOnlyCli::from_arg_matches(&matches) else {
        exec_full(&argv, "this command line")
    };
    let origins = Origins::from_subcommand_matches(&cmd, &matches, Via::Flag);
    let RunOnly::Run(args) = cli.command;
    if args.green.when_green {
        exec_full(&argv, "--when-green");
    }
    std::process::exit(runpath::exit_code(run(&argv, &cli.global, args, origins)));
}

fn run(argv: &[OsString], global: &GlobalArgs, args: RunCmdArgs, origins: Origins) -> Result<i32> {
    let ledger_origin = runpath::ledger_origin(&origins);
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let files = FileLayers::discover(&cwd)?;
    // The ledger spec: `--ledger` (or `ECOTRACE_LEDGER`), else the config files'.
    let spec = global.ledger.clone().or_else(|| files.ledger());
    if spec.is_some_and(|s| ecotrace_ledger::names_postgres(&s)) {
        exec_full(argv, "a PostgreSQL ledger");
    }
    let args = args.run;
    let mut opts = args.measure.clone();
    opts.origins = origins;
    let asked = Cell::new(false);
    let settings = MeasureSettings::resolve_with(&opts, &files, None, &|cfg, _, _| {
        asked.set(true);
        LiveOutcome::not_asked(cfg.kind, "asked by `ecotrace`")
    })?;
    if asked.get() {
        exec_full(argv, "a live grid provider");
    }
    runpath::run(
        (&global.ledger, &ledger_origin),
        &files,
        args,
        settings,
        Vec::new(),
        &|url| {
            Err(ecotrace_ledger::LedgerError::Unsupported {
                spec: url.to_string(),
                reason: "a PostgreSQL ledger is opened by `ecotrace`, not `ecotrace-run`".into(),
            })
        },
    )
}
