//! Command-line definitions. Every option is defined once here (name, help, environment variable),
//! except the flags of `estimate` and `compare`, which `ecotrace-estimator` defines (the Python
//! package parses them too); the config file layer in `settings.rs` uses the same names. No logic
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
    /// Ledger to use: a SQLite file path, or a shared PostgreSQL database
    /// (postgres://USER:PASSWORD@HOST:PORT/DB) [default: $XDG_DATA_HOME/ecotrace/ledger.db]
    #[arg(long, global = true, env = "ECOTRACE_LEDGER", value_name = "PATH|URL")]
    pub ledger: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command and measure its energy and carbon: ecotrace run [OPTIONS] -- COMMAND [ARGS...]
    Run(RunArgs),
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
    /// Send runs kept locally while a shared (PostgreSQL) ledger was unreachable
    Sync,
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

    /// Sampling interval, grid zone or intensity, PUE, CPU/RAM power: as for `ecotrace run`
    #[command(flatten)]
    pub measure: MeasureArgs,
}

/// Options that decide what is measured and how it is turned into carbon. Each can also be set in
/// `ecotrace.toml` (same name, `-` written `_`) or through `ECOTRACE_<NAME>`; flags win.
#[derive(Debug, Args, Default, Clone)]
pub struct MeasureArgs {
    /// Project the run belongs to [default: default]
    #[arg(long, env = "ECOTRACE_PROJECT", value_name = "NAME")]
    pub project: Option<String>,

    /// Life-cycle phase: data, experiment, tuning, training, inference, other [default: other]
    #[arg(long, env = "ECOTRACE_PHASE", value_name = "PHASE")]
    pub phase: Option<String>,

    /// A tag stored with the run (repeatable); ECOTRACE_TAGS takes KEY=VALUE,KEY=VALUE
    #[arg(
        long = "tag",
        env = "ECOTRACE_TAGS",
        value_name = "KEY=VALUE",
        value_delimiter = ','
    )]
    pub tags: Vec<String>,

    /// Sampling interval, e.g. 500ms, 2s, 1m [default: 1s]
    #[arg(long, env = "ECOTRACE_INTERVAL", value_name = "DURATION")]
    pub interval: Option<String>,

    /// What is charged: the command's process tree, or the whole machine [default: process]
    #[arg(long, env = "ECOTRACE_SCOPE", value_name = "process|machine")]
    pub scope: Option<String>,

    /// Where the electricity comes from: a country (FR, FRA), a grid zone (US-CA) or a cloud
    /// region (aws:eu-west-3). `ecotrace data zones` lists them
    #[arg(long, env = "ECOTRACE_REGION", value_name = "ZONE")]
    pub region: Option<String>,

    /// Grid carbon intensity in gCO2e/kWh; overrides the zone's figure
    #[arg(long, env = "ECOTRACE_INTENSITY", value_name = "G")]
    pub intensity: Option<f64>,

    /// Data-centre power usage effectiveness (facility / IT energy) [default: the cloud region's, else 1.0]
    #[arg(long, env = "ECOTRACE_PUE", value_name = "X")]
    pub pue: Option<f64>,

    /// The CPUs' full-load power in watts, when no counter can be read (VMs, unknown CPUs)
    #[arg(long, env = "ECOTRACE_CPU_POWER", value_name = "W")]
    pub cpu_power: Option<f64>,

    /// The RAM's power in watts, instead of the per-GB model
    #[arg(long, env = "ECOTRACE_RAM_POWER", value_name = "W")]
    pub ram_power: Option<f64>,

    #[command(flatten)]
    pub footprint: FootprintArgs,
}

impl MeasureArgs {
    pub fn to_options(&self) -> ecotrace_tracker::MeasureOptions {
        ecotrace_tracker::MeasureOptions {
            project: self.project.clone(),
            phase: self.phase.clone(),
            tags: self.tags.clone(),
            interval: self.interval.clone(),
            scope: self.scope.clone(),
            region: self.region.clone(),
            intensity: self.intensity,
            pue: self.pue,
            cpu_power: self.cpu_power,
            ram_power: self.ram_power,
            lifetime_years: self.footprint.lifetime_years,
            wue: self.footprint.wue,
            price_per_hour: self.footprint.price_per_hour,
            electricity_price: self.footprint.electricity_price,
        }
    }
}

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

    /// The command to run, after `--`
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
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
    /// Group by: phase, project, day, status, job (all nodes of a job summed) [default: project]
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
}

// The estimator's flags are defined with it, in `ecotrace-estimator` (the Python package parses
// them too); `run` flattens `FootprintArgs`.
pub use ecotrace_estimator::args::{CompareArgs, EstimateArgs, EstimateMode, FootprintArgs};

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
