//! The run record: one shape for a measured run everywhere (`run --json`, `show --json`,
//! `runs --json`, the ledger, the Python package). Field names are an interface; see
//! `docs/run-record.md`. This module holds data and pure derivations only.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::units::{
    serde_as, CarbonIntensity, CarbonMass, Energy, Fraction, Lifetime, Power, Pue, Usd, Water,
    WaterIntensity,
};

/// Version of the record shape; bumped when a field changes meaning.
pub const RECORD_VERSION: u32 = 1;

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $s:literal),+ $(,)? } what = $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $s)] $variant),+
        }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $name {
            type Err = ParseEnumError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($s => Ok($name::$variant),)+
                    _ => Err(ParseEnumError {
                        what: $what,
                        got: s.to_string(),
                        expected: vec![$($s),+].join(", "),
                    }),
                }
            }
        }
    };
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("unknown {what} {got:?}: expected one of {expected}")]
pub struct ParseEnumError {
    pub what: &'static str,
    pub got: String,
    pub expected: String,
}

string_enum!(
    /// Stage of a model's life a run belongs to.
    Phase {
        Data => "data",
        Experiment => "experiment",
        Tuning => "tuning",
        Training => "training",
        Inference => "inference",
        Other => "other",
    } what = "phase"
);

string_enum!(
    /// What a run charges: only the command's process tree, or the whole machine.
    Scope {
        Process => "process",
        Machine => "machine",
    } what = "scope"
);

string_enum!(
    /// Life state of a run.
    RunStatus {
        Running => "running",
        Finished => "finished",
        Failed => "failed",
        FailedToStart => "failed-to-start",
        Interrupted => "interrupted",
    } what = "status"
);

string_enum!(
    /// The kind of hardware a component's energy belongs to.
    ComponentKind {
        Cpu => "cpu",
        Gpu => "gpu",
        Ram => "ram",
    } what = "component"
);

string_enum!(
    /// How a component's energy was obtained. Every figure in a report carries one.
    Method {
        Rapl => "rapl",
        CpuModel => "cpu-model",
        NvmlCounter => "nvml-counter",
        NvmlPower => "nvml-power",
        AmdSmiCounter => "amdsmi-counter",
        AmdSmiPower => "amdsmi-power",
        RamModel => "ram-model",
        Estimate => "estimate",
        AgentRapl => "agent-rapl",
        Imported => "imported",
    } what = "method"
);

string_enum!(
    /// What a piece of hardware in the embodied-carbon account is: a CPU, a GPU or other
    /// accelerator, or the host's share of the rest of the server (board, memory, storage, chassis).
    EmbodiedKind {
        Cpu => "cpu",
        Gpu => "gpu",
        Host => "host",
    } what = "embodied kind"
);

string_enum!(
    /// Whether a record was measured by `ecotrace run` or entered as an a-priori estimate (for
    /// example a year of inference from `ecotrace estimate inference`).
    RecordKind {
        Measured => "measured",
        Estimated => "estimated",
    } what = "record kind"
);

// Written out because `string_enum!` owns the derive list.
#[allow(clippy::derivable_impls)]
impl Default for RecordKind {
    fn default() -> Self {
        RecordKind::Measured
    }
}

string_enum!(
    /// What a cost figure is based on: renting the instance by the hour, or only the electricity
    /// drawn (facility energy × price per kWh).
    CostBasis {
        Instance => "instance",
        Electricity => "electricity",
    } what = "cost basis"
);

string_enum!(
    /// Where a run's job key came from.
    JobSource {
        Flag => "flag",
        Slurm => "slurm",
        Torchrun => "torchrun",
        Kubernetes => "kubernetes",
    } what = "job source"
);

/// The distributed job a run is part of: the same `id` on every node and rank, so that a job can
/// be summed across nodes (`ecotrace report --by job`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobInfo {
    /// The job key: `slurm:123456`, `torchrun:RUN_ID`, `k8s:NAMESPACE/NAME`, or the `--job` value.
    pub id: String,
    pub source: JobSource,
    /// SLURM step id, when there is one.
    #[serde(default)]
    pub step: Option<String>,
    /// The node the run was on (SLURM's or Kubernetes' node name, else the host name).
    pub node: String,
    /// Global rank of this process in the job, when the launcher says.
    #[serde(default)]
    pub rank: Option<u32>,
    /// Rank among the job's processes on this node.
    #[serde(default)]
    pub local_rank: Option<u32>,
    /// Number of ranks in the job.
    #[serde(default)]
    pub world_size: Option<u32>,
}

/// The machine a run was measured on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Host {
    pub hostname: String,
    pub cpu_model: String,
    /// Logical CPUs seen by the OS.
    pub cpu_count: u32,
    /// Total memory in GB (10^9 bytes).
    pub memory_gb: f64,
    /// GPU names, one per device.
    pub gpus: Vec<String>,
    pub os: String,
}

/// Energy of one device (a RAPL package, a GPU, the RAM) over the run, with how it was obtained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentEnergy {
    pub component: ComponentKind,
    /// Device name within the component, e.g. `package-0`, `gpu0`, `ram`.
    pub device: String,
    #[serde(rename = "energy_kwh", with = "serde_as::kwh")]
    pub energy: Energy,
    /// Mean power over the run: energy / duration (not an instant value).
    #[serde(rename = "mean_power_w", with = "serde_as::watts")]
    pub mean_power: Power,
    /// Highest per-interval mean power seen.
    #[serde(rename = "peak_power_w", with = "serde_as::watts")]
    pub peak_power: Power,
    pub method: Method,
    /// The figures the method used, e.g. `tdp_w`, `idle_w`, `w_per_gb`, `cpu_share_mean`.
    #[serde(default)]
    pub figures: BTreeMap<String, f64>,
    /// One line saying where the figures come from.
    #[serde(default)]
    pub note: String,
}

/// Energy by component kind, IT energy before PUE.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct EnergyBreakdown {
    #[serde(with = "serde_as::kwh")]
    pub cpu: Energy,
    #[serde(with = "serde_as::kwh")]
    pub gpu: Energy,
    #[serde(with = "serde_as::kwh")]
    pub ram: Energy,
    #[serde(with = "serde_as::kwh")]
    pub total: Energy,
}

impl EnergyBreakdown {
    /// Sums components by kind.
    pub fn from_components(components: &[ComponentEnergy]) -> Self {
        let mut b = EnergyBreakdown::default();
        for c in components {
            match c.component {
                ComponentKind::Cpu => b.cpu += c.energy,
                ComponentKind::Gpu => b.gpu += c.energy,
                ComponentKind::Ram => b.ram += c.energy,
            }
        }
        b.total = b.cpu + b.gpu + b.ram;
        b
    }
}

/// How the grid intensity of a run was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IntensityBasis {
    /// Looked up from the bundled table for the zone the user gave.
    Zone,
    /// Given by the user as a number.
    User,
    /// No zone given: the world average.
    WorldDefault,
}

/// What a grid intensity counts: the emissions of burning fuel at the plants only (`direct`,
/// also called operational or combustion), or those plus the upstream emissions of building the
/// plants and extracting and transporting fuel (`lifecycle`). Electricity Maps publishes both for
/// every zone; ecotrace uses life-cycle unless told otherwise (`--basis direct`). Figures on
/// different bases are never compared or added silently.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum GridBasis {
    #[default]
    Lifecycle,
    Direct,
}

impl GridBasis {
    /// The name used in flags, config and JSON: `lifecycle` or `direct`.
    pub fn as_str(self) -> &'static str {
        match self {
            GridBasis::Lifecycle => "lifecycle",
            GridBasis::Direct => "direct",
        }
    }

    /// The name used in text output: `life-cycle` or `direct`.
    pub fn label(self) -> &'static str {
        match self {
            GridBasis::Lifecycle => "life-cycle",
            GridBasis::Direct => "direct",
        }
    }
}

impl std::fmt::Display for GridBasis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// A `--basis` value that is neither `lifecycle` nor `direct`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown basis {0:?}: use `lifecycle` (the default: emissions of the plants' whole life cycle) or `direct` (combustion only)")]
pub struct UnknownBasis(pub String);

impl std::str::FromStr for GridBasis {
    type Err = UnknownBasis;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', '_', ' '], "")
            .as_str()
        {
            "lifecycle" | "lca" => Ok(GridBasis::Lifecycle),
            "direct" | "operational" | "combustion" => Ok(GridBasis::Direct),
            _ => Err(UnknownBasis(s.to_string())),
        }
    }
}

/// Which emissions an intensity stands for: the **average** of all the electricity in the grid
/// (every bundled figure, Electricity Maps, the UK Carbon Intensity API) or the **marginal**
/// plant that answers a change in demand (WattTime's MOER). The two are not comparable: a plan
/// or a record says which it uses and never mixes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EmissionSignal {
    #[default]
    Average,
    Marginal,
}

impl EmissionSignal {
    pub fn as_str(self) -> &'static str {
        match self {
            EmissionSignal::Average => "average",
            EmissionSignal::Marginal => "marginal",
        }
    }
}

/// What a live grid-intensity provider gave a run: the figure charged, or why the bundled one
/// was charged instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveIntensity {
    /// `electricitymaps`, `ukci` or `watttime`.
    pub provider: String,
    /// The provider's zone or region asked.
    pub zone: String,
    /// `used`, or `fallback` when the bundled figure was charged.
    pub status: String,
    /// Why the bundled figure was charged (a `fallback`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The start of the provider's period (a `used` figure), RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Whether the answer came from the on-disk cache.
    #[serde(default)]
    pub cached: bool,
}

/// Whether a run was charged a yearly average or hour by hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum IntensityResolution {
    /// One figure for the whole run: the zone's yearly average (or the user's number).
    #[default]
    YearlyAverage,
    /// Each sample interval charged at the intensity of its hour; `g_per_kwh` is then the
    /// energy-weighted mean over the run.
    Hourly,
}

/// The grid carbon intensity used for a run, with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntensityUsed {
    #[serde(rename = "g_per_kwh")]
    pub value: CarbonIntensity,
    pub zone: String,
    pub source: String,
    pub year: Option<i32>,
    pub basis: IntensityBasis,
    /// Life-cycle or direct; `None` for a figure the user gave (its basis is theirs to know) and
    /// for records written before ecotrace recorded it.
    #[serde(default)]
    pub grid_basis: Option<GridBasis>,
    /// `yearly-average` or `hourly` (records written before this field: `yearly-average`).
    #[serde(default)]
    pub resolution: IntensityResolution,
    /// The hourly series charged, when `resolution` is `hourly`.
    #[serde(default)]
    pub series: Option<String>,
    /// `average` (every bundled figure) or `marginal` (WattTime); records before this field:
    /// `average`.
    #[serde(default)]
    pub signal: EmissionSignal,
    /// The live provider configured for the run, if any: what it gave, or why it was not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveIntensity>,
}

/// The PUE used for a run, with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PueUsed {
    pub value: Pue,
    pub source: String,
}

/// One device's share of embodied (manufacturing) carbon charged to a run: the Green Software
/// Foundation SCI "M" term, `device_kgco2e × share × duration / lifetime`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbodiedItem {
    pub component: EmbodiedKind,
    /// Device within the run, e.g. `gpu0`, `cpu`, `host`.
    pub device: String,
    /// The catalog entry whose figure is used, e.g. `NVIDIA A100 SXM4 80 GB`.
    pub hardware: String,
    /// Embodied carbon of the whole device over its life (cradle to gate, plus end of life where
    /// the source includes it).
    #[serde(rename = "device_kgco2e", with = "serde_as::kg")]
    pub device_embodied: CarbonMass,
    /// Low end of `device_embodied`'s uncertainty range, from the table row (accelerators, CPU
    /// packages, hosts) and scaled as the figure is; absent for a figure the user gave.
    #[serde(
        rename = "device_low_kgco2e",
        with = "serde_as::opt_kg",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub device_low: Option<CarbonMass>,
    /// High end of that range.
    #[serde(
        rename = "device_high_kgco2e",
        with = "serde_as::opt_kg",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub device_high: Option<CarbonMass>,
    /// Expected service life the embodied carbon is spread over.
    #[serde(rename = "lifetime_years")]
    pub lifetime: Lifetime,
    /// Share of the device charged to the run (1 for a whole GPU; for the host, the share of the
    /// server's devices the run used).
    pub share: Fraction,
    /// True when the figure is a documented estimate rather than a published one for this device.
    pub estimated: bool,
    /// Where the figure comes from.
    pub source: String,
    /// Charged to the run: `device_kgco2e × share × duration_s / lifetime`.
    #[serde(rename = "kgco2e", with = "serde_as::kg")]
    pub charged: CarbonMass,
}

/// The water factors used for a run and the water they give, on-site and off-site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaterUsed {
    /// On-site water usage effectiveness: litres evaporated for cooling per kWh of IT energy.
    #[serde(rename = "wue_l_per_kwh")]
    pub wue: WaterIntensity,
    pub wue_source: String,
    /// Water consumed to generate electricity, litres per kWh at the meter (facility energy).
    #[serde(rename = "offsite_l_per_kwh")]
    pub offsite_factor: WaterIntensity,
    pub offsite_source: String,
    /// `energy_kwh.total × wue_l_per_kwh`.
    #[serde(rename = "onsite_l", with = "serde_as::litres")]
    pub onsite: Water,
    /// `energy_kwh.total × pue.value × offsite_l_per_kwh`.
    #[serde(rename = "offsite_l", with = "serde_as::litres")]
    pub offsite: Water,
}

/// The price a run's cost is based on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostUsed {
    pub basis: CostBasis,
    /// Rental price per device-hour, for basis `instance`: per accelerator-hour (GPU, TPU) when
    /// the work runs on accelerators, per machine-hour when it runs on none. `ecotrace run`'s and
    /// `ecotrace estimate`'s `--price-per-hour` both mean this.
    pub usd_per_hour: Option<f64>,
    /// How many devices the price is charged for: the accelerators the run used (all of the
    /// machine's in machine scope), else 1 (the machine); the estimate's `--devices`. Absent in
    /// records written before it existed, whose `usd_per_hour` was for the whole run: read as 1.
    #[serde(default)]
    pub devices: Option<f64>,
    /// Electricity price, for basis `electricity`.
    pub usd_per_kwh: Option<f64>,
    /// Where the price comes from (table row with its date, or `given by the user (...)`).
    pub source: String,
}

/// How the tracker itself ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackerInfo {
    pub version: String,
    #[serde(with = "serde_as::seconds")]
    pub interval_s: Duration,
    pub pid: u32,
}

/// Summary of the stored per-interval power samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SamplesSummary {
    pub count: u64,
    #[serde(with = "serde_as::watts")]
    pub mean_power_w: Power,
    #[serde(with = "serde_as::watts")]
    pub peak_power_w: Power,
}

/// One measured (or failed) run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub record_version: u32,
    pub id: String,
    pub project: String,
    pub phase: Phase,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub command: Vec<String>,
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    /// Signal that ended the command, if it died of one.
    pub signal: Option<i32>,
    /// Why the run failed to start, or another error the tracker met.
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Wall time measured so far (the whole run once finished).
    #[serde(rename = "duration_s", with = "serde_as::seconds")]
    pub duration: Duration,
    pub scope: Scope,
    pub host: Host,
    pub energy_kwh: EnergyBreakdown,
    pub components: Vec<ComponentEnergy>,
    /// Mean IT power over the run: total energy / duration.
    #[serde(rename = "mean_power_w", with = "serde_as::watts")]
    pub mean_power: Power,
    pub pue: PueUsed,
    pub intensity: IntensityUsed,
    #[serde(rename = "operational_kgco2e", with = "serde_as::kg")]
    pub operational: CarbonMass,
    /// Embodied carbon charged to the run (SCI "M"): the sum of `embodied_items`; `None` when no
    /// hardware was assessed (e.g. records written before ecotrace accounted for it). Never added
    /// into `operational`.
    #[serde(rename = "embodied_kgco2e", with = "serde_as::opt_kg", default)]
    pub embodied: Option<CarbonMass>,
    #[serde(default)]
    pub embodied_items: Vec<EmbodiedItem>,
    /// Water consumed, on-site + off-site; `None` when not assessed.
    #[serde(rename = "water_l", with = "serde_as::opt_litres", default)]
    pub water: Option<Water>,
    #[serde(rename = "water", default)]
    pub water_used: Option<WaterUsed>,
    /// Cost of the run in USD; `None` when no price is known (never guessed).
    #[serde(rename = "cost_usd", with = "serde_as::opt_usd", default)]
    pub cost: Option<Usd>,
    #[serde(rename = "cost", default)]
    pub cost_used: Option<CostUsed>,
    /// `measured` by `ecotrace run`, or `estimated` (an a-priori estimate added to a project).
    #[serde(default)]
    pub kind: RecordKind,
    /// The distributed job the run is part of (SLURM, torchrun, Kubernetes, `--job`); absent from
    /// the JSON for a run on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<JobInfo>,
    /// Things the reader should know: defaults used, sensors that could not be read.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Metrics logged with the run (e.g. `val_accuracy`), shown beside its footprint.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    #[serde(default)]
    pub samples: SamplesSummary,
    pub tracker: TrackerInfo,
    /// The work a served model did and the per-unit figures (`ecotrace serve`/`attach`,
    /// `tracker.count()`); absent from the JSON for other runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving: Option<crate::serving::Serving>,
    /// Named windows opened inside the run; absent from the JSON when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<crate::serving::Window>,
}

impl RunRecord {
    /// Recomputes every derived figure (breakdown, mean power, operational CO2e, embodied CO2e,
    /// water, cost) from the components, the duration and the stored factors. Call after changing
    /// any of them.
    pub fn recompute(&mut self) {
        use crate::footprint;
        self.energy_kwh = EnergyBreakdown::from_components(&self.components);
        self.mean_power = self.energy_kwh.total / self.duration;
        self.operational =
            footprint::operational(self.energy_kwh.total, self.pue.value, self.intensity.value);
        for item in &mut self.embodied_items {
            item.charged = footprint::embodied(
                item.device_embodied,
                item.share,
                item.lifetime,
                self.duration,
            );
        }
        self.embodied = if self.embodied_items.is_empty() {
            None
        } else {
            Some(self.embodied_items.iter().map(|i| i.charged).sum())
        };
        self.water = self.water_used.as_mut().map(|w| {
            let split = footprint::water(
                self.energy_kwh.total,
                self.pue.value,
                w.wue,
                w.offsite_factor,
            );
            w.onsite = split.onsite;
            w.offsite = split.offsite;
            split.total()
        });
        self.cost = self.cost_used.as_ref().and_then(|c| match c.basis {
            CostBasis::Instance => c
                .usd_per_hour
                .map(|p| footprint::cost_rental(p, c.devices.unwrap_or(1.0), self.duration)),
            CostBasis::Electricity => c
                .usd_per_kwh
                .map(|p| footprint::cost_electricity(self.energy_kwh.total, self.pue.value, p)),
        });
        let whole = crate::serving::Footprint {
            energy: self.energy_kwh.total,
            operational: self.operational,
            embodied: self.embodied,
            water: self.water,
        };
        if let Some(s) = &mut self.serving {
            s.derive(whole);
        }
        crate::serving::derive_windows(&mut self.windows, self.pue.value, self.intensity.value);
    }

    /// Whether the run has ended, one way or another.
    pub fn is_final(&self) -> bool {
        self.status != RunStatus::Running
    }
}

/// One per-interval power sample stored with a run, for charts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PowerSample {
    /// Seconds since the run started, at the end of the interval.
    pub t_s: f64,
    #[serde(with = "serde_as::watts")]
    pub cpu_w: Power,
    #[serde(with = "serde_as::watts")]
    pub gpu_w: Power,
    #[serde(with = "serde_as::watts")]
    pub ram_w: Power,
}

impl PowerSample {
    pub fn total(&self) -> Power {
        self.cpu_w + self.gpu_w + self.ram_w
    }
}

/// Downsamples, in place, the samples taken before `before_s` seconds of run time to one per
/// `bucket_s` seconds of run time (buckets counted from the start): each kept sample is the mean
/// power of its bucket per component (unknown, NaN readings left out), at the time of the
/// bucket's last sample — what the ledger's compaction does to stored samples. Later samples
/// are kept as they are; a bucket already down to one sample is unchanged. `samples` are in
/// time order.
pub fn downsample_samples(samples: &mut Vec<PowerSample>, before_s: f64, bucket_s: f64) {
    if bucket_s.is_nan() || bucket_s <= 0.0 {
        return;
    }
    let old = samples.iter().take_while(|s| s.t_s < before_s).count();
    let bucket = |s: &PowerSample| (s.t_s / bucket_s).floor();
    let mean = |xs: &mut dyn Iterator<Item = Power>| {
        let (sum, n) = xs
            .map(Power::watts)
            .filter(|w| w.is_finite())
            .fold((0.0, 0u32), |(a, n), w| (a + w, n + 1));
        Power::from_watts(if n > 0 { sum / f64::from(n) } else { f64::NAN })
    };
    let mut out: Vec<PowerSample> = Vec::with_capacity(samples.len());
    let mut i = 0;
    while i < old {
        let b = bucket(&samples[i]);
        let j = i + samples[i..old]
            .iter()
            .take_while(|s| bucket(s) == b)
            .count();
        let group = &samples[i..j];
        out.push(PowerSample {
            t_s: group[group.len() - 1].t_s,
            cpu_w: mean(&mut group.iter().map(|s| s.cpu_w)),
            gpu_w: mean(&mut group.iter().map(|s| s.gpu_w)),
            ram_w: mean(&mut group.iter().map(|s| s.ram_w)),
        });
        i = j;
    }
    if out.len() < old {
        out.extend_from_slice(&samples[old..]);
        *samples = out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_parse_and_print() {
        assert_eq!("training".parse::<Phase>().unwrap(), Phase::Training);
        assert_eq!(" Machine ".parse::<Scope>().unwrap(), Scope::Machine);
        assert_eq!(
            "failed-to-start".parse::<RunStatus>().unwrap(),
            RunStatus::FailedToStart
        );
        let e = "trainign".parse::<Phase>().unwrap_err();
        assert!(e.to_string().contains("data, experiment, tuning"));
        assert_eq!(Method::NvmlCounter.to_string(), "nvml-counter");
    }

    #[test]
    fn breakdown_sums_by_kind() {
        let c = |k, kwh| ComponentEnergy {
            component: k,
            device: "d".into(),
            energy: Energy::from_kwh(kwh),
            mean_power: Power::ZERO,
            peak_power: Power::ZERO,
            method: Method::Rapl,
            figures: BTreeMap::new(),
            note: String::new(),
        };
        let b = EnergyBreakdown::from_components(&[
            c(ComponentKind::Cpu, 1.0),
            c(ComponentKind::Cpu, 0.5),
            c(ComponentKind::Gpu, 2.0),
            c(ComponentKind::Ram, 0.25),
        ]);
        assert_eq!(b.cpu.kwh(), 1.5);
        assert_eq!(b.gpu.kwh(), 2.0);
        assert_eq!(b.ram.kwh(), 0.25);
        assert_eq!(b.total.kwh(), 3.75);
    }

    #[test]
    fn downsampling_averages_old_buckets_and_keeps_recent_samples() {
        let s = |t: f64, w: f64| PowerSample {
            t_s: t,
            cpu_w: Power::from_watts(w),
            gpu_w: Power::ZERO,
            ram_w: Power::from_watts(f64::NAN),
        };
        // 1 s samples for 3 minutes, 10 W then 20 W alternating.
        let mut v: Vec<PowerSample> = (1..=180)
            .map(|t| s(t as f64, if t % 2 == 0 { 20.0 } else { 10.0 }))
            .collect();
        let energy = |v: &[PowerSample]| {
            let mut last = 0.0;
            v.iter()
                .map(|x| {
                    let e = x.cpu_w.watts() * (x.t_s - last);
                    last = x.t_s;
                    e
                })
                .sum::<f64>()
        };
        let before = energy(&v);
        downsample_samples(&mut v, 120.0, 60.0);
        // Two old minutes (t 1..59 and 60..119) down to one sample each, the last minute whole.
        assert_eq!(v.len(), 2 + 61);
        assert_eq!(v[0].t_s, 59.0);
        assert_eq!(v[1].t_s, 119.0);
        assert!((v[1].cpu_w.watts() - 15.0).abs() < 1e-12);
        assert!(v[1].ram_w.watts().is_nan(), "no reading stays unknown");
        assert_eq!(v[2].t_s, 120.0);
        // Energy over the series changes by the uneven first bucket only (59 samples).
        assert!((energy(&v) / before - 1.0).abs() < 0.01);
        // Again: nothing changes.
        let again = v.clone();
        downsample_samples(&mut v, 120.0, 60.0);
        assert_eq!(v.len(), again.len());
    }
}
