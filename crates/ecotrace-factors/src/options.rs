//! The options that set factors and measurements, each defined once: its name, help, environment
//! variable and value. The CLI flattens these structs into `run`, `doctor`, `agent`, `estimate`,
//! `estimate inference` and `compare`; the config file's keys are their ids (checked against these
//! definitions, see [`crate::config`]); the Python package parses its keyword arguments with them
//! ([`parse_keywords`]). [`Origins`] records, for each option given, whether it came from a flag,
//! an environment variable, a config file or a keyword argument, so that provenance says so.

use std::collections::BTreeMap;

use clap::{ArgMatches, Args, Command, FromArgMatches};

use crate::provenance::Origin;

/// Where and at what cost the electricity is used: the factors of a region and of the footprint
/// beyond energy. Shared by `run`, `doctor`, `agent`, `estimate`, `estimate inference` and
/// `compare`.
#[derive(Debug, Args, Default, Clone, PartialEq)]
pub struct FactorArgs {
    /// Where the electricity comes from: a country (FR, FRA), a grid zone (US-CA) or a cloud
    /// region (aws:eu-west-3); `compare` takes a comma-separated list. `ecotrace data zones` lists
    /// them [default: the world average]
    #[arg(long, env = "ECOTRACE_REGION", value_name = "ZONE")]
    pub region: Option<String>,

    /// Grid carbon intensity in gCO2e/kWh; overrides the region's figure
    #[arg(long, env = "ECOTRACE_INTENSITY", value_name = "G")]
    pub intensity: Option<f64>,

    /// Emissions the grid intensity counts: lifecycle (the plants' whole life cycle) or direct
    /// (combustion only); switches every figure [default: lifecycle]
    #[arg(long, env = "ECOTRACE_BASIS", value_name = "lifecycle|direct")]
    pub basis: Option<String>,

    /// Data-centre power usage effectiveness (facility / IT energy) [default: the cloud region's, else 1.0]
    #[arg(long, env = "ECOTRACE_PUE", value_name = "X")]
    pub pue: Option<f64>,

    /// On-site water usage effectiveness in L/kWh of IT energy [default: the cloud region's, else 0]
    #[arg(long, env = "ECOTRACE_WUE", value_name = "L")]
    pub wue: Option<f64>,

    /// Expected service life of the hardware, over which its embodied carbon is spread [default: 5]
    #[arg(long, env = "ECOTRACE_LIFETIME_YEARS", value_name = "Y")]
    pub lifetime_years: Option<f64>,

    /// Rental price in USD per device-hour: per accelerator (GPU, TPU) hour, or per machine-hour
    /// for work on no accelerator; a run is charged it for each accelerator it uses. The cost
    /// basis is then instance rental
    #[arg(long, env = "ECOTRACE_PRICE_PER_HOUR", value_name = "USD")]
    pub price_per_hour: Option<f64>,

    /// Electricity price in USD per kWh at the meter; the cost basis is then electricity only
    #[arg(long, env = "ECOTRACE_ELECTRICITY_PRICE", value_name = "USD")]
    pub electricity_price: Option<f64>,
}

/// A live grid-intensity provider, opt-in (`run`, `doctor`, `plan`, the Python `Tracker`; config
/// keys `grid_provider`, `grid_provider_url`, `grid_provider_zone`). Credentials come from the
/// provider's own variables (`ELECTRICITYMAPS_API_KEY`, `WATTTIME_USERNAME`/`WATTTIME_PASSWORD`);
/// whatever fails, the bundled figures are used and the output says why (docs/planning.md).
#[derive(Debug, Args, Default, Clone, PartialEq)]
pub struct ProviderArgs {
    /// Live grid intensity from electricitymaps (ELECTRICITYMAPS_API_KEY), ukci (UK Carbon
    /// Intensity, direct basis, no key) or watttime (marginal MOER, WATTTIME_USERNAME and
    /// WATTTIME_PASSWORD); asked for at most 2 s, answers cached [default: none: the bundled data]
    #[arg(
        long,
        env = "ECOTRACE_GRID_PROVIDER",
        value_name = "electricitymaps|ukci|watttime|none"
    )]
    pub grid_provider: Option<String>,

    /// The provider's base URL, instead of its public one (a proxy or a mirror)
    #[arg(long, env = "ECOTRACE_GRID_PROVIDER_URL", value_name = "URL")]
    pub grid_provider_url: Option<String>,

    /// The provider's zone for the region, when its name differs from ecotrace's (WattTime
    /// regions such as CAISO_NORTH, a UK Carbon Intensity region id 1-17); REGION=ZONE pairs,
    /// comma-separated, for several regions
    #[arg(
        long,
        env = "ECOTRACE_GRID_PROVIDER_ZONE",
        value_name = "ZONE|REGION=ZONE,..."
    )]
    pub grid_provider_zone: Option<String>,
}

/// Options that decide what is measured and how it is turned into carbon (`run`, `doctor`,
/// `agent`, the Python `Tracker`). Each can also be set in `ecotrace.toml` (its id: the name with
/// `_` for `-`, `tags` as a table) or through its `ECOTRACE_*` variable; flags win.
#[derive(Debug, Args, Default, Clone, PartialEq)]
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

    /// The CPUs' full-load power in watts, when no counter can be read (VMs, unknown CPUs)
    #[arg(long, env = "ECOTRACE_CPU_POWER", value_name = "W")]
    pub cpu_power: Option<f64>,

    /// The RAM's power in watts, instead of the per-GB model
    #[arg(long, env = "ECOTRACE_RAM_POWER", value_name = "W")]
    pub ram_power: Option<f64>,

    /// The GPUs given to the run: indices (0,2: gpuN as `ecotrace doctor` lists them), UUIDs
    /// (GPU-..., MIG-...) or all; only these are measured, for the whole run [default:
    /// CUDA_VISIBLE_DEVICES, NVIDIA_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES, HIP_VISIBLE_DEVICES,
    /// else the GPUs the command holds a context on]
    #[arg(long, env = "ECOTRACE_GPUS", value_name = "IDS")]
    pub gpus: Option<String>,

    #[command(flatten)]
    pub factors: FactorArgs,

    #[command(flatten)]
    pub provider: ProviderArgs,

    /// Where each option given came from (filled by whoever parsed them).
    #[arg(skip)]
    pub origins: Origins,
}

/// The node agent's limits on its socket for unprivileged runs (`ecotrace agent`). Each can also
/// be set in the config file (its id, e.g. `socket_max_per_uid = 16`) or through its
/// `ECOTRACE_AGENT_SOCKET_*` variable; flags win, then variables, then the file.
#[derive(Debug, Args, Default, Clone, PartialEq)]
pub struct AgentSocketArgs {
    /// Close a socket connection that sends no complete request for this long (e.g. 300s, 5m)
    /// [default: 300s]
    #[arg(
        long,
        env = "ECOTRACE_AGENT_SOCKET_IDLE_TIMEOUT",
        value_name = "DURATION"
    )]
    pub socket_idle_timeout: Option<String>,

    /// Socket connections one user (uid) may hold at once; more are refused [default: 64]
    #[arg(long, env = "ECOTRACE_AGENT_SOCKET_MAX_PER_UID", value_name = "N")]
    pub socket_max_per_uid: Option<usize>,

    /// Socket connections of all users at once [default: 1024]
    #[arg(long, env = "ECOTRACE_AGENT_SOCKET_MAX_CLIENTS", value_name = "N")]
    pub socket_max_clients: Option<usize>,

    /// Longest socket request, in bytes; a longer one is refused and its connection closed
    /// [default: 4096]
    #[arg(long, env = "ECOTRACE_AGENT_SOCKET_MAX_REQUEST", value_name = "BYTES")]
    pub socket_max_request: Option<usize>,
}

impl OptionGroup for AgentSocketArgs {
    fn given_ids(&self) -> Vec<&'static str> {
        let set = [
            ("socket_idle_timeout", self.socket_idle_timeout.is_some()),
            ("socket_max_per_uid", self.socket_max_per_uid.is_some()),
            ("socket_max_clients", self.socket_max_clients.is_some()),
            ("socket_max_request", self.socket_max_request.is_some()),
        ];
        set.into_iter()
            .filter(|(_, s)| *s)
            .map(|(id, _)| id)
            .collect()
    }
}

/// The ids of the agent's own options that the config file may set ([`AgentSocketArgs`]).
pub fn agent_option_ids() -> Vec<String> {
    AgentSocketArgs::augment_args(Command::new("agent"))
        .get_arguments()
        .map(|a| a.get_id().as_str().to_string())
        .collect()
}

/// A group of option definitions that the config layer can fill.
pub trait OptionGroup: Args + FromArgMatches {
    /// The ids of the options that hold a value, however they got it.
    fn given_ids(&self) -> Vec<&'static str>;
}

impl OptionGroup for FactorArgs {
    fn given_ids(&self) -> Vec<&'static str> {
        let set = [
            ("region", self.region.is_some()),
            ("intensity", self.intensity.is_some()),
            ("basis", self.basis.is_some()),
            ("pue", self.pue.is_some()),
            ("wue", self.wue.is_some()),
            ("lifetime_years", self.lifetime_years.is_some()),
            ("price_per_hour", self.price_per_hour.is_some()),
            ("electricity_price", self.electricity_price.is_some()),
        ];
        set.into_iter()
            .filter(|(_, s)| *s)
            .map(|(id, _)| id)
            .collect()
    }
}

impl OptionGroup for ProviderArgs {
    fn given_ids(&self) -> Vec<&'static str> {
        let set = [
            ("grid_provider", self.grid_provider.is_some()),
            ("grid_provider_url", self.grid_provider_url.is_some()),
            ("grid_provider_zone", self.grid_provider_zone.is_some()),
        ];
        set.into_iter()
            .filter(|(_, s)| *s)
            .map(|(id, _)| id)
            .collect()
    }
}

impl OptionGroup for MeasureArgs {
    fn given_ids(&self) -> Vec<&'static str> {
        let set = [
            ("project", self.project.is_some()),
            ("phase", self.phase.is_some()),
            ("tags", !self.tags.is_empty()),
            ("interval", self.interval.is_some()),
            ("scope", self.scope.is_some()),
            ("cpu_power", self.cpu_power.is_some()),
            ("ram_power", self.ram_power.is_some()),
            ("gpus", self.gpus.is_some()),
        ];
        let mut ids: Vec<&'static str> = set
            .into_iter()
            .filter(|(_, s)| *s)
            .map(|(id, _)| id)
            .collect();
        ids.extend(self.factors.given_ids());
        ids.extend(self.provider.given_ids());
        ids
    }
}

/// Whether command-line values came from a command line or from Python keyword arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Flag,
    Keyword,
}

/// Where each option that was given came from, by option id (`pue`, `lifetime_years`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Origins(BTreeMap<String, Origin>);

impl Origins {
    /// Where option `id` came from. An option set by a caller that recorded no origin (a Rust
    /// program filling the option structs) is reported as its flag.
    pub fn get(&self, id: &str) -> Origin {
        self.0
            .get(id)
            .cloned()
            .unwrap_or_else(|| Origin::Flag(id.replace('_', "-")))
    }

    pub fn set(&mut self, id: &str, origin: Origin) {
        self.0.insert(id.to_string(), origin);
    }

    pub fn contains(&self, id: &str) -> bool {
        self.0.contains_key(id)
    }

    /// The origins of the options of the innermost subcommand matched: `cli` is the whole
    /// command, `m` its matches (`ecotrace estimate inference --pue 1.2` gives the origins of
    /// `inference`'s options).
    pub fn from_subcommand_matches(cli: &Command, m: &ArgMatches, via: Via) -> Self {
        let mut cmd = cli;
        let mut m = m;
        while let Some((name, sub)) = m.subcommand() {
            match cmd.find_subcommand(name) {
                Some(c) => cmd = c,
                None => break,
            }
            m = sub;
        }
        Origins::from_matches(cmd, m, via)
    }

    /// The origins of every argument of `cmd` that `m` (its matches) has a value for.
    pub fn from_matches(cmd: &Command, m: &ArgMatches, via: Via) -> Self {
        let mut o = Origins::default();
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            let origin = match m.try_contains_id(id) {
                Ok(true) => match m.value_source(id) {
                    Some(clap::parser::ValueSource::CommandLine) => match via {
                        Via::Flag => Origin::Flag(
                            arg.get_long()
                                .map_or_else(|| id.replace('_', "-"), str::to_string),
                        ),
                        Via::Keyword => Origin::Keyword(id.to_string()),
                    },
                    Some(clap::parser::ValueSource::EnvVariable) => Origin::Env(
                        arg.get_env()
                            .map_or_else(String::new, |e| e.to_string_lossy().into_owned()),
                    ),
                    _ => continue,
                },
                _ => continue,
            };
            o.set(id, origin);
        }
        o
    }
}

/// The command the measure options form alone (for the config layer and Python keywords).
pub fn measure_command(name: &'static str) -> Command {
    MeasureArgs::augment_args(Command::new(name).no_binary_name(true))
}

/// The ids of the measure options: the config file's keys and the Python `Tracker`'s keyword
/// arguments, besides the few that are not measure options (`ledger`, `quiet`, `job`).
pub fn measure_option_ids() -> Vec<String> {
    measure_command("ecotrace")
        .get_arguments()
        .map(|a| a.get_id().as_str().to_string())
        .collect()
}

/// Parses Python keyword arguments (`(id, value)` pairs, `tags` once per `KEY=VALUE`) with the
/// measure options' own definitions, reading `ECOTRACE_*` for those not given. An unknown
/// keyword is an error naming it and the closest option.
pub fn parse_keywords(kw: &[(String, String)]) -> Result<MeasureArgs, crate::FactorError> {
    let cmd = measure_command("ecotrace.Tracker");
    let mut argv: Vec<String> = Vec::with_capacity(kw.len() * 2);
    for (id, value) in kw {
        let Some(arg) = cmd.get_arguments().find(|a| a.get_id().as_str() == id) else {
            let ids = measure_option_ids();
            return Err(crate::FactorError::Usage(format!(
                "unknown option {id}={value:?}{}",
                crate::config::did_you_mean(id, ids.iter().map(String::as_str), "=")
            )));
        };
        let long = arg.get_long().unwrap_or(id);
        argv.push(format!("--{long}={value}"));
    }
    let m = cmd
        .clone()
        .try_get_matches_from(argv)
        .map_err(|e| crate::FactorError::Usage(e.render().to_string().trim_end().to_string()))?;
    let mut args = MeasureArgs::from_arg_matches(&m)
        .map_err(|e| crate::FactorError::Usage(e.to_string().trim_end().to_string()))?;
    args.origins = Origins::from_matches(&cmd, &m, Via::Keyword);
    Ok(args)
}
