//! Command-line definitions. Every option is defined once (name, help, environment variable): the
//! measure and factor options in `ecotrace-factors` (shared with the config file and the Python
//! package), the flags of `estimate` and `compare` in `ecotrace-estimator`, the rest here. No logic
//! lives here.

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ecotrace",
    version,
    about = "Measure the energy, carbon and water of ML work",
    long_about = "ecotrace measures what a command costs the planet — energy from hardware counters \
                  where the machine has them (RAPL, NVML), estimated from utilization where it has \
                  none — turns it into CO2e with a named grid intensity and PUE, and keeps every run \
                  in a local ledger.\n\nStart with: ecotrace run -- python train.py"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// The options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Ledger to use: a SQLite file path, or a shared PostgreSQL database
    /// (postgres://USER:PASSWORD@HOST:PORT/DB) [default: $XDG_DATA_HOME/ecotrace/ledger.db]
    #[arg(long, global = true, env = "ECOTRACE_LEDGER", value_name = "PATH|URL")]
    pub ledger: Option<String>,
}

/// `ecotrace run` alone, with the same definitions as [`Cli`]'s: what `ecotrace-run` parses
/// (anything else it hands to `ecotrace`).
#[derive(Debug, Parser)]
#[command(name = "ecotrace", version)]
pub struct RunOnlyCli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: RunOnly,
}

#[derive(Debug, Subcommand)]
pub enum RunOnly {
    /// Run a command and measure its energy and carbon: ecotrace run [OPTIONS] -- COMMAND [ARGS...]
    Run(RunCmdArgs),
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command and measure its energy and carbon: ecotrace run [OPTIONS] -- COMMAND [ARGS...]
    Run(RunCmdArgs),
    /// Start a model server and measure it until it exits, per request and per 1,000 generated
    /// tokens: ecotrace serve [OPTIONS] --metrics-url URL -- COMMAND [ARGS...]
    Serve(ServeArgs),
    /// Measure a process tree that is already running (a model server), until it exits or
    /// ecotrace is interrupted (the process is left alone): ecotrace attach --pid PID [OPTIONS]
    Attach(AttachArgs),
    /// List runs in the ledger
    Runs(RunsArgs),
    /// Show one run
    Show(ShowArgs),
    /// Total energy and emissions of runs, grouped; or a page, paper table or model card of them
    Report(ReportArgs),
    /// Read runs measured by another tool into the ledger (ecotrace import codecarbon FILE)
    Import(ImportArgs),
    /// Check which sensors work on this machine and how to fix those that don't
    Doctor(DoctorArgs),
    /// List the bundled data (grid zones, cloud regions, hardware) with their sources
    Data(DataArgs),
    /// Estimate a job's energy, carbon (operational and embodied), water and cost before running it
    Estimate(Box<EstimateArgs>),
    /// The same job across hardware and regions, sorted by carbon
    Compare(CompareArgs),
    /// The region and start hour whose window has the cleanest grid, by a deadline
    Plan(PlanCliArgs),
    /// Send runs kept locally while a shared (PostgreSQL) ledger was unreachable, or while the
    /// ledger could not be written (the fallback spool)
    Sync,
    /// Maintain the ledger (ecotrace ledger compact --older-than 90d)
    Ledger(LedgerArgs),
    /// Run the node agent: measure this machine continuously, attribute its energy to SLURM jobs,
    /// Kubernetes pods and containers, serve Prometheus metrics, and measure unprivileged runs
    Agent(AgentArgs),
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Address to serve Prometheus metrics on, at /metrics [default: 127.0.0.1:9464]
    #[arg(long, env = "ECOTRACE_AGENT_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,

    /// Unix socket unprivileged `ecotrace run` asks for counter-based energy; `none` for no socket
    /// [default: /run/ecotrace/agent.sock]
    #[arg(long, env = "ECOTRACE_AGENT_SOCKET", value_name = "PATH")]
    pub socket: Option<String>,

    /// File mode of the socket, octal: who may ask (each only about their own processes)
    /// [default: 666]
    #[arg(long, value_name = "MODE")]
    pub socket_mode: Option<String>,

    /// Limits of the socket: --socket-idle-timeout, --socket-max-per-uid, --socket-max-clients,
    /// --socket-max-request (also config-file keys, e.g. socket_max_per_uid = 16)
    #[command(flatten)]
    pub socket_limits: ecotrace_factors::AgentSocketArgs,

    /// Count a model server's work for a workload and expose its energy per request and per
    /// 1,000 generated tokens: WORKLOAD=URL, the workload label as the agent's metrics name it
    /// (e.g. slurm:42) and the server's Prometheus endpoint (vLLM and TGI recognised);
    /// repeatable
    #[arg(long, value_name = "WORKLOAD=URL")]
    pub serving: Vec<String>,

    /// Sampling interval, grid zone or intensity, PUE, CPU/RAM power, GPUs measured (--gpus): as
    /// for `ecotrace run`
    #[command(flatten)]
    pub measure: MeasureArgs,
}

/// Options that decide what is measured and how it is turned into carbon, defined once in
/// `ecotrace-factors` (with the factor options every command shares).
pub use ecotrace_factors::MeasureArgs;

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub measure: MeasureArgs,

    /// Print the finished run record as JSON on stdout
    #[arg(long)]
    pub json: bool,

    /// The distributed job this run is part of, the same on every node and rank [default: from
    /// SLURM_JOB_ID, TORCHELASTIC_RUN_ID or the Kubernetes pod, if any]
    #[arg(long, env = "ECOTRACE_JOB", value_name = "ID")]
    pub job: Option<String>,

    /// Print nothing of ecotrace's own on stderr (errors excepted)
    #[arg(long, short, env = "ECOTRACE_QUIET")]
    pub quiet: bool,

    /// The command to run, after `--`. An unknown option before it is an error, not a command
    #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// `ecotrace run`: the run's options and, with `--when-green`, when to start it.
#[derive(Debug, Args)]
pub struct RunCmdArgs {
    #[command(flatten)]
    pub green: WhenGreenArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

/// `ecotrace run --when-green`: wait for the cleanest start before the deadline (the planner of
/// `ecotrace plan`, in the run's own region: the command runs here, only its start moves).
#[derive(Debug, Args, Default, Clone)]
pub struct WhenGreenArgs {
    /// Start the command at the hour whose window has the cleanest grid in the run's region,
    /// finishing by --deadline (as `ecotrace plan`); Ctrl-C while waiting exits 130 and records
    /// nothing
    #[arg(long)]
    pub when_green: bool,
    /// How long the command runs: 6h, 90m, 2d (rounded up to whole hours) [default: 1h, said in
    /// the output]
    #[arg(long, value_name = "DURATION", requires = "when_green")]
    pub duration: Option<String>,
    /// Latest end: RFC 3339, or a duration from now (from --start-after if given) (12h, 2d)
    /// [default: the earliest start + duration + 24h]
    #[arg(long, value_name = "TIME|DURATION", requires = "when_green")]
    pub deadline: Option<String>,
    /// Earliest start, RFC 3339 (2026-12-05T22:00Z), rounded up to the hour [default: now]
    #[arg(long, value_name = "TIME", requires = "when_green")]
    pub start_after: Option<String>,
    /// Year whose same calendar hours stand in for dates without data [default: the most recent
    /// year with data for the region]
    #[arg(long, value_name = "YEAR", requires = "when_green")]
    pub profile_year: Option<i32>,
}

/// How the work of a server is counted (`serve`, `attach`).
#[derive(Debug, Args, Default, Clone)]
pub struct WorkArgs {
    /// The server's Prometheus endpoint, read every sampling interval: vLLM and TGI metrics are
    /// recognised; name other servers' counters with --requests-metric and --tokens-metric.
    /// Without it, work is counted only from `count` lines in $ECOTRACE_WINDOWS (serve)
    #[arg(long, env = "ECOTRACE_METRICS_URL", value_name = "URL")]
    pub metrics_url: Option<String>,
    /// Counter of requests served, for a server that is neither vLLM nor TGI
    #[arg(long, value_name = "NAME", requires = "metrics_url")]
    pub requests_metric: Option<String>,
    /// Counter (or histogram _sum) of generated tokens
    #[arg(long, value_name = "NAME", requires = "requests_metric")]
    pub tokens_metric: Option<String>,
    /// Counter (or histogram _sum) of prompt tokens
    #[arg(long, value_name = "NAME", requires = "requests_metric")]
    pub prompt_tokens_metric: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub work: WorkArgs,
    /// Options of `run` (phase defaults to inference)
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The process to measure, with its descendants
    #[arg(long, value_name = "PID")]
    pub pid: u32,
    #[command(flatten)]
    pub work: WorkArgs,
    #[command(flatten)]
    pub measure: MeasureArgs,
    /// Print the finished run record as JSON on stdout
    #[arg(long)]
    pub json: bool,
    /// Print nothing of ecotrace's own on stderr (errors excepted)
    #[arg(long, short, env = "ECOTRACE_QUIET")]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only runs of this project
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    /// Only runs of this phase
    #[arg(long, value_name = "PHASE")]
    pub phase: Option<String>,
    /// Only runs with this status: running, finished, failed, failed-to-start, interrupted
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// At most this many runs, newest first
    #[arg(long, short = 'n', value_name = "N")]
    pub limit: Option<usize>,
    /// Page N of the list, newest first (pages of --limit runs, 50 by default)
    #[arg(long, value_name = "N")]
    pub page: Option<usize>,
    /// Print the runs as a JSON list of run records
    #[arg(long)]
    pub json: bool,
    /// Output format: table, json, csv, markdown, codecarbon-csv; or html, latex, model-card for a
    /// report of the listed runs [default: table]
    #[arg(long, value_name = "FORMAT", conflicts_with = "json")]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Run id, or a unique prefix of it (at least 4 characters)
    pub run_id: String,
    /// Print the run record as JSON
    #[arg(long)]
    pub json: bool,
    /// Output format: table, json, csv, markdown, html (a page with the power chart), latex,
    /// model-card, codecarbon-csv [default: table]
    #[arg(long, value_name = "FORMAT", conflicts_with = "json")]
    pub format: Option<String>,
    #[command(flatten)]
    pub publish: PublishArgs,
}

/// Where and how a report or a run is written (`show` and `report`).
#[derive(Debug, Args, Default, Clone)]
pub struct PublishArgs {
    /// Write to FILE instead of standard output (replaced whole, never half-written)
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Metric to set against kgCO2e in the HTML report's scatter, e.g. val_accuracy [default:
    /// val_accuracy, else the metric most runs logged]
    #[arg(long, value_name = "NAME")]
    pub metric: Option<String>,
    /// training_type of the model card: pre-training or fine-tuning [default: the runs'
    /// training_type tag]
    #[arg(long, value_name = "TYPE")]
    pub training_type: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Only runs of this project
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    /// Only runs of this phase
    #[arg(long, value_name = "PHASE")]
    pub phase: Option<String>,
    /// Group by: phase, project, day, month, status, job (all nodes of a job summed), hour (the hourly
    /// rows of serving runs: requests, tokens, energy, idle share, per-unit figures) [default: project]
    #[arg(long, value_name = "KEY")]
    pub by: Option<String>,
    /// Output format: table, json, csv, markdown (grouped); html (a page with charts), latex (a
    /// paragraph and table for a paper), model-card (Hugging Face co2_eq_emissions), codecarbon-csv
    /// (CodeCarbon's emissions.csv, one row per run) [default: table]
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    #[command(flatten)]
    pub publish: PublishArgs,
    /// Life-cycle accounting of one project: per phase runs, energy, operational and embodied CO2e,
    /// water and cost, waste (failed and repeated runs), estimated future phases
    #[arg(long, requires = "project")]
    pub lifecycle: bool,
    /// With --lifecycle: project a year of serving at N requests a day instead of the rate the
    /// serving runs measured
    #[arg(long, value_name = "N", requires = "lifecycle")]
    pub requests_per_day: Option<f64>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub measure: MeasureArgs,
}

#[derive(Debug, Args)]
pub struct DataArgs {
    #[command(subcommand)]
    pub what: DataWhat,
}

#[derive(Debug, Subcommand)]
pub enum DataWhat {
    /// Grid zones and cloud regions with intensity, PUE, source and year
    Zones {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Hardware catalog: accelerators (TDP, memory, peak FLOP/s, embodied carbon), hosts and CPUs
    Hardware {
        /// Print as JSON
        #[arg(long)]
        json: bool,
        /// Also list every CPU of the TDP table (about 4,900 rows)
        #[arg(long)]
        cpus: bool,
    },
    /// Every bundled table with its licence and attribution (notices: THIRD_PARTY_NOTICES.md)
    Licenses {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Add hourly grid intensities for `plan` and `run`: an Electricity Maps hourly CSV export or
    /// a UK Carbon Intensity API JSON response (stored in $XDG_DATA_HOME/ecotrace/hourly)
    ImportHourly {
        /// The file to import
        file: std::path::PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct PlanCliArgs {
    #[command(flatten)]
    pub plan: PlanArgs,

    /// Print the plan as JSON
    #[arg(long)]
    pub json: bool,

    /// Output: text, json, or slurm (the `sbatch --begin=...` line) [default: text]
    #[arg(long, value_name = "FORMAT", conflicts_with = "json")]
    pub format: Option<String>,
}

// The estimator's flags are defined with it, in `ecotrace-estimator` (the Python package parses
// them too).
pub use ecotrace_estimator::args::{CompareArgs, EstimateArgs, EstimateMode, PlanArgs};

#[derive(Debug, Args)]
pub struct LedgerArgs {
    #[command(subcommand)]
    pub what: LedgerWhat,
}

#[derive(Debug, Subcommand)]
pub enum LedgerWhat {
    /// Downsample the power samples of runs that ended before a retention age to one mean per
    /// bucket (records, energy and CO2e unchanged); running again changes nothing more
    Compact {
        /// Retention age: runs that ended longer ago than this are compacted (e.g. 90d, 12h, 30m)
        #[arg(long, value_name = "AGE", default_value = "90d")]
        older_than: String,
        /// Width of a kept sample: one mean per this much run time (e.g. 60s, 5m)
        #[arg(long, value_name = "DURATION", default_value = "60s")]
        bucket: String,
    },
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub what: ImportWhat,
}

#[derive(Debug, Subcommand)]
pub enum ImportWhat {
    /// A CodeCarbon emissions.csv: one run per CodeCarbon run_id (its last, cumulative row), with
    /// CodeCarbon's figures kept and marked as imported. All or nothing; runs already in the
    /// ledger are skipped
    Codecarbon {
        /// The emissions.csv file
        file: std::path::PathBuf,
        /// Project for every imported run [default: CodeCarbon's project_name]
        #[arg(long, value_name = "NAME")]
        project: Option<String>,
        /// Phase of every imported run: data, experiment, tuning, training, inference, other
        /// [default: other]
        #[arg(long, value_name = "PHASE")]
        phase: Option<String>,
    },
}
